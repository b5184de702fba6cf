//! The end of a participant's part in the trial (CRF.md §10): follow-up completed,
//! withdrawn (by whom, and why) or lost to follow-up. Recorded once, after a
//! confirmation, as a `Withdrawn` or `EndOfParticipation` event; the allocated arm
//! never changes (intention to treat), and the page says so.

use leptos::prelude::*;
use leptos::task::spawn_local;
use trial::crf::end::{EndOfParticipation as End, EndStatus, Withdrawal};
use trial::field::{Field, FieldError, Input};
use trial::payload::Payload;
use trial::projection::{Participant, Provenance, Status};

use super::recorded_by;
use crate::actions::{self, SaveOnce};
use crate::clock;
use crate::components::dirty::use_dirty;
use crate::components::{Radios, TextField};
use crate::i18n::{
    Text, action_error, arm_label, field_error, field_label, labelled, options, t, use_lang,
};
use crate::state::{use_session, use_tablet};

/// How participation ended, as the user chooses it: the three answers of CRF.md
/// §10, which become two kinds of event.
const ENDINGS: [(&str, Text); 3] = [
    ("completed", Text::StatusCompleted),
    ("withdrawn", Text::EndWithdrawn),
    ("lost", Text::StatusLost),
];

/// Where the participant's follow-up stands, as the core's status says it.
pub(super) fn state_text(participant: &Participant) -> Text {
    match participant.status(clock::now()) {
        Status::Withdrawn => Text::StatusWithdrawn,
        Status::Completed => Text::StatusCompleted,
        Status::LostToFollowUp => Text::StatusLost,
        _ => Text::InFollowUp,
    }
}

/// The end of participation: what was recorded, or the form to record it.
#[component]
pub(super) fn EndOfParticipation(participant: Signal<Participant>) -> impl IntoView {
    let lang = use_lang();
    let ended = move || participant.with(|p| p.withdrawal().is_some() || p.end().is_some());
    let arm = move || {
        let lang = lang.get();
        participant
            .with(|p| p.arm())
            .map(|arm| labelled(lang, t(lang, Text::ArmStays), arm_label(lang, arm)))
    };
    view! {
        <section class="card follow-up" data-testid="end">
            <h2>{move || t(lang.get(), Text::SectionEnd)}</h2>
            <p class="arm-stays">{arm}</p>
            <Show when=ended fallback=move || view! { <EndForm participant/> }>
                <Recorded participant/>
            </Show>
        </section>
    }
}

/// What was recorded: how it ended, by whom and why for a withdrawal, and who
/// recorded it when.
#[component]
fn Recorded(participant: Signal<Participant>) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let lines = move || {
        let lang = lang.get();
        participant.with(|p| {
            let by_whom = |by: &Provenance| recorded_by(tablet, by);
            let mut lines = vec![t(lang, state_text(p)).to_owned()];
            if let Some(withdrawal) = p.withdrawal() {
                lines.push(labelled(
                    lang,
                    field_label(lang, Field::WithdrawnBy),
                    &options::label_of(lang, Field::WithdrawnBy, &withdrawal.value.by),
                ));
                lines.push(labelled(
                    lang,
                    field_label(lang, Field::WithdrawalReason),
                    &withdrawal.value.reason,
                ));
                lines.push(by_whom(&withdrawal.by));
            } else if let Some(end) = p.end() {
                lines.push(by_whom(&end.by));
            }
            lines
                .into_iter()
                .map(|line| view! { <li>{line}</li> })
                .collect_view()
        })
    };
    view! { <ul class="end-recorded" data-testid="end-recorded">{lines}</ul> }
}

/// The form: how it ended and, for a withdrawal, by whom and why; then a
/// confirmation, because it cannot be undone here.
#[component]
fn EndForm(participant: Signal<Participant>) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    let ending = RwSignal::new(None::<&'static str>);
    let by = RwSignal::new(None::<&'static str>);
    let reason = RwSignal::new(String::new());
    let attempted = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let once = SaveOnce::ready();
    let problem = RwSignal::new(None::<String>);
    use_dirty().register(Signal::derive(move || {
        ending.get().is_some() || by.get().is_some() || !reason.get().trim().is_empty()
    }));
    let withdrawn = move || ending.get() == Some("withdrawn");
    // The event to record, or the problems with what was chosen.
    let verdict = move || -> Result<Payload, Vec<FieldError>> {
        let status = match ending.get() {
            None => return Err(Vec::new()),
            Some("completed") => EndStatus::Completed,
            Some("lost") => EndStatus::LostToFollowUp,
            Some(_) => {
                let Some(by) = by.get().and_then(options::read) else {
                    return Err(vec![FieldError::Required {
                        field: Field::WithdrawnBy,
                    }]);
                };
                let withdrawal = Withdrawal {
                    by,
                    reason: reason.get().trim().to_owned(),
                };
                withdrawal.validate()?;
                return Ok(Payload::Withdrawn(withdrawal));
            }
        };
        Ok(Payload::EndOfParticipation(End { status }))
    };
    let error_of = move |field: Field| {
        Signal::derive(move || {
            let errors = verdict().err()?;
            let error = errors.iter().find(|error| error.field() == field)?;
            attempted.get().then(|| field_error(lang.get(), error))
        })
    };
    let by_error = error_of(Field::WithdrawnBy);
    let ask = move |_| {
        attempted.set(true);
        let lang = lang.get_untracked();
        match untrack(verdict) {
            Ok(_) => {
                problem.set(None);
                confirming.set(true);
            }
            Err(errors) if errors.is_empty() => {
                problem.set(Some(t(lang, Text::ChooseEndStatus).to_owned()));
            }
            Err(_) => problem.set(Some(t(lang, Text::CheckMarkedFields).to_owned())),
        }
    };
    let record = move |_| {
        let lang = lang.get_untracked();
        let (Ok(payload), Some(user)) = (untrack(verdict), session.user.get_untracked()) else {
            return;
        };
        let participant_id = participant.with_untracked(Participant::id);
        if !once.start() {
            return;
        }
        spawn_local(async move {
            let result = actions::record(participant_id, user.id, &payload).await;
            match result {
                // Stays done: the form gives way to the record.
                Ok(()) => {
                    once.saved();
                    tablet.refresh();
                }
                Err(error) => {
                    once.reopen();
                    confirming.try_set(false);
                    problem.try_set(Some(action_error(lang, &error)));
                }
            }
        });
    };
    let label = move |text: Text| Signal::derive(move || t(lang.get(), text).to_owned());
    let endings = ENDINGS
        .into_iter()
        .map(|(key, text)| (key, label(text)))
        .collect::<Vec<_>>();
    let by_options = match Field::WithdrawnBy.input() {
        Input::Choice(keys) => keys
            .iter()
            .map(|&key| {
                let label =
                    Signal::derive(move || options::label(lang.get(), Field::WithdrawnBy, key));
                (key, label)
            })
            .collect(),
        _ => Vec::new(),
    };
    view! {
        <form class="end-form" on:submit=|event| event.prevent_default()>
            <Radios
                name="end_status"
                legend=label(Text::EndHow)
                options=endings
                selected=ending
                on_pick=Callback::new(move |key| {
                    ending.set(Some(key));
                    confirming.set(false);
                })
            />
            <Show when=withdrawn>
                <div class="field" class:invalid=move || by_error.with(Option::is_some)>
                    <Radios
                        name=Field::WithdrawnBy.key()
                        legend=Signal::derive(move || field_label(lang.get(), Field::WithdrawnBy).to_owned())
                        options=by_options.clone()
                        selected=by
                        on_pick=Callback::new(move |key| by.set(Some(key)))
                    />
                    <p class="field-error" data-testid="withdrawn_by-error">{by_error}</p>
                </div>
                <TextField field=Field::WithdrawalReason value=reason error=error_of(Field::WithdrawalReason)/>
            </Show>
            <p class="field-error" role="alert" data-testid="end-problem">{move || problem.get()}</p>
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button type="button" on:click=ask data-testid="record-end">
                        {move || t(lang.get(), Text::RecordEnd)}
                    </button>
                }
            >
                <div class="confirm" role="alertdialog" aria-labelledby="end-confirm-title">
                    <p id="end-confirm-title"><strong>{move || t(lang.get(), Text::EndIrreversible)}</strong></p>
                    <button type="button" class="secondary" on:click=move |_| confirming.set(false)>
                        {move || t(lang.get(), Text::Cancel)}
                    </button>
                    <button type="button" prop:disabled=move || once.is_busy() on:click=record data-testid="confirm-end">
                        {move || t(lang.get(), Text::ConfirmEnd)}
                    </button>
                </div>
            </Show>
        </form>
    }
}
