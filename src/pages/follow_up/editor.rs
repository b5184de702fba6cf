//! A new form of any kind (CRF.md §4–§9): one input per field as the trial core
//! names them, each with "not done", its problem beside it and "confirm" for an
//! unusual value. A wrong value is named as it is typed, what is still missing
//! from the first tap on "Save" on; a refused save writes nothing and keeps every
//! input as typed, and one form is saved however often "Save" is tapped.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;
use trial::crf::{Form, FormContext, FormRef};
use trial::field::{Field, FieldError};
use trial::payload::{FormSaved, Payload, PayloadError};
use trial::projection::Participant;

use super::entry::{EntryField, EntryInput};
use super::{OpenForm, VisLine, hourly_rate, title};
use crate::actions::{self, SaveOnce};
use crate::clock;
use crate::components::dirty::use_dirty;
use crate::i18n::{Text, action_error, t, use_lang, with_detail};
use crate::pages::home::ticking_clock;
use crate::state::{use_session, use_tablet};

/// The fields that start at the current time: a sample is usually recorded as it
/// is taken. Every other field starts blank, so nothing is saved that no one typed.
const NOW_BY_DEFAULT: [Field; 1] = [Field::SampledAt];

/// The form as typed: built from the inputs (or why it could not be), and the
/// inputs that are not even values of their field's type.
type Typed = (Result<Form, String>, Vec<FieldError>);

/// The editor of the new form `form_ref`.
#[component]
pub(super) fn FormEditor(
    participant: Signal<Participant>,
    open: OpenForm,
    form_ref: FormRef,
    /// The section's only form, under the section's heading: no title of its own
    /// and nothing to close.
    #[prop(optional)]
    standalone: bool,
) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    let rate = participant.with_untracked(hourly_rate);
    let inputs: Vec<EntryInput> = form_ref
        .kind()
        .entered_fields()
        .map(|field| {
            let text = if NOW_BY_DEFAULT.contains(&field) {
                clock::to_local_input(clock::now())
            } else {
                String::new()
            };
            EntryInput::new(field, text, rate)
        })
        .collect();
    let inputs = StoredValue::new(inputs);
    use_dirty().register(Signal::derive(move || {
        inputs.with_value(|inputs| inputs.iter().any(|input| input.changed()))
    }));
    let optional = may_stay_blank(form_ref);
    let attempted = RwSignal::new(false);
    let once = SaveOnce::ready();
    // Why the last save did not go through when the form itself was fine.
    let problem = RwSignal::new(None::<String>);
    let now = ticking_clock();
    let typed = Memo::new(move |_| inputs.with_value(|inputs| typed(form_ref, inputs)));
    let confirmed = move || {
        inputs.with_value(|inputs| {
            inputs
                .iter()
                .filter(|input| input.confirmed.get())
                .map(|input| input.field)
                .collect::<Vec<_>>()
        })
    };
    // What the inputs cannot be, then what the core finds in the form as typed.
    let errors = Memo::new(move |_| {
        typed.with(|(form, input_errors)| {
            let mut errors = input_errors.clone();
            if let Ok(form) = form {
                // The trial core's one check before saving, with the participant's
                // anchors: every problem at once.
                let saved = Payload::FormSaved(FormSaved {
                    form: form.clone(),
                    confirmed: confirmed(),
                });
                let context = participant.with(Participant::form_context);
                if let Err(PayloadError::Invalid { errors: found, .. }) =
                    saved.check(now.get(), context)
                {
                    errors.extend(found);
                }
            }
            errors
        })
    });
    // A wrong value is named as soon as it is typed; what is still missing, from
    // the first tap on "Save" on.
    let error_of = move |field: Field| {
        Signal::derive(move || {
            let attempted = attempted.get();
            errors.with(|errors| {
                errors
                    .iter()
                    .filter(|error| attempted || !error.is_missing())
                    .find(|error| error.field() == field)
                    .cloned()
            })
        })
    };
    // Above "Save", after a tap on it: what the form's problems are now.
    let summary = move || {
        if !attempted.get() {
            return None;
        }
        errors.with(|errors| {
            if errors.is_empty() {
                return None;
            }
            let only_warnings = errors.iter().all(FieldError::needs_confirmation);
            Some(if only_warnings {
                Text::ConfirmMarkedValues
            } else {
                Text::CheckMarkedFields
            })
        })
    };
    let save = move |_| {
        let lang = lang.get_untracked();
        attempted.set(true);
        let form = match typed.get_untracked().0 {
            Ok(form) => form,
            Err(message) => {
                problem.set(Some(with_detail(lang, Text::FormNotBuilt, &message)));
                return;
            }
        };
        if errors.with_untracked(|errors| !errors.is_empty()) {
            problem.set(None);
            return;
        }
        if participant.with_untracked(|p| p.form(form_ref).is_some()) {
            problem.set(Some(t(lang, Text::FormSavedMeanwhile).to_owned()));
            return;
        }
        let (Some(user), participant_id) = (
            session.user.get_untracked(),
            participant.with_untracked(Participant::id),
        ) else {
            return;
        };
        let payload = Payload::FormSaved(FormSaved {
            form,
            confirmed: untrack(confirmed),
        });
        problem.set(None);
        if !once.start() {
            return;
        }
        spawn_local(async move {
            let result = actions::record(participant_id, user.id, &payload).await;
            match result {
                // Stays done: the form gives way to its saved values.
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
    let fields = inputs.with_value(|inputs| {
        inputs
            .iter()
            .map(|&input| {
                let optional = optional.contains(&input.field);
                view! { <EntryField input optional error=error_of(input.field)/> }
            })
            .collect_view()
    });
    let form = Signal::derive(move || typed.with(|(form, _)| form.clone().ok()));
    view! {
        <form class="entry-form" on:submit=|event| event.prevent_default() data-testid="form-editor">
            {(!standalone).then(|| view! { <h3>{move || participant.with(|p| title(lang.get(), p, form_ref))}</h3> })}
            <div class="entry-grid">{fields}</div>
            <VisLine form/>
            <p class="field-error" role="alert" data-testid="form-problem">
                {move || problem.get().or_else(|| summary().map(|text| t(lang.get(), text).to_owned()))}
            </p>
            <div class="actions">
                <button type="button" on:click=save prop:disabled=move || once.is_busy() data-testid="save-form">
                    {move || t(lang.get(), Text::SaveForm)}
                </button>
                {(!standalone).then(|| view! {
                    <button type="button" class="secondary" on:click=move |_| open.close(lang.get_untracked())>
                        {move || t(lang.get(), Text::Close)}
                    </button>
                })}
            </div>
        </form>
    }
}

/// Builds the form from the inputs; a text that is not a value of its field's
/// type is named and left blank, so the core judges the rest.
fn typed(form_ref: FormRef, inputs: &[EntryInput]) -> Typed {
    let mut errors = Vec::new();
    let entries: Vec<(Field, Value)> = inputs
        .iter()
        .map(|input| {
            let entry = input.to_json().unwrap_or_else(|error| {
                errors.push(error);
                Value::Null
            });
            (input.field, entry)
        })
        .collect();
    let form = form_ref
        .form_with(entries)
        .map_err(|error| error.to_string());
    (form, errors)
}

/// The fields a blank form of this kind does not call required: the core's answer,
/// for the "(optional)" beside them. Some become required by another answer (ECPR
/// after a cardiac arrest), which the check says when it happens.
fn may_stay_blank(form_ref: FormRef) -> Vec<Field> {
    let required: Vec<Field> = form_ref
        .blank_form()
        .validate(&[], FormContext::NONE)
        .err()
        .unwrap_or_default()
        .into_iter()
        .filter(|error| matches!(error, FieldError::Required { .. }))
        .map(|error| error.field())
        .collect();
    form_ref
        .kind()
        .entered_fields()
        .filter(|field| !required.contains(field))
        .collect()
}
