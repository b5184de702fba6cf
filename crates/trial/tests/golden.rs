//! Records readable for the life of the trial: a log of version-1 events, made by
//! the version-1 build and committed (`golden/log-v1.json`), must parse and
//! project to the same state in every later build (`golden/state-v1.json`). It
//! holds every event kind, two tablets, corrections, a blind edit that opens a
//! conflict and the correction that resolves it, a not-enrolled patient and a
//! withdrawal.
//!
//! The files are written from the builders below only when `HP_ECMO_WRITE_GOLDEN`
//! is set, which a build of a later schema version must never do for version 1:
//! those events are in the field and their meaning is fixed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};
use trial::crf::consent::{ConsentForm, ConsentGivenBy};
use trial::crf::cytokine::TimePoint;
use trial::crf::daily::StudyDay;
use trial::crf::end::{
    EndOfParticipation, EndStatus, NotEnrolled, NotEnrolledReason, Withdrawal, WithdrawnBy,
};
use trial::crf::{Form, FormRef};
use trial::event::{ChainHead, Event, EventDraft, verify_chain};
use trial::field::Field;
use trial::payload::{
    FormSaved, Payload, Randomised, SCHEMA_VERSION, ScreeningRecorded, StudyNumber, ValueCorrected,
};
use trial::projection::{Participant, project};
use trial::randomisation::{Arm, LeaseId};
use trial::screening::{Answer, EcmoMode, ScreeningForm};
use trial::time::{Calendar, MS_PER_HOUR, Moment};
use uuid::Uuid;

/// 2026-03-01 08:00 in Beijing: ECMO starts for the first patient.
const ECMO: i64 = 1_772_323_200_000;
const BEIJING: i16 = 480;
const TABLET_1: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_00d1_0000_0001);
const TABLET_2: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_00d2_0000_0002);
const NURSE: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0b01_0000_0001);
const DOCTOR: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0b02_0000_0002);
const RANDOMISED: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_00aa_0000_0001);
const NOT_ENROLLED: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_00aa_0000_0002);
const WITHDRAWN: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_00aa_0000_0003);
const SESSION: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_5e55_0000_0001);
const ADVERSE_EVENT: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_00ae_0000_0001);
/// The moment the state is taken at: day 30, follow-up over.
const THEN: i64 = ECMO + 30 * 24 * MS_PER_HOUR;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

#[test]
fn the_version_1_log_projects_to_the_same_state() {
    if std::env::var_os("HP_ECMO_WRITE_GOLDEN").is_some() {
        assert_eq!(
            SCHEMA_VERSION, 1,
            "the version-1 log is written by version 1 only"
        );
        write(
            &golden("log-v1.json"),
            &serde_json::to_value(version_1_log()).unwrap(),
        );
        let state = state(&project(&version_1_log(), &Calendar::Device));
        write(&golden("state-v1.json"), &state);
    }
    let text = std::fs::read_to_string(golden("log-v1.json")).unwrap();
    let log: Vec<Event> = serde_json::from_str(&text).unwrap();
    assert!(log.iter().all(|event| event.schema_version() == 1));
    for device in [TABLET_1, TABLET_2] {
        let chain: Vec<Event> = log
            .iter()
            .filter(|event| event.device_id() == device)
            .cloned()
            .collect();
        verify_chain(&chain).unwrap();
    }
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(golden("state-v1.json")).unwrap()).unwrap();
    assert_eq!(state(&project(&log, &Calendar::Device)), expected);
}

#[test]
fn the_golden_log_holds_what_it_says() {
    let text = std::fs::read_to_string(golden("log-v1.json")).unwrap();
    let log: Vec<Event> = serde_json::from_str(&text).unwrap();
    let kinds: std::collections::BTreeSet<&str> =
        log.iter().map(|event| event.kind().as_str()).collect();
    // Every kind version 1 knew: the casebook's signatures and unlocks, the
    // kinds after `NotEnrolled`, came later.
    let version_1_kinds = trial::event::EventKind::ALL
        .iter()
        .position(|&kind| kind == trial::event::EventKind::CasebookSigned)
        .unwrap();
    assert_eq!(kinds.len(), version_1_kinds, "every kind of version 1");
    let participants = project(&log, &Calendar::Device);
    let randomised = participants
        .iter()
        .find(|participant| participant.id() == RANDOMISED)
        .unwrap();
    assert_eq!(randomised.conflicts().len(), 1, "one blind edit");
    assert_eq!(randomised.open_conflicts().count(), 0, "resolved");
    let mut kinds: Vec<_> = randomised
        .forms()
        .map(|record| record.form().kind())
        .collect();
    kinds.dedup();
    assert_eq!(kinds.len(), 6, "every kind of follow-up form: {kinds:?}");
}

fn write(path: &PathBuf, value: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

/// What the log means, as the coordinator and the statistician would read it:
/// each participant's status, allocation, screening, consents, every form
/// instance's values and history, the conflicts and their resolution, and the
/// anomalies.
fn state(participants: &[Participant]) -> Value {
    let then = Moment::new(THEN, BEIJING).unwrap();
    let participants: Vec<Value> = participants
        .iter()
        .map(|participant| {
            let forms: BTreeMap<String, Value> = participant
                .forms()
                .map(|record| {
                    let form = record.form();
                    // What the form shows, as entered: an old form in its units.
                    let values: BTreeMap<&str, Value> = form
                        .shown_fields()
                        .into_iter()
                        .filter_map(|field| Some((field.key(), form.value(field)?)))
                        .collect();
                    let history: Vec<Value> = record
                        .history()
                        .iter()
                        .map(|change| {
                            json!({
                                "field": change.field.key(),
                                "event": change.by.event_id,
                                "old": change.old,
                                "new": change.new,
                                "reason": change.reason,
                            })
                        })
                        .collect();
                    let key = serde_json::to_string(&form.form_ref()).unwrap();
                    (key, json!({ "values": values, "history": history }))
                })
                .collect();
            let conflicts: Vec<Value> = participant
                .conflicts()
                .iter()
                .map(|conflict| {
                    json!({
                        "subject": conflict.subject.to_string(),
                        "field": conflict.field.key(),
                        "shown": conflict.shown.event_id,
                        "overridden": conflict.overridden.event_id,
                        "resolved_by": participant.resolution(
                            conflict.subject,
                            conflict.field,
                            conflict.shown.event_id,
                        ),
                    })
                })
                .collect();
            let anomalies: Vec<String> = participant
                .anomalies()
                .iter()
                .map(|anomaly| format!("{anomaly:?}"))
                .collect();
            json!({
                "id": participant.id(),
                "status": format!("{:?}", participant.status(then)),
                "screening_number": participant.screening_number(),
                "screened_on": participant.screened_on(),
                "screening": participant.screening().map(|screening| {
                    serde_json::to_value(screening.value.form()).unwrap()
                }),
                "consents": participant.consents().len(),
                "randomisation": participant.randomisation().map(|randomised| {
                    serde_json::to_value(&randomised.value).unwrap()
                }),
                "il6_changes": participant.il6_changes().iter().map(|(time_point, change)| {
                    json!({ "time_point": time_point.hours(), "change": format!("{change:?}") })
                }).collect::<Vec<_>>(),
                "forms": forms,
                "withdrawal": participant.withdrawal().map(|record| {
                    serde_json::to_value(&record.value).unwrap()
                }),
                "end": participant.end().map(|record| serde_json::to_value(record.value).unwrap()),
                "not_enrolled": participant.not_enrolled().map(|record| {
                    serde_json::to_value(&record.value).unwrap()
                }),
                "conflicts": conflicts,
                "anomalies": anomalies,
            })
        })
        .collect();
    Value::Array(participants)
}

fn at(hours: i64, minutes: i64) -> Moment {
    Moment::new(ECMO + hours * MS_PER_HOUR + minutes * 60_000, BEIJING).unwrap()
}

fn moment_json(moment: Moment) -> Value {
    json!({ "value": { "utc_ms": moment.utc_ms(), "offset_minutes": moment.offset_minutes() } })
}

fn value(value: impl Into<Value>) -> Value {
    json!({ "value": value.into() })
}

/// The two tablets' chains, one event after another.
struct Recorder {
    heads: BTreeMap<Uuid, ChainHead>,
    events: Vec<Event>,
}

impl Recorder {
    fn record(&mut self, device: Uuid, participant: Uuid, recorded_at: Moment, payload: Payload) {
        let user = if device == TABLET_1 { NURSE } else { DOCTOR };
        let head = self
            .heads
            .entry(device)
            .or_insert_with(|| ChainHead::genesis(device));
        let n = self.events.len() as u128;
        let event = head
            .append(EventDraft {
                id: Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 + n),
                participant_id: participant,
                user_id: user,
                recorded_at,
                kind: payload.kind(),
                payload: payload.to_json(),
                app_version: "0.1.0".to_owned(),
                schema_version: 1,
            })
            .unwrap();
        self.events.push(event);
    }

    fn save(&mut self, device: Uuid, participant: Uuid, recorded_at: Moment, form: Form) {
        let body = FormSaved {
            form,
            confirmed: Vec::new(),
        };
        self.record(device, participant, recorded_at, Payload::FormSaved(body));
    }
}

/// Spelled out answer by answer, not built from `testkit`'s eligible patient: this
/// is what wrote the committed version-1 log, and a change to the shared builder for
/// later tests must not change what this one says it wrote.
fn screening(screened_at: Moment, ecmo_started_at: Moment, number: &str) -> ScreeningRecorded {
    let mut form = ScreeningForm::blank(screened_at);
    form.date_of_birth = Some(jiff::civil::date(1968, 4, 2));
    form.sex = Some(trial::screening::Sex::Male);
    form.height_cm = Some(172.0);
    form.weight_kg = Some(74.5);
    form.admitted_to_icu = Answer::Yes;
    form.icu_admitted_at = Some(ecmo_started_at);
    form.sbp_below90_for30_min = Answer::Yes;
    form.map_below65_for30_min = Answer::No;
    form.vasopressors_to_keep_sbp90 = Answer::Yes;
    form.pulmonary_congestion = Answer::Yes;
    form.elevated_lv_filling_pressure = Answer::Unknown;
    form.altered_mental_status = Answer::Yes;
    form.cold_clammy_skin = Answer::Yes;
    form.oliguria = Answer::No;
    form.lactate_mmol_per_l = Some(5.2);
    form.ecmo_mode = Some(EcmoMode::Va);
    form.ecmo_cardiopulmonary_support = Answer::Yes;
    form.ecmo_started_at = Some(ecmo_started_at);
    form.consent_refused = Answer::No;
    form.active_haemorrhage = Answer::No;
    form.thrombocytopenic_purpura = Answer::No;
    form.bridge_to_vad_or_transplant = Answer::No;
    form.infection = Answer::No;
    ScreeningRecorded {
        screening_number: number.to_owned(),
        form,
    }
}

fn consent(at: Moment, given_by: ConsentGivenBy) -> Payload {
    Payload::ConsentRecorded(ConsentForm {
        given_by,
        consented_at: at,
        form_version: "2.1".to_owned(),
    })
}

fn sample(time_point: TimePoint, sampled_at: Moment, il6: f64) -> Form {
    FormRef::CytokineSample { time_point }
        .form_with([
            (Field::SampledAt, moment_json(sampled_at)),
            (Field::Il6PgPerMl, value(il6)),
            (Field::Il10PgPerMl, value(35.0)),
        ])
        .unwrap()
}

/// The log the version-1 build made (see the module doc).
fn version_1_log() -> Vec<Event> {
    let mut log = Recorder {
        heads: BTreeMap::new(),
        events: Vec::new(),
    };
    let doses = [
        (Field::DopamineUgPerKgMin, value(5.0)),
        (Field::DobutamineUgPerKgMin, value(2.5)),
        (Field::AdrenalineUgPerKgMin, value(0.0)),
        (Field::NoradrenalineUgPerKgMin, value(0.12)),
        (Field::MilrinoneUgPerKgMin, value(0.0)),
        (Field::VasopressinUPerKgMin, value(0.0)),
    ];

    // Randomised on tablet 1, followed up on both.
    let t0 = at(4, 0);
    let first = screening(at(2, 0), at(0, 0), "T1-0001");
    log.record(
        TABLET_1,
        RANDOMISED,
        at(2, 0),
        Payload::ScreeningRecorded(first),
    );
    log.record(
        TABLET_1,
        RANDOMISED,
        at(3, 0),
        consent(at(3, 0), ConsentGivenBy::LegallyAuthorisedRepresentative),
    );
    log.record(
        TABLET_1,
        RANDOMISED,
        t0,
        Payload::Randomised(Randomised {
            lease_id: LeaseId::new(Uuid::from_u128(0x0192_0000_0000_7000_8000_1ea5_0000_0001)),
            slot: 0,
            arm: Arm::Hemoperfusion,
            study_number: StudyNumber::new("BJ", "T1", 1).unwrap(),
            randomised_at: t0,
        }),
    );
    let baseline = FormRef::Baseline
        .form_with(
            [
                (Field::ShockCause, value("acute_myocardial_infarction")),
                (Field::CardiacArrest, value(true)),
                (Field::Ecpr, value(false)),
                (Field::SofaScore, value(12)),
                (Field::ApacheIiScore, value(24)),
                (Field::SaveScore, value(-4)),
                (Field::MeanArterialPressureMmhg, value(62.0)),
                (Field::HeartRatePerMin, value(118.0)),
                (Field::LactateMmolPerL, value(5.2)),
                (Field::EcmoFlowLPerMin, value(3.8)),
                (Field::SweepGasLPerMin, value(3.0)),
                (Field::PlateletsE9PerL, value(142.0)),
                (Field::HaemoglobinGPerL, value(104.0)),
                (Field::CreatinineUmolPerL, value(131.0)),
                (
                    Field::BilirubinUmolPerL,
                    json!({ "not_done": { "reason": "sample haemolysed" } }),
                ),
            ]
            .into_iter()
            .chain(doses.clone()),
        )
        .unwrap();
    log.save(TABLET_1, RANDOMISED, at(4, 20), baseline);
    log.save(
        TABLET_1,
        RANDOMISED,
        at(4, 30),
        sample(TimePoint::H0, t0, 850.0),
    );
    // Tablet 2 saves the same sample without having seen tablet 1's: blind.
    log.save(
        TABLET_2,
        RANDOMISED,
        at(4, 40),
        sample(TimePoint::H0, t0, 900.0),
    );
    // Tablet 1 corrects it, having seen 900: the conflict is resolved.
    log.record(
        TABLET_1,
        RANDOMISED,
        at(5, 0),
        Payload::ValueCorrected(ValueCorrected {
            form: FormRef::CytokineSample {
                time_point: TimePoint::H0,
            },
            field: Field::Il6PgPerMl,
            old: value(900.0),
            new: value(880.0),
            reason: "re-read the lab report".to_owned(),
            confirms: None,
        }),
    );
    log.save(
        TABLET_1,
        RANDOMISED,
        at(10, 5),
        sample(TimePoint::H6, at(10, 0), 610.0),
    );
    let session = FormRef::HemoperfusionSession {
        session_id: SESSION,
    }
    .form_with([
        (Field::Cartridge, value("ha330")),
        (Field::CartridgeLot, value("HA330-2601-118")),
        (Field::SessionStartedAt, moment_json(at(4, 15))),
        (Field::SessionStoppedAt, moment_json(at(8, 15))),
        (Field::HpBloodFlowMlPerMin, value(180.0)),
        (Field::CircuitPosition, value("ecmo_circuit")),
        (Field::Anticoagulation, value("unfractionated heparin")),
        (Field::SessionStopReason, value("completed")),
    ])
    .unwrap();
    log.save(TABLET_1, RANDOMISED, at(8, 30), session);
    let daily = FormRef::DailyAssessment {
        study_day: StudyDay::new(1).unwrap(),
    }
    .form_with(
        [
            (Field::LactateMmolPerL, value(3.1)),
            (Field::SofaScore, value(11)),
            (Field::EcmoFlowLPerMin, value(3.5)),
            (Field::PlateletsE9PerL, value(118.0)),
            (Field::HaemoglobinGPerL, value(98.0)),
            (Field::RbcUnits, value(2)),
            (Field::PlateletUnits, value(0)),
            (Field::PlasmaUnits, value(0)),
            (Field::BleedingEvent, value(false)),
            (Field::RenalReplacementTherapy, value(true)),
        ]
        .into_iter()
        .chain(doses),
    )
    .unwrap();
    log.save(TABLET_2, RANDOMISED, at(30, 0), daily);
    let adverse_event = FormRef::AdverseEvent {
        adverse_event_id: ADVERSE_EVENT,
    }
    .form_with([
        (Field::AeTerm, value("cannula site bleeding")),
        (Field::AeOnsetAt, moment_json(at(20, 0))),
        (Field::AeSeverity, value("moderate")),
        (Field::AeSerious, value(false)),
        (Field::AeRelatedness, value("unlikely")),
        (Field::AeAction, value("local pressure, dressing changed")),
        (Field::AeOutcome, value("recovered")),
    ])
    .unwrap();
    log.save(TABLET_1, RANDOMISED, at(21, 0), adverse_event);
    let outcomes = FormRef::Outcomes
        .form_with([
            (Field::EcmoWeaned, value(true)),
            (Field::EcmoWeanedAt, moment_json(at(5 * 24, 0))),
            (Field::Died, value(false)),
            (Field::Day28Status, value("alive_discharged")),
            (Field::IcuDischargedOn, value("2026-03-12")),
            (Field::HospitalDischargedOn, value("2026-03-20")),
            (Field::RrtDays, value(3)),
            (Field::BridgedToVadOrTransplant, value(false)),
        ])
        .unwrap();
    log.save(TABLET_1, RANDOMISED, at(28 * 24, 0), outcomes);
    log.record(
        TABLET_1,
        RANDOMISED,
        at(28 * 24, 5),
        Payload::EndOfParticipation(EndOfParticipation {
            status: EndStatus::Completed,
        }),
    );

    // Screened on tablet 2, found to have an infection, not enrolled.
    let mut infected = screening(at(6, 0), at(5, 0), "T2-0001");
    infected.form.infection = Answer::Yes;
    log.record(
        TABLET_2,
        NOT_ENROLLED,
        at(6, 0),
        Payload::ScreeningRecorded(infected),
    );
    log.record(
        TABLET_2,
        NOT_ENROLLED,
        at(6, 10),
        Payload::NotEnrolled(NotEnrolled {
            reason: NotEnrolledReason::Ineligible,
            details: String::new(),
        }),
    );

    // Randomised on tablet 2 to standard care, then withdrawn by the patient.
    let second = screening(at(9, 0), at(8, 0), "T2-0002");
    log.record(
        TABLET_2,
        WITHDRAWN,
        at(9, 0),
        Payload::ScreeningRecorded(second),
    );
    log.record(
        TABLET_2,
        WITHDRAWN,
        at(9, 30),
        consent(at(9, 30), ConsentGivenBy::Patient),
    );
    log.record(
        TABLET_2,
        WITHDRAWN,
        at(10, 0),
        Payload::Randomised(Randomised {
            lease_id: LeaseId::new(Uuid::from_u128(0x0192_0000_0000_7000_8000_1ea5_0000_0002)),
            slot: 0,
            arm: Arm::StandardCare,
            study_number: StudyNumber::new("BJ", "T2", 1).unwrap(),
            randomised_at: at(10, 0),
        }),
    );
    log.record(
        TABLET_2,
        WITHDRAWN,
        at(50, 0),
        Payload::Withdrawn(Withdrawal {
            by: WithdrawnBy::Participant,
            reason: "does not wish to continue".to_owned(),
        }),
    );
    log.events
}
