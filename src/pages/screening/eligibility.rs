//! The verdict beside the screening form: the outcome (the only live region), the
//! computed age, BMI and time on ECMO, the 24-hour window counting down, and each
//! criterion met, not met or unknown, all as the trial core decides them.

use leptos::prelude::*;
use trial::eligibility::{Assessment, Outcome, Status, ms_left_in_window};
use trial::screening::ScreeningForm;
use trial::time::Moment;

use super::Verdict;
use crate::i18n::{Lang, Text, criterion_label, field_error, field_label, t, use_lang};
use crate::pages::home::format_duration;

/// The verdict beside the form: the outcome, computed values, each criterion.
///
/// Only the outcome is a live region, and it changes only when the outcome does:
/// the countdown and hours on ECMO tick every 30 s, and a screen reader would
/// otherwise read the whole panel out again each time.
#[component]
pub(super) fn EligibilityPanel(verdict: Memo<Verdict>, now: ReadSignal<Moment>) -> impl IntoView {
    let lang = use_lang();
    let outcome = Memo::new(move |_| {
        let lang = lang.get();
        verdict.with(|verdict| outcome_summary(lang, verdict))
    });
    view! {
        <aside class="eligibility-panel" data-testid="eligibility">
            <div role="status" aria-live="polite">
                {move || outcome.with(|(class, text, details)| view! {
                    <h2 class=*class data-testid="outcome">{text.clone()}</h2>
                    <ul class="outcome-details">
                        {details.iter().map(|detail| view! { <li>{detail.clone()}</li> }).collect_view()}
                    </ul>
                })}
            </div>
            {move || {
                let lang = lang.get();
                verdict.with(|verdict| {
                    verdict
                        .as_ref()
                        .ok()
                        .map(|(form, assessment)| assessment_view(lang, form, assessment, now.get()))
                })
            }}
        </aside>
    }
}

/// The outcome in words, its style class, and what it names: every problem with
/// the form, every failed criterion or every missing answer.
fn outcome_summary(lang: Lang, verdict: &Verdict) -> (&'static str, String, Vec<String>) {
    let assessment = match verdict {
        Err(errors) => {
            let problems = errors
                .iter()
                .map(|error| field_error(lang, error))
                .collect();
            return (
                "outcome problem",
                t(lang, Text::FixErrorsFirst).to_owned(),
                problems,
            );
        }
        Ok((_, assessment)) => assessment,
    };
    match assessment.outcome() {
        Outcome::Eligible => (
            "outcome eligible",
            t(lang, Text::OutcomeEligible).to_owned(),
            Vec::new(),
        ),
        Outcome::Ineligible { failed } => (
            "outcome not-eligible",
            t(lang, Text::OutcomeIneligible).to_owned(),
            failed.iter().map(|c| criterion_label(lang, *c)).collect(),
        ),
        Outcome::Incomplete { missing } => (
            "outcome incomplete",
            t(lang, Text::OutcomeIncomplete).to_owned(),
            missing
                .iter()
                .map(|f| field_label(lang, *f).to_owned())
                .collect(),
        ),
    }
}

/// The computed values, the window and each criterion's status.
fn assessment_view(
    lang: Lang,
    form: &ScreeningForm,
    assessment: &Assessment,
    now: Moment,
) -> impl IntoView + use<> {
    let age = assessment.age_years().map(|age| format!("{age}"));
    let bmi = assessment
        .bmi()
        .map(|bmi| format!("{:.1} kg/m²", bmi.value()));
    let window = form
        .ecmo_started_at
        .map(|started| window_line(lang, started, now));
    let on_ecmo = assessment.ms_on_ecmo().map(|ms| format_duration(lang, ms));
    let statuses = assessment.statuses().to_vec();
    view! {
        <dl class="computed">
            <dt>{t(lang, Text::ComputedAge)}</dt><dd data-testid="computed-age">{age.unwrap_or_else(|| "—".into())}</dd>
            <dt>"BMI"</dt><dd data-testid="computed-bmi">{bmi.unwrap_or_else(|| "—".into())}</dd>
            <dt>{t(lang, Text::OnEcmo)}</dt><dd>{on_ecmo.unwrap_or_else(|| "—".into())}</dd>
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
                    <li class=class>
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
