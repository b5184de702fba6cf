//! The CSV export: one file per [`Table`], UTF-8 with a byte-order mark, quoted
//! where needed, and a data dictionary that names every column of every file with
//! its type, unit, range, choices and CRF versions, so a reader parses each column
//! as what it is.
//!
//! The dictionary is made from the same column lists the rows are written by, and
//! those from the field declarations, so a column cannot be missing from it.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Value, json};

use super::consort::Consort;
use super::{Cells, ExportError, Item, Kind, Record, Section, Trial, entry, repeat_key};
use crate::crf::FormKind;
use crate::crf::cytokine::TimePoint;
use crate::eligibility::Outcome;
use crate::field::Field;
use crate::payload::{Payload, SCHEMA_VERSION};
use crate::projection::Status;

/// The name of the data dictionary's file.
pub const DICTIONARY_FILE: &str = "dictionary.csv";

/// A file of the CSV export besides the dictionary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Table {
    /// One row per participant: numbers, arm, where they stand, how they left.
    Participants,
    /// One row per participant screened: the latest screening.
    Screening,
    /// One row per consent recorded.
    Consent,
    /// One row per participant and instance of a form (§4–§9), values as they
    /// stand now.
    Form(FormKind),
    /// The change in IL-6 from T0, one row per participant and later time point.
    Il6Change,
    /// Every event stored, and every value it set or changed.
    AuditTrail,
    /// Every randomisation, with its verification.
    Allocations,
    /// The CONSORT flow's counts.
    Consort,
}

/// A column of a table, as the dictionary describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Its name, the header of the file.
    pub name: String,
    /// What it holds, in English.
    pub label: String,
    /// The type of its values.
    pub kind: Kind,
    /// The item it holds, for its unit, range and CRF versions.
    pub item: Option<Item>,
}

/// Writes the CSV export, one participant at a time: [`CsvExport::new`] writes the
/// dictionary and every table's header, [`CsvExport::write`] a participant's rows,
/// and [`CsvExport::finish`] the CONSORT counts.
pub struct CsvExport<W: Write> {
    trial: Trial,
    tables: BTreeMap<Table, ::csv::Writer<W>>,
    consort: Consort,
}

impl Table {
    /// Every table, in the order of the trial.
    pub fn all() -> Vec<Table> {
        let mut tables = vec![Self::Participants, Self::Screening, Self::Consent];
        tables.extend(FormKind::ALL.map(Self::Form));
        tables.extend([
            Self::Il6Change,
            Self::AuditTrail,
            Self::Allocations,
            Self::Consort,
        ]);
        tables
    }

    /// The name of its file.
    pub fn file_name(self) -> String {
        let stem = match self {
            Self::Participants => "participants",
            Self::Screening => "screening",
            Self::Consent => "consent",
            Self::Form(kind) => kind.key(),
            Self::Il6Change => "il6_change",
            Self::AuditTrail => "audit_trail",
            Self::Allocations => "allocations",
            Self::Consort => "consort",
        };
        format!("{stem}.csv")
    }

    /// Its columns, in order.
    pub fn columns(self) -> Vec<Column> {
        let mut columns = Columns::default();
        match self {
            Self::Participants => {
                columns.ids();
                columns.choice(
                    "status",
                    "where the participant stands at the export",
                    STATUSES,
                );
                columns.text("screened_on", "tablet whose screening arrived first");
                columns.instant("randomised_at", "randomisation date-time (T0)");
                columns.integer("consents", "consents recorded");
                columns.section(Section::Withdrawal);
                columns.instant("withdrawn_at", "withdrawal recorded at");
                columns.section(Section::End);
                columns.instant("ended_at", "end of follow-up recorded at");
                columns.section(Section::NotEnrolled);
                columns.integer("open_queries", "data queries no correction has closed");
                columns.integer("anomalies", "records the rules forbid, listed for review");
                columns.integer("deviations", "protocol deviations the data show");
            }
            Self::Screening => {
                columns.ids();
                for field in Field::SCREENING {
                    columns.item(Item::Field(field));
                }
                columns.integer(
                    "age_years",
                    "age on the screening date in completed years, in the site's calendar",
                );
                columns.decimal("bmi_kg_per_m2", "BMI from weight and height (kg/m²)");
                columns.choice(
                    "eligibility",
                    "the screening's outcome at its own time",
                    &["eligible", "ineligible", "incomplete"],
                );
                columns.text(
                    "failed_criteria",
                    "criteria that fail, by protocol code (I1, E5, …), separated by |",
                );
                columns.text(
                    "missing_answers",
                    "answers still needed, by field key, separated by |",
                );
                columns.recorded("recorded", "latest screening");
            }
            Self::Consent => {
                columns.ids();
                columns.integer("consent", "consent number, in the order recorded");
                columns.section(Section::Consent);
                columns.recorded("recorded", "consent");
            }
            Self::Form(kind) => {
                columns.ids();
                match kind {
                    FormKind::CytokineSample => columns.time_point(),
                    FormKind::DailyAssessment => {
                        columns.integer("study_day", "study day, 1 to 7");
                    }
                    FormKind::HemoperfusionSession => columns.text("session_id", "session id"),
                    FormKind::AdverseEvent => {
                        columns.text("adverse_event_id", "adverse event id");
                    }
                    FormKind::Baseline | FormKind::Outcomes => {}
                }
                columns.integer("crf_version", "CRF version the form was first saved in");
                for &field in kind.fields() {
                    columns.entry(Item::Field(field));
                }
                columns.recorded("first_saved", "form's first save");
            }
            Self::Il6Change => {
                columns.ids();
                columns.time_point();
                columns.decimal("il6_t0_pg_per_ml", "IL-6 at T0 (pg/mL)");
                columns.decimal("il6_pg_per_ml", "IL-6 at the time point (pg/mL)");
                columns.decimal("il6_change_pg_per_ml", "IL-6 minus IL-6 at T0 (pg/mL)");
                columns.decimal(
                    "il6_change_percent",
                    "IL-6 change from T0 as a percentage of T0; blank when T0 is 0",
                );
                columns.decimal(
                    "il6_change_log10",
                    "log10(IL-6) minus log10(IL-6 at T0); blank when either is 0",
                );
            }
            Self::AuditTrail => {
                columns.text("event_id", "event id");
                columns.text("participant_id", "participant id");
                columns.text("study_number", "study number");
                columns.choice("event_kind", "what was recorded", EVENT_KINDS);
                columns.text("status", "accepted, refused by the server or unreadable");
                columns.text("note", "why it was refused or cannot be read");
                columns.text("section", "section of the record");
                columns.text("instance", "instance of a repeating section");
                columns.text("item", "item set or changed");
                columns.text("old_value", "value before (UTC for a time)");
                columns.text("new_value", "value after (UTC for a time)");
                columns.text("reason", "reason given for a correction");
                columns.text("user_id", "user who recorded it");
                columns.text("user_name", "their name");
                columns.text("device_id", "device it was recorded on");
                columns.text("device_label", "the device's label");
                columns.integer("device_seq", "event number on the device");
                columns.instant("recorded_at", "recorded at, by the device's clock");
                columns.integer(
                    "device_offset_minutes",
                    "device's UTC offset when it recorded",
                );
                columns.instant("received_at", "received by the server");
                columns.text("app_version", "app version it was recorded with");
                columns.integer("crf_version", "CRF version it was recorded with");
            }
            Self::Allocations => {
                columns.text("event_id", "randomisation event id");
                columns.text("participant_id", "participant id");
                columns.text("study_number", "study number");
                columns.item(Item::Arm);
                columns.text("lease_id", "allocation lease");
                columns.integer("slot", "slot of the lease");
                columns.text("device_id", "device that randomised");
                columns.text("device_label", "the device's label");
                columns.text("user_name", "user who randomised");
                columns.instant("randomised_at", "randomisation date-time (T0)");
                columns.instant("received_at", "received by the server");
                columns.boolean(
                    "stands",
                    "whether it is the participant's randomisation that counts",
                );
                columns.boolean(
                    "verified",
                    "whether the server's verification raised no flag",
                );
                columns.text("flags", "what verification found, code: message; …");
            }
            Self::Consort => {
                columns.text("stage", "stage of the CONSORT flow");
                columns.choice("arm", "arm, for the stages after allocation", super::ARMS);
                columns.text("reason", "reason, for exclusions");
                columns.integer("count", "participants");
            }
        }
        columns.0
    }

    /// The rows of `record` in this table.
    fn rows(self, trial: &Trial, record: &Record) -> Vec<Vec<String>> {
        match self {
            Self::Participants => vec![participant_row(trial, record)],
            Self::Screening => screening_rows(trial, record),
            Self::Consent => consent_rows(trial, record),
            Self::Form(kind) => form_rows(trial, record, kind),
            Self::Il6Change => il6_rows(record),
            Self::AuditTrail => audit_rows(trial, record),
            Self::Allocations => allocation_rows(trial, record),
            Self::Consort => Vec::new(),
        }
    }
}

/// Every event kind, by key.
const EVENT_KINDS: &[&str] = &[
    "screening_recorded",
    "consent_recorded",
    "randomised",
    "form_saved",
    "value_corrected",
    "withdrawn",
    "end_of_participation",
    "not_enrolled",
    "casebook_signed",
    "casebook_unlocked",
];

/// A table's columns as they are declared.
#[derive(Default)]
struct Columns(Vec<Column>);

impl Columns {
    fn push(&mut self, name: impl Into<String>, label: impl Into<String>, kind: Kind) {
        self.0.push(Column {
            name: name.into(),
            label: label.into(),
            kind,
            item: None,
        });
    }

    fn text(&mut self, name: &str, label: &str) {
        self.push(name, label, Kind::Text);
    }

    fn integer(&mut self, name: &str, label: &str) {
        self.push(name, label, Kind::Integer);
    }

    fn decimal(&mut self, name: &str, label: &str) {
        self.push(name, label, Kind::Decimal);
    }

    fn boolean(&mut self, name: &str, label: &str) {
        self.push(name, label, Kind::Boolean);
    }

    fn choice(&mut self, name: &str, label: &str, keys: &'static [&'static str]) {
        self.push(name, label, Kind::Choice(keys));
    }

    /// An instant: in UTC, and in the site's local time beside it.
    fn instant(&mut self, name: &str, label: &str) {
        self.push(name, label, Kind::DateTime);
        self.push(
            format!("{name}_local"),
            format!("{label}, site's local time"),
            Kind::LocalDateTime,
        );
    }

    /// Who recorded it, on which tablet, when.
    fn recorded(&mut self, prefix: &str, what: &str) {
        self.text(
            &format!("{prefix}_by"),
            &format!("user who recorded the {what}"),
        );
        self.text(&format!("{prefix}_on"), &format!("tablet of the {what}"));
        self.instant(&format!("{prefix}_at"), &format!("{what} recorded at"));
    }

    /// The columns every participant's table starts with.
    fn ids(&mut self) {
        self.text(
            "participant_id",
            "participant id (made by the screening tablet)",
        );
        self.text("screening_number", "screening number");
        self.text("study_number", "study number, once randomised");
        self.choice("arm", "allocated arm, once randomised", super::ARMS);
    }

    fn time_point(&mut self) {
        self.choice("time_point", "sampling time point", TIME_POINTS);
        self.integer("hours_after_t0", "hours after T0 of the time point");
    }

    /// An item's value (and local time, for an instant).
    fn item(&mut self, item: Item) {
        let kind = item.kind();
        self.0.push(Column {
            name: item.key().to_owned(),
            label: item.label().to_owned(),
            kind,
            item: Some(item),
        });
        if kind == Kind::DateTime {
            self.0.push(Column {
                name: format!("{}_local", item.key()),
                label: format!("{}, site's local time", item.label()),
                kind: Kind::LocalDateTime,
                item: Some(item),
            });
        }
    }

    /// Every item of a section that is not a form.
    fn section(&mut self, section: Section) {
        for item in section.items() {
            self.item(item);
        }
    }

    /// A form field's entry: its value, and the reason when it was not done.
    fn entry(&mut self, item: Item) {
        self.item(item);
        self.0.push(Column {
            name: format!("{}_not_done", item.key()),
            label: format!("{}: reason not done", item.label()),
            kind: Kind::Text,
            item: Some(item),
        });
    }
}

/// Every status, by key ([`status_key`]).
const STATUSES: &[&str] = &[
    "screening_incomplete",
    "not_eligible",
    "eligible",
    "randomised",
    "withdrawn",
    "completed",
    "lost_to_follow_up",
    "not_enrolled",
];

/// Every time point, by key.
const TIME_POINTS: &[&str] = &["h0", "h6", "h12", "h24", "h48", "h72"];

impl<W: Write> CsvExport<W> {
    /// Starts the export of `trial`: writes the whole dictionary to the file
    /// `open` opens by name, then opens every table's file and writes its header.
    pub fn new(
        trial: Trial,
        mut open: impl FnMut(&str) -> std::io::Result<W>,
    ) -> Result<Self, ExportError> {
        write_dictionary(with_bom(open(DICTIONARY_FILE)?)?)?;
        let mut tables = BTreeMap::new();
        for table in Table::all() {
            let mut writer = ::csv::Writer::from_writer(with_bom(open(&table.file_name())?)?);
            writer.write_record(table.columns().iter().map(|column| &column.name))?;
            tables.insert(table, writer);
        }
        Ok(Self {
            trial,
            tables,
            consort: Consort::default(),
        })
    }

    /// Writes one participant's rows in every table.
    pub fn write(&mut self, record: &Record) -> Result<(), ExportError> {
        for (table, writer) in &mut self.tables {
            for row in table.rows(&self.trial, record) {
                writer.write_record(&row)?;
            }
        }
        self.consort.count(record, self.trial.exported_at);
        Ok(())
    }

    /// Writes the CONSORT counts and flushes every file; returns the counts.
    pub fn finish(mut self) -> Result<Consort, ExportError> {
        if let Some(writer) = self.tables.get_mut(&Table::Consort) {
            for row in self.consort.rows() {
                writer.write_record(row.fields())?;
            }
        }
        for writer in self.tables.values_mut() {
            writer.flush()?;
        }
        Ok(self.consort)
    }
}

/// `file` after the UTF-8 byte-order mark: a spreadsheet reads the file as UTF-8
/// only with it (Chinese names and units would be garbled otherwise), and
/// pandas, R's readr and the `csv` crate skip it.
pub(super) fn with_bom<W: Write>(mut file: W) -> std::io::Result<W> {
    file.write_all(b"\xEF\xBB\xBF")?;
    Ok(file)
}

/// Writes the data dictionary: one row per column of every table.
fn write_dictionary<W: Write>(file: W) -> Result<(), ExportError> {
    let mut writer = ::csv::Writer::from_writer(file);
    writer.write_record([
        "table",
        "column",
        "label",
        "type",
        "unit",
        "min",
        "max",
        "warn_above",
        "choices",
        "crf_versions",
        "item",
    ])?;
    for table in Table::all() {
        for column in table.columns() {
            let limits = column.item.and_then(Item::limits);
            let number =
                |value: Option<f64>| value.map_or(String::new(), |value| value.to_string());
            let versions = column.item.map_or_else(
                || versions_text(1, SCHEMA_VERSION),
                |item| {
                    let (first, last) = item.versions();
                    versions_text(first, last)
                },
            );
            writer.write_record([
                table.file_name(),
                column.name,
                column.label,
                column.kind.name().to_owned(),
                limits.map_or(String::new(), |limits| limits.unit.to_owned()),
                number(limits.map(|limits| limits.min)),
                number(limits.map(|limits| limits.max)),
                number(limits.and_then(|limits| limits.warn_above)),
                column.kind.choices().join("|"),
                versions,
                column
                    .item
                    .map_or(String::new(), |item| item.key().to_owned()),
            ])?;
        }
    }
    writer.flush()?;
    Ok(())
}

/// CRF versions `first` to `last`, separated by `|`.
fn versions_text(first: u32, last: u32) -> String {
    (first..=last)
        .map(|version| version.to_string())
        .collect::<Vec<_>>()
        .join("|")
}

/// The four cells every participant's row starts with.
fn ids(record: &Record) -> Vec<String> {
    vec![
        record.participant.id().to_string(),
        record.screening_number().to_owned(),
        record.study_number().to_owned(),
        record.arm().to_owned(),
    ]
}

/// An instant's two cells, blank when there is none.
fn instant(trial: &Trial, moment: Option<crate::time::Moment>) -> [String; 2] {
    moment.map_or_else(Default::default, |moment| {
        [trial.utc(moment), trial.local(moment)]
    })
}

/// Who, on which tablet and when: the cells of [`Columns::recorded`].
fn recorded(trial: &Trial, by: &crate::projection::Provenance) -> Vec<String> {
    let [at, local] = instant(trial, Some(by.recorded_at));
    vec![
        trial.person_name(by.user_id).to_owned(),
        trial.tablet_label(by.device_id).to_owned(),
        at,
        local,
    ]
}

/// The cells of an item's value, as [`Columns::item`] declares them.
fn item_cells(trial: &Trial, item: Item, value: &serde_json::Value) -> Vec<String> {
    let cells = Cells::of(trial, item.kind(), &entry(value));
    let mut row = vec![cells.value];
    if item.kind() == Kind::DateTime {
        row.push(cells.local);
    }
    row
}

/// The cells of every item of a section that is not a form, from its record's
/// JSON (blank without one), as [`Columns::section`] declares them.
fn section_cells(trial: &Trial, section: Section, record: Option<Value>) -> Vec<String> {
    let record = record.unwrap_or_default();
    section
        .json_keys()
        .iter()
        .flat_map(|(item, key)| item_cells(trial, *item, &record[key]))
        .collect()
}

fn participant_row(trial: &Trial, record: &Record) -> Vec<String> {
    let participant = &record.participant;
    let mut row = ids(record);
    row.push(status_key(participant.status(trial.exported_at)).to_owned());
    row.push(
        participant
            .screened_on()
            .map_or(String::new(), |id| trial.tablet_label(id).to_owned()),
    );
    row.extend(instant(trial, participant.t0()));
    row.push(participant.consents().len().to_string());
    let withdrawal = participant.withdrawal();
    row.extend(section_cells(
        trial,
        Section::Withdrawal,
        withdrawal.map(|withdrawal| json!(withdrawal.value)),
    ));
    row.extend(instant(
        trial,
        withdrawal.map(|withdrawal| withdrawal.by.recorded_at),
    ));
    let end = participant.end();
    row.extend(section_cells(
        trial,
        Section::End,
        end.map(|end| json!(end.value)),
    ));
    row.extend(instant(trial, end.map(|end| end.by.recorded_at)));
    let not_enrolled = participant.not_enrolled().map(|record| json!(record.value));
    row.extend(section_cells(trial, Section::NotEnrolled, not_enrolled));
    row.push(participant.open_conflicts().count().to_string());
    row.push(participant.anomalies().len().to_string());
    row.push(participant.deviations().len().to_string());
    row
}

/// Where a participant stands, as the file names it.
fn status_key(status: Status) -> &'static str {
    match status {
        Status::ScreeningIncomplete => "screening_incomplete",
        Status::NotEligible => "not_eligible",
        Status::Eligible => "eligible",
        Status::Randomised { .. } => "randomised",
        Status::Withdrawn => "withdrawn",
        Status::Completed => "completed",
        Status::LostToFollowUp => "lost_to_follow_up",
        Status::NotEnrolled => "not_enrolled",
    }
}

fn screening_rows(trial: &Trial, record: &Record) -> Vec<Vec<String>> {
    let Some(screening) = record.participant.screening() else {
        return Vec::new();
    };
    let form = serde_json::to_value(screening.value.form()).unwrap_or_default();
    let mut row = ids(record);
    for field in Field::SCREENING {
        row.extend(item_cells(trial, Item::Field(field), &form[field.key()]));
    }
    // Judged at the screening's own time, as the tablet judged it.
    match record
        .participant
        .assessment(screening.value.form().screened_at)
    {
        Some(Ok(assessment)) => {
            let number = |value: Option<String>| value.unwrap_or_default();
            row.push(number(assessment.age_years().map(|age| age.to_string())));
            row.push(number(assessment.bmi().map(|bmi| bmi.value().to_string())));
            let (outcome, failed, missing) = match assessment.outcome() {
                Outcome::Eligible => ("eligible", Vec::new(), Vec::new()),
                Outcome::Ineligible { failed } => (
                    "ineligible",
                    failed.iter().map(|criterion| criterion.code()).collect(),
                    Vec::new(),
                ),
                Outcome::Incomplete { missing } => (
                    "incomplete",
                    Vec::new(),
                    missing.iter().map(|field| field.key()).collect(),
                ),
            };
            row.extend([outcome.to_owned(), failed.join("|"), missing.join("|")]);
        }
        // Times that cannot be right (ECMO after the screening): nothing is known.
        Some(Err(_)) | None => row.extend(std::iter::repeat_n(String::new(), 5)),
    }
    row.extend(recorded(trial, &screening.by));
    vec![row]
}

fn consent_rows(trial: &Trial, record: &Record) -> Vec<Vec<String>> {
    record
        .participant
        .consents()
        .iter()
        .enumerate()
        .map(|(index, consent)| {
            let mut row = ids(record);
            row.push((index + 1).to_string());
            row.extend(section_cells(
                trial,
                Section::Consent,
                Some(json!(consent.value)),
            ));
            row.extend(recorded(trial, &consent.by));
            row
        })
        .collect()
}

fn form_rows(trial: &Trial, record: &Record, kind: FormKind) -> Vec<Vec<String>> {
    record
        .participant
        .forms()
        .filter(|form| form.form().kind() == kind)
        .map(|form_record| {
            let form = form_record.form();
            let mut row = ids(record);
            match (form.form_ref(), repeat_key(form.form_ref())) {
                (crate::crf::FormRef::CytokineSample { time_point }, Some(key)) => {
                    row.push(key);
                    row.push(time_point.hours().to_string());
                }
                (_, Some(key)) => row.push(key),
                (_, None) => {}
            }
            let version = record
                .log
                .events
                .iter()
                .find(|logged| logged.event.id() == form_record.first_saved().event_id)
                .map_or(String::new(), |logged| {
                    logged.event.schema_version().to_string()
                });
            row.push(version);
            for &field in kind.fields() {
                let entry = form.value(field).unwrap_or_default();
                let cells = Cells::of(trial, Item::Field(field).kind(), &entry);
                row.push(cells.value);
                if field.input() == crate::field::Input::DateTime {
                    row.push(cells.local);
                }
                row.push(cells.not_done);
            }
            row.extend(recorded(trial, form_record.first_saved()));
            row
        })
        .collect()
}

fn il6_rows(record: &Record) -> Vec<Vec<String>> {
    let Some(t0) = record.participant.il6(TimePoint::H0) else {
        return Vec::new();
    };
    let number = |value: Option<f64>| value.map_or(String::new(), |value| value.to_string());
    record
        .participant
        .il6_changes()
        .into_iter()
        .map(|(time_point, change)| {
            let mut row = ids(record);
            row.push(
                repeat_key(crate::crf::FormRef::CytokineSample { time_point }).unwrap_or_default(),
            );
            row.push(time_point.hours().to_string());
            row.push(t0.to_string());
            row.push(number(record.participant.il6(time_point)));
            row.push(change.absolute_pg_per_ml.to_string());
            row.push(number(change.percent));
            row.push(number(change.log10_change));
            row
        })
        .collect()
}

fn audit_rows(trial: &Trial, record: &Record) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for changes in &record.changes {
        let logged = changes.logged;
        let event = &logged.event;
        let status = match (&logged.refusal, &changes.unread) {
            (Some(_), _) => "refused",
            (None, Some(_)) => "unreadable",
            (None, None) => "accepted",
        };
        let row_for = |cells: [String; 6]| {
            let [at, at_local] = instant(trial, Some(event.recorded_at()));
            let received = crate::time::Moment::new(logged.received_at_ms, 0).ok();
            let [received_at, received_local] = instant(trial, received);
            let [section, instance, item, old, new, reason] = cells;
            vec![
                event.id().to_string(),
                event.participant_id().to_string(),
                record.study_number().to_owned(),
                event.kind().as_str().to_owned(),
                status.to_owned(),
                changes.unread.clone().unwrap_or_default(),
                section,
                instance,
                item,
                old,
                new,
                reason,
                event.user_id().to_string(),
                trial.person_name(event.user_id()).to_owned(),
                event.device_id().to_string(),
                trial.tablet_label(event.device_id()).to_owned(),
                event.device_seq().to_string(),
                at,
                at_local,
                event.recorded_at().offset_minutes().to_string(),
                received_at,
                received_local,
                event.app_version().to_owned(),
                event.schema_version().to_string(),
            ]
        };
        if changes.items.is_empty() {
            rows.push(row_for(casebook_cells(event).unwrap_or_default()));
        }
        for change in &changes.items {
            let kind = change.item.kind();
            let old = change
                .old
                .as_ref()
                .map_or(String::new(), |old| Cells::of(trial, kind, old).single());
            rows.push(row_for([
                change.section.key().to_owned(),
                change.repeat_key.clone().unwrap_or_default(),
                change.item.key().to_owned(),
                old,
                Cells::of(trial, kind, &change.new).single(),
                change.reason.clone().unwrap_or_default(),
            ]));
        }
    }
    rows
}

/// The audit trail's cells of a signature (its signer, role and meaning) or an
/// unlock (its reason); none for any other event.
fn casebook_cells(event: &crate::event::Event) -> Option<[String; 6]> {
    let payload =
        crate::payload::Payload::parse(event.kind(), event.schema_version(), event.payload())
            .ok()?;
    let (item, new, reason) = match payload {
        crate::payload::Payload::CasebookSigned(signature) => (
            "signature",
            format!(
                "signed by {} ({}): {}",
                signature.signer_name,
                signature.signer_role.as_str(),
                signature.meaning.english()
            ),
            String::new(),
        ),
        crate::payload::Payload::CasebookUnlocked(unlock) => {
            ("unlock", String::new(), unlock.reason)
        }
        _ => return None,
    };
    Some([
        "casebook".to_owned(),
        String::new(),
        item.to_owned(),
        String::new(),
        new,
        reason,
    ])
}

fn allocation_rows(trial: &Trial, record: &Record) -> Vec<Vec<String>> {
    let standing = record
        .participant
        .randomisation()
        .map(|randomisation| randomisation.by.event_id);
    record
        .log
        .events
        .iter()
        .filter(|logged| logged.event.kind() == crate::event::EventKind::Randomised)
        .map(|logged| {
            let event = &logged.event;
            let body = match Payload::parse(event.kind(), event.schema_version(), event.payload()) {
                Ok(Payload::Randomised(body)) => Some(body),
                _ => None,
            };
            let flags: Vec<String> = record
                .log
                .flags
                .iter()
                .filter(|flag| flag.event_id == event.id())
                .map(|flag| format!("{}: {}", flag.code, flag.message))
                .collect();
            let received = crate::time::Moment::new(logged.received_at_ms, 0).ok();
            let mut row = vec![
                event.id().to_string(),
                event.participant_id().to_string(),
                body.as_ref()
                    .map_or(String::new(), |body| body.study_number.to_string()),
                body.as_ref()
                    .map_or(String::new(), |body| body.arm.as_str().to_owned()),
                body.as_ref()
                    .map_or(String::new(), |body| body.lease_id.to_string()),
                body.as_ref()
                    .map_or(String::new(), |body| body.slot.to_string()),
                event.device_id().to_string(),
                trial.tablet_label(event.device_id()).to_owned(),
                trial.person_name(event.user_id()).to_owned(),
            ];
            row.extend(instant(trial, body.as_ref().map(|body| body.randomised_at)));
            row.extend(instant(trial, received));
            row.push((standing == Some(event.id())).to_string());
            row.push((flags.is_empty() && logged.refusal.is_none() && body.is_some()).to_string());
            row.push(flags.join("; "));
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_name_is_unique_within_its_table() {
        for table in Table::all() {
            let columns = table.columns();
            let mut names: Vec<&str> = columns.iter().map(|column| column.name.as_str()).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(names.len(), before, "{table:?}");
        }
    }
}
