//! The console's "Allocation audit" section (issue 13 item 5): per site, every
//! randomisation with what the server's verification found, every flag with its
//! resolution (or, for a role that may, a form to resolve it with a note), and
//! each tablet's lease stock in counts. The server decides and answers
//! (`trial::audit`); this page shows it, and holds no arm but those of
//! randomisations already made.

use leptos::prelude::*;
use leptos::task::spawn_local;
use trial::audit::{
    AuditedFlag, AuditedRandomisation, LeaseStock, NoteError, ResolutionNote, ResolveFlagRequest,
};
use trial::console::{ConsoleAction, ConsoleRole};
use trial::randomisation::Arm;
use trial::wire::ErrorCode;

use super::api::{self, Failure};
use super::pages::{Listing, failure_message, local_time};
use super::text::{Ct, ct, flag_name};
use crate::i18n::{Lang, use_lang};

/// The allocation audit of every site the dashboard lists.
#[component]
pub fn AllocationAudit(role: ConsoleRole) -> impl IntoView {
    let lang = use_lang();
    let may_resolve = role.may(ConsoleAction::ResolveFlag);
    // The dashboard's answer names the sites, and every role that reads the
    // audit reads the dashboard.
    let sites = LocalResource::new(api::dashboard);
    view! {
        <section class="card" data-testid="console-allocation-audit">
            <h2>{move || ct(lang.get(), Ct::AuditSectionTitle)}</h2>
            <p>{move || ct(lang.get(), Ct::AuditSectionHelp)}</p>
            {move || sites.get().map(|answer| match answer {
                Err(failure) => view! {
                    <p class="field-error" role="alert">{failure_message(lang.get(), &failure, Ct::SessionEnded)}</p>
                }.into_any(),
                Ok(dashboard) => dashboard.sites.into_iter().map(|site| view! {
                    <SiteAudit code=site.code name=site.name may_resolve=may_resolve/>
                }).collect_view().into_any(),
            })}
        </section>
    }
}

/// One site's audit, read again after each resolution.
#[component]
fn SiteAudit(code: String, name: String, may_resolve: bool) -> impl IntoView {
    let lang = use_lang();
    let version = RwSignal::new(0_u32);
    let site = code.clone();
    let answer = LocalResource::new(move || {
        version.track();
        let site = site.clone();
        async move { api::allocation_audit(&site).await }
    });
    let reread = move || version.update(|version| *version += 1);
    view! {
        <h3>{code.clone()} " · " {name}</h3>
        {move || answer.get().map(|answer| match answer {
            Err(failure) => view! {
                <p class="field-error" role="alert">{failure_message(lang.get(), &failure, Ct::SessionEnded)}</p>
            }.into_any(),
            Ok(audit) => view! {
                <Randomisations randomisations=audit.randomisations/>
                <Flags flags=audit.flags may_resolve=may_resolve reread=reread/>
                <Stock stock=audit.stock/>
            }.into_any(),
        })}
    }
}

/// Every randomisation: who gave which study number, from which slot, which
/// arm, when, and whether it verified.
#[component]
fn Randomisations(randomisations: Vec<AuditedRandomisation>) -> impl IntoView {
    let lang = use_lang();
    let rows = randomisations
        .into_iter()
        .map(|row| {
            let verified = row.flags.is_empty();
            let flags = row.flags.clone();
            let ordinal = row.lease_ordinal;
            view! {
                <tr data-testid="audit-randomisation" class:flagged=!verified>
                    <td>{row.study_number.clone()}</td>
                    <td>{row.tablet.clone()}</td>
                    <td class="count">{move || match ordinal {
                        Some(ordinal) => format!("{ordinal} · {}", row.slot),
                        None => format!("{} · {}", ct(lang.get(), Ct::LeaseNotIssued), row.slot),
                    }}</td>
                    <td>{move || arm_name(lang.get(), row.arm)}</td>
                    <td>{row.recorded_at_utc.clone()}</td>
                    <td>{row.recorded_at_local.clone()}</td>
                    <td data-testid="audit-verification">{move || if verified {
                        ct(lang.get(), Ct::VerifiedOk).to_owned()
                    } else {
                        flags.iter().map(|code| flag_name(lang.get(), code)).collect::<Vec<_>>().join("; ")
                    }}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    let headers: Vec<fn(Lang) -> &'static str> = vec![
        |lang| ct(lang, Ct::StudyNumber),
        |lang| ct(lang, Ct::Tablet),
        |lang| ct(lang, Ct::LeaseSlot),
        |lang| ct(lang, Ct::ArmColumn),
        |lang| ct(lang, Ct::RecordedUtc),
        |lang| ct(lang, Ct::RecordedLocal),
        |lang| ct(lang, Ct::Verification),
    ];
    view! {
        <Listing title=Ct::RandomisationsTitle empty=Ct::NoRandomisations
            testid="audit-randomisations" headers rows/>
    }
}

/// Every flag: what it is, and its resolution or (for a role that may) the
/// form to resolve it.
#[component]
fn Flags(
    flags: Vec<AuditedFlag>,
    may_resolve: bool,
    reread: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let lang = use_lang();
    let rows = flags
        .into_iter()
        .map(|flag| {
            let code = flag.code.clone();
            let state = match flag.resolution.clone() {
                Some(resolution) => view! {
                    <td data-testid="flag-resolved">
                        <strong>{move || ct(lang.get(), Ct::FlagResolved)}</strong>
                        <p class="note">{resolution.note.clone()}</p>
                        <p class="hint">
                            {move || ct(lang.get(), Ct::ResolvedByOn)} " " {resolution.resolved_by.clone()}
                            " · " {move || local_time(lang.get(), resolution.resolved_at_ms)}
                        </p>
                    </td>
                }
                .into_any(),
                None if may_resolve => view! {
                    <td data-testid="flag-open">
                        <strong>{move || ct(lang.get(), Ct::FlagOpen)}</strong>
                        <ResolveForm event_id=flag.event_id code=flag.code.clone() reread=reread/>
                    </td>
                }
                .into_any(),
                None => view! {
                    <td data-testid="flag-open"><strong>{move || ct(lang.get(), Ct::FlagOpen)}</strong></td>
                }
                .into_any(),
            };
            view! {
                <tr data-testid="audit-flag" data-code=flag.code.clone()>
                    <td>{flag.study_number.clone().unwrap_or_else(|| "—".to_owned())}</td>
                    <td>{flag.tablet.clone()}</td>
                    <td>
                        <strong>{move || flag_name(lang.get(), &code)}</strong>
                        <p class="hint">{flag.message.clone()}</p>
                    </td>
                    <td>{move || local_time(lang.get(), flag.raised_at_ms)}</td>
                    {state}
                </tr>
            }
            .into_any()
        })
        .collect();
    let headers: Vec<fn(Lang) -> &'static str> = vec![
        |lang| ct(lang, Ct::StudyNumber),
        |lang| ct(lang, Ct::Tablet),
        |lang| ct(lang, Ct::Flag),
        |lang| ct(lang, Ct::Raised),
        |lang| ct(lang, Ct::Status),
    ];
    view! {
        <Listing title=Ct::FlagsTitle empty=Ct::NoFlags testid="audit-flags" headers rows/>
    }
}

/// The note and the button that resolve one flag. The core's rule for the note
/// is checked first, so the person learns at once what to write.
#[component]
fn ResolveForm(
    event_id: uuid::Uuid,
    code: String,
    reread: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let lang = use_lang();
    let note = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let id = format!("note-{event_id}-{}", code_key(&code));
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let lang = lang.get_untracked();
        if busy.get_untracked() {
            return;
        }
        if let Err(refused) = ResolutionNote::parse(&note.get_untracked()) {
            let text = match refused {
                NoteError::Empty => Ct::NoteRequired,
                NoteError::TooLong => Ct::NoteTooLong,
            };
            return error.set(Some(ct(lang, text).to_owned()));
        }
        busy.set(true);
        error.set(None);
        let request = ResolveFlagRequest {
            event_id,
            code: code.clone(),
            note: note.get_untracked(),
        };
        spawn_local(async move {
            match api::resolve_flag(&request).await {
                Ok(_) => reread(),
                Err(Failure::Refused {
                    code: ErrorCode::Conflict,
                    ..
                }) => {
                    error.set(Some(ct(lang, Ct::AlreadyResolvedText).to_owned()));
                    reread();
                }
                Err(failure) => error.set(Some(failure_message(lang, &failure, Ct::SessionEnded))),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="resolve-flag" on:submit=submit>
            <label for=id.clone()>{move || ct(lang.get(), Ct::ResolutionNoteLabel)}</label>
            <textarea id=id rows="3" data-testid="flag-note" prop:value=move || note.get()
                on:input=move |e| note.set(event_target_value(&e))></textarea>
            <p class="field-error" role="alert">{move || error.get()}</p>
            <button type="submit" data-testid="resolve-flag" prop:disabled=move || busy.get()>
                {move || ct(lang.get(), Ct::ResolveButton)}
            </button>
        </form>
    }
}

/// Each tablet's stock: counts only.
#[component]
fn Stock(stock: Vec<LeaseStock>) -> impl IntoView {
    let rows = stock
        .into_iter()
        .map(|tablet| {
            view! {
                <tr data-testid="audit-stock">
                    <td>{tablet.tablet}</td>
                    <td class="count">{tablet.issued}</td>
                    <td class="count">{tablet.used}</td>
                    <td class="count">{tablet.left}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    let headers: Vec<fn(Lang) -> &'static str> = vec![
        |lang| ct(lang, Ct::Tablet),
        |lang| ct(lang, Ct::Issued),
        |lang| ct(lang, Ct::Used),
        |lang| ct(lang, Ct::Left),
    ];
    view! {
        <Listing title=Ct::StockTitle empty=Ct::NoStock testid="audit-stock-table" headers rows/>
    }
}

/// An arm's name, as the dashboard's balance names it.
fn arm_name(lang: Lang, arm: Arm) -> &'static str {
    ct(
        lang,
        match arm {
            Arm::Hemoperfusion => Ct::ArmHemoperfusion,
            Arm::StandardCare => Ct::ArmStandardCare,
        },
    )
}

/// A flag's code as part of an element id: letters and underscores only.
fn code_key(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}
