//! The lists of form instances, one row each: tapping a row opens its form, or,
//! once saved, its values with "Correct". Baseline and outcomes have one row,
//! daily assessments one per study day, sessions and adverse events one per saved
//! instance and "Add" for a new one, whose id the app makes (UUID v7).

use leptos::prelude::*;
use trial::crf::daily::StudyDay;
use trial::crf::{FormKind, FormRef};
use trial::field::Field;
use trial::projection::{Deviation, Participant};
use uuid::Uuid;

use super::editor::FormEditor;
use super::saved::SavedForm;
use super::{OpenForm, UnlessLocked, describe_entry, title};
use crate::i18n::{Lang, Text, parenthesised, t, use_lang};

/// Where a row stands, for its badge: a style class and the words.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct RowState {
    /// "recorded", "missing", "due", "overdue" or "not-yet" (style/main.css).
    pub class: &'static str,
    /// The badge's words.
    pub text: String,
}

impl RowState {
    /// Saved or not: the state of every row but a cytokine sample's.
    fn of(lang: Lang, saved: bool) -> Self {
        if saved {
            Self {
                class: "recorded",
                text: t(lang, Text::Saved).to_owned(),
            }
        } else {
            Self {
                class: "missing",
                text: t(lang, Text::NotSaved).to_owned(),
            }
        }
    }
}

/// One form instance: the row to tap, and below it, when open, its form or its
/// saved values.
#[component]
pub(super) fn FormRow(
    participant: Signal<Participant>,
    open: OpenForm,
    form_ref: FormRef,
    /// The row's test id.
    testid: String,
    /// What the row is ("6 h", "Daily assessment, day 2").
    #[prop(into)]
    title: Signal<String>,
    /// A line beside it: the window, or what was saved.
    #[prop(into)]
    detail: Signal<String>,
    /// Where it stands.
    #[prop(into)]
    state: Signal<RowState>,
) -> impl IntoView {
    let lang = use_lang();
    let is_open = move || open.is_open(form_ref);
    let saved = Memo::new(move |_| participant.with(|p| p.form(form_ref).is_some()));
    view! {
        <li class:open=is_open class:overdue=move || state.with(|state| state.class == "overdue")>
            <button
                type="button"
                class="form-row"
                data-testid=testid
                aria-expanded=move || is_open().to_string()
                on:click=move |_| open.toggle(lang.get_untracked(), form_ref)
            >
                <span class="row-title">{title}</span>
                <span class="row-detail">{detail}</span>
                <span class=move || format!("state {}", state.with(|state| state.class))>
                    {move || state.with(|state| state.text.clone())}
                </span>
                <span class="chevron" aria-hidden="true">{move || if is_open() { "▴" } else { "▾" }}</span>
            </button>
            <Show when=is_open>
                <div class="form-panel">
                    <Show
                        when=move || saved.get()
                        fallback=move || view! { <UnlessLocked participant><FormEditor participant open form_ref/></UnlessLocked> }
                    >
                        <SavedForm participant open form_ref/>
                    </Show>
                </div>
            </Show>
        </li>
    }
}

/// The row of a daily assessment: its title, the date it stands for on the
/// site's calendar, and saved or not.
#[component]
fn DayRow(participant: Signal<Participant>, open: OpenForm, study_day: StudyDay) -> impl IntoView {
    let lang = use_lang();
    let form_ref = FormRef::DailyAssessment { study_day };
    let date = Signal::derive(move || {
        participant
            .with(|p| p.study_day_date(study_day))
            .map(|date| date.to_string())
            .unwrap_or_default()
    });
    view! {
        <FormRow
            participant
            open
            form_ref
            testid=format!("daily-{}", study_day.get())
            title=Signal::derive(move || participant.with(|p| title(lang.get(), p, form_ref)))
            detail=date
            state=Signal::derive(move || RowState::of(lang.get(), participant.with(|p| p.form(form_ref).is_some())))
        />
    }
}

/// A form saved once per participant (baseline, outcomes): the section's only
/// form, shown at once under the section's heading.
#[component]
pub(super) fn SingleForm(
    participant: Signal<Participant>,
    open: OpenForm,
    form_ref: FormRef,
) -> impl IntoView {
    let lang = use_lang();
    let (heading, help) = match form_ref.kind() {
        FormKind::Outcomes => (Text::FormOutcomes, Text::OutcomesHelp),
        _ => (Text::FormBaseline, Text::BaselineHelp),
    };
    let saved = Memo::new(move |_| participant.with(|p| p.form(form_ref).is_some()));
    view! {
        <section class="card follow-up" data-testid=form_ref.kind().key()>
            <h2>{move || t(lang.get(), heading)}</h2>
            <p class="hint">{move || t(lang.get(), help)}</p>
            <div class="form-panel standalone">
                <Show
                    when=move || saved.get()
                    fallback=move || view! { <UnlessLocked participant><FormEditor participant open form_ref standalone=true/></UnlessLocked> }
                >
                    <SavedForm participant open form_ref standalone=true/>
                </Show>
            </div>
        </section>
    }
}

/// The daily assessments, one row per study day.
#[component]
pub(super) fn DailyAssessments(participant: Signal<Participant>, open: OpenForm) -> impl IntoView {
    let lang = use_lang();
    view! {
        <section class="card follow-up" data-testid="daily-assessments">
            <h2>{move || t(lang.get(), Text::SectionDaily)}</h2>
            <p class="hint">{move || t(lang.get(), Text::DailyHelp)}</p>
            <ul class="form-list">
                {StudyDay::ALL
                    .into_iter()
                    .map(|study_day| view! { <DayRow participant open study_day/> })
                    .collect_view()}
            </ul>
        </section>
    }
}

/// The hemoperfusion sessions, with the core's protocol deviations above them.
#[component]
pub(super) fn Sessions(participant: Signal<Participant>, open: OpenForm) -> impl IntoView {
    let lang = use_lang();
    let deviations = move || {
        participant.with(|p| {
            p.deviations()
                .into_iter()
                .map(|deviation| match deviation {
                    Deviation::HemoperfusionInStandardCare { session_id } => {
                        let session = FormRef::HemoperfusionSession { session_id };
                        let lang = lang.get();
                        let text = parenthesised(
                            lang,
                            t(lang, Text::DeviationHpInStandardCare),
                            &title(lang, p, session),
                        );
                        view! { <p class="deviation" role="status" data-testid="deviation">{text}</p> }
                    }
                })
                .collect_view()
        })
    };
    view! {
        <section class="card follow-up" data-testid="sessions">
            <h2>{move || t(lang.get(), Text::SectionSessions)}</h2>
            <p class="hint">{move || t(lang.get(), Text::SessionsHelp)}</p>
            {deviations}
            <ManyForms participant open kind=FormKind::HemoperfusionSession add=Text::AddSession/>
        </section>
    }
}

/// The adverse events.
#[component]
pub(super) fn AdverseEvents(participant: Signal<Participant>, open: OpenForm) -> impl IntoView {
    let lang = use_lang();
    view! {
        <section class="card follow-up" data-testid="adverse-events">
            <h2>{move || t(lang.get(), Text::SectionAdverseEvents)}</h2>
            <ManyForms participant open kind=FormKind::AdverseEvent add=Text::AddAdverseEvent/>
        </section>
    }
}

/// The saved instances of a form that may be saved any number of times, the new
/// one being typed (if open), and the button that starts a new one.
#[component]
fn ManyForms(
    participant: Signal<Participant>,
    open: OpenForm,
    kind: FormKind,
    add: Text,
) -> impl IntoView {
    let lang = use_lang();
    // Keyed rows: a refresh of the log re-renders none of them, so a form being
    // typed keeps its input.
    let instances = move || {
        let mut instances: Vec<FormRef> = participant.with(|p| {
            p.forms()
                .map(|record| record.form().form_ref())
                .filter(|form_ref| form_ref.kind() == kind)
                .collect()
        });
        if let Some(new) = open.form.get()
            && new.kind() == kind
            && !instances.contains(&new)
        {
            instances.push(new);
        }
        instances
    };
    let new_instance = move |_| {
        let id = Uuid::now_v7();
        let form_ref = match kind {
            FormKind::HemoperfusionSession => FormRef::HemoperfusionSession { session_id: id },
            _ => FormRef::AdverseEvent {
                adverse_event_id: id,
            },
        };
        open.toggle(lang.get_untracked(), form_ref);
    };
    view! {
        <ul class="form-list">
            <For each=instances key=|form_ref| *form_ref let:form_ref>
                <FormRow
                    participant
                    open
                    form_ref
                    testid=format!("{}-row", kind.key())
                    title=Signal::derive(move || participant.with(|p| title(lang.get(), p, form_ref)))
                    detail=Signal::derive(move || participant.with(|p| summary(lang.get(), p, form_ref)))
                    state=Signal::derive(move || RowState::of(lang.get(), participant.with(|p| p.form(form_ref).is_some())))
                />
            </For>
        </ul>
        <button type="button" class="secondary" data-testid=format!("add-{}", kind.key()) on:click=new_instance>
            {move || format!("+ {}", t(lang.get(), add))}
        </button>
    }
}

/// What a saved session or adverse event says in a few words, for its row: the
/// values that tell one from another.
fn summary(lang: Lang, participant: &Participant, form_ref: FormRef) -> String {
    let Some(record) = participant.form(form_ref) else {
        return String::new();
    };
    let fields: &[Field] = match form_ref.kind() {
        FormKind::HemoperfusionSession => &[Field::Cartridge, Field::SessionStartedAt],
        FormKind::AdverseEvent => &[Field::AeTerm, Field::AeOnsetAt, Field::AeSeverity],
        _ => &[],
    };
    fields
        .iter()
        .filter_map(|&field| record.form().value(field).map(|value| (field, value)))
        .filter(|(_, value)| !value.is_null())
        .map(|(field, value)| describe_entry(lang, field, &value))
        .collect::<Vec<_>>()
        .join(" · ")
}
