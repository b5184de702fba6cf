//! The log `cargo xtask bench` fills a tablet with (`tests/e2e/bench/app.mjs`):
//! participants with their whole follow-up, every event one the server accepts
//! and pulls to other tablets, so a figure is never that of a log a real site
//! could not hold.
//!
//! Reads a JSON request on stdin: the server's time (`now_ms`), the user who
//! records (`user_id`), the site code and the UTC offset, how many participants
//! and events per participant, and the devices to record on, each enrolled with
//! the server and with its first lease opened (`lease_id`, `block_sizes`,
//! `n_slots` and the seed in hex). Writes a JSON array on stdout: per device, its
//! hash chain of events. Each participant is screened, consented and randomised
//! on one device from that device's lease, in slot order (so the server verifies
//! every allocation), then gets a baseline form, the six cytokine samples, four
//! sessions or adverse events, the outcomes at day 28 and corrections up to the
//! count asked. Everything happened between 45 and 2 days before `now_ms`.
//!
//! Before writing, every event is checked as the server checks it
//! (`Payload::of_event`) and every participant's projection must hold no
//! anomaly, so a change in the rules that makes this log invalid fails here, not
//! as a quietly emptier bench.
//!
//! Run: `cargo run --release -p trial --example bench_log < request.json`.

use std::io::Read;

use jiff::civil::date;
use serde::Deserialize;
use serde_json::{Value, json};
use trial::crf::adverse_event::{AdverseEventForm, AeOutcome, Relatedness, Severity};
use trial::crf::baseline::{BaselineForm, ShockCause};
use trial::crf::consent::{ConsentForm, ConsentGivenBy};
use trial::crf::cytokine::{CytokineSampleForm, TimePoint};
use trial::crf::hemoperfusion::{Cartridge, CircuitPosition, HemoperfusionSessionForm, StopReason};
use trial::crf::outcomes::{Day28Status, OutcomesForm};
use trial::crf::vasoactive::VasoactiveEntries;
use trial::crf::{Entry, Form, FormRef};
use trial::event::{ChainHead, Event, EventDraft};
use trial::field::Field;
use trial::payload::{
    FormSaved, Payload, Randomised, SCHEMA_VERSION, ScreeningNumber, ScreeningRecorded,
    StudyNumber, ValueCorrected,
};
use trial::projection::Participant;
use trial::randomisation::{Arm, Lease, LeaseId, RandomisationConfig, Seed, Stratum};
use trial::screening::{ScreeningForm, Sex};
use trial::time::{Calendar, MS_PER_HOUR, Moment};
use uuid::Uuid;

const DAY: i64 = 24 * MS_PER_HOUR;
const MINUTE: i64 = 60_000;

/// What the bench asks for.
#[derive(Deserialize)]
struct Request {
    now_ms: i64,
    user_id: Uuid,
    site: String,
    offset_minutes: i16,
    participants: usize,
    events_per_participant: usize,
    devices: Vec<Device>,
}

/// A device enrolled with the server, and its first lease, opened.
#[derive(Deserialize)]
struct Device {
    device_id: Uuid,
    label: String,
    lease_id: Uuid,
    block_sizes: Vec<u32>,
    n_slots: u32,
    seed: String,
}

fn main() {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .expect("a request on stdin");
    let request: Request = serde_json::from_str(&text).expect("a request of the documented shape");
    let mut writer = Writer::new(&request);
    let mut chains = Vec::new();
    let mut done = 0;
    for device in &request.devices {
        let mut chain = Chain::new(device, &request.site);
        while done < request.participants && chain.slots_left() > 0 {
            writer.participant(&mut chain, done);
            done += 1;
        }
        chains.push(json!({ "device_id": device.device_id, "events": chain.events }));
    }
    assert_eq!(
        done, request.participants,
        "the devices' leases hold too few slots for the participants asked"
    );
    println!("{}", Value::Array(chains));
}

/// One device's chain and lease.
struct Chain {
    head: ChainHead,
    lease: Lease,
    label: String,
    lease_id: LeaseId,
    screened: u32,
    events: Vec<Event>,
}

impl Chain {
    fn new(device: &Device, site: &str) -> Self {
        let mut seed = [0; 32];
        hex::decode_to_slice(&device.seed, &mut seed).expect("a 32-byte seed in hex");
        let config = RandomisationConfig::new(device.block_sizes.clone()).expect("block sizes");
        let lease_id = LeaseId::new(device.lease_id);
        let stratum = Stratum::new(site, device.device_id).expect("a stratum");
        let lease = Lease::resume(
            lease_id,
            stratum,
            Seed::from_bytes(seed),
            config,
            device.n_slots,
            0,
        )
        .expect("the lease as the server issued it");
        Self {
            head: ChainHead::genesis(device.device_id),
            lease,
            label: device.label.clone(),
            lease_id,
            screened: 0,
            events: Vec::new(),
        }
    }

    fn slots_left(&self) -> u32 {
        self.lease.slots_left()
    }
}

/// Makes participants' events.
struct Writer {
    now_ms: i64,
    user_id: Uuid,
    site: String,
    offset_minutes: i16,
    participants: usize,
    per_participant: usize,
    /// Makes ids unique across the whole log.
    counter: u64,
}

impl Writer {
    fn new(request: &Request) -> Self {
        Self {
            now_ms: request.now_ms,
            user_id: request.user_id,
            site: request.site.clone(),
            offset_minutes: request.offset_minutes,
            participants: request.participants,
            per_participant: request.events_per_participant,
            counter: 0,
        }
    }

    /// A UUID v7 of the moment `ms`, unique by a counter.
    fn id(&mut self, ms: i64) -> Uuid {
        self.counter += 1;
        let ms = u128::try_from(ms).expect("a moment after 1970");
        Uuid::from_u128(
            (ms << 80) | (0x7 << 76) | (0b10 << 62) | u128::from(self.counter & 0xffff_ffff),
        )
    }

    fn at(&self, ms: i64) -> Moment {
        Moment::new(ms, self.offset_minutes).expect("a moment in range")
    }

    /// Every event of participant `index`, on `chain`'s device.
    fn participant(&mut self, chain: &mut Chain, index: usize) {
        // ECMO starts are spread over two weeks, 45 to 31 days ago, so every
        // follow-up is over 2 days before now.
        let spread = 14 * DAY / self.participants.max(1) as i64;
        let ecmo = self.now_ms - 45 * DAY + index as i64 * spread;
        let t0 = ecmo + 4 * MS_PER_HOUR;
        let participant_id = self.id(ecmo);
        let first = chain.events.len();
        chain.screened += 1;
        let number =
            ScreeningNumber::new(&chain.label, chain.screened).expect("a screening number");
        let record = |writer: &mut Self, chain: &mut Chain, ms: i64, payload: &Payload| {
            let draft = EventDraft {
                id: writer.id(ms),
                participant_id,
                user_id: writer.user_id,
                recorded_at: writer.at(ms),
                kind: payload.kind(),
                payload: payload.to_json(),
                app_version: "0.1.0".to_owned(),
                schema_version: SCHEMA_VERSION,
            };
            let event = chain.head.append(draft).expect("an event within limits");
            Payload::of_event(&event).expect("an event the server accepts");
            chain.events.push(event);
        };

        record(
            self,
            chain,
            ecmo + 2 * MS_PER_HOUR,
            &Payload::ScreeningRecorded(ScreeningRecorded {
                screening_number: number.as_str().to_owned(),
                form: self.screening(ecmo),
            }),
        );
        record(
            self,
            chain,
            ecmo + 3 * MS_PER_HOUR,
            &Payload::ConsentRecorded(ConsentForm {
                given_by: ConsentGivenBy::LegallyAuthorisedRepresentative,
                consented_at: self.at(ecmo + 3 * MS_PER_HOUR),
                form_version: "2.1".to_owned(),
            }),
        );
        let allocation = chain.lease.allocate().expect("a slot left");
        let arm = allocation.arm();
        record(
            self,
            chain,
            t0,
            &Payload::Randomised(Randomised {
                lease_id: chain.lease_id,
                slot: allocation.slot(),
                arm,
                study_number: StudyNumber::new(&self.site, &chain.label, allocation.slot() + 1)
                    .expect("a study number"),
                randomised_at: self.at(t0),
            }),
        );
        record(
            self,
            chain,
            t0 + MS_PER_HOUR,
            &saved(Form::Baseline(baseline())),
        );
        let mut il6 = [0.0; 6];
        for (slot, time_point) in TimePoint::ALL.into_iter().enumerate() {
            let sampled = t0 + time_point.hours() * MS_PER_HOUR;
            il6[slot] = 80.0 + 10.0 * slot as f64;
            let form = Form::CytokineSample(CytokineSampleForm {
                time_point,
                sampled_at: value(self.at(sampled)),
                il6_pg_per_ml: value(il6[slot]),
                il8_pg_per_ml: value(20.0),
                il10_pg_per_ml: value(12.0),
                tnf_alpha_pg_per_ml: value(9.0),
            });
            record(self, chain, sampled + 30 * MINUTE, &saved(form));
        }
        for k in 0..4 {
            let start = t0 + (k + 1) * 30 * MS_PER_HOUR;
            let id = self.id(start);
            let form = match arm {
                Arm::Hemoperfusion => Form::HemoperfusionSession(HemoperfusionSessionForm {
                    session_id: id,
                    cartridge: value(Cartridge::Ha330),
                    cartridge_lot: value(format!("HA330-2601-{k:03}")),
                    session_started_at: value(self.at(start)),
                    session_stopped_at: value(self.at(start + 4 * MS_PER_HOUR)),
                    hp_blood_flow_ml_per_min: value(180.0),
                    circuit_position: value(CircuitPosition::EcmoCircuit),
                    anticoagulation: value("heparin".to_owned()),
                    session_stop_reason: value(StopReason::Completed),
                }),
                Arm::StandardCare => Form::AdverseEvent(AdverseEventForm {
                    adverse_event_id: id,
                    ae_term: value("bleeding at the cannula site".to_owned()),
                    ae_onset_at: value(self.at(start)),
                    ae_severity: value(Severity::Mild),
                    ae_serious: value(false),
                    ae_relatedness: value(Relatedness::Unlikely),
                    ae_action: value("pressure dressing".to_owned()),
                    ae_outcome: value(AeOutcome::Recovered),
                }),
            };
            record(self, chain, start + 5 * MS_PER_HOUR, &saved(form));
        }
        let day28 = t0 + 28 * DAY;
        record(
            self,
            chain,
            day28,
            &saved(Form::Outcomes(OutcomesForm {
                ecmo_weaned: value(true),
                ecmo_weaned_at: value(self.at(ecmo + 5 * DAY)),
                died: value(false),
                died_at: None,
                day28_status: value(Day28Status::AliveDischarged),
                icu_discharged_on: value(self.at(ecmo + 10 * DAY).local_date()),
                hospital_discharged_on: None,
                rrt_days: value(0),
                bridged_to_vad_or_transplant: value(false),
            })),
        );
        // Corrections of the samples' IL-6, each to a new value, up to the count.
        let mut at = day28 + MS_PER_HOUR;
        let mut turn = 0;
        while chain.events.len() - first < self.per_participant {
            let slot = turn % il6.len();
            let old = il6[slot];
            il6[slot] = old + 1.0;
            let form = FormRef::CytokineSample {
                time_point: TimePoint::ALL[slot],
            };
            record(
                self,
                chain,
                at,
                &Payload::ValueCorrected(ValueCorrected {
                    form,
                    field: Field::Il6PgPerMl,
                    old: json!({ "value": old }),
                    new: json!({ "value": il6[slot] }),
                    reason: "re-read the lab report".to_owned(),
                    confirms: None,
                }),
            );
            at += 10 * MINUTE;
            turn += 1;
        }
        let events = &chain.events[first..];
        let folded = Participant::fold(participant_id, events, &Calendar::Device);
        assert!(
            folded.anomalies().is_empty(),
            "participant {index}: {:?}",
            folded.anomalies()
        );
        assert!(at < self.now_ms, "every event lies before now");
    }

    /// An eligible patient's screening, 2 h into ECMO.
    fn screening(&self, ecmo: i64) -> ScreeningForm {
        let mut form = testkit::eligible_screening(self.at(ecmo + 2 * MS_PER_HOUR), self.at(ecmo));
        form.date_of_birth = Some(date(1968, 3, 9));
        form.patient_initials = Some("ZWL".to_owned());
        form.bed = Some((ecmo.rem_euclid(40) + 1).to_string());
        form.sex = Some(Sex::Female);
        form.height_cm = Some(165.0);
        form.lactate_mmol_per_l = Some(4.2);
        testkit::answer_the_other_signs_no(&mut form);
        form
    }
}

fn value<T>(value: T) -> Option<Entry<T>> {
    Some(Entry::Value(value))
}

fn saved(form: Form) -> Payload {
    Payload::FormSaved(FormSaved {
        form,
        confirmed: vec![],
    })
}

fn baseline() -> BaselineForm {
    BaselineForm {
        shock_cause: value(ShockCause::FulminantMyocarditis),
        cardiac_arrest: value(false),
        ecpr: None,
        sofa_score: value(11),
        apache_ii_score: value(22),
        save_score: value(-3),
        mean_arterial_pressure_mmhg: value(64.0),
        heart_rate_per_min: value(112.0),
        lactate_mmol_per_l: value(4.5),
        ecmo_flow_l_per_min: value(4.0),
        sweep_gas_l_per_min: value(3.0),
        platelets_e9_per_l: value(150.0),
        haemoglobin_g_per_l: value(101.0),
        creatinine_umol_per_l: value(120.0),
        bilirubin_umol_per_l: value(18.0),
        vasoactive: VasoactiveEntries {
            dopamine_ug_per_kg_min: value(5.0),
            dobutamine_ug_per_kg_min: value(5.0),
            adrenaline_ug_per_kg_min: value(0.0),
            noradrenaline_ug_per_kg_min: value(0.1),
            milrinone_ug_per_kg_min: value(0.0),
            vasopressin_u_per_kg_min: value(0.0),
        },
    }
}
