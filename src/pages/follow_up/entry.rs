//! One field of a form as typed: a value, or "not done" with a reason (CRF.md:
//! every field may be recorded so), and the confirmation a warning asks for. The
//! input shown is the one the trial core names for the field ([`Field::input`]).
//! The text stays exactly as typed; turning it into an entry's JSON is the only
//! judgement made here, and only whether it is a value of the field's type at all:
//! the range and every other rule are the core's.

use leptos::prelude::*;
use serde_json::Value;
use trial::crf::Entry;
use trial::crf::vasoactive::HourlyRate;
use trial::field::{Field, FieldError, Input, check_limits};
use trial::time::Moment;

use crate::clock;
use crate::components::Radios;
use crate::i18n::options::{self, NO, YES};
use crate::i18n::{
    Lang, Text, converted_dose, field_error, field_label, parenthesised, quantity, t, unit_label,
    use_lang,
};

/// The inputs of one field, as typed.
#[derive(Clone, Copy)]
pub(super) struct EntryInput {
    /// The field they record.
    pub field: Field,
    /// The value as typed: a number, a date-time ("2026-03-10 14:05") or a date, a choice's
    /// key, "yes" or "no", or text.
    pub text: RwSignal<String>,
    /// Whether the field is recorded as not done.
    pub not_done: RwSignal<bool>,
    /// Why it was not done, as typed.
    pub reason: RwSignal<String>,
    /// Whether the user confirmed the field's unusual value.
    pub confirmed: RwSignal<bool>,
    /// For a dose prescribed per hour ([`HourlyRate::enters`]), the conversion with
    /// the screening's weight: the text is then in U/h, the entry per kg per min.
    rate: Option<HourlyRate>,
    /// What the inputs held when the form opened, to tell whether anything changed.
    initial: StoredValue<(String, bool, String)>,
}

impl EntryInput {
    /// Inputs holding `text` and nothing else; `rate` converts a dose prescribed
    /// per hour, and is ignored for any other field.
    pub fn new(field: Field, text: String, rate: Option<HourlyRate>) -> Self {
        Self::holding(field, text, None, rate)
    }

    /// Inputs showing a saved entry (its JSON, `null` when blank), for corrections.
    pub fn from_json(field: Field, value: &Value, rate: Option<HourlyRate>) -> Self {
        let rate = rate.filter(|_| HourlyRate::enters(field));
        match serde_json::from_value::<Entry<Value>>(value.clone()) {
            Ok(Entry::Value(value)) => {
                let text = match (rate, value.as_f64()) {
                    (Some(rate), Some(dose)) => rate_text(rate.per_hour(dose)),
                    _ => text_of(field, &value),
                };
                Self::new(field, text, rate)
            }
            Ok(Entry::NotDone { reason }) => {
                Self::holding(field, String::new(), Some(reason), rate)
            }
            Err(_) => Self::new(field, String::new(), rate),
        }
    }

    fn holding(
        field: Field,
        text: String,
        not_done: Option<String>,
        rate: Option<HourlyRate>,
    ) -> Self {
        let initial = (text, not_done.is_some(), not_done.unwrap_or_default());
        Self {
            field,
            text: RwSignal::new(initial.0.clone()),
            not_done: RwSignal::new(initial.1),
            reason: RwSignal::new(initial.2.clone()),
            confirmed: RwSignal::new(false),
            rate: rate.filter(|_| HourlyRate::enters(field)),
            initial: StoredValue::new(initial),
        }
    }

    /// The dose typed per hour, as the entry stores it (U/kg/min), when the
    /// field is entered per hour and the text is a number.
    fn converted(self) -> Option<f64> {
        let rate = self.rate?;
        let per_hour = self.text.with(|text| text.trim().parse::<f64>().ok())?;
        per_hour.is_finite().then(|| rate.per_kg_min(per_hour))
    }

    /// Whether anything was typed or chosen since the form opened.
    pub fn changed(self) -> bool {
        let now = (self.text.get(), self.not_done.get(), self.reason.get());
        self.initial.with_value(|initial| *initial != now)
    }

    /// The entry typed, as the JSON forms and corrections carry (`null` when
    /// blank), or a problem naming the field when the text is not a value of the
    /// field's type. A date or date-time not written in ISO order is such a problem.
    pub fn to_json(self) -> Result<Value, FieldError> {
        let field = self.field;
        if self.not_done.get() {
            return Ok(entry_json(Entry::not_done(self.reason.get().trim())));
        }
        let text = self.text.get();
        let text = text.trim();
        if text.is_empty() {
            return Ok(Value::Null);
        }
        let value = match field.input() {
            // No thousands separators and no decimal comma: "12,000" could mean
            // twelve or twelve thousand, and a guess here would be a wrong value.
            Input::Decimal => match (self.rate, text.parse::<f64>()) {
                (Some(_), Ok(_)) => match self.converted() {
                    Some(dose) => Value::from(dose),
                    None => return Err(FieldError::NotANumber { field }),
                },
                (None, Ok(number)) if number.is_finite() => Value::from(number),
                _ => return Err(FieldError::NotANumber { field }),
            },
            Input::Integer => match text.parse::<i64>() {
                // Named by its range here: the form stores counts unsigned, and a
                // value its type cannot hold would never reach the core's check.
                Ok(number) => {
                    check_limits(field, number as f64)?;
                    Value::from(number)
                }
                Err(_) if text.parse::<f64>().is_ok() => {
                    return Err(FieldError::NotAWholeNumber { field });
                }
                Err(_) => return Err(FieldError::NotANumber { field }),
            },
            // Typed in ISO order, 24-hour (`clock::read_local_input`); anything
            // else is named, never read as blank or guessed at.
            Input::DateTime => match clock::read_local_input(text) {
                Ok(Some(moment)) => typed_json(moment),
                Ok(None) => return Ok(Value::Null),
                Err(_) => return Err(FieldError::NotADate { field }),
            },
            Input::Date => match clock::read_date_input(text) {
                Ok(Some(date)) => typed_json(date),
                Ok(None) => return Ok(Value::Null),
                Err(_) => return Err(FieldError::NotADate { field }),
            },
            Input::YesNo => Value::from(text == YES),
            Input::Choice(_) | Input::Answer | Input::Text => Value::from(text),
        };
        Ok(entry_json(Entry::Value(value)))
    }
}

/// An entry as the core's `Entry` serialises it: the shape every form and
/// correction carries.
fn entry_json(entry: Entry<Value>) -> Value {
    serde_json::to_value(entry).expect("invariant: an entry of JSON serialises to JSON")
}

/// A typed value (a moment, a date) as its core type serialises it.
fn typed_json(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("invariant: a moment or a date serialises to JSON")
}

/// A saved value (the inside of an entry) as the input shows it.
fn text_of(field: Field, value: &Value) -> String {
    match (field.input(), value) {
        (Input::DateTime, _) => serde_json::from_value::<Moment>(value.clone())
            .map(clock::to_local_input)
            .unwrap_or_default(),
        (Input::YesNo, Value::Bool(yes)) => if *yes { YES } else { NO }.to_owned(),
        (_, Value::String(text)) => text.clone(),
        (_, Value::Number(number)) => number.as_f64().unwrap_or_default().to_string(),
        _ => String::new(),
    }
}

/// A rate in U/h as the input shows it: to the hundredth, which is finer than any
/// pump is set, without trailing zeros.
fn rate_text(per_hour: f64) -> String {
    let text = format!("{per_hour:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// What a dose prescribed per hour is stored as, in words: "= 0.0004762 U/kg/min
/// (at 70 kg)", shown under the U/h input and beside the saved dose.
pub(super) fn per_kg_min_note(lang: Lang, field: Field, rate: HourlyRate, dose: f64) -> String {
    let unit = field.limits().map_or("", |limits| limits.unit);
    converted_dose(lang, &dose.to_string(), unit, &rate.weight_kg().to_string())
}

/// A stored dose per kg per minute as the rate it was prescribed at, in words:
/// "2 U/h".
pub(super) fn per_hour_note(lang: Lang, rate: HourlyRate, dose: f64) -> String {
    quantity(lang, &rate_text(rate.per_hour(dose)), HourlyRate::UNIT)
}

/// The input a field of `input` kind is typed in: its `type` and, for numbers,
/// the keyboard a tablet shows.
fn html_input(field: Field, input: Input) -> (&'static str, Option<&'static str>) {
    match input {
        // Text, not the browser's date inputs, which follow the browser's
        // language (03/10/2026, 02:05 PM) whatever the page's.
        Input::DateTime | Input::Date => ("text", None),
        // A numeric keypad may have no minus sign; a score that can be negative
        // (SAVE) gets the full keyboard.
        Input::Integer if field.limits().is_some_and(|limits| limits.min < 0.0) => ("text", None),
        Input::Integer => ("text", Some("numeric")),
        Input::Decimal => ("text", Some("decimal")),
        _ => ("text", None),
    }
}

/// A typed date or date-time in the form it is shown in, once it reads as one
/// (`clock::tidy_date_time`).
type ReadAs = fn(&str) -> Option<String>;

/// A field's input (a value with its unit, a date, yes / no or a choice as large
/// buttons, or text), a "not done" switch that swaps it for a reason, the field's
/// problem beside it, and "Confirm this value" when the problem is a warning the
/// user may confirm.
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
    let unit = move || match input.rate {
        Some(_) => HourlyRate::UNIT,
        None => field
            .limits()
            .map_or("", |limits| unit_label(lang.get(), limits.unit)),
    };
    // A dose typed per hour shows what it is stored as, per kg per minute.
    let stored_as = move || {
        let rate = input.rate?;
        let dose = input.converted()?;
        let note = per_kg_min_note(lang.get(), field, rate, dose);
        Some(view! { <span class="converted" data-testid=format!("{key}-converted")>{note}</span> })
    };
    let choices = options::keys(field);
    let is_choice = choices.is_some();
    let is_text = field.input() == Input::Text;
    let (input_type, inputmode) = html_input(field, field.input());
    // A date or date-time says how to write it beside the input and, when the
    // text typed is not in that form ("202603101405"), what it reads as; the
    // text itself is never rewritten, so nothing moves under the user's finger.
    let format: Option<(Text, &'static str, ReadAs)> = match field.input() {
        Input::DateTime => Some((
            Text::DateTimeHint,
            clock::DATE_TIME_PLACEHOLDER,
            clock::tidy_date_time,
        )),
        Input::Date => Some((Text::DateHint, clock::DATE_PLACEHOLDER, clock::tidy_date)),
        _ => None,
    };
    let read_as = move || {
        let (_, _, read) = format?;
        let typed = input.text.get();
        let shown = read(&typed).filter(|shown| *shown != typed.trim())?;
        let text = format!("{} {shown}", t(lang.get(), Text::ReadAs));
        Some(view! { <span class="converted" data-testid=format!("{key}-read-as")>{text}</span> })
    };
    let warning =
        move || error.with(|error| error.as_ref().is_some_and(FieldError::needs_confirmation));
    let invalid =
        move || error.with(|error| error.as_ref().is_some_and(|e| !e.needs_confirmation()));
    let label_text = move || {
        let lang = lang.get();
        let label = field_label(lang, field);
        if optional {
            parenthesised(lang, label, t(lang, Text::Optional))
        } else {
            label.to_owned()
        }
    };
    // A choice's buttons carry their own legend; any other input (and a choice
    // recorded as not done) is named by a label over the input it stands for.
    let label = {
        let reason_id = reason_id.clone();
        move || {
            let not_done = input.not_done.get();
            (!is_choice || not_done).then(|| {
                let target = if not_done {
                    reason_id.clone()
                } else {
                    key.to_owned()
                };
                view! { <label for=target>{label_text}</label> }
            })
        }
    };
    let value_input = move || {
        match choices {
            Some(keys) => {
                let options = keys
                    .iter()
                    .map(|&option| {
                        (
                            option,
                            Signal::derive(move || options::label(lang.get(), field, option)),
                        )
                    })
                    .collect::<Vec<_>>();
                let selected = Signal::derive(move || {
                    input
                        .text
                        .with(|text| keys.iter().copied().find(|option| option == text))
                });
                let pick = Callback::new(move |key: &'static str| {
                    input.text.set(key.to_owned());
                    input.confirmed.set(false);
                });
                view! { <Radios name=key legend=Signal::derive(label_text) options selected on_pick=pick/> }
                .into_any()
            }
            None => view! {
                <span class="with-unit">
                    <input
                        id=key
                        type=input_type
                        class:free-text=is_text
                        class:date-input=format.is_some()
                        inputmode=inputmode
                        autocomplete="off"
                        spellcheck=format.map(|_| "false")
                        placeholder=format.map(|(_, example, _)| example)
                        aria-describedby=format!("{key}-error")
                        prop:value=move || input.text.get()
                        on:input=move |event| {
                            input.text.set(event_target_value(&event));
                            // A confirmation is of the value the user saw.
                            input.confirmed.set(false);
                        }
                    />
                    <span class="unit">
                        {move || match format {
                            Some((hint, _, _)) => t(lang.get(), hint),
                            None => unit(),
                        }}
                    </span>
                    {stored_as}
                    {read_as}
                </span>
            }
            .into_any(),
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
    // Only where "not done" is an answer: an adverse event's term is not.
    let toggle = field.may_be_not_done().then(|| {
        view! {
            <label class="check not-done" for=toggle_id.clone()>
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
        }
    });
    let value_or_reason = view! {
        <Show when=move || !input.not_done.get() fallback=reason_input>
            {value_input}
        </Show>
    };
    // The label alone above (a long one wraps without moving anything), then
    // the input or buttons with "not done" after them, small: one quiet toggle
    // at the end of the line, not a second button beside every label.
    view! {
        <div class="field entry-field" class:choice=is_choice class:invalid=invalid class:warning=warning>
            <div class="entry-head">{label}</div>
            <div class="entry-row">{value_or_reason}{toggle}</div>
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
