//! Eligibility exactly as PROTOCOL.md words it: five inclusion criteria that must
//! all hold and five exclusion criteria of which any one excludes.
//!
//! Every answer may still be unknown, so each criterion is evaluated in three-valued
//! logic: an any-of holds as soon as one part holds, an all-of fails as soon as one
//! part fails, and only the answers that could still change a result are named as
//! missing. The outcome is [`Outcome::Ineligible`] as soon as any criterion fails
//! (naming every failed one), else [`Outcome::Incomplete`] while anything is unknown
//! (naming every missing answer), and [`Outcome::Eligible`] only when every criterion
//! is known to pass. The ECMO window is measured to the moment of evaluation, so the
//! randomise step re-runs this at the tap.

use std::fmt;

use crate::field::{Field, FieldError, TimeLimit};
use crate::screening::{Answer, Bmi, EcmoMode, Screening, ScreeningForm};
use crate::time::{Calendar, MS_PER_HOUR, Moment};

/// The youngest age included, in completed years.
pub const MIN_AGE_YEARS: u32 = 18;
/// The oldest age included, in completed years (75 years and 364 days is 75).
pub const MAX_AGE_YEARS: u32 = 75;
/// BMI at or above this (kg/m²) excludes.
pub const BMI_EXCLUSION_THRESHOLD: u32 = 40;
/// Serum lactate above this (mmol/L) counts as impaired organ perfusion.
pub const LACTATE_INCREASED_ABOVE: f64 = 2.0;
/// ECMO must have been running for less than this when the patient is randomised:
/// at exactly 24 h 0 min it is too late.
pub const ECMO_WINDOW_MS: i64 = 24 * MS_PER_HOUR;

/// How long is left at `now` to randomise a patient whose ECMO started at
/// `ecmo_started_at`, in milliseconds; zero or less once the window has closed.
pub fn ms_left_in_window(ecmo_started_at: Moment, now: Moment) -> i64 {
    ECMO_WINDOW_MS - now.ms_since(ecmo_started_at)
}

/// One criterion of the protocol, numbered as PROTOCOL.md numbers it. Inclusion 3
/// (cardiogenic shock) is split into its three parts so a failure names the part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Criterion {
    /// Inclusion 1: age 18 to 75 years on the screening date.
    Age,
    /// Inclusion 2: admitted to the ICU.
    IcuAdmission,
    /// Inclusion 3.1: SBP < 90 mmHg for 30 min, or MAP < 65 mmHg for 30 min, or
    /// vasopressors needed to keep SBP ≥ 90 mmHg.
    ShockHypotension,
    /// Inclusion 3.2: pulmonary congestion or elevated LV filling pressures.
    ShockCongestion,
    /// Inclusion 3.3: impaired organ perfusion, at least one sign.
    ShockHypoperfusion,
    /// Inclusion 4: ECMO supplies cardiopulmonary support.
    EcmoCardiopulmonarySupport,
    /// Inclusion 5: ECMO running for less than 24 hours.
    EcmoWithin24Hours,
    /// Exclusion 1: refusal of consent.
    ConsentRefused,
    /// Exclusion 2: active haemorrhage or thrombocytopenic purpura.
    BleedingDisorder,
    /// Exclusion 3: BMI ≥ 40 kg/m².
    SevereObesity,
    /// Exclusion 4: ECMO as a bridge to a long-term VAD or heart transplantation.
    BridgeToVadOrTransplant,
    /// Exclusion 5: infection.
    Infection,
}

impl Criterion {
    /// Every criterion, in protocol order: inclusions, then exclusions.
    pub const ALL: [Criterion; 12] = [
        Self::Age,
        Self::IcuAdmission,
        Self::ShockHypotension,
        Self::ShockCongestion,
        Self::ShockHypoperfusion,
        Self::EcmoCardiopulmonarySupport,
        Self::EcmoWithin24Hours,
        Self::ConsentRefused,
        Self::BleedingDisorder,
        Self::SevereObesity,
        Self::BridgeToVadOrTransplant,
        Self::Infection,
    ];

    /// The protocol's number for this criterion ("I3.2", "E4"), for CONSORT reports
    /// and the screen.
    pub fn code(self) -> &'static str {
        match self {
            Self::Age => "I1",
            Self::IcuAdmission => "I2",
            Self::ShockHypotension => "I3.1",
            Self::ShockCongestion => "I3.2",
            Self::ShockHypoperfusion => "I3.3",
            Self::EcmoCardiopulmonarySupport => "I4",
            Self::EcmoWithin24Hours => "I5",
            Self::ConsentRefused => "E1",
            Self::BleedingDisorder => "E2",
            Self::SevereObesity => "E3",
            Self::BridgeToVadOrTransplant => "E4",
            Self::Infection => "E5",
        }
    }

    /// Whether the criterion excludes when present (rather than being required).
    pub fn is_exclusion(self) -> bool {
        self >= Self::ConsentRefused
    }

    /// The English wording, for logs and server answers; the app translates.
    pub fn label(self) -> &'static str {
        match self {
            Self::Age => "age 18–75 years",
            Self::IcuAdmission => "admitted to the ICU",
            Self::ShockHypotension => "hypotension or vasopressors",
            Self::ShockCongestion => "pulmonary congestion or elevated LV filling pressure",
            Self::ShockHypoperfusion => "impaired organ perfusion",
            Self::EcmoCardiopulmonarySupport => "ECMO supplies cardiopulmonary support",
            Self::EcmoWithin24Hours => "ECMO running for less than 24 hours",
            Self::ConsentRefused => "consent refused",
            Self::BleedingDisorder => "active haemorrhage or thrombocytopenic purpura",
            Self::SevereObesity => "BMI ≥ 40 kg/m²",
            Self::BridgeToVadOrTransplant => "ECMO as bridge to long-term VAD or transplant",
            Self::Infection => "infection",
        }
    }
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.label())
    }
}

/// Where one criterion stands for this patient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The patient satisfies it: an inclusion holds, or an exclusion is absent.
    Pass,
    /// The patient fails it: an inclusion does not hold, or an exclusion is present.
    Fail,
    /// Not decidable yet; these answers could still decide it.
    Unknown {
        /// The answers whose absence leaves the criterion open.
        missing: Vec<Field>,
    },
}

/// The screening outcome. It is derived, never typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every criterion is known and passes.
    Eligible,
    /// At least one criterion fails; all failing ones, in protocol order.
    Ineligible {
        /// Every failed criterion.
        failed: Vec<Criterion>,
    },
    /// Nothing fails yet, but some answers are missing; all of them, in form order.
    Incomplete {
        /// Every answer that is still needed.
        missing: Vec<Field>,
    },
}

/// The full answer for one screening at one moment: each criterion's status, the
/// computed values the screen shows, and the outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    evaluated_at: Moment,
    statuses: Vec<(Criterion, Status)>,
    age_years: Option<u32>,
    bmi: Option<Bmi>,
    ms_on_ecmo: Option<i64>,
    outcome: Outcome,
}

impl Assessment {
    /// The moment the ECMO window was measured to.
    pub fn evaluated_at(&self) -> Moment {
        self.evaluated_at
    }

    /// Each criterion and its status, in protocol order.
    pub fn statuses(&self) -> &[(Criterion, Status)] {
        &self.statuses
    }

    /// The status of one criterion.
    pub fn status(&self, criterion: Criterion) -> &Status {
        &self.statuses[criterion as usize].1
    }

    /// Age in completed years on the screening date.
    pub fn age_years(&self) -> Option<u32> {
        self.age_years
    }

    /// BMI from weight and height.
    pub fn bmi(&self) -> Option<Bmi> {
        self.bmi
    }

    /// How long ECMO had been running at the moment of evaluation, in milliseconds.
    pub fn ms_on_ecmo(&self) -> Option<i64> {
        self.ms_on_ecmo
    }

    /// The derived outcome.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// Whether the patient may be randomised at the moment of evaluation.
    pub fn is_eligible(&self) -> bool {
        self.outcome == Outcome::Eligible
    }
}

/// Assesses `screening` at the moment `at` (the screening itself, or the randomise
/// tap), reading dates (the age on the screening date) in the site's `calendar`.
/// Times that cannot be right are errors, not ineligibility: ECMO starting after
/// `at`, or `at` before the screening.
pub fn assess(
    screening: &Screening,
    at: Moment,
    calendar: &Calendar,
) -> Result<Assessment, FieldError> {
    let form = screening.form();
    if let Some(error) = times_after_evaluation(form, at).into_iter().next() {
        return Err(error);
    }
    let ms_on_ecmo = form.ecmo_started_at.map(|started| at.ms_since(started));
    let answer = |field, answer| Truth::from_answer(field, answer);

    let age_years = screening.age_years(calendar);
    let age = match age_years {
        None => Truth::missing(Field::DateOfBirth),
        Some(age) => Truth::from((MIN_AGE_YEARS..=MAX_AGE_YEARS).contains(&age)),
    };
    let lactate_increased = match form.lactate_mmol_per_l {
        None => Truth::missing(Field::LactateMmolPerL),
        Some(lactate) => Truth::from(lactate > LACTATE_INCREASED_ABOVE),
    };
    let cardiopulmonary_support = if form.ecmo_mode == Some(EcmoMode::Vv) {
        Truth::False
    } else {
        answer(
            Field::EcmoCardiopulmonarySupport,
            form.ecmo_cardiopulmonary_support,
        )
    };
    let within_window = match ms_on_ecmo {
        None => Truth::missing(Field::EcmoStartedAt),
        Some(ms) => Truth::from(ms < ECMO_WINDOW_MS),
    };
    let severe_obesity = match screening.bmi() {
        Some(bmi) => Truth::from(bmi.is_at_least(BMI_EXCLUSION_THRESHOLD)),
        None => Truth::Unknown(
            [
                (Field::HeightCm, form.height_cm),
                (Field::WeightKg, form.weight_kg),
            ]
            .into_iter()
            .filter(|(_, value)| value.is_none())
            .map(|(field, _)| field)
            .collect(),
        ),
    };

    // Each entry is "the patient satisfies this criterion" in three-valued logic.
    let satisfied = [
        (Criterion::Age, age),
        (
            Criterion::IcuAdmission,
            answer(Field::AdmittedToIcu, form.admitted_to_icu),
        ),
        (
            Criterion::ShockHypotension,
            Truth::any([
                answer(Field::SbpBelow90For30Min, form.sbp_below90_for30_min),
                answer(Field::MapBelow65For30Min, form.map_below65_for30_min),
                answer(
                    Field::VasopressorsToKeepSbp90,
                    form.vasopressors_to_keep_sbp90,
                ),
            ]),
        ),
        (
            Criterion::ShockCongestion,
            Truth::any([
                answer(Field::PulmonaryCongestion, form.pulmonary_congestion),
                answer(
                    Field::ElevatedLvFillingPressure,
                    form.elevated_lv_filling_pressure,
                ),
            ]),
        ),
        (
            Criterion::ShockHypoperfusion,
            Truth::any([
                answer(Field::AlteredMentalStatus, form.altered_mental_status),
                answer(Field::ColdClammySkin, form.cold_clammy_skin),
                answer(Field::Oliguria, form.oliguria),
                lactate_increased,
            ]),
        ),
        (
            Criterion::EcmoCardiopulmonarySupport,
            cardiopulmonary_support,
        ),
        (Criterion::EcmoWithin24Hours, within_window),
        (
            Criterion::ConsentRefused,
            answer(Field::ConsentRefused, form.consent_refused).not(),
        ),
        (
            Criterion::BleedingDisorder,
            Truth::any([
                answer(Field::ActiveHaemorrhage, form.active_haemorrhage),
                answer(
                    Field::ThrombocytopenicPurpura,
                    form.thrombocytopenic_purpura,
                ),
            ])
            .not(),
        ),
        (Criterion::SevereObesity, severe_obesity.not()),
        (
            Criterion::BridgeToVadOrTransplant,
            answer(
                Field::BridgeToVadOrTransplant,
                form.bridge_to_vad_or_transplant,
            )
            .not(),
        ),
        (
            Criterion::Infection,
            answer(Field::Infection, form.infection).not(),
        ),
    ];

    let statuses: Vec<_> = satisfied
        .into_iter()
        .map(|(criterion, truth)| (criterion, truth.into_status()))
        .collect();
    let outcome = outcome_of(&statuses);
    Ok(Assessment {
        evaluated_at: at,
        statuses,
        age_years,
        bmi: screening.bmi(),
        ms_on_ecmo,
        outcome,
    })
}

/// The times of `form` that [`assess`] refuses at the moment `at`, every one of
/// them: the screening after `at`, ECMO starting after `at`. A form shows them
/// with its other problems, so none waits until the rest are fixed.
pub fn times_after_evaluation(form: &ScreeningForm, at: Moment) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if at < form.screened_at {
        errors.push(FieldError::LaterThan {
            field: Field::ScreenedAt,
            limit: TimeLimit::EvaluationTime,
        });
    }
    if form.ecmo_started_at.is_some_and(|started| started > at) {
        errors.push(FieldError::LaterThan {
            field: Field::EcmoStartedAt,
            limit: TimeLimit::EvaluationTime,
        });
    }
    errors
}

/// Ineligible beats incomplete: a patient who fails one criterion needs no more
/// answers to be excluded.
fn outcome_of(statuses: &[(Criterion, Status)]) -> Outcome {
    let failed: Vec<_> = statuses
        .iter()
        .filter(|(_, status)| *status == Status::Fail)
        .map(|(criterion, _)| *criterion)
        .collect();
    if !failed.is_empty() {
        return Outcome::Ineligible { failed };
    }
    let mut missing: Vec<_> = statuses
        .iter()
        .flat_map(|(_, status)| match status {
            Status::Unknown { missing } => missing.as_slice(),
            Status::Pass | Status::Fail => &[],
        })
        .copied()
        .collect();
    if missing.is_empty() {
        return Outcome::Eligible;
    }
    missing.sort();
    missing.dedup();
    Outcome::Incomplete { missing }
}

/// Kleene's three-valued logic, remembering which answers an unknown waits for.
#[derive(Clone, Debug, PartialEq)]
enum Truth {
    True,
    False,
    Unknown(Vec<Field>),
}

impl Truth {
    fn missing(field: Field) -> Self {
        Self::Unknown(vec![field])
    }

    fn from_answer(field: Field, answer: Answer) -> Self {
        match answer {
            Answer::Yes => Self::True,
            Answer::No => Self::False,
            Answer::Unknown => Self::missing(field),
        }
    }

    /// True as soon as one part is true; false only when all are false.
    fn any(parts: impl IntoIterator<Item = Truth>) -> Self {
        let mut missing = Vec::new();
        for part in parts {
            match part {
                Self::True => return Self::True,
                Self::False => {}
                Self::Unknown(fields) => missing.extend(fields),
            }
        }
        if missing.is_empty() {
            Self::False
        } else {
            Self::Unknown(missing)
        }
    }

    fn not(self) -> Self {
        match self {
            Self::True => Self::False,
            Self::False => Self::True,
            unknown @ Self::Unknown(_) => unknown,
        }
    }

    fn into_status(self) -> Status {
        match self {
            Self::True => Status::Pass,
            Self::False => Status::Fail,
            Self::Unknown(missing) => Status::Unknown { missing },
        }
    }
}

impl From<bool> for Truth {
    fn from(value: bool) -> Self {
        if value { Self::True } else { Self::False }
    }
}
