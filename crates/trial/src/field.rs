//! Named form fields, their units and plausibility limits, and the errors that name
//! them.
//!
//! A value outside its limits is refused with a message that names the field and its
//! allowed range (CRF.md). Errors carry the [`Field`] rather than text, so the app can
//! say the same thing in Chinese or English and put it beside the right input; the
//! `Display` impls are the English wording for logs and the server's answers.

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// A field of a case report form that a value or an error can belong to.
///
/// The serialised names are stable keys: the app's translations and the server's
/// error answers use them, so variants are appended, never renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // Each variant is the CRF.md field of the same name.
pub enum Field {
    ScreenedAt,
    DateOfBirth,
    Sex,
    HeightCm,
    WeightKg,
    AdmittedToIcu,
    IcuAdmittedAt,
    SbpBelow90For30Min,
    MapBelow65For30Min,
    VasopressorsToKeepSbp90,
    PulmonaryCongestion,
    ElevatedLvFillingPressure,
    AlteredMentalStatus,
    ColdClammySkin,
    Oliguria,
    LactateMmolPerL,
    EcmoMode,
    EcmoCardiopulmonarySupport,
    EcmoStartedAt,
    ConsentRefused,
    ActiveHaemorrhage,
    ThrombocytopenicPurpura,
    BridgeToVadOrTransplant,
    Infection,
}

/// The inclusive range a measured value must lie in, and its fixed unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// The smallest plausible value.
    pub min: f64,
    /// The largest plausible value.
    pub max: f64,
    /// The unit shown beside the field; values are never converted.
    pub unit: &'static str,
}

impl Field {
    /// Every field, in the order the screening form shows them.
    pub const ALL: [Field; 24] = [
        Self::ScreenedAt,
        Self::DateOfBirth,
        Self::Sex,
        Self::HeightCm,
        Self::WeightKg,
        Self::AdmittedToIcu,
        Self::IcuAdmittedAt,
        Self::SbpBelow90For30Min,
        Self::MapBelow65For30Min,
        Self::VasopressorsToKeepSbp90,
        Self::PulmonaryCongestion,
        Self::ElevatedLvFillingPressure,
        Self::AlteredMentalStatus,
        Self::ColdClammySkin,
        Self::Oliguria,
        Self::LactateMmolPerL,
        Self::EcmoMode,
        Self::EcmoCardiopulmonarySupport,
        Self::EcmoStartedAt,
        Self::ConsentRefused,
        Self::ActiveHaemorrhage,
        Self::ThrombocytopenicPurpura,
        Self::BridgeToVadOrTransplant,
        Self::Infection,
    ];

    /// The stable key of this field, as serialised: used for translations, test ids
    /// and the server's error answers.
    pub fn key(self) -> &'static str {
        match self {
            Self::ScreenedAt => "screened_at",
            Self::DateOfBirth => "date_of_birth",
            Self::Sex => "sex",
            Self::HeightCm => "height_cm",
            Self::WeightKg => "weight_kg",
            Self::AdmittedToIcu => "admitted_to_icu",
            Self::IcuAdmittedAt => "icu_admitted_at",
            Self::SbpBelow90For30Min => "sbp_below90_for30_min",
            Self::MapBelow65For30Min => "map_below65_for30_min",
            Self::VasopressorsToKeepSbp90 => "vasopressors_to_keep_sbp90",
            Self::PulmonaryCongestion => "pulmonary_congestion",
            Self::ElevatedLvFillingPressure => "elevated_lv_filling_pressure",
            Self::AlteredMentalStatus => "altered_mental_status",
            Self::ColdClammySkin => "cold_clammy_skin",
            Self::Oliguria => "oliguria",
            Self::LactateMmolPerL => "lactate_mmol_per_l",
            Self::EcmoMode => "ecmo_mode",
            Self::EcmoCardiopulmonarySupport => "ecmo_cardiopulmonary_support",
            Self::EcmoStartedAt => "ecmo_started_at",
            Self::ConsentRefused => "consent_refused",
            Self::ActiveHaemorrhage => "active_haemorrhage",
            Self::ThrombocytopenicPurpura => "thrombocytopenic_purpura",
            Self::BridgeToVadOrTransplant => "bridge_to_vad_or_transplant",
            Self::Infection => "infection",
        }
    }

    /// The English label, for logs and server messages; the app translates the key.
    pub fn label(self) -> &'static str {
        match self {
            Self::ScreenedAt => "screening date-time",
            Self::DateOfBirth => "date of birth",
            Self::Sex => "sex",
            Self::HeightCm => "height",
            Self::WeightKg => "weight",
            Self::AdmittedToIcu => "admitted to ICU",
            Self::IcuAdmittedAt => "ICU admission date-time",
            Self::SbpBelow90For30Min => "systolic BP < 90 mmHg for ≥ 30 min",
            Self::MapBelow65For30Min => "MAP < 65 mmHg for ≥ 30 min",
            Self::VasopressorsToKeepSbp90 => "vasopressors needed to keep systolic BP ≥ 90 mmHg",
            Self::PulmonaryCongestion => "pulmonary congestion",
            Self::ElevatedLvFillingPressure => "elevated LV filling pressure",
            Self::AlteredMentalStatus => "altered mental status",
            Self::ColdClammySkin => "cold, clammy skin",
            Self::Oliguria => "oliguria (< 30 mL/h)",
            Self::LactateMmolPerL => "serum lactate",
            Self::EcmoMode => "ECMO mode",
            Self::EcmoCardiopulmonarySupport => "ECMO supplies cardiopulmonary support",
            Self::EcmoStartedAt => "ECMO start date-time",
            Self::ConsentRefused => "consent refused",
            Self::ActiveHaemorrhage => "active haemorrhage",
            Self::ThrombocytopenicPurpura => "thrombocytopenic purpura",
            Self::BridgeToVadOrTransplant => "ECMO as bridge to long-term VAD or transplant",
            Self::Infection => "infection",
        }
    }

    /// The plausibility limits of a measured field (CRF.md); `None` for fields that
    /// are not numbers.
    pub fn limits(self) -> Option<Limits> {
        let limits = |min, max, unit| Some(Limits { min, max, unit });
        match self {
            Self::HeightCm => limits(100.0, 230.0, "cm"),
            Self::WeightKg => limits(30.0, 250.0, "kg"),
            Self::LactateMmolPerL => limits(0.0, 30.0, "mmol/L"),
            _ => None,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What a time field is compared with when it must not come later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeLimit {
    /// The screening date-time of the same form.
    ScreeningTime,
    /// The moment the eligibility is evaluated (screening, or the randomise tap).
    EvaluationTime,
}

/// A problem with one field of a form. A whole-form check returns every problem at
/// once, so the screen can show them all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum FieldError {
    /// Occurs when a number lies outside the field's plausibility limits.
    OutOfRange {
        /// The field the value was entered in.
        field: Field,
        /// The value that was entered.
        value: f64,
        /// The smallest value allowed.
        min: f64,
        /// The largest value allowed.
        max: f64,
    },
    /// Occurs when a number is NaN or infinite, which no input should produce.
    NotANumber {
        /// The field the value was entered in.
        field: Field,
    },
    /// Occurs when the date of birth is after the screening date or more than
    /// [`crate::screening::MAX_AGE_YEARS`] years before it.
    DateOfBirthOutOfRange {
        /// The date that was entered.
        value: Date,
        /// The earliest date allowed.
        earliest: Date,
        /// The latest date allowed: the screening date.
        latest: Date,
    },
    /// Occurs when a time is later than the moment it must precede.
    LaterThan {
        /// The time field that is too late.
        field: Field,
        /// What it must not come after.
        limit: TimeLimit,
    },
    /// Occurs when two answers contradict each other, such as veno-venous ECMO said
    /// to supply cardiac support.
    Contradiction {
        /// The field the message is shown beside.
        field: Field,
        /// The field it contradicts.
        other: Field,
    },
}

impl FieldError {
    /// The field this problem is shown beside.
    pub fn field(&self) -> Field {
        match self {
            Self::OutOfRange { field, .. }
            | Self::NotANumber { field }
            | Self::LaterThan { field, .. }
            | Self::Contradiction { field, .. } => *field,
            Self::DateOfBirthOutOfRange { .. } => Field::DateOfBirth,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange {
                field,
                value,
                min,
                max,
            } => {
                let unit = field.limits().map_or("", |limits| limits.unit);
                write!(
                    f,
                    "{field}: {value} {unit} is outside the allowed range {min}–{max} {unit}"
                )
            }
            Self::NotANumber { field } => write!(f, "{field}: not a number"),
            Self::DateOfBirthOutOfRange {
                value,
                earliest,
                latest,
            } => write!(
                f,
                "date of birth: {value} is outside the allowed range {earliest} to {latest} (the screening date)"
            ),
            Self::LaterThan { field, limit } => {
                let limit = match limit {
                    TimeLimit::ScreeningTime => "the screening date-time",
                    TimeLimit::EvaluationTime => "the time of evaluation",
                };
                write!(f, "{field}: must not be later than {limit}")
            }
            Self::Contradiction { field, other } => {
                write!(f, "{field}: contradicts the answer to {other}")
            }
        }
    }
}

impl std::error::Error for FieldError {}

/// Checks a measured value against its field's limits. Used by every form, so each
/// refuses out-of-range values with the same message shape.
pub(crate) fn check_limits(field: Field, value: f64) -> Result<f64, FieldError> {
    if !value.is_finite() {
        return Err(FieldError::NotANumber { field });
    }
    let limits = field
        .limits()
        .expect("check_limits is only called for measured fields");
    if (limits.min..=limits.max).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::OutOfRange {
            field,
            value,
            min: limits.min,
            max: limits.max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_serialised_names() {
        for field in Field::ALL {
            let serialised = serde_json::to_value(field).unwrap();
            assert_eq!(serialised, field.key(), "{field:?}");
        }
    }

    #[test]
    fn limits_are_inclusive_and_named_in_the_error() {
        assert_eq!(check_limits(Field::HeightCm, 100.0), Ok(100.0));
        assert_eq!(check_limits(Field::HeightCm, 230.0), Ok(230.0));
        let error = check_limits(Field::HeightCm, 30.0).unwrap_err();
        assert_eq!(
            error.to_string(),
            "height: 30 cm is outside the allowed range 100–230 cm"
        );
        assert_eq!(
            check_limits(Field::WeightKg, f64::NAN),
            Err(FieldError::NotANumber {
                field: Field::WeightKg
            })
        );
    }
}
