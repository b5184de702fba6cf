//! How a participant's part in the trial ends (CRF.md §10): completed, withdrawn (by
//! whom and why) or lost to follow-up. The allocated arm never changes (intention to
//! treat), so none of these touches the randomisation.

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

impl Withdrawal {
    /// Checks the withdrawal and returns every problem at once.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checker = Checker::new(&[]);
        checker.text(Field::WithdrawalReason, &self.reason);
        checker.finish()
    }
}
