//! Backups of a tablet's whole event log (DESIGN.md, "Backup and recovery"): the
//! file a tablet writes so that records that never reached the server survive a
//! wiped, broken or revoked tablet, and the checks every import makes before a
//! single event is sent on.
//!
//! # The file (a format promise)
//!
//! One line of JSON, the [`BackupHeader`], then a newline, then the ciphertext:
//! AES-256-GCM over the [`BackupBody`] (JSON), with the header line and its
//! newline as additional data, so a header edited after writing fails the tag
//! check like an edited ciphertext. The key comes from the passphrase the user
//! types: PBKDF2-HMAC-SHA256 over its UTF-8 bytes with a random salt of
//! [`SALT_LEN`] bytes and [`ITERATIONS`] rounds, [`DERIVED_LEN`] bytes, of which
//! the first [`KEY_LEN`] are the key and the rest the check value the header
//! stores. The check value tells a mistyped passphrase from a damaged file; it
//! helps a guesser no more than the tag check does, since each guess costs the
//! same derivation.
//!
//! The cipher runs in the browser's WebCrypto (natively, with no cipher in the
//! wasm); this module owns everything else: the layout, the limits, the check
//! value, and the verification of every device's hash chain.
//!
//! The salt and nonce are arguments, never drawn here: this crate takes no
//! entropy.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::{ChainError, Event, verify_chain};
use crate::wire::Rejection;

/// What a backup file's header names itself: anything else is not a backup.
pub const FORMAT: &str = "HP-ECMO backup";

/// The layout version this release writes and the newest it reads.
pub const VERSION: u32 = 1;

/// The trial a backup's records belong to: a file naming another is refused
/// before it is decrypted.
pub const TRIAL: &str = crate::REGISTRATION;

/// PBKDF2 rounds for a new backup: OWASP's figure for PBKDF2-HMAC-SHA256
/// (2023), about a third of a second in a tablet's WebCrypto.
pub const ITERATIONS: u32 = 600_000;

/// The fewest rounds a file may name: a header asking for fewer is altered.
pub const MIN_ITERATIONS: u32 = 100_000;

/// The most rounds a file may name, so an altered header cannot hang the tablet.
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// Salt bytes.
pub const SALT_LEN: usize = 16;

/// AES-GCM nonce bytes.
pub const NONCE_LEN: usize = 12;

/// AES-256 key bytes.
pub const KEY_LEN: usize = 32;

/// Check value bytes.
pub const CHECK_LEN: usize = 32;

/// The bytes PBKDF2 derives: the key, then the check value.
pub const DERIVED_LEN: usize = KEY_LEN + CHECK_LEN;

/// AES-GCM tag bytes, which the ciphertext carries after the encrypted body.
pub const TAG_LEN: usize = 16;

/// The fewest characters a passphrase has: a backup leaves the tablet on a USB
/// stick or in an email, and its passphrase is all that protects it there.
pub const MIN_PASSPHRASE_CHARS: usize = 10;

/// The most characters a passphrase has.
pub const MAX_PASSPHRASE_CHARS: usize = 200;

/// The longest header line read: a file with no newline this early is not a
/// backup.
const MAX_HEADER_BYTES: usize = 4096;

/// The passphrase a backup is written or read with.
#[derive(Clone, PartialEq, Eq)]
pub struct Passphrase(String);

/// Occurs when a typed passphrase is too short or too long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassphraseError {
    /// Fewer than [`MIN_PASSPHRASE_CHARS`] characters.
    TooShort {
        /// How many it has.
        chars: usize,
    },
    /// More than [`MAX_PASSPHRASE_CHARS`] characters.
    TooLong {
        /// How many it has.
        chars: usize,
    },
}

impl Passphrase {
    /// A passphrase for a new backup, as typed (spaces count: they are part of
    /// what the user will type again).
    pub fn new(text: &str) -> Result<Self, PassphraseError> {
        let chars = text.chars().count();
        if chars < MIN_PASSPHRASE_CHARS {
            return Err(PassphraseError::TooShort { chars });
        }
        if chars > MAX_PASSPHRASE_CHARS {
            return Err(PassphraseError::TooLong { chars });
        }
        Ok(Self(text.to_owned()))
    }

    /// The bytes PBKDF2 reads.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<hidden>)")
    }
}

impl fmt::Display for PassphraseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { chars } => write!(
                f,
                "the passphrase needs at least {MIN_PASSPHRASE_CHARS} characters; this one has {chars}"
            ),
            Self::TooLong { chars } => write!(
                f,
                "the passphrase may have at most {MAX_PASSPHRASE_CHARS} characters; this one has {chars}"
            ),
        }
    }
}

impl std::error::Error for PassphraseError {}

/// The key derivation a file names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kdf {
    /// PBKDF2 rounds.
    pub iterations: u32,
    /// The salt, lowercase hex.
    pub salt: String,
}

/// The first line of a backup file, readable without the passphrase: what the
/// import screen shows before anything is decrypted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupHeader {
    /// [`FORMAT`].
    pub format: String,
    /// The layout version.
    pub version: u32,
    /// The trial's registration, [`TRIAL`].
    pub trial: String,
    /// The site of the tablet that wrote it.
    pub site: String,
    /// The tablet that wrote it.
    pub device_id: Uuid,
    /// Its short name ("T1"), for the import screen.
    pub device_label: String,
    /// When it was written, by the tablet's clock (UTC milliseconds).
    pub written_at_ms: i64,
    /// How many events the body holds.
    pub events: u64,
    /// How the key was derived.
    pub kdf: Kdf,
    /// The check value, lowercase hex.
    pub check: String,
    /// The AES-GCM nonce, lowercase hex.
    pub nonce: String,
    /// The ciphertext's length in bytes, tag included: a shorter file was cut.
    pub ciphertext_bytes: u64,
}

/// The encrypted part: every event the tablet held, in chain order.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupBody {
    /// The events.
    pub events: Vec<Event>,
}

/// What a new backup's header records, beside what encryption gives.
#[derive(Clone, Debug)]
pub struct NewBackup {
    /// The tablet's site.
    pub site: String,
    /// The tablet.
    pub device_id: Uuid,
    /// Its short name.
    pub device_label: String,
    /// Now, by the tablet's clock.
    pub written_at_ms: i64,
    /// The salt the key is derived with.
    pub salt: [u8; SALT_LEN],
    /// The nonce it encrypts with.
    pub nonce: [u8; NONCE_LEN],
}

/// The key and check value PBKDF2 derived from a passphrase.
pub struct DerivedKey {
    key: [u8; KEY_LEN],
    check: [u8; CHECK_LEN],
}

/// A backup's plaintext, sealed only once its header (the cipher's additional
/// data) is fixed: [`BackupHeader::seal`] gives it.
pub struct Sealing {
    /// The header line and its newline: the file's first bytes and the cipher's
    /// additional data.
    pub prefix: Vec<u8>,
    /// The body to encrypt.
    pub plaintext: Vec<u8>,
}

/// A file split into its parts and checked up to what needs the passphrase.
#[derive(Clone, Debug)]
pub struct BackupFile<'a> {
    /// Its header.
    pub header: BackupHeader,
    /// The header line and newline: the additional data to decrypt with.
    pub prefix: &'a [u8],
    /// The ciphertext, tag included.
    pub ciphertext: &'a [u8],
}

/// A decrypted backup whose every chain verified: one device's events after
/// another's, each in sequence order from its first.
#[derive(Clone, Debug)]
pub struct VerifiedBackup {
    chains: Vec<Vec<Event>>,
}

/// Why a backup cannot be written or read; each case is a message the import
/// screen shows, and none changes anything stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackupError {
    /// The file is not a backup of this software (another file was chosen).
    NotABackup,
    /// The file was written by a newer release.
    NewerFormat {
        /// The version it names.
        version: u32,
    },
    /// The file belongs to another trial.
    OtherTrial {
        /// The registration it names.
        trial: String,
    },
    /// The file is shorter than its header says: a copy was cut short.
    Truncated {
        /// The ciphertext bytes present.
        found: u64,
        /// The ciphertext bytes the header names.
        expected: u64,
    },
    /// The file's header or ciphertext was changed after it was written, or
    /// bytes were added to it.
    Altered,
    /// The passphrase is not the one the backup was written with.
    WrongPassphrase,
    /// A device's chain in the file does not hold: records are missing or were
    /// changed (the file was written by tampered software).
    ChainBroken {
        /// The device.
        device_id: Uuid,
        /// The first link that failed.
        error: ChainError,
    },
}

impl BackupHeader {
    /// The header of a new backup of `events`, whose plaintext and header line
    /// are then in [`Sealing`], ready for the cipher.
    pub fn seal(new: NewBackup, key: &DerivedKey, events: &[Event]) -> Sealing {
        let plaintext =
            serde_json::to_vec(&BackupBodyRef { events }).expect("events serialise to JSON");
        let header = Self {
            format: FORMAT.to_owned(),
            version: VERSION,
            trial: TRIAL.to_owned(),
            site: new.site,
            device_id: new.device_id,
            device_label: new.device_label,
            written_at_ms: new.written_at_ms,
            events: events.len() as u64,
            kdf: Kdf {
                iterations: ITERATIONS,
                salt: hex::encode(new.salt),
            },
            check: hex::encode(key.check),
            nonce: hex::encode(new.nonce),
            ciphertext_bytes: (plaintext.len() + TAG_LEN) as u64,
        };
        let mut prefix = serde_json::to_vec(&header).expect("a header serialises to JSON");
        prefix.push(b'\n');
        Sealing { prefix, plaintext }
    }

    /// The salt to derive the key with; `None` for an altered header.
    pub fn salt(&self) -> Option<[u8; SALT_LEN]> {
        decode_hex(&self.kdf.salt)
    }

    /// The nonce to decrypt with.
    pub fn nonce(&self) -> Option<[u8; NONCE_LEN]> {
        decode_hex(&self.nonce)
    }

    /// The key, when `key` was derived from the passphrase this backup was
    /// written with.
    pub fn unlock<'k>(&self, key: &'k DerivedKey) -> Result<&'k [u8; KEY_LEN], BackupError> {
        let stored: [u8; CHECK_LEN] = decode_hex(&self.check).ok_or(BackupError::Altered)?;
        if subtle::ConstantTimeEq::ct_eq(&stored[..], &key.check[..]).into() {
            Ok(&key.key)
        } else {
            Err(BackupError::WrongPassphrase)
        }
    }

    /// The key derivation's parameters, when they are within the limits this
    /// release reads.
    fn check_kdf(&self) -> Result<(), BackupError> {
        let rounds = MIN_ITERATIONS..=MAX_ITERATIONS;
        let sound = rounds.contains(&self.kdf.iterations)
            && self.salt().is_some()
            && self.nonce().is_some();
        sound.then_some(()).ok_or(BackupError::Altered)
    }
}

/// Serialises a borrowed log without copying it.
#[derive(Serialize)]
struct BackupBodyRef<'a> {
    events: &'a [Event],
}

impl DerivedKey {
    /// Splits PBKDF2's [`DERIVED_LEN`] bytes into the key and the check value.
    pub fn from_derived(bytes: [u8; DERIVED_LEN]) -> Self {
        let mut key = [0; KEY_LEN];
        let mut check = [0; CHECK_LEN];
        key.copy_from_slice(&bytes[..KEY_LEN]);
        check.copy_from_slice(&bytes[KEY_LEN..]);
        Self { key, check }
    }

    /// The AES-256 key.
    pub fn key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }
}

impl<'a> BackupFile<'a> {
    /// Splits a file into header and ciphertext and checks everything that needs
    /// no passphrase: that it is a backup, of a version this release reads, of
    /// this trial, whole and no longer than written.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BackupError> {
        let newline = bytes
            .iter()
            .take(MAX_HEADER_BYTES)
            .position(|&byte| byte == b'\n')
            .ok_or(BackupError::NotABackup)?;
        let (prefix, ciphertext) = bytes.split_at(newline + 1);
        let value: serde_json::Value =
            serde_json::from_slice(&prefix[..newline]).map_err(|_| BackupError::NotABackup)?;
        if value.get("format").and_then(serde_json::Value::as_str) != Some(FORMAT) {
            return Err(BackupError::NotABackup);
        }
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(version) if version > u64::from(VERSION) => {
                return Err(BackupError::NewerFormat {
                    version: u32::try_from(version).unwrap_or(u32::MAX),
                });
            }
            _ => {}
        }
        let header: BackupHeader =
            serde_json::from_value(value).map_err(|_| BackupError::Altered)?;
        if header.trial != TRIAL {
            return Err(BackupError::OtherTrial {
                trial: header.trial,
            });
        }
        header.check_kdf()?;
        let found = ciphertext.len() as u64;
        if found < header.ciphertext_bytes {
            return Err(BackupError::Truncated {
                found,
                expected: header.ciphertext_bytes,
            });
        }
        if found > header.ciphertext_bytes {
            return Err(BackupError::Altered);
        }
        Ok(Self {
            header,
            prefix,
            ciphertext,
        })
    }

    /// Reads the decrypted body and verifies every device's chain from its first
    /// event. A body the cipher accepted but that does not hold what the header
    /// says was written by other software.
    pub fn verify(&self, plaintext: &[u8]) -> Result<VerifiedBackup, BackupError> {
        let body: BackupBody =
            serde_json::from_slice(plaintext).map_err(|_| BackupError::Altered)?;
        if body.events.len() as u64 != self.header.events {
            return Err(BackupError::Altered);
        }
        let mut by_device: BTreeMap<Uuid, Vec<Event>> = BTreeMap::new();
        for event in body.events {
            by_device.entry(event.device_id()).or_default().push(event);
        }
        let mut chains = Vec::with_capacity(by_device.len());
        for (device_id, mut events) in by_device {
            events.sort_by_key(Event::device_seq);
            verify_chain(&events).map_err(|error| BackupError::ChainBroken { device_id, error })?;
            chains.push(events);
        }
        Ok(VerifiedBackup { chains })
    }
}

impl VerifiedBackup {
    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.chains.iter().map(Vec::len).sum()
    }

    /// Whether it holds no event (a tablet that recorded and pulled nothing).
    pub fn is_empty(&self) -> bool {
        self.chains.is_empty()
    }

    /// The events in pages of at most `size`, each page one device's, in
    /// sequence order: what an import sends, one push's worth at a time.
    pub fn pages(&self, size: usize) -> impl Iterator<Item = &[Event]> {
        self.chains
            .iter()
            .flat_map(move |chain| chain.chunks(size.max(1)))
    }
}

/// The answer to one page of an import (`POST /api/backups/import` from a
/// tablet, `POST /api/console/backups/import` from the console), whose body is
/// a push's: one device's events in sequence order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportedPage {
    /// The tablet whose events these were.
    pub device_id: Uuid,
    /// Its short name, for the import screen.
    pub device_label: String,
    /// Events the server lacked and stored now.
    pub stored: u64,
    /// Events the server held already, exactly as the backup has them.
    pub held: u64,
    /// The device's last sequence number the server holds now.
    pub acked_seq: u64,
    /// As a push's: events stored but refused as data or flagged, and the first
    /// refused outright (with the rest of the page after it).
    pub rejected: Vec<Rejection>,
}

/// What an import did, page after page: the one sentence its screen ends with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportTally {
    /// Events stored now.
    pub stored: u64,
    /// Events the server held already.
    pub held: u64,
    /// Every rejection the pages answered.
    pub rejected: Vec<Rejection>,
}

/// How an import ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The server had every event already: the backup was imported before (or
    /// its tablet synced since). Nothing changed.
    AlreadyHeld {
        /// How many events the backup holds.
        events: u64,
    },
    /// The server lacked some events and now holds them.
    Imported {
        /// Stored now.
        stored: u64,
        /// Held already.
        held: u64,
    },
    /// Some events were refused; the message names them (the coordinator's
    /// allocation audit and data queries show what was stored and flagged).
    Refused {
        /// Stored now.
        stored: u64,
        /// Refused or flagged.
        rejected: u64,
    },
}

impl ImportTally {
    /// Counts one page's answer.
    pub fn add(&mut self, page: ImportedPage) {
        self.stored += page.stored;
        self.held += page.held;
        self.rejected.extend(page.rejected);
    }

    /// How the import ended.
    pub fn outcome(&self) -> ImportOutcome {
        if !self.rejected.is_empty() {
            ImportOutcome::Refused {
                stored: self.stored,
                rejected: self.rejected.len() as u64,
            }
        } else if self.stored == 0 {
            ImportOutcome::AlreadyHeld { events: self.held }
        } else {
            ImportOutcome::Imported {
                stored: self.stored,
                held: self.held,
            }
        }
    }
}

/// How many of a page's events the server held already: those at or before
/// its chain head `before` the page, short of the first refused outright (a
/// different event under the same number is not held, it conflicts).
pub fn held_in_page(events: &[Event], before: u64, rejected: &[Rejection]) -> u64 {
    let refused_from = rejected
        .iter()
        .filter(|rejection| !rejection.code.leaves_event_stored())
        .map(|rejection| rejection.device_seq)
        .min()
        .unwrap_or(u64::MAX);
    events
        .iter()
        .filter(|event| event.device_seq() <= before && event.device_seq() < refused_from)
        .count() as u64
}

fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    hex::decode(text).ok()?.try_into().ok()
}

impl fmt::Display for BackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotABackup => f.write_str("this file is not an HP-ECMO backup"),
            Self::NewerFormat { version } => write!(
                f,
                "this backup was written by a newer release (format {version}); update the app first"
            ),
            Self::OtherTrial { trial } => {
                write!(
                    f,
                    "this backup belongs to another trial ({trial}), not {TRIAL}"
                )
            }
            Self::Truncated { found, expected } => write!(
                f,
                "this backup is cut short: {found} of its {expected} bytes are there; copy it again"
            ),
            Self::Altered => f.write_str("this backup was changed or damaged after it was written"),
            Self::WrongPassphrase => {
                f.write_str("the passphrase is not the one this backup was written with")
            }
            Self::ChainBroken { device_id, error } => write!(
                f,
                "the records of tablet {device_id} in this backup do not hold together: {error}"
            ),
        }
    }
}

impl std::error::Error for BackupError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ChainHead, EventDraft, EventKind};
    use crate::time::Moment;
    use crate::wire::RejectionCode;

    fn key(byte: u8) -> DerivedKey {
        DerivedKey::from_derived([byte; DERIVED_LEN])
    }

    fn events(device: Uuid, count: usize) -> Vec<Event> {
        let mut head = ChainHead::genesis(device);
        (0..count)
            .map(|index| {
                head.append(EventDraft {
                    id: Uuid::from_u128(device.as_u128() ^ index as u128),
                    participant_id: Uuid::from_u128(7),
                    user_id: Uuid::from_u128(8),
                    recorded_at: Moment::new(1_780_000_000_000 + index as i64, 480).unwrap(),
                    kind: EventKind::FormSaved,
                    payload: "{}".to_owned(),
                    app_version: "1".to_owned(),
                    schema_version: 1,
                })
                .unwrap()
            })
            .collect()
    }

    fn new_backup() -> NewBackup {
        NewBackup {
            site: "BJ".to_owned(),
            device_id: Uuid::from_u128(1),
            device_label: "T1".to_owned(),
            written_at_ms: 1_780_000_000_000,
            salt: [3; SALT_LEN],
            nonce: [4; NONCE_LEN],
        }
    }

    /// A file as the app writes it, with the identity standing in for the cipher
    /// (it keeps the length, tag included).
    fn file(sealing: &Sealing) -> Vec<u8> {
        let mut bytes = sealing.prefix.clone();
        bytes.extend_from_slice(&sealing.plaintext);
        bytes.extend_from_slice(&[0; TAG_LEN]);
        bytes
    }

    fn plaintext<'a>(file: &BackupFile<'a>) -> &'a [u8] {
        &file.ciphertext[..file.ciphertext.len() - TAG_LEN]
    }

    #[test]
    fn a_backup_reads_back_with_every_chain_verified_and_paged_per_device() {
        let mut log = events(Uuid::from_u128(1), 5);
        log.extend(events(Uuid::from_u128(2), 3));
        let sealing = BackupHeader::seal(new_backup(), &key(9), &log);
        let bytes = file(&sealing);
        let parsed = BackupFile::parse(&bytes).unwrap();
        assert_eq!(parsed.header.events, 8);
        assert_eq!(parsed.header.kdf.iterations, ITERATIONS);
        assert_eq!(parsed.prefix, &sealing.prefix[..]);
        assert_eq!(parsed.header.unlock(&key(9)).unwrap(), &[9; KEY_LEN]);
        let verified = parsed.verify(plaintext(&parsed)).unwrap();
        assert_eq!(verified.len(), 8);
        let pages: Vec<Vec<u64>> = verified
            .pages(2)
            .map(|page| page.iter().map(Event::device_seq).collect())
            .collect();
        assert_eq!(
            pages,
            [vec![1, 2], vec![3, 4], vec![5], vec![1, 2], vec![3]]
        );
        assert!(
            verified
                .pages(2)
                .all(|page| page.iter().all(|e| e.device_id() == page[0].device_id()))
        );
    }

    #[test]
    fn another_passphrase_is_told_apart_from_damage() {
        let sealing = BackupHeader::seal(new_backup(), &key(9), &events(Uuid::from_u128(1), 1));
        let bytes = file(&sealing);
        let parsed = BackupFile::parse(&bytes).unwrap();
        assert_eq!(
            parsed.header.unlock(&key(8)).err(),
            Some(BackupError::WrongPassphrase)
        );
    }

    #[test]
    fn a_cut_file_is_truncated_and_a_longer_one_altered() {
        let sealing = BackupHeader::seal(new_backup(), &key(9), &events(Uuid::from_u128(1), 3));
        let bytes = file(&sealing);
        let whole = (bytes.len() - sealing.prefix.len()) as u64;
        assert_eq!(
            BackupFile::parse(&bytes[..bytes.len() - 1]).err(),
            Some(BackupError::Truncated {
                found: whole - 1,
                expected: whole
            })
        );
        // Cut inside the header line: no newline, so not a backup at all.
        assert_eq!(
            BackupFile::parse(&bytes[..20]).err(),
            Some(BackupError::NotABackup)
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(BackupFile::parse(&longer).err(), Some(BackupError::Altered));
    }

    #[test]
    fn other_files_trials_versions_and_altered_headers_are_named() {
        let sealing = BackupHeader::seal(new_backup(), &key(9), &events(Uuid::from_u128(1), 1));
        let bytes = file(&sealing);
        let edit = |from: &str, to: &str| {
            let text = String::from_utf8_lossy(&sealing.prefix).replacen(from, to, 1);
            let mut edited = text.into_bytes();
            edited.extend_from_slice(&bytes[sealing.prefix.len()..]);
            BackupFile::parse(&edited).err()
        };
        assert_eq!(
            BackupFile::parse(b"PK\x03\x04 a zip file\n").err(),
            Some(BackupError::NotABackup)
        );
        assert_eq!(
            edit(TRIAL, "NCT00000001"),
            Some(BackupError::OtherTrial {
                trial: "NCT00000001".to_owned()
            })
        );
        assert_eq!(
            edit("\"version\":1", "\"version\":2"),
            Some(BackupError::NewerFormat { version: 2 })
        );
        assert_eq!(
            edit("\"iterations\":600000", "\"iterations\":1"),
            Some(BackupError::Altered)
        );
        assert_eq!(
            edit("\"nonce\":\"04", "\"nonce\":\"zz"),
            Some(BackupError::Altered)
        );
        assert_eq!(edit("\"site\"", "\"sight\""), Some(BackupError::Altered));
    }

    #[test]
    fn a_body_with_a_broken_chain_or_the_wrong_count_is_refused() {
        let device = Uuid::from_u128(1);
        let mut log = events(device, 4);
        log.remove(2);
        let sealing = BackupHeader::seal(new_backup(), &key(9), &log);
        let bytes = file(&sealing);
        let parsed = BackupFile::parse(&bytes).unwrap();
        assert!(matches!(
            parsed.verify(plaintext(&parsed)),
            Err(BackupError::ChainBroken { device_id, error: ChainError::SequenceGap { expected: 3, found: 4, .. } })
                if device_id == device
        ));
        let whole = events(device, 2);
        let sealing = BackupHeader::seal(new_backup(), &key(9), &whole);
        let bytes = file(&sealing);
        let parsed = BackupFile::parse(&bytes).unwrap();
        let one = serde_json::to_vec(&BackupBodyRef {
            events: &whole[..1],
        })
        .unwrap();
        assert_eq!(parsed.verify(&one).err(), Some(BackupError::Altered));
        assert_eq!(parsed.verify(b"not json").err(), Some(BackupError::Altered));
    }

    fn rejection(device_seq: u64, code: RejectionCode) -> Rejection {
        Rejection {
            device_seq,
            event_id: Uuid::nil(),
            code,
            message: String::new(),
        }
    }

    #[test]
    fn held_events_stop_at_the_first_refused_outright() {
        let page = events(Uuid::from_u128(1), 6);
        assert_eq!(held_in_page(&page, 4, &[]), 4);
        assert_eq!(held_in_page(&page, 0, &[]), 0);
        let conflict = [rejection(3, RejectionCode::SeqConflict)];
        assert_eq!(held_in_page(&page, 4, &conflict), 2);
        // Stored though refused as data: still held.
        let flagged = [rejection(2, RejectionCode::InvalidPayload)];
        assert_eq!(held_in_page(&page, 4, &flagged), 4);
    }

    #[test]
    fn an_import_of_nothing_new_says_so_and_a_refusal_outweighs_the_rest() {
        let page = |stored, held, rejected: Vec<Rejection>| ImportedPage {
            device_id: Uuid::nil(),
            device_label: "T1".to_owned(),
            stored,
            held,
            acked_seq: 0,
            rejected,
        };
        let mut tally = ImportTally::default();
        tally.add(page(0, 500, vec![]));
        tally.add(page(0, 20, vec![]));
        assert_eq!(tally.outcome(), ImportOutcome::AlreadyHeld { events: 520 });
        tally.add(page(7, 3, vec![]));
        assert_eq!(
            tally.outcome(),
            ImportOutcome::Imported {
                stored: 7,
                held: 523
            }
        );
        tally.add(page(0, 0, vec![rejection(9, RejectionCode::ChainBroken)]));
        assert_eq!(
            tally.outcome(),
            ImportOutcome::Refused {
                stored: 7,
                rejected: 1
            }
        );
    }

    #[test]
    fn a_passphrase_has_ten_to_two_hundred_characters_counted_as_typed() {
        assert_eq!(
            Passphrase::new("short").err(),
            Some(PassphraseError::TooShort { chars: 5 })
        );
        // Ten Chinese characters are ten characters, though thirty bytes.
        assert!(Passphrase::new("重症监护室体外膜肺氧").is_ok());
        assert_eq!(
            Passphrase::new("八个汉字不够长的").err(),
            Some(PassphraseError::TooShort { chars: 8 })
        );
        assert_eq!(
            Passphrase::new(&"a".repeat(201)).err(),
            Some(PassphraseError::TooLong { chars: 201 })
        );
        assert_eq!(
            format!("{:?}", Passphrase::new("correct horse").unwrap()),
            "Passphrase(<hidden>)"
        );
    }
}
