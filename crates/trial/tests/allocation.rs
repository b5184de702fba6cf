//! The server's check of a reported randomisation: each way a lease, a slot, an
//! arm or a participant can be wrong, one case at a time, and several at once.

use trial::allocation::{AllocationFlag, Holdings, IssuedLease, verify_randomisation};
use trial::eligibility::{Criterion, Outcome};
use trial::event::{ChainHead, Event, EventDraft, EventKind};
use trial::payload::{Payload, Randomised, SCHEMA_VERSION, StudyNumber};
use trial::randomisation::{Arm, Lease, LeaseId, RandomisationConfig, Seed, Stratum, arm_at};
use trial::screening::EcmoMode;
use trial::time::{Calendar, MS_PER_HOUR, Moment};
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
    let mut form = testkit::eligible_screening(at(2), at(0));
    form.ecmo_mode = Some(ecmo_mode);
    testkit::screening_recorded("T1-0001", form)
}

fn consent() -> Payload {
    consent_at(3)
}

fn consent_at(hours_after_ecmo: i64) -> Payload {
    testkit::consent(at(hours_after_ecmo))
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
        self.record_json(device, hours_after_ecmo, payload.kind(), &payload.to_json())
    }

    /// Records a payload as given, valid or not.
    fn record_json(
        &mut self,
        device: Uuid,
        hours_after_ecmo: i64,
        kind: EventKind,
        payload: &str,
    ) -> Event {
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
                kind,
                payload: payload.to_owned(),
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

/// The label each test tablet goes by.
fn label(device: Uuid) -> &'static str {
    if device == TABLET_1 { "T1" } else { "T2" }
}

/// Records the randomisation `body` on `device` after the log, `recorded_hours`
/// after the ECMO start, and verifies it against what the server holds: the
/// device's own leases, the owner of the lease named if another device holds it,
/// and the randomisation that already gave the study number, if any.
fn verify(
    mut log: Log,
    device: Uuid,
    body: &Randomised,
    recorded_hours: i64,
    own_leases: &[IssuedLease<'_>],
    lease_owner: Option<Uuid>,
    study_number_holder: Option<Uuid>,
) -> Result<(), Vec<AllocationFlag>> {
    let stored = log.events.clone();
    let event = log.record(device, recorded_hours, &Payload::Randomised(body.clone()));
    let holdings = Holdings {
        site_code: "BJ",
        device_label: label(device),
        own_leases,
        lease_owner,
        study_number_holder,
        participant_log: &stored,
        calendar: &Calendar::Device,
    };
    verify_randomisation(&event, body, &holdings)
}

/// Records the randomisation on `device` after the log, at the moment its payload
/// names, and checks it against `lease` (tablet 1's) with `used_slots`.
fn check(
    log: Log,
    device: Uuid,
    body: Randomised,
    lease: Option<&Lease>,
    used_slots: &[u32],
    expected: Result<(), Vec<AllocationFlag>>,
) {
    let hours = (body.randomised_at.utc_ms() - ECMO) / MS_PER_HOUR;
    let own: Vec<IssuedLease<'_>> = lease
        .filter(|lease| lease.stratum().device() == device)
        .map(|lease| IssuedLease { lease, used_slots })
        .into_iter()
        .collect();
    let owner = lease
        .map(|lease| lease.stratum().device())
        .filter(|owner| *owner != device);
    assert_eq!(
        verify(log, device, &body, hours, &own, owner, None),
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
            AllocationFlag::StudyNumberOfAnotherTablet {
                study_number: StudyNumber::new("BJ", "T1", 1).unwrap(),
                expected_prefix: "BJ-T2-".to_owned(),
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
    // No screening at all (and so no consent), and a screening from another
    // tablet.
    check(
        Log::new(),
        TABLET_1,
        good(),
        Some(&lease),
        &[0],
        Err(vec![unscreened(), AllocationFlag::NoConsent]),
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
    let issued = [IssuedLease {
        lease: &lease,
        used_slots: &[0],
    }];
    let flags = verify(Log::ready(), TABLET_1, &late, 25, &issued, None, None).unwrap_err();
    assert!(
        matches!(&flags[..], [AllocationFlag::NotEligible(Outcome::Ineligible { failed })] if failed.contains(&Criterion::EcmoWithin24Hours)),
        "{flags:?}"
    );
    assert!(flags[0].to_string().contains("not met"), "{}", flags[0]);
}

fn unscreened() -> AllocationFlag {
    AllocationFlag::NotEligible(Outcome::Incomplete {
        missing: Vec::new(),
    })
}

/// Tablet 1's second lease, issued after [`lease`].
fn second_lease() -> Lease {
    Lease::issue(
        LeaseId::new(Uuid::from_u128(0x2ea5e)),
        Stratum::new("BJ", TABLET_1).unwrap(),
        Seed::from_bytes([8; 32]),
        RandomisationConfig::standard(),
        4,
    )
    .unwrap()
}

#[test]
fn a_later_lease_waits_until_the_earlier_one_is_used_up() {
    let (first, second) = (lease(), second_lease());
    let body = |slot: u32| Randomised {
        lease_id: second.id(),
        slot,
        arm: arm_at(second.seed(), second.config(), slot),
        study_number: StudyNumber::new("BJ", "T1", 9).unwrap(),
        randomised_at: at(4),
    };
    let all: Vec<u32> = (0..first.n_slots()).collect();
    let check = |used_first: &[u32], expected: Result<(), Vec<AllocationFlag>>| {
        let own = [
            IssuedLease {
                lease: &first,
                used_slots: used_first,
            },
            IssuedLease {
                lease: &second,
                used_slots: &[],
            },
        ];
        assert_eq!(
            verify(Log::ready(), TABLET_1, &body(0), 4, &own, None, None),
            expected
        );
    };
    check(
        &[0, 1],
        Err(vec![AllocationFlag::LeaseOutOfOrder {
            lease: second.id(),
            earlier: first.id(),
            slots_left: first.n_slots() - 2,
        }]),
    );
    check(&all, Ok(()));
}

#[test]
fn a_slot_beyond_the_lease_is_flagged_alone_and_uses_nothing() {
    let lease = lease();
    let n_slots = lease.n_slots();
    // Slot 0 was used, then one past the end was reported: slot 1 still comes
    // next, and the lease still has its slots.
    check(
        Log::ready(),
        TABLET_1,
        randomised(1, arm_of(1), 4),
        Some(&lease),
        &[0, n_slots + 5],
        Ok(()),
    );
    let issued = IssuedLease {
        lease: &lease,
        used_slots: &[0, n_slots + 5],
    };
    assert_eq!(trial::allocation::next_slot(&issued), 1);
}

#[test]
fn the_window_is_judged_at_the_recorded_moment_not_the_named_one() {
    let lease = lease();
    let own = [IssuedLease {
        lease: &lease,
        used_slots: &[],
    }];
    // Recorded 30 h after ECMO start, naming 3 h as its moment.
    let backdated = randomised(0, arm_of(0), 3);
    let flags = verify(Log::ready(), TABLET_1, &backdated, 30, &own, None, None).unwrap_err();
    assert_eq!(flags.len(), 2, "{flags:?}");
    assert!(
        matches!(flags[0], AllocationFlag::RandomisedAtMismatch { randomised_at, recorded_at }
            if randomised_at == at(3) && recorded_at.utc_ms() - at(30).utc_ms() < 1000),
        "{flags:?}"
    );
    assert!(
        matches!(&flags[1], AllocationFlag::NotEligible(Outcome::Ineligible { failed })
            if failed == &[Criterion::EcmoWithin24Hours]),
        "{flags:?}"
    );
    assert_eq!(flags[0].code(), "randomised_at_mismatch");
}

#[test]
fn screening_and_consent_must_come_before_the_randomisation() {
    let lease = lease();
    let own = [IssuedLease {
        lease: &lease,
        used_slots: &[],
    }];
    let body = randomised(0, arm_of(0), 4);
    // Consent recorded on another tablet after the randomisation's moment, and
    // received first: it cannot have been given before.
    let mut late_consent = Log::new();
    late_consent.record(TABLET_1, 2, &screening(EcmoMode::Va));
    late_consent.record(TABLET_2, 5, &consent_at(5));
    assert_eq!(
        verify(late_consent, TABLET_1, &body, 4, &own, None, None),
        Err(vec![AllocationFlag::NoConsent])
    );
    // A consent dated after the randomisation, though recorded before it.
    let mut dated_later = Log::new();
    dated_later.record(TABLET_1, 2, &screening(EcmoMode::Va));
    dated_later.record(TABLET_1, 3, &consent_at(5));
    assert_eq!(
        verify(dated_later, TABLET_1, &body, 4, &own, None, None),
        Err(vec![AllocationFlag::NoConsent])
    );
}

#[test]
fn the_first_screening_received_decides_not_the_earliest_dated() {
    let lease = lease();
    let own = [IssuedLease {
        lease: &lease,
        used_slots: &[],
    }];
    // Tablet 1 screens and consents; tablet 2's screening of the same
    // participant arrives later but claims an earlier time.
    let mut log = Log::ready();
    log.record(TABLET_2, 1, &screening(EcmoMode::Va));
    assert_eq!(
        verify(
            log,
            TABLET_1,
            &randomised(0, arm_of(0), 4),
            4,
            &own,
            None,
            None
        ),
        Ok(())
    );
}

#[test]
fn study_numbers_are_the_tablets_and_unique() {
    let lease = lease();
    let own = [IssuedLease {
        lease: &lease,
        used_slots: &[],
    }];
    let mut body = randomised(0, arm_of(0), 4);
    body.study_number = StudyNumber::new("SH", "T1", 1).unwrap();
    assert_eq!(
        verify(Log::ready(), TABLET_1, &body, 4, &own, None, None),
        Err(vec![AllocationFlag::StudyNumberOfAnotherTablet {
            study_number: body.study_number.clone(),
            expected_prefix: "BJ-T1-".to_owned(),
        }])
    );
    let holder = Uuid::from_u128(0x5eed);
    let body = randomised(0, arm_of(0), 4);
    assert_eq!(
        verify(Log::ready(), TABLET_1, &body, 4, &own, None, Some(holder)),
        Err(vec![AllocationFlag::DuplicateStudyNumber {
            study_number: body.study_number.clone(),
            holder,
        }])
    );
}

#[test]
fn an_unreadable_randomisation_still_counts() {
    let lease = lease();
    let own = [IssuedLease {
        lease: &lease,
        used_slots: &[],
    }];
    let mut log = Log::ready();
    log.record_json(TABLET_1, 4, EventKind::Randomised, r#"{"slot":0}"#);
    assert_eq!(
        verify(
            log,
            TABLET_1,
            &randomised(0, arm_of(0), 4),
            4,
            &own,
            None,
            None
        ),
        Err(vec![AllocationFlag::AlreadyRandomised])
    );
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
