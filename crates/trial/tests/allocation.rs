//! The server's check of a reported randomisation: each way a lease, a slot, an
//! arm or a participant can be wrong, one case at a time, and several at once.

use jiff::civil::date;
use trial::allocation::{AllocationFlag, IssuedLease, verify_randomisation};
use trial::crf::consent::{ConsentForm, ConsentGivenBy};
use trial::eligibility::{Criterion, Outcome};
use trial::event::{ChainHead, Event, EventDraft};
use trial::payload::{Payload, Randomised, SCHEMA_VERSION, ScreeningRecorded, StudyNumber};
use trial::randomisation::{Arm, Lease, LeaseId, RandomisationConfig, Seed, Stratum, arm_at};
use trial::screening::{Answer, EcmoMode, ScreeningForm};
use trial::time::{MS_PER_HOUR, Moment};
use uuid::Uuid;

/// 2026-03-01 08:00 in Beijing: ECMO starts.
const ECMO: i64 = 1_772_323_200_000;
const PARTICIPANT: Uuid = Uuid::from_u128(0xaa);
const TABLET_1: Uuid = Uuid::from_u128(0xd1);
const TABLET_2: Uuid = Uuid::from_u128(0xd2);

fn lease_id() -> LeaseId {
    LeaseId::new(Uuid::from_u128(0x1ea5e))
}

fn at(hours_after_ecmo: i64) -> Moment {
    Moment::new(ECMO + hours_after_ecmo * MS_PER_HOUR, 480).unwrap()
}

/// Tablet 1's lease: the list of seed 7, four blocks.
fn lease() -> Lease {
    Lease::issue(
        lease_id(),
        Stratum::new("BJ", TABLET_1).unwrap(),
        Seed::from_bytes([7; 32]),
        RandomisationConfig::standard(),
        4,
    )
    .unwrap()
}

fn arm_of(slot: u32) -> Arm {
    let lease = lease();
    arm_at(lease.seed(), lease.config(), slot)
}

fn other(arm: Arm) -> Arm {
    match arm {
        Arm::Hemoperfusion => Arm::StandardCare,
        Arm::StandardCare => Arm::Hemoperfusion,
    }
}

/// Eligible from ECMO start until 24 h later; screened 2 h in.
fn screening(ecmo_mode: EcmoMode) -> Payload {
    let mut form = ScreeningForm::blank(at(2));
    form.date_of_birth = Some(date(1970, 6, 15));
    form.height_cm = Some(170.0);
    form.weight_kg = Some(70.0);
    form.admitted_to_icu = Answer::Yes;
    form.sbp_below90_for30_min = Answer::Yes;
    form.pulmonary_congestion = Answer::Yes;
    form.altered_mental_status = Answer::Yes;
    form.lactate_mmol_per_l = Some(4.5);
    form.ecmo_mode = Some(ecmo_mode);
    form.ecmo_cardiopulmonary_support = Answer::Yes;
    form.ecmo_started_at = Some(at(0));
    form.consent_refused = Answer::No;
    form.active_haemorrhage = Answer::No;
    form.thrombocytopenic_purpura = Answer::No;
    form.bridge_to_vad_or_transplant = Answer::No;
    form.infection = Answer::No;
    Payload::ScreeningRecorded(ScreeningRecorded {
        screening_number: "T1-0001".to_owned(),
        form,
    })
}

fn consent() -> Payload {
    Payload::ConsentRecorded(ConsentForm {
        given_by: ConsentGivenBy::LegallyAuthorisedRepresentative,
        consented_at: at(3),
        form_version: "2.1".to_owned(),
    })
}

fn randomised(slot: u32, arm: Arm, hours_after_ecmo: i64) -> Randomised {
    Randomised {
        lease_id: lease_id(),
        slot,
        arm,
        study_number: StudyNumber::new("BJ", "T1", slot + 1).unwrap(),
        randomised_at: at(hours_after_ecmo),
    }
}

/// One event per device chain, each a minute after the last.
struct Log {
    heads: Vec<ChainHead>,
    events: Vec<Event>,
}

impl Log {
    fn new() -> Self {
        Self {
            heads: vec![ChainHead::genesis(TABLET_1), ChainHead::genesis(TABLET_2)],
            events: Vec::new(),
        }
    }

    fn record(&mut self, device: Uuid, hours_after_ecmo: i64, payload: &Payload) -> Event {
        let head = self
            .heads
            .iter_mut()
            .find(|head| head.device_id() == device)
            .unwrap();
        let minute = self.events.len() as i64;
        let event = head
            .append(EventDraft {
                id: Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 + minute as u128),
                participant_id: PARTICIPANT,
                user_id: Uuid::from_u128(1),
                recorded_at: Moment::new(ECMO + hours_after_ecmo * MS_PER_HOUR + minute, 480)
                    .unwrap(),
                kind: payload.kind(),
                payload: payload.to_json(),
                app_version: "0.1.0".to_owned(),
                schema_version: SCHEMA_VERSION,
            })
            .unwrap();
        self.events.push(event.clone());
        event
    }

    /// Screened and consented on tablet 1.
    fn ready() -> Self {
        let mut log = Self::new();
        log.record(TABLET_1, 2, &screening(EcmoMode::Va));
        log.record(TABLET_1, 3, &consent());
        log
    }
}

/// Records the randomisation on `device` after the log, and checks it against
/// `lease` with `used_slots`.
fn check(
    mut log: Log,
    device: Uuid,
    body: Randomised,
    lease: Option<&Lease>,
    used_slots: &[u32],
    expected: Result<(), Vec<AllocationFlag>>,
) {
    let stored = log.events.clone();
    let event = log.record(device, 4, &Payload::Randomised(body.clone()));
    let issued = lease.map(|lease| IssuedLease { lease, used_slots });
    assert_eq!(
        verify_randomisation(&event, &body, issued, &stored),
        expected,
        "{body:?}, used {used_slots:?}"
    );
}

#[test]
fn the_next_slot_with_its_arm_for_an_eligible_consented_participant_stands() {
    let lease = lease();
    check(
        Log::ready(),
        TABLET_1,
        randomised(0, arm_of(0), 4),
        Some(&lease),
        &[],
        Ok(()),
    );
    check(
        Log::ready(),
        TABLET_1,
        randomised(3, arm_of(3), 4),
        Some(&lease),
        &[1, 0, 2],
        Ok(()),
    );
    // The 24-hour window is measured to the tap, not to the push.
    check(
        Log::ready(),
        TABLET_1,
        randomised(0, arm_of(0), 23),
        Some(&lease),
        &[],
        Ok(()),
    );
}

#[test]
fn leases_the_server_did_not_issue_to_this_device_are_flagged() {
    let lease = lease();
    check(
        Log::ready(),
        TABLET_1,
        randomised(0, arm_of(0), 4),
        None,
        &[],
        Err(vec![AllocationFlag::UnknownLease { lease: lease_id() }]),
    );
    // Tablet 2 reports a slot of tablet 1's lease: the list is not consulted, and
    // tablet 2 did not screen the participant either.
    check(
        Log::ready(),
        TABLET_2,
        randomised(0, arm_of(0), 4),
        Some(&lease),
        &[],
        Err(vec![
            AllocationFlag::LeaseOfAnotherDevice {
                lease: lease_id(),
                owner: TABLET_1,
            },
            AllocationFlag::ScreenedOnAnotherDevice,
        ]),
    );
}

#[test]
fn slots_must_come_in_order_once_each_within_the_lease() {
    let lease = lease();
    let n_slots = lease.n_slots();
    let case = |slot: u32, used: &[u32], flags: Vec<AllocationFlag>| {
        check(
            Log::ready(),
            TABLET_1,
            randomised(slot, arm_of(slot), 4),
            Some(&lease),
            used,
            Err(flags),
        );
    };
    case(
        1,
        &[1, 0],
        vec![AllocationFlag::SlotReused {
            lease: lease_id(),
            slot: 1,
        }],
    );
    case(
        2,
        &[0],
        vec![AllocationFlag::SlotSkipped {
            lease: lease_id(),
            slot: 2,
            expected: 1,
        }],
    );
    case(
        1,
        &[0, 2],
        vec![AllocationFlag::SlotOutOfOrder {
            lease: lease_id(),
            slot: 1,
            expected: 3,
        }],
    );
    check(
        Log::ready(),
        TABLET_1,
        randomised(n_slots, Arm::Hemoperfusion, 4),
        Some(&lease),
        &[],
        Err(vec![AllocationFlag::SlotBeyondLease {
            lease: lease_id(),
            slot: n_slots,
            n_slots,
        }]),
    );
}

#[test]
fn an_arm_not_on_the_list_is_flagged_with_the_slot_problem() {
    let lease = lease();
    let forged = other(arm_of(0));
    check(
        Log::ready(),
        TABLET_1,
        randomised(0, forged, 4),
        Some(&lease),
        &[],
        Err(vec![AllocationFlag::ArmMismatch {
            lease: lease_id(),
            slot: 0,
            reported: forged,
        }]),
    );
    check(
        Log::ready(),
        TABLET_1,
        randomised(0, forged, 4),
        Some(&lease),
        &[0],
        Err(vec![
            AllocationFlag::SlotReused {
                lease: lease_id(),
                slot: 0,
            },
            AllocationFlag::ArmMismatch {
                lease: lease_id(),
                slot: 0,
                reported: forged,
            },
        ]),
    );
}

#[test]
fn the_participant_must_be_randomisable_at_the_tap() {
    let lease = lease();
    let good = || randomised(1, arm_of(1), 4);
    let flagged = |log: Log, body: Randomised, flag: AllocationFlag| {
        check(log, TABLET_1, body, Some(&lease), &[0], Err(vec![flag]));
    };
    // Randomised before, whether that one stood or was flagged itself.
    let mut twice = Log::ready();
    twice.record(
        TABLET_1,
        4,
        &Payload::Randomised(randomised(0, arm_of(0), 4)),
    );
    flagged(twice, good(), AllocationFlag::AlreadyRandomised);
    // No screening at all, and a screening from another tablet.
    flagged(
        Log::new(),
        good(),
        AllocationFlag::NotEligible(Outcome::Incomplete {
            missing: Vec::new(),
        }),
    );
    let mut elsewhere = Log::new();
    elsewhere.record(TABLET_2, 2, &screening(EcmoMode::Va));
    elsewhere.record(TABLET_1, 3, &consent());
    flagged(elsewhere, good(), AllocationFlag::ScreenedOnAnotherDevice);
    // Screened, not consented.
    let mut unconsented = Log::new();
    unconsented.record(TABLET_1, 2, &screening(EcmoMode::Va));
    flagged(unconsented, good(), AllocationFlag::NoConsent);
    // Eligible at screening, but the tap came after 24 h on ECMO.
    let late = randomised(1, arm_of(1), 25);
    let mut log = Log::ready();
    let stored = log.events.clone();
    let event = log.record(TABLET_1, 25, &Payload::Randomised(late.clone()));
    let issued = IssuedLease {
        lease: &lease,
        used_slots: &[0],
    };
    let flags = verify_randomisation(&event, &late, Some(issued), &stored).unwrap_err();
    assert!(
        matches!(&flags[..], [AllocationFlag::NotEligible(Outcome::Ineligible { failed })] if failed.contains(&Criterion::EcmoWithin24Hours)),
        "{flags:?}"
    );
    assert!(flags[0].to_string().contains("not met"), "{}", flags[0]);
}

#[test]
fn codes_and_messages_name_the_problem_without_a_future_arm() {
    let flags = [
        (
            AllocationFlag::UnknownLease { lease: lease_id() },
            "unknown_lease",
            "was not issued by the server",
        ),
        (
            AllocationFlag::SlotSkipped {
                lease: lease_id(),
                slot: 4,
                expected: 2,
            },
            "slot_skipped",
            "slot 4 of lease 00000000-0000-0000-0000-00000001ea5e was used, but slot 2 came next",
        ),
        (AllocationFlag::NoConsent, "no_consent", "no consent"),
        (
            AllocationFlag::AlreadyRandomised,
            "already_randomised",
            "already randomised",
        ),
    ];
    for (flag, code, words) in flags {
        assert_eq!(flag.code(), code);
        assert!(flag.to_string().contains(words), "{flag}");
    }
}
