//! Enrolment: the tablet presents the coordinator's one-time code and becomes a
//! device of its site. Before that it can only train.

use leptos::prelude::*;
use leptos::task::spawn_local;
use trial::wire::{EnrolmentCode, ErrorCode};

use crate::i18n::{Lang, Text, sync_error, t, use_lang, with_detail};
use crate::state::{DATABASE, use_session, use_tablet};
use crate::store::Store;
use crate::sync::{self, SyncError, use_sync};

/// The enrolment form; shown on the sign-in screen and at `/enrol` until the
/// tablet is enrolled.
#[component]
pub fn Enrol() -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    let sync_status = use_sync();
    let code = RwSignal::new(code_in_address());
    let confirmed = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let has_training = LocalResource::new(move || {
        tablet.summaries.track();
        tablet.lease.track();
        async {
            let store = Store::open(DATABASE).await.ok()?;
            let has = store.has_training_records().await.ok();
            store.close();
            has
        }
    });
    let needs_confirmation = move || has_training.get().flatten().unwrap_or(false);
    let enrol = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let lang = lang.get_untracked();
        if busy.get_untracked() {
            return;
        }
        let Ok(parsed) = EnrolmentCode::parse(&code.get_untracked()) else {
            return error.set(Some(t(lang, Text::EnrolCodeRequired).into()));
        };
        if needs_confirmation() && !confirmed.get_untracked() {
            return error.set(Some(t(lang, Text::EnrolConfirmRequired).into()));
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let result = sync::enrol(parsed.as_str()).await;
            match result {
                // Stays busy: a second tap would present a used code. The form
                // gives way to the site's sign-in.
                Ok(()) => {
                    // The site's users replace the training user: sign in again.
                    session.user.set(None);
                    tablet.refresh();
                    sync_status.run_now();
                }
                Err(failure) => {
                    busy.try_set(false);
                    error.try_set(Some(message(lang, &failure)));
                }
            }
        });
    };
    // An enrolled tablet opened at `/enrol` (a QR code scanned twice, a bookmark)
    // is told so, never offered a second enrolment.
    let enrolled = move || {
        tablet.enrolment.with(|enrolment| {
            enrolment
                .as_ref()
                .map(|enrolment| format!("{} · {}", enrolment.site.name, enrolment.device_label))
        })
    };
    view! {
        <Show when=move || enrolled().is_none() fallback=move || view! {
            <section class="card narrow" data-testid="already-enrolled">
                <p>{move || t(lang.get(), Text::EnrolledHere)} " " <strong>{enrolled}</strong></p>
                <p><a class="button" href="/">{move || t(lang.get(), Text::Participants)}</a></p>
            </section>
        }>
        <section class="card narrow" data-testid="enrol">
            <h2>{move || t(lang.get(), Text::EnrolTitle)}</h2>
            <p>{move || t(lang.get(), Text::EnrolHelp)}</p>
            <form on:submit=enrol>
                <div class="field">
                    <label for="enrolment-code">{move || t(lang.get(), Text::EnrolCode)}</label>
                    <input id="enrolment-code" type="text" autocomplete="off" autocapitalize="characters"
                        spellcheck="false" maxlength="20"
                        prop:value=move || code.get()
                        on:input=move |e| code.set(event_target_value(&e))/>
                </div>
                <Show when=needs_confirmation>
                    <p class="warning">{move || t(lang.get(), Text::EnrolTrainingWarning)}</p>
                    <div class="check">
                        <input id="enrol-confirm" type="checkbox"
                            prop:checked=move || confirmed.get()
                            on:change=move |e| confirmed.set(event_target_checked(&e))/>
                        <label for="enrol-confirm">{move || t(lang.get(), Text::EnrolConfirmDelete)}</label>
                    </div>
                </Show>
                <p class="field-error" role="alert" data-testid="enrol-error">{move || error.get()}</p>
                <button type="submit" data-testid="enrol-button" prop:disabled=move || busy.get()>
                    {move || t(lang.get(), if busy.get() { Text::Enrolling } else { Text::EnrolButton })}
                </button>
            </form>
        </section>
        </Show>
    }
}

/// The code the console's QR code puts after `#` (`/enrol#ABCD-EFGH`), filled in
/// for the nurse to check and send; anything else there is ignored.
fn code_in_address() -> String {
    window()
        .location()
        .hash()
        .ok()
        .map(|hash| hash.trim_start_matches('#').to_owned())
        .filter(|code| EnrolmentCode::parse(code).is_ok())
        .unwrap_or_default()
}

/// What went wrong, in the user's language. Only an unforeseen failure adds the
/// technical detail, for a support call.
fn message(lang: Lang, failure: &SyncError) -> String {
    let text = match failure {
        SyncError::Offline => Text::EnrolOffline,
        SyncError::Unauthenticated(_) => Text::EnrolCodeUnknown,
        SyncError::Refused(ErrorCode::Conflict, _) => Text::EnrolCodeUsed,
        SyncError::Refused(_, detail) | SyncError::Unexpected(detail) => {
            return with_detail(lang, Text::EnrolRefused, detail);
        }
        other => return sync_error(lang, other),
    };
    t(lang, text).into()
}
