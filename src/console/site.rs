//! The coordinator's "users and tablets" page: every site's bedside users and
//! tablets, with the changes a coordinator makes (add a user, a new PIN, disable,
//! an enrolment code with its QR code, revoke). A PIN or code the server makes is
//! shown once, here, and never again.

use leptos::prelude::*;
use leptos::task::spawn_local;
use qrcode::QrCode;
use qrcode::render::svg;
use trial::console::{
    DeviceReport, NewSiteUser, SiteOverview, SiteRef, SiteTablet, SiteUser, SiteUserRef, TabletRef,
};
use trial::wire::Role;

use super::api::{self, Failure};
use super::pages::{failure_message, local_time};
use super::text::{Ct, bedside_role_name, ct};
use crate::i18n::{Lang, use_lang};

/// What the coordinator was just shown once: a user's PIN, or an enrolment code.
#[derive(Clone, Debug, PartialEq)]
enum ShownOnce {
    Pin { name: String, pin: String },
    Code { code: String, expires_at_ms: i64 },
}

/// Every site's users and tablets; reloaded after each change.
#[component]
pub fn Sites() -> impl IntoView {
    let lang = use_lang();
    let change = use_change();
    let sites = LocalResource::new(move || {
        change.version.track();
        api::sites()
    });
    view! {
        <p class="field-error" role="alert" data-testid="site-error">{move || change.error.get()}</p>
        {move || change.shown.get().map(|once| view! { <Shown once=once/> })}
        {move || sites.get().map(|answer| match answer {
            Err(failure) => view! {
                <p class="field-error" role="alert">{failure_message(lang.get(), &failure, Ct::SessionEnded)}</p>
            }.into_any(),
            Ok(answer) => answer.sites.into_iter().map(|site| view! { <Site site=site/> }).collect_view().into_any(),
        })}
    }
}

/// Runs the signed-in page's changes: shows what one answered once (or why it
/// failed), then has every section that reads the server read again (`version`).
#[derive(Clone, Copy)]
pub struct Change {
    /// Grows with each change made: what a section's data depends on.
    pub version: RwSignal<u32>,
    shown: RwSignal<Option<ShownOnce>>,
    error: RwSignal<Option<String>>,
    lang: RwSignal<Lang>,
}

impl Change {
    /// Provides a `Change` to the signed-in page.
    pub fn provide(lang: RwSignal<Lang>) -> Self {
        let change = Self {
            version: RwSignal::new(0),
            shown: RwSignal::new(None),
            error: RwSignal::new(None),
            lang,
        };
        provide_context(change);
        change
    }

    /// Runs `work`, then shows its answer and has the page read again.
    fn run(self, work: impl Future<Output = Result<Option<ShownOnce>, Failure>> + 'static) {
        spawn_local(async move {
            match work.await {
                Ok(once) => {
                    self.error.set(None);
                    self.shown.set(once);
                }
                Err(failure) => self.error.set(Some(failure_message(
                    self.lang.get_untracked(),
                    &failure,
                    Ct::SessionEnded,
                ))),
            }
            self.version.update(|version| *version += 1);
        });
    }
}

pub fn use_change() -> Change {
    expect_context::<Change>()
}

/// One site: its users and its tablets.
#[component]
fn Site(site: SiteOverview) -> impl IntoView {
    let lang = use_lang();
    let change = use_change();
    let code = site.code.clone();
    let new_code = move |_| {
        let site = SiteRef { site: code.clone() };
        change.run(async move {
            let made = api::enrolment_code(&site).await?;
            Ok(Some(ShownOnce::Code {
                code: made.code,
                expires_at_ms: made.expires_at_ms,
            }))
        });
    };
    let users = site.users.clone();
    let tablets = site.tablets.clone();
    let code = site.code.clone();
    let tablet_code = site.code.clone();
    view! {
        <section class="card" data-testid="console-site">
            <h2>{move || ct(lang.get(), Ct::SitesTitle)} " " {site.code.clone()} " · " {site.name.clone()}</h2>
            <h3>{move || ct(lang.get(), Ct::UsersTitle)}</h3>
            <div class="table-scroll" tabindex="0">
                <table class="audit" data-testid="site-users">
                    <thead><tr>
                        <Th text=Ct::Name/> <Th text=Ct::Role/> <Th text=Ct::Status/> <Th text=Ct::Actions/>
                    </tr></thead>
                    <tbody>
                        {users.into_iter().map(|user| view! { <UserRow site=code.clone() user=user/> }).collect_view()}
                    </tbody>
                </table>
            </div>
            <AddUser site=site.code.clone()/>
            <h3>{move || ct(lang.get(), Ct::TabletsTitle)}</h3>
            {if tablets.is_empty() {
                view! { <p>{move || ct(lang.get(), Ct::NoTablets)}</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll" tabindex="0">
                        <table class="audit" data-testid="site-tablets">
                            <thead><tr>
                                <Th text=Ct::TabletsTitle/> <Th text=Ct::Enrolled/> <Th text=Ct::LastSync/>
                                <Th text=Ct::ClockOffset/> <Th text=Ct::Pending/> <Th text=Ct::Left/>
                                <Th text=Ct::AppVersion/> <Th text=Ct::Status/> <Th text=Ct::Actions/>
                            </tr></thead>
                            <tbody>
                                {tablets.into_iter().map(|tablet| view! {
                                    <TabletRow site=tablet_code.clone() tablet=tablet/>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            <button type="button" data-testid="new-enrolment-code" on:click=new_code>
                {move || ct(lang.get(), Ct::NewCode)}
            </button>
        </section>
    }
}

#[component]
fn Th(text: Ct) -> impl IntoView {
    let lang = use_lang();
    view! { <th scope="col">{move || ct(lang.get(), text)}</th> }
}

/// A user, with a new PIN and disabling for an active one.
#[component]
fn UserRow(site: String, user: SiteUser) -> impl IntoView {
    let lang = use_lang();
    let change = use_change();
    let reference = SiteUserRef {
        site,
        name: user.name.clone(),
    };
    let for_pin = reference.clone();
    let new_pin = move |_| {
        let request = for_pin.clone();
        change.run(async move {
            let made = api::reset_pin(&request).await?;
            Ok(Some(ShownOnce::Pin {
                name: made.user.name,
                pin: made.pin,
            }))
        });
    };
    let disable = move |_| {
        if !window()
            .confirm_with_message(ct(lang.get_untracked(), Ct::ConfirmDisable))
            .unwrap_or(false)
        {
            return;
        }
        let request = reference.clone();
        change.run(async move {
            api::disable_user(&request).await?;
            Ok(None)
        });
    };
    let active = user.disabled_at_ms.is_none();
    let disabled_at = user.disabled_at_ms;
    view! {
        <tr data-testid="site-user">
            <td>{user.name.clone()}</td>
            <td>{move || bedside_role_name(lang.get(), user.role)}</td>
            <td>{move || match disabled_at {
                None => ct(lang.get(), Ct::Active).to_owned(),
                Some(at) => format!("{} {}", ct(lang.get(), Ct::Disabled), local_time(lang.get(), at)),
            }}</td>
            <td class="actions">
                <Show when=move || active>
                    <button type="button" class="secondary" data-testid="new-pin" on:click=new_pin.clone()>
                        {move || ct(lang.get(), Ct::NewPinButton)}
                    </button>
                    <button type="button" class="secondary" data-testid="disable-user" on:click=disable.clone()>
                        {move || ct(lang.get(), Ct::Disable)}
                    </button>
                </Show>
            </td>
        </tr>
    }
}

/// A new user's name and bedside role.
#[component]
fn AddUser(site: String) -> impl IntoView {
    let lang = use_lang();
    let change = use_change();
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::ResearchNurse);
    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let request = NewSiteUser {
            site: site.clone(),
            name: name.get_untracked(),
            role: role.get_untracked(),
        };
        change.run(async move {
            let made = api::add_user(&request).await?;
            name.set(String::new());
            Ok(Some(ShownOnce::Pin {
                name: made.user.name,
                pin: made.pin,
            }))
        });
    };
    view! {
        <form class="inline-form" on:submit=add>
            <label for="new-user-name">{move || ct(lang.get(), Ct::Name)}</label>
            <input id="new-user-name" type="text" autocomplete="off" maxlength="64"
                prop:value=move || name.get() on:input=move |e| name.set(event_target_value(&e))/>
            <label for="new-user-role">{move || ct(lang.get(), Ct::Role)}</label>
            <select id="new-user-role" on:change=move |e| {
                role.set(if event_target_value(&e) == "investigator" { Role::Investigator } else { Role::ResearchNurse });
            }>
                <option value="research_nurse" selected=true>{move || bedside_role_name(lang.get(), Role::ResearchNurse)}</option>
                <option value="investigator">{move || bedside_role_name(lang.get(), Role::Investigator)}</option>
            </select>
            <button type="submit" data-testid="add-user">{move || ct(lang.get(), Ct::AddUser)}</button>
        </form>
    }
}

/// A tablet, with revoking for one still enrolled.
#[component]
fn TabletRow(site: String, tablet: SiteTablet) -> impl IntoView {
    let lang = use_lang();
    let change = use_change();
    let reference = TabletRef {
        site,
        label: tablet.label.clone(),
    };
    let revoke = move |_| {
        if !window()
            .confirm_with_message(ct(lang.get_untracked(), Ct::ConfirmRevoke))
            .unwrap_or(false)
        {
            return;
        }
        let request = reference.clone();
        change.run(async move {
            api::revoke(&request).await?;
            Ok(None)
        });
    };
    let SiteTablet {
        label,
        enrolled_at_ms,
        last_push_at_ms,
        app_version,
        revoked_at_ms,
        slots_left,
        last_report,
    } = tablet;
    // A report comes at the start of every sync, a push only with records: the
    // later of the two is when the tablet last reached the server.
    let last_sync = last_report
        .as_ref()
        .map(|report| report.reported_at_ms)
        .max(last_push_at_ms);
    let clock_is_off = last_report.as_ref().is_some_and(DeviceReport::clock_is_off);
    let offset_ms = last_report.as_ref().map(|report| report.clock_offset_ms);
    let pending = last_report.as_ref().map(|report| report.pending_events);
    let version = last_report.map_or(app_version, |report| report.app_version);
    view! {
        <tr data-testid="site-tablet">
            <td>{label}</td>
            <td>{move || local_time(lang.get(), enrolled_at_ms)}</td>
            <td>{move || last_sync.map_or_else(|| ct(lang.get(), Ct::Never).to_owned(), |at| local_time(lang.get(), at))}</td>
            <td class:field-error=clock_is_off data-testid="tablet-clock">
                {move || offset_ms.map_or_else(|| ct(lang.get(), Ct::NotReported).to_owned(), |ms| clock_offset(lang.get(), ms))}
            </td>
            <td data-testid="tablet-pending">
                {move || pending.map_or_else(|| ct(lang.get(), Ct::NotReported).to_owned(), |n| n.to_string())}
            </td>
            <td data-testid="tablet-slots">{slots_left}</td>
            <td>{version}</td>
            <td>{move || match revoked_at_ms {
                None => ct(lang.get(), Ct::Active).to_owned(),
                Some(at) => format!("{} {}", ct(lang.get(), Ct::Revoked), local_time(lang.get(), at)),
            }}</td>
            <td class="actions">
                <Show when=move || revoked_at_ms.is_none()>
                    <button type="button" class="secondary" data-testid="revoke-tablet" on:click=revoke.clone()>
                        {move || ct(lang.get(), Ct::Revoke)}
                    </button>
                </Show>
            </td>
        </tr>
    }
}

/// A PIN or an enrolment code, shown this once.
#[component]
fn Shown(once: ShownOnce) -> impl IntoView {
    let lang = use_lang();
    match once {
        ShownOnce::Pin { name, pin } => view! {
            <section class="card shown-once" data-testid="shown-pin" role="status">
                <p>{name} ": " <strong class="secret" data-testid="pin">{pin}</strong></p>
                <p class="hint">{move || ct(lang.get(), Ct::PinShownOnce)}</p>
            </section>
        }
        .into_any(),
        ShownOnce::Code {
            code,
            expires_at_ms,
        } => {
            // The tablet's camera opens the enrolment page with the code filled in.
            let origin = window().location().origin().unwrap_or_default();
            let qr = qr_data_url(&format!("{origin}/enrol#{code}"));
            view! {
                <section class="card shown-once enrolment-code" data-testid="shown-code" role="status">
                    <div>
                        <p><strong class="secret" data-testid="code">{code}</strong></p>
                        <p class="hint">{move || ct(lang.get(), Ct::CodeHelp)}</p>
                        <p class="hint">{move || ct(lang.get(), Ct::LinkExpires)} " " {move || local_time(lang.get(), expires_at_ms)}</p>
                    </div>
                    {qr.map(|src| view! { <img class="qr" src=src alt=move || ct(lang.get(), Ct::QrAlt) data-testid="code-qr"/> })}
                </section>
            }
            .into_any()
        }
    }
}

/// `text` as a QR code, as an SVG data URL (the CSP allows `data:` images).
fn qr_data_url(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<svg::Color>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    let encoded: String = js_sys::encode_uri_component(&svg).into();
    Some(format!("data:image/svg+xml,{encoded}"))
}

/// A tablet's clock offset as a person reads it: "6 min 30 s ahead", "快 6 分 30 秒";
/// within a second, in step.
fn clock_offset(lang: Lang, offset_ms: i64) -> String {
    let seconds = offset_ms.unsigned_abs() / 1000;
    if seconds == 0 {
        return ct(lang, Ct::ClockInStep).to_owned();
    }
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let units: [(u64, [&str; 2]); 3] = [
        (hours, ["h", "小时"]),
        (minutes, ["min", "分"]),
        (seconds, ["s", "秒"]),
    ];
    let index = usize::from(lang == Lang::Zh);
    let amount = units
        .iter()
        .filter(|(value, _)| *value > 0)
        .map(|(value, unit)| format!("{value} {}", unit[index]))
        .collect::<Vec<_>>()
        .join(" ");
    let ahead = offset_ms > 0;
    match lang {
        Lang::En => format!("{amount} {}", if ahead { "ahead" } else { "behind" }),
        Lang::Zh => format!("{}{amount}", if ahead { "快 " } else { "慢 " }),
    }
}
