//! The typed body of each kind of event: the contract between the app that writes
//! events, the server that receives them and the projection that reads them back.
//!
//! An [`crate::event::Event`] keeps its payload as JSON text, because its hash
//! covers those exact bytes. [`Payload::parse`] turns that text back into a typed
//! body, strictly (unknown fields are refused, so a tablet with a bug is caught at
//! once), and validates it with the same form validators the tablet ran before
//! saving; the server calls it on every pushed event. What a payload cannot show on
//! its own (a sample's window and the outcome dates, measured from the ECMO start
//! of the participant's screening) is re-checked by `crate::projection`.
//!
//! The JSON of every body is a promise to tablets in the field: fields and variants
//! are added, never renamed, and [`SCHEMA_VERSION`] names the shape an event was
//! entered with.
//!
//! # Versions
//!
//! A trial runs for years and its forms change; an event keeps the version it was
//! entered with for good (its hash covers it). This build reads every version up to
//! [`SCHEMA_VERSION`]: an older body is upgraded one version at a time by
//! [`UPGRADES`], written once when the shapes change and never edited, so an old
//! event keeps its meaning. A body of a *newer* version is kept and never
//! interpreted: [`PayloadError::NewerSchemaVersion`] says the app must be updated
//! to read it. `tests/golden.rs` replays a log recorded by the version-1 build.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::casebook::{CasebookSigned, CasebookUnlocked};
use crate::crf::consent::ConsentForm;
use crate::crf::end::{EndOfParticipation, NotEnrolled, Withdrawal};
use crate::crf::{self, Entry, Form, FormContext, FormKind, FormRef, MAX_TEXT_CHARS};
use crate::edits::same_json;
use crate::event::{Event, EventKind};
use crate::field::{Field, FieldError, Input, TimeLimit};
use crate::json::{JsonError, check_unique_keys};
use crate::randomisation::{Arm, LeaseId};
use crate::screening::{Screening, ScreeningForm};
use crate::time::Moment;
use uuid::Uuid;

/// The version of the payload shapes in this module, recorded in every event.
pub const SCHEMA_VERSION: u32 = 3;

/// Turns the JSON of one version's body into the next version's.
pub type Upgrade = fn(EventKind, serde_json::Value) -> Result<serde_json::Value, String>;

/// The upgrade steps: `UPGRADES[n]` turns a body of version `n + 1` into version
/// `n + 2`, so a body of version `v` goes through `UPGRADES[v - 1..]`. One step is
/// appended with every new version, and none is ever changed.
pub const UPGRADES: [Upgrade; SCHEMA_VERSION as usize - 1] = [version_1_to_2, version_2_to_3];

/// Version 2 counts transfusions as Chinese blood banks do (CRF.md §7): red cells
/// in U, platelets in therapeutic doses, plasma in mL. A version-1 daily
/// assessment keeps its three counts in units, which this version still reads and
/// shows as entered (converting them would invent a number no one recorded), so
/// no body changes; a form of version 2 may not hold them ([`Payload::parse`]).
fn version_1_to_2(_: EventKind, body: serde_json::Value) -> Result<serde_json::Value, String> {
    Ok(body)
}

/// Version 3 lets a screening hold the patient's bed and initials, for the site
/// alone; a body of version 2 has neither, and reads as it is.
fn version_2_to_3(_: EventKind, body: serde_json::Value) -> Result<serde_json::Value, String> {
    Ok(body)
}

/// How far a time in a body may lie after the moment its event is recorded: a
/// time typed to the next minute, a wall clock read a little ahead. Anything later
/// has not happened yet, so it cannot have been observed.
pub const MAX_MS_AFTER_RECORDING: i64 = 5 * 60 * 1000;

/// The longest screening number accepted, in characters.
pub const MAX_SCREENING_NUMBER_CHARS: usize = 32;

/// The most digits a study number's count may have: 99 999 randomisations per
/// device is more than any trial will reach.
const MAX_COUNT_DIGITS: usize = 5;

/// The longest site code or device label in a study number.
pub const MAX_STUDY_NUMBER_PART_CHARS: usize = 8;

/// The body of an event, one variant per [`EventKind`].
///
/// The kind itself is not in the JSON (the event records it beside the payload),
/// so [`Payload::to_json`] writes only the body.
#[derive(Clone, Debug, PartialEq)]
// A saved form is large, but a payload is parsed, matched and dropped one at a time;
// boxing it would only make every construction in the app noisier.
#[allow(clippy::large_enum_variant)]
pub enum Payload {
    /// A patient was screened.
    ScreeningRecorded(ScreeningRecorded),
    /// Consent was recorded.
    ConsentRecorded(ConsentForm),
    /// The participant was allocated an arm.
    Randomised(Randomised),
    /// A case report form was saved.
    FormSaved(FormSaved),
    /// A saved value was corrected.
    ValueCorrected(ValueCorrected),
    /// The participant was withdrawn.
    Withdrawn(Withdrawal),
    /// The participant's follow-up ended.
    EndOfParticipation(EndOfParticipation),
    /// A screened patient was not enrolled.
    NotEnrolled(NotEnrolled),
    /// The investigator signed the casebook.
    CasebookSigned(CasebookSigned),
    /// The coordinator unlocked the casebook.
    CasebookUnlocked(CasebookUnlocked),
}

/// A screening: the tablet's screening number for the patient and the form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreeningRecorded {
    /// Assigned by the tablet, so it exists offline: a [`ScreeningNumber`] from
    /// this build on ("T1-0007"); any text of at most
    /// [`MAX_SCREENING_NUMBER_CHARS`] characters from events recorded before, which
    /// keep the number they were given.
    pub screening_number: String,
    /// The screening form as entered.
    pub form: ScreeningForm,
}

/// A randomisation: which slot of which lease gave which arm, and the study number
/// the participant is known by from then on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Randomised {
    /// The lease the slot came from.
    pub lease_id: LeaseId,
    /// The slot of the lease, from 0.
    pub slot: u32,
    /// The arm of that slot.
    pub arm: Arm,
    /// The participant's study number.
    pub study_number: StudyNumber,
    /// The moment of the randomise tap, which the ECMO window was measured to.
    pub randomised_at: Moment,
}

/// A saved form and the fields whose unusual values the user confirmed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormSaved {
    /// The form as saved.
    pub form: Form,
    /// The fields whose warnings the user confirmed; the validator lets exactly
    /// these through.
    #[serde(default)]
    pub confirmed: Vec<Field>,
}

/// A correction of one saved value, with the value the user saw and why it changed.
///
/// `old` is the entry's JSON as the correcting device showed it (`null` when blank):
/// it is what proves, later, that the user saw the value they replaced. `new` is
/// the new entry's JSON. A correction is a deliberate act with a reason, so a new
/// value in the warning range counts as confirmed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueCorrected {
    /// The form instance corrected.
    pub form: FormRef,
    /// The field corrected; one of the form's [`FormKind::fields`].
    pub field: Field,
    /// The entry the user saw before correcting.
    pub old: serde_json::Value,
    /// The entry that replaces it.
    pub new: serde_json::Value,
    /// Why, in the user's words; required.
    pub reason: String,
    /// The change this correction confirms, when it keeps the entry it corrects:
    /// how a data query whose standing value is right is resolved (a reason, on
    /// every device's record), where an unchanged correction is otherwise a
    /// mistake. Absent from every other correction, so their JSON (and hashes)
    /// are as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirms: Option<Uuid>,
}

/// A study number: `SITE-DEVICE-NNN`, e.g. "BJ-T1-007" for the seventh participant
/// randomised on tablet T1 at the Beijing site.
///
/// Made on the tablet at the randomise step from the site's code, the tablet's
/// label and how many participants that tablet has randomised, so it is unique
/// without a network: each tablet numbers only its own. The site code and device
/// label are 1 to [`MAX_STUDY_NUMBER_PART_CHARS`] capital letters or digits; the
/// count starts at 1 and has at least three digits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StudyNumber(String);

/// A screening number: the screening tablet's label and how many patients that
/// tablet has screened, `T1-0007`. Each tablet numbers only its own screenings,
/// so numbers are unique without a network; the store takes the next one in the
/// same transaction as the screening event, so two tabs never give one twice.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScreeningNumber(String);

/// The most screenings one tablet numbers: four digits.
const MAX_SCREENING_COUNT: u32 = 9_999;

/// Occurs when a screening number cannot be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScreeningNumberError {
    /// Occurs when the device label is empty, too long or not capital letters and
    /// digits.
    DeviceLabel {
        /// The label given.
        label: String,
    },
    /// Occurs when the count is 0 or beyond 9 999.
    Count {
        /// The count given.
        count: u32,
    },
}

impl ScreeningNumber {
    /// The number of the `count`-th patient (from 1) screened on the tablet
    /// labelled `device_label`.
    pub fn new(device_label: &str, count: u32) -> Result<Self, ScreeningNumberError> {
        if !is_code(device_label) {
            return Err(ScreeningNumberError::DeviceLabel {
                label: device_label.to_owned(),
            });
        }
        if !(1..=MAX_SCREENING_COUNT).contains(&count) {
            return Err(ScreeningNumberError::Count { count });
        }
        Ok(Self(format!("{device_label}-{count:04}")))
    }

    /// The count in `text` when it is a number the tablet `device_label` gave,
    /// so a tablet carries on from its highest.
    pub fn count_in(text: &str, device_label: &str) -> Option<u32> {
        let count: u32 = text
            .strip_prefix(device_label)?
            .strip_prefix('-')?
            .parse()
            .ok()?;
        (Self::new(device_label, count).ok()?.0 == text).then_some(count)
    }

    /// The number as printed and stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScreeningNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for ScreeningNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DeviceLabel { label } => write!(
                f,
                "device label {label:?} must be 1 to {MAX_STUDY_NUMBER_PART_CHARS} capital letters or digits"
            ),
            Self::Count { count } => {
                write!(
                    f,
                    "screening count {count} must be 1 to {MAX_SCREENING_COUNT}"
                )
            }
        }
    }
}

impl std::error::Error for ScreeningNumberError {}

/// Occurs when a study number cannot be made or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StudyNumberError {
    /// Occurs when the site code is empty, too long or not capital letters and
    /// digits.
    SiteCode {
        /// The code given.
        code: String,
    },
    /// Occurs when the device label is empty, too long or not capital letters and
    /// digits.
    DeviceLabel {
        /// The label given.
        label: String,
    },
    /// Occurs when the count is 0 or has more than five digits.
    Count {
        /// The count given.
        count: u32,
    },
    /// Occurs when a text is not `SITE-DEVICE-NNN` written as [`StudyNumber::new`]
    /// writes it.
    Malformed {
        /// The text given.
        text: String,
    },
}

/// Occurs when an event's payload cannot be accepted.
#[derive(Clone, Debug, PartialEq)]
pub enum PayloadError {
    /// Occurs when the event names schema version 0, which no app ever wrote: a
    /// corrupted record.
    UnsupportedSchemaVersion {
        /// The version the event records.
        found: u32,
        /// The newest version this code reads.
        supported: u32,
    },
    /// Occurs when the event was entered with a newer version of the app than
    /// this one: the event is kept, and read once the app is updated.
    NewerSchemaVersion {
        /// The version the event records.
        found: u32,
        /// The newest version this code reads.
        supported: u32,
    },
    /// Occurs when an older version's body cannot be brought to this version's
    /// shape.
    NotUpgradable {
        /// The event kind.
        kind: EventKind,
        /// The version the event records.
        found: u32,
        /// What the upgrade step found.
        message: String,
    },
    /// Occurs when the JSON does not have the shape of the kind's body: a missing
    /// or unknown field, or a value of the wrong type.
    Malformed {
        /// The event kind the body was read as.
        kind: EventKind,
        /// The JSON parser's description, which names the field.
        message: String,
    },
    /// Occurs when the body has the right shape but its values fail the form's
    /// rules; every problem is listed.
    Invalid {
        /// The event kind.
        kind: EventKind,
        /// Every problem found.
        errors: Vec<FieldError>,
    },
    /// Occurs when a correction names a field that is not on the form (or is the
    /// form's identity, which is never corrected), or a form of this version holds
    /// a field only an earlier version's forms have.
    FieldNotOnForm {
        /// The kind of form named.
        form: FormKind,
        /// The field named.
        field: Field,
    },
}

impl Payload {
    /// The event kind this body belongs to.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::ScreeningRecorded(_) => EventKind::ScreeningRecorded,
            Self::ConsentRecorded(_) => EventKind::ConsentRecorded,
            Self::Randomised(_) => EventKind::Randomised,
            Self::FormSaved(_) => EventKind::FormSaved,
            Self::ValueCorrected(_) => EventKind::ValueCorrected,
            Self::Withdrawn(_) => EventKind::Withdrawn,
            Self::EndOfParticipation(_) => EventKind::EndOfParticipation,
            Self::NotEnrolled(_) => EventKind::NotEnrolled,
            Self::CasebookSigned(_) => EventKind::CasebookSigned,
            Self::CasebookUnlocked(_) => EventKind::CasebookUnlocked,
        }
    }

    /// The body's JSON text, as an event stores it.
    pub fn to_json(&self) -> String {
        let json = match self {
            Self::ScreeningRecorded(body) => serde_json::to_string(body),
            Self::ConsentRecorded(body) => serde_json::to_string(body),
            Self::Randomised(body) => serde_json::to_string(body),
            Self::FormSaved(body) => serde_json::to_string(body),
            Self::ValueCorrected(body) => serde_json::to_string(body),
            Self::Withdrawn(body) => serde_json::to_string(body),
            Self::EndOfParticipation(body) => serde_json::to_string(body),
            Self::NotEnrolled(body) => serde_json::to_string(body),
            Self::CasebookSigned(body) => serde_json::to_string(body),
            Self::CasebookUnlocked(body) => serde_json::to_string(body),
        };
        json.expect("invariant: payload bodies have string keys and serialise to JSON")
    }

    /// Reads the body of an event of `kind`, entered with `schema_version`,
    /// strictly, and validates it as far as it can be validated on its own.
    pub fn parse(kind: EventKind, schema_version: u32, json: &str) -> Result<Self, PayloadError> {
        let payload = Self::read(kind, schema_version, json)?;
        payload.validate()?;
        Ok(payload)
    }

    /// The body in this version's shape, not yet validated: as written when it is
    /// of this version, through the upgrade steps when older (module doc).
    fn read(kind: EventKind, schema_version: u32, json: &str) -> Result<Self, PayloadError> {
        match schema_version {
            0 => Err(PayloadError::UnsupportedSchemaVersion {
                found: schema_version,
                supported: SCHEMA_VERSION,
            }),
            SCHEMA_VERSION => {
                let payload = Self::read_current(kind, &Text(json))?;
                payload.refuse_retired_fields()?;
                Ok(payload)
            }
            older if older < SCHEMA_VERSION => {
                let mut body: serde_json::Value = read(kind, &Text(json))?;
                for step in &UPGRADES[older as usize - 1..] {
                    body = step(kind, body).map_err(|message| PayloadError::NotUpgradable {
                        kind,
                        found: older,
                        message,
                    })?;
                }
                Self::read_current(kind, &Json(body))
            }
            newer => Err(PayloadError::NewerSchemaVersion {
                found: newer,
                supported: SCHEMA_VERSION,
            }),
        }
    }

    /// A form entered in this version holds none of the fields an earlier version
    /// had in their place ([`Field::is_retired`]): those belong to old forms.
    fn refuse_retired_fields(&self) -> Result<(), PayloadError> {
        let Self::FormSaved(body) = self else {
            return Ok(());
        };
        let form = &body.form;
        let retired = form.kind().fields().iter().copied().find(|&field| {
            field.is_retired() && form.value(field).is_some_and(|entry| !entry.is_null())
        });
        match retired {
            Some(field) => Err(PayloadError::FieldNotOnForm {
                form: form.kind(),
                field,
            }),
            None => Ok(()),
        }
    }

    fn read_current(kind: EventKind, body: &impl Body) -> Result<Self, PayloadError> {
        Ok(match kind {
            EventKind::ScreeningRecorded => Self::ScreeningRecorded(read(kind, body)?),
            EventKind::ConsentRecorded => Self::ConsentRecorded(read(kind, body)?),
            EventKind::Randomised => Self::Randomised(read(kind, body)?),
            EventKind::FormSaved => Self::FormSaved(read(kind, body)?),
            EventKind::ValueCorrected => Self::ValueCorrected(read(kind, body)?),
            EventKind::Withdrawn => Self::Withdrawn(read(kind, body)?),
            EventKind::EndOfParticipation => Self::EndOfParticipation(read(kind, body)?),
            EventKind::NotEnrolled => Self::NotEnrolled(read(kind, body)?),
            EventKind::CasebookSigned => Self::CasebookSigned(read(kind, body)?),
            EventKind::CasebookUnlocked => Self::CasebookUnlocked(read(kind, body)?),
        })
    }

    /// Reads the body of `event` and makes the check before saving
    /// ([`Payload::check`]) at the moment the event was recorded: the server's
    /// check of every pushed event, the same one the tablet made.
    pub fn of_event(event: &Event) -> Result<Self, PayloadError> {
        let payload = Self::read(event.kind(), event.schema_version(), event.payload())?;
        payload.check(event.recorded_at(), FormContext::NONE)?;
        Ok(payload)
    }

    /// The one check before an event is recorded, which every form on the tablet
    /// makes before saving and the server makes again of every pushed event: the
    /// body's own rules ([`Payload::validate`], a saved form's with the
    /// participant's anchors in `context` when the caller has them) and nothing
    /// dated after `recorded_at` ([`Payload::times_after`]). Every problem at once,
    /// times first: a time that has not come yet says more than a window missed.
    pub fn check(&self, recorded_at: Moment, context: FormContext) -> Result<(), PayloadError> {
        let kind = self.kind();
        let mut errors = self.times_after(recorded_at);
        // Asked of what is recorded from now on, not of what is read: a stored
        // screening without these stays readable.
        match self {
            Self::ScreeningRecorded(body) => errors.extend(body.form.missing_to_record()),
            Self::FormSaved(body) => errors.extend(body.form.not_done_refused()),
            Self::ValueCorrected(body)
                if !body.field.may_be_not_done() && crf::is_not_done(&body.new) =>
            {
                errors.push(FieldError::NotDoneRefused { field: body.field });
            }
            _ => {}
        }
        let valid = match self {
            Self::FormSaved(body) => body
                .form
                .validate(&body.confirmed, context)
                .map_err(|errors| PayloadError::Invalid { kind, errors }),
            _ => self.validate(),
        };
        match valid {
            Ok(()) => {}
            Err(PayloadError::Invalid { errors: found, .. }) => errors.extend(found),
            Err(other) => return Err(other),
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PayloadError::Invalid { kind, errors })
        }
    }

    /// Every date-time and date in the body that lies after `recorded_at` (by more
    /// than [`MAX_MS_AFTER_RECORDING`]), each named as its field: a sample, a
    /// consent or an ECMO start cannot be recorded before it happened. The app asks
    /// with its clock before saving; the server with the event's `recorded_at`.
    pub fn times_after(&self, recorded_at: Moment) -> Vec<FieldError> {
        let latest_date = Moment::new(
            recorded_at.utc_ms() + MAX_MS_AFTER_RECORDING,
            recorded_at.offset_minutes(),
        )
        .map_or_else(|_| recorded_at.local_date(), Moment::local_date);
        let too_late = |field: Field, value: serde_json::Value| -> bool {
            match field.input() {
                Input::DateTime => entered::<Moment>(value)
                    .is_some_and(|moment| moment.ms_since(recorded_at) > MAX_MS_AFTER_RECORDING),
                Input::Date => {
                    entered::<jiff::civil::Date>(value).is_some_and(|date| date > latest_date)
                }
                _ => false,
            }
        };
        let entries: Vec<(Field, serde_json::Value)> = match self {
            Self::ScreeningRecorded(body) => {
                let form = &body.form;
                [
                    (Field::ScreenedAt, Some(form.screened_at)),
                    (Field::IcuAdmittedAt, form.icu_admitted_at),
                    (Field::EcmoStartedAt, form.ecmo_started_at),
                ]
                .into_iter()
                .filter_map(|(field, moment)| Some((field, entry_json(moment?))))
                .collect()
            }
            Self::ConsentRecorded(form) => {
                vec![(Field::ConsentedAt, entry_json(form.consented_at))]
            }
            Self::FormSaved(body) => body
                .form
                .kind()
                .fields()
                .iter()
                .filter_map(|&field| Some((field, body.form.value(field)?)))
                .collect(),
            Self::ValueCorrected(body) => vec![(body.field, body.new.clone())],
            // The randomise tap is the event's own moment, which the server checks
            // against its clock; the others hold no time.
            Self::Randomised(_)
            | Self::Withdrawn(_)
            | Self::EndOfParticipation(_)
            | Self::NotEnrolled(_)
            | Self::CasebookSigned(_)
            | Self::CasebookUnlocked(_) => Vec::new(),
        };
        entries
            .into_iter()
            .filter(|(field, value)| too_late(*field, value.clone()))
            .map(|(field, _)| FieldError::LaterThan {
                field,
                limit: TimeLimit::RecordingTime,
            })
            .collect()
    }

    /// The checks a body allows on its own, as [`Payload::parse`] runs them: the
    /// app calls this before saving, so it refuses what the server would. See the
    /// module doc for the checks that need the participant's screening.
    pub fn validate(&self) -> Result<(), PayloadError> {
        let kind = self.kind();
        let invalid = |errors| PayloadError::Invalid { kind, errors };
        match self {
            Self::ScreeningRecorded(body) => body.validate().map_err(invalid),
            Self::ConsentRecorded(body) => body.validate().map_err(invalid),
            Self::FormSaved(body) => body
                .form
                .validate(&body.confirmed, FormContext::NONE)
                .map_err(invalid),
            Self::ValueCorrected(body) => body.validate(),
            Self::Withdrawn(body) => body.validate().map_err(invalid),
            Self::NotEnrolled(body) => body.validate().map_err(invalid),
            Self::CasebookSigned(body) => body.validate().map_err(|error| casebook(kind, error)),
            Self::CasebookUnlocked(body) => body.validate().map_err(|error| casebook(kind, error)),
            // Every value of these is valid once it has deserialised: the study
            // number checks itself, and the arm is verified against the lease by the
            // server, which holds the seed.
            Self::Randomised(_) | Self::EndOfParticipation(_) => Ok(()),
        }
    }
}

/// A signature's or unlock's broken rule, as the malformed body it is: these
/// bodies are written by the console, which checks them first, and a body that
/// breaks them is a crafted one.
fn casebook(kind: EventKind, error: crate::casebook::CasebookError) -> PayloadError {
    PayloadError::Malformed {
        kind,
        message: error.to_string(),
    }
}

/// A moment as a form's entry records it.
fn entry_json(moment: Moment) -> serde_json::Value {
    serde_json::to_value(Entry::Value(moment)).expect("invariant: a moment serialises to JSON")
}

/// The value of an entry's JSON, if it is a value of type `T` (not blank, not
/// "not done").
fn entered<T: DeserializeOwned>(json: serde_json::Value) -> Option<T> {
    match serde_json::from_value::<Entry<T>>(json) {
        Ok(Entry::Value(value)) => Some(value),
        _ => None,
    }
}

/// A body to read: the text as stored, or JSON an upgrade step made.
trait Body {
    /// The body as `T`, strictly.
    fn to<T: DeserializeOwned>(&self) -> Result<T, String>;
}

/// A body's text as stored.
struct Text<'a>(&'a str);

/// A body an upgrade step made.
struct Json(serde_json::Value);

impl Body for Text<'_> {
    fn to<T: DeserializeOwned>(&self) -> Result<T, String> {
        match check_unique_keys(self.0) {
            Err(error @ JsonError::DuplicateKey { .. }) => return Err(error.to_string()),
            // A syntax error is reported by the typed parse, with its position.
            Err(JsonError::Syntax(_)) | Ok(()) => {}
        }
        serde_json::from_str(self.0).map_err(|error| error.to_string())
    }
}

impl Body for Json {
    fn to<T: DeserializeOwned>(&self) -> Result<T, String> {
        T::deserialize(&self.0).map_err(|error| error.to_string())
    }
}

/// Deserialises a body strictly, naming the kind in the error: an object that
/// repeats a key is refused too, since readers disagree about which one counts
/// (`crate::json`).
fn read<T: DeserializeOwned>(kind: EventKind, body: &impl Body) -> Result<T, PayloadError> {
    body.to()
        .map_err(|message| PayloadError::Malformed { kind, message })
}

impl ScreeningRecorded {
    /// Checks the screening number and the whole screening form, every problem at
    /// once.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let length = self.screening_number.chars().count();
        if self.screening_number.trim().is_empty() {
            errors.push(FieldError::Blank {
                field: Field::ScreeningNumber,
            });
        } else if length > MAX_SCREENING_NUMBER_CHARS {
            errors.push(FieldError::TooLong {
                field: Field::ScreeningNumber,
                length,
                max: MAX_SCREENING_NUMBER_CHARS,
            });
        }
        if let Err(form_errors) = Screening::parse(&self.form) {
            errors.extend(form_errors);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

impl ValueCorrected {
    /// Checks the correction on its own: a reason is given, the field is on the
    /// form, the new entry has the field's type, passes the field's own rules and
    /// differs from the entry it corrects. Rules that span fields are checked against the whole corrected form
    /// by the projection.
    pub fn validate(&self) -> Result<(), PayloadError> {
        let kind = EventKind::ValueCorrected;
        let form = self.form.kind();
        if !form.fields().contains(&self.field) {
            return Err(PayloadError::FieldNotOnForm {
                form,
                field: self.field,
            });
        }
        // The value the user saw must be an entry of the field too (or blank): it is
        // kept in the audit trail beside the new one.
        if !self.old.is_null() {
            self.form
                .blank_form()
                .with_value(self.field, self.old.clone())
                .map_err(|error| PayloadError::Malformed {
                    kind,
                    message: format!("old: {}: {error}", self.field.key()),
                })?;
        }
        let corrected = self
            .form
            .blank_form()
            .with_value(self.field, self.new.clone())
            .map_err(|error| PayloadError::Malformed {
                kind,
                message: format!("{}: {error}", self.field.key()),
            })?;
        // Every other field of the blank form is missing; only this field's
        // problems concern the correction.
        let mut errors: Vec<_> = corrected
            .validate(&[self.field], FormContext::NONE)
            .err()
            .unwrap_or_default()
            .into_iter()
            .filter(|error| error.field() == self.field)
            .collect();
        if self.confirms.is_none() && same_json(&self.old, &self.new) {
            errors.push(FieldError::Unchanged { field: self.field });
        }
        let length = self.reason.chars().count();
        if self.reason.trim().is_empty() {
            errors.push(FieldError::Blank {
                field: Field::CorrectionReason,
            });
        } else if length > MAX_TEXT_CHARS {
            errors.push(FieldError::TooLong {
                field: Field::CorrectionReason,
                length,
                max: MAX_TEXT_CHARS,
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PayloadError::Invalid { kind, errors })
        }
    }
}

impl StudyNumber {
    /// The study number of the `device_randomisation_count`-th participant (from 1)
    /// randomised on the device labelled `device_label` at the site `site_code`.
    pub fn new(
        site_code: &str,
        device_label: &str,
        device_randomisation_count: u32,
    ) -> Result<Self, StudyNumberError> {
        if !is_code(site_code) {
            return Err(StudyNumberError::SiteCode {
                code: site_code.to_owned(),
            });
        }
        if !is_code(device_label) {
            return Err(StudyNumberError::DeviceLabel {
                label: device_label.to_owned(),
            });
        }
        let count = device_randomisation_count;
        if count == 0 || count.to_string().len() > MAX_COUNT_DIGITS {
            return Err(StudyNumberError::Count { count });
        }
        Ok(Self(format!("{site_code}-{device_label}-{count:03}")))
    }

    /// Reads a study number written by [`StudyNumber::new`], and only in that exact
    /// form, so one participant never has two spellings.
    pub fn parse(text: &str) -> Result<Self, StudyNumberError> {
        let malformed = || StudyNumberError::Malformed {
            text: text.to_owned(),
        };
        let mut parts = text.split('-');
        let (Some(site), Some(device), Some(count), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        if !count.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(malformed());
        }
        let count = count.parse().map_err(|_| malformed())?;
        let number = Self::new(site, device, count)?;
        if number.0 == text {
            Ok(number)
        } else {
            Err(malformed())
        }
    }

    /// The study number as printed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the number is one the tablet labelled `device_label` at the site
    /// `site_code` makes: its first two parts are exactly those.
    pub fn is_of(&self, site_code: &str, device_label: &str) -> bool {
        let mut parts = self.0.split('-');
        parts.next() == Some(site_code) && parts.next() == Some(device_label)
    }
}

/// Whether a site code or device label has the allowed length and characters.
fn is_code(text: &str) -> bool {
    (1..=MAX_STUDY_NUMBER_PART_CHARS).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit())
}

impl TryFrom<String> for StudyNumber {
    type Error = StudyNumberError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<StudyNumber> for String {
    fn from(number: StudyNumber) -> Self {
        number.0
    }
}

impl fmt::Display for StudyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for StudyNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SiteCode { code } => write!(
                f,
                "site code {code:?} must be 1 to {MAX_STUDY_NUMBER_PART_CHARS} capital letters or digits"
            ),
            Self::DeviceLabel { label } => write!(
                f,
                "device label {label:?} must be 1 to {MAX_STUDY_NUMBER_PART_CHARS} capital letters or digits"
            ),
            Self::Count { count } => write!(
                f,
                "randomisation count {count} must be from 1 to {} digits long",
                MAX_COUNT_DIGITS
            ),
            Self::Malformed { text } => write!(
                f,
                "{text:?} is not a study number of the form SITE-DEVICE-NNN (e.g. BJ-T1-007)"
            ),
        }
    }
}

impl std::error::Error for StudyNumberError {}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedSchemaVersion { found, supported } => write!(
                f,
                "the payload names schema version {found}, which no version of the app \
                 writes (this one reads 1 to {supported})"
            ),
            Self::NewerSchemaVersion { found, supported } => write!(
                f,
                "the payload was entered with a newer version of HP-ECMO (schema version \
                 {found}; this one reads up to {supported}): update the app to read it"
            ),
            Self::NotUpgradable {
                kind,
                found,
                message,
            } => write!(
                f,
                "the {kind} payload of schema version {found} cannot be read as version \
                 {SCHEMA_VERSION}: {message}"
            ),
            Self::Malformed { kind, message } => {
                write!(f, "the {kind} payload is malformed: {message}")
            }
            Self::Invalid { kind, errors } => {
                write!(f, "the {kind} payload is invalid: ")?;
                for (index, error) in errors.iter().enumerate() {
                    if index > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{error}")?;
                }
                Ok(())
            }
            Self::FieldNotOnForm { form, field } => write!(
                f,
                "the {form} form of version {SCHEMA_VERSION} has no field {} to enter or correct",
                field.key()
            ),
        }
    }
}

impl std::error::Error for PayloadError {}
