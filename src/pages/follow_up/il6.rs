//! The change in IL-6 from T0 at each later time point (CRF.md §5): absolute, in
//! percent, and as the change in log10(IL-6), as the projection derives them.

use leptos::prelude::*;
use trial::crf::cytokine::{Il6Change, TimePoint};
use trial::projection::Participant;

use crate::i18n::{Lang, Text, parenthesised, percent, t, use_lang};

/// The table of changes, under the samples.
#[component]
pub(super) fn Il6Changes(participant: Signal<Participant>) -> impl IntoView {
    let lang = use_lang();
    let rows = Memo::new(move |_| {
        participant.with(|p| {
            let t0 = p.il6(TimePoint::H0);
            p.il6_changes()
                .into_iter()
                .map(|(time_point, change)| (time_point, t0, p.il6(time_point), change))
                .collect::<Vec<_>>()
        })
    });
    view! {
        <section class="card follow-up" data-testid="il6-changes">
            <h2>{move || t(lang.get(), Text::Il6ChangeTitle)}</h2>
            <Show
                when=move || rows.with(|rows| !rows.is_empty())
                fallback=move || view! { <p class="hint">{move || t(lang.get(), Text::Il6ChangeEmpty)}</p> }
            >
                <div class="table-scroll">
                    <table class="il6-changes">
                        <thead>
                            <tr>
                                <th scope="col">{move || t(lang.get(), Text::TimePoint)}</th>
                                <th scope="col">{move || parenthesised(lang.get(), "IL-6", "pg/mL")}</th>
                                <th scope="col">{move || parenthesised(lang.get(), t(lang.get(), Text::ChangeAbsolute), "pg/mL")}</th>
                                <th scope="col">{move || t(lang.get(), Text::ChangePercent)}</th>
                                <th scope="col">{move || t(lang.get(), Text::ChangeLog10)}</th>
                            </tr>
                        </thead>
                        <tbody>
                            {move || {
                                let lang = lang.get();
                                rows.get().into_iter().map(|(time_point, t0, value, change)| row(lang, time_point, t0, value, change)).collect_view()
                            }}
                        </tbody>
                    </table>
                </div>
            </Show>
        </section>
    }
}

fn row(
    lang: Lang,
    time_point: TimePoint,
    t0: Option<f64>,
    value: Option<f64>,
    change: Il6Change,
) -> impl IntoView {
    let hours = time_point.hours();
    let dash = || "—".to_owned();
    let values = match (t0, value) {
        (Some(t0), Some(value)) => format!("{t0} → {value}"),
        _ => dash(),
    };
    view! {
        <tr data-testid=format!("il6-change-H{hours}")>
            <th scope="row">{format!("{hours} h")}</th>
            <td>{values}</td>
            <td>{signed(change.absolute_pg_per_ml, 1)}</td>
            <td>{change.percent.map_or_else(dash, |change| percent(lang, &signed(change, 1)))}</td>
            <td>{change.log10_change.map_or_else(dash, |log10| signed(log10, 2))}</td>
        </tr>
    }
}

/// A number with its sign, to `decimals` places, with no "-0.0".
fn signed(number: f64, decimals: usize) -> String {
    let text = format!("{number:+.decimals$}");
    if text
        .trim_start_matches(['+', '-'])
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        format!("{:.decimals$}", 0.0)
    } else {
        text
    }
}
