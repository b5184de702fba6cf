//! The daily assessment (CRF.md §7), once for each of study days 1 to 7 while the
//! participant is on ECMO. The vasoactive-inotropic score is computed from the
//! doses, as at baseline.

use jiff::ToSpan;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::vasoactive::VasoactiveEntries;
use super::{Checker, Entry};
use crate::field::{Field, FieldError, check_limits, check_tenths};

/// A study day, 1 to 7: the identity of a daily assessment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct StudyDay(u8);

/// The daily assessment as entered; carried by a `FormSaved` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // Each field is the CRF.md §7 item of the same name (Field::label).
pub struct DailyAssessmentForm {
    /// The study day: the form's identity, never corrected.
    pub study_day: StudyDay,
    #[serde(default)]
    pub lactate_mmol_per_l: Option<Entry<f64>>,
    #[serde(default)]
    pub sofa_score: Option<Entry<i32>>,
    /// The six vasoactive doses, checked and scored as on the other form that asks
    /// for them. Flattened: their keys stand in this form's JSON between `sofa_score` and `ecmo_flow_l_per_min`,
    /// where the records already in the field have them.
    #[serde(flatten)]
    pub vasoactive: VasoactiveEntries,
    #[serde(default)]
    pub ecmo_flow_l_per_min: Option<Entry<f64>>,
    #[serde(default)]
    pub platelets_e9_per_l: Option<Entry<f64>>,
    #[serde(default)]
    pub haemoglobin_g_per_l: Option<Entry<f64>>,
    #[serde(default)]
    pub red_cells_u: Option<Entry<f64>>,
    #[serde(default)]
    pub platelet_doses: Option<Entry<u32>>,
    #[serde(default)]
    pub plasma_ml: Option<Entry<u32>>,
    #[serde(default)]
    pub bleeding_event: Option<Entry<bool>>,
    #[serde(default)]
    pub renal_replacement_therapy: Option<Entry<bool>>,
    /// Transfusions as version 1 of the forms counted them, all in "units": an old
    /// form keeps them, and their meaning; a new form records the three above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbc_units: Option<Entry<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platelet_units: Option<Entry<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plasma_units: Option<Entry<u32>>,
}

impl StudyDay {
    /// Every study day a daily assessment is recorded for (CRF.md §7), in order.
    pub const ALL: [StudyDay; 7] = [
        StudyDay(1),
        StudyDay(2),
        StudyDay(3),
        StudyDay(4),
        StudyDay(5),
        StudyDay(6),
        StudyDay(7),
    ];

    /// Day `day`, which must be 1 to 7.
    pub fn new(day: u8) -> Result<Self, FieldError> {
        check_limits(Field::StudyDay, f64::from(day))?;
        Ok(Self(day))
    }

    /// The day's number, 1 to 7.
    pub fn get(self) -> u8 {
        self.0
    }

    /// The calendar date of this study day when day 1 is `day_one`: a nurse
    /// records "day 3" against a date on the ward's calendar, not a count.
    pub fn date(self, day_one: Date) -> Date {
        // Saturates only past 9999-12-31, six days after a moment can never be.
        day_one.saturating_add(i64::from(self.0 - 1).days())
    }
}

impl TryFrom<u8> for StudyDay {
    type Error = FieldError;
    fn try_from(day: u8) -> Result<Self, Self::Error> {
        Self::new(day)
    }
}

impl From<StudyDay> for u8 {
    fn from(day: StudyDay) -> Self {
        day.0
    }
}

impl DailyAssessmentForm {
    /// A new, empty form for one study day.
    pub fn blank(study_day: StudyDay) -> Self {
        Self {
            study_day,
            lactate_mmol_per_l: None,
            sofa_score: None,
            vasoactive: VasoactiveEntries::blank(),
            ecmo_flow_l_per_min: None,
            platelets_e9_per_l: None,
            haemoglobin_g_per_l: None,
            red_cells_u: None,
            platelet_doses: None,
            plasma_ml: None,
            bleeding_event: None,
            renal_replacement_therapy: None,
            rbc_units: None,
            platelet_units: None,
            plasma_units: None,
        }
    }

    /// Checks every field and returns every problem at once; values in a warning
    /// range pass only when their field is in `confirmed`.
    pub fn validate(&self, confirmed: &[Field]) -> Result<(), Vec<FieldError>> {
        let mut checker = Checker::new(confirmed);
        checker.required_number(Field::LactateMmolPerL, &self.lactate_mmol_per_l);
        checker.required_integer(Field::SofaScore, &self.sofa_score);
        for (field, entry) in self.vasoactive.entries().into_iter().chain([
            (Field::EcmoFlowLPerMin, &self.ecmo_flow_l_per_min),
            (Field::PlateletsE9PerL, &self.platelets_e9_per_l),
            (Field::HaemoglobinGPerL, &self.haemoglobin_g_per_l),
        ]) {
            checker.required_number(field, entry);
        }
        self.check_transfusions(&mut checker);
        checker.required(Field::BleedingEvent, &self.bleeding_event);
        checker.required(
            Field::RenalReplacementTherapy,
            &self.renal_replacement_therapy,
        );
        checker.finish()
    }

    /// Whether the transfusions are counted as version 1 of the forms counted them.
    pub fn in_version_1_units(&self) -> bool {
        self.rbc_units.is_some() || self.platelet_units.is_some() || self.plasma_units.is_some()
    }

    /// The transfusions in one set of units: a version 1 form's three counts, or
    /// the three of CRF.md §7 now, never a mix of the two (which a correction of
    /// an old field on a new form would make).
    fn check_transfusions(&self, checker: &mut Checker) {
        if self.in_version_1_units() {
            checker.required_integer(Field::RbcUnits, &self.rbc_units);
            checker.required_integer(Field::PlateletUnits, &self.platelet_units);
            checker.required_integer(Field::PlasmaUnits, &self.plasma_units);
            let newer = [
                (Field::RedCellsU, self.red_cells_u.is_some()),
                (Field::PlateletDoses, self.platelet_doses.is_some()),
                (Field::PlasmaMl, self.plasma_ml.is_some()),
            ];
            for (field, recorded) in newer {
                if let (true, Some(other)) = (recorded, field.replaces()) {
                    checker.push(FieldError::Contradiction { field, other });
                }
            }
        } else {
            let red_cells = checker.required_number(Field::RedCellsU, &self.red_cells_u);
            if let Some(Err(error)) = red_cells.map(|u| check_tenths(Field::RedCellsU, u)) {
                checker.push(error);
            }
            checker.required_integer(Field::PlateletDoses, &self.platelet_doses);
            checker.required_integer(Field::PlasmaMl, &self.plasma_ml);
        }
    }
}
