//! Form inputs bound to signals. Values stay exactly as typed (a half-typed number
//! is not lost); the page turns them into the trial core's types and shows the
//! core's verdict beside each field.

use leptos::prelude::*;
use trial::field::Field;
use trial::screening::Answer;

use crate::clock;
use crate::i18n::{Text, field_label, t, unit_label, use_lang};

/// The message shown under a field: its error, if any.
#[component]
fn FieldMessage(field: Field, error: Signal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || error.with(Option::is_some)>
            <p class="field-error" id=format!("{}-error", field.key()) data-testid=format!("{}-error", field.key())>
                {move || error.get()}
            </p>
        </Show>
    }
}

/// A number with its unit beside it. Typed as text with a decimal keypad, so that
/// "abc" can be named as not a number instead of silently becoming empty.
#[component]
pub fn NumberField(
    /// The field this input records.
    field: Field,
    /// The text as typed.
    value: RwSignal<String>,
    /// The field's problem, in the user's language.
    #[prop(into)]
    error: Signal<Option<String>>,
) -> impl IntoView {
    let lang = use_lang();
    let unit = move || {
        field
            .limits()
            .map_or("", |limits| unit_label(lang.get(), limits.unit))
    };
    view! {
        <div class="field" class:invalid=move || error.with(Option::is_some)>
            <label for=field.key()>{move || field_label(lang.get(), field)}</label>
            <span class="with-unit">
                <input
                    id=field.key()
                    type="text"
                    inputmode="decimal"
                    autocomplete="off"
                    aria-describedby=format!("{}-error", field.key())
                    prop:value=move || value.get()
                    on:input=move |event| value.set(event_target_value(&event))
                />
                <span class="unit">{unit}</span>
            </span>
            <FieldMessage field error/>
        </div>
    }
}

/// A labelled text input: the shared body of the field components below.
/// `format` is a hint shown beside the label (how a date is written) and the
/// placeholder, and `read_as` what the text reads as in the form it is shown in:
/// when that differs from what was typed ("202603101405"), it shows under the
/// input ("Read as 2026-03-10 14:05"). The text itself is never rewritten, so
/// nothing on the page moves when the user taps elsewhere.
fn labelled_input(
    field: Field,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    format: Option<(Text, &'static str)>,
    read_as: fn(&str) -> Option<String>,
) -> impl IntoView {
    let lang = use_lang();
    let reading = move || {
        let typed = value.get();
        let shown = read_as(&typed).filter(|shown| *shown != typed.trim())?;
        let text = format!("{} {shown}", t(lang.get(), Text::ReadAs));
        Some(view! { <p class="read-as" data-testid=format!("{}-read-as", field.key())>{text}</p> })
    };
    view! {
        <div class="field" class:invalid=move || error.with(Option::is_some)>
            <label for=field.key()>
                {move || field_label(lang.get(), field)}
                {format.map(|(hint, _)| view! { " " <span class="format-hint">{move || t(lang.get(), hint)}</span> })}
            </label>
            <input
                id=field.key()
                type="text"
                class:date-input=format.is_some()
                autocomplete="off"
                spellcheck="false"
                placeholder=format.map(|(_, example)| example)
                aria-describedby=format!("{}-error", field.key())
                prop:value=move || value.get()
                on:input=move |event| value.set(event_target_value(&event))
            />
            {reading}
            <FieldMessage field error/>
        </div>
    }
}

/// A free-text field.
#[component]
pub fn TextField(
    /// The field this input records.
    field: Field,
    /// The text as typed.
    value: RwSignal<String>,
    /// The field's problem, in the user's language.
    #[prop(into)]
    error: Signal<Option<String>>,
) -> impl IntoView {
    labelled_input(field, value, error, None, |_| None)
}

/// A date and time on the tablet's wall clock, typed in ISO order and 24-hour
/// ("2026-03-10 14:05") in every language: the browser's own `datetime-local`
/// follows the browser's language instead (03/10/2026, 02:05 PM), which a
/// nurse can misread, and the page cannot change it.
#[component]
pub fn DateTimeField(
    /// The field this input records.
    field: Field,
    /// The text as typed ("2026-03-01 12:00"), or empty.
    value: RwSignal<String>,
    /// The field's problem, in the user's language.
    #[prop(into)]
    error: Signal<Option<String>>,
) -> impl IntoView {
    let format = (Text::DateTimeHint, clock::DATE_TIME_PLACEHOLDER);
    labelled_input(field, value, error, Some(format), clock::tidy_date_time)
}

/// A calendar date, typed in ISO order ("1970-06-15") in every language, for
/// the reason [`DateTimeField`] gives.
#[component]
pub fn DateField(
    /// The field this input records.
    field: Field,
    /// The text as typed ("1970-06-15"), or empty.
    value: RwSignal<String>,
    /// The field's problem, in the user's language.
    #[prop(into)]
    error: Signal<Option<String>>,
) -> impl IntoView {
    let format = (Text::DateHint, clock::DATE_PLACEHOLDER);
    labelled_input(field, value, error, Some(format), clock::tidy_date)
}

/// Yes / no / unknown, as three large buttons; unknown until someone answers.
#[component]
pub fn AnswerField(
    /// The field this answer records.
    field: Field,
    /// The answer.
    value: RwSignal<Answer>,
) -> impl IntoView {
    let lang = use_lang();
    let options = [
        (Answer::Yes, Text::Yes, "yes"),
        (Answer::No, Text::No, "no"),
        (Answer::Unknown, Text::Unknown, "unknown"),
    ];
    view! {
        <fieldset class="answer" data-testid=field.key()>
            <legend>{move || field_label(lang.get(), field)}</legend>
            {options
                .into_iter()
                .map(|(answer, text, suffix)| {
                    let id = format!("{}-{suffix}", field.key());
                    view! {
                        <input
                            type="radio"
                            id=id.clone()
                            name=field.key()
                            prop:checked=move || value.get() == answer
                            on:change=move |_| value.set(answer)
                        />
                        <label for=id>{move || t(lang.get(), text)}</label>
                    }
                })
                .collect_view()}
        </fieldset>
    }
}

/// One choice among a few options, as large buttons; `None` until chosen.
#[component]
pub fn ChoiceField(
    /// The field this choice records.
    field: Field,
    /// The options: the value's stable key and its label in the user's language.
    options: Vec<(&'static str, Text)>,
    /// The chosen option's key, if any.
    value: RwSignal<Option<&'static str>>,
) -> impl IntoView {
    let lang = use_lang();
    let options = options
        .into_iter()
        .map(|(key, text)| (key, Signal::derive(move || t(lang.get(), text).to_owned())))
        .collect();
    view! {
        <Radios
            name=field.key()
            legend=Signal::derive(move || field_label(lang.get(), field).to_owned())
            options
            selected=value
            on_pick=Callback::new(move |key| value.set(Some(key)))
        />
    }
}

/// Radio buttons drawn as large segmented buttons, under a legend: the body of
/// every choice on every form.
#[component]
pub fn Radios(
    /// The group's name, its test id and the prefix of each option's id
    /// (`name-key`), so a `<label for>` names each option.
    name: &'static str,
    /// What is being chosen, in the user's language.
    #[prop(into)]
    legend: Signal<String>,
    /// Each option's stable key and its label in the user's language.
    options: Vec<(&'static str, Signal<String>)>,
    /// The chosen option's key, if any.
    #[prop(into)]
    selected: Signal<Option<&'static str>>,
    /// Called with the key of the option the user picks.
    on_pick: Callback<&'static str>,
) -> impl IntoView {
    view! {
        <fieldset class="answer" data-testid=name>
            <legend>{legend}</legend>
            {options
                .into_iter()
                .map(|(key, label)| {
                    let id = format!("{name}-{key}");
                    view! {
                        <input
                            type="radio"
                            id=id.clone()
                            name=name
                            prop:checked=move || selected.get() == Some(key)
                            on:change=move |_| on_pick.run(key)
                        />
                        <label for=id>{label}</label>
                    }
                })
                .collect_view()}
        </fieldset>
    }
}
