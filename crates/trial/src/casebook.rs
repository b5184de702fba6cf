//! Investigator sign-off (issue 13 item 7, 21 CFR 11.50): the bodies of a
//! signature and of an unlock, the one stated meaning of a signature, and the
//! digest that says what was signed.
//!
//! A signature is an event on the site's console device like a console
//! correction, so it is hash-chained, verified by the push's rules and pulled by
//! every tablet. It names what it covers by a digest of the participant's other
//! events (their ids and hashes, `digest`), not by the order they were folded in:
//! the casebook a signature covers is exactly the set of records the signer saw.
//! Once signed, the casebook is locked ([`crate::projection::Participant::check_editable`]):
//! no form is saved or corrected on a tablet or in the console until the
//! coordinator unlocks it with a reason. A record a tablet made offline before it
//! learnt of the signature is never refused (a bedside record is never lost); it
//! changes the set, so the signature no longer covers the casebook and reads as
//! "changed after signing" until the investigator signs again.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::console::{ConsoleAction, ConsoleRole};
use crate::crf::MAX_TEXT_CHARS;
use crate::event::{Event, EventKind, Hash};
use crate::payload::Payload;
use crate::projection::{Participant, Provenance, Recorded};

/// The domain tag of a casebook digest, so it never equals any other hash this
/// project computes.
const DIGEST_TAG: &[u8] = b"hp-ecmo/casebook/v1\0";

/// The longest signer's name a signature holds, in characters: a console
/// account's name.
pub const MAX_SIGNER_NAME_CHARS: usize = 200;

/// What a signature means, stated beside it wherever it is shown (21 CFR
/// 11.50(a)(3)). Stored by its snake_case name; one meaning today, and new ones
/// are appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SignatureMeaning {
    /// The investigator reviewed the whole casebook and confirms its data.
    ReviewedAndConfirmed,
}

/// The body of a [`EventKind::CasebookSigned`] event: who signed, as what, what
/// the signature means and what it covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasebookSigned {
    /// The signer's printed name, as their console account names them at signing
    /// (21 CFR 11.50(a)(1)): the record says who signed even if the account is
    /// renamed later.
    pub signer_name: String,
    /// The signer's role; only an investigator signs.
    pub signer_role: ConsoleRole,
    /// What the signature means.
    pub meaning: SignatureMeaning,
    /// How many of the participant's records the signature covers.
    pub records: u32,
    /// The digest of those records ([`digest`]).
    pub digest: Hash,
}

/// The body of a [`EventKind::CasebookUnlocked`] event: why the coordinator
/// opened a signed casebook again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasebookUnlocked {
    /// Why, in the coordinator's words; required.
    pub reason: String,
}

/// `POST /api/console/casebooks/sign`: the investigator's signature of the
/// casebook they reviewed, with their password typed again (21 CFR 11.200(a)).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The participant whose casebook is signed.
    pub participant_id: Uuid,
    /// The signer's password, again.
    pub password: String,
    /// The meaning the signer was shown and acknowledges: [`SignatureMeaning::CURRENT`].
    pub meaning: SignatureMeaning,
    /// The digest of the casebook as the signer reviewed it ([`CasebookReview::digest`]):
    /// a record that arrived since makes the server refuse, so no one signs what
    /// they did not see.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub digest: Hash,
}

/// `POST /api/console/casebooks/unlock`: the coordinator opens a signed
/// casebook for a correction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UnlockRequest {
    /// The participant whose casebook is unlocked.
    pub participant_id: Uuid,
    /// Why: 1 to [`MAX_TEXT_CHARS`] characters once trimmed.
    pub reason: String,
}

/// The query of `GET /api/console/casebooks?site=BJ`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct CasebooksQuery {
    /// The site's code.
    #[cfg_attr(feature = "openapi", param(example = "BJ"))]
    pub site: String,
}

/// The query of `GET /api/console/casebook?participant=…`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct CasebookQuery {
    /// The participant's id.
    pub participant: Uuid,
}

/// Where a casebook stands, on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CasebookStatus {
    /// Never signed, or unlocked since.
    Open,
    /// Signed, and the signature covers every record.
    Signed,
    /// Signed, and a record arrived since: to sign again.
    ChangedAfterSigning,
}

/// One participant in the list a reviewer picks from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CasebookSummary {
    /// The participant.
    pub participant_id: Uuid,
    /// The screening number.
    pub screening_number: Option<String>,
    /// The study number, once randomised.
    pub study_number: Option<String>,
    /// Where the casebook stands.
    pub status: CasebookStatus,
}

/// `GET /api/console/casebooks`: a site's participants, in the order the
/// server first heard of each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CasebooksResponse {
    /// The casebooks.
    pub casebooks: Vec<CasebookSummary>,
}

/// A signature as a reviewer reads it: the printed name, the role, the meaning
/// in both languages and when (21 CFR 11.50(a)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignatureView {
    /// The signature's event.
    pub event_id: Uuid,
    /// The signer's printed name.
    pub signer_name: String,
    /// The signer's role.
    pub signer_role: ConsoleRole,
    /// The meaning's stored name.
    pub meaning: SignatureMeaning,
    /// The meaning in English.
    pub meaning_en: String,
    /// The meaning in Chinese.
    pub meaning_zh: String,
    /// When it was signed, in UTC milliseconds.
    pub signed_at_ms: i64,
    /// How many records it covers.
    pub records: u32,
}

/// One value's change, with who made it, on which device, when and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewedChange {
    /// The field's key.
    pub field: String,
    /// The entry before; none for a form's first save.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub old: Option<serde_json::Value>,
    /// The entry after.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub new: serde_json::Value,
    /// The reason given for a correction.
    pub reason: Option<String>,
    /// Who, by name.
    pub user: String,
    /// On which device, by label.
    pub device: String,
    /// When, in UTC milliseconds.
    pub recorded_at_ms: i64,
}

/// One field's entry as it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewedValue {
    /// The field's key.
    pub field: String,
    /// Its entry, as the form stores it (`null` when blank).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub entry: serde_json::Value,
}

/// One form instance as it stands, with its whole history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewedForm {
    /// The form instance.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub form: crate::crf::FormRef,
    /// Each field's current entry, in the form's order.
    pub values: Vec<ReviewedValue>,
    /// Every change, oldest first.
    pub history: Vec<ReviewedChange>,
}

/// One record of the casebook, for its timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewedEvent {
    /// The event.
    pub event_id: Uuid,
    /// Its kind's stored name.
    pub kind: String,
    /// Who, by name.
    pub user: String,
    /// On which device, by label.
    pub device: String,
    /// When, in UTC milliseconds.
    pub recorded_at_ms: i64,
    /// The reason of an unlock.
    pub reason: Option<String>,
}

/// `GET /api/console/casebook`: one participant's whole casebook, for the
/// investigator to review before signing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CasebookReview {
    /// The participant.
    pub participant_id: Uuid,
    /// The participant's site.
    pub site: String,
    /// The screening number.
    pub screening_number: Option<String>,
    /// The study number, once randomised.
    pub study_number: Option<String>,
    /// Where the casebook stands.
    pub status: CasebookStatus,
    /// The signature that stands, if one does.
    pub signature: Option<SignatureView>,
    /// How many records a signature made now covers.
    pub records: u32,
    /// Their digest, which a [`SignRequest`] sends back.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub digest: Hash,
    /// Every saved form instance, with its history.
    pub forms: Vec<ReviewedForm>,
    /// Every record, signatures and unlocks included, oldest first.
    pub timeline: Vec<ReviewedEvent>,
}

impl fmt::Debug for SignRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignRequest")
            .field("participant_id", &self.participant_id)
            .field("password", &"…")
            .field("meaning", &self.meaning)
            .field("digest", &self.digest)
            .finish()
    }
}

impl CasebookReview {
    /// The review of `participant`, folded from `events` (every record of theirs
    /// the server accepted) at `site`; `user` and `device` name an id.
    pub fn of(
        site: &str,
        participant: &Participant,
        events: &[Event],
        user: impl Fn(Uuid) -> String,
        device: impl Fn(Uuid) -> String,
    ) -> Self {
        let (records, digest) = participant.casebook_contents();
        let signature = match participant.casebook() {
            Casebook::Open => None,
            Casebook::Signed(signature) | Casebook::ChangedAfterSigning(signature) => {
                Some(SignatureView::of(signature))
            }
        };
        let forms = participant
            .forms()
            .map(|record| {
                let form = record.form();
                ReviewedForm {
                    form: form.form_ref(),
                    values: form
                        .shown_fields()
                        .into_iter()
                        .map(|field| ReviewedValue {
                            field: field.key().to_owned(),
                            entry: form.value(field).unwrap_or(serde_json::Value::Null),
                        })
                        .collect(),
                    history: record
                        .history()
                        .iter()
                        .map(|change| ReviewedChange {
                            field: change.field.key().to_owned(),
                            old: change.old.clone(),
                            new: change.new.clone(),
                            reason: change.reason.clone(),
                            user: user(change.by.user_id),
                            device: device(change.by.device_id),
                            recorded_at_ms: change.by.recorded_at.utc_ms(),
                        })
                        .collect(),
                }
            })
            .collect();
        let mut timeline: Vec<ReviewedEvent> = events
            .iter()
            .map(|event| ReviewedEvent {
                event_id: event.id(),
                kind: event.kind().as_str().to_owned(),
                user: user(event.user_id()),
                device: device(event.device_id()),
                recorded_at_ms: event.recorded_at().utc_ms(),
                reason: match Payload::parse(event.kind(), event.schema_version(), event.payload())
                {
                    Ok(Payload::CasebookUnlocked(unlock)) => Some(unlock.reason),
                    _ => None,
                },
            })
            .collect();
        timeline.sort_by_key(|entry| (entry.recorded_at_ms, entry.event_id));
        Self {
            participant_id: participant.id(),
            site: site.to_owned(),
            screening_number: participant.screening_number().map(str::to_owned),
            study_number: participant
                .study_number()
                .map(|number| number.as_str().to_owned()),
            status: CasebookStatus::of(participant.casebook()),
            signature,
            records,
            digest,
            forms,
            timeline,
        }
    }
}

impl SignatureView {
    /// The signature recorded in `signature`.
    pub fn of(signature: &Recorded<CasebookSigned>) -> Self {
        let body = &signature.value;
        Self {
            event_id: signature.by.event_id,
            signer_name: body.signer_name.clone(),
            signer_role: body.signer_role,
            meaning: body.meaning,
            meaning_en: body.meaning.english().to_owned(),
            meaning_zh: body.meaning.chinese().to_owned(),
            signed_at_ms: signature.by.recorded_at.utc_ms(),
            records: body.records,
        }
    }
}

impl CasebookStatus {
    /// The status of `casebook`.
    pub fn of(casebook: Casebook<'_>) -> Self {
        match casebook {
            Casebook::Open => Self::Open,
            Casebook::Signed(_) => Self::Signed,
            Casebook::ChangedAfterSigning(_) => Self::ChangedAfterSigning,
        }
    }
}

/// Occurs when a signature's or an unlock's body breaks its rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CasebookError {
    /// Occurs when the signer's name is blank or longer than
    /// [`MAX_SIGNER_NAME_CHARS`].
    SignerName {
        /// The name's length in characters.
        length: usize,
    },
    /// Occurs when the signer's role may not sign a casebook.
    SignerRole {
        /// The role named.
        role: ConsoleRole,
    },
    /// Occurs when an unlock gives no reason.
    ReasonBlank,
    /// Occurs when an unlock's reason is longer than [`MAX_TEXT_CHARS`].
    ReasonTooLong {
        /// Its length in characters.
        length: usize,
    },
}

/// Where a participant's casebook stands, as
/// [`crate::projection::Participant::casebook`] reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Casebook<'a> {
    /// Never signed, or unlocked since the last signature: forms may be saved and
    /// corrected.
    Open,
    /// Signed, and the signature covers every record: locked.
    Signed(&'a Recorded<CasebookSigned>),
    /// Signed, but a record arrived since that the signature does not cover (made
    /// offline on a tablet that had not yet learnt of it): still locked, and the
    /// signature needs signing again.
    ChangedAfterSigning(&'a Recorded<CasebookSigned>),
}

/// Why a casebook action is refused now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CasebookRefusal {
    /// Occurs when a form is saved or corrected while a signature stands.
    Locked {
        /// The signature.
        by: Provenance,
    },
    /// Occurs when the investigator signs a casebook that a signature covers
    /// already.
    AlreadySigned {
        /// The signature.
        by: Provenance,
    },
    /// Occurs when the investigator signs a casebook that holds no record.
    NothingToSign,
    /// Occurs when the coordinator unlocks a casebook that no signature locks.
    NotSigned,
}

impl SignatureMeaning {
    /// The meaning every signature made today states.
    pub const CURRENT: Self = Self::ReviewedAndConfirmed;

    /// Every meaning, for the ODM file's `SignatureDef`s.
    pub const ALL: [Self; 1] = [Self::ReviewedAndConfirmed];

    /// The meaning in English, as the signer reads it before signing and every
    /// reader after.
    pub fn english(self) -> &'static str {
        match self {
            Self::ReviewedAndConfirmed => {
                "I have reviewed this casebook and confirm that its data are complete, \
                 accurate and attributable."
            }
        }
    }

    /// The meaning in Chinese, the same statement.
    pub fn chinese(self) -> &'static str {
        match self {
            Self::ReviewedAndConfirmed => {
                "本人已审阅该受试者的全部病例报告表，确认其数据完整、准确、可溯源。"
            }
        }
    }

    /// The meaning's stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReviewedAndConfirmed => "reviewed_and_confirmed",
        }
    }
}

impl CasebookSigned {
    /// Checks the signature's body on its own: a name to print and a role that
    /// signs. What it covers is checked against the casebook by the projection.
    pub fn validate(&self) -> Result<(), CasebookError> {
        let length = self.signer_name.chars().count();
        if self.signer_name.trim().is_empty() || length > MAX_SIGNER_NAME_CHARS {
            return Err(CasebookError::SignerName { length });
        }
        if !self.signer_role.may(ConsoleAction::SignCasebook) {
            return Err(CasebookError::SignerRole {
                role: self.signer_role,
            });
        }
        Ok(())
    }
}

impl CasebookUnlocked {
    /// An unlock for `reason`, which must be given and at most
    /// [`MAX_TEXT_CHARS`] characters long.
    pub fn new(reason: &str) -> Result<Self, CasebookError> {
        let unlock = Self {
            reason: reason.trim().to_owned(),
        };
        unlock.validate()?;
        Ok(unlock)
    }

    /// Checks the reason, as [`CasebookUnlocked::new`] does.
    pub fn validate(&self) -> Result<(), CasebookError> {
        let length = self.reason.chars().count();
        if self.reason.trim().is_empty() {
            Err(CasebookError::ReasonBlank)
        } else if length > MAX_TEXT_CHARS {
            Err(CasebookError::ReasonTooLong { length })
        } else {
            Ok(())
        }
    }
}

/// The console action an event of `kind` records, when only a console account
/// allowed it may record it: the push refuses a signature by anyone but an
/// investigator, an unlock by anyone but a coordinator, and both from a tablet.
pub fn action_recorded(kind: EventKind) -> Option<ConsoleAction> {
    match kind {
        EventKind::CasebookSigned => Some(ConsoleAction::SignCasebook),
        EventKind::CasebookUnlocked => Some(ConsoleAction::UnlockCasebook),
        _ => None,
    }
}

/// Whether an event of `kind` is part of the casebook a signature covers: every
/// record but the signatures and unlocks themselves.
pub fn is_record(kind: EventKind) -> bool {
    action_recorded(kind).is_none()
}

/// The digest of a casebook's records, each named by its event id and hash:
/// SHA-256 over a domain tag and, in id order, each id's 16 bytes and its hash's
/// 32. Any record added, removed or altered changes it.
pub fn digest(records: &BTreeMap<Uuid, Hash>) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(DIGEST_TAG);
    for (id, hash) in records {
        hasher.update(id.as_bytes());
        hasher.update(hash.as_bytes());
    }
    Hash::from_bytes(hasher.finalize().into())
}

impl fmt::Display for CasebookRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Locked { .. } => f.write_str(
                "the casebook is signed and locked: the coordinator unlocks it, with a reason, \
                 before anything is corrected",
            ),
            Self::AlreadySigned { .. } => {
                f.write_str("the casebook is signed already, and the signature covers every record")
            }
            Self::NothingToSign => f.write_str("the casebook holds no record to sign"),
            Self::NotSigned => {
                f.write_str("the casebook is not signed, so there is nothing to unlock")
            }
        }
    }
}

impl std::error::Error for CasebookRefusal {}

impl fmt::Display for CasebookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SignerName { length } => write!(
                f,
                "the signer's name must be 1 to {MAX_SIGNER_NAME_CHARS} characters (it has {length})"
            ),
            Self::SignerRole { role } => write!(
                f,
                "a {} does not sign casebooks: only an investigator does",
                role.as_str()
            ),
            Self::ReasonBlank => f.write_str("reason: say why the casebook is unlocked"),
            Self::ReasonTooLong { length } => write!(
                f,
                "reason: at most {MAX_TEXT_CHARS} characters (it has {length})"
            ),
        }
    }
}

impl std::error::Error for CasebookError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_covers_every_record_by_id_and_hash() {
        let id = |n: u128| Uuid::from_u128(n);
        let hash = |n: u8| Hash::from_bytes([n; 32]);
        let records: BTreeMap<_, _> = [(id(1), hash(1)), (id(2), hash(2))].into();
        let base = digest(&records);
        assert_eq!(
            base,
            digest(&records.clone()),
            "the same records, the same digest"
        );
        let mut altered = records.clone();
        altered.insert(id(2), hash(3));
        assert_ne!(digest(&altered), base, "an altered record");
        let mut added = records.clone();
        added.insert(id(3), hash(3));
        assert_ne!(digest(&added), base, "an added record");
        let mut removed = records;
        removed.remove(&id(1));
        assert_ne!(digest(&removed), base, "a removed record");
    }

    #[test]
    fn an_unlock_needs_a_reason_of_bounded_length() {
        assert_eq!(CasebookUnlocked::new("  "), Err(CasebookError::ReasonBlank));
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(
            CasebookUnlocked::new(&long),
            Err(CasebookError::ReasonTooLong {
                length: MAX_TEXT_CHARS + 1
            })
        );
        assert_eq!(
            CasebookUnlocked::new(" wrong weight ").map(|unlock| unlock.reason),
            Ok("wrong weight".to_owned())
        );
    }

    #[test]
    fn only_an_investigator_signs() {
        let signature = |role| CasebookSigned {
            signer_name: "Wang Fang".to_owned(),
            signer_role: role,
            meaning: SignatureMeaning::CURRENT,
            records: 1,
            digest: Hash::GENESIS,
        };
        assert_eq!(signature(ConsoleRole::Investigator).validate(), Ok(()));
        for role in [ConsoleRole::Coordinator, ConsoleRole::Statistician] {
            assert_eq!(
                signature(role).validate(),
                Err(CasebookError::SignerRole { role })
            );
        }
        let unnamed = CasebookSigned {
            signer_name: " ".to_owned(),
            ..signature(ConsoleRole::Investigator)
        };
        assert_eq!(
            unnamed.validate(),
            Err(CasebookError::SignerName { length: 1 })
        );
    }
}
