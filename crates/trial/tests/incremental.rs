//! The state kept event by event is the state of the whole log: for random logs
//! of several participants and tablets, recorded with clocks that disagree and
//! received in any order, applying one event at a time (folding a participant
//! again when an event belongs before those folded) and storing the state as
//! text after every step gives exactly what `project` gives for the whole log, in
//! the server's way (the order of arrival decides the screening tablet and the
//! randomisation that stands) and in the tablet's (the order of recording does).
//! The summary a tablet keeps for its home list says what the state says.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;
use trial::crf::baseline::{BaselineForm, ShockCause};
use trial::crf::cytokine::{CytokineSampleForm, TimePoint};
use trial::crf::end::{
    EndOfParticipation, EndStatus, NotEnrolled, NotEnrolledReason, Withdrawal, WithdrawnBy,
};
use trial::crf::hemoperfusion::{Cartridge, CircuitPosition, HemoperfusionSessionForm, StopReason};
use trial::crf::vasoactive::VasoactiveEntries;
use trial::crf::{Entry, Form, FormRef};
use trial::event::{ChainHead, Event, EventDraft, EventKind};
use trial::field::Field;
use trial::payload::{FormSaved, Payload, Randomised, SCHEMA_VERSION, StudyNumber, ValueCorrected};
use trial::projection::{OutOfOrder, Participant, Summary, project};
use trial::randomisation::{Arm, LeaseId};
use trial::screening::ScreeningForm;
use trial::time::{Calendar, MS_PER_HOUR, Moment};
use uuid::Uuid;

const BEIJING: i16 = 480;
/// 2026-03-01 08:00 in Beijing: every participant's ECMO starts here.
const ECMO: i64 = 1_772_323_200_000;
const HOUR: i64 = MS_PER_HOUR;
const TABLETS: [Uuid; 2] = [Uuid::from_u128(0xd1), Uuid::from_u128(0xd2)];
const NURSE: Uuid = Uuid::from_u128(0xb01);
const SESSION: Uuid = Uuid::from_u128(0x5e55);

fn at(offset_from_ecmo_ms: i64) -> Moment {
    Moment::new(ECMO + offset_from_ecmo_ms, BEIJING).unwrap()
}

fn value<T>(value: T) -> Option<Entry<T>> {
    Some(Entry::Value(value))
}

/// What one generated event does; each is recorded on a tablet at an hour after
/// ECMO start, about one of the participants.
#[derive(Clone, Debug)]
enum Act {
    /// A screening, eligible or (with a BMI over 40) not.
    Screen {
        eligible: bool,
    },
    Consent,
    Randomise {
        arm: Arm,
    },
    /// A cytokine sample of the time point (by index) with this IL-6.
    Sample {
        time_point: usize,
        il6: u8,
    },
    /// A correction of the 6 h sample's IL-6, claiming to have seen `seen`.
    Correct {
        seen: u8,
        new: u8,
    },
    Baseline,
    Session,
    Withdraw,
    End,
    NotEnrolled,
    /// A payload no version reads.
    Unreadable,
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        3 => any::<bool>().prop_map(|eligible| Act::Screen { eligible }),
        2 => Just(Act::Consent),
        2 => prop_oneof![Just(Arm::Hemoperfusion), Just(Arm::StandardCare)]
            .prop_map(|arm| Act::Randomise { arm }),
        3 => (0..3usize, 0..3u8).prop_map(|(time_point, il6)| Act::Sample { time_point, il6 }),
        3 => (0..3u8, 1..3u8).prop_map(|(seen, step)| Act::Correct { seen, new: (seen + step) % 3 }),
        1 => Just(Act::Baseline),
        1 => Just(Act::Session),
        1 => Just(Act::Withdraw),
        1 => Just(Act::End),
        1 => Just(Act::NotEnrolled),
        1 => Just(Act::Unreadable),
    ]
}

/// One generated event: a participant (of three), a tablet, an hour after ECMO
/// start (clocks disagree, so hours are in any order) and an act.
type Generated = (usize, usize, i64, Act);

/// A log of generated events, then the order they are received in.
fn arb_log() -> impl Strategy<Value = (Vec<Generated>, Vec<usize>)> {
    proptest::collection::vec((0..3usize, 0..2usize, 1..40i64, act()), 1..40).prop_flat_map(
        |acts| {
            let n = acts.len();
            (Just(acts), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        },
    )
}

fn participant_id(index: usize) -> Uuid {
    Uuid::from_u128(0xaa00 + index as u128)
}

fn screening_form(eligible: bool) -> ScreeningForm {
    let mut form = testkit::eligible_screening(at(2 * HOUR), at(0));
    if !eligible {
        form.weight_kg = Some(130.0);
    }
    form
}

fn il6_of(n: u8) -> serde_json::Value {
    json!({ "value": 100.0 * f64::from(n + 1) })
}

const H6: FormRef = FormRef::CytokineSample {
    time_point: TimePoint::H6,
};

/// The payload of `act`, recorded `hour` hours after ECMO start (as kind and
/// JSON text, since an unreadable one has no typed body).
fn payload(act: &Act, hour: i64, tablet: usize) -> (EventKind, String) {
    let typed = match act {
        Act::Screen { eligible } => {
            testkit::screening_recorded(format!("T{}-0001", tablet + 1), screening_form(*eligible))
        }
        Act::Consent => testkit::consent(at(HOUR)),
        Act::Randomise { arm } => Payload::Randomised(Randomised {
            lease_id: LeaseId::new(Uuid::from_u128(0x1ea5e)),
            slot: 0,
            arm: *arm,
            study_number: StudyNumber::new("BJ", "T1", 1).unwrap(),
            randomised_at: at(hour * HOUR),
        }),
        Act::Sample { time_point, il6 } => {
            let time_point = TimePoint::ALL[*time_point];
            Payload::FormSaved(FormSaved {
                form: Form::CytokineSample(CytokineSampleForm {
                    time_point,
                    sampled_at: value(at(HOUR / 2 + time_point.hours() * HOUR)),
                    il6_pg_per_ml: value(100.0 * f64::from(il6 + 1)),
                    il8_pg_per_ml: None,
                    il10_pg_per_ml: None,
                    tnf_alpha_pg_per_ml: None,
                }),
                confirmed: vec![],
            })
        }
        Act::Correct { seen, new } => Payload::ValueCorrected(ValueCorrected {
            form: H6,
            field: Field::Il6PgPerMl,
            old: il6_of(*seen),
            new: il6_of(*new),
            reason: "re-read".to_owned(),
            confirms: None,
        }),
        Act::Baseline => Payload::FormSaved(FormSaved {
            form: Form::Baseline(BaselineForm {
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
            }),
            confirmed: vec![],
        }),
        Act::Session => Payload::FormSaved(FormSaved {
            form: Form::HemoperfusionSession(HemoperfusionSessionForm {
                session_id: SESSION,
                cartridge: value(Cartridge::Ha330),
                cartridge_lot: value("HA330-2601-118".to_owned()),
                session_started_at: value(at(HOUR)),
                session_stopped_at: value(at(HOUR + HOUR / 2)),
                hp_blood_flow_ml_per_min: value(180.0),
                circuit_position: value(CircuitPosition::EcmoCircuit),
                anticoagulation: value("heparin".to_owned()),
                session_stop_reason: value(StopReason::Completed),
            }),
            confirmed: vec![],
        }),
        Act::Withdraw => Payload::Withdrawn(Withdrawal {
            by: WithdrawnBy::Participant,
            reason: "moved away".to_owned(),
        }),
        Act::End => Payload::EndOfParticipation(EndOfParticipation {
            status: EndStatus::Completed,
        }),
        Act::NotEnrolled => Payload::NotEnrolled(NotEnrolled {
            reason: NotEnrolledReason::MissedWindow,
            details: String::new(),
        }),
        Act::Unreadable => {
            return (EventKind::Randomised, r#"{"slot":0}"#.to_owned());
        }
    };
    (typed.kind(), typed.to_json())
}

/// The events of `acts`, each tablet's in one hash chain, in the order generated.
fn events_of(acts: &[Generated]) -> Vec<Event> {
    let mut heads: BTreeMap<usize, ChainHead> = BTreeMap::new();
    acts.iter()
        .enumerate()
        .map(|(index, (participant, tablet, hour, act))| {
            let (kind, payload) = payload(act, *hour, *tablet);
            heads
                .entry(*tablet)
                .or_insert_with(|| ChainHead::genesis(TABLETS[*tablet]))
                .append(EventDraft {
                    id: Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 + index as u128),
                    participant_id: participant_id(*participant),
                    user_id: NURSE,
                    recorded_at: at(hour * HOUR),
                    kind,
                    payload,
                    app_version: "0.1.0".to_owned(),
                    schema_version: SCHEMA_VERSION,
                })
                .unwrap()
        })
        .collect()
}

/// How a holder takes an event it cannot fold on top.
#[derive(Clone, Copy)]
enum Holder {
    /// The server's way: fold the participant again, keeping the order of
    /// arrival's decisions.
    Arrival,
    /// The tablet's way: the order of recording is the order of receipt.
    Recorded,
}

/// Applies `arrived` one event at a time as `holder` does, each participant's
/// state stored as text and read back after every step, and checks the states
/// against the whole log's projection after every step.
fn check_event_by_event(arrived: &[Event], holder: Holder) -> Result<(), TestCaseError> {
    let calendar = Calendar::Device;
    let mut states: BTreeMap<Uuid, String> = BTreeMap::new();
    let mut held: BTreeMap<Uuid, Vec<Event>> = BTreeMap::new();
    for (count, event) in arrived.iter().enumerate() {
        let id = event.participant_id();
        let events = held.entry(id).or_default();
        events.push(event.clone());
        let mut state = match states.get(&id) {
            Some(stored) => Participant::from_stored(stored, &calendar).unwrap(),
            None => Participant::new(id, calendar.clone()),
        };
        if let Err(OutOfOrder) = state.apply(event) {
            match holder {
                Holder::Arrival => state.refold(events),
                Holder::Recorded => {
                    state = Participant::fold_in_recorded_order(id, events, &calendar);
                }
            }
        }
        // What is stored reads back as exactly the state it was written from
        // (the tablet keeps the last state written instead of reading it again).
        let stored = state.to_stored();
        prop_assert_eq!(
            &Participant::from_stored(&stored, &calendar).unwrap(),
            &state
        );
        states.insert(id, stored);

        let so_far = &arrived[..=count];
        let whole = match holder {
            Holder::Arrival => project(so_far, &calendar),
            Holder::Recorded => {
                let mut recorded = so_far.to_vec();
                recorded.sort_by_key(|event| (event.recorded_at(), event.id()));
                project(&recorded, &calendar)
            }
        };
        prop_assert_eq!(whole.len(), states.len());
        for expected in &whole {
            let kept = Participant::from_stored(&states[&expected.id()], &calendar).unwrap();
            prop_assert_eq!(&kept, expected);
            check_summary(&kept)?;
        }
    }
    Ok(())
}

/// The summary, stored and read back, answers as the state does.
fn check_summary(participant: &Participant) -> Result<(), TestCaseError> {
    let summary = participant.summary();
    let kept = Summary::from_stored(&summary.to_stored(), &Calendar::Device).unwrap();
    prop_assert_eq!(&kept, &summary);
    for hour in [3, 10, 30, 100] {
        let now = at(hour * HOUR);
        prop_assert_eq!(kept.status(now), participant.status(now));
        prop_assert_eq!(kept.samples_to_take(now), participant.samples_to_take(now));
    }
    prop_assert_eq!(kept.ecmo_started_at(), participant.ecmo_started_at());
    prop_assert_eq!(kept.first_event(), participant.first_event());
    Ok(())
}

proptest! {
    // Each case checks the whole projection after every event: fewer cases than
    // the default keep the suite quick, and each covers forty events.
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// The server's way: the order of arrival decides what it decides.
    #[test]
    fn applying_events_one_at_a_time_gives_the_projection_of_the_log(
        (acts, arrival) in arb_log()
    ) {
        let events = events_of(&acts);
        let arrived: Vec<Event> = arrival.iter().map(|index| events[*index].clone()).collect();
        check_event_by_event(&arrived, Holder::Arrival)?;
    }

    /// The tablet's way: whatever order events arrive in, the state is the
    /// projection of the log in recorded order (`state::participants_of`).
    #[test]
    fn a_tablet_applying_events_one_at_a_time_gives_the_projection_in_recorded_order(
        (acts, arrival) in arb_log()
    ) {
        let events = events_of(&acts);
        let arrived: Vec<Event> = arrival.iter().map(|index| events[*index].clone()).collect();
        check_event_by_event(&arrived, Holder::Recorded)?;
    }

    /// An event received again (a pull answered twice) changes nothing: it never
    /// folds on top, and folding again with the events held gives the same state.
    #[test]
    fn an_event_received_again_changes_nothing((acts, arrival) in arb_log(), pick in any::<prop::sample::Index>()) {
        let events = events_of(&acts);
        let arrived: Vec<Event> = arrival.iter().map(|index| events[*index].clone()).collect();
        let again = pick.get(&arrived).clone();
        let id = again.participant_id();
        let held: Vec<Event> = arrived.iter().filter(|event| event.participant_id() == id).cloned().collect();
        let mut state = Participant::fold(id, &held, &Calendar::Device);
        let before = state.clone();
        prop_assert_eq!(state.apply(&again), Err(OutOfOrder));
        state.refold(&held);
        prop_assert_eq!(state, before);
    }
}

#[test]
fn a_stored_state_of_another_shape_is_refused() {
    assert!(matches!(
        Participant::from_stored("{\"id\": 1}", &Calendar::Device),
        Err(trial::projection::StoredError::Malformed(_))
    ));
}
