//! The six vasoactive doses the baseline form and the daily assessment share, and
//! the vasoactive-inotropic score (VIS) computed from them as CRF.md §4 defines it,
//! so no one types a score that disagrees with the doses beside it.

use serde::{Deserialize, Serialize};

use super::Entry;
use crate::field::Field;

/// The six doses as a form records them, each a value or "not done" with a reason:
/// the baseline form and the daily assessment ask for the same six, and check and
/// score them alike.
///
/// Flattened into each form (`#[serde(flatten)]`), so the keys stand in the form's
/// JSON beside its other fields, in the same place, as they did before the doses
/// were one block: records in the field read as they are. It refuses no key itself,
/// because a flattened struct is offered every key of its form; the form refuses
/// the keys no part of it takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // Each field is the CRF.md §4 item of the same name (Field::label).
pub struct VasoactiveEntries {
    #[serde(default)]
    pub dopamine_ug_per_kg_min: Option<Entry<f64>>,
    #[serde(default)]
    pub dobutamine_ug_per_kg_min: Option<Entry<f64>>,
    #[serde(default)]
    pub adrenaline_ug_per_kg_min: Option<Entry<f64>>,
    #[serde(default)]
    pub noradrenaline_ug_per_kg_min: Option<Entry<f64>>,
    #[serde(default)]
    pub milrinone_ug_per_kg_min: Option<Entry<f64>>,
    #[serde(default)]
    pub vasopressin_u_per_kg_min: Option<Entry<f64>>,
}

/// The six doses the score is computed from, each per kg of body weight per minute.
///
/// Built by the forms from doses that passed their limits; the app may build one
/// to show the score while the user types.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VasoactiveDoses {
    /// Dopamine, µg/kg/min.
    pub dopamine_ug_per_kg_min: f64,
    /// Dobutamine, µg/kg/min.
    pub dobutamine_ug_per_kg_min: f64,
    /// Adrenaline (epinephrine), µg/kg/min.
    pub adrenaline_ug_per_kg_min: f64,
    /// Noradrenaline (norepinephrine), µg/kg/min.
    pub noradrenaline_ug_per_kg_min: f64,
    /// Milrinone, µg/kg/min.
    pub milrinone_ug_per_kg_min: f64,
    /// Vasopressin, U/kg/min.
    pub vasopressin_u_per_kg_min: f64,
}

impl VasoactiveDoses {
    /// dopamine + dobutamine + 100 × adrenaline + 100 × noradrenaline + 10 × milrinone
    /// + 10 000 × vasopressin (CRF.md §4).
    pub fn score(&self) -> f64 {
        self.dopamine_ug_per_kg_min
            + self.dobutamine_ug_per_kg_min
            + 100.0 * self.adrenaline_ug_per_kg_min
            + 100.0 * self.noradrenaline_ug_per_kg_min
            + 10.0 * self.milrinone_ug_per_kg_min
            + 10_000.0 * self.vasopressin_u_per_kg_min
    }
}

impl VasoactiveEntries {
    /// No dose entered yet, as a new form starts.
    pub fn blank() -> Self {
        Self {
            dopamine_ug_per_kg_min: None,
            dobutamine_ug_per_kg_min: None,
            adrenaline_ug_per_kg_min: None,
            noradrenaline_ug_per_kg_min: None,
            milrinone_ug_per_kg_min: None,
            vasopressin_u_per_kg_min: None,
        }
    }

    /// Each dose with its field, in the order the forms show them, for their
    /// checks.
    pub(crate) fn entries(&self) -> [(Field, &Option<Entry<f64>>); 6] {
        [
            (Field::DopamineUgPerKgMin, &self.dopamine_ug_per_kg_min),
            (Field::DobutamineUgPerKgMin, &self.dobutamine_ug_per_kg_min),
            (Field::AdrenalineUgPerKgMin, &self.adrenaline_ug_per_kg_min),
            (
                Field::NoradrenalineUgPerKgMin,
                &self.noradrenaline_ug_per_kg_min,
            ),
            (Field::MilrinoneUgPerKgMin, &self.milrinone_ug_per_kg_min),
            (Field::VasopressinUPerKgMin, &self.vasopressin_u_per_kg_min),
        ]
    }

    /// The six doses, when all were recorded as values: a dose recorded as not
    /// done leaves the score unknown rather than counting it as zero.
    pub fn doses(&self) -> Option<VasoactiveDoses> {
        let [
            dopamine,
            dobutamine,
            adrenaline,
            noradrenaline,
            milrinone,
            vasopressin,
        ] = self
            .entries()
            .map(|(_, entry)| entry.as_ref().and_then(Entry::value).copied());
        Some(VasoactiveDoses {
            dopamine_ug_per_kg_min: dopamine?,
            dobutamine_ug_per_kg_min: dobutamine?,
            adrenaline_ug_per_kg_min: adrenaline?,
            noradrenaline_ug_per_kg_min: noradrenaline?,
            milrinone_ug_per_kg_min: milrinone?,
            vasopressin_u_per_kg_min: vasopressin?,
        })
    }

    /// The vasoactive-inotropic score computed from the doses, when all six were
    /// recorded; meaningful once the form validates.
    pub fn score(&self) -> Option<f64> {
        self.doses().map(|doses| doses.score())
    }
}

/// A dose prescribed as a rate for the whole patient, per hour, which the forms
/// store per kg of body weight per minute (CRF.md §4): vasopressin, and pituitrin
/// (垂体后叶素) that Chinese ICUs give in its place, are prescribed in U/h. The
/// conversion lives here so what the tablet shows and what it stores agree; the
/// weight is the one recorded at screening.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HourlyRate {
    weight_kg: f64,
}

impl HourlyRate {
    /// The unit the rate is entered in.
    pub const UNIT: &'static str = "U/h";

    /// The rate for a patient of `weight_kg`, when it is a plausible weight: a
    /// dose converted with no weight, or a nonsense one, would be a wrong dose.
    pub fn for_weight(weight_kg: f64) -> Option<Self> {
        crate::field::check_limits(Field::WeightKg, weight_kg)
            .ok()
            .map(|weight_kg| Self { weight_kg })
    }

    /// Whether `field` is entered as an hourly rate.
    pub fn enters(field: Field) -> bool {
        field == Field::VasopressinUPerKgMin
    }

    /// The weight the rate is converted with, in kg.
    pub fn weight_kg(self) -> f64 {
        self.weight_kg
    }

    /// `per_hour` (U/h) as the stored dose, U/kg/min, to the 10⁻⁷ U/kg/min that is
    /// a thousandth of a score point: the digits shown are the digits stored.
    pub fn per_kg_min(self, per_hour: f64) -> f64 {
        (per_hour / self.weight_kg / 60.0 * 1e7).round() / 1e7
    }

    /// A stored dose (U/kg/min) as the rate it was entered as, U/h.
    pub fn per_hour(self, per_kg_min: f64) -> f64 {
        per_kg_min * self.weight_kg * 60.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_units_an_hour_for_seventy_kg_is_stored_per_kg_per_minute() {
        let rate = HourlyRate::for_weight(70.0).unwrap();
        let stored = rate.per_kg_min(2.0);
        assert_eq!(stored, 0.000_476_2);
        assert!((rate.per_hour(stored) - 2.0).abs() < 1e-3);
        // Its score: 10 000 × vasopressin (CRF.md §4).
        assert!((10_000.0 * stored - 4.762).abs() < 1e-9);
    }

    #[test]
    fn no_rate_without_a_plausible_weight() {
        assert_eq!(HourlyRate::for_weight(0.0), None);
        assert_eq!(HourlyRate::for_weight(f64::NAN), None);
        assert_eq!(HourlyRate::for_weight(900.0), None);
        assert!(HourlyRate::enters(Field::VasopressinUPerKgMin));
        assert!(!HourlyRate::enters(Field::NoradrenalineUgPerKgMin));
    }
}
