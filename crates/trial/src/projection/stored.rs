//! A participant's state (and its summary) as a holder keeps it beside its log,
//! as JSON text: a tablet reads it at start-up instead of folding its whole log
//! again, and writes it in the same transaction as the event that changed it.
//!
//! The text is this build's own, not a promise to other versions: whoever keeps
//! it stamps it with the build and `crate::payload::SCHEMA_VERSION` that wrote it
//! and folds the log again when either differs. What the state holds of other
//! modules' types that have no serialised form of their own (an error, an
//! eligibility outcome, a conflict) is written through a mirror here, so their
//! modules promise nothing; the types that do have one (forms, fields, field
//! errors) keep it. A validated screening is kept as its form and checked again
//! when read, since only `Screening::parse` makes one.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use super::model::{Anomaly, FormRecord, OrderKey, Participant, Provenance, Recorded};
use super::summary::Summary;
use crate::casebook::CasebookSigned;
use crate::crf::consent::ConsentForm;
use crate::crf::cytokine::TimePoint;
use crate::crf::end::{EndOfParticipation, EndStatus, NotEnrolled, Withdrawal};
use crate::crf::{FormKind, FormRef};
use crate::edits::{Conflict, Subject, SubjectState};
use crate::eligibility::{Criterion, Outcome};
use crate::event::{EventKind, Hash};
use crate::field::{Field, FieldError};
use crate::payload::{PayloadError, Randomised, StudyNumber};
use crate::randomisation::Arm;
use crate::screening::{Screening, ScreeningForm};
use crate::time::{Calendar, Moment};

/// Occurs when a stored state cannot be read back: text another build wrote, or
/// damaged. The holder folds the participant again from the log.
#[derive(Clone, Debug, PartialEq)]
pub enum StoredError {
    /// Occurs when the text is not a state of this build's shape; carries the
    /// JSON reader's words.
    Malformed(String),
    /// Occurs when the stored screening no longer passes its checks.
    InvalidScreening(Vec<FieldError>),
}

impl fmt::Display for StoredError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(message) => write!(f, "a stored state does not read: {message}"),
            Self::InvalidScreening(errors) => {
                write!(f, "a stored screening fails {} of its checks", errors.len())
            }
        }
    }
}

impl std::error::Error for StoredError {}

impl Participant {
    /// The state as JSON text, to keep beside the log (module doc).
    pub fn to_stored(&self) -> String {
        let repr = ParticipantRef {
            id: self.id,
            screening_number: &self.screening_number,
            screened_on: self.screened_on,
            first_randomisation: self.first_randomisation,
            unreadable_randomisation: self.unreadable_randomisation,
            screening: self.screening.as_ref().map(|screening| Recorded {
                value: screening.value.form(),
                by: screening.by,
            }),
            screenings: &self.screenings,
            consents: &self.consents,
            randomisation: &self.randomisation,
            forms: self.forms.values().collect(),
            withdrawal: &self.withdrawal,
            not_enrolled: &self.not_enrolled,
            end: &self.end,
            records: &self.records,
            signature: &self.signature,
            subjects: self
                .subjects
                .iter()
                .map(|(subject, state)| (SubjectRepr::from(*subject), state))
                .collect(),
            conflicts: self.conflicts.iter().map(ConflictRepr::from).collect(),
            anomalies: &self.anomalies,
            first: self.first,
            last: self.last,
            events: self.events,
        };
        serde_json::to_string(&repr).expect("invariant: a participant's state serialises")
    }

    /// The state [`Participant::to_stored`] wrote, with dates read in `calendar`
    /// (which the holder's stamp names).
    pub fn from_stored(json: &str, calendar: &Calendar) -> Result<Self, StoredError> {
        let repr: ParticipantRepr = serde_json::from_str(json).map_err(malformed)?;
        let screening = match repr.screening {
            Some(recorded) => Some(Recorded {
                value: Screening::parse(&recorded.value).map_err(StoredError::InvalidScreening)?,
                by: recorded.by,
            }),
            None => None,
        };
        Ok(Self {
            id: repr.id,
            calendar: calendar.clone(),
            screening_number: repr.screening_number,
            screened_on: repr.screened_on,
            first_randomisation: repr.first_randomisation,
            unreadable_randomisation: repr.unreadable_randomisation,
            screening,
            screenings: repr.screenings,
            consents: repr.consents,
            randomisation: repr.randomisation,
            forms: repr
                .forms
                .into_iter()
                .map(|record| (record.form.form_ref(), record))
                .collect(),
            withdrawal: repr.withdrawal,
            not_enrolled: repr.not_enrolled,
            end: repr.end,
            records: repr.records,
            signature: repr.signature,
            subjects: repr
                .subjects
                .into_iter()
                .map(|(subject, state)| (subject.into(), state))
                .collect(),
            conflicts: repr.conflicts.into_iter().map(Conflict::from).collect(),
            anomalies: repr.anomalies,
            first: repr.first,
            last: repr.last,
            events: repr.events,
        })
    }
}

impl Summary {
    /// The summary as JSON text, to keep beside the participant's state.
    pub fn to_stored(&self) -> String {
        let repr = SummaryRef {
            id: self.id,
            first: self.first,
            events: self.events,
            screening_number: &self.screening_number,
            study_number: &self.study_number,
            arm: self.arm,
            randomised_at: self.randomised_at,
            screening: self.screening.as_ref().map(Screening::form),
            withdrawn: self.withdrawn,
            end: self.end,
            not_enrolled: self.not_enrolled,
            sampled: &self.sampled,
        };
        serde_json::to_string(&repr).expect("invariant: a summary serialises")
    }

    /// The summary [`Summary::to_stored`] wrote, with dates read in `calendar`.
    pub fn from_stored(json: &str, calendar: &Calendar) -> Result<Self, StoredError> {
        let repr: SummaryRepr = serde_json::from_str(json).map_err(malformed)?;
        Ok(Self {
            id: repr.id,
            calendar: calendar.clone(),
            first: repr.first,
            events: repr.events,
            screening_number: repr.screening_number,
            study_number: repr.study_number,
            arm: repr.arm,
            randomised_at: repr.randomised_at,
            screening: repr
                .screening
                .as_ref()
                .map(Screening::parse)
                .transpose()
                .map_err(StoredError::InvalidScreening)?,
            withdrawn: repr.withdrawn,
            end: repr.end,
            not_enrolled: repr.not_enrolled,
            sampled: repr.sampled,
        })
    }
}

fn malformed(error: serde_json::Error) -> StoredError {
    StoredError::Malformed(error.to_string())
}

/// A participant's state, borrowed, as it is written.
#[derive(Serialize)]
struct ParticipantRef<'a> {
    id: Uuid,
    screening_number: &'a Option<String>,
    screened_on: Option<Uuid>,
    first_randomisation: Option<Uuid>,
    unreadable_randomisation: Option<Uuid>,
    screening: Option<Recorded<&'a ScreeningForm>>,
    screenings: &'a [Provenance],
    consents: &'a [Recorded<ConsentForm>],
    randomisation: &'a Option<Recorded<Randomised>>,
    forms: Vec<&'a FormRecord>,
    withdrawal: &'a Option<Recorded<Withdrawal>>,
    not_enrolled: &'a Option<Recorded<NotEnrolled>>,
    end: &'a Option<Recorded<EndOfParticipation>>,
    records: &'a BTreeMap<Uuid, Hash>,
    signature: &'a Option<Recorded<CasebookSigned>>,
    subjects: Vec<(SubjectRepr, &'a SubjectState)>,
    conflicts: Vec<ConflictRepr>,
    anomalies: &'a [Anomaly],
    first: Option<OrderKey>,
    last: Option<OrderKey>,
    events: u32,
}

/// A participant's state as it is read back: [`ParticipantRef`], owned.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParticipantRepr {
    id: Uuid,
    screening_number: Option<String>,
    screened_on: Option<Uuid>,
    first_randomisation: Option<Uuid>,
    unreadable_randomisation: Option<Uuid>,
    screening: Option<Recorded<ScreeningForm>>,
    screenings: Vec<Provenance>,
    consents: Vec<Recorded<ConsentForm>>,
    randomisation: Option<Recorded<Randomised>>,
    forms: Vec<FormRecord>,
    withdrawal: Option<Recorded<Withdrawal>>,
    not_enrolled: Option<Recorded<NotEnrolled>>,
    end: Option<Recorded<EndOfParticipation>>,
    records: BTreeMap<Uuid, Hash>,
    signature: Option<Recorded<CasebookSigned>>,
    subjects: Vec<(SubjectRepr, SubjectState)>,
    conflicts: Vec<ConflictRepr>,
    anomalies: Vec<Anomaly>,
    first: Option<OrderKey>,
    last: Option<OrderKey>,
    events: u32,
}

/// A summary, borrowed, as it is written; the screening as its form.
#[derive(Serialize)]
struct SummaryRef<'a> {
    id: Uuid,
    first: Option<OrderKey>,
    events: u32,
    screening_number: &'a Option<String>,
    study_number: &'a Option<StudyNumber>,
    arm: Option<Arm>,
    randomised_at: Option<Moment>,
    screening: Option<&'a ScreeningForm>,
    withdrawn: bool,
    end: Option<EndStatus>,
    not_enrolled: bool,
    sampled: &'a [TimePoint],
}

/// A summary as it is read back: [`SummaryRef`], owned.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SummaryRepr {
    id: Uuid,
    first: Option<OrderKey>,
    events: u32,
    screening_number: Option<String>,
    study_number: Option<StudyNumber>,
    arm: Option<Arm>,
    randomised_at: Option<Moment>,
    screening: Option<ScreeningForm>,
    withdrawn: bool,
    end: Option<EndStatus>,
    not_enrolled: bool,
    sampled: Vec<TimePoint>,
}

/// [`Subject`], written.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SubjectRepr {
    Screening,
    Form(FormRef),
}

impl From<Subject> for SubjectRepr {
    fn from(subject: Subject) -> Self {
        match subject {
            Subject::Screening => Self::Screening,
            Subject::Form(form) => Self::Form(form),
        }
    }
}

impl From<SubjectRepr> for Subject {
    fn from(subject: SubjectRepr) -> Self {
        match subject {
            SubjectRepr::Screening => Self::Screening,
            SubjectRepr::Form(form) => Self::Form(form),
        }
    }
}

/// [`Conflict`], written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConflictRepr {
    subject: SubjectRepr,
    field: Field,
    shown: Provenance,
    shown_value: Value,
    overridden: Provenance,
    overridden_value: Value,
}

impl From<&Conflict> for ConflictRepr {
    fn from(conflict: &Conflict) -> Self {
        Self {
            subject: conflict.subject.into(),
            field: conflict.field,
            shown: conflict.shown,
            shown_value: conflict.shown_value.clone(),
            overridden: conflict.overridden,
            overridden_value: conflict.overridden_value.clone(),
        }
    }
}

impl From<ConflictRepr> for Conflict {
    fn from(conflict: ConflictRepr) -> Self {
        Self {
            subject: conflict.subject.into(),
            field: conflict.field,
            shown: conflict.shown,
            shown_value: conflict.shown_value,
            overridden: conflict.overridden,
            overridden_value: conflict.overridden_value,
        }
    }
}

/// [`PayloadError`] through a mirror: `#[serde(with = "payload_error")]`.
pub(super) mod payload_error {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case", deny_unknown_fields)]
    enum Repr {
        UnsupportedSchemaVersion {
            found: u32,
            supported: u32,
        },
        NewerSchemaVersion {
            found: u32,
            supported: u32,
        },
        NotUpgradable {
            kind: EventKind,
            found: u32,
            message: String,
        },
        Malformed {
            kind: EventKind,
            message: String,
        },
        Invalid {
            kind: EventKind,
            errors: Vec<FieldError>,
        },
        FieldNotOnForm {
            form: FormKind,
            field: Field,
        },
    }

    /// Writes the error through its mirror.
    pub(in crate::projection) fn serialize<S: Serializer>(
        error: &PayloadError,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let repr = match error.clone() {
            PayloadError::UnsupportedSchemaVersion { found, supported } => {
                Repr::UnsupportedSchemaVersion { found, supported }
            }
            PayloadError::NewerSchemaVersion { found, supported } => {
                Repr::NewerSchemaVersion { found, supported }
            }
            PayloadError::NotUpgradable {
                kind,
                found,
                message,
            } => Repr::NotUpgradable {
                kind,
                found,
                message,
            },
            PayloadError::Malformed { kind, message } => Repr::Malformed { kind, message },
            PayloadError::Invalid { kind, errors } => Repr::Invalid { kind, errors },
            PayloadError::FieldNotOnForm { form, field } => Repr::FieldNotOnForm { form, field },
        };
        repr.serialize(serializer)
    }

    /// Reads the error back from its mirror.
    pub(in crate::projection) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<PayloadError, D::Error> {
        Ok(match Repr::deserialize(deserializer)? {
            Repr::UnsupportedSchemaVersion { found, supported } => {
                PayloadError::UnsupportedSchemaVersion { found, supported }
            }
            Repr::NewerSchemaVersion { found, supported } => {
                PayloadError::NewerSchemaVersion { found, supported }
            }
            Repr::NotUpgradable {
                kind,
                found,
                message,
            } => PayloadError::NotUpgradable {
                kind,
                found,
                message,
            },
            Repr::Malformed { kind, message } => PayloadError::Malformed { kind, message },
            Repr::Invalid { kind, errors } => PayloadError::Invalid { kind, errors },
            Repr::FieldNotOnForm { form, field } => PayloadError::FieldNotOnForm { form, field },
        })
    }
}

/// An eligibility [`Outcome`] through a mirror, criteria by their protocol
/// code: `#[serde(with = "outcome")]`.
pub(super) mod outcome {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case", deny_unknown_fields)]
    enum Repr {
        Eligible,
        Ineligible { failed: Vec<String> },
        Incomplete { missing: Vec<Field> },
    }

    /// Writes the outcome through its mirror.
    pub(in crate::projection) fn serialize<S: Serializer>(
        outcome: &Outcome,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let repr = match outcome {
            Outcome::Eligible => Repr::Eligible,
            Outcome::Ineligible { failed } => Repr::Ineligible {
                failed: failed
                    .iter()
                    .map(|criterion| criterion.code().to_owned())
                    .collect(),
            },
            Outcome::Incomplete { missing } => Repr::Incomplete {
                missing: missing.clone(),
            },
        };
        repr.serialize(serializer)
    }

    /// Reads the outcome back from its mirror.
    pub(in crate::projection) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Outcome, D::Error> {
        Ok(match Repr::deserialize(deserializer)? {
            Repr::Eligible => Outcome::Eligible,
            Repr::Ineligible { failed } => Outcome::Ineligible {
                failed: failed
                    .iter()
                    .map(|code| {
                        Criterion::ALL
                            .into_iter()
                            .find(|criterion| criterion.code() == code)
                            .ok_or_else(|| serde::de::Error::custom(format!("no criterion {code}")))
                    })
                    .collect::<Result<_, _>>()?,
            },
            Repr::Incomplete { missing } => Outcome::Incomplete { missing },
        })
    }
}
