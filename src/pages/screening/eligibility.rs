//! The verdict beside the screening form, and the same verdict on a participant's
//! page: the outcome (failed criteria by their protocol codes, or how many
//! answers are missing and which), the computed age, BMI and time on ECMO as the
//! decision read them, the 24-hour window counting down, and each criterion met,
//! not met or unknown, all as the trial core decides them.

use leptos::prelude::*;
use trial::eligibility::{
    Assessment, BMI_EXCLUSION_THRESHOLD, Outcome, Status, assess, ms_left_in_window,
};
use trial::field::FieldError;
use trial::projection::Participant;
use trial::time::Moment;

use super::Verdict;
use crate::i18n::{
    Lang, Text, criterion_label, field_error, field_label, incomplete_outcome, judged_on, t,
    use_lang,
};
use crate::pages::follow_up::wall_clock;
use crate::pages::home::format_duration;
use crate::state::use_tablet;

/// The verdict beside the form: the outcome, computed values, each criterion.
///
/// Only the outcome is a live region, and it changes only when the outcome does:
/// the countdown and hours on ECMO tick every 30 s, and a screen reader would
/// otherwise read the whole panel out again each time. Where the panel is taller
/// than the screen it scrolls on its own, so it takes keyboard focus (a region
/// that scrolls must be reachable without a pointer).
#[component]
pub(super) fn EligibilityPanel(verdict: Memo<Verdict>, now: ReadSignal<Moment>) -> impl IntoView {
    let lang = use_lang();
    let outcome = Memo::new(move |_| {
        let lang = lang.get();
        verdict.with(|verdict| {
            let wrong: Vec<&FieldError> = verdict.wrong_values().collect();
            outcome_summary(lang, &wrong, verdict.assessment.as_ref())
        })
    });
    view! {
        <aside
            class="eligibility-panel"
            data-testid="eligibility"
            tabindex="0"
            aria-label=move || t(lang.get(), Text::EligibilityWhy)
        >
            <div role="status" aria-live="polite">
                {move || outcome.with(summary_view)}
            </div>
            {move || {
                let lang = lang.get();
                verdict.with(|verdict| {
                    let assessment = verdict.assessment.as_ref()?;
                    let window = verdict
                        .form
                        .ecmo_started_at
                        .map(|started| window_line(lang, started, now.get()));
                    Some(assessment_view(lang, assessment, window))
                })
            }}
        </aside>
    }
}

/// Where an unrandomised participant stands and why, on their page: the
/// outcome of their latest screening, judged at `now` (the randomise step
/// judges the same), or, once they were recorded as not enrolled, at that
/// moment: the decision that record was made on.
#[component]
pub fn ParticipantEligibility(
    participant: Signal<Participant>,
    now: ReadSignal<Moment>,
) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let judged = move || {
        let lang = lang.get();
        participant.with(|p| {
            let screening = p.screening()?;
            let screened_at = screening.value.form().screened_at;
            let at = p
                .not_enrolled()
                .map_or_else(|| now.get(), |record| record.by.recorded_at)
                .max(screened_at);
            let assessment = tablet
                .calendar
                .with(|calendar| assess(&screening.value, at, calendar))
                .ok()?;
            let number = p.screening_number().unwrap_or_default();
            let judged_on = judged_on(lang, number, &wall_clock(screened_at));
            let window = p
                .not_enrolled()
                .is_none()
                .then(|| screening.value.form().ecmo_started_at)
                .flatten()
                .map(|started| window_line(lang, started, now.get()));
            let summary = outcome_summary(lang, &[], Some(&assessment));
            Some(view! {
                <p class="judged-on" data-testid="judged-on">{judged_on}</p>
                {summary_view(&summary)}
                {assessment_view(lang, &assessment, window)}
            })
        })
    };
    view! {
        <section
            class="card eligibility-panel"
            data-testid="participant-eligibility"
            aria-labelledby="participant-eligibility-title"
        >
            <h2 id="participant-eligibility-title">{move || t(lang.get(), Text::EligibilityWhy)}</h2>
            {judged}
        </section>
    }
}

/// The outcome in words: its style class, its heading, and what it names (every
/// wrong value, every failed criterion, or every missing answer), with whether
/// the names run on as one line (a long list of missing answers) or stand one
/// per line.
#[derive(Clone, PartialEq)]
struct Summary {
    class: &'static str,
    heading: String,
    details: Vec<String>,
    inline: bool,
}

fn outcome_summary(lang: Lang, wrong: &[&FieldError], assessment: Option<&Assessment>) -> Summary {
    let problems = |details| Summary {
        class: "outcome problem",
        heading: t(lang, Text::FixErrorsFirst).to_owned(),
        details,
        inline: false,
    };
    let Some(assessment) = assessment.filter(|_| wrong.is_empty()) else {
        return problems(wrong.iter().map(|error| field_error(lang, error)).collect());
    };
    match assessment.outcome() {
        Outcome::Eligible => Summary {
            class: "outcome eligible",
            heading: t(lang, Text::OutcomeEligible).to_owned(),
            details: Vec::new(),
            inline: false,
        },
        Outcome::Ineligible { failed } => Summary {
            class: "outcome not-eligible",
            heading: t(lang, Text::OutcomeIneligible).to_owned(),
            details: failed.iter().map(|c| criterion_label(lang, *c)).collect(),
            inline: false,
        },
        Outcome::Incomplete { missing } => Summary {
            class: "outcome incomplete",
            heading: incomplete_outcome(lang, missing.len()),
            details: missing
                .iter()
                .map(|f| field_label(lang, *f).to_owned())
                .collect(),
            inline: true,
        },
    }
}

fn summary_view(summary: &Summary) -> impl IntoView + use<> {
    let details = if summary.inline {
        let joined = summary.details.join(" · ");
        view! { <p class="outcome-missing" data-testid="outcome-missing">{joined}</p> }.into_any()
    } else {
        view! {
            <ul class="outcome-details" data-testid="outcome-details">
                {summary.details.iter().map(|detail| view! { <li>{detail.clone()}</li> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <h2 class=summary.class data-testid="outcome">{summary.heading.clone()}</h2>
        {(!summary.details.is_empty()).then_some(details)}
    }
}

/// The computed values as the decision read them, the window and each
/// criterion's status.
fn assessment_view(
    lang: Lang,
    assessment: &Assessment,
    window: Option<String>,
) -> impl IntoView + use<> {
    let age = assessment.age_years().map(|age| format!("{age}"));
    // As many decimals as the E3 cut-off needs: 39.96 is not 40.0.
    let bmi = assessment
        .bmi()
        .map(|bmi| format!("{} kg/m²", bmi.shown_against(BMI_EXCLUSION_THRESHOLD)));
    // Whole minutes, rounded down: never shown at 24 h while still inside it.
    let on_ecmo = assessment.ms_on_ecmo().map(|ms| format_duration(lang, ms));
    let statuses = assessment.statuses().to_vec();
    view! {
        <dl class="computed">
            <dt>{t(lang, Text::ComputedAge)}</dt><dd data-testid="computed-age">{age.unwrap_or_else(|| "—".into())}</dd>
            <dt>"BMI"</dt><dd data-testid="computed-bmi">{bmi.unwrap_or_else(|| "—".into())}</dd>
            <dt>{t(lang, Text::OnEcmo)}</dt><dd data-testid="computed-on-ecmo">{on_ecmo.unwrap_or_else(|| "—".into())}</dd>
        </dl>
        {window.map(|text| view! { <p class="window" data-testid="window">{text}</p> })}
        <ul class="criteria">
            {statuses.into_iter().map(|(criterion, status)| {
                // An exclusion "passes" when the finding is absent: say so in
                // those words, so "consent refused: met" can never be misread.
                let (class, text) = match (status, criterion.is_exclusion()) {
                    (Status::Pass, false) => ("pass", t(lang, Text::CriterionMet)),
                    (Status::Fail, false) => ("fail", t(lang, Text::CriterionNotMet)),
                    (Status::Pass, true) => ("pass", t(lang, Text::ExclusionAbsent)),
                    (Status::Fail, true) => ("fail", t(lang, Text::ExclusionPresent)),
                    (Status::Unknown { .. }, _) => ("unknown", t(lang, Text::CriterionUnknown)),
                };
                view! {
                    <li class=class data-testid=format!("criterion-{}", criterion.code())>
                        <span class="criterion">{criterion_label(lang, criterion)}</span>
                        <span class="badge">{text}</span>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// How long is left to randomise, counting down; or that the 24-hour window has
/// closed.
pub fn window_line(lang: Lang, ecmo_started_at: Moment, now: Moment) -> String {
    let left = ms_left_in_window(ecmo_started_at, now);
    if left > 0 {
        format!(
            "{} {}",
            t(lang, Text::WindowClosesIn),
            format_duration(lang, left)
        )
    } else {
        t(lang, Text::WindowClosed).to_owned()
    }
}
