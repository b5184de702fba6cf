//! One field of a follow-up form as typed: a value, or "not done" with a reason
//! (CRF.md: every field may be recorded so), and the confirmation a warning asks
//! for. The text stays exactly as typed; turning it into an [`Entry`] is the only
//! judgement made here, and only whether it is a number or a date-time at all.

use leptos::prelude::*;
use serde_json::Value;
use trial::crf::Entry;
use trial::field::{Field, FieldError};
use trial::time::Moment;

use crate::clock;
use crate::i18n::{Text, field_error, field_label, t, use_lang};

/// The inputs of one field, as typed.
#[derive(Clone, Copy)]
pub(super) struct EntryInput {
    /// The field they record.
    pub field: Field,
    /// The value as typed (a number, or a `datetime-local` value).
    pub text: RwSignal<String>,
    /// Whether the field is recorded as not done.
    pub not_done: RwSignal<bool>,
    /// Why it was not done, as typed.
    pub reason: RwSignal<String>,
    /// Whether the user confirmed the field's unusual value.
    pub confirmed: RwSignal<bool>,
}

impl EntryInput {
    /// Inputs holding `text` and nothing else.
    pub fn new(field: Field, text: String) -> Self {
        Self {
            field,
            text: RwSignal::new(text),
            not_done: RwSignal::new(false),
            reason: RwSignal::new(String::new()),
            confirmed: RwSignal::new(false),
        }
    }

    /// Inputs showing a saved entry (its JSON, `null` when blank), for corrections.
    pub fn from_json(field: Field, value: &Value) -> Self {
        let input = Self::new(field, String::new());
        let reason = if is_date_time(field) {
            match serde_json::from_value::<Entry<Moment>>(value.clone()) {
                Ok(Entry::Value(moment)) => {
                    input.text.set(clock::to_local_input(moment));
                    None
                }
                Ok(Entry::NotDone { reason }) => Some(reason),
                Err(_) => None,
            }
        } else {
            match serde_json::from_value::<Entry<f64>>(value.clone()) {
                Ok(Entry::Value(number)) => {
                    input.text.set(number.to_string());
                    None
                }
                Ok(Entry::NotDone { reason }) => Some(reason),
                Err(_) => None,
            }
        };
        if let Some(reason) = reason {
            input.not_done.set(true);
            input.reason.set(reason);
        }
        input
    }

    /// The entry typed for a measured number: `None` when blank, an error naming
    /// the field when the text is not a number. The range is the core's to judge.
    pub fn number(self) -> Result<Option<Entry<f64>>, FieldError> {
        if self.not_done.get() {
            return Ok(Some(Entry::not_done(self.reason.get().trim())));
        }
        let text = self.text.get();
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        // No thousands separators and no decimal comma: "12,000" could mean twelve
        // or twelve thousand, and a guess here would be a wrong IL-6 value.
        text.parse::<f64>()
            .map(|number| Some(Entry::Value(number)))
            .map_err(|_| FieldError::NotANumber { field: self.field })
    }

    /// The entry typed for a date-time: `None` when blank or incomplete (the
    /// browser's date-time input gives nothing until it holds a whole one).
    pub fn moment(self) -> Option<Entry<Moment>> {
        if self.not_done.get() {
            return Some(Entry::not_done(self.reason.get().trim()));
        }
        clock::from_local_input(&self.text.get()).map(Entry::Value)
    }

    /// The entry typed, as the JSON a correction carries (`null` when blank).
    pub fn to_json(self) -> Result<Value, FieldError> {
        let json = if is_date_time(self.field) {
            serde_json::to_value(self.moment())
        } else {
            serde_json::to_value(self.number()?)
        };
        Ok(json.expect("invariant: an entry serialises to JSON"))
    }
}

/// Whether `field` takes a date-time rather than a number. Of the fields these
/// inputs serve (the cytokine sample's), only the sample date-time does.
fn is_date_time(field: Field) -> bool {
    field == Field::SampledAt
}

/// A value input with its unit, a "not done" switch that swaps it for a reason,
/// the field's problem beside it, and "Confirm this value" when the problem is a
/// warning the user may confirm.
#[component]
pub(super) fn EntryField(
    /// The field's inputs.
    input: EntryInput,
    /// Whether the form may leave the field blank.
    #[prop(optional)]
    optional: bool,
    /// The field's problem or warning, if any.
    #[prop(into)]
    error: Signal<Option<FieldError>>,
) -> impl IntoView {
    let lang = use_lang();
    let field = input.field;
    let key = field.key();
    let reason_id = format!("{key}-reason");
    let toggle_id = format!("{key}-not-done");
    let confirm_id = format!("confirm-{key}");
    let error_id = format!("{key}-error");
    let unit = field.limits().map_or("", |limits| limits.unit);
    let input_type = if is_date_time(field) {
        "datetime-local"
    } else {
        "text"
    };
    let warning =
        move || error.with(|error| error.as_ref().is_some_and(FieldError::needs_confirmation));
    let invalid =
        move || error.with(|error| error.as_ref().is_some_and(|e| !e.needs_confirmation()));
    let label_for = {
        let reason_id = reason_id.clone();
        move || {
            if input.not_done.get() {
                reason_id.clone()
            } else {
                key.to_owned()
            }
        }
    };
    let value_input = move || {
        view! {
            <span class="with-unit">
                <input
                    id=key
                    type=input_type
                    inputmode=(input_type == "text").then_some("decimal")
                    autocomplete="off"
                    aria-describedby=format!("{key}-error")
                    prop:value=move || input.text.get()
                    on:input=move |event| {
                        input.text.set(event_target_value(&event));
                        // A confirmation is of the value the user saw.
                        input.confirmed.set(false);
                    }
                />
                <span class="unit">{unit}</span>
            </span>
        }
    };
    let reason_input = move || {
        view! {
            <span class="with-reason">
                <label class="sub-label" for=reason_id.clone()>{move || t(lang.get(), Text::NotDoneReason)}</label>
                <input
                    id=reason_id.clone()
                    type="text"
                    autocomplete="off"
                    aria-describedby=format!("{key}-error")
                    prop:value=move || input.reason.get()
                    on:input=move |event| input.reason.set(event_target_value(&event))
                />
            </span>
        }
    };
    view! {
        <div class="field entry-field" class:invalid=invalid class:warning=warning>
            <label for=label_for>
                {move || field_label(lang.get(), field)}
                {optional.then(|| view! { <span class="optional">{move || format!(" ({})", t(lang.get(), Text::Optional))}</span> })}
            </label>
            <div class="entry-row">
                <Show when=move || !input.not_done.get() fallback=reason_input.clone()>
                    {value_input}
                </Show>
                <label class="check" for=toggle_id.clone()>
                    <input
                        type="checkbox"
                        id=toggle_id.clone()
                        data-testid=toggle_id.clone()
                        prop:checked=move || input.not_done.get()
                        on:change=move |event| {
                            input.not_done.set(event_target_checked(&event));
                            input.confirmed.set(false);
                        }
                    />
                    {move || t(lang.get(), Text::NotDone)}
                </label>
            </div>
            <p class="field-error" id=error_id.clone() data-testid=error_id role="alert">
                {move || error.with(|error| error.as_ref().map(|e| field_error(lang.get(), e)))}
            </p>
            <Show when=move || warning() || input.confirmed.get()>
                <label class="check confirm-value" for=confirm_id.clone()>
                    <input
                        type="checkbox"
                        id=confirm_id.clone()
                        data-testid=confirm_id.clone()
                        prop:checked=move || input.confirmed.get()
                        on:change=move |event| input.confirmed.set(event_target_checked(&event))
                    />
                    {move || t(lang.get(), Text::ConfirmValue)}
                </label>
            </Show>
        </div>
    }
}
