//! The six cytokine time points (CRF.md §5) as a list: each one's window on the
//! site's clock and where it stands (recorded, due, overdue, not yet). Tapping a
//! time point opens its sample form, or, once saved, its values with "Correct".

use leptos::prelude::*;
use trial::crf::FormRef;
use trial::crf::cytokine::{SampleDue, TimePoint};
use trial::field::Field;
use trial::projection::Participant;
use trial::time::Moment;

use super::rows::{FormRow, RowState};
use super::{OpenForm, describe_entry, window_text};
use crate::i18n::{Lang, Text, samples_help, t, use_lang};
use crate::pages::home::ticking_clock;
use crate::state::use_tablet;

/// The list of time points.
#[component]
pub(super) fn Samples(participant: Signal<Participant>, open: OpenForm) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let now = ticking_clock();
    let rows = TimePoint::ALL
        .into_iter()
        .map(|time_point| {
            let form_ref = FormRef::CytokineSample { time_point };
            let hours = time_point.hours();
            let detail = Signal::derive(move || {
                participant
                    .with(|p| p.sample_window(time_point))
                    .map_or_else(
                        || t(lang.get(), Text::NoWindow).to_owned(),
                        |window| window_text(lang.get(), &window),
                    )
            });
            let state = Signal::derive(move || {
                participant.with(|p| sample_state(lang.get(), p, time_point, now.get()))
            });
            view! {
                <FormRow
                    participant
                    open
                    form_ref
                    testid=format!("sample-H{hours}")
                    title=format!("{hours} h")
                    detail
                    state
                />
            }
        })
        .collect_view();
    view! {
        <section class="card follow-up" data-testid="samples">
            <h2>{move || t(lang.get(), Text::CytokineSamples)}</h2>
            <p class="hint">
                {move || tablet.calendar.with(|calendar| samples_help(lang.get(), calendar.zone_name()))}
            </p>
            <ul class="form-list">{rows}</ul>
        </section>
    }
}

/// Where a time point stands: IL-6 as recorded once saved, else where now stands
/// against its window.
fn sample_state(
    lang: Lang,
    participant: &Participant,
    time_point: TimePoint,
    now: Moment,
) -> RowState {
    if let Some(record) = participant.form(FormRef::CytokineSample { time_point }) {
        let il6 = record
            .form()
            .value(Field::Il6PgPerMl)
            .map(|value| describe_entry(lang, Field::Il6PgPerMl, &value))
            .unwrap_or_default();
        return RowState {
            class: "recorded",
            text: format!("IL-6 {il6}"),
        };
    }
    let (class, text) = match participant
        .sample_window(time_point)
        .map(|window| window.due(now))
    {
        Some(SampleDue::Due) => ("due", t(lang, Text::SampleDueNow)),
        Some(SampleDue::Overdue) => ("overdue", t(lang, Text::SampleOverdue)),
        Some(SampleDue::NotYet) => ("not-yet", t(lang, Text::SampleNotYet)),
        None => ("", "—"),
    };
    RowState {
        class,
        text: text.to_owned(),
    }
}
