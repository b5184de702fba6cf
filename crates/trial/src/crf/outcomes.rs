//! Outcomes (CRF.md §9), once per participant: weaning, death, status at day 28,
//! discharge, renal replacement therapy and bridging. Every date is checked against
//! ECMO start, because an outcome before the treatment began is a typing error.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::{Checker, Entry};
use crate::field::{Field, FieldError, TimeLimit};
use crate::time::Moment;

/// The participant's status on day 28.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Day28Status {
    /// Alive and still in hospital.
    AliveInHospital,
    /// Alive and discharged.
    AliveDischarged,
    /// Dead.
    Dead,
}

/// The outcomes form as entered; carried by a `FormSaved` event.
///
/// The weaning and death times are required when the answer is yes, and a time
/// contradicts a no. The discharge dates may stay blank (still in hospital, or died there).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // Each field is the CRF.md §9 item of the same name (Field::label).
pub struct OutcomesForm {
    #[serde(default)]
    pub ecmo_weaned: Option<Entry<bool>>,
    #[serde(default)]
    pub ecmo_weaned_at: Option<Entry<Moment>>,
    #[serde(default)]
    pub died: Option<Entry<bool>>,
    #[serde(default)]
    pub died_at: Option<Entry<Moment>>,
    #[serde(default)]
    pub day28_status: Option<Entry<Day28Status>>,
    #[serde(default)]
    pub icu_discharged_on: Option<Entry<Date>>,
    #[serde(default)]
    pub hospital_discharged_on: Option<Entry<Date>>,
    #[serde(default)]
    pub rrt_days: Option<Entry<u32>>,
    #[serde(default)]
    pub bridged_to_vad_or_transplant: Option<Entry<bool>>,
}

impl OutcomesForm {
    /// A new, empty form.
    pub fn blank() -> Self {
        Self {
            ecmo_weaned: None,
            ecmo_weaned_at: None,
            died: None,
            died_at: None,
            day28_status: None,
            icu_discharged_on: None,
            hospital_discharged_on: None,
            rrt_days: None,
            bridged_to_vad_or_transplant: None,
        }
    }

    /// Checks every field and returns every problem at once. With `ecmo_started_at`
    /// known, no weaning, death or discharge may come before it (the discharge dates
    /// on the ward's calendar); hospital discharge never precedes ICU discharge.
    pub fn validate(
        &self,
        confirmed: &[Field],
        ecmo_started_at: Option<Moment>,
    ) -> Result<(), Vec<FieldError>> {
        let mut checker = Checker::new(confirmed);
        let weaned_at = yes_with_time(
            &mut checker,
            (Field::EcmoWeaned, &self.ecmo_weaned),
            (Field::EcmoWeanedAt, &self.ecmo_weaned_at),
        );
        let died_at = yes_with_time(
            &mut checker,
            (Field::Died, &self.died),
            (Field::DiedAt, &self.died_at),
        );
        let day28 = checker.required(Field::Day28Status, &self.day28_status);
        if self.died.as_ref().and_then(Entry::value) == Some(&false)
            && day28 == Some(&Day28Status::Dead)
        {
            checker.push(FieldError::Contradiction {
                field: Field::Day28Status,
                other: Field::Died,
            });
        }
        let icu = checker.optional(Field::IcuDischargedOn, &self.icu_discharged_on);
        let hospital = checker.optional(Field::HospitalDischargedOn, &self.hospital_discharged_on);
        if let (Some(icu), Some(hospital)) = (icu, hospital)
            && hospital < icu
        {
            checker.push(FieldError::EarlierThan {
                field: Field::HospitalDischargedOn,
                limit: TimeLimit::IcuDischarge,
            });
        }
        checker.required_integer(Field::RrtDays, &self.rrt_days);
        checker.required(
            Field::BridgedToVadOrTransplant,
            &self.bridged_to_vad_or_transplant,
        );

        if let Some(ecmo_started_at) = ecmo_started_at {
            let before_ecmo = |field| FieldError::EarlierThan {
                field,
                limit: TimeLimit::EcmoStart,
            };
            for (field, at) in [(Field::EcmoWeanedAt, weaned_at), (Field::DiedAt, died_at)] {
                if at.is_some_and(|at| *at < ecmo_started_at) {
                    checker.push(before_ecmo(field));
                }
            }
            let ecmo_date = ecmo_started_at.local_date();
            for (field, on) in [
                (Field::IcuDischargedOn, icu),
                (Field::HospitalDischargedOn, hospital),
            ] {
                if on.is_some_and(|on| *on < ecmo_date) {
                    checker.push(before_ecmo(field));
                }
            }
        }
        checker.finish()
    }
}

/// A yes / no answer with the time it happened: the time is required after a yes
/// and a time value contradicts a no. Returns the time, if one was recorded.
fn yes_with_time<'f>(
    checker: &mut Checker<'_>,
    (answer_field, answer): (Field, &Option<Entry<bool>>),
    (time_field, time): (Field, &'f Option<Entry<Moment>>),
) -> Option<&'f Moment> {
    match checker.required(answer_field, answer) {
        Some(true) => checker.required(time_field, time),
        Some(false) => {
            // "Not done" is a fair answer for a time that never happened.
            if checker.optional(time_field, time).is_some() {
                checker.push(FieldError::Contradiction {
                    field: time_field,
                    other: answer_field,
                });
            }
            None
        }
        None => checker.optional(time_field, time),
    }
}
