//! Follow-up of a randomised participant: the case report forms of CRF.md §4–§10
//! (baseline, cytokine samples with their windows, hemoperfusion sessions, daily
//! assessments, adverse events, outcomes, end of participation), corrections of
//! saved values with a reason, the change in IL-6 from T0, and the participant's
//! timeline (who recorded what, when, where).
//!
//! The page shows one section at a time behind a row of tiles that say what is
//! saved and what is missing, and one form at a time, so it stays short on a
//! tablet and every input id is unique. Leaving a form with unsaved input (opening
//! another, switching section) asks first.
//!
//! Everything shown is the trial core's answer: the projection gives the saved
//! forms, their history, the deviations and the IL-6 changes; `Field::input` names
//! each field's input; `Form::validate` and `Payload::validate` judge what is typed
//! before anything is written.

mod editor;
mod end;
mod entry;
mod il6;
mod rows;
mod samples;
mod saved;
mod timeline;

pub use timeline::Timeline;

use leptos::prelude::*;
use serde_json::Value;
use trial::casebook::Casebook;
use trial::crf::cytokine::{SampleWindow, TimePoint};
use trial::crf::daily::StudyDay;
use trial::crf::vasoactive::HourlyRate;
use trial::crf::{Entry, Form, FormKind, FormRef};
use trial::field::{Field, Input};
use trial::projection::{Participant, Provenance, Subject};
use trial::time::Moment;
use uuid::Uuid;

use crate::components::dirty::{DirtyForms, provide_dirty};
use crate::i18n::{
    Lang, Text, form_label, labelled, not_done_label, numbered_form, options, range, t, unit_label,
    use_lang,
};
use crate::state::Tablet as TabletState;
use crate::{actions, clock};

/// Everything after randomisation, shown on the participant page below the status.
#[component]
pub fn FollowUp(
    /// The participant, randomised.
    participant: Signal<Participant>,
) -> impl IntoView {
    let lang = use_lang();
    let open = OpenForm {
        form: RwSignal::new(None),
        dirty: provide_dirty(),
    };
    let section = RwSignal::new(Section::Samples);
    let choose = move |next: Section| {
        if section.get_untracked() != next && open.may_leave(lang.get_untracked()) {
            open.form.set(None);
            section.set(next);
        }
    };
    let tiles = Section::ALL
        .into_iter()
        .map(|tile| {
            let summary = move || participant.with(|p| tile.summary(lang.get(), p));
            view! {
                <button
                    type="button"
                    class="section-tile"
                    class:current=move || section.get() == tile
                    class:flagged=move || participant.with(|p| tile.flagged(p))
                    aria-pressed=move || (section.get() == tile).to_string()
                    data-testid=format!("section-{}", tile.key())
                    on:click=move |_| choose(tile)
                >
                    <span class="section-name">{move || t(lang.get(), tile.title())}</span>
                    <span class="section-summary">{summary}</span>
                </button>
            }
        })
        .collect_view();
    view! {
        <CasebookNotice participant/>
        <nav class="section-tiles" aria-label=move || t(lang.get(), Text::CaseReportForms)>{tiles}</nav>
        {move || match section.get() {
            Section::Baseline => view! { <rows::SingleForm participant open form_ref=FormRef::Baseline/> }.into_any(),
            Section::Samples => view! {
                <samples::Samples participant open/>
                <il6::Il6Changes participant/>
            }
            .into_any(),
            Section::Sessions => view! { <rows::Sessions participant open/> }.into_any(),
            Section::Daily => view! { <rows::DailyAssessments participant open/> }.into_any(),
            Section::AdverseEvents => view! { <rows::AdverseEvents participant open/> }.into_any(),
            Section::Outcomes => view! { <rows::SingleForm participant open form_ref=FormRef::Outcomes/> }.into_any(),
            Section::End => view! { <end::EndOfParticipation participant/> }.into_any(),
            Section::Timeline => view! { <timeline::Timeline participant/> }.into_any(),
        }}
    }
}

/// Says, above the forms, that the investigator's signature locks the casebook,
/// and that it needs signing again when a record reached it since.
#[component]
fn CasebookNotice(participant: Signal<Participant>) -> impl IntoView {
    let lang = use_lang();
    move || {
        let lang = lang.get();
        let (testid, changed) = participant.with(|p| match p.casebook() {
            Casebook::Open => None,
            Casebook::Signed(_) => Some(("casebook-signed", None)),
            Casebook::ChangedAfterSigning(_) => Some((
                "casebook-changed",
                Some(t(lang, Text::CasebookChangedAfterSigning)),
            )),
        })?;
        Some(view! {
            <p class="locked" role="status" data-testid=testid>
                {t(lang, Text::CasebookLocked)} {changed.map(|text| format!(" {text}"))}
            </p>
        })
    }
}

/// Its children while the casebook may be edited, and in their place while a
/// signature locks it the words that say so (`Participant::check_editable`):
/// no one types into a form that cannot be saved.
#[component]
pub(super) fn UnlessLocked(
    participant: Signal<Participant>,
    children: ChildrenFn,
) -> impl IntoView {
    let lang = use_lang();
    let editable = move || participant.with(|p| p.check_editable().is_ok());
    view! {
        <Show
            when=editable
            fallback=move || view! { <p class="locked" data-testid="form-locked">{move || t(lang.get(), Text::CasebookLocked)}</p> }
        >
            {children()}
        </Show>
    }
}

/// The parts of follow-up, one shown at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Baseline,
    Samples,
    Sessions,
    Daily,
    AdverseEvents,
    Outcomes,
    End,
    Timeline,
}

impl Section {
    /// In CRF.md order, the timeline last.
    const ALL: [Section; 8] = [
        Self::Baseline,
        Self::Samples,
        Self::Sessions,
        Self::Daily,
        Self::AdverseEvents,
        Self::Outcomes,
        Self::End,
        Self::Timeline,
    ];

    /// The section's test id.
    fn key(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Samples => "samples",
            Self::Sessions => "sessions",
            Self::Daily => "daily",
            Self::AdverseEvents => "adverse-events",
            Self::Outcomes => "outcomes",
            Self::End => "end",
            Self::Timeline => "timeline",
        }
    }

    fn title(self) -> Text {
        match self {
            Self::Baseline => Text::FormBaseline,
            Self::Samples => Text::CytokineSamples,
            Self::Sessions => Text::SectionSessions,
            Self::Daily => Text::SectionDaily,
            Self::AdverseEvents => Text::SectionAdverseEvents,
            Self::Outcomes => Text::FormOutcomes,
            Self::End => Text::SectionEnd,
            Self::Timeline => Text::Timeline,
        }
    }

    /// What is saved and what is missing, in a few words.
    fn summary(self, lang: Lang, participant: &Participant) -> String {
        let saved_of = |kind: FormKind| {
            participant
                .forms()
                .filter(|record| record.form().kind() == kind)
                .count()
        };
        let once = |form_ref| {
            let saved = participant.form(form_ref).is_some();
            t(lang, if saved { Text::Saved } else { Text::NotSaved }).to_owned()
        };
        let counted = |kind, of: Option<usize>| {
            let saved = saved_of(kind);
            let count = match of {
                Some(of) => format!("{saved}/{of}"),
                None => saved.to_string(),
            };
            labelled(lang, t(lang, Text::Saved), &count)
        };
        match self {
            Self::Baseline => once(FormRef::Baseline),
            Self::Samples => counted(FormKind::CytokineSample, Some(TimePoint::ALL.len())),
            Self::Sessions => counted(FormKind::HemoperfusionSession, None),
            Self::Daily => counted(FormKind::DailyAssessment, Some(StudyDay::ALL.len())),
            Self::AdverseEvents => counted(FormKind::AdverseEvent, None),
            Self::Outcomes => once(FormRef::Outcomes),
            Self::End => t(lang, end::state_text(participant)).to_owned(),
            Self::Timeline => String::new(),
        }
    }

    /// Whether the section holds something the core flags: a protocol deviation,
    /// or an open data query on one of its forms.
    fn flagged(self, participant: &Participant) -> bool {
        (self == Self::Sessions && !participant.deviations().is_empty())
            || participant
                .open_conflicts()
                .any(|conflict| {
                    matches!(conflict.subject, Subject::Form(form) if Self::of(form.kind()) == self)
                })
    }

    /// The section that shows forms of `kind`.
    fn of(kind: FormKind) -> Self {
        match kind {
            FormKind::Baseline => Self::Baseline,
            FormKind::CytokineSample => Self::Samples,
            FormKind::HemoperfusionSession => Self::Sessions,
            FormKind::DailyAssessment => Self::Daily,
            FormKind::AdverseEvent => Self::AdverseEvents,
            FormKind::Outcomes => Self::Outcomes,
        }
    }
}

/// Which form is open: one at a time across the page, changed only once the user
/// agrees to lose any unsaved input of the follow-up forms.
#[derive(Clone, Copy)]
struct OpenForm {
    form: RwSignal<Option<FormRef>>,
    /// The follow-up's forms (the open one and any correction in it).
    dirty: DirtyForms,
}

impl OpenForm {
    fn is_open(self, form_ref: FormRef) -> bool {
        self.form.get() == Some(form_ref)
    }

    /// Opens `form_ref`, or closes it when it is open.
    fn toggle(self, lang: Lang, form_ref: FormRef) {
        if self.may_leave(lang) {
            let open = self.form.get_untracked() == Some(form_ref);
            self.form.set((!open).then_some(form_ref));
        }
    }

    fn close(self, lang: Lang) {
        if self.may_leave(lang) {
            self.form.set(None);
        }
    }

    /// Whether the open input may go: nothing unsaved, or the user says so.
    fn may_leave(self, lang: Lang) -> bool {
        self.dirty.may_discard(lang)
    }
}

/// The vasoactive-inotropic score the core computes from the doses of a baseline
/// or daily assessment; nothing for other forms.
#[component]
fn VisLine(
    /// The form as typed or saved, if it could be built.
    #[prop(into)]
    form: Signal<Option<Form>>,
) -> impl IntoView {
    let lang = use_lang();
    move || {
        let score = form.with(|form| match form.as_ref()? {
            Form::Baseline(baseline) => Some(baseline.vasoactive.score()),
            Form::DailyAssessment(daily) => Some(daily.vasoactive.score()),
            _ => None,
        })?;
        let lang = lang.get();
        let value = score.map_or_else(
            || t(lang, Text::VisNeedsDoses).to_owned(),
            |score| ((score * 100.0).round() / 100.0).to_string(),
        );
        let text = labelled(lang, t(lang, Text::Vis), &value);
        Some(view! { <p class="computed-score" data-testid="vis">{text}</p> })
    }
}

/// A form instance's title: "Baseline (T0)", "Cytokine sample 6 h", "Adverse event
/// 2" (numbered in the order the events were first saved).
fn title(lang: Lang, participant: &Participant, form_ref: FormRef) -> String {
    match form_ref {
        FormRef::HemoperfusionSession { session_id: id }
        | FormRef::AdverseEvent {
            adverse_event_id: id,
        } => numbered_form(lang, form_ref, ordinal(participant, form_ref.kind(), id)),
        _ => form_label(lang, form_ref),
    }
}

/// The place of the session or adverse event `id` among those of its kind, from 1;
/// one more than the saved ones for a new one. Ids are UUID v7, so they sort in the
/// order they were made.
fn ordinal(participant: &Participant, kind: FormKind, id: Uuid) -> usize {
    1 + participant
        .forms()
        .filter(|record| record.form().kind() == kind)
        .filter(|record| match record.form().form_ref() {
            FormRef::HemoperfusionSession { session_id: other }
            | FormRef::AdverseEvent {
                adverse_event_id: other,
            } => other < id,
            _ => false,
        })
        .count()
}

/// `moment` on the site's wall clock: "2026-03-01 12:00".
pub(crate) fn wall_clock(moment: Moment) -> String {
    clock::to_local_input(moment)
}

/// A sample window on the site's wall clock, the date written once when both
/// ends fall on the same day: "03-01 11:00–13:00" / "03-01 11:00～13:00".
fn window_text(lang: Lang, window: &SampleWindow) -> String {
    let earliest = wall_clock(window.earliest());
    let latest = wall_clock(window.latest());
    let split = |text: &str| -> (String, String) {
        let (date, time) = text.split_once(' ').unwrap_or((text, ""));
        // "2026-03-01" → "03-01": the year never changes within 72 hours that matter.
        (date.get(5..).unwrap_or(date).to_owned(), time.to_owned())
    };
    let ((earliest_date, earliest_time), (latest_date, latest_time)) =
        (split(&earliest), split(&latest));
    if earliest_date == latest_date {
        format!(
            "{earliest_date} {}",
            range(lang, &earliest_time, &latest_time)
        )
    } else {
        range(
            lang,
            &format!("{earliest_date} {earliest_time}"),
            &format!("{latest_date} {latest_time}"),
        )
    }
}

/// One field's entry, as its JSON is kept in forms and history, in words: a
/// date-time on the wall clock, a number with its unit, an answer, "not done: why",
/// or "—" when blank.
pub(crate) fn describe_entry(lang: Lang, field: Field, value: &Value) -> String {
    match serde_json::from_value::<Entry<Value>>(value.clone()) {
        _ if value.is_null() => "—".into(),
        Ok(Entry::Value(value)) => describe_value(lang, field, &value),
        Ok(Entry::NotDone { reason }) => not_done_label(lang, &reason),
        Err(_) => value.to_string(),
    }
}

/// A value (the inside of an entry) in words, as its field's input kind reads it.
fn describe_value(lang: Lang, field: Field, value: &Value) -> String {
    match (field.input(), value) {
        (_, Value::Null) => "—".into(),
        (Input::DateTime, _) => serde_json::from_value::<Moment>(value.clone())
            .map_or_else(|_| value.to_string(), wall_clock),
        (Input::Decimal | Input::Integer, Value::Number(number)) => {
            let unit = field
                .limits()
                .map_or("", |limits| unit_label(lang, limits.unit));
            let number = number.as_f64().unwrap_or_default();
            format!("{number} {unit}").trim_end().to_owned()
        }
        (Input::YesNo, Value::Bool(yes)) => {
            let key = if *yes { options::YES } else { options::NO };
            options::label(lang, field, key)
        }
        (Input::Choice(_) | Input::Answer, Value::String(key)) => options::label(lang, field, key),
        (_, Value::String(text)) => text.clone(),
        _ => value.to_string(),
    }
}

/// How a dose prescribed per hour converts for this participant: with the weight
/// recorded at their screening, when there is one.
fn hourly_rate(participant: &Participant) -> Option<HourlyRate> {
    let screening = participant.screening()?;
    HourlyRate::for_weight(screening.value.form().weight_kg?)
}

/// The name of `id`: a user of this tablet, or a console account whose
/// correction the last sync named; else the end of the id.
pub(crate) fn user_name(tablet: TabletState, id: Uuid) -> String {
    tablet
        .users
        .with(|users| {
            let user = users.iter().find(|user| user.id == id)?;
            Some(user.name.clone())
        })
        .or_else(|| {
            tablet.enrolment.with(|enrolment| {
                let author = enrolment
                    .as_ref()?
                    .authors
                    .iter()
                    .find(|author| author.id == id)?;
                Some(author.name.clone())
            })
        })
        .unwrap_or_else(|| actions::short_id(id, 8))
}

/// Who recorded something and when, on the site's clock: "Li Na · 2026-03-01
/// 12:00".
pub(crate) fn recorded_by(tablet: TabletState, by: &Provenance) -> String {
    format!(
        "{} · {}",
        user_name(tablet, by.user_id),
        wall_clock(by.recorded_at)
    )
}

/// A device's name at the site, as the home screen and the exports give it:
/// this tablet's label and every other the last sync named ("T2"); the end of
/// its id, as training study numbers write it, for one it has no name for.
fn device_label(tablet: TabletState, device_id: Uuid) -> String {
    let own = tablet.device.get() == Some(device_id);
    tablet
        .enrolment
        .with(|enrolment| {
            let enrolment = enrolment.as_ref()?;
            if own {
                return Some(enrolment.device_label.clone());
            }
            enrolment
                .tablets
                .iter()
                .find(|known| known.id == device_id)
                .map(|known| known.label.clone())
        })
        .unwrap_or_else(|| actions::short_id(device_id, 4))
}
