//! The console's pages: sign-in, setting up an account from a one-time link, and
//! the signed-in home, which shows what the account's role may do.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use trial::console::{
    AccountError, AuditEntry, ConsoleAction, ConsoleRole, Password, SessionResponse, SetupRequest,
    SignInRequest, account_name,
};
use trial::wire::ErrorCode;

use super::Session;
use super::api::{self, Failure};
use super::text::{Ct, account_error, ct, event_name, password_rule, role_name, wait_message};
use crate::components::backup::{ImportBackup, SendPage};
use crate::i18n::{Lang, use_lang};

/// The signed-in home, or the sign-in form when no one is signed in.
#[component]
pub fn Home() -> impl IntoView {
    let Session(session) = expect_context::<Session>();
    move || match session.get() {
        None => ().into_any(),
        Some(None) => view! { <SignIn/> }.into_any(),
        Some(Some(signed_in)) => view! { <SignedIn session=signed_in/> }.into_any(),
    }
}

/// Name and password; a wrong pair, a wait and an unreachable server are said
/// in the user's language.
#[component]
fn SignIn() -> impl IntoView {
    let lang = use_lang();
    let Session(session) = expect_context::<Session>();
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let request = SignInRequest {
            name: name.get_untracked(),
            password: password.get_untracked(),
        };
        spawn_local(async move {
            let lang = lang.get_untracked();
            match api::sign_in(&request).await {
                Ok(signed_in) => session.set(Some(Some(signed_in))),
                Err(failure) => {
                    password.set(String::new());
                    error.set(Some(failure_message(
                        lang,
                        &failure,
                        Ct::WrongNameOrPassword,
                    )));
                }
            }
            busy.set(false);
        });
    };
    view! {
        <section class="card narrow" data-testid="console-sign-in">
            <h2>{move || ct(lang.get(), Ct::SignInTitle)}</h2>
            <form on:submit=submit>
                <TextInput id="console-name" label=Ct::Name value=name autocomplete="username"/>
                <TextInput id="console-password" label=Ct::Password value=password
                    autocomplete="current-password" secret=true/>
                <p class="field-error" role="alert" data-testid="console-error">{move || error.get()}</p>
                <button type="submit" data-testid="console-sign-in-button" prop:disabled=move || busy.get()>
                    {move || ct(lang.get(), if busy.get() { Ct::SigningIn } else { Ct::SignIn })}
                </button>
            </form>
        </section>
    }
}

/// Setting up an account from a one-time link: the token is the URL's fragment,
/// which never reaches a server's log. The core's rule is checked before the
/// request, so the person learns at once which field to change.
#[component]
pub fn SetUp() -> impl IntoView {
    let lang = use_lang();
    let Session(session) = expect_context::<Session>();
    let token = window()
        .location()
        .hash()
        .ok()
        .map(|hash| hash.trim_start_matches('#').to_owned())
        .unwrap_or_default();
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let navigate = leptos_router::hooks::use_navigate();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let lang = lang.get_untracked();
        if busy.get_untracked() {
            return;
        }
        let typed = name.get_untracked();
        let checked = account_name(&typed)
            .and_then(|name| Password::new(&password.get_untracked(), name).map(|_| ()));
        if let Err(refused) = checked {
            return error.set(Some(account_error(lang, refused)));
        }
        if password.get_untracked() != again.get_untracked() {
            return error.set(Some(ct(lang, Ct::PasswordsDiffer).to_owned()));
        }
        busy.set(true);
        error.set(None);
        let request = SetupRequest {
            token: token.clone(),
            name: typed,
            password: password.get_untracked(),
        };
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::set_up(&request).await {
                Ok(signed_in) => {
                    session.set(Some(Some(signed_in)));
                    // The link is spent: it leaves the address bar and the history.
                    navigate(
                        "/console/",
                        leptos_router::NavigateOptions {
                            replace: true,
                            ..Default::default()
                        },
                    );
                }
                Err(failure) => {
                    error.set(Some(failure_message(lang, &failure, Ct::LinkInvalid)));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <section class="card narrow" data-testid="console-setup">
            <h2>{move || ct(lang.get(), Ct::SetupTitle)}</h2>
            <p>{move || ct(lang.get(), Ct::SetupHelp)}</p>
            <form on:submit=submit>
                <TextInput id="setup-name" label=Ct::Name value=name autocomplete="username"/>
                <TextInput id="setup-password" label=Ct::Password value=password
                    autocomplete="new-password" secret=true/>
                <TextInput id="setup-again" label=Ct::PasswordAgain value=again
                    autocomplete="new-password" secret=true/>
                <p class="hint">{move || password_rule(lang.get())}</p>
                <p class="field-error" role="alert" data-testid="console-error">{move || error.get()}</p>
                <button type="submit" data-testid="console-setup-button" prop:disabled=move || busy.get()>
                    {move || ct(lang.get(), Ct::CreateAccount)}
                </button>
            </form>
        </section>
    }
}

/// The signed-in home: who is signed in, and the sections the role may use.
#[component]
fn SignedIn(session: SessionResponse) -> impl IntoView {
    let lang = use_lang();
    let Session(state) = expect_context::<Session>();
    let role = session.account.role;
    let name = session.account.name.clone();
    let sign_out = move |_| {
        spawn_local(async move {
            // Signed out on this page whatever the answer: a session the server
            // still holds ends by itself.
            let _ = api::sign_out().await;
            state.set(Some(None));
        });
    };
    let manages = role.may(ConsoleAction::ManageAccounts);
    super::site::Change::provide(lang);
    view! {
        <section class="card console-account" data-testid="console-home">
            <p>
                {move || ct(lang.get(), Ct::SignedInAs)} " "
                <strong data-testid="console-account">{name.clone()}</strong>
                " · " {move || role_name(lang.get(), role)}
            </p>
            <button type="button" class="secondary" data-testid="console-sign-out" on:click=sign_out>
                {move || ct(lang.get(), Ct::SignOut)}
            </button>
        </section>
        {role.may(ConsoleAction::ReadDashboard).then(|| view! { <super::consort::Dashboard/> })}
        {role.may(ConsoleAction::ResolveQuery).then(|| view! { <super::queries::Queries/> })}
        {role.may(ConsoleAction::ReviewCasebook).then(|| view! { <super::casebooks::Casebooks role=role/> })}
        {role.may(ConsoleAction::Export).then(|| view! { <super::exports::Exports role=role/> })}
        {role.may(ConsoleAction::ManageSite).then(|| view! { <super::site::Sites/> })}
        {role.may(ConsoleAction::ReadAllocationAudit).then(|| view! { <super::audit::AllocationAudit role=role/> })}
        {role.may(ConsoleAction::ImportBackup).then(|| view! { <ImportBackup send=import_page(lang)/> })}
        {if manages {
            view! { <NewAccount/> <AuditTrail/> }.into_any()
        } else {
            view! { <p class="card">{move || ct(lang.get(), Ct::NotYours)}</p> }.into_any()
        }}
    }
}

/// Sends a backup's page with the session; a refusal in the console's words.
fn import_page(lang: RwSignal<Lang>) -> SendPage {
    Rc::new(move |events| {
        Box::pin(async move {
            api::import_backup(events).await.map_err(|failure| {
                failure_message(lang.get_untracked(), &failure, Ct::SessionEnded)
            })
        })
    })
}

/// A one-time link for a new account, shown once as text to copy.
#[component]
fn NewAccount() -> impl IntoView {
    let lang = use_lang();
    let role = RwSignal::new(ConsoleRole::Investigator);
    let link = RwSignal::new(None::<(String, i64)>);
    let error = RwSignal::new(None::<String>);
    let make = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let chosen = role.get_untracked();
        spawn_local(async move {
            match api::invite(chosen).await {
                Ok(made) => {
                    let origin = window().location().origin().unwrap_or_default();
                    link.set(Some((format!("{origin}{}", made.path), made.expires_at_ms)));
                    error.set(None);
                }
                Err(failure) => error.set(Some(failure_message(
                    lang.get_untracked(),
                    &failure,
                    Ct::SessionEnded,
                ))),
            }
        });
    };
    view! {
        <section class="card" data-testid="console-new-account">
            <h2>{move || ct(lang.get(), Ct::NewAccountTitle)}</h2>
            <p>{move || ct(lang.get(), Ct::NewAccountHelp)}</p>
            <form on:submit=make class="inline-form">
                <label for="new-account-role">{move || ct(lang.get(), Ct::Role)}</label>
                <select id="new-account-role" on:change=move |e| {
                    if let Some(chosen) = ConsoleRole::parse(&event_target_value(&e)) {
                        role.set(chosen);
                    }
                }>
                    {ConsoleRole::ALL.into_iter().map(|option| view! {
                        <option value=option.as_str() selected=move || role.get() == option>
                            {move || role_name(lang.get(), option)}
                        </option>
                    }).collect_view()}
                </select>
                <button type="submit" data-testid="console-make-link">{move || ct(lang.get(), Ct::MakeLink)}</button>
            </form>
            <p class="field-error" role="alert">{move || error.get()}</p>
            {move || link.get().map(|(url, expires_at_ms)| view! {
                <p>{ct(lang.get(), Ct::LinkMade)}</p>
                <input class="link" type="text" readonly data-testid="console-link" prop:value=url
                    aria-label=ct(lang.get(), Ct::LinkMade)/>
                <p class="hint">{ct(lang.get(), Ct::LinkExpires)} " " {local_time(lang.get(), expires_at_ms)}</p>
            })}
        </section>
    }
}

/// The console's audit trail, newest first.
#[component]
fn AuditTrail() -> impl IntoView {
    let lang = use_lang();
    let change = super::site::use_change();
    let entries = LocalResource::new(move || {
        change.version.track();
        api::audit()
    });
    view! {
        <section class="card" data-testid="console-audit">
            <h2>{move || ct(lang.get(), Ct::AuditTitle)}</h2>
            {move || entries.get().map(|answer| match answer {
                Err(failure) => view! {
                    <p class="field-error" role="alert">{failure_message(lang.get(), &failure, Ct::SessionEnded)}</p>
                }.into_any(),
                Ok(audit) if audit.entries.is_empty() => view! {
                    <p>{ct(lang.get(), Ct::AuditEmpty)}</p>
                }.into_any(),
                Ok(audit) => view! { <AuditTable entries=audit.entries/> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    let lang = use_lang();
    let heading = move |text| view! { <th scope="col">{move || ct(lang.get(), text)}</th> };
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="audit">
                <thead><tr>
                    {heading(Ct::When)} {heading(Ct::Who)} {heading(Ct::What)}
                    {heading(Ct::Detail)} {heading(Ct::FromWhere)}
                </tr></thead>
                <tbody>
                    {entries.into_iter().map(|entry| view! {
                        <tr>
                            <td>{move || local_time(lang.get(), entry.at_ms)}</td>
                            <td>{entry.account.clone().unwrap_or_else(|| "—".to_owned())}</td>
                            <td>{move || event_name(lang.get(), entry.event)}</td>
                            <td>{entry.detail.clone()}</td>
                            <td>{entry.client.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// A labelled text or password input bound to `value`.
#[component]
fn TextInput(
    id: &'static str,
    label: Ct,
    value: RwSignal<String>,
    autocomplete: &'static str,
    #[prop(optional)] secret: bool,
) -> impl IntoView {
    let lang = use_lang();
    view! {
        <div class="field">
            <label for=id>{move || ct(lang.get(), label)}</label>
            <input id=id type=if secret { "password" } else { "text" } autocomplete=autocomplete
                spellcheck="false" prop:value=move || value.get()
                on:input=move |e| value.set(event_target_value(&e))/>
        </div>
    }
}

/// A failed request as a sentence in `lang`; `unauthenticated` is what a 401
/// means where it was asked (a wrong password, a spent link, an ended session).
pub(super) fn failure_message(lang: Lang, failure: &Failure, unauthenticated: Ct) -> String {
    let Failure::Refused {
        code,
        field,
        retry_after_s,
        message,
    } = failure
    else {
        return ct(lang, Ct::Offline).to_owned();
    };
    let text = match (code, field.as_deref()) {
        (ErrorCode::TooManyRequests, _) => return wait_message(lang, retry_after_s.unwrap_or(1)),
        (ErrorCode::Unauthenticated, _) => unauthenticated,
        (ErrorCode::Conflict, _) => Ct::NameTaken,
        // The page checks the core's rule first; a refusal here names the rule.
        (ErrorCode::InvalidRequest, Some("name")) => {
            return account_error(lang, AccountError::NameLength);
        }
        _ => return format!("{} {message}", ct(lang, Ct::Failed)),
    };
    ct(lang, text).to_owned()
}

/// `utc_ms` as the browser's local date and time, in `lang`.
pub(super) fn local_time(lang: Lang, utc_ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(utc_ms as f64));
    date.to_locale_string(lang.tag(), &wasm_bindgen::JsValue::UNDEFINED)
        .into()
}

/// A titled list as a table, or a line saying there is nothing in it: the
/// dashboard's and the exports' listings, one shape. The table is
/// `data-testid=testid`, the line `testid-none`.
#[component]
pub(super) fn Listing(
    title: Ct,
    empty: Ct,
    testid: &'static str,
    headers: Vec<fn(Lang) -> &'static str>,
    rows: Vec<AnyView>,
) -> impl IntoView {
    let lang = use_lang();
    let listing = if rows.is_empty() {
        view! { <p data-testid=format!("{testid}-none")>{move || ct(lang.get(), empty)}</p> }
            .into_any()
    } else {
        view! {
            <div class="table-scroll" tabindex="0">
                <table class="audit" data-testid=testid>
                    <thead><tr>
                        {headers.into_iter().map(|header| view! {
                            <th scope="col">{move || header(lang.get())}</th>
                        }).collect_view()}
                    </tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <h3>{move || ct(lang.get(), title)}</h3>
        {listing}
    }
}
