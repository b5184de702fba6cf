//! The baseline form (CRF.md §4), recorded once at T0: the cause of shock, severity
//! scores, haemodynamics, ECMO settings, laboratory values and vasoactive doses. The
//! vasoactive-inotropic score is computed from the doses, never typed.

use serde::{Deserialize, Serialize};

use super::vasoactive::VasoactiveEntries;
use super::{Checker, Entry};
use crate::field::{Field, FieldError};

/// The cause of cardiogenic shock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShockCause {
    /// Acute myocardial infarction.
    AcuteMyocardialInfarction,
    /// Fulminant myocarditis.
    FulminantMyocarditis,
    /// After cardiac surgery.
    PostCardiotomy,
    /// Decompensation of a dilated or ischaemic cardiomyopathy.
    CardiomyopathyDecompensation,
    /// Any other cause.
    Other,
}

/// The baseline form as entered; carried by a `FormSaved` event.
///
/// Every field is blank (`None`) until entered; [`BaselineForm::validate`] requires
/// each to hold a value or "not done" with a reason, except ECPR, which is asked
/// only after a cardiac arrest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // Each field is the CRF.md §4 item of the same name (Field::label).
pub struct BaselineForm {
    #[serde(default)]
    pub shock_cause: Option<Entry<ShockCause>>,
    #[serde(default)]
    pub cardiac_arrest: Option<Entry<bool>>,
    #[serde(default)]
    pub ecpr: Option<Entry<bool>>,
    #[serde(default)]
    pub sofa_score: Option<Entry<i32>>,
    #[serde(default)]
    pub apache_ii_score: Option<Entry<i32>>,
    #[serde(default)]
    pub save_score: Option<Entry<i32>>,
    #[serde(default)]
    pub mean_arterial_pressure_mmhg: Option<Entry<f64>>,
    #[serde(default)]
    pub heart_rate_per_min: Option<Entry<f64>>,
    #[serde(default)]
    pub lactate_mmol_per_l: Option<Entry<f64>>,
    #[serde(default)]
    pub ecmo_flow_l_per_min: Option<Entry<f64>>,
    #[serde(default)]
    pub sweep_gas_l_per_min: Option<Entry<f64>>,
    #[serde(default)]
    pub platelets_e9_per_l: Option<Entry<f64>>,
    #[serde(default)]
    pub haemoglobin_g_per_l: Option<Entry<f64>>,
    #[serde(default)]
    pub creatinine_umol_per_l: Option<Entry<f64>>,
    #[serde(default)]
    pub bilirubin_umol_per_l: Option<Entry<f64>>,
    /// The six vasoactive doses, checked and scored as on the other form that asks
    /// for them. Flattened: their keys stand in this form's JSON last, after `bilirubin_umol_per_l`,
    /// where the records already in the field have them.
    #[serde(flatten)]
    pub vasoactive: VasoactiveEntries,
}

impl BaselineForm {
    /// A new, empty form.
    pub fn blank() -> Self {
        Self {
            shock_cause: None,
            cardiac_arrest: None,
            ecpr: None,
            sofa_score: None,
            apache_ii_score: None,
            save_score: None,
            mean_arterial_pressure_mmhg: None,
            heart_rate_per_min: None,
            lactate_mmol_per_l: None,
            ecmo_flow_l_per_min: None,
            sweep_gas_l_per_min: None,
            platelets_e9_per_l: None,
            haemoglobin_g_per_l: None,
            creatinine_umol_per_l: None,
            bilirubin_umol_per_l: None,
            vasoactive: VasoactiveEntries::blank(),
        }
    }

    /// Checks every field and returns every problem at once; values in a warning
    /// range pass only when their field is in `confirmed`.
    ///
    /// ECPR is required after a cardiac arrest and contradicts "no arrest"; with the
    /// arrest not done, ECPR may be given or left blank.
    pub fn validate(&self, confirmed: &[Field]) -> Result<(), Vec<FieldError>> {
        let mut checker = Checker::new(confirmed);
        checker.required(Field::ShockCause, &self.shock_cause);
        let arrest = checker.required(Field::CardiacArrest, &self.cardiac_arrest);
        let ecpr = match arrest {
            Some(true) => checker.required(Field::Ecpr, &self.ecpr),
            _ => checker.optional(Field::Ecpr, &self.ecpr),
        };
        if arrest == Some(&false) && ecpr == Some(&true) {
            checker.push(FieldError::Contradiction {
                field: Field::Ecpr,
                other: Field::CardiacArrest,
            });
        }
        checker.required_integer(Field::SofaScore, &self.sofa_score);
        checker.required_integer(Field::ApacheIiScore, &self.apache_ii_score);
        checker.required_integer(Field::SaveScore, &self.save_score);
        for (field, entry) in [
            (
                Field::MeanArterialPressureMmhg,
                &self.mean_arterial_pressure_mmhg,
            ),
            (Field::HeartRatePerMin, &self.heart_rate_per_min),
            (Field::LactateMmolPerL, &self.lactate_mmol_per_l),
            (Field::EcmoFlowLPerMin, &self.ecmo_flow_l_per_min),
            (Field::SweepGasLPerMin, &self.sweep_gas_l_per_min),
            (Field::PlateletsE9PerL, &self.platelets_e9_per_l),
            (Field::HaemoglobinGPerL, &self.haemoglobin_g_per_l),
            (Field::CreatinineUmolPerL, &self.creatinine_umol_per_l),
            (Field::BilirubinUmolPerL, &self.bilirubin_umol_per_l),
        ]
        .into_iter()
        .chain(self.vasoactive.entries())
        {
            checker.required_number(field, entry);
        }
        checker.finish()
    }
}
