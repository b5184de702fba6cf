//! The exports of a seeded trial, pushed through the API as tablets push it: 40
//! participants screened on 3 tablets, 35 randomised and followed up (IL-6 at T0
//! and, for half, at 6 h; a day-1 assessment in CRF version 1 and one in version
//! 2), corrections, two blind edits that leave data queries open (one recorded
//! before the value it lost to, on a tablet whose clock was behind), one
//! randomisation flagged for a forged arm, 3 patients not eligible, one not
//! enrolled, one withdrawal. The files are read back here with exact counts and
//! values, and (with `HP_ECMO_EXPORT_PYTHON`, as `cargo xtask test` sets it) read
//! back with pandas by the dictionary's types, the ODM file validated with xmllint
//! against the ODM 1.3.2 schema and its transactions replayed against the CSV
//! values (`tests/export/check_export.py`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use axum::http::HeaderMap;

use server::export::{Format, export};
use trial::crf::FormKind;
use trial::crf::daily::StudyDay;
use trial::crf::end::{Withdrawal, WithdrawnBy};
use trial::eligibility::Criterion;
use trial::export::ODM_FILE;

use super::*;

/// The server's clock while the trial is seeded: four days after `NOW_MS`, so the
/// 6 h samples are in the past.
const LATER_MS: i64 = NOW_MS + 4 * 24 * MS_PER_HOUR;
const PARTICIPANTS: usize = 40;
/// Participants 0 to 34 are randomised as the app does; 35 is randomised with a
/// forged arm; 36 to 38 have an infection, not eligible; 39 is not enrolled.
const RANDOMISED: usize = 35;
const FORGED: usize = 35;
const QUERIED: usize = 1;
/// Participant 6's T0 sample has a blind edit recorded before the value that stands.
const BEHIND: usize = 6;
const WITHDRAWN: usize = 2;
/// A free text as people type it: a comma, quotes, a line break and Chinese, which
/// the CSV quotes and the XML escapes.
const WITHDRAWAL_REASON: &str = "转院, to \"Anzhen\"\nat the family's wish";
/// Participant 3's day 1 is recorded in CRF version 1, participant 4's in 2.
const OLD_CRF: usize = 3;
const NEW_CRF: usize = 4;

/// What was pushed, to check the files against.
pub(super) struct Seeded {
    pub(super) participants: Vec<Uuid>,
    events: usize,
    /// The IL-6 at T0 as it stands after corrections, and at 6 h when taken.
    il6: BTreeMap<Uuid, (f64, Option<f64>)>,
    corrections: usize,
    pub(super) forged_event: Uuid,
}

/// A screening with its own screening number and the answer to the exclusion
/// "infection".
fn screening_numbered(number: String, infection: Answer) -> Payload {
    let Payload::ScreeningRecorded(mut body) = screening(EcmoMode::Va) else {
        unreachable!("screening() is a screening");
    };
    body.screening_number = number;
    body.form.infection = infection;
    Payload::ScreeningRecorded(body)
}

/// Day 1's assessment with its transfusions as `transfusions` gives them: in
/// version-1 units or in version 2's U, doses and mL.
fn daily(transfusions: [(Field, serde_json::Value); 3]) -> Payload {
    let value = |value: serde_json::Value| json!({ "value": value });
    let fields = [
        (Field::LactateMmolPerL, json!(3.1)),
        (Field::SofaScore, json!(11)),
        (Field::DopamineUgPerKgMin, json!(5.0)),
        (Field::DobutamineUgPerKgMin, json!(2.5)),
        (Field::AdrenalineUgPerKgMin, json!(0.0)),
        (Field::NoradrenalineUgPerKgMin, json!(0.12)),
        (Field::MilrinoneUgPerKgMin, json!(0.0)),
        (Field::VasopressinUPerKgMin, json!(0.0)),
        (Field::EcmoFlowLPerMin, json!(3.5)),
        (Field::PlateletsE9PerL, json!(118.0)),
        (Field::HaemoglobinGPerL, json!(98.0)),
        (Field::BleedingEvent, json!(false)),
        (Field::RenalReplacementTherapy, json!(true)),
    ];
    let form = FormRef::DailyAssessment {
        study_day: StudyDay::new(1).unwrap(),
    }
    .form_with(
        fields
            .into_iter()
            .chain(transfusions)
            .map(|(field, entry)| (field, value(entry))),
    )
    .unwrap();
    Payload::FormSaved(FormSaved {
        form,
        confirmed: vec![],
    })
}

/// `payload` recorded by `tablet` as a build of CRF `schema_version` records it.
fn event_of_version(
    tablet: &mut TestTablet,
    participant: Uuid,
    payload: &Payload,
    schema_version: u32,
    utc_ms: i64,
) -> Event {
    tablet
        .head
        .append(EventDraft {
            id: Uuid::now_v7(),
            participant_id: participant,
            user_id: tablet.user_id,
            recorded_at: beijing(utc_ms),
            kind: payload.kind(),
            payload: payload.to_json(),
            app_version: "0.1.0".to_owned(),
            schema_version,
        })
        .unwrap()
}

/// The sample of `time_point`, taken at `sampled_ms`, with this IL-6.
fn sample(time_point: TimePoint, sampled_ms: i64, il6: f64) -> Payload {
    let sampled_at = json!({ "value": { "utc_ms": sampled_ms, "offset_minutes": BEIJING } });
    let form = FormRef::CytokineSample { time_point }
        .form_with([
            (Field::SampledAt, sampled_at),
            (Field::Il6PgPerMl, json!({ "value": il6 })),
        ])
        .unwrap();
    Payload::FormSaved(FormSaved {
        form,
        confirmed: vec![],
    })
}

pub(super) async fn seed(app: &mut TestApp) -> Seeded {
    app.set_clock(LATER_MS);
    let mut tablets = [app.enrol().await, app.enrol().await, app.enrol().await];
    let mut seeded = Seeded {
        participants: Vec::new(),
        events: 0,
        il6: BTreeMap::new(),
        corrections: 0,
        forged_event: Uuid::nil(),
    };
    for index in 0..PARTICIPANTS {
        let participant = Uuid::now_v7();
        seeded.participants.push(participant);
        let tablet = &mut tablets[index % 3];
        let number = format!("{}-{:04}", tablet.label, index / 3 + 1);
        let infection = if (36..=38).contains(&index) {
            Answer::Yes
        } else {
            Answer::No
        };
        let mut events = vec![tablet.event(
            participant,
            &screening_numbered(number, infection),
            SCREENED_MS,
        )];
        if index == 39 {
            let not_enrolled = Payload::NotEnrolled(NotEnrolled {
                reason: NotEnrolledReason::ConsentRefused,
                details: String::new(),
            });
            events.push(tablet.event(participant, &not_enrolled, CONSENTED_MS));
        } else if index <= FORGED {
            events.push(tablet.event(participant, &consent(), CONSENTED_MS));
        }
        if index < RANDOMISED {
            events.push(tablet.randomise(participant));
            let t0 = 100.0 + 10.0 * index as f64;
            events.push(tablet.event(participant, &il6_saved(t0), RANDOMISED_MS + 60_000));
            let mut standing = t0;
            if index % 5 == 0 {
                standing = t0 + 1.0;
                events.push(tablet.event(
                    participant,
                    &il6_corrected(t0, standing),
                    RANDOMISED_MS + 120_000,
                ));
                seeded.corrections += 1;
            }
            let mut later = None;
            if index % 2 == 0 {
                let sampled_ms = RANDOMISED_MS + 6 * MS_PER_HOUR;
                let il6 = t0 * 0.5;
                events.push(tablet.event(
                    participant,
                    &sample(TimePoint::H6, sampled_ms, il6),
                    sampled_ms + 300_000,
                ));
                later = Some(il6);
            }
            // Day 1 as a tablet still on CRF version 1 records it, and as one on
            // version 2 does.
            let day_1 = RANDOMISED_MS + 24 * MS_PER_HOUR;
            if index == OLD_CRF {
                let units = daily([
                    (Field::RbcUnits, json!(2)),
                    (Field::PlateletUnits, json!(0)),
                    (Field::PlasmaUnits, json!(1)),
                ]);
                events.push(event_of_version(tablet, participant, &units, 1, day_1));
            }
            if index == NEW_CRF {
                let units = daily([
                    (Field::RedCellsU, json!(1.5)),
                    (Field::PlateletDoses, json!(1)),
                    (Field::PlasmaMl, json!(200)),
                ]);
                events.push(event_of_version(tablet, participant, &units, 2, day_1));
            }
            if index == WITHDRAWN {
                let withdrawal = Payload::Withdrawn(Withdrawal {
                    by: WithdrawnBy::Participant,
                    reason: WITHDRAWAL_REASON.to_owned(),
                });
                events.push(tablet.event(participant, &withdrawal, NOW_MS));
            }
            seeded.il6.insert(participant, (standing, later));
        }
        if index == FORGED {
            let allocation = tablet.leases[0].allocate().unwrap();
            let forged = tablet.randomised_as(
                participant,
                allocation.lease(),
                allocation.slot(),
                other_arm(allocation.arm()),
            );
            seeded.forged_event = forged.id();
            events.push(forged);
        }
        seeded.events += events.len();
        let response = app.push(tablet, &events).await;
        let refused: Vec<_> = response.rejected.iter().map(|r| r.code).collect();
        let expected = if index == FORGED {
            vec![RejectionCode::AllocationFlagged]
        } else {
            vec![]
        };
        assert_eq!(refused, expected, "participant {index}: {response:?}");
    }
    // Another tablet saves participant 1's T0 sample without having seen the
    // first one's: a blind edit, which opens a data query.
    let queried = seeded.participants[QUERIED];
    let blind = tablets[2].event(queried, &il6_saved(999.0), RANDOMISED_MS + 180_000);
    assert_eq!(app.push(&tablets[2], &[blind]).await.rejected, []);
    seeded.events += 1;
    seeded.il6.get_mut(&queried).unwrap().0 = 999.0;
    // Tablet 2 also saves participant 6's T0 sample blind, with its clock behind:
    // recorded before the first tablet's save, pushed after it. The projection
    // folds it first, so the first tablet's value stands.
    let behind = seeded.participants[BEHIND];
    let late = tablets[2].event(behind, &il6_saved(555.0), RANDOMISED_MS + 30_000);
    assert_eq!(app.push(&tablets[2], &[late]).await.rejected, []);
    seeded.events += 1;
    assert_eq!(
        app.store
            .open_query_reports(&app.site.code)
            .await
            .unwrap()
            .len(),
        2
    );
    seeded
}

/// The rows of one CSV file, by column name.
pub(super) fn read_table(folder: &Path, file: &str) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(folder.join(file)).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|row| {
            let row = row.unwrap();
            headers
                .iter()
                .map(str::to_owned)
                .zip(row.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// How many rows each table has, as the seed makes them.
fn expected_rows(seeded: &Seeded) -> BTreeMap<&'static str, usize> {
    let later = seeded
        .il6
        .values()
        .filter(|(_, later)| later.is_some())
        .count();
    BTreeMap::from([
        ("participants.csv", PARTICIPANTS),
        ("screening.csv", PARTICIPANTS),
        ("consent.csv", FORGED + 1),
        ("baseline.csv", 0),
        ("cytokine_sample.csv", RANDOMISED + later),
        ("hemoperfusion_session.csv", 0),
        ("daily_assessment.csv", 2),
        ("adverse_event.csv", 0),
        ("outcomes.csv", 0),
        ("il6_change.csv", later),
        ("allocations.csv", RANDOMISED + 1),
        ("consort.csv", 16),
    ])
}

async fn exports_hold_every_participant_value_and_event(mut app: TestApp) {
    let seeded = seed(&mut app).await;
    let folder = tempfile::tempdir().unwrap();
    let clock = Clock::fixed(LATER_MS);
    let written = export(
        &app.store,
        &app.site.code,
        Format::All,
        folder.path(),
        "test",
        &clock,
    )
    .await
    .unwrap();
    let error = export(&app.store, "SH", Format::Csv, folder.path(), "test", &clock)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "there is no site SH: start the server with --site-code SH once"
    );
    assert_eq!(app.store.exports("SH").await.unwrap(), []);
    assert_eq!(written.record.participants, PARTICIPANTS as u64);
    assert_eq!(written.record.events, seeded.events as u64);
    assert_eq!(
        app.store.exports(&app.site.code).await.unwrap(),
        std::slice::from_ref(&written.record)
    );

    for (file, rows) in expected_rows(&seeded) {
        assert_eq!(read_table(folder.path(), file).len(), rows, "{file}");
    }
    let audit = read_table(folder.path(), "audit_trail.csv");
    let event_ids: BTreeSet<&str> = audit.iter().map(|row| row["event_id"].as_str()).collect();
    assert_eq!(
        event_ids.len(),
        seeded.events,
        "every event in the audit trail"
    );
    let corrections: Vec<_> = audit
        .iter()
        .filter(|row| row["event_kind"] == "value_corrected")
        .collect();
    assert_eq!(corrections.len(), seeded.corrections);
    assert!(
        corrections
            .iter()
            .all(|row| row["reason"] == "lab report re-read"
                && row["item"] == "il6_pg_per_ml"
                && row["user_name"] == "Li Na")
    );
    let refused: Vec<_> = audit
        .iter()
        .filter(|row| row["status"] == "refused")
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["event_id"], seeded.forged_event.to_string());
    assert!(
        refused[0]["note"].starts_with("refused by the server: allocation_flagged"),
        "{:?}",
        refused[0]
    );

    let changes = read_table(folder.path(), "il6_change.csv");
    for row in &changes {
        let participant: Uuid = row["participant_id"].parse().unwrap();
        let (t0, later) = seeded.il6[&participant];
        let later = later.unwrap();
        assert_eq!(row["time_point"], "h6");
        assert_eq!(row["il6_t0_pg_per_ml"].parse::<f64>().unwrap(), t0);
        assert_eq!(row["il6_pg_per_ml"].parse::<f64>().unwrap(), later);
        assert_eq!(
            row["il6_change_pg_per_ml"].parse::<f64>().unwrap(),
            later - t0
        );
        let percent: f64 = row["il6_change_percent"].parse().unwrap();
        assert!(
            (percent - 100.0 * (later - t0) / t0).abs() < 1e-9,
            "{row:?}"
        );
        let log10: f64 = row["il6_change_log10"].parse().unwrap();
        assert!(
            (log10 - (later.log10() - t0.log10())).abs() < 1e-12,
            "{row:?}"
        );
    }

    let participants = read_table(folder.path(), "participants.csv");
    let by_id = |index: usize| {
        let id = seeded.participants[index].to_string();
        participants
            .iter()
            .find(|row| row["participant_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id(QUERIED)["open_queries"], "1");
    assert_eq!(by_id(BEHIND)["open_queries"], "1");
    assert_eq!(by_id(0)["open_queries"], "0");
    assert_eq!(by_id(WITHDRAWN)["status"], "withdrawn");
    assert_eq!(by_id(WITHDRAWN)["withdrawal_reason"], WITHDRAWAL_REASON);
    assert_eq!(by_id(39)["not_enrolled_reason"], "consent_refused");
    assert_eq!(by_id(37)["status"], "not_eligible");
    assert_eq!(
        by_id(FORGED)["arm"],
        "",
        "a flagged randomisation does not stand"
    );
    assert!(by_id(0)["randomised_at"].ends_with('Z'));
    assert!(by_id(0)["randomised_at_local"].ends_with("+08:00"));
    assert!(by_id(3)["study_number"].starts_with("BJ-T1-"));

    let daily = read_table(folder.path(), "daily_assessment.csv");
    let day_of = |index: usize| {
        let id = seeded.participants[index].to_string();
        daily
            .iter()
            .find(|row| row["participant_id"] == id)
            .unwrap()
    };
    let old = day_of(OLD_CRF);
    assert_eq!(
        (
            &old["crf_version"][..],
            &old["rbc_units"][..],
            &old["red_cells_u"][..]
        ),
        ("1", "2", ""),
        "a version-1 form keeps its count in units"
    );
    let new = day_of(NEW_CRF);
    assert_eq!(
        (
            &new["crf_version"][..],
            &new["rbc_units"][..],
            &new["red_cells_u"][..]
        ),
        ("2", "", "1.5")
    );
    assert_eq!((&new["study_day"][..], &new["plasma_ml"][..]), ("1", "200"));

    let allocations = read_table(folder.path(), "allocations.csv");
    let flagged: Vec<_> = allocations
        .iter()
        .filter(|row| row["verified"] == "false")
        .collect();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0]["event_id"], seeded.forged_event.to_string());
    assert_eq!(flagged[0]["stands"], "false");
    assert!(
        flagged[0]["flags"].starts_with("arm_mismatch: "),
        "{:?}",
        flagged[0]
    );
    assert_eq!(
        allocations
            .iter()
            .filter(|row| row["stands"] == "true")
            .count(),
        RANDOMISED
    );

    let consort = written.consort.unwrap();
    assert_eq!(consort.assessed, PARTICIPANTS as u32);
    assert_eq!(
        consort.randomised,
        (RANDOMISED + 1) as u32,
        "the flagged one counts"
    );
    let allocated: u32 = consort.arms.values().map(|arm| arm.allocated).sum();
    assert_eq!(allocated, RANDOMISED as u32);
    assert_eq!(consort.arm_unknown, 1, "the forged arm is no arm");
    assert_eq!(
        consort.failed_criteria,
        BTreeMap::from([(Criterion::Infection, 3)])
    );
    let screenings = read_table(folder.path(), "screening.csv");
    let screening_of = |index: usize| {
        let id = seeded.participants[index].to_string();
        screenings
            .iter()
            .find(|row| row["participant_id"] == id)
            .unwrap()
    };
    let infected = screening_of(37);
    assert_eq!(
        (
            &infected["eligibility"][..],
            &infected["failed_criteria"][..],
            &infected["infection"][..]
        ),
        ("ineligible", "E5", "yes")
    );
    let eligible = screening_of(0);
    assert_eq!(
        (
            &eligible["eligibility"][..],
            &eligible["age_years"][..],
            &eligible["height_cm"][..]
        ),
        ("eligible", "55", "170.0")
    );
    let bmi: f64 = eligible["bmi_kg_per_m2"].parse().unwrap();
    assert!((bmi - 70.0 / (1.7 * 1.7)).abs() < 1e-9, "{bmi}");
    let withdrawn: u32 = consort.arms.values().map(|arm| arm.withdrawn).sum();
    assert_eq!(withdrawn, 1);
    let analysed: u32 = consort.arms.values().map(|arm| arm.analysed_primary).sum();
    assert_eq!(analysed as usize, expected_rows(&seeded)["il6_change.csv"]);
    let excluded: Vec<(String, u32)> = consort
        .excluded
        .iter()
        .map(|(reason, count)| (reason.key(), *count))
        .collect();
    assert_eq!(
        excluded,
        [
            ("not_eligible".to_owned(), 3),
            ("not_enrolled_consent_refused".to_owned(), 1)
        ]
    );

    // The bed and the initials stay at the site: in no file, under no name.
    for entry in std::fs::read_dir(folder.path()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for site_only in SITE_ONLY
            .into_iter()
            .chain(["patient_initials", ",bed,", "IT.bed\""])
        {
            assert!(
                !text.contains(site_only),
                "{} holds {site_only}",
                path.display()
            );
        }
    }

    let odm = std::fs::read_to_string(folder.path().join(ODM_FILE)).unwrap();
    assert!(
        odm.contains(
            "<ItemData ItemOID=\"IT.withdrawal_reason\" TransactionType=\"Insert\" \
             Value=\"转院, to &quot;Anzhen&quot;&#10;at the family&apos;s wish\">"
        ),
        "free text escaped, its line break kept"
    );
    for version in ["1", "2", "3"] {
        let metadata = format!("<MetaDataVersion OID=\"MDV.{version}\"");
        assert!(
            odm.contains(&metadata),
            "one MetaDataVersion per CRF version in use"
        );
    }
    let version_1 = odm.find("<MetaDataVersion OID=\"MDV.1\"").unwrap();
    let version_2 = odm.find("<MetaDataVersion OID=\"MDV.2\"").unwrap();
    assert!(odm[version_1..version_2].contains("<ItemDef OID=\"IT.rbc_units\""));
    assert!(!odm[version_1..version_2].contains("<ItemDef OID=\"IT.red_cells_u\""));
    assert!(
        odm.contains("<ItemData ItemOID=\"IT.rbc_units\" TransactionType=\"Insert\" Value=\"2\">")
    );
    let item_data = odm.matches("<ItemData ").count();
    assert_eq!(odm.matches("<AuditRecord>").count(), item_data);
    assert_eq!(
        odm.matches("<ReasonForChange>lab report re-read</ReasonForChange>")
            .count(),
        seeded.corrections
    );
}

/// The Python half: pandas reads every table by the dictionary's types, xmllint
/// validates the ODM file, and the XML parser finds every OID and audit record.
#[tokio::test]
#[cfg_attr(not(export_checks), ignore = "HP_ECMO_EXPORT_PYTHON is not set")]
async fn pandas_and_xmllint_read_the_exports_back() {
    let mut app = spawn_app(Engine::Sqlite).await;
    let seeded = seed(&mut app).await;
    let folder = tempfile::tempdir().unwrap();
    export(
        &app.store,
        &app.site.code,
        Format::All,
        folder.path(),
        "test",
        &Clock::fixed(LATER_MS),
    )
    .await
    .unwrap();
    let python = std::env::var("HP_ECMO_EXPORT_PYTHON")
        .expect("CI runs the export checks: set HP_ECMO_EXPORT_PYTHON");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/export/check_export.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(folder.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let found: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for (file, rows) in expected_rows(&seeded) {
        assert_eq!(found["tables"][file], rows, "{file}: {found}");
    }
    assert_eq!(
        found["withdrawal_reasons"],
        json!([WITHDRAWAL_REASON]),
        "{found}"
    );
    // Every form value the CSV tables hold, replayed from the ODM transactions.
    let rows = expected_rows(&seeded);
    let replayed = rows["cytokine_sample.csv"] * FormKind::CytokineSample.fields().len()
        + rows["daily_assessment.csv"] * FormKind::DailyAssessment.fields().len();
    assert_eq!(found["replayed"], replayed, "{found}");
    let odm = &found["odm"];
    assert_eq!(
        odm["withdrawal_reasons"],
        json!([WITHDRAWAL_REASON]),
        "{odm}"
    );
    assert_eq!(odm["subjects"], PARTICIPANTS, "{odm}");
    assert_eq!(odm["audited"], odm["item_data"], "{odm}");
    assert_eq!(odm["reasons"], seeded.corrections, "{odm}");
    assert_eq!(
        odm["metadata_versions"],
        json!(["MDV.1", "MDV.2", "MDV.3"]),
        "{odm}"
    );
    assert!(
        odm["updates"].as_u64().unwrap() > seeded.corrections as u64,
        "{odm}"
    );

    // The checks can fail: a choice outside its list, an item without its audit
    // record and a reference to no user are each named.
    let tamper = |file: &str, from: &str, to: &str| {
        let path = folder.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} holds {from}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    tamper("cytokine_sample.csv", ",h6,", ",h7,");
    let odm_text = std::fs::read_to_string(folder.path().join(ODM_FILE)).unwrap();
    let start = odm_text.find("<AuditRecord>").unwrap();
    let end = odm_text[start..].find("</AuditRecord>").unwrap() + start;
    let audit_record = &odm_text[start..end + "</AuditRecord>".len()];
    tamper(ODM_FILE, audit_record, "");
    tamper(ODM_FILE, "UserOID=\"USR.", "UserOID=\"USR.X");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(folder.path())
        .output()
        .unwrap();
    let problems = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{problems}");
    assert!(
        problems.contains("cytokine_sample.csv.time_point: ['h7'] not among"),
        "{problems}"
    );
    assert!(problems.contains("has no AuditRecord"), "{problems}");
    assert!(
        problems.contains("ODM: OID references without a definition: ['UserOID=USR.X"),
        "{problems}"
    );
}

/// An export holds what was stored before it started: a push arriving meanwhile
/// (after the cut) is left for the next export, with its participant.
async fn an_export_is_a_snapshot_of_what_was_stored_when_it_started(app: TestApp) {
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    let screening = tablet.screen(participant);
    assert_eq!(app.push(&tablet, &screening).await.rejected, []);
    let cut = app.store.export_cut().await.unwrap();
    let randomisation = tablet.randomise(participant);
    let newcomer = Uuid::now_v7();
    let mut later = vec![randomisation];
    later.extend(tablet.screen(newcomer));
    assert_eq!(app.push(&tablet, &later).await.rejected, []);
    let log = app
        .store
        .export_log(&app.site.code, participant, cut)
        .await
        .unwrap();
    let kinds: Vec<EventKind> = log
        .events
        .iter()
        .map(|logged| logged.event.kind())
        .collect();
    assert_eq!(
        kinds,
        [EventKind::ScreeningRecorded, EventKind::ConsentRecorded]
    );
    let newcomer_log = app
        .store
        .export_log(&app.site.code, newcomer, cut)
        .await
        .unwrap();
    assert_eq!(newcomer_log.events, []);
    let (versions, events) = app
        .store
        .export_versions(&app.site.code, cut)
        .await
        .unwrap();
    assert_eq!((versions, events), (vec![SCHEMA_VERSION], 2));
    let everything = app.store.export_cut().await.unwrap();
    assert_eq!(everything, cut + 3);
    let log = app
        .store
        .export_log(&app.site.code, participant, everything)
        .await
        .unwrap();
    assert_eq!(log.events.len(), 3);
}

/// `hp-ecmo-server export`, as the coordinator runs it beside the server: it lists
/// the files it wrote on stdout and records who asked.
async fn the_export_command_writes_the_files_and_records_the_export(app: TestApp) {
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    events.push(tablet.randomise(participant));
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("exports");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hp-ecmo-server"))
        .args([
            "--database",
            &app.database_arg,
            "export",
            "--format",
            "csv",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let listed: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut expected = vec![out.join(trial::export::DICTIONARY_FILE)];
    expected.extend(
        trial::export::Table::all()
            .iter()
            .map(|table| out.join(table.file_name())),
    );
    let expected: Vec<String> = expected
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    assert_eq!(listed, expected, "the CSV files, and no ODM file");
    assert!(!out.join(ODM_FILE).exists());
    assert!(
        stderr.contains("Exported site BJ: 1 participant(s), 3 event(s)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&participant.to_string()),
        "no patient data in the log"
    );
    let exports = app.store.exports(&app.site.code).await.unwrap();
    assert_eq!(exports.len(), 1);
    assert_eq!(
        (
            exports[0].format,
            &exports[0].requested_by[..],
            exports[0].participants,
            exports[0].events
        ),
        (Format::Csv, "command line", 1, 3)
    );
    assert_eq!(read_table(&out, "allocations.csv").len(), 1);
}

/// `--format identification` writes the site identification log alone: who
/// each number stands for, by initials and bed, for the site's own file.
async fn the_identification_log_names_the_patients_for_the_site_alone(app: TestApp) {
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    events.push(tablet.randomise(participant));
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
    let folder = tempfile::tempdir().unwrap();
    let written = export(
        &app.store,
        &app.site.code,
        Format::Identification,
        folder.path(),
        "test",
        &Clock::fixed(LATER_MS),
    )
    .await
    .unwrap();
    let log = folder.path().join(trial::export::IDENTIFICATION_LOG_FILE);
    assert_eq!(written.files, [log], "the log alone");
    let rows = read_table(folder.path(), trial::export::IDENTIFICATION_LOG_FILE);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (
            &row["site"][..],
            &row["screening_number"][..],
            &row["patient_initials"][..],
            &row["bed"][..]
        ),
        ("BJ", "T1-0001", SITE_ONLY[0], SITE_ONLY[1])
    );
    assert!(row["study_number"].starts_with("BJ-T1-"), "{row:?}");
    assert!(row["screened_at_local"].ends_with("+08:00"), "{row:?}");
    let exports = app.store.exports(&app.site.code).await.unwrap();
    assert_eq!(exports[0].format, Format::Identification);
}

on_both_engines!(
    exports_hold_every_participant_value_and_event,
    the_console_downloads_each_export_as_the_command_line_writes_it,
    only_the_roles_that_may_export_download_and_bad_queries_are_named,
    the_dashboard_counts_what_the_export_writes,
    an_export_is_a_snapshot_of_what_was_stored_when_it_started,
    the_export_command_writes_the_files_and_records_the_export,
    the_identification_log_names_the_patients_for_the_site_alone,
);

async fn the_dashboard_counts_what_the_export_writes(mut app: TestApp) {
    seed(&mut app).await;
    let folder = tempfile::tempdir().unwrap();
    let clock = Clock::fixed(app.now_ms);
    export(
        &app.store,
        &app.site.code,
        Format::Csv,
        folder.path(),
        "test",
        &clock,
    )
    .await
    .unwrap();
    let exported: Vec<[String; 4]> = read_table(folder.path(), "consort.csv")
        .into_iter()
        .map(|row| ["stage", "arm", "reason", "count"].map(|column| row[column].clone()))
        .collect();
    let cookie =
        super::console::account(&app, trial::console::ConsoleRole::Statistician, "Chen Jie").await;
    let (status, _, body) = super::console::console_request(
        &app,
        Method::GET,
        "/api/console/dashboard",
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let dashboard: trial::console::DashboardResponse = from_json(&body);
    assert_eq!(dashboard.counted_at_ms, app.now_ms);
    let [site] = dashboard.sites.as_slice() else {
        panic!("{dashboard:?}")
    };
    let shown: Vec<[String; 4]> = site.consort.iter().map(|row| row.fields()).collect();
    assert_eq!(shown, exported);
    assert_eq!(
        site.consort[0].count, PARTICIPANTS as u32,
        "assessed for eligibility"
    );
    assert!(shown.len() > 10, "{shown:?}");

    // The balance per stratum is allocations.csv's standing rows, by tablet and arm.
    let mut allocated: BTreeMap<String, [u32; 2]> = BTreeMap::new();
    for row in read_table(folder.path(), "allocations.csv") {
        if row["stands"] == "true" {
            let arms = allocated.entry(row["device_label"].clone()).or_default();
            arms[usize::from(row["arm"] == "standard_care")] += 1;
        }
    }
    let balance: BTreeMap<String, [u32; 2]> = site
        .balance
        .iter()
        .map(|stratum| {
            (
                stratum.tablet.clone(),
                [stratum.hemoperfusion, stratum.standard_care],
            )
        })
        .collect();
    assert_eq!(balance, allocated);
    assert!(balance.len() > 1, "{balance:?}");

    // The enrolment curve is participants.csv's arms counted by the local day
    // of their randomisation, cumulative: the chart ends where the export does.
    let mut per_day: BTreeMap<String, [u32; 2]> = BTreeMap::new();
    for row in read_table(folder.path(), "participants.csv") {
        let arm = match row["arm"].as_str() {
            "" => continue,
            arm => usize::from(arm == "standard_care"),
        };
        per_day
            .entry(row["randomised_at_local"][..10].to_owned())
            .or_default()[arm] += 1;
    }
    let mut running = [0; 2];
    let expected: Vec<(String, [u32; 3])> = per_day
        .into_iter()
        .map(|(date, [hp, sc])| {
            running = [running[0] + hp, running[1] + sc];
            (date, [running[0], running[1], running[0] + running[1]])
        })
        .collect();
    let curve: Vec<(String, [u32; 3])> = site
        .enrolment
        .iter()
        .map(|point| {
            (
                point.date.clone(),
                [point.hemoperfusion, point.standard_care, point.total],
            )
        })
        .collect();
    assert_eq!(curve, expected);
    assert!(
        curve.last().is_some_and(|(_, [.., total])| *total > 30),
        "{curve:?}"
    );

    // Each overdue sample is of a participant the export lists as randomised,
    // at a time point the export holds no sample of.
    let randomised: BTreeSet<String> = read_table(folder.path(), "participants.csv")
        .into_iter()
        .filter(|row| row["status"] == "randomised")
        .map(|row| row["study_number"].clone())
        .collect();
    let sampled: BTreeSet<(String, String)> = read_table(folder.path(), "cytokine_sample.csv")
        .into_iter()
        .map(|row| (row["study_number"].clone(), row["time_point"].clone()))
        .collect();
    assert!(!site.overdue_samples.is_empty(), "{site:?}");
    for overdue in &site.overdue_samples {
        assert!(randomised.contains(&overdue.study_number), "{overdue:?}");
        let time_point = (overdue.study_number.clone(), format!("h{}", overdue.hours));
        assert!(!sampled.contains(&time_point), "{overdue:?}");
        assert!(overdue.window_closed_at_ms < app.now_ms, "{overdue:?}");
    }
}

/// The entries of a zip, by name in their order, with their bytes.
fn unzipped(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|index| {
            let mut entry = archive.by_index(index).unwrap();
            assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
            (entry.name().unwrap().into_owned(), content)
        })
        .collect()
}

/// The files `export()` writes for `format` at the app's clock, by name in their
/// order, with their bytes: what the console's zip must hold.
async fn written_by_the_command_line(app: &TestApp, format: Format) -> Vec<(String, Vec<u8>)> {
    let folder = tempfile::tempdir().unwrap();
    let written = export(
        &app.store,
        &app.site.code,
        format,
        folder.path(),
        trial::console::COMMAND_LINE,
        &Clock::fixed(app.now_ms),
    )
    .await
    .unwrap();
    written
        .files
        .iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            (name, std::fs::read(path).unwrap())
        })
        .collect()
}

async fn download(
    app: &TestApp,
    cookie: Option<&str>,
    query: &str,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    super::console::console_request(
        app,
        Method::GET,
        &format!("/api/console/exports/download?{query}"),
        cookie,
        None,
    )
    .await
}

async fn the_console_downloads_each_export_as_the_command_line_writes_it(mut app: TestApp) {
    use trial::console::{AuditResponse, ConsoleEvent, ConsoleRole, ExportsResponse};
    let seeded = seed(&mut app).await;
    let statistician = super::console::account(&app, ConsoleRole::Statistician, "Chen Jie").await;
    let coordinator = super::console::account(&app, ConsoleRole::Coordinator, "Li Na").await;
    let stamp = "20250619T150640Z";
    assert_eq!(
        jiff::Timestamp::from_millisecond(app.now_ms)
            .unwrap()
            .to_string(),
        "2025-06-19T15:06:40Z",
        "the stamp below is the clock's"
    );
    let mut downloaded = Vec::new();
    for (format, who) in [
        (Format::Csv, &statistician),
        (Format::Odm, &statistician),
        (Format::All, &statistician),
        (Format::Identification, &coordinator),
    ] {
        let (status, headers, body) =
            download(&app, Some(who), &format!("site=BJ&format={format}")).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{format}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(headers[header::CONTENT_TYPE], "application/zip");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            headers[header::CONTENT_DISPOSITION],
            format!("attachment; filename=\"hp-ecmo-BJ-{format}-{stamp}.zip\"")
        );
        assert_eq!(headers[header::CONTENT_LENGTH], body.len().to_string());
        let entries = unzipped(&body);
        assert_eq!(
            entries,
            written_by_the_command_line(&app, format).await,
            "{format}: the files the command line writes, byte for byte"
        );
        downloaded.push((format, entries));
    }
    // A browser asks for gzip; a zip is sent as it is, its length known.
    let request = Request::get("/api/console/exports/download?site=BJ&format=odm")
        .header(header::COOKIE, &statistician)
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get(header::CONTENT_ENCODING), None);
    assert!(response.headers().contains_key(header::CONTENT_LENGTH));
    let names = |format: Format| -> Vec<String> {
        let (_, entries) = downloaded.iter().find(|(of, _)| *of == format).unwrap();
        entries.iter().map(|(name, _)| name.clone()).collect()
    };
    let mut csv = vec![trial::export::DICTIONARY_FILE.to_owned()];
    csv.extend(
        trial::export::Table::all()
            .iter()
            .map(|table| table.file_name()),
    );
    for table in ["audit_trail.csv", "allocations.csv", "consort.csv"] {
        assert!(csv.contains(&table.to_owned()), "{csv:?}");
    }
    assert_eq!(names(Format::Csv), csv);
    assert_eq!(names(Format::Odm), [ODM_FILE]);
    assert_eq!(
        names(Format::All),
        [csv.clone(), vec![ODM_FILE.to_owned()]].concat()
    );
    assert_eq!(
        names(Format::Identification),
        [trial::export::IDENTIFICATION_LOG_FILE]
    );
    // The zip's tables are the seeded trial's: every participant, every event.
    let (_, csv_entries) = &downloaded[0];
    let audit_trail = &csv_entries
        .iter()
        .find(|(name, _)| name == "audit_trail.csv")
        .unwrap()
        .1;
    let mut reader = csv::Reader::from_reader(audit_trail.as_slice());
    let column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|name| name == "event_id")
        .unwrap();
    let events: BTreeSet<String> = reader
        .records()
        .map(|row| row.unwrap()[column].to_owned())
        .collect();
    assert_eq!(events.len(), seeded.events);

    // Each download is in the `exports` table under the account's name, beside
    // the command line's, and listed newest first.
    let console_made: Vec<(Format, String, u64)> = app
        .store
        .exports(&app.site.code)
        .await
        .unwrap()
        .into_iter()
        .filter(|record| record.requested_by != trial::console::COMMAND_LINE)
        .map(|record| (record.format, record.requested_by, record.participants))
        .collect();
    let forty = PARTICIPANTS as u64;
    assert_eq!(
        console_made,
        [
            (Format::Csv, "Chen Jie".to_owned(), forty),
            (Format::Odm, "Chen Jie".to_owned(), forty),
            (Format::All, "Chen Jie".to_owned(), forty),
            (Format::Identification, "Li Na".to_owned(), forty),
            (Format::Odm, "Chen Jie".to_owned(), forty),
        ]
    );
    let (status, _, body) = super::console::console_request(
        &app,
        Method::GET,
        "/api/console/exports",
        Some(&statistician),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let listed: ExportsResponse = from_json(&body);
    let sites: Vec<(&str, &str)> = listed
        .sites
        .iter()
        .map(|site| (site.code.as_str(), site.name.as_str()))
        .collect();
    assert_eq!(sites, [("BJ", "Beijing Anzhen Hospital")]);
    assert_eq!(
        listed.exports.len(),
        9,
        "five downloads, four command-line exports"
    );
    assert!(
        listed
            .exports
            .windows(2)
            .all(|pair| (pair[0].started_at_ms, pair[0].id) >= (pair[1].started_at_ms, pair[1].id)),
        "newest first"
    );

    // And each is in the console's audit trail: who, what, how much, no value.
    let (status, _, body) = super::console::console_request(
        &app,
        Method::GET,
        "/api/console/audit",
        Some(&coordinator),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let audit: AuditResponse = from_json(&body);
    let downloads: Vec<(Option<String>, String)> = audit
        .entries
        .into_iter()
        .filter(|entry| entry.event == ConsoleEvent::ExportDownloaded)
        .map(|entry| (entry.account, entry.detail))
        .collect();
    // Newest first, one per download, each naming its export's id.
    let expected: Vec<(Option<String>, String)> = app
        .store
        .exports(&app.site.code)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .filter(|record| record.requested_by != trial::console::COMMAND_LINE)
        .map(|record| {
            let detail = format!(
                "{} export of site BJ: 40 participant(s), {} event(s), export {}",
                record.format, seeded.events, record.id
            );
            (Some(record.requested_by), detail)
        })
        .collect();
    assert_eq!(downloads.len(), 5);
    assert_eq!(downloads, expected);
}

async fn only_the_roles_that_may_export_download_and_bad_queries_are_named(app: TestApp) {
    use trial::console::ConsoleRole;
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    let events = tablet.screen(participant);
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
    let investigator = super::console::account(&app, ConsoleRole::Investigator, "Wu Lei").await;
    let statistician = super::console::account(&app, ConsoleRole::Statistician, "Chen Jie").await;
    let before = app.all_row_counts().await;
    for format in Format::ALL {
        let query = format!("site=BJ&format={format}");
        let (status, _, body) = download(&app, Some(&investigator), &query).await;
        let error = error_body(status, &body, StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert!(error.message.contains("investigator"), "{error:?}");
        let (status, _, body) = download(&app, None, &query).await;
        error_body(
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
        );
    }
    // The identification log names patients: not the statistician's.
    let (status, _, body) =
        download(&app, Some(&statistician), "site=BJ&format=identification").await;
    let error = error_body(status, &body, StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    assert!(error.message.contains("statistician"), "{error:?}");
    let (status, _, body) = super::console::console_request(
        &app,
        Method::GET,
        "/api/console/exports",
        Some(&investigator),
        None,
    )
    .await;
    error_body(status, &body, StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    for (query, expected, says) in [
        (
            "site=BJ&format=xls",
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown variant `xls`",
        ),
        (
            "site=BJ",
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing field `format`",
        ),
        (
            "format=csv",
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing field `site`",
        ),
        (
            "site=BJ&format=csv&as=xlsx",
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field `as`",
        ),
        (
            "site=SH&format=csv",
            StatusCode::NOT_FOUND,
            "there is no site \"SH\"",
        ),
    ] {
        let (status, _, body) = download(&app, Some(&statistician), query).await;
        assert_eq!(
            status,
            expected,
            "{query}: {}",
            String::from_utf8_lossy(&body)
        );
        let error: ApiErrorBody = from_json(&body);
        let text = format!("{} {:?}", error.message, error.problems);
        assert!(text.contains(says), "{query}: {text}");
    }
    assert_eq!(
        app.all_row_counts().await,
        before,
        "nothing written, nothing recorded"
    );
    assert_eq!(app.store.exports(&app.site.code).await.unwrap(), []);
}
