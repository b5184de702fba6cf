//! The six cytokine time points (CRF.md §5) as a list: each one's window on the
//! tablet's clock and where it stands (recorded, due, overdue, not yet). Tapping a
//! time point opens its sample form, or, once saved, its values with "Correct".
//! One time point is open at a time, so every input id on the page is unique.

use leptos::prelude::*;
use leptos::task::spawn_local;
use trial::crf::cytokine::{CytokineSampleForm, SampleDue, TimePoint};
use trial::crf::{Form, FormRef};
use trial::field::{Field, FieldError};
use trial::payload::{FormSaved, Payload};
use trial::projection::Participant;
use trial::time::Moment;

use super::entry::{EntryField, EntryInput};
use super::saved::SavedSample;
use super::{describe_entry, form_context, window_text};
use crate::actions;
use crate::clock;
use crate::i18n::{Lang, Text, t, use_lang};
use crate::pages::home::ticking_clock;
use crate::state::{use_session, use_tablet};

/// The list of time points.
#[component]
pub(super) fn Samples(participant: Signal<Participant>) -> impl IntoView {
    let lang = use_lang();
    let now = ticking_clock();
    let open = RwSignal::new(None::<TimePoint>);
    view! {
        <section class="card follow-up" data-testid="samples">
            <h2>{move || t(lang.get(), Text::CytokineSamples)}</h2>
            <p class="hint">{move || t(lang.get(), Text::SamplesHelp)}</p>
            <ul class="sample-list">
                {TimePoint::ALL
                    .into_iter()
                    .map(|time_point| view! { <SampleRow participant now open time_point/> })
                    .collect_view()}
            </ul>
        </section>
    }
}

/// Where a time point stands, for its row.
#[derive(Clone, PartialEq)]
enum SampleState {
    /// Saved: IL-6 as recorded (a value or "not done").
    Recorded(String),
    /// Not saved; where now stands against the window.
    Pending(SampleDue),
    /// Not saved, and no window (T0 unknown or beyond 2200).
    NoWindow,
}

fn sample_state(
    lang: Lang,
    participant: &Participant,
    time_point: TimePoint,
    now: Moment,
) -> SampleState {
    if let Some(record) = participant.form(FormRef::CytokineSample { time_point }) {
        let il6 = record
            .form()
            .value(Field::Il6PgPerMl)
            .map(|value| describe_entry(lang, Field::Il6PgPerMl, &value))
            .unwrap_or_default();
        return SampleState::Recorded(format!("IL-6 {il6}"));
    }
    match window_of(participant, time_point) {
        Some(window) => SampleState::Pending(window.due(now)),
        None => SampleState::NoWindow,
    }
}

fn window_of(
    participant: &Participant,
    time_point: TimePoint,
) -> Option<trial::crf::cytokine::SampleWindow> {
    let t0 = participant.randomisation()?.value.randomised_at;
    time_point.window(t0).ok()
}

/// One time point: the row to tap, and below it, when open, its form or values.
#[component]
fn SampleRow(
    participant: Signal<Participant>,
    now: ReadSignal<Moment>,
    open: RwSignal<Option<TimePoint>>,
    time_point: TimePoint,
) -> impl IntoView {
    let lang = use_lang();
    let hours = time_point.hours();
    let is_open = move || open.get() == Some(time_point);
    let state = Memo::new(move |_| {
        participant.with(|p| sample_state(lang.get(), p, time_point, now.get()))
    });
    let saved = Memo::new(move |_| {
        participant.with(|p| p.form(FormRef::CytokineSample { time_point }).is_some())
    });
    let window = move || {
        participant.with(|p| window_of(p, time_point)).map_or_else(
            || t(lang.get(), Text::NoWindow).to_owned(),
            |w| window_text(&w),
        )
    };
    let state_view = move || {
        let lang = lang.get();
        let (class, text) = match state.get() {
            SampleState::Recorded(text) => ("state recorded", text),
            SampleState::Pending(SampleDue::Due) => {
                ("state due", t(lang, Text::SampleDueNow).to_owned())
            }
            SampleState::Pending(SampleDue::Overdue) => {
                ("state overdue", t(lang, Text::SampleOverdue).to_owned())
            }
            SampleState::Pending(SampleDue::NotYet) => {
                ("state not-yet", t(lang, Text::SampleNotYet).to_owned())
            }
            SampleState::NoWindow => ("state", "—".to_owned()),
        };
        view! { <span class=class>{text}</span> }
    };
    let overdue = move || state.get() == SampleState::Pending(SampleDue::Overdue);
    let close = Callback::new(move |()| open.set(None));
    view! {
        <li class:open=is_open class:overdue=overdue>
            <button
                type="button"
                class="sample-row"
                data-testid=format!("sample-H{hours}")
                aria-expanded=move || is_open().to_string()
                on:click=move |_| open.set(if is_open() { None } else { Some(time_point) })
            >
                <span class="hours">{format!("{hours} h")}</span>
                <span class="sample-window">{window}</span>
                {state_view}
                <span class="chevron" aria-hidden="true">{move || if is_open() { "▴" } else { "▾" }}</span>
            </button>
            <Show when=is_open>
                <div class="sample-panel">
                    <Show
                        when=move || saved.get()
                        fallback=move || view! { <SampleForm participant time_point close/> }
                    >
                        <SavedSample participant time_point close/>
                    </Show>
                </div>
            </Show>
        </li>
    }
}

/// The sample form's inputs, as typed.
#[derive(Clone, Copy)]
struct SampleInputs {
    sampled_at: EntryInput,
    il6: EntryInput,
    il8: EntryInput,
    il10: EntryInput,
    tnf_alpha: EntryInput,
}

/// The form ready to save with its confirmed fields, or every problem found.
type Verdict = Result<(CytokineSampleForm, Vec<Field>), Vec<FieldError>>;

impl SampleInputs {
    /// Blank inputs, the sample taken now.
    fn new() -> Self {
        let blank = |field| EntryInput::new(field, String::new());
        Self {
            sampled_at: EntryInput::new(Field::SampledAt, clock::to_local_input(clock::now())),
            il6: blank(Field::Il6PgPerMl),
            il8: blank(Field::Il8PgPerMl),
            il10: blank(Field::Il10PgPerMl),
            tnf_alpha: blank(Field::TnfAlphaPgPerMl),
        }
    }

    fn all(self) -> [EntryInput; 5] {
        [
            self.sampled_at,
            self.il6,
            self.il8,
            self.il10,
            self.tnf_alpha,
        ]
    }

    /// Builds the form and asks the trial core whether it may be saved. Text that
    /// is not even a number is named first, so its message is the one shown.
    fn judge(self, time_point: TimePoint, participant: &Participant) -> Verdict {
        let mut errors = Vec::new();
        let mut number = |input: EntryInput| {
            input.number().unwrap_or_else(|error| {
                errors.push(error);
                None
            })
        };
        let form = CytokineSampleForm {
            time_point,
            sampled_at: self.sampled_at.moment(),
            il6_pg_per_ml: number(self.il6),
            il8_pg_per_ml: number(self.il8),
            il10_pg_per_ml: number(self.il10),
            tnf_alpha_pg_per_ml: number(self.tnf_alpha),
        };
        let confirmed: Vec<Field> = self
            .all()
            .into_iter()
            .filter(|input| input.confirmed.get())
            .map(|input| input.field)
            .collect();
        if let Err(form_errors) =
            Form::CytokineSample(form.clone()).validate(&confirmed, form_context(participant))
        {
            errors.extend(form_errors);
        }
        if errors.is_empty() {
            Ok((form, confirmed))
        } else {
            Err(errors)
        }
    }
}

/// A time point's sample form. Problems show beside their fields from the first
/// tap on "Save" on, and follow the typing from then on; a refused save writes
/// nothing and keeps every input as typed.
#[component]
fn SampleForm(
    participant: Signal<Participant>,
    time_point: TimePoint,
    close: Callback<()>,
) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    let inputs = SampleInputs::new();
    let attempted = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    let verdict = Memo::new(move |_| participant.with(|p| inputs.judge(time_point, p)));
    let error_of = move |field: Field| {
        Signal::derive(move || {
            if !attempted.get() {
                return None;
            }
            verdict.with(|verdict| {
                verdict
                    .as_ref()
                    .err()
                    .and_then(|errors| errors.iter().find(|error| error.field() == field).cloned())
            })
        })
    };
    let save = move |_| {
        let lang = lang.get_untracked();
        attempted.set(true);
        let (form, confirmed) = match verdict.get_untracked() {
            Ok(ready) => ready,
            Err(errors) => {
                let only_warnings = errors.iter().all(FieldError::needs_confirmation);
                let text = if only_warnings {
                    Text::ConfirmMarkedValues
                } else {
                    Text::CheckMarkedFields
                };
                problem.set(Some(t(lang, text).to_owned()));
                return;
            }
        };
        let form_ref = FormRef::CytokineSample { time_point };
        if participant.with_untracked(|p| p.form(form_ref).is_some()) {
            problem.set(Some(t(lang, Text::SampleSavedMeanwhile).to_owned()));
            return;
        }
        let (Some(user), participant_id) = (
            session.user.get_untracked(),
            participant.with_untracked(Participant::id),
        ) else {
            return;
        };
        problem.set(None);
        busy.set(true);
        spawn_local(async move {
            let payload = Payload::FormSaved(FormSaved {
                form: Form::CytokineSample(form),
                confirmed,
            });
            let result = actions::record(participant_id, user.id, &payload).await;
            busy.set(false);
            match result {
                Ok(()) => tablet.refresh(),
                Err(error) => problem.set(Some(format!("{} {error}", t(lang, Text::SaveFailed)))),
            }
        });
    };
    let title = move || {
        format!(
            "{} {} h",
            t(lang.get(), Text::FormCytokineSample),
            time_point.hours()
        )
    };
    view! {
        <form class="sample-form" on:submit=|event| event.prevent_default() data-testid="sample-form">
            <h3>{title}</h3>
            <div class="entry-grid">
                <EntryField input=inputs.sampled_at error=error_of(Field::SampledAt)/>
                <EntryField input=inputs.il6 error=error_of(Field::Il6PgPerMl)/>
                <EntryField input=inputs.il8 optional=true error=error_of(Field::Il8PgPerMl)/>
                <EntryField input=inputs.il10 optional=true error=error_of(Field::Il10PgPerMl)/>
                <EntryField input=inputs.tnf_alpha optional=true error=error_of(Field::TnfAlphaPgPerMl)/>
            </div>
            <p class="field-error" role="alert" data-testid="sample-problem">{move || problem.get()}</p>
            <div class="actions">
                <button type="button" on:click=save prop:disabled=move || busy.get() data-testid="save-sample">
                    {move || t(lang.get(), Text::SaveSample)}
                </button>
                <button type="button" class="secondary" on:click=move |_| close.run(())>
                    {move || t(lang.get(), Text::Close)}
                </button>
            </div>
        </form>
    }
}
