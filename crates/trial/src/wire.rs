//! The JSON of the sync API, version 1: what a tablet and the server say to each
//! other, shared by both so neither can drift from the other.
//!
//! A serialisable type is a promise to every tablet already in the field, so the
//! rules are:
//!
//! - Names are never renamed or removed; enum variants are appended. A change that
//!   breaks either rule is version 2: new types beside these, under a new path.
//! - **Requests are strict.** The server refuses unknown fields (anywhere, also
//!   inside an event) and wrong types, naming the field, so a tablet with a bug learns
//!   of it at once instead of losing data silently.
//! - **Responses are tolerant.** A tablet ignores fields it does not know and reads an
//!   error or rejection code it does not know as `Other`, so a newer server can add to
//!   its answers without stranding older tablets.
//!
//! Instants are UTC milliseconds (`*_ms`). Cursors and sequence numbers are integers
//! that only grow.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::event::Event;
use crate::pin::PinHash;
use crate::randomisation::LeaseId;
use crate::time::{Calendar, CalendarError};

/// The version of the API these types describe.
pub const API_VERSION: u32 = 1;

/// The most events one push may carry; a tablet with more sends several batches.
pub const MAX_PUSH_EVENTS: usize = 500;

/// The most events one pull answers with, and the page size when none is asked for.
/// A tablet stores each page in one transaction, whose fixed cost dominated a
/// sync-in at 500 (50,000 events: 12.2 s at 500, 7.7 s at 1,000); 1,000 of the
/// bench's events are about 0.8 MB, within [`MAX_PULL_BYTES`].
pub const MAX_PULL_EVENTS: u32 = 1000;

/// The most bytes of events one pull answers with: a page ends before the event
/// that would take it past this, but always holds at least one event (which
/// `crate::event::MAX_PAYLOAD_BYTES` keeps well below it).
pub const MAX_PULL_BYTES: usize = 1 << 20;

/// How far a tablet's clock may differ from the server's. The server refuses an
/// event dated further ahead of its clock (until its clock catches up), and a
/// tablet told at a sync that its clock is further off says so before anyone
/// randomises: the 24-hour window and every time it records would be wrong.
pub const MAX_CLOCK_OFFSET_MS: i64 = 5 * 60 * 1000;

/// The characters an enrolment code is made of: capital letters and digits without
/// the ones a person misreads (0/O, 1/I/L).
pub const ENROLMENT_CODE_ALPHABET: &str = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// How many characters an enrolment code has (shown as two groups of four).
pub const ENROLMENT_CODE_LEN: usize = 8;

/// `POST /api/enrol`: a new tablet presents the one-time code the coordinator gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The code as typed; [`EnrolmentCode::parse`] tidies it.
    // What `EnrolmentCode::parse` accepts, less the rarer spaces it forgives too.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^[ \t\n\r-]*([A-HJKMNP-Za-hjkmnp-z2-9][ \t\n\r-]*){8}$",
            examples("ABCD-EFGH")
        )
    )]
    pub code: String,
    /// The id the tablet gave itself on first start (a UUID v7).
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$",
            examples("019ad6e2-7c1b-7f3a-9d2e-4b5c6d7e8f90")
        )
    )]
    pub device_id: Uuid,
    /// The version of the app asking.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 64, examples("0.1.0"))
    )]
    pub app_version: String,
    /// The tablet's ECDH P-256 public key: lowercase hex of the 65-byte uncompressed
    /// point, as WebCrypto's `exportKey("raw")` gives it. The private half was
    /// generated non-extractable and never leaves the tablet; the server seals every
    /// lease seed to this key (see [`SealedSeed`]).
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^04[0-9a-fA-F]{128}$",
            examples(
                "04ff328af6bf311e45e6f67b9f18edfce7ed48af676a907b8098c0c6aacef48de98483b94ab4a1452535089a2cccd152f00550427c0f73d493806a78901c637d25"
            )
        )
    )]
    pub public_key: String,
}

/// The answer to a successful enrolment: everything a tablet needs to work offline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrolResponse {
    /// The device id the server registered (the one the tablet sent).
    pub device_id: Uuid,
    /// The secret the tablet sends as `Authorization: Bearer <token>` from now on.
    /// The server keeps only its SHA-256, so it is shown this once.
    pub device_token: String,
    /// A short name people use for the tablet ("T1"), unique within its site.
    pub device_label: String,
    /// The site the tablet now belongs to.
    pub site: Site,
    /// Everyone who may sign in at that site, with their PIN hashes for offline
    /// sign-in.
    pub users: Vec<User>,
    /// The tablet's first allocation lease, so it can randomise before it is ever
    /// online again.
    pub lease: SealedLease,
    /// The server's clock when it answered, so the tablet can tell its own offset.
    pub server_time_ms: i64,
}

/// `POST /api/pin`: a user whose PIN is shorter than a new PIN may be
/// ([`crate::pin::MIN_NEW_DIGITS`]) replaces it at sign-in. The old PIN proves
/// who asks; the server checks the new one's rule and hashes it, and every
/// tablet of the site gets the new hash at its next sync. Both PINs travel only
/// over the server's TLS and are never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PinChangeRequest {
    /// Whose PIN: a user who signs in on the site's tablets.
    pub user_id: Uuid,
    /// The PIN they signed in with.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{4,8}$"))]
    pub old_pin: String,
    /// Their new PIN, 6 to 8 digits.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{6,8}$"))]
    pub new_pin: String,
}

/// Shows whose PIN is changed, never the PINs.
impl std::fmt::Debug for PinChangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinChangeRequest")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// The answer to [`PinChangeRequest`]: the new hash, which the tablet keeps at
/// once so the user signs in with the new PIN even before the next sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PinChangeResponse {
    /// The new PIN's hash.
    pub pin: PinHash,
    /// The server's clock when it answered.
    pub server_time_ms: i64,
}

/// The most lockouts one `POST /api/lockouts` may report.
pub const MAX_LOCKOUTS: usize = 100;

/// `POST /api/lockouts`: the PIN lockouts a tablet imposed since it last
/// reported, so the coordinator hears that someone tried PIN after PIN on it.
/// Sent again until the server answers; the server keeps each once, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LockoutsRequest {
    /// At most [`MAX_LOCKOUTS`], oldest first.
    #[cfg_attr(feature = "openapi", schema(max_items = 100))]
    pub lockouts: Vec<PinLockout>,
}

/// A wait a tablet imposed after wrong PINs in a row for one user: an audit
/// record of the tablet itself, not of a participant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PinLockout {
    /// Made by the tablet (UUID v7), so a report sent twice is kept once.
    pub id: Uuid,
    /// Whose PIN was tried: a user of the tablet's site.
    pub user_id: Uuid,
    /// When the wait began, on the tablet's clock, in UTC milliseconds.
    pub at_ms: i64,
    /// Wrong PINs in a row, the last included: at least
    /// [`crate::pin::FREE_ATTEMPTS`].
    pub failures: u32,
    /// The wait imposed, in milliseconds: what [`crate::pin::Lockout::after`]
    /// says for `failures`.
    pub wait_ms: i64,
}

impl PinLockout {
    /// What is wrong with this report, as the field it is about and why: a wait
    /// that is not the rule's for its count of wrong PINs, or a time later than
    /// `now_ms` (beyond the tolerance a tablet's clock gets). `None` when it is
    /// a lockout the tablet could have imposed.
    pub fn problem(&self, now_ms: i64) -> Option<(&'static str, String)> {
        let Some(rule) = crate::pin::Lockout::after(self.failures) else {
            return Some((
                "failures",
                format!(
                    "a lockout follows at least {} wrong PINs; this reports {}",
                    crate::pin::FREE_ATTEMPTS,
                    self.failures
                ),
            ));
        };
        if self.wait_ms != rule.wait_ms {
            return Some((
                "wait_ms",
                format!(
                    "{} wrong PINs make a tablet wait {} ms, not {}",
                    self.failures, rule.wait_ms, self.wait_ms
                ),
            ));
        }
        if self.at_ms > now_ms.saturating_add(MAX_CLOCK_OFFSET_MS) {
            return Some(("at_ms", "a lockout cannot lie in the future".to_owned()));
        }
        None
    }
}

/// The answer to [`LockoutsRequest`]: every lockout reported is kept; the tablet
/// may forget them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockoutsResponse {
    /// How many of them the server had not kept before.
    pub stored: u32,
    /// The server's clock when it answered.
    pub server_time_ms: i64,
}

/// `POST /api/status`: what a tablet says of itself at the start of every sync,
/// before it pushes, so the coordinator sees a tablet whose clock is off or whose
/// records are stuck even when its push then fails. Informational only: nothing
/// the server decides reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StatusReport {
    /// The tablet's clock as it sent the report, in UTC milliseconds: the server
    /// measures the offset against its own clock, not the tablet's estimate.
    pub clock_ms: i64,
    /// The sequence number of the tablet's last event: with the server's last
    /// stored one, how many records wait on the tablet.
    // Sequence numbers are signed 64-bit in the server's database.
    #[cfg_attr(feature = "openapi", schema(maximum = 9_223_372_036_854_775_807_u64))]
    pub head_seq: u64,
    /// The version of the app it runs now (enrolment recorded the first one).
    pub app_version: String,
}

impl StatusReport {
    /// What is wrong with this report, as the field it is about and why, for a
    /// tablet of which the server holds events up to `stored_seq`: a head behind
    /// what the server holds, a clock outside the range of an event's time, an
    /// empty or long version. `None` when a tablet could have sent it.
    pub fn problem(&self, stored_seq: u64) -> Option<(&'static str, String)> {
        if crate::time::Moment::new(self.clock_ms, 0).is_err() {
            return Some((
                "clock_ms",
                "a time between 1900 and 2200, in UTC milliseconds".to_owned(),
            ));
        }
        if i64::try_from(self.head_seq).is_err() {
            return Some(("head_seq", format!("at most {}", i64::MAX)));
        }
        if self.head_seq < stored_seq {
            return Some((
                "head_seq",
                format!("the server holds this tablet's events up to {stored_seq}"),
            ));
        }
        let length = self.app_version.chars().count();
        if length == 0 || length > crate::event::MAX_APP_VERSION_CHARS {
            return Some((
                "app_version",
                format!("1 to {} characters", crate::event::MAX_APP_VERSION_CHARS),
            ));
        }
        None
    }
}

/// The answer to [`StatusReport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusResponse {
    /// The server's clock when it answered.
    pub server_time_ms: i64,
}

/// `POST /api/leases`: a tablet asks for its allocation leases, after pushing its
/// events, so the server counts the slots it has used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LeaseRequest {}

/// The answer to [`LeaseRequest`]: every lease of the device with a slot the server
/// has not seen used, newly issued ones included. The server issues a new lease
/// when fewer than [`LEASE_LOW_WATER`] such slots are left; otherwise it issues
/// nothing, so asking again is harmless and a lost answer loses no lease. The
/// tablet keeps the leases it does not hold yet, by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaseResponse {
    /// The leases, oldest first; a tablet consumes them in that order.
    pub leases: Vec<SealedLease>,
    /// The server's clock when it answered.
    pub server_time_ms: i64,
}

/// When a device has fewer unused slots than this (as the server counts them from
/// its pushed randomisations), asking for leases issues a new one.
pub const LEASE_LOW_WATER: u32 = 8;

/// How many blocks a lease the server issues holds.
pub const LEASE_BLOCKS: u32 = 8;

/// An allocation lease as the server hands it to its device: everything in the
/// clear but the seed, which is sealed to the tablet's public key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealedLease {
    /// The lease's id.
    pub lease_id: LeaseId,
    /// The site of the stratum.
    pub site: String,
    /// The device of the stratum: the tablet it was issued to.
    pub device_id: Uuid,
    /// The randomisation configuration's block sizes, to regenerate the list.
    pub block_sizes: Vec<u32>,
    /// How many slots the lease holds (whole blocks).
    pub n_slots: u32,
    /// The seed, sealed.
    pub seed: SealedSeed,
}

/// A lease's 32-byte seed, sealed to one tablet's ECDH P-256 public key so that
/// only that tablet can open it, and only through WebCrypto, whose private key it
/// cannot export (DESIGN.md, "Randomisation"). All three fields are lowercase hex.
///
/// The construction, which both ends implement (the server with the RustCrypto
/// crates, the tablet with WebCrypto):
///
/// 1. The server makes a fresh ephemeral P-256 key pair for each sealing.
/// 2. `shared` = the x-coordinate (32 bytes) of ECDH(ephemeral secret, tablet
///    public key): WebCrypto's `deriveBits({name: "ECDH"}, 256)`.
/// 3. `key` = HKDF-SHA-256 with salt = the lease id's 16 bytes, info =
///    [`SEAL_INFO`], 32 bytes of output.
/// 4. `ciphertext` = AES-256-GCM(`key`, `nonce`, the seed), with the lease id's 16
///    bytes as additional data, so a sealed seed cannot be moved to another lease;
///    48 bytes: the encrypted seed, then the 16-byte tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealedSeed {
    /// The ephemeral public key, 65 bytes uncompressed.
    pub ephemeral_public_key: String,
    /// The 12-byte AES-GCM nonce, random per sealing.
    pub nonce: String,
    /// The sealed seed and its tag, 48 bytes.
    pub ciphertext: String,
}

/// The HKDF `info` of [`SealedSeed`]: names the purpose and version, so a key
/// derived for anything else can never open a seed.
pub const SEAL_INFO: &[u8] = b"hp-ecmo lease seed v1";

/// A trial site, as a tablet needs to know it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Site {
    /// A short code ("BJ"), also the site part of every randomisation stratum.
    pub code: String,
    /// The name people read.
    pub name: String,
    /// The IANA time zone calendar questions are answered in ("Asia/Shanghai").
    pub time_zone: String,
    /// The zone's rules as TZif (RFC 8536), in lowercase hex: what a tablet reads
    /// dates with, so it needs no time-zone database of its own. Empty from a
    /// server that sent none; the tablet then reads its own offsets.
    #[serde(default)]
    pub time_zone_rules: String,
}

impl Site {
    /// The calendar the site's dates are read in.
    pub fn calendar(&self) -> Result<Calendar, CalendarError> {
        let error = |message: String| CalendarError {
            name: self.time_zone.clone(),
            message,
        };
        let tzif = hex::decode(&self.time_zone_rules).map_err(|e| error(e.to_string()))?;
        Calendar::site(&self.time_zone, &tzif)
    }
}

/// A person who may sign in on a site's tablets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// The id every event this person records names.
    pub id: Uuid,
    /// The name shown on the sign-in screen and in the audit trail.
    pub name: String,
    /// What the person may do.
    pub role: Role,
    /// The hash the tablet checks the typed PIN against, offline.
    pub pin: PinHash,
}

/// The answer to `GET /api/users`: everyone who may sign in at the tablet's site,
/// with their PIN hashes. Asked at every sync, so a user added or a PIN changed on
/// the server reaches the tablets without enrolling them again; the tablet keeps
/// exactly this list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsersResponse {
    /// The site's users.
    pub users: Vec<User>,
    /// The site, with its time zone's rules as they stand: a tablet replaces its
    /// copy at every sync, so a change of the rules reaches it. Absent from an
    /// older server.
    #[serde(default)]
    pub site: Option<Site>,
    /// Every tablet enrolled at the site, so each names the others as the server
    /// and the exports do ("T2"). Absent from an older server.
    #[serde(default)]
    pub tablets: Vec<Tablet>,
    /// The console accounts whose corrections the site's records hold (a data
    /// query resolved in the console), so the timeline names them as it names a
    /// user; they never sign in on a tablet. Absent from an older server.
    #[serde(default)]
    pub authors: Vec<Author>,
    /// The server's clock when it answered.
    pub server_time_ms: i64,
}

/// Someone who recorded an event without being a user of the tablets: a console
/// account, by the name the console shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Author {
    /// The id the events name in `user_id`.
    pub id: Uuid,
    /// The account's name.
    pub name: String,
}

/// A tablet of the site, by the label the server gave it at enrolment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Tablet {
    /// The device id every event it records names.
    pub id: Uuid,
    /// Its label at the site ("T1").
    pub label: String,
}

/// What a user may do. Appended, never renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A bedside investigator: screens, records consent, randomises, enters data.
    Investigator,
    /// A research nurse: the same bedside work as an investigator.
    ResearchNurse,
    /// A trial coordinator or data manager: also enrols tablets and resolves queries.
    Coordinator,
    /// A role added by a newer server; a tablet treats it as having no rights.
    #[serde(other)]
    Other,
}

impl Role {
    /// Whether the role works at the bedside, where tablets are: only such users'
    /// PIN hashes reach a tablet, so a lost tablet gives away no coordinator's.
    pub fn at_bedside(self) -> bool {
        match self {
            Self::Investigator | Self::ResearchNurse => true,
            Self::Coordinator | Self::Other => false,
        }
    }
}

/// `POST /api/push`: a device's events, in order, usually starting after the last
/// sequence number the server acknowledged (resending acknowledged ones is harmless).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// At most [`MAX_PUSH_EVENTS`]. Each must be exactly as the tablet stored it:
    /// unknown fields are refused here too, not only at the top level.
    #[serde(deserialize_with = "strict_events")]
    #[cfg_attr(feature = "openapi", schema(max_items = 500))]
    pub events: Vec<Event>,
}

/// The answer to a push.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    /// The device's last sequence number the server has stored; the tablet may
    /// forget every event up to it from its outbox. Events of the batch after it
    /// were refused and not stored.
    pub acked_seq: u64,
    /// Events of the batch that were stored but refused as data (their payload did
    /// not validate), and the first event that was refused outright, with its
    /// reason. Empty when all is well.
    pub rejected: Vec<Rejection>,
    /// The server's clock when it answered.
    pub server_time_ms: i64,
}

/// Why one event of a push was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rejection {
    /// The event's sequence number on its device.
    pub device_seq: u64,
    /// The event's id.
    pub event_id: Uuid,
    /// What went wrong, for the tablet to act on.
    pub code: RejectionCode,
    /// What went wrong, for a person to read.
    pub message: String,
}

/// What went wrong with one pushed event. Appended, never renamed.
///
/// The codes [`RejectionCode::leaves_event_stored`] names leave the event stored
/// (and acknowledged: the audit trail stays gapless and the tablet is never stuck);
/// every other code means the event and the rest of its batch were not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    /// The payload does not validate against its kind and schema version. Stored,
    /// acknowledged, kept out of valid data, shown to the coordinator.
    InvalidPayload,
    /// The event names another device than the token's.
    WrongDevice,
    /// The hash chain breaks here: a gap, a reorder, an edited or replaced event.
    ChainBroken,
    /// A different event was already stored under this sequence number.
    SeqConflict,
    /// Another stored event already has this event's id.
    DuplicateEventId,
    /// The event is timestamped more than five minutes after the server's clock.
    FromTheFuture,
    /// A randomisation the server could not verify (an unknown or foreign lease, a
    /// skipped or reused slot, an arm not on the list, a participant randomised
    /// twice or not eligible): stored and acknowledged like
    /// [`RejectionCode::InvalidPayload`], since the allocation already happened,
    /// flagged for the coordinator and never served to other tablets. The message
    /// names every problem.
    AllocationFlagged,
    /// The participant belongs to another site than the tablet's: a tablet writes
    /// only for its own site's participants. Stored and acknowledged like
    /// [`RejectionCode::InvalidPayload`], kept out of everyone's data.
    ParticipantOfAnotherSite,
    /// The event names a user who is not a user of the tablet's site, or who was
    /// not active when it was recorded. Stored and acknowledged like
    /// [`RejectionCode::InvalidPayload`], kept out of everyone's data.
    UnknownUser,
    /// The event breaks a limit every event keeps (`trial::event::LimitError`: a
    /// payload too large, an `app_version` too long, a date before the trial).
    LimitExceeded,
    /// A code added by a newer server (kept last: serde reads any unknown code
    /// as this one).
    #[serde(other)]
    Other,
}

/// The query of `GET /api/pull?after=CURSOR&limit=N`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct PullQuery {
    /// The cursor of the last event already pulled; 0 (the default) starts from the
    /// beginning.
    #[serde(default)]
    // Cursors are the server's sequence numbers: signed 64-bit in its database.
    #[cfg_attr(feature = "openapi", param(maximum = 9_223_372_036_854_775_807_u64))]
    pub after: u64,
    /// The most events wanted, 1 to [`MAX_PULL_EVENTS`] (the default).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 1000))]
    pub limit: Option<u32>,
}

/// One page of other devices' events, in the server's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    /// The events, oldest first. Events refused as data are not served.
    pub events: Vec<PulledEvent>,
    /// What to send as `after` next time.
    pub next_cursor: u64,
    /// Whether more events wait after this page.
    pub more: bool,
    /// The server's clock when it answered.
    pub server_time_ms: i64,
}

/// An event as the server serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PulledEvent {
    /// Its place in the server's order.
    pub cursor: u64,
    /// The event, exactly as its device recorded it.
    pub event: Event,
    /// When the server received it.
    pub received_at_ms: i64,
}

/// The body of every error answer, whatever the endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiErrorBody {
    /// What went wrong, for the tablet to act on.
    pub error: ErrorCode,
    /// What went wrong, for a person to read.
    pub message: String,
    /// Every field that was wrong, when the request was at fault.
    pub problems: Vec<Problem>,
}

/// One wrong field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// Where, as a path into the request: `events[3].device_seq`, or `body`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The kinds of error answers. Appended, never renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body is not JSON, or was cut off.
    MalformedJson,
    /// 415: the body is not declared as JSON.
    UnsupportedMediaType,
    /// 413: the body is larger than the server accepts.
    PayloadTooLarge,
    /// 422: the request is JSON but wrong; `problems` says where.
    InvalidRequest,
    /// 401: no device token, a wrong or revoked one, or a wrong enrolment code.
    Unauthenticated,
    /// 404: no such thing.
    NotFound,
    /// 405: the endpoint exists but not with this method.
    MethodNotAllowed,
    /// 409: the request contradicts what is stored (a used enrolment code, a device
    /// enrolled twice).
    Conflict,
    /// 500: the server failed; the request may be retried.
    Internal,
    /// 429: too many failed attempts from this address (enrolment codes); the
    /// `Retry-After` header says how many seconds to wait.
    TooManyRequests,
    /// 403: the console account is signed in, but its role may not do this.
    Forbidden,
    /// A code added by a newer server.
    #[serde(other)]
    Other,
}

impl Role {
    /// The role's name on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Investigator => "investigator",
            Self::ResearchNurse => "research_nurse",
            Self::Coordinator => "coordinator",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RejectionCode {
    /// Whether the server stored the event all the same: such a refusal is part of
    /// the record for good, while any other holds only until a later push of the
    /// same event is answered.
    pub fn leaves_event_stored(self) -> bool {
        matches!(
            self,
            Self::InvalidPayload
                | Self::AllocationFlagged
                | Self::ParticipantOfAnotherSite
                | Self::UnknownUser
        )
    }

    /// The code's name on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidPayload => "invalid_payload",
            Self::WrongDevice => "wrong_device",
            Self::ChainBroken => "chain_broken",
            Self::SeqConflict => "seq_conflict",
            Self::DuplicateEventId => "duplicate_event_id",
            Self::FromTheFuture => "from_the_future",
            Self::AllocationFlagged => "allocation_flagged",
            Self::Other => "other",
            Self::ParticipantOfAnotherSite => "participant_of_another_site",
            Self::UnknownUser => "unknown_user",
            Self::LimitExceeded => "limit_exceeded",
        }
    }
}

impl fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An enrolment code, tidied: [`ENROLMENT_CODE_LEN`] characters from
/// [`ENROLMENT_CODE_ALPHABET`], displayed as `ABCD-EFGH`.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrolmentCode(String);

/// Occurs when typed text is not an enrolment code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrolmentCodeError {
    /// Occurs when, without spaces and dashes, the text is not
    /// [`ENROLMENT_CODE_LEN`] characters long.
    WrongLength {
        /// The number of characters found.
        length: usize,
    },
    /// Occurs when a character is not in [`ENROLMENT_CODE_ALPHABET`].
    NotInAlphabet {
        /// The character found.
        character: char,
    },
}

impl EnrolmentCode {
    /// Accepts what a person types: any case, with or without spaces and dashes.
    pub fn parse(text: &str) -> Result<Self, EnrolmentCodeError> {
        let tidy: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if let Some(character) = tidy.chars().find(|c| !ENROLMENT_CODE_ALPHABET.contains(*c)) {
            return Err(EnrolmentCodeError::NotInAlphabet { character });
        }
        let length = tidy.chars().count();
        if length != ENROLMENT_CODE_LEN {
            return Err(EnrolmentCodeError::WrongLength { length });
        }
        Ok(Self(tidy))
    }

    /// The characters without the dash: what is hashed and stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `ABCD-EFGH`, as printed for the coordinator.
impl fmt::Display for EnrolmentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (first, second) = self.0.split_at(ENROLMENT_CODE_LEN / 2);
        write!(f, "{first}-{second}")
    }
}

/// Conceals the code: it is a credential until it is used.
impl fmt::Debug for EnrolmentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnrolmentCode(<concealed>)")
    }
}

impl fmt::Display for EnrolmentCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongLength { length } => write!(
                f,
                "an enrolment code has {ENROLMENT_CODE_LEN} letters and digits; \
                 this one has {length}"
            ),
            Self::NotInAlphabet { character } => write!(
                f,
                "{character:?} does not occur in enrolment codes, which use only \
                 {ENROLMENT_CODE_ALPHABET}"
            ),
        }
    }
}

impl std::error::Error for EnrolmentCodeError {}

/// Deserialises the events of a push strictly: each must be exactly what [`Event`]
/// serialises to. `Event` itself accepts unknown fields (storage may carry more),
/// so the check compares the JSON received with the JSON the parsed event gives
/// back; any difference (an unknown field, a hash in capitals) is named.
fn strict_events<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Event>, D::Error> {
    let events = Vec::<StrictEvent>::deserialize(deserializer)?;
    Ok(events.into_iter().map(|strict| strict.0).collect())
}

/// One event of a push, checked to be in canonical form.
struct StrictEvent(Event);

impl<'de> Deserialize<'de> for StrictEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let received = serde_json::Value::deserialize(deserializer)?;
        let event: Event = serde_path_to_error::deserialize(&received).map_err(|error| {
            D::Error::custom(format_args!("at `{}`: {}", error.path(), error.inner()))
        })?;
        let canonical = serde_json::to_value(&event).map_err(D::Error::custom)?;
        match first_difference(&received, &canonical, String::new()) {
            None => Ok(Self(event)),
            Some(Difference::Unknown(path)) => {
                Err(D::Error::custom(format_args!("unknown field `{path}`")))
            }
            Some(Difference::NotCanonical(path)) => Err(D::Error::custom(format_args!(
                "`{path}` is not written as the app writes it"
            ))),
        }
    }
}

/// Where a received JSON value departs from the canonical one.
enum Difference {
    /// A key the canonical value does not have.
    Unknown(String),
    /// A value written differently.
    NotCanonical(String),
}

fn first_difference(
    received: &serde_json::Value,
    canonical: &serde_json::Value,
    path: String,
) -> Option<Difference> {
    use serde_json::Value;
    match (received, canonical) {
        (Value::Object(received), Value::Object(canonical)) => {
            for (key, value) in received {
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let Some(expected) = canonical.get(key) else {
                    return Some(Difference::Unknown(inner));
                };
                if let Some(difference) = first_difference(value, expected, inner) {
                    return Some(difference);
                }
            }
            None
        }
        _ if received == canonical => None,
        _ => Some(Difference::NotCanonical(path)),
    }
}

/// The OpenAPI schemas of the types the wire carries but other modules own
/// (`Event` and the parts it is made of, `PinHash`, `LeaseId`), written here by
/// hand from their serde forms so that `event`, `time`, `pin` and `randomisation`
/// stay free of utoipa. Each says exactly what the server's decoder accepts: an
/// input the schema allows is never refused as malformed, and one it forbids is.
#[cfg(feature = "openapi")]
mod openapi {
    use std::borrow::Cow;

    use serde_json::json;
    use utoipa::openapi::{RefOr, Schema};
    use utoipa::{PartialSchema, ToSchema};

    use crate::event::{Event, EventKind};
    use crate::pin::{MAX_ITERATIONS, MIN_ITERATIONS, PinHash};
    use crate::randomisation::LeaseId;
    use crate::time::Moment;

    /// A UUID as the app writes it: lowercase, hyphenated. An event must be
    /// exactly as the app wrote it, since its hash covers those bytes.
    const UUID: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
    /// A SHA-256 digest as the app writes it.
    const HASH: &str = "^[0-9a-f]{64}$";
    /// `Moment::new`'s range: 1900-01-01 to 2200-01-01 UTC, offsets within ±18 h.
    pub(super) const MIN_UTC_MS: i64 = -2_208_988_800_000;
    pub(super) const MAX_UTC_MS: i64 = 7_258_118_400_000;
    pub(super) const MAX_OFFSET_MINUTES: i16 = 18 * 60;

    /// A schema from its JSON: far easier to read than utoipa's builders.
    fn from_json(schema: serde_json::Value) -> RefOr<Schema> {
        RefOr::T(serde_json::from_value(schema).expect("a schema written by hand here is valid"))
    }

    /// A reference to the component `T` is registered as.
    fn reference<T: ToSchema>() -> serde_json::Value {
        json!({ "$ref": format!("#/components/schemas/{}", T::name()) })
    }

    impl PartialSchema for Event {
        fn schema() -> RefOr<Schema> {
            let uuid = |description: &str| {
                json!({ "type": "string", "format": "uuid", "pattern": UUID,
                    "description": description })
            };
            let hash = |description: &str| json!({ "type": "string", "pattern": HASH, "description": description });
            let text = |description: &str| json!({ "type": "string", "description": description });
            from_json(json!({
                "type": "object",
                "description": "One immutable record of a user action, sealed into its device's \
                    SHA-256 hash chain. Pushed exactly as the tablet stored it: no other field, \
                    every value written as the app writes it. The limits every event keeps (a \
                    payload of at most 64 KiB, an app_version of at most 64 characters, nothing \
                    dated before 2018) are checked per event and answered as rejections.",
                "additionalProperties": false,
                "required": ["id", "device_id", "device_seq", "recorded_at", "user_id",
                    "participant_id", "kind", "payload", "app_version", "schema_version",
                    "prev_hash", "hash"],
                "properties": {
                    "id": uuid("The event's id: a UUID v7 made on the tablet."),
                    "device_id": uuid("The tablet that recorded it."),
                    // No `format`: int64 would end at 2^63, and u64 is read whole.
                    "device_seq": { "type": "integer", "minimum": 0, "maximum": u64::MAX,
                        "description": "Its place in its device's chain, from 1, without gaps." },
                    "recorded_at": reference::<Moment>(),
                    "user_id": uuid("The signed-in user who acted."),
                    "participant_id": uuid("The participant the event is about."),
                    "kind": reference::<EventKind>(),
                    "payload": text("The payload's JSON text, as hashed; checked per kind."),
                    "app_version": text("The version of the app that recorded it."),
                    "schema_version": { "type": "integer", "minimum": 0, "maximum": u32::MAX,
                        "description": "The CRF schema version the payload was entered with." },
                    "prev_hash": hash("The previous event's hash; zeros for the first."),
                    "hash": hash("SHA-256 over the event's fields and prev_hash."),
                },
            }))
        }
    }

    impl ToSchema for Event {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("Event")
        }

        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            for (name, schema) in [
                (Moment::name(), Moment::schema()),
                (EventKind::name(), EventKind::schema()),
            ] {
                schemas.push((name.into_owned(), schema));
            }
        }
    }

    impl PartialSchema for Moment {
        fn schema() -> RefOr<Schema> {
            from_json(json!({
                "type": "object",
                "description": "An instant: UTC milliseconds, and the device's UTC offset then.",
                "additionalProperties": false,
                "required": ["utc_ms", "offset_minutes"],
                "properties": {
                    "utc_ms": { "type": "integer", "format": "int64",
                        "minimum": MIN_UTC_MS, "maximum": MAX_UTC_MS,
                        "description": "Milliseconds since 1970-01-01 UTC; years 1900 to 2200." },
                    "offset_minutes": { "type": "integer", "format": "int32",
                        "minimum": -MAX_OFFSET_MINUTES, "maximum": MAX_OFFSET_MINUTES,
                        "description": "The device's offset from UTC in minutes, east positive." },
                },
            }))
        }
    }

    impl ToSchema for Moment {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("Moment")
        }
    }

    impl PartialSchema for EventKind {
        fn schema() -> RefOr<Schema> {
            let kinds =
                EventKind::ALL.map(|kind| serde_json::to_value(kind).expect("a kind serialises"));
            from_json(json!({
                "type": "string",
                "description": "What the user did. Appended, never renamed.",
                "enum": kinds,
            }))
        }
    }

    impl ToSchema for EventKind {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("EventKind")
        }
    }

    impl PartialSchema for PinHash {
        fn schema() -> RefOr<Schema> {
            from_json(json!({
                "type": "object",
                "description": "A PIN's PBKDF2-HMAC-SHA-256 hash: a tablet checks a typed PIN \
                    against it offline.",
                "additionalProperties": false,
                "required": ["salt", "iterations", "hash"],
                "properties": {
                    "salt": { "type": "string", "pattern": "^[0-9a-f]{32}$" },
                    "iterations": { "type": "integer",
                        "minimum": MIN_ITERATIONS, "maximum": MAX_ITERATIONS },
                    "hash": { "type": "string", "pattern": HASH },
                },
            }))
        }
    }

    impl ToSchema for PinHash {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("PinHash")
        }
    }

    impl PartialSchema for LeaseId {
        fn schema() -> RefOr<Schema> {
            from_json(json!({
                "type": "string",
                "format": "uuid",
                "description": "Identifies an allocation lease.",
            }))
        }
    }

    impl ToSchema for LeaseId {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("LeaseId")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_report_is_refused_by_the_field_it_gets_wrong() {
        let report = |clock_ms, head_seq, app_version: &str| StatusReport {
            clock_ms,
            head_seq,
            app_version: app_version.to_owned(),
        };
        let field = |report: StatusReport, stored| report.problem(stored).map(|(field, _)| field);
        let now = 1_790_000_000_000;
        assert_eq!(field(report(now, 12, "0.1.0"), 12), None);
        assert_eq!(
            field(report(now, 0, "0.1.0"), 0),
            None,
            "a tablet that recorded nothing"
        );
        assert_eq!(field(report(now, 11, "0.1.0"), 12), Some("head_seq"));
        assert_eq!(field(report(now, u64::MAX, "0.1.0"), 0), Some("head_seq"));
        assert_eq!(field(report(i64::MAX, 12, "0.1.0"), 0), Some("clock_ms"));
        assert_eq!(
            field(report(-2_300_000_000_000, 12, "0.1.0"), 0),
            Some("clock_ms")
        );
        assert_eq!(field(report(now, 12, ""), 0), Some("app_version"));
        assert_eq!(
            field(report(now, 12, &"9".repeat(65)), 0),
            Some("app_version")
        );
        assert_eq!(
            field(report(now, 12, &"版".repeat(64)), 0),
            None,
            "counted in characters"
        );
    }

    /// A reported lockout must be one the rule imposes, and not in the future.
    #[test]
    fn a_lockout_report_is_checked_against_the_rule() {
        let now = 1_772_337_600_000;
        let lockout = |failures, wait_ms, at_ms| PinLockout {
            id: Uuid::from_u128(1),
            user_id: Uuid::from_u128(2),
            at_ms,
            failures,
            wait_ms,
        };
        assert_eq!(lockout(5, 30_000, now).problem(now), None);
        assert_eq!(lockout(7, 120_000, now - 1).problem(now), None);
        assert_eq!(lockout(4, 30_000, now).problem(now).unwrap().0, "failures");
        assert_eq!(
            lockout(6, 30_000, now).problem(now),
            Some((
                "wait_ms",
                "6 wrong PINs make a tablet wait 60000 ms, not 30000".to_owned()
            ))
        );
        let ahead = now + MAX_CLOCK_OFFSET_MS + 1;
        assert_eq!(lockout(5, 30_000, ahead).problem(now).unwrap().0, "at_ms");
    }
    use crate::event::{ChainHead, EventDraft, EventKind};
    use crate::time::Moment;

    fn event() -> Event {
        ChainHead::genesis(Uuid::from_u128(7))
            .append(EventDraft {
                id: Uuid::from_u128(1),
                participant_id: Uuid::from_u128(2),
                user_id: Uuid::from_u128(3),
                recorded_at: Moment::new(1_700_000_000_000, 480).unwrap(),
                kind: EventKind::FormSaved,
                payload: "{}".to_owned(),
                app_version: "0.1.0".to_owned(),
                schema_version: 1,
            })
            .unwrap()
    }

    fn push_json(edit: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
        let mut event = serde_json::to_value(event()).unwrap();
        edit(&mut event);
        serde_json::json!({ "events": [event] })
    }

    fn check_push(json: serde_json::Value, expected: Result<(), &str>) {
        let actual = serde_json::from_value::<PushRequest>(json.clone())
            .map(drop)
            .map_err(|error| error.to_string());
        assert_eq!(actual, expected.map_err(str::to_owned), "{json}");
    }

    #[test]
    fn a_push_is_exactly_what_the_app_writes() {
        check_push(push_json(|_| {}), Ok(()));
        check_push(
            push_json(|event| event["colour"] = "red".into()),
            Err("unknown field `colour`"),
        );
        check_push(
            push_json(|event| event["recorded_at"]["zone"] = "CST".into()),
            Err("unknown field `recorded_at.zone`"),
        );
        check_push(
            push_json(|event| {
                let hash = event["hash"].as_str().unwrap().to_uppercase();
                event["hash"] = hash.into();
            }),
            Err("`hash` is not written as the app writes it"),
        );
        check_push(
            push_json(|event| event["device_seq"] = "1".into()),
            Err("at `device_seq`: invalid type: string \"1\", expected u64"),
        );
        check_push(
            serde_json::json!({ "events": [], "device": "x" }),
            Err("unknown field `device`, expected `events`"),
        );
    }

    #[cfg(feature = "openapi")]
    #[test]
    fn the_schema_of_a_moment_is_the_range_moments_keep() {
        use super::openapi::{MAX_OFFSET_MINUTES, MAX_UTC_MS, MIN_UTC_MS};
        use crate::time::MomentError::{InstantOutOfRange, OffsetOutOfRange};
        let check = |utc_ms, offset_minutes, expected: Result<(), crate::time::MomentError>| {
            let actual = Moment::new(utc_ms, offset_minutes).map(drop);
            assert_eq!(actual, expected, "{utc_ms} {offset_minutes}");
        };
        check(MIN_UTC_MS, -MAX_OFFSET_MINUTES, Ok(()));
        check(MAX_UTC_MS, MAX_OFFSET_MINUTES, Ok(()));
        let (before, after) = (MIN_UTC_MS - 1, MAX_UTC_MS + 1);
        check(before, 0, Err(InstantOutOfRange { utc_ms: before }));
        check(after, 0, Err(InstantOutOfRange { utc_ms: after }));
        let (east, west) = (MAX_OFFSET_MINUTES + 1, -MAX_OFFSET_MINUTES - 1);
        check(
            0,
            east,
            Err(OffsetOutOfRange {
                offset_minutes: east,
            }),
        );
        check(
            0,
            west,
            Err(OffsetOutOfRange {
                offset_minutes: west,
            }),
        );
    }

    #[test]
    fn a_push_round_trips() {
        let request = PushRequest {
            events: vec![event()],
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(serde_json::from_str::<PushRequest>(&json).unwrap(), request);
    }

    #[test]
    fn answers_tolerate_what_a_newer_server_adds() {
        let json = serde_json::json!({
            "acked_seq": 3,
            "rejected": [{
                "device_seq": 2,
                "event_id": Uuid::from_u128(1),
                "code": "a_code_from_2030",
                "message": "m",
                "hint": "a field from 2030",
            }],
            "server_time_ms": 0,
            "lease": {},
        });
        let response: PushResponse = serde_json::from_value(json).unwrap();
        assert_eq!(response.acked_seq, 3);
        assert_eq!(response.rejected[0].code, RejectionCode::Other);
        let error: ApiErrorBody = serde_json::from_value(serde_json::json!({
            "error": "teapot", "message": "m", "problems": [],
        }))
        .unwrap();
        assert_eq!(error.error, ErrorCode::Other);
    }

    #[test]
    fn names_match_serde() {
        let roles = [
            Role::Investigator,
            Role::ResearchNurse,
            Role::Coordinator,
            Role::Other,
        ];
        for role in roles {
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
            assert_eq!(
                serde_json::from_value::<Role>(role.as_str().into()).unwrap(),
                role
            );
        }
        let codes = [
            RejectionCode::InvalidPayload,
            RejectionCode::WrongDevice,
            RejectionCode::ChainBroken,
            RejectionCode::SeqConflict,
            RejectionCode::DuplicateEventId,
            RejectionCode::FromTheFuture,
            RejectionCode::AllocationFlagged,
            RejectionCode::Other,
            RejectionCode::ParticipantOfAnotherSite,
            RejectionCode::UnknownUser,
            RejectionCode::LimitExceeded,
        ];
        for code in codes {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert_eq!(
                serde_json::from_value::<RejectionCode>(code.as_str().into()).unwrap(),
                code
            );
        }
    }

    #[test]
    fn a_flagged_allocation_is_named_as_serde_names_it() {
        let code = RejectionCode::AllocationFlagged;
        assert_eq!(serde_json::to_value(code).unwrap(), "allocation_flagged");
        assert_eq!(code.as_str(), "allocation_flagged");
        assert_eq!(
            serde_json::from_value::<RejectionCode>("allocation_flagged".into()).unwrap(),
            code
        );
    }

    #[test]
    fn codes_serialise_in_snake_case() {
        let names = |value: serde_json::Value| value.to_string();
        assert_eq!(
            names(serde_json::to_value(RejectionCode::InvalidPayload).unwrap()),
            "\"invalid_payload\""
        );
        assert_eq!(
            names(serde_json::to_value(ErrorCode::MalformedJson).unwrap()),
            "\"malformed_json\""
        );
        assert_eq!(
            names(serde_json::to_value(Role::ResearchNurse).unwrap()),
            "\"research_nurse\""
        );
    }

    fn check_code(text: &str, expected: Result<&str, EnrolmentCodeError>) {
        let actual = EnrolmentCode::parse(text);
        assert_eq!(
            actual.as_ref().map(ToString::to_string).map_err(|e| *e),
            expected.map(str::to_owned),
            "{text:?}"
        );
    }

    #[test]
    fn enrolment_codes_forgive_case_spaces_and_dashes() {
        check_code("ABCD-EFGH", Ok("ABCD-EFGH"));
        check_code("abcdefgh", Ok("ABCD-EFGH"));
        check_code(" abcd efgh ", Ok("ABCD-EFGH"));
        check_code("2345-6789", Ok("2345-6789"));
        check_code(
            "ABCD-EFG",
            Err(EnrolmentCodeError::WrongLength { length: 7 }),
        );
        check_code("", Err(EnrolmentCodeError::WrongLength { length: 0 }));
        check_code(
            "ABCD-EFG0",
            Err(EnrolmentCodeError::NotInAlphabet { character: '0' }),
        );
        check_code(
            "ABCD-EFGI",
            Err(EnrolmentCodeError::NotInAlphabet { character: 'I' }),
        );
        assert_eq!(
            format!("{:?}", EnrolmentCode::parse("ABCDEFGH").unwrap()),
            "EnrolmentCode(<concealed>)"
        );
    }
}
