//! A saved form of any kind: each field's current entry, who set it and when, its
//! earlier entries, and "Correct", which records a `ValueCorrected` event with the
//! entry the user saw, the new one and a reason. Nothing is overwritten: the
//! projection keeps the old entry in the field's history. A saved form that fails
//! a check against the rest of the record (a sample outside its window, a date
//! before ECMO start) says so, in the core's words.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;
use trial::crf::vasoactive::HourlyRate;
use trial::crf::{FormContext, FormRef};
use trial::field::{Field, FieldError};
use trial::payload::{Payload, PayloadError, ValueCorrected};
use trial::projection::{Change, Participant, Provenance, Subject};
use trial::time::Moment;

use super::entry::{EntryField, EntryInput, per_hour_note};
use super::{
    OpenForm, VisLine, describe_entry, device_label, hourly_rate, recorded_by, title, user_name,
    wall_clock,
};
use crate::actions::{self, SaveOnce};
use crate::components::dirty::use_dirty;
use crate::i18n::{
    Lang, Text, action_error, field_error, field_label, labelled, parenthesised, sentences, t,
    use_lang, with_detail,
};
use crate::pages::home::ticking_clock;
use crate::state::{use_session, use_tablet};

/// The fields of a saved form, each with its "Correct" button. One correction is
/// open at a time.
#[component]
pub(super) fn SavedForm(
    participant: Signal<Participant>,
    open: OpenForm,
    form_ref: FormRef,
    /// The section's only form, under the section's heading: no title of its own
    /// and nothing to close.
    #[prop(optional)]
    standalone: bool,
) -> impl IntoView {
    let lang = use_lang();
    // The field being corrected and the entry the user saw when they tapped
    // "Correct": that entry is what the correction says it replaces.
    let correcting = RwSignal::new(None::<(Field, Value)>);
    let review = move || {
        let lang = lang.get();
        let errors = participant.with(|p| {
            let record = p.form(form_ref)?;
            record
                .form()
                .validate(record.confirmed(), p.form_context())
                .err()
        })?;
        Some(view! {
            <div class="review" role="status" data-testid="review">
                <p>{t(lang, Text::NeedsReview)}</p>
                <ul>{errors.iter().map(|error| view! { <li>{field_error(lang, error)}</li> }).collect_view()}</ul>
            </div>
        })
    };
    let form = Signal::derive(move || {
        participant.with(|p| p.form(form_ref).map(|record| record.form().clone()))
    });
    // A form keeps the version it was entered in: an old one shows its old fields.
    let shown = participant.with_untracked(|p| {
        p.form(form_ref).map_or_else(
            || form_ref.kind().entered_fields().collect(),
            |record| record.form().shown_fields(),
        )
    });
    view! {
        {(!standalone).then(|| view! { <h3>{move || participant.with(|p| title(lang.get(), p, form_ref))}</h3> })}
        {review}
        <ul class="saved-fields" data-testid="saved-form">
            {shown
                .into_iter()
                .map(|field| view! { <SavedField participant open form_ref field correcting/> })
                .collect_view()}
        </ul>
        <VisLine form/>
        {(!standalone).then(|| view! {
            <div class="actions">
                <button type="button" class="secondary" on:click=move |_| open.close(lang.get_untracked())>
                    {move || t(lang.get(), Text::Close)}
                </button>
            </div>
        })}
    }
}

/// One saved field: its entry, provenance, history, and correction.
#[component]
fn SavedField(
    participant: Signal<Participant>,
    open: OpenForm,
    form_ref: FormRef,
    field: Field,
    correcting: RwSignal<Option<(Field, Value)>>,
) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let key = field.key();
    let current = Memo::new(move |_| {
        participant
            .with(|p| {
                p.form(form_ref)
                    .and_then(|record| record.form().value(field))
            })
            .unwrap_or(Value::Null)
    });
    let history = Memo::new(move |_| {
        participant.with(|p| {
            p.form(form_ref)
                .map(|record| {
                    record
                        .field_history(field)
                        .cloned()
                        .collect::<Vec<Change>>()
                })
                .unwrap_or_default()
        })
    });
    let set_by = move || {
        history.with(|history| history.last().map(|change| recorded_by(tablet, &change.by)))
    };
    let earlier = move || {
        let lang = lang.get();
        history.with(|history| {
            history
                .iter()
                .filter_map(|change| {
                    let old = change.old.as_ref()?;
                    let name = user_name(tablet, change.by.user_id);
                    let reason = change
                        .reason
                        .as_ref()
                        .map(|reason| {
                            format!(" · {}", labelled(lang, t(lang, Text::Reason), reason))
                        })
                        .unwrap_or_default();
                    let text = format!(
                        "{} → {}{reason} · {name} · {}",
                        describe_entry(lang, field, old),
                        describe_entry(lang, field, &change.new),
                        wall_clock(change.by.recorded_at),
                    );
                    Some(view! { <li>{text}</li> })
                })
                .collect_view()
        })
    };
    // An open data query on this field: the value that shows and the one it
    // replaced unseen, each with who recorded it when.
    let query = move || {
        let lang = lang.get();
        participant.with(|p| {
            let conflict = p
                .open_conflicts()
                .find(|conflict| {
                    conflict.subject == Subject::Form(form_ref) && conflict.field == field
                })?;
            let line = |value: &Value, by: &Provenance| {
                let name = user_name(tablet, by.user_id);
                let text = format!(
                    "{} · {name} · {} · {}",
                    describe_entry(lang, field, value),
                    wall_clock(by.recorded_at),
                    device_label(tablet, by.device_id),
                );
                view! { <li>{text}</li> }
            };
            Some(view! {
                <div class="query" role="status" data-testid=format!("query-{key}")>
                    // No space after the full-width colon of the Chinese label.
                    <p><strong>{t(lang, Text::DataQuery)}</strong> {(lang == Lang::En).then_some(" ")} {t(lang, Text::DataQueryHelp)}</p>
                    <ul>
                        {line(&conflict.shown_value, &conflict.shown)}
                        {line(&conflict.overridden_value, &conflict.overridden)}
                    </ul>
                </div>
            })
        })
    };
    // A dose prescribed per hour shows the rate beside the dose stored.
    let shown_value = move || {
        let lang = lang.get();
        let text = describe_entry(lang, field, &current.get());
        let rate = participant
            .with(hourly_rate)
            .filter(|_| HourlyRate::enters(field));
        let dose = current.with(|entry| entry.get("value").and_then(Value::as_f64));
        match rate.zip(dose) {
            Some((rate, dose)) => parenthesised(lang, &text, &per_hour_note(lang, rate, dose)),
            None => text,
        }
    };
    let is_correcting =
        move || correcting.with(|open| open.as_ref().is_some_and(|(open, _)| *open == field));
    // A signed casebook takes no correction: no button, and a correction being
    // typed when the signature arrived gives way to the notice above the forms.
    let editable = move || participant.with(|p| p.check_editable().is_ok());
    let correction = move || {
        if !editable() {
            return None;
        }
        correcting.with(|open| {
            open.as_ref()
                .filter(|(open, _)| *open == field)
                .map(|(_, old)| {
                    let close = Callback::new(move |()| correcting.set(None));
                    view! { <CorrectionForm participant form_ref field old=old.clone() close/> }
                })
        })
    };
    view! {
        <li data-testid=format!("saved-{key}")>
            <span class="saved-label">{move || field_label(lang.get(), field)}</span>
            <span class="saved-value" data-testid=format!("value-{key}")>
                {shown_value}
            </span>
            <span class="saved-by">{set_by}</span>
            <button
                type="button"
                class="secondary"
                data-testid=format!("correct-{key}")
                hidden=move || !editable()
                prop:disabled=is_correcting
                on:click=move |_| {
                    // Another correction being typed goes only if the user agrees.
                    if open.may_leave(lang.get_untracked()) {
                        correcting.set(Some((field, current.get_untracked())));
                    }
                }
            >
                {move || t(lang.get(), Text::Correct)}
            </button>
            <ul class="field-history" data-testid=format!("history-{key}")>{earlier}</ul>
            {query}
            {correction}
        </li>
    }
}

/// Why a correction cannot be saved yet.
#[derive(Clone, Debug, PartialEq)]
enum Refusal {
    /// Problems to show beside the value or the reason.
    Fields(Vec<FieldError>),
    /// Anything else the core refused, which no input here should produce.
    Other(String),
}

/// The new entry and the reason for a correction of one field.
#[component]
fn CorrectionForm(
    participant: Signal<Participant>,
    form_ref: FormRef,
    field: Field,
    /// The entry the user saw when they tapped "Correct".
    old: Value,
    close: Callback<()>,
) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    let input = EntryInput::from_json(field, &old, participant.with_untracked(hourly_rate));
    let reason = RwSignal::new(String::new());
    use_dirty().register(Signal::derive(move || {
        input.changed() || !reason.with(|reason| reason.trim().is_empty())
    }));
    let attempted = RwSignal::new(false);
    let once = SaveOnce::ready();
    let problem = RwSignal::new(None::<String>);
    let seen = old.clone();
    let now = ticking_clock();
    let verdict = Memo::new(move |_| judge(form_ref, field, &old, input, &reason.get(), now.get()));
    // A wrong new value is named as soon as it is typed; a reason still to
    // give, or a value not changed yet, from the first tap on "Save" on.
    let error_of = move |field: Field| {
        Signal::derive(move || {
            let attempted = attempted.get();
            verdict.with(|verdict| match verdict {
                Err(Refusal::Fields(errors)) => errors
                    .iter()
                    .filter(|error| {
                        attempted
                            || !(error.is_missing()
                                || matches!(error, FieldError::Unchanged { .. }))
                    })
                    .find(|error| error.field() == field)
                    .cloned(),
                _ => None,
            })
        })
    };
    let reason_error = error_of(Field::CorrectionReason);
    let save = move |_| {
        let lang = lang.get_untracked();
        attempted.set(true);
        let body = match verdict.get_untracked() {
            Ok(body) => body,
            Err(Refusal::Other(message)) => {
                problem.set(Some(with_detail(lang, Text::CorrectionRefused, &message)));
                return;
            }
            Err(Refusal::Fields(_)) => {
                problem.set(None);
                return;
            }
        };
        let (Some(user), participant_id) = (
            session.user.get_untracked(),
            participant.with_untracked(Participant::id),
        ) else {
            return;
        };
        problem.set(None);
        if !once.start() {
            return;
        }
        spawn_local(async move {
            let result =
                actions::record(participant_id, user.id, &Payload::ValueCorrected(body)).await;
            match result {
                // Stays done: the correction closes once the page shows it.
                Ok(()) => {
                    once.saved();
                    tablet.reload().await;
                    close.run(());
                }
                Err(error) => {
                    once.reopen();
                    problem.try_set(Some(action_error(lang, &error)));
                }
            }
        });
    };
    view! {
        <div class="correction" role="group" data-testid="correction">
            <p class="hint">
                {move || {
                    let lang = lang.get();
                    let current = labelled(lang, t(lang, Text::CurrentEntry), &describe_entry(lang, field, &seen));
                    sentences(lang, &current, t(lang, Text::CorrectionHelp))
                }}
            </p>
            <EntryField input error=error_of(field)/>
            <div class="field" class:invalid=move || reason_error.with(Option::is_some)>
                <label for="correction-reason">{move || field_label(lang.get(), Field::CorrectionReason)}</label>
                <input
                    id="correction-reason"
                    data-testid="correction-reason"
                    type="text"
                    autocomplete="off"
                    aria-describedby="correction_reason-error"
                    prop:value=move || reason.get()
                    on:input=move |event| reason.set(event_target_value(&event))
                />
                <p class="field-error" id="correction_reason-error" data-testid="correction_reason-error" role="alert">
                    {move || reason_error.with(|error| error.as_ref().map(|e| field_error(lang.get(), e)))}
                </p>
            </div>
            <p class="field-error" role="alert" data-testid="correction-problem">{move || problem.get()}</p>
            <div class="actions">
                <button type="button" on:click=save prop:disabled=move || once.is_busy() data-testid="save-correction">
                    {move || t(lang.get(), Text::SaveCorrection)}
                </button>
                <button type="button" class="secondary" on:click=move |_| close.run(())>
                    {move || t(lang.get(), Text::Cancel)}
                </button>
            </div>
        </div>
    }
}

/// Builds the correction and asks the trial core whether it may be recorded: the
/// new entry must pass the field's own rules, lie no later than `now`, and the
/// reason must not be blank.
fn judge(
    form: FormRef,
    field: Field,
    old: &Value,
    input: EntryInput,
    reason: &str,
    now: Moment,
) -> Result<ValueCorrected, Refusal> {
    let mut errors = Vec::new();
    let new = input.to_json().unwrap_or_else(|error| {
        errors.push(error);
        Value::Null
    });
    let body = ValueCorrected {
        form,
        field,
        old: old.clone(),
        new,
        reason: reason.trim().to_owned(),
        confirms: None,
    };
    let payload = Payload::ValueCorrected(body.clone());
    match payload.check(now, FormContext::NONE) {
        Ok(()) if errors.is_empty() => Ok(body),
        Ok(()) => Err(Refusal::Fields(errors)),
        Err(PayloadError::Invalid { errors: more, .. }) => {
            errors.extend(more);
            Err(Refusal::Fields(errors))
        }
        Err(other) => Err(Refusal::Other(other.to_string())),
    }
}
