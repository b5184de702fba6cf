//! How a participant's part in the trial ends (CRF.md §10): completed, withdrawn (by
//! whom and why) or lost to follow-up. The allocated arm never changes (intention to
//! treat), so none of these touches the randomisation. And how a screened patient's
//! part ends without enrolment (CRF.md §1), with the reason the CONSORT flow counts.

use serde::{Deserialize, Serialize};

use super::Checker;
use crate::field::{Field, FieldError};

/// Who withdrew the participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawnBy {
    /// The participant withdrew consent.
    Participant,
    /// The legally authorised representative withdrew consent.
    LegallyAuthorisedRepresentative,
    /// The investigator withdrew the participant (for example for safety).
    Investigator,
}

/// A withdrawal; the payload of a `Withdrawn` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    /// Who withdrew the participant.
    pub by: WithdrawnBy,
    /// Why, in the user's words; required, because the reason matters to the
    /// analysis and to the ethics committee.
    pub reason: String,
}

/// How follow-up ended other than by withdrawal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndStatus {
    /// Follow-up completed as planned (day 28, including death before it).
    Completed,
    /// The participant could not be followed up.
    LostToFollowUp,
}

/// The end of follow-up; the payload of an `EndOfParticipation` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndOfParticipation {
    /// How follow-up ended.
    pub status: EndStatus,
}

/// Why a screened patient was not enrolled (CRF.md §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotEnrolledReason {
    /// An inclusion criterion was not met or an exclusion applied.
    Ineligible,
    /// The patient or their representative refused consent.
    ConsentRefused,
    /// ECMO had run for 24 hours before the patient could be randomised.
    MissedWindow,
    /// Anything else, said in the details.
    Other,
}

/// A screened patient not enrolled; the payload of a `NotEnrolled` event. It closes
/// the screening: the patient cannot be randomised unless a later screening
/// reopens it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotEnrolled {
    /// Why.
    pub reason: NotEnrolledReason,
    /// More about why, in the user's words: required for "other", optional else.
    #[serde(default)]
    pub details: String,
}

impl NotEnrolled {
    /// Checks the record and returns every problem at once.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checker = Checker::new(&[]);
        if self.reason == NotEnrolledReason::Other || !self.details.trim().is_empty() {
            checker.text(Field::NotEnrolledDetails, &self.details);
        }
        checker.finish()
    }
}

impl Withdrawal {
    /// Checks the withdrawal and returns every problem at once.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checker = Checker::new(&[]);
        checker.text(Field::WithdrawalReason, &self.reason);
        checker.finish()
    }
}
