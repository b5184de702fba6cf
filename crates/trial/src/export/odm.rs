//! The CDISC ODM 1.3.2 export: one transactional file that another data system
//! imports with its metadata and its audit trail.
//!
//! `Study` holds one `MetaDataVersion` per CRF version the log holds events of,
//! generated from the field declarations (a field replaced in a later version is
//! in the earlier one only). `AdminData` names the site's users and the site as a
//! location. `ClinicalData` is written one participant at a time, one
//! `SubjectData` transaction per event that set or changed values, in the order the
//! projection folds them (so applying them in file order gives the values the
//! projection shows), in a `ClinicalData` block of the event's CRF version (a new
//! block where the version changes); every `ItemData` carries
//! an `AuditRecord` (user, location, UTC time, the reason for a correction, the
//! source device). A signature is a transaction of its own holding the subject's
//! `Signature` (user, location, the `SignatureDef` of its meaning in
//! `AdminData`, UTC time); an unlock one holding an `AuditRecord` with its
//! reason. Refused and unreadable events are in the CSV audit trail only.
//!
//! OIDs: `ST.HP-ECMO`, `MDV.<version>`, `SE.`/`F.`/`IG.<SECTION>`,
//! `IT.<item key>`, `CL.<item key>`, `MU.<n>`, `USR.<user id>`, `LOC.<site code>`.

use std::borrow::Cow;
use std::io::Write;

use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;

use super::{Cells, ExportError, Item, Kind, Record, Section, Trial};
use crate::casebook::{self, SignatureMeaning};
use crate::field::Field;
use crate::payload::Payload;

/// The name of the ODM file.
pub const ODM_FILE: &str = "hp-ecmo.odm.xml";

/// The study's OID.
const STUDY_OID: &str = "ST.HP-ECMO";

/// The user named when an event's user is not on the site's list.
const UNKNOWN_USER_OID: &str = "USR.UNKNOWN";

/// Writes the ODM file, one participant at a time: [`OdmExport::new`] writes the
/// metadata and the users, [`OdmExport::write`] a participant's transactions, and
/// [`OdmExport::finish`] closes the file.
pub struct OdmExport<W: Write> {
    trial: Trial,
    writer: Writer<W>,
}

/// `io::Result` of the XML writer's closures.
type Written = std::io::Result<()>;

impl<W: Write> OdmExport<W> {
    /// Starts the file for `trial` in `out`: the declaration, the `ODM` element,
    /// `Study` and `AdminData`.
    pub fn new(trial: Trial, out: W) -> Result<Self, ExportError> {
        let mut writer = Writer::new_with_indent(out, b' ', 1);
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let created = trial.utc(trial.exported_at);
        let file_oid = format!("HP-ECMO.{}.{}", trial.site.code, trial.exported_at.utc_ms());
        writer.write_event(Event::Start(BytesStart::new("ODM").with_attributes([
            ("xmlns", "http://www.cdisc.org/ns/odm/v1.3"),
            ("FileType", "Transactional"),
            ("Granularity", "All"),
            ("FileOID", file_oid.as_str()),
            ("CreationDateTime", created.as_str()),
            ("ODMVersion", "1.3.2"),
            ("SourceSystem", "HP-ECMO"),
            ("SourceSystemVersion", env!("CARGO_PKG_VERSION")),
        ])))?;
        let mut export = Self { trial, writer };
        export.study()?;
        export.admin_data()?;
        Ok(export)
    }

    /// Writes one participant's transactions.
    pub fn write(&mut self, record: &Record) -> Result<(), ExportError> {
        // In the projection's order (recorded, then id), which the old values
        // were taken in, so applying the transactions in file order ends at the
        // values the projection shows; a new ClinicalData block starts wherever
        // the CRF version changes.
        let mut changes: Vec<&super::EventChanges> = record
            .changes
            .iter()
            .filter(|changes| {
                !changes.items.is_empty()
                    || (changes.unread.is_none()
                        && !casebook::is_record(changes.logged.event.kind()))
            })
            .collect();
        changes.sort_by_key(|changes| {
            let event = &changes.logged.event;
            (event.recorded_at(), event.id())
        });
        let trial = &self.trial;
        for run in changes
            .chunk_by(|a, b| a.logged.event.schema_version() == b.logged.event.schema_version())
        {
            let mdv = format!("MDV.{}", run[0].logged.event.schema_version());
            self.writer
                .create_element("ClinicalData")
                .with_attributes([("StudyOID", STUDY_OID), ("MetaDataVersionOID", &mdv)])
                .write_inner_content(|writer| {
                    for changes in run {
                        transaction(writer, trial, record, changes)?;
                    }
                    Ok(())
                })?;
        }
        Ok(())
    }

    /// Closes the file and hands back what it was written to.
    pub fn finish(mut self) -> Result<W, ExportError> {
        self.writer.write_event(Event::End(BytesEnd::new("ODM")))?;
        let mut out = self.writer.into_inner();
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(out)
    }

    fn study(&mut self) -> Result<(), ExportError> {
        let trial = &self.trial;
        self.writer
            .create_element("Study")
            .with_attribute(("OID", STUDY_OID))
            .write_inner_content(|writer| {
                writer
                    .create_element("GlobalVariables")
                    .write_inner_content(|writer| {
                        text_element(writer, "StudyName", "HP-ECMO")?;
                        text_element(
                            writer,
                            "StudyDescription",
                            "Hemoperfusion in extracorporeal membrane oxygenation (ECMO) patients",
                        )?;
                        text_element(writer, "ProtocolName", crate::REGISTRATION)
                    })?;
                writer
                    .create_element("BasicDefinitions")
                    .write_inner_content(|writer| {
                        for (index, unit) in units().iter().enumerate() {
                            writer
                                .create_element("MeasurementUnit")
                                .with_attributes([
                                    ("OID", format!("MU.{}", index + 1).as_str()),
                                    ("Name", unit),
                                ])
                                .write_inner_content(|writer| {
                                    writer
                                        .create_element("Symbol")
                                        .write_inner_content(|writer| translated(writer, unit))?;
                                    Ok(())
                                })?;
                        }
                        Ok(())
                    })?;
                for &version in trial.schema_versions() {
                    metadata_version(writer, version)?;
                }
                Ok(())
            })?;
        Ok(())
    }

    fn admin_data(&mut self) -> Result<(), ExportError> {
        let trial = &self.trial;
        let location = location_oid(trial);
        self.writer
            .create_element("AdminData")
            .with_attribute(("StudyOID", STUDY_OID))
            .write_inner_content(|writer| {
                let unknown = super::Person {
                    id: uuid::Uuid::nil(),
                    name: "a user not on the site's list".to_owned(),
                    role: String::new(),
                };
                let people = trial
                    .people
                    .values()
                    .map(|person| (user_oid(trial, person.id), person));
                for (oid, person) in people.chain([(UNKNOWN_USER_OID.to_owned(), &unknown)]) {
                    let user_type = if person.role == "investigator" {
                        "Investigator"
                    } else {
                        "Other"
                    };
                    writer
                        .create_element("User")
                        .with_attributes([("OID", oid.as_str()), ("UserType", user_type)])
                        .write_inner_content(|writer| {
                            text_element(writer, "LoginName", &person.id.to_string())?;
                            text_element(writer, "DisplayName", &person.name)?;
                            text_element(writer, "FullName", &person.name)?;
                            writer
                                .create_element("LocationRef")
                                .with_attribute(("LocationOID", location.as_str()))
                                .write_empty()?;
                            Ok(())
                        })?;
                }
                writer
                    .create_element("Location")
                    .with_attributes([
                        ("OID", location.as_str()),
                        ("Name", trial.site.name.as_str()),
                        ("LocationType", "Site"),
                    ])
                    .write_inner_content(|writer| {
                        let effective = trial.exported_at_date();
                        for version in trial.schema_versions() {
                            writer
                                .create_element("MetaDataVersionRef")
                                .with_attributes([
                                    ("StudyOID", STUDY_OID),
                                    ("MetaDataVersionOID", format!("MDV.{version}").as_str()),
                                    ("EffectiveDate", effective.as_str()),
                                ])
                                .write_empty()?;
                        }
                        Ok(())
                    })?;
                for meaning in SignatureMeaning::ALL {
                    writer
                        .create_element("SignatureDef")
                        .with_attributes([
                            ("OID", signature_oid(meaning).as_str()),
                            ("Methodology", "Electronic"),
                        ])
                        .write_inner_content(|writer| {
                            text_element(writer, "Meaning", meaning.english())?;
                            text_element(
                                writer,
                                "LegalReason",
                                "21 CFR 11.50: the investigator signs the casebook with the \
                                 password entered again",
                            )
                        })?;
                }
                Ok(())
            })?;
        Ok(())
    }
}

impl Trial {
    /// The UTC date of the export, for the location's metadata.
    fn exported_at_date(&self) -> String {
        self.utc(self.exported_at).chars().take(10).collect()
    }
}

/// One event's changes as one transaction of the participant's data.
fn transaction<W: Write>(
    writer: &mut Writer<W>,
    trial: &Trial,
    record: &Record,
    changes: &super::EventChanges,
) -> Written {
    let event = &changes.logged.event;
    let subject_key = record.participant.id().to_string();
    writer
        .create_element("SubjectData")
        .with_attributes([
            ("SubjectKey", subject_key.as_str()),
            ("TransactionType", "Upsert"),
        ])
        .write_inner_content(|writer| {
            casebook_action(writer, trial, event)?;
            writer
                .create_element("SiteRef")
                .with_attribute(("LocationOID", location_oid(trial).as_str()))
                .write_empty()?;
            // The items of one section instance go in one StudyEventData.
            let mut groups: Vec<(Section, Option<&str>, Vec<&super::ItemChange>)> = Vec::new();
            for change in &changes.items {
                let key = change.repeat_key.as_deref();
                match groups
                    .iter_mut()
                    .find(|(section, repeat, _)| *section == change.section && *repeat == key)
                {
                    Some((_, _, items)) => items.push(change),
                    None => groups.push((change.section, key, vec![change])),
                }
            }
            for (section, repeat_key, items) in groups {
                let name = oid_name(section);
                let mut study_event = BytesStart::new("StudyEventData")
                    .with_attributes([("StudyEventOID", format!("SE.{name}").as_str())]);
                if let Some(key) = repeat_key {
                    study_event.push_attribute(("StudyEventRepeatKey", key));
                }
                study_event.push_attribute(("TransactionType", "Upsert"));
                writer.write_event(Event::Start(study_event.borrow()))?;
                writer
                    .create_element("FormData")
                    .with_attributes([
                        ("FormOID", format!("F.{name}").as_str()),
                        ("TransactionType", "Upsert"),
                    ])
                    .write_inner_content(|writer| {
                        writer
                            .create_element("ItemGroupData")
                            .with_attributes([
                                ("ItemGroupOID", format!("IG.{name}").as_str()),
                                ("TransactionType", "Upsert"),
                            ])
                            .write_inner_content(|writer| {
                                for change in items {
                                    item_data(writer, trial, event, change)?;
                                }
                                Ok(())
                            })?;
                        Ok(())
                    })?;
                writer.write_event(Event::End(study_event.to_end()))?;
            }
            Ok(())
        })?;
    Ok(())
}

/// The `UserRef` and `LocationRef` that an `AuditRecord` and a `Signature`
/// both open with: who recorded `event`, at the trial's one location.
fn who_and_where<W: Write>(
    writer: &mut Writer<W>,
    trial: &Trial,
    event: &crate::event::Event,
) -> Written {
    writer
        .create_element("UserRef")
        .with_attribute(("UserOID", user_oid(trial, event.user_id()).as_str()))
        .write_empty()?;
    writer
        .create_element("LocationRef")
        .with_attribute(("LocationOID", location_oid(trial).as_str()))
        .write_empty()?;
    Ok(())
}

/// A signature as the subject's `Signature`, an unlock as the subject's
/// `AuditRecord` with its reason (ODM has no element of its own for it); other
/// events write nothing here.
fn casebook_action<W: Write>(
    writer: &mut Writer<W>,
    trial: &Trial,
    event: &crate::event::Event,
) -> Written {
    match Payload::parse(event.kind(), event.schema_version(), event.payload()) {
        Ok(Payload::CasebookSigned(signature)) => {
            writer
                .create_element("Signature")
                .write_inner_content(|writer| {
                    who_and_where(writer, trial, event)?;
                    writer
                        .create_element("SignatureRef")
                        .with_attribute(("SignatureOID", signature_oid(signature.meaning).as_str()))
                        .write_empty()?;
                    text_element(writer, "DateTimeStamp", &trial.utc(event.recorded_at()))
                })?;
        }
        Ok(Payload::CasebookUnlocked(unlock)) => {
            writer
                .create_element("AuditRecord")
                .write_inner_content(|writer| {
                    who_and_where(writer, trial, event)?;
                    text_element(writer, "DateTimeStamp", &trial.utc(event.recorded_at()))?;
                    text_element(
                        writer,
                        "ReasonForChange",
                        &format!("casebook unlocked: {}", unlock.reason),
                    )?;
                    text_element(
                        writer,
                        "SourceID",
                        &format!("console {}", event.device_id()),
                    )
                })?;
        }
        _ => {}
    }
    Ok(())
}

/// The OID of a signature's meaning: `SD.<meaning>`.
fn signature_oid(meaning: SignatureMeaning) -> String {
    format!("SD.{}", meaning.as_str().to_uppercase())
}

/// One value set or changed, with its audit record.
fn item_data<W: Write>(
    writer: &mut Writer<W>,
    trial: &Trial,
    event: &crate::event::Event,
    change: &super::ItemChange,
) -> Written {
    let cells = Cells::of(trial, change.item.kind(), &change.new);
    let transaction = match (&change.old, change.new.is_null()) {
        (None, _) => "Insert",
        (Some(_), true) => "Remove",
        (Some(_), false) => "Update",
    };
    let oid = format!("IT.{}", change.item.key());
    let mut element = writer
        .create_element("ItemData")
        .with_attributes([("ItemOID", oid.as_str()), ("TransactionType", transaction)]);
    let not_done = !cells.not_done.is_empty();
    if not_done {
        element = element.with_attribute(("IsNull", "Yes"));
    } else if !change.new.is_null() {
        element = element.with_attribute(attribute("Value", &cells.value));
    }
    element.write_inner_content(|writer| {
        writer
            .create_element("AuditRecord")
            .write_inner_content(|writer| {
                who_and_where(writer, trial, event)?;
                text_element(writer, "DateTimeStamp", &trial.utc(event.recorded_at()))?;
                if let Some(reason) = &change.reason {
                    text_element(writer, "ReasonForChange", reason)?;
                }
                let label = trial.tablet_label(event.device_id());
                text_element(
                    writer,
                    "SourceID",
                    &format!("device {label} {}", event.device_id()),
                )
            })?;
        if not_done {
            writer
                .create_element("Annotation")
                .with_attribute(("SeqNum", "1"))
                .write_inner_content(|writer| {
                    text_element(writer, "Comment", &format!("not done: {}", cells.not_done))
                })?;
        }
        Ok(())
    })?;
    Ok(())
}

/// One CRF version's metadata, generated from the sections and their items.
fn metadata_version<W: Write>(writer: &mut Writer<W>, version: u32) -> Written {
    let items_of = |section: Section| -> Vec<Item> {
        section
            .items()
            .into_iter()
            .filter(|item| item.in_version(version))
            .collect()
    };
    writer
        .create_element("MetaDataVersion")
        .with_attributes([
            ("OID", format!("MDV.{version}").as_str()),
            ("Name", format!("CRF version {version}").as_str()),
        ])
        .write_inner_content(|writer| {
            writer
                .create_element("Protocol")
                .write_inner_content(|writer| {
                    for (index, section) in Section::ALL.iter().enumerate() {
                        writer
                            .create_element("StudyEventRef")
                            .with_attributes([
                                (
                                    "StudyEventOID",
                                    format!("SE.{}", oid_name(*section)).as_str(),
                                ),
                                ("OrderNumber", (index + 1).to_string().as_str()),
                                ("Mandatory", "No"),
                            ])
                            .write_empty()?;
                    }
                    Ok(())
                })?;
            for section in Section::ALL {
                let name = oid_name(section);
                let kind = if section.repeating() {
                    "Unscheduled"
                } else {
                    "Scheduled"
                };
                definition(
                    writer,
                    "StudyEventDef",
                    &[
                        ("OID", &format!("SE.{name}")),
                        ("Name", &section.to_string()),
                        ("Repeating", yes_no(section.repeating())),
                        ("Type", kind),
                    ],
                    ("FormRef", "FormOID", &format!("F.{name}")),
                )?;
            }
            for section in Section::ALL {
                let name = oid_name(section);
                definition(
                    writer,
                    "FormDef",
                    &[
                        ("OID", &format!("F.{name}")),
                        ("Name", &section.to_string()),
                        ("Repeating", "No"),
                    ],
                    ("ItemGroupRef", "ItemGroupOID", &format!("IG.{name}")),
                )?;
            }
            for section in Section::ALL {
                let name = oid_name(section);
                writer
                    .create_element("ItemGroupDef")
                    .with_attributes([
                        ("OID", format!("IG.{name}").as_str()),
                        ("Name", section.to_string().as_str()),
                        ("Repeating", "No"),
                    ])
                    .write_inner_content(|writer| {
                        for (index, item) in items_of(section).into_iter().enumerate() {
                            writer
                                .create_element("ItemRef")
                                .with_attributes([
                                    ("ItemOID", format!("IT.{}", item.key()).as_str()),
                                    ("OrderNumber", (index + 1).to_string().as_str()),
                                    ("Mandatory", "No"),
                                ])
                                .write_empty()?;
                        }
                        Ok(())
                    })?;
            }
            let items = version_items(version);
            for &item in &items {
                item_def(writer, item)?;
            }
            for &item in &items {
                code_list(writer, item)?;
            }
            Ok(())
        })?;
    Ok(())
}

/// `<element attributes><child reference="oid" Mandatory="Yes"/></element>`: a
/// definition of one level that refers to the one below it.
fn definition<W: Write>(
    writer: &mut Writer<W>,
    element: &str,
    attributes: &[(&str, &str)],
    (child, reference, oid): (&str, &str, &str),
) -> Written {
    writer
        .create_element(element)
        .with_attributes(attributes.iter().copied())
        .write_inner_content(|writer| {
            writer
                .create_element(child)
                .with_attributes([(reference, oid), ("Mandatory", "Yes")])
                .write_empty()?;
            Ok(())
        })?;
    Ok(())
}

/// Every item of CRF `version`, once each, in the order of the sections.
fn version_items(version: u32) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    for section in Section::ALL {
        for item in section.items() {
            if item.in_version(version) && !items.contains(&item) {
                items.push(item);
            }
        }
    }
    items
}

fn item_def<W: Write>(writer: &mut Writer<W>, item: Item) -> Written {
    let data_type = match item.kind() {
        Kind::Decimal => "float",
        Kind::Integer => "integer",
        Kind::DateTime | Kind::LocalDateTime => "datetime",
        Kind::Date => "date",
        Kind::Boolean => "boolean",
        Kind::Choice(_) | Kind::Text => "text",
    };
    writer
        .create_element("ItemDef")
        .with_attributes([
            ("OID", format!("IT.{}", item.key()).as_str()),
            ("Name", item.key()),
            ("DataType", data_type),
        ])
        .write_inner_content(|writer| {
            writer
                .create_element("Question")
                .write_inner_content(|writer| translated(writer, item.label()))?;
            if let Some(limits) = item.limits() {
                let unit_oid = unit_oid(limits.unit);
                writer
                    .create_element("MeasurementUnitRef")
                    .with_attribute(("MeasurementUnitOID", unit_oid.as_str()))
                    .write_empty()?;
                for (comparator, value) in [("GE", limits.min), ("LE", limits.max)] {
                    writer
                        .create_element("RangeCheck")
                        .with_attributes([("Comparator", comparator), ("SoftHard", "Hard")])
                        .write_inner_content(|writer| {
                            text_element(writer, "CheckValue", &value.to_string())
                        })?;
                }
                if let Some(warn_above) = limits.warn_above {
                    writer
                        .create_element("RangeCheck")
                        .with_attributes([("Comparator", "LE"), ("SoftHard", "Soft")])
                        .write_inner_content(|writer| {
                            text_element(writer, "CheckValue", &warn_above.to_string())
                        })?;
                }
            }
            if !item.kind().choices().is_empty() {
                writer
                    .create_element("CodeListRef")
                    .with_attribute(("CodeListOID", format!("CL.{}", item.key()).as_str()))
                    .write_empty()?;
            }
            Ok(())
        })?;
    Ok(())
}

fn code_list<W: Write>(writer: &mut Writer<W>, item: Item) -> Written {
    let choices = item.kind().choices();
    if choices.is_empty() {
        return Ok(());
    }
    writer
        .create_element("CodeList")
        .with_attributes([
            ("OID", format!("CL.{}", item.key()).as_str()),
            ("Name", item.key()),
            ("DataType", "text"),
        ])
        .write_inner_content(|writer| {
            for choice in choices {
                writer
                    .create_element("CodeListItem")
                    .with_attribute(("CodedValue", *choice))
                    .write_inner_content(|writer| {
                        writer
                            .create_element("Decode")
                            .write_inner_content(|writer| {
                                translated(writer, &choice.replace('_', " "))
                            })?;
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    Ok(())
}

/// Every unit a measured field has, once each, in the order of the fields: the
/// measurement units `MU.1`, `MU.2`, … name.
fn units() -> Vec<&'static str> {
    let mut units: Vec<&'static str> = Vec::new();
    for field in Field::ALL {
        if let Some(limits) = field.limits()
            && !units.contains(&limits.unit)
        {
            units.push(limits.unit);
        }
    }
    units
}

fn unit_oid(unit: &str) -> String {
    let index = units().iter().position(|known| *known == unit).unwrap_or(0);
    format!("MU.{}", index + 1)
}

fn user_oid(trial: &Trial, user_id: uuid::Uuid) -> String {
    if trial.people.contains_key(&user_id) {
        format!("USR.{user_id}")
    } else {
        UNKNOWN_USER_OID.to_owned()
    }
}

fn location_oid(trial: &Trial) -> String {
    format!("LOC.{}", trial.site.code)
}

/// A section's part of its OIDs: its key in capitals.
fn oid_name(section: Section) -> String {
    section.key().to_uppercase()
}

fn yes_no(yes: bool) -> &'static str {
    if yes { "Yes" } else { "No" }
}

/// An attribute whose value keeps its line breaks and tabs: written as character
/// references, since a reader turns a raw one into a space (XML 1.0, 3.3.3), and a
/// free text's lines are part of what was entered.
fn attribute<'a>(name: &'a str, value: &str) -> Attribute<'a> {
    let escaped = quick_xml::escape::escape(value)
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;");
    Attribute {
        key: QName(name),
        value: Cow::Owned(escaped),
    }
}

/// `<name>text</name>`.
fn text_element<W: Write>(writer: &mut Writer<W>, name: &str, text: &str) -> Written {
    writer
        .create_element(name)
        .write_text_content(BytesText::new(text))?;
    Ok(())
}

/// `<TranslatedText xml:lang="en">text</TranslatedText>`.
fn translated<W: Write>(writer: &mut Writer<W>, text: &str) -> Written {
    writer
        .create_element("TranslatedText")
        .with_attribute(("xml:lang", "en"))
        .write_text_content(BytesText::new(text))?;
    Ok(())
}
