//! The consent record (CRF.md §2): who consented, when, and on which version of the
//! consent form. The person who took consent is the signed-in user who records the
//! event, so it is not typed here.

use serde::{Deserialize, Serialize};

use super::Checker;
use crate::field::{Field, FieldError};
use crate::time::Moment;

/// Who gave consent: the patient, or (often, on ECMO) a legally authorised
/// representative on the patient's behalf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentGivenBy {
    /// The patient personally.
    Patient,
    /// A legally authorised representative (a relative, as local law allows).
    LegallyAuthorisedRepresentative,
}

/// The consent form as entered; the payload of a `ConsentRecorded` event.
///
/// A patient who regains capacity may later consent personally: that is a second
/// `ConsentRecorded` event, and the projection keeps both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentForm {
    /// Who gave consent.
    pub given_by: ConsentGivenBy,
    /// When consent was given.
    pub consented_at: Moment,
    /// The version of the consent form signed, as printed on it (e.g. "2.1").
    pub form_version: String,
}

impl ConsentForm {
    /// Checks the form and returns every problem at once.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checker = Checker::new(&[]);
        checker.text(Field::ConsentFormVersion, &self.form_version);
        checker.finish()
    }
}
