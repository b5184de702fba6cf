//! The event record every user action becomes, and the SHA-256 hash chain that proves
//! a device's log was neither edited, shortened nor reordered.
//!
//! Nothing is updated in place (DESIGN.md, "Records: an append-only event log"): a
//! correction is a new [`Event`] that names the old value and a reason. Each device
//! numbers its events 1, 2, 3, … with no gaps, and each event's hash covers the hash
//! of the one before it, so the audit trail that GCP and 21 CFR Part 11 ask for can
//! be checked by anyone holding the events, with [`verify_chain`].
//!
//! # The hash (a wire promise)
//!
//! An event's hash is SHA-256 over this byte string, which does not depend on serde
//! or on any JSON layout (integers are big-endian; "bytes" are length-prefixed with
//! the length as a `u64`, big-endian, then the bytes):
//!
//! | field | encoding |
//! |---|---|
//! | domain tag | the 17 bytes `hp-ecmo/event/v1\0`, not length-prefixed |
//! | `prev_hash` | 32 bytes |
//! | `id` | 16 bytes, the UUID in RFC 9562 byte order |
//! | `device_id` | 16 bytes, as `id` |
//! | `device_seq` | `u64` |
//! | `recorded_at` | UTC milliseconds as `i64`, then the offset in minutes as `i16` |
//! | `user_id` | 16 bytes, as `id` |
//! | `participant_id` | 16 bytes, as `id` |
//! | `kind` | bytes: the kind's snake_case name in UTF-8 (as [`EventKind::as_str`]) |
//! | `payload` | bytes: the payload's JSON text in UTF-8, exactly as stored |
//! | `app_version` | bytes: UTF-8 |
//! | `schema_version` | `u32` |
//!
//! Changing any of it changes every hash already recorded, so a new encoding would
//! get a new domain tag and both would be verified side by side. A golden test pins
//! the hash of one fixed event.
//!
//! # Deserialising is not verifying
//!
//! An [`Event`] deserialises from any well-formed record, even one whose hash does
//! not match: the server must be able to receive a tampered log and report exactly
//! where it breaks. [`verify_chain`] and [`verify_chain_from`] are the gate; nothing
//! may be projected or acknowledged before one of them has accepted the events.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::time::Moment;

/// The domain tag that starts every hashed byte string, so an event hash can never
/// collide with a hash of something else this project computes.
const DOMAIN_TAG: &[u8] = b"hp-ecmo/event/v1\0";

/// A SHA-256 digest linking an event to the one before it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash([u8; 32]);

/// Occurs when text is not a hash written as 64 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashParseError {
    /// Occurs when the text is not 64 characters long.
    WrongLength {
        /// The length that was given, in bytes.
        length: usize,
    },
    /// Occurs when a character is not a hex digit.
    NotHex {
        /// The character found.
        character: char,
        /// Its position in the text, counting from 0.
        index: usize,
    },
}

/// What a user did. Stored by its snake_case name, which the hash covers too.
///
/// New kinds are appended at the end and existing kinds are never renamed or
/// removed: tablets in the field keep sending the old names, and renaming one would
/// change the hash of every event of that kind. An unknown name does not
/// deserialise, so the server learns a new kind before any tablet sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A patient was screened against the eligibility criteria.
    ScreeningRecorded,
    /// Consent (or its waiver or deferral) was recorded.
    ConsentRecorded,
    /// A participant was allocated an arm from the device's lease.
    Randomised,
    /// A case report form was saved.
    FormSaved,
    /// A previously recorded value was corrected, with a reason.
    ValueCorrected,
    /// A participant or their representative withdrew from the trial.
    Withdrawn,
    /// A participant's follow-up ended (day 28, death or loss to follow-up).
    EndOfParticipation,
    /// A screened patient was not enrolled, with the reason.
    NotEnrolled,
    /// The investigator signed the participant's casebook (`crate::casebook`).
    CasebookSigned,
    /// The coordinator unlocked a signed casebook, with a reason.
    CasebookUnlocked,
}

/// One immutable record of a user action, sealed into its device's hash chain.
///
/// Built only by [`ChainHead::append`] on the device that records it, or
/// deserialised from storage or the network; in the second case it is a claim until
/// [`verify_chain`] has accepted it.
///
/// `Debug` prints the payload's length, not its text: the payload holds patient
/// data, and debug output ends up in logs.
///
/// Two events are equal only when every recorded field is, the UTC offset
/// included: [`Moment`] compares instants, and a replay with an edited offset must
/// not pass as the event stored.
#[derive(Clone, Serialize, Deserialize)]
pub struct Event {
    id: Uuid,
    device_id: Uuid,
    device_seq: u64,
    recorded_at: Moment,
    user_id: Uuid,
    participant_id: Uuid,
    kind: EventKind,
    payload: String,
    app_version: String,
    schema_version: u32,
    prev_hash: Hash,
    hash: Hash,
}

/// What the caller knows about a new event; the chain adds the device, sequence
/// number and hashes when the draft is appended.
///
/// `Debug` prints the payload's length, not its text, as for [`Event`].
#[derive(Clone, PartialEq, Eq)]
pub struct EventDraft {
    /// The event's id: a UUID v7 the caller generates, so ids sort by creation time.
    pub id: Uuid,
    /// The participant the event is about.
    pub participant_id: Uuid,
    /// The signed-in user who acted.
    pub user_id: Uuid,
    /// When the user acted, on the device's clock.
    pub recorded_at: Moment,
    /// What the user did.
    pub kind: EventKind,
    /// The payload's JSON text, exactly as it will be stored.
    ///
    /// It is kept as text, not as a typed value, because the hash covers these exact
    /// bytes: a later version of the app that adds a field to the payload type must
    /// not change (and so break) the hash of an event recorded before it.
    pub payload: String,
    /// The version of the app that recorded the event.
    pub app_version: String,
    /// The version of the case report form schema the payload was entered with, so
    /// a later form change never reinterprets old records.
    pub schema_version: u32,
}

/// Where a device's chain ends: the next event gets `last_seq + 1` and links to
/// `last_hash`.
///
/// The tablet keeps one per device to append to; the server keeps the last one it
/// acknowledged, to verify what comes after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ChainHeadRepr", into = "ChainHeadRepr")]
pub struct ChainHead {
    device_id: Uuid,
    last_seq: u64,
    last_hash: Hash,
}

/// How a [`ChainHead`] crosses the wire and sits in storage.
#[derive(Serialize, Deserialize)]
struct ChainHeadRepr {
    device_id: Uuid,
    last_seq: u64,
    last_hash: Hash,
}

/// Occurs when a stored chain head contradicts itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainHeadError {
    /// Occurs when a head before any event (`last_seq` 0) has a hash other than
    /// [`Hash::GENESIS`], or a head after an event has the genesis hash.
    GenesisMismatch {
        /// The device whose head it is.
        device_id: Uuid,
        /// The sequence number stored.
        last_seq: u64,
    },
}

/// Occurs when a draft cannot become an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendError {
    /// Occurs when the payload is not one well-formed JSON value.
    PayloadNotJson {
        /// The draft's event id.
        event_id: Uuid,
        /// The line of the payload where parsing failed, counting from 1.
        line: usize,
        /// The column of the payload where parsing failed, counting from 1.
        column: usize,
    },
    /// Occurs when the draft breaks one of the limits every event keeps.
    Limit(LimitError),
}

/// The most characters an event's `app_version` may have (the same limit applies
/// at enrolment).
pub const MAX_APP_VERSION_CHARS: usize = 64;

/// The most bytes an event's payload may have. The largest form a tablet saves is
/// a few kilobytes; the limit keeps one record from filling a pull page or a
/// tablet's memory.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// The earliest moment an event may be recorded at: 2018-01-01 00:00 UTC, before
/// the trial (NCT03729765, first posted in November 2018) could enrol anyone. An
/// event dated earlier comes from a tablet whose clock was reset, not from the
/// ward.
pub const EARLIEST_RECORDING_MS: i64 = 1_514_764_800_000;

/// Occurs when an event breaks a limit that holds for every event, whatever its
/// kind: checked by the tablet before it seals a draft and by the server on every
/// pushed event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitError {
    /// Occurs when `app_version` is empty or longer than [`MAX_APP_VERSION_CHARS`].
    AppVersion {
        /// The number of characters found.
        length: usize,
    },
    /// Occurs when the payload is longer than [`MAX_PAYLOAD_BYTES`].
    PayloadTooLarge {
        /// The payload's size in bytes.
        bytes: usize,
    },
    /// Occurs when the event is dated before [`EARLIEST_RECORDING_MS`]: the
    /// device's clock is wrong.
    RecordedBeforeTheTrial {
        /// The moment the event names.
        recorded_at: Moment,
    },
}

/// Occurs at the first link of a device's chain that does not hold; the events from
/// there on cannot be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// Occurs when a whole chain is verified but no event was given, so there is no
    /// device to verify it for.
    Empty,
    /// Occurs when an event belongs to another device than the chain.
    WrongDevice {
        /// The event's sequence number.
        device_seq: u64,
        /// The event's id.
        event_id: Uuid,
        /// The chain's device.
        expected_device: Uuid,
        /// The device the event names.
        found_device: Uuid,
    },
    /// Occurs when sequence numbers jump forward: the events in between are missing.
    SequenceGap {
        /// The sequence number the chain needed next.
        expected: u64,
        /// The sequence number found instead.
        found: u64,
        /// The id of the event found.
        event_id: Uuid,
    },
    /// Occurs when a sequence number repeats or goes backwards: events are
    /// duplicated or out of order.
    SequenceOutOfOrder {
        /// The sequence number the chain needed next.
        expected: u64,
        /// The sequence number found instead.
        found: u64,
        /// The id of the event found.
        event_id: Uuid,
    },
    /// Occurs when an event does not link to the hash of the event before it: an
    /// earlier event was removed, replaced or re-hashed after an edit.
    PrevHashMismatch {
        /// The event's sequence number.
        device_seq: u64,
        /// The event's id.
        event_id: Uuid,
        /// The hash of the event before it in the chain.
        expected: Hash,
        /// The previous hash the event records.
        found: Hash,
    },
    /// Occurs when an event's content does not match its own hash: it was edited
    /// after it was recorded.
    HashMismatch {
        /// The event's sequence number.
        device_seq: u64,
        /// The event's id.
        event_id: Uuid,
        /// The hash the event records.
        stored: Hash,
        /// The hash of its content as it is now.
        computed: Hash,
    },
}

impl Hash {
    /// The previous hash of a device's first event: there is nothing before it.
    pub const GENESIS: Hash = Hash([0; 32]);

    /// Wraps a digest read from storage.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest's bytes, for storage.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// 64 lowercase hex digits, as stored and shown to coordinators.
impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl FromStr for Hash {
    type Err = HashParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 64 {
            return Err(HashParseError::WrongLength { length: text.len() });
        }
        let mut bytes = [0; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|error| match error {
            hex::FromHexError::InvalidHexCharacter { c, index } => HashParseError::NotHex {
                character: c,
                index,
            },
            hex::FromHexError::OddLength | hex::FromHexError::InvalidStringLength => {
                HashParseError::WrongLength { length: text.len() }
            }
        })?;
        Ok(Self(bytes))
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for HashParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongLength { length } => {
                write!(f, "a hash is 64 hex digits; this text has {length} bytes")
            }
            Self::NotHex { character, index } => {
                write!(
                    f,
                    "a hash is 64 hex digits; {character:?} at position {index} is not one"
                )
            }
        }
    }
}

impl std::error::Error for HashParseError {}

impl EventKind {
    /// Every kind, in the order they were added.
    pub const ALL: [EventKind; 10] = [
        EventKind::ScreeningRecorded,
        EventKind::ConsentRecorded,
        EventKind::Randomised,
        EventKind::FormSaved,
        EventKind::ValueCorrected,
        EventKind::Withdrawn,
        EventKind::EndOfParticipation,
        EventKind::NotEnrolled,
        EventKind::CasebookSigned,
        EventKind::CasebookUnlocked,
    ];

    /// The kind's stored name (the same as its serde name), which the hash covers.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ScreeningRecorded => "screening_recorded",
            EventKind::ConsentRecorded => "consent_recorded",
            EventKind::Randomised => "randomised",
            EventKind::FormSaved => "form_saved",
            EventKind::ValueCorrected => "value_corrected",
            EventKind::Withdrawn => "withdrawn",
            EventKind::EndOfParticipation => "end_of_participation",
            EventKind::NotEnrolled => "not_enrolled",
            EventKind::CasebookSigned => "casebook_signed",
            EventKind::CasebookUnlocked => "casebook_unlocked",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Event {
    /// The event's id (UUID v7, generated by the app).
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The device that recorded the event and whose chain it belongs to.
    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    /// The event's position in its device's chain, from 1 with no gaps.
    pub fn device_seq(&self) -> u64 {
        self.device_seq
    }

    /// When the user acted, on the device's clock.
    pub fn recorded_at(&self) -> Moment {
        self.recorded_at
    }

    /// The user who acted.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }

    /// The participant the event is about.
    pub fn participant_id(&self) -> Uuid {
        self.participant_id
    }

    /// What the user did.
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// The payload's JSON text, exactly as recorded and hashed.
    pub fn payload(&self) -> &str {
        &self.payload
    }

    /// The version of the app that recorded the event.
    pub fn app_version(&self) -> &str {
        &self.app_version
    }

    /// The case report form schema version the payload was entered with.
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }

    /// The hash of the device's event before this one, or [`Hash::GENESIS`].
    pub fn prev_hash(&self) -> Hash {
        self.prev_hash
    }

    /// The hash the event records for itself; only [`verify_chain`] says whether it
    /// matches the content.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// Checks the limits every event keeps ([`LimitError`]).
    pub fn check_limits(&self) -> Result<(), LimitError> {
        check_limits(self.recorded_at, &self.payload, &self.app_version)
    }

    /// SHA-256 over the encoding in the module doc: every field but `hash`.
    fn compute_hash(&self) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN_TAG);
        hasher.update(self.prev_hash.0);
        hasher.update(self.id.as_bytes());
        hasher.update(self.device_id.as_bytes());
        hasher.update(self.device_seq.to_be_bytes());
        hasher.update(self.recorded_at.utc_ms().to_be_bytes());
        hasher.update(self.recorded_at.offset_minutes().to_be_bytes());
        hasher.update(self.user_id.as_bytes());
        hasher.update(self.participant_id.as_bytes());
        for text in [self.kind.as_str(), &self.payload, &self.app_version] {
            let length = u64::try_from(text.len()).expect("a text length fits in u64");
            hasher.update(length.to_be_bytes());
            hasher.update(text.as_bytes());
        }
        hasher.update(self.schema_version.to_be_bytes());
        Hash(hasher.finalize().into())
    }
}

fn check_limits(recorded_at: Moment, payload: &str, app_version: &str) -> Result<(), LimitError> {
    let length = app_version.chars().count();
    if length == 0 || length > MAX_APP_VERSION_CHARS {
        return Err(LimitError::AppVersion { length });
    }
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(LimitError::PayloadTooLarge {
            bytes: payload.len(),
        });
    }
    if recorded_at.utc_ms() < EARLIEST_RECORDING_MS {
        return Err(LimitError::RecordedBeforeTheTrial { recorded_at });
    }
    Ok(())
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        // Destructured, so a field added later cannot be left out by mistake.
        let Self {
            id,
            device_id,
            device_seq,
            recorded_at,
            user_id,
            participant_id,
            kind,
            payload,
            app_version,
            schema_version,
            prev_hash,
            hash,
        } = self;
        *id == other.id
            && *device_id == other.device_id
            && *device_seq == other.device_seq
            && recorded_at.utc_ms() == other.recorded_at.utc_ms()
            && recorded_at.offset_minutes() == other.recorded_at.offset_minutes()
            && *user_id == other.user_id
            && *participant_id == other.participant_id
            && *kind == other.kind
            && *payload == other.payload
            && *app_version == other.app_version
            && *schema_version == other.schema_version
            && *prev_hash == other.prev_hash
            && *hash == other.hash
    }
}

impl Eq for Event {}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("id", &self.id)
            .field("device_id", &self.device_id)
            .field("device_seq", &self.device_seq)
            .field("recorded_at", &self.recorded_at)
            .field("user_id", &self.user_id)
            .field("participant_id", &self.participant_id)
            .field("kind", &self.kind)
            .field("payload", &PayloadLength(self.payload.len()))
            .field("app_version", &self.app_version)
            .field("schema_version", &self.schema_version)
            .field("prev_hash", &self.prev_hash)
            .field("hash", &self.hash)
            .finish()
    }
}

impl fmt::Debug for EventDraft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventDraft")
            .field("id", &self.id)
            .field("participant_id", &self.participant_id)
            .field("user_id", &self.user_id)
            .field("recorded_at", &self.recorded_at)
            .field("kind", &self.kind)
            .field("payload", &PayloadLength(self.payload.len()))
            .field("app_version", &self.app_version)
            .field("schema_version", &self.schema_version)
            .finish()
    }
}

/// Stands in for a payload in debug output: its size, never its patient data.
struct PayloadLength(usize);

impl fmt::Debug for PayloadLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

impl ChainHead {
    /// The head of a device that has recorded nothing yet.
    pub fn genesis(device_id: Uuid) -> Self {
        Self {
            device_id,
            last_seq: 0,
            last_hash: Hash::GENESIS,
        }
    }

    /// Rebuilds a head from stored parts, such as the point the server last
    /// acknowledged.
    pub fn resume(device_id: Uuid, last_seq: u64, last_hash: Hash) -> Result<Self, ChainHeadError> {
        if (last_seq == 0) != (last_hash == Hash::GENESIS) {
            return Err(ChainHeadError::GenesisMismatch {
                device_id,
                last_seq,
            });
        }
        Ok(Self {
            device_id,
            last_seq,
            last_hash,
        })
    }

    /// The head just after `event`, taking its hash on trust: use it for events this
    /// device wrote or that a chain verification has accepted.
    pub fn after(event: &Event) -> Self {
        Self {
            device_id: event.device_id,
            last_seq: event.device_seq,
            last_hash: event.hash,
        }
    }

    /// Seals a draft as the device's next event and moves the head past it. The
    /// caller stores the event and the new head in one transaction.
    pub fn append(&mut self, draft: EventDraft) -> Result<Event, AppendError> {
        check_limits(draft.recorded_at, &draft.payload, &draft.app_version)
            .map_err(AppendError::Limit)?;
        if let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(&draft.payload) {
            return Err(AppendError::PayloadNotJson {
                event_id: draft.id,
                line: error.line(),
                column: error.column(),
            });
        }
        let device_seq = self
            .last_seq
            .checked_add(1)
            .expect("no device records 2⁶⁴ events");
        let mut event = Event {
            id: draft.id,
            device_id: self.device_id,
            device_seq,
            recorded_at: draft.recorded_at,
            user_id: draft.user_id,
            participant_id: draft.participant_id,
            kind: draft.kind,
            payload: draft.payload,
            app_version: draft.app_version,
            schema_version: draft.schema_version,
            prev_hash: self.last_hash,
            // The hash covers every other field, so it is computed once they are set.
            hash: Hash::GENESIS,
        };
        event.hash = event.compute_hash();
        *self = Self::after(&event);
        Ok(event)
    }

    /// The device whose chain this is.
    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    /// The sequence number of the device's last event, or 0 before the first.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The hash of the device's last event, or [`Hash::GENESIS`] before the first.
    pub fn last_hash(&self) -> Hash {
        self.last_hash
    }
}

impl TryFrom<ChainHeadRepr> for ChainHead {
    type Error = ChainHeadError;
    fn try_from(repr: ChainHeadRepr) -> Result<Self, Self::Error> {
        Self::resume(repr.device_id, repr.last_seq, repr.last_hash)
    }
}

impl From<ChainHead> for ChainHeadRepr {
    fn from(head: ChainHead) -> Self {
        Self {
            device_id: head.device_id,
            last_seq: head.last_seq,
            last_hash: head.last_hash,
        }
    }
}

impl fmt::Display for ChainHeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::GenesisMismatch {
                device_id,
                last_seq,
            } => write!(
                f,
                "the stored chain head of device {device_id} at event {last_seq} is inconsistent: \
                 only a head before the first event has the all-zero hash"
            ),
        }
    }
}

impl std::error::Error for ChainHeadError {}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PayloadNotJson {
                event_id,
                line,
                column,
            } => write!(
                f,
                "the payload of event {event_id} is not valid JSON (line {line}, column {column})"
            ),
            Self::Limit(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for AppendError {}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AppVersion { length } => write!(
                f,
                "app_version must have 1 to {MAX_APP_VERSION_CHARS} characters; this one has {length}"
            ),
            Self::PayloadTooLarge { bytes } => write!(
                f,
                "the payload has {bytes} bytes; at most {MAX_PAYLOAD_BYTES} are accepted"
            ),
            Self::RecordedBeforeTheTrial { recorded_at } => write!(
                f,
                "the event is dated {}, before the trial began (2018-01-01): the device's clock \
                 is wrong",
                recorded_at.local_date()
            ),
        }
    }
}

impl std::error::Error for LimitError {}

/// Verifies a device's whole chain, from its first event, and returns the head after
/// the last one.
///
/// The device is the one the first event names; every later event must name it too.
pub fn verify_chain(events: &[Event]) -> Result<ChainHead, ChainError> {
    let first = events.first().ok_or(ChainError::Empty)?;
    verify_chain_from(&ChainHead::genesis(first.device_id), events)
}

/// Verifies events that continue a chain after `anchor` (for example the last point
/// the server acknowledged) and returns the head after the last one; with no events,
/// the anchor itself.
///
/// For each event in turn it checks the device, the sequence number, the link to the
/// previous hash and then the event's own hash, and reports the first that fails.
pub fn verify_chain_from(anchor: &ChainHead, events: &[Event]) -> Result<ChainHead, ChainError> {
    let mut head = *anchor;
    for event in events {
        if event.device_id != head.device_id {
            return Err(ChainError::WrongDevice {
                device_seq: event.device_seq,
                event_id: event.id,
                expected_device: head.device_id,
                found_device: event.device_id,
            });
        }
        // Saturating so that no stored head can make this panic; a head at u64::MAX
        // would take 2⁶⁴ events to reach.
        let expected = head.last_seq.saturating_add(1);
        if event.device_seq > expected {
            return Err(ChainError::SequenceGap {
                expected,
                found: event.device_seq,
                event_id: event.id,
            });
        }
        if event.device_seq < expected {
            return Err(ChainError::SequenceOutOfOrder {
                expected,
                found: event.device_seq,
                event_id: event.id,
            });
        }
        if event.prev_hash != head.last_hash {
            return Err(ChainError::PrevHashMismatch {
                device_seq: event.device_seq,
                event_id: event.id,
                expected: head.last_hash,
                found: event.prev_hash,
            });
        }
        let computed = event.compute_hash();
        if computed != event.hash {
            return Err(ChainError::HashMismatch {
                device_seq: event.device_seq,
                event_id: event.id,
                stored: event.hash,
                computed,
            });
        }
        head = ChainHead::after(event);
    }
    Ok(head)
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("there are no events to verify"),
            Self::WrongDevice {
                device_seq,
                event_id,
                expected_device,
                found_device,
            } => write!(
                f,
                "event {device_seq} ({event_id}) was recorded on device {found_device}, \
                 not on device {expected_device} whose records are being checked"
            ),
            Self::SequenceGap {
                expected,
                found,
                event_id,
            } => {
                let last_missing = found.saturating_sub(1);
                if last_missing == *expected {
                    write!(f, "event {expected} is missing")?;
                } else {
                    write!(f, "events {expected} to {last_missing} are missing")?;
                }
                write!(f, ": the next event found is {found} ({event_id})")
            }
            Self::SequenceOutOfOrder {
                expected,
                found,
                event_id,
            } => write!(
                f,
                "event {found} ({event_id}) is repeated or out of order: event {expected} was expected"
            ),
            Self::PrevHashMismatch {
                device_seq,
                event_id,
                ..
            } => write!(
                f,
                "event {device_seq} ({event_id}) does not follow the event before it: \
                 an earlier event was removed, replaced or altered"
            ),
            Self::HashMismatch {
                device_seq,
                event_id,
                ..
            } => write!(
                f,
                "event {device_seq} ({event_id}) was altered after it was recorded"
            ),
        }
    }
}

impl std::error::Error for ChainError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_payload() {
        let draft = EventDraft {
            id: Uuid::from_u128(1),
            participant_id: Uuid::from_u128(2),
            user_id: Uuid::from_u128(3),
            recorded_at: Moment::new(EARLIEST_RECORDING_MS, 0).unwrap(),
            kind: EventKind::FormSaved,
            payload: r#"{"name":"Zhang San"}"#.to_owned(),
            app_version: "0.1.0".to_owned(),
            schema_version: 1,
        };
        let draft_debug = format!("{draft:?}");
        let event = ChainHead::genesis(Uuid::from_u128(7))
            .append(draft)
            .unwrap();
        for debug in [draft_debug, format!("{event:?}")] {
            assert!(debug.contains("payload: <20 bytes>"), "{debug}");
            assert!(!debug.contains("Zhang"), "{debug}");
        }
    }

    fn draft(recorded_at_ms: i64, payload: String, app_version: &str) -> EventDraft {
        EventDraft {
            id: Uuid::from_u128(1),
            participant_id: Uuid::from_u128(2),
            user_id: Uuid::from_u128(3),
            recorded_at: Moment::new(recorded_at_ms, 480).unwrap(),
            kind: EventKind::FormSaved,
            payload,
            app_version: app_version.to_owned(),
            schema_version: 1,
        }
    }

    fn check_limits(draft: EventDraft, expected: Result<(), LimitError>) {
        let mut head = ChainHead::genesis(Uuid::from_u128(7));
        let appended = head.append(draft.clone());
        assert_eq!(
            appended.map(drop),
            expected.map_err(AppendError::Limit),
            "{draft:?}"
        );
        assert_eq!(head.last_seq(), u64::from(expected.is_ok()));
    }

    #[test]
    fn every_event_keeps_the_limits() {
        let ok = EARLIEST_RECORDING_MS;
        check_limits(draft(ok, "{}".to_owned(), "0.1.0"), Ok(()));
        check_limits(
            draft(ok, "{}".to_owned(), &"9".repeat(MAX_APP_VERSION_CHARS)),
            Ok(()),
        );
        check_limits(
            draft(ok, "{}".to_owned(), &"9".repeat(MAX_APP_VERSION_CHARS + 1)),
            Err(LimitError::AppVersion { length: 65 }),
        );
        check_limits(
            draft(ok, "{}".to_owned(), ""),
            Err(LimitError::AppVersion { length: 0 }),
        );
        let largest = format!("\"{}\"", "x".repeat(MAX_PAYLOAD_BYTES - 2));
        check_limits(draft(ok, largest.clone(), "0.1.0"), Ok(()));
        check_limits(
            draft(ok, format!("{largest} "), "0.1.0"),
            Err(LimitError::PayloadTooLarge {
                bytes: MAX_PAYLOAD_BYTES + 1,
            }),
        );
        // 1950-01-01, and one millisecond before the earliest moment.
        for too_early in [-631_152_000_000, ok - 1] {
            check_limits(
                draft(too_early, "{}".to_owned(), "0.1.0"),
                Err(LimitError::RecordedBeforeTheTrial {
                    recorded_at: Moment::new(too_early, 480).unwrap(),
                }),
            );
        }
    }

    #[test]
    fn events_differing_only_in_their_offset_are_not_equal() {
        let event = ChainHead::genesis(Uuid::from_u128(7))
            .append(draft(EARLIEST_RECORDING_MS, "{}".to_owned(), "0.1.0"))
            .unwrap();
        let mut json = serde_json::to_value(&event).unwrap();
        json["recorded_at"]["offset_minutes"] = 0.into();
        let edited: Event = serde_json::from_value(json).unwrap();
        assert_eq!(
            edited.recorded_at(),
            event.recorded_at(),
            "the same instant"
        );
        assert_ne!(edited, event);
        assert_eq!(event.clone(), event);
    }

    #[test]
    fn kind_names_match_serde() {
        for kind in EventKind::ALL {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
    }

    fn check_parse(text: &str, expected: Result<Hash, HashParseError>) {
        assert_eq!(text.parse::<Hash>(), expected, "{text:?}");
    }

    #[test]
    fn hash_parses_64_hex_digits_only() {
        let zeros = "0".repeat(64);
        check_parse(&zeros, Ok(Hash::GENESIS));
        check_parse(&"ff".repeat(32), Ok(Hash([0xff; 32])));
        check_parse(&"FF".repeat(32), Ok(Hash([0xff; 32])));
        check_parse("", Err(HashParseError::WrongLength { length: 0 }));
        check_parse(
            &"0".repeat(63),
            Err(HashParseError::WrongLength { length: 63 }),
        );
        check_parse(
            &format!("{}g", "0".repeat(63)),
            Err(HashParseError::NotHex {
                character: 'g',
                index: 63,
            }),
        );
        // 64 bytes but not 64 characters: 'é' takes two.
        check_parse(
            &format!("é{}", "0".repeat(62)),
            Err(HashParseError::NotHex {
                character: 'Ã',
                index: 0,
            }),
        );
    }

    #[test]
    fn hash_displays_and_serialises_as_hex() {
        let hash = Hash([0xab; 32]);
        assert_eq!(hash.to_string(), "ab".repeat(32));
        assert_eq!(format!("{hash:?}"), format!("Hash({})", "ab".repeat(32)));
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), hash);
    }

    fn check_resume(last_seq: u64, last_hash: Hash, ok: bool) {
        let device_id = Uuid::from_u128(7);
        let expected = if ok {
            Ok(ChainHead {
                device_id,
                last_seq,
                last_hash,
            })
        } else {
            Err(ChainHeadError::GenesisMismatch {
                device_id,
                last_seq,
            })
        };
        assert_eq!(ChainHead::resume(device_id, last_seq, last_hash), expected);
    }

    #[test]
    fn head_resume_keeps_genesis_consistent() {
        check_resume(0, Hash::GENESIS, true);
        check_resume(3, Hash([1; 32]), true);
        check_resume(0, Hash([1; 32]), false);
        check_resume(3, Hash::GENESIS, false);
    }

    fn check_payload(payload: &str, expected: Result<(), (usize, usize)>) {
        let mut head = ChainHead::genesis(Uuid::from_u128(7));
        let draft = EventDraft {
            id: Uuid::from_u128(1),
            participant_id: Uuid::from_u128(2),
            user_id: Uuid::from_u128(3),
            recorded_at: Moment::new(EARLIEST_RECORDING_MS, 0).unwrap(),
            kind: EventKind::FormSaved,
            payload: payload.to_owned(),
            app_version: "0.1.0".to_owned(),
            schema_version: 1,
        };
        let actual = head.append(draft).map(drop).map_err(|error| match error {
            AppendError::PayloadNotJson { line, column, .. } => (line, column),
            AppendError::Limit(error) => panic!("{error}"),
        });
        assert_eq!(actual, expected, "payload {payload:?}");
        let appended = usize::from(expected.is_ok());
        assert_eq!(head.last_seq(), appended as u64, "payload {payload:?}");
    }

    #[test]
    fn append_needs_a_json_payload() {
        check_payload("{}", Ok(()));
        check_payload(r#"{"weight_kg": 71.5, "notes": ["a"]}"#, Ok(()));
        check_payload("null", Ok(()));
        check_payload("", Err((1, 0)));
        check_payload("{", Err((1, 1)));
        check_payload("{} {}", Err((1, 4)));
        check_payload("{\"a\":\n tru}", Err((2, 5)));
    }
}
