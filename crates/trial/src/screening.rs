//! The screening form (CRF.md §1) as entered, and the validated screening record that
//! eligibility is decided on.
//!
//! [`ScreeningForm`] is what the bedside form edits and what a screening event
//! carries: every answer may still be unknown. [`Screening::parse`] checks it whole
//! and returns every implausible value at once; only a [`Screening`] can be assessed
//! (see [`crate::eligibility`]). Age and BMI are computed here from their sources and
//! are never typed.

use jiff::ToSpan;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::field::{Field, FieldError, TimeLimit, check_limits, check_tenths};
use crate::time::{Calendar, Moment, age_in_years};

/// The oldest age a date of birth may imply; anything older is a typing error.
pub const MAX_AGE_YEARS: i16 = 120;

/// A yes / no answer that may not be known yet. Unknown is the default, so a field
/// that was never touched counts as unknown, never as "no".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// The criterion or finding is present.
    Yes,
    /// The criterion or finding is absent.
    No,
    /// Not assessed yet, or could not be assessed.
    #[default]
    Unknown,
}

/// Sex as recorded in the CRF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
}

/// The ECMO configuration. Only veno-arterial ECMO supports the heart, so a
/// veno-venous run cannot satisfy inclusion 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EcmoMode {
    /// Veno-arterial: cardiopulmonary support.
    Va,
    /// Veno-venous: respiratory support only.
    Vv,
    /// Any other configuration (for example VAV); support is as answered.
    Other,
}

/// The screening form as entered at the bedside; the payload of a screening event.
///
/// Fields are public because this is an input record: nothing is trusted until
/// [`Screening::parse`] accepts it. Answers left out of a stored payload read as
/// unknown, so older payloads stay readable when the form grows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // Each field is the CRF.md §1 item of the same name.
pub struct ScreeningForm {
    pub screened_at: Moment,
    #[serde(default)]
    pub date_of_birth: Option<Date>,
    #[serde(default)]
    pub sex: Option<Sex>,
    #[serde(default)]
    pub height_cm: Option<f64>,
    #[serde(default)]
    pub weight_kg: Option<f64>,
    #[serde(default)]
    pub admitted_to_icu: Answer,
    #[serde(default)]
    pub icu_admitted_at: Option<Moment>,
    #[serde(default)]
    pub sbp_below90_for30_min: Answer,
    #[serde(default)]
    pub map_below65_for30_min: Answer,
    #[serde(default)]
    pub vasopressors_to_keep_sbp90: Answer,
    #[serde(default)]
    pub pulmonary_congestion: Answer,
    #[serde(default)]
    pub elevated_lv_filling_pressure: Answer,
    #[serde(default)]
    pub altered_mental_status: Answer,
    #[serde(default)]
    pub cold_clammy_skin: Answer,
    #[serde(default)]
    pub oliguria: Answer,
    #[serde(default)]
    pub lactate_mmol_per_l: Option<f64>,
    #[serde(default)]
    pub ecmo_mode: Option<EcmoMode>,
    #[serde(default)]
    pub ecmo_cardiopulmonary_support: Answer,
    #[serde(default)]
    pub ecmo_started_at: Option<Moment>,
    #[serde(default)]
    pub consent_refused: Answer,
    #[serde(default)]
    pub active_haemorrhage: Answer,
    #[serde(default)]
    pub thrombocytopenic_purpura: Answer,
    #[serde(default)]
    pub bridge_to_vad_or_transplant: Answer,
    #[serde(default)]
    pub infection: Answer,
    /// Where the patient lies (version 3): for the site alone, like the initials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bed: Option<String>,
    /// The patient's initials, 2 to 4 letters A–Z (version 3): with the bed, how
    /// the site's nurses tell two screened patients apart. Never exported to the
    /// trial's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_initials: Option<String>,
}

/// Whether `text` is a patient's initials as the forms keep them: 2 to 4
/// capital letters A–Z, a Chinese name's pinyin initials or a Latin name's.
pub fn are_initials(text: &str) -> bool {
    (MIN_INITIALS..=MAX_INITIALS).contains(&text.len())
        && text.bytes().all(|byte| byte.is_ascii_uppercase())
}

/// The fewest and most letters of a patient's initials.
pub const MIN_INITIALS: usize = 2;
/// See [`MIN_INITIALS`].
pub const MAX_INITIALS: usize = 4;
/// The longest bed name ("ICU-2 bed 14" is 12).
pub const MAX_BED_CHARS: usize = 16;

impl ScreeningForm {
    /// A new, empty form: every answer unknown, every value missing.
    pub fn blank(screened_at: Moment) -> Self {
        Self {
            screened_at,
            date_of_birth: None,
            sex: None,
            height_cm: None,
            weight_kg: None,
            admitted_to_icu: Answer::Unknown,
            icu_admitted_at: None,
            sbp_below90_for30_min: Answer::Unknown,
            map_below65_for30_min: Answer::Unknown,
            vasopressors_to_keep_sbp90: Answer::Unknown,
            pulmonary_congestion: Answer::Unknown,
            elevated_lv_filling_pressure: Answer::Unknown,
            altered_mental_status: Answer::Unknown,
            cold_clammy_skin: Answer::Unknown,
            oliguria: Answer::Unknown,
            lactate_mmol_per_l: None,
            ecmo_mode: None,
            ecmo_cardiopulmonary_support: Answer::Unknown,
            ecmo_started_at: None,
            consent_refused: Answer::Unknown,
            active_haemorrhage: Answer::Unknown,
            thrombocytopenic_purpura: Answer::Unknown,
            bridge_to_vad_or_transplant: Answer::Unknown,
            infection: Answer::Unknown,
            bed: None,
            patient_initials: None,
        }
    }

    /// What a screening must hold before it may be recorded: its time (which the
    /// type always holds), the patient's date of birth and initials, without which
    /// no patient can be told apart or aged, so a blank form would only use up a
    /// screening number. The check before saving asks this of new screenings
    /// ([`crate::payload::Payload::check`]); reading a stored one does not, so a
    /// screening recorded before this rule stays readable (as incomplete).
    pub fn missing_to_record(&self) -> Vec<FieldError> {
        let mut missing = Vec::new();
        if self.date_of_birth.is_none() {
            missing.push(FieldError::Required {
                field: Field::DateOfBirth,
            });
        }
        if self.patient_initials.is_none() {
            missing.push(FieldError::Required {
                field: Field::PatientInitials,
            });
        }
        missing
    }
}

/// A number to show, rounded to as many decimals as a decision made on it
/// needs; written with `.` as the decimal point, in either language.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shown {
    value: f64,
    decimals: usize,
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.*}", self.decimals, self.value)
    }
}

/// Body-mass index from a height and weight that passed their limits, kept as the
/// two measurements (in tenths) so the BMI ≥ 40 cut-off is decided exactly, without
/// floating-point rounding at the boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bmi {
    weight_dg: u32,
    height_mm: u32,
}

/// Whether `value` has at most one decimal (the precision the form records);
/// pushes the error naming `field` when it has more.
fn to_the_tenth(field: Field, value: f64, errors: &mut Vec<FieldError>) -> bool {
    check_tenths(field, value)
        .map_err(|error| errors.push(error))
        .is_ok()
}

impl Bmi {
    /// Builds a BMI from a plausible weight in kg and height in cm, each of at most
    /// one decimal (`Screening::parse` refuses more), as whole tenths.
    fn from_measurements(weight_kg: f64, height_cm: f64) -> Self {
        // In range (30–250 kg, 100–230 cm) by construction, so the casts are exact.
        Self {
            weight_dg: (weight_kg * 10.0).round() as u32,
            height_mm: (height_cm * 10.0).round() as u32,
        }
    }

    /// kg/m², for display.
    pub fn value(self) -> f64 {
        let weight_kg = f64::from(self.weight_dg) / 10.0;
        let height_m = f64::from(self.height_mm) / 1000.0;
        weight_kg / (height_m * height_m)
    }

    /// The BMI as the cut-off at `threshold` kg/m² decides it: to one decimal,
    /// or with as many more as it takes for the number shown to fall on the same
    /// side of the cut-off as the exact value. 89.9 kg at 150 cm shows 39.96, not
    /// the 40.0 that would read as excluded, so a monitor can check E3 on screen.
    pub fn shown_against(self, threshold: u32) -> Shown {
        let at_least = self.is_at_least(threshold);
        let value = self.value();
        // The exact value differs from a whole threshold by at least 1 / 529 000
        // (weight in tenths over height in mm squared), so 6 decimals always do.
        let decimals = (1..=6)
            .find(|&decimals| {
                let shown: f64 = format!("{value:.decimals$}")
                    .parse()
                    .expect("invariant: a formatted f64 parses");
                (shown >= f64::from(threshold)) == at_least
            })
            .unwrap_or(6);
        Shown { value, decimals }
    }

    /// Whether the BMI is at or above `threshold` kg/m², decided in integers:
    /// (w/10) / (h/1000)² ≥ t  ⇔  w · 100 000 ≥ t · h².
    pub fn is_at_least(self, threshold: u32) -> bool {
        u64::from(self.weight_dg) * 100_000
            >= u64::from(threshold) * u64::from(self.height_mm) * u64::from(self.height_mm)
    }
}

/// A screening form whose every value passed its plausibility checks. Eligibility is
/// assessed on this, never on a raw form.
#[derive(Clone, Debug, PartialEq)]
pub struct Screening {
    form: ScreeningForm,
    bmi: Option<Bmi>,
}

impl Screening {
    /// Checks every field of `form` and returns all problems at once, or the
    /// validated record.
    pub fn parse(form: &ScreeningForm) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(initials) = &form.patient_initials
            && !are_initials(initials)
        {
            errors.push(FieldError::NotInitials {
                field: Field::PatientInitials,
            });
        }
        if let Some(bed) = &form.bed {
            let length = bed.chars().count();
            if bed.trim().is_empty() {
                errors.push(FieldError::Blank { field: Field::Bed });
            } else if length > MAX_BED_CHARS {
                errors.push(FieldError::TooLong {
                    field: Field::Bed,
                    length,
                    max: MAX_BED_CHARS,
                });
            }
        }
        let mut measured = |field, value: Option<f64>| {
            value.and_then(|value| check_limits(field, value).map_err(|e| errors.push(e)).ok())
        };
        let height_cm = measured(Field::HeightCm, form.height_cm);
        let weight_kg = measured(Field::WeightKg, form.weight_kg);
        measured(Field::LactateMmolPerL, form.lactate_mmol_per_l);
        // The BMI cut-off is decided on the measurements to the tenth: a value with
        // more decimals would be decided on a number the screen does not show.
        let height_cm =
            height_cm.filter(|height| to_the_tenth(Field::HeightCm, *height, &mut errors));
        let weight_kg =
            weight_kg.filter(|weight| to_the_tenth(Field::WeightKg, *weight, &mut errors));

        // The date as the device saw it: a plausibility check, which a day's
        // difference from the site's calendar does not change. Age itself is asked
        // of the site's calendar (`Screening::age_years`).
        let screening_date = form.screened_at.local_date();
        if let Some(born) = form.date_of_birth {
            let earliest = screening_date
                .checked_sub(MAX_AGE_YEARS.years())
                .expect("Moment keeps dates after 1900, so 120 years back is representable");
            if born < earliest || born > screening_date {
                errors.push(FieldError::DateOfBirthOutOfRange {
                    value: born,
                    earliest,
                    latest: screening_date,
                });
            }
        }
        if form
            .icu_admitted_at
            .is_some_and(|admitted| admitted > form.screened_at)
        {
            errors.push(FieldError::LaterThan {
                field: Field::IcuAdmittedAt,
                limit: TimeLimit::ScreeningTime,
            });
        }
        if form.ecmo_mode == Some(EcmoMode::Vv) && form.ecmo_cardiopulmonary_support == Answer::Yes
        {
            errors.push(FieldError::Contradiction {
                field: Field::EcmoCardiopulmonarySupport,
                other: Field::EcmoMode,
            });
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        let bmi = weight_kg
            .zip(height_cm)
            .map(|(weight, height)| Bmi::from_measurements(weight, height));
        Ok(Self {
            form: form.clone(),
            bmi,
        })
    }

    /// The validated answers, read-only.
    pub fn form(&self) -> &ScreeningForm {
        &self.form
    }

    /// Completed years of age on the screening date, as the site's `calendar`
    /// reads the screening moment, from the date of birth.
    pub fn age_years(&self, calendar: &Calendar) -> Option<u32> {
        let born = self.form.date_of_birth?;
        age_in_years(born, calendar.date(self.form.screened_at))
    }

    /// BMI from weight and height, when both are known.
    pub fn bmi(&self) -> Option<Bmi> {
        self.bmi
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const MARCH_1_2026_NOON_BEIJING: i64 = 1_772_337_600_000;

    fn form() -> ScreeningForm {
        ScreeningForm::blank(Moment::new(MARCH_1_2026_NOON_BEIJING, 480).unwrap())
    }

    #[test]
    fn every_implausible_value_is_reported_at_once() {
        let mut form = form();
        form.height_cm = Some(30.0);
        form.weight_kg = Some(900.0);
        form.lactate_mmol_per_l = Some(-1.0);
        form.date_of_birth = Some(date(2026, 3, 2));
        let errors = Screening::parse(&form).unwrap_err();
        let fields: Vec<_> = errors.iter().map(FieldError::field).collect();
        assert_eq!(
            fields,
            [
                Field::HeightCm,
                Field::WeightKg,
                Field::LactateMmolPerL,
                Field::DateOfBirth
            ]
        );
        assert_eq!(
            errors[1].to_string(),
            "weight: 900 kg is outside the allowed range 30–250 kg"
        );
        assert_eq!(
            errors[3].to_string(),
            "date of birth: 2026-03-02 is outside the allowed range 1906-03-01 to 2026-03-01 (the screening date)"
        );
    }

    #[test]
    fn bmi_threshold_is_exact() {
        // 90 kg at 150 cm is exactly 40.0; 115.6 kg at 170 cm is 40.0 too, though
        // the floating-point quotient lands a hair below.
        assert!(Bmi::from_measurements(90.0, 150.0).is_at_least(40));
        assert!(Bmi::from_measurements(115.6, 170.0).is_at_least(40));
        assert!(!Bmi::from_measurements(115.5, 170.0).is_at_least(40));
        let bmi = Bmi::from_measurements(70.0, 175.0).value();
        assert!((bmi - 22.857).abs() < 0.001, "{bmi}");
    }

    #[test]
    fn bmi_is_shown_with_the_decimals_its_decision_needs() {
        let check = |weight, height, shown: &str| {
            let bmi = Bmi::from_measurements(weight, height);
            assert_eq!(
                bmi.shown_against(40).to_string(),
                shown,
                "{weight} kg, {height} cm"
            );
        };
        // Rounded to one decimal, 39.955… would read as 40.0, which excludes.
        check(89.9, 150.0, "39.96");
        check(90.0, 150.0, "40.0");
        check(115.6, 170.0, "40.0");
        check(115.5, 170.0, "39.97");
        check(70.0, 175.0, "22.9");
        check(102.3, 160.0, "39.96");
    }

    #[test]
    fn a_screening_needs_a_date_of_birth_and_initials_to_be_recorded() {
        let mut form = form();
        assert_eq!(
            form.missing_to_record(),
            [
                FieldError::Required {
                    field: Field::DateOfBirth
                },
                FieldError::Required {
                    field: Field::PatientInitials
                }
            ]
        );
        form.date_of_birth = Some(date(1970, 6, 15));
        form.patient_initials = Some("ZWL".to_owned());
        assert_eq!(form.missing_to_record(), []);
        // The bed may be unknown (a patient still in the emergency room).
        assert_eq!(form.bed, None);
    }

    /// Initials are 2 to 4 capital letters A–Z (pinyin initials for a Chinese
    /// name); a bed is any short name; both are checked where the form is read,
    /// each problem named by its field.
    #[test]
    fn initials_and_bed_are_checked() {
        for good in ["ZW", "ZWL", "OUYM"] {
            assert!(are_initials(good), "{good}");
        }
        for bad in ["Z", "ZWLMN", "zwl", "Z W", "张伟", "Z1", ""] {
            assert!(!are_initials(bad), "{bad:?}");
        }
        let mut form = form();
        form.patient_initials = Some("zw".to_owned());
        form.bed = Some("   ".to_owned());
        assert_eq!(
            Screening::parse(&form).unwrap_err(),
            [
                FieldError::NotInitials {
                    field: Field::PatientInitials
                },
                FieldError::Blank { field: Field::Bed }
            ]
        );
        form.patient_initials = Some("ZW".to_owned());
        form.bed = Some("ICU-2 bed 14, by the window".to_owned());
        assert_eq!(
            Screening::parse(&form).unwrap_err(),
            [FieldError::TooLong {
                field: Field::Bed,
                length: 27,
                max: MAX_BED_CHARS
            }]
        );
        form.bed = Some("ICU-2 14".to_owned());
        assert!(Screening::parse(&form).is_ok());
        assert_eq!(
            FieldError::NotInitials {
                field: Field::PatientInitials
            }
            .to_string(),
            "patient's initials: 2 to 4 letters A–Z (pinyin initials for a Chinese name)"
        );
    }

    #[test]
    fn height_and_weight_have_at_most_one_decimal() {
        // 160 cm and 102.36 kg is BMI 39.98: not to be rounded up to 102.4 (40.0).
        let mut form = form();
        form.height_cm = Some(160.0);
        form.weight_kg = Some(102.36);
        assert_eq!(
            Screening::parse(&form).unwrap_err(),
            [FieldError::TooManyDecimals {
                field: Field::WeightKg,
                decimals: 1
            }]
        );
        form.weight_kg = Some(102.4);
        form.height_cm = Some(160.05);
        assert_eq!(
            Screening::parse(&form).unwrap_err(),
            [FieldError::TooManyDecimals {
                field: Field::HeightCm,
                decimals: 1
            }]
        );
        form.height_cm = Some(160.1);
        let bmi = Screening::parse(&form).unwrap().bmi().unwrap();
        assert!(!bmi.is_at_least(40), "{}", bmi.value());
    }

    #[test]
    fn contradictions_and_time_order_are_refused() {
        let mut form = form();
        form.ecmo_mode = Some(EcmoMode::Vv);
        form.ecmo_cardiopulmonary_support = Answer::Yes;
        form.icu_admitted_at = Some(Moment::new(MARCH_1_2026_NOON_BEIJING + 1, 480).unwrap());
        let errors = Screening::parse(&form).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.contains(&FieldError::LaterThan {
            field: Field::IcuAdmittedAt,
            limit: TimeLimit::ScreeningTime
        }));
    }

    #[test]
    fn an_untouched_answer_reads_as_unknown() {
        let json = format!(
            r#"{{"screened_at":{{"utc_ms":{MARCH_1_2026_NOON_BEIJING},"offset_minutes":480}}}}"#
        );
        let parsed: ScreeningForm = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, form());
        let unknown_field = json.replace("}}", r#"},"favourite_colour":"red"}"#);
        let error = serde_json::from_str::<ScreeningForm>(&unknown_field).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("unknown field `favourite_colour`"),
            "{error}"
        );
    }
}
