//! The vasoactive-inotropic score (VIS), computed from the doses as CRF.md §4 defines
//! it, so no one types a score that disagrees with the doses beside it.

use super::Entry;

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

    /// The doses of a form, when all six were recorded as values: a dose recorded
    /// as not done leaves the score unknown rather than counting it as zero.
    pub(crate) fn from_entries(entries: [&Option<Entry<f64>>; 6]) -> Option<Self> {
        let [
            dopamine,
            dobutamine,
            adrenaline,
            noradrenaline,
            milrinone,
            vasopressin,
        ] = entries.map(|entry| entry.as_ref().and_then(Entry::value).copied());
        Some(Self {
            dopamine_ug_per_kg_min: dopamine?,
            dobutamine_ug_per_kg_min: dobutamine?,
            adrenaline_ug_per_kg_min: adrenaline?,
            noradrenaline_ug_per_kg_min: noradrenaline?,
            milrinone_ug_per_kg_min: milrinone?,
            vasopressin_u_per_kg_min: vasopressin?,
        })
    }
}
