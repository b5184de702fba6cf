//! Recording that a screened patient will not be enrolled (CRF.md §1), with the
//! reason the CONSORT flow counts, and what was recorded. A later screening
//! reopens the patient (the core's rule), so recording it asks no confirmation.

use leptos::prelude::*;
use leptos::task::spawn_local;
use trial::crf::end::NotEnrolled;
use trial::field::{Field, FieldError};
use trial::payload::Payload;
use trial::projection::Participant;

use crate::actions::{self, SaveOnce};
use crate::components::dirty::use_dirty;
use crate::components::{Radios, TextField};
use crate::i18n::{Text, action_error, field_error, field_label, labelled, options, t, use_lang};
use crate::pages::follow_up::recorded_by;
use crate::state::{use_session, use_tablet};

/// The card on an unrandomised participant's page: the form, or the record.
#[component]
pub fn NotEnrolledSection(participant: Signal<Participant>) -> impl IntoView {
    let lang = use_lang();
    let recorded = move || participant.with(|p| p.not_enrolled().is_some());
    view! {
        <section class="card" data-testid="not-enrolled">
            <h2>{move || t(lang.get(), Text::StatusNotEnrolled)}</h2>
            <Show when=recorded fallback=move || view! { <NotEnrolledForm participant/> }>
                <Recorded participant/>
            </Show>
        </section>
    }
}

/// The reason, any details, and who recorded it when.
#[component]
fn Recorded(participant: Signal<Participant>) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let lines = move || {
        let lang = lang.get();
        participant.with(|p| {
            let record = p.not_enrolled()?;
            let mut lines = vec![labelled(
                lang,
                field_label(lang, Field::NotEnrolledReason),
                &options::label_of(lang, Field::NotEnrolledReason, &record.value.reason),
            )];
            if !record.value.details.trim().is_empty() {
                let label = field_label(lang, Field::NotEnrolledDetails);
                lines.push(labelled(lang, label, &record.value.details));
            }
            lines.push(recorded_by(tablet, &record.by));
            Some(
                lines
                    .into_iter()
                    .map(|line| view! { <li>{line}</li> })
                    .collect_view(),
            )
        })
    };
    view! { <ul class="end-recorded" data-testid="not-enrolled-recorded">{lines}</ul> }
}

/// Why the patient is not enrolled: one of CRF.md's reasons, and details (which
/// "other" requires).
#[component]
fn NotEnrolledForm(participant: Signal<Participant>) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    let reason = RwSignal::new(None::<&'static str>);
    let details = RwSignal::new(String::new());
    let attempted = RwSignal::new(false);
    let once = SaveOnce::ready();
    let problem = RwSignal::new(None::<String>);
    use_dirty().register(Signal::derive(move || {
        reason.get().is_some() || !details.get().trim().is_empty()
    }));
    // The record to make, or what is wrong with what was chosen.
    let verdict = move || -> Result<NotEnrolled, Vec<FieldError>> {
        let Some(reason) = reason.get().and_then(options::read) else {
            return Err(vec![FieldError::Required {
                field: Field::NotEnrolledReason,
            }]);
        };
        let record = NotEnrolled {
            reason,
            details: details.get().trim().to_owned(),
        };
        record.validate()?;
        Ok(record)
    };
    let error_of = move |field: Field| {
        Signal::derive(move || {
            let errors = verdict().err()?;
            // What is missing is named from the first tap on; what is wrong, at once.
            let error = errors.iter().find(|error| error.field() == field)?;
            (attempted.get() || !error.is_missing()).then(|| field_error(lang.get(), error))
        })
    };
    let reason_error = error_of(Field::NotEnrolledReason);
    let record = move |_| {
        attempted.set(true);
        let lang = lang.get_untracked();
        let (Ok(record), Some(user)) = (untrack(verdict), session.user.get_untracked()) else {
            problem.set(Some(t(lang, Text::ChooseNotEnrolledReason).to_owned()));
            return;
        };
        problem.set(None);
        let participant_id = participant.with_untracked(Participant::id);
        if !once.start() {
            return;
        }
        spawn_local(async move {
            let result =
                actions::record(participant_id, user.id, &Payload::NotEnrolled(record)).await;
            match result {
                // Stays done: the form gives way to the record.
                Ok(()) => {
                    once.saved();
                    tablet.refresh();
                }
                Err(error) => {
                    once.reopen();
                    problem.try_set(Some(action_error(lang, &error)));
                }
            }
        });
    };
    let reasons = options::keys(Field::NotEnrolledReason)
        .unwrap_or_default()
        .iter()
        .map(|&key| {
            let label =
                Signal::derive(move || options::label(lang.get(), Field::NotEnrolledReason, key));
            (key, label)
        })
        .collect::<Vec<_>>();
    view! {
        <form class="not-enrolled-form" on:submit=|event| event.prevent_default()>
            <p class="hint">{move || t(lang.get(), Text::NotEnrolledHelp)}</p>
            <div class="field" class:invalid=move || reason_error.with(Option::is_some)>
                <Radios
                    name=Field::NotEnrolledReason.key()
                    legend=Signal::derive(move || field_label(lang.get(), Field::NotEnrolledReason).to_owned())
                    options=reasons
                    selected=reason
                    on_pick=Callback::new(move |key| reason.set(Some(key)))
                />
                <p class="field-error" data-testid="not_enrolled_reason-error">{reason_error}</p>
            </div>
            <TextField field=Field::NotEnrolledDetails value=details error=error_of(Field::NotEnrolledDetails)/>
            <p class="field-error" role="alert" data-testid="not-enrolled-problem">{move || problem.get()}</p>
            <button type="button" class="secondary" prop:disabled=move || once.is_busy() on:click=record data-testid="record-not-enrolled">
                {move || t(lang.get(), Text::RecordNotEnrolled)}
            </button>
        </form>
    }
}
