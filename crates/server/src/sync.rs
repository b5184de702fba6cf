//! The push rule: which events of a batch are stored, which are refused, and why.
//!
//! A tablet pushes its events in order, usually after the last one the server
//! acknowledged; after a lost answer it may resend some that are stored already.
//! For each event, in order:
//!
//! 1. **Repeats** (a sequence number the server has stored) must be identical to
//!    the stored event; they are skipped, and a rejection stored with one is given
//!    again, so a retried batch gets the same answer. A *different* event under a
//!    stored number is refused (`seq_conflict`).
//! 2. **New events** must be recorded on the token's device (`wrong_device`), not
//!    more than `trial::wire::MAX_CLOCK_OFFSET_MS` after the server's clock
//!    (`from_the_future`; the same event is taken once the server's clock has
//!    caught up), and continue the hash chain from the server's last stored event, as
//!    `trial::event::verify_chain_from` checks it (`chain_broken`).
//! 3. The first event refused this way ends the batch: neither it nor anything
//!    after it is stored, and `acked_seq` stays at the last stored event. Nothing
//!    after a broken link can be trusted, and the tablet must not skip past it.
//! 4. An event that passes 2 but whose **payload** does not validate is stored
//!    anyway, acknowledged, marked rejected with its reason and kept out of pulls
//!    (`invalid_payload`): the audit trail stays gapless and the tablet is never
//!    stuck behind one bad record, while the coordinator sees it.
//! 5. A **randomisation** whose payload is valid is verified by
//!    `trial::allocation::verify_randomisation` against the lease the server
//!    issued (with the slots its device reported before, this batch included) and
//!    the participant's stored events (the batch's earlier ones included). One
//!    that does not hold is stored and acknowledged all the same (it already
//!    happened at the bedside), its flags recorded for the coordinator, and it is
//!    answered `allocation_flagged` naming every problem.
//!
//! **Flagged randomisations are not served in pulls**, like invalid payloads:
//! another tablet must never project a forged or unverifiable arm as real, and it
//! cannot randomise the participant itself either (only the screening tablet
//! randomises), so the participant waits, unrandomised everywhere else, for the
//! coordinator. They still count as a randomisation of the participant (a second
//! one is flagged) and as a use of their slot.
//!
//! The handler runs the whole batch in one database transaction; this module only
//! decides, so it is tested without a database.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use trial::allocation::{AllocationFlag, IssuedLease, verify_randomisation};
use trial::event::{ChainHead, Event, verify_chain_from};
use trial::payload::{Payload, Randomised};
use trial::randomisation::{Lease, LeaseId};
use trial::wire::{MAX_CLOCK_OFFSET_MS, Rejection, RejectionCode};
use uuid::Uuid;

use crate::store::{NewEvent, PushOutcome, StoredEvent};

/// What to do with a batch.
#[derive(Debug, Default)]
pub struct PushPlan {
    /// Events to append, in order, each with its verdict.
    pub new_events: Vec<NewEvent>,
    /// The stored rejections of repeated events, given again.
    pub repeated: Vec<Rejection>,
    /// The event that ended the batch, and why.
    pub refusal: Option<Rejection>,
}

/// What the server holds that a batch's randomisations are verified against.
#[derive(Debug, Default)]
pub struct AllocationContext {
    /// The leases the server issued that the batch names, regenerated, each with
    /// the slots its own device reported from it.
    pub leases: BTreeMap<LeaseId, (Lease, Vec<u32>)>,
    /// For each participant the batch randomises, the stored events their
    /// randomisation is checked against (see `PushTransaction::participant_logs`).
    pub participant_logs: BTreeMap<Uuid, Vec<Event>>,
}

/// The stored sequence numbers a batch repeats, if any: the store reads those
/// events back to compare them.
pub fn repeated_seqs(head: &ChainHead, batch: &[Event]) -> Option<RangeInclusive<u64>> {
    let first = batch.iter().map(Event::device_seq).min()?.max(1);
    (first <= head.last_seq()).then(|| first..=head.last_seq())
}

/// Applies the rule of the module doc to a batch, given the device's stored head
/// and the stored events it repeats.
pub fn plan_push(
    head: ChainHead,
    stored: &[StoredEvent],
    batch: Vec<Event>,
    now_ms: i64,
) -> PushPlan {
    let mut plan = PushPlan::default();
    let mut anchor = head;
    for event in batch {
        let refusal = if event.device_id() != head.device_id() {
            let message = format!(
                "event {} was recorded on device {}, not on this device ({})",
                event.device_seq(),
                event.device_id(),
                head.device_id()
            );
            rejection(&event, RejectionCode::WrongDevice, message)
        } else if (1..=head.last_seq()).contains(&event.device_seq()) && plan.new_events.is_empty()
        {
            match stored
                .iter()
                .find(|s| s.event.device_seq() == event.device_seq())
            {
                Some(same) if same.event == event => {
                    plan.repeated.extend(same.rejection.clone());
                    continue;
                }
                _ => {
                    let message = format!(
                        "a different event is already stored as event {} of this device",
                        event.device_seq()
                    );
                    rejection(&event, RejectionCode::SeqConflict, message)
                }
            }
        } else if event.recorded_at().utc_ms() - now_ms > MAX_CLOCK_OFFSET_MS {
            let message = format!(
                "event {} is timestamped {} s after the server's clock; check the tablet's \
                 date, time and time zone",
                event.device_seq(),
                (event.recorded_at().utc_ms() - now_ms) / 1000
            );
            rejection(&event, RejectionCode::FromTheFuture, message)
        } else {
            match verify_chain_from(&anchor, std::slice::from_ref(&event)) {
                Ok(next) => {
                    anchor = next;
                    let (rejection, randomised) = match check_payload(&event) {
                        Ok(Payload::Randomised(randomised)) => (None, Some(randomised)),
                        Ok(_) => (None, None),
                        Err(message) => (
                            Some(rejection(&event, RejectionCode::InvalidPayload, message)),
                            None,
                        ),
                    };
                    plan.new_events.push(NewEvent {
                        event,
                        rejection,
                        randomised,
                        flags: Vec::new(),
                    });
                    continue;
                }
                Err(error) => rejection(&event, RejectionCode::ChainBroken, error.to_string()),
            }
        };
        plan.refusal = Some(refusal);
        break;
    }
    plan
}

impl PushPlan {
    /// The leases the batch's randomisations name.
    pub fn randomised_leases(&self) -> BTreeSet<LeaseId> {
        self.randomisations()
            .map(|(_, randomised)| randomised.lease_id)
            .collect()
    }

    /// The participants the batch randomises.
    pub fn randomised_participants(&self) -> BTreeSet<Uuid> {
        self.randomisations()
            .map(|(event, _)| event.participant_id())
            .collect()
    }

    fn randomisations(&self) -> impl Iterator<Item = (&Event, &Randomised)> {
        self.new_events
            .iter()
            .filter_map(|new| Some((&new.event, new.randomised.as_ref()?)))
    }

    /// Verifies each randomisation in batch order (rule 5 of the module doc),
    /// against `context` as the earlier events of the batch extend it.
    pub fn verify_allocations(&mut self, mut context: AllocationContext) {
        for new in &mut self.new_events {
            let participant = new.event.participant_id();
            if let Some(randomised) = &new.randomised {
                let issued = context
                    .leases
                    .get(&randomised.lease_id)
                    .map(|(lease, used_slots)| IssuedLease { lease, used_slots });
                let log = context
                    .participant_logs
                    .get(&participant)
                    .map_or(&[][..], Vec::as_slice);
                if let Err(flags) = verify_randomisation(&new.event, randomised, issued, log) {
                    new.rejection = Some(flagged(&new.event, &flags));
                    new.flags = flags;
                }
                if let Some((lease, used_slots)) = context.leases.get_mut(&randomised.lease_id)
                    && lease.stratum().device() == new.event.device_id()
                {
                    used_slots.push(randomised.slot);
                }
            }
            // What later randomisations of the participant are checked against:
            // valid data, and randomisations that happened though flagged.
            let in_log = new.rejection.is_none() || !new.flags.is_empty();
            if in_log && let Some(log) = context.participant_logs.get_mut(&participant) {
                log.push(new.event.clone());
            }
        }
    }

    /// The participants whose valid data the stored part of the batch changed:
    /// their data queries are brought up to date.
    pub fn changed_participants(&self, outcome: &PushOutcome) -> BTreeSet<Uuid> {
        self.new_events[..outcome.stored]
            .iter()
            .filter(|new| new.rejection.is_none())
            .map(|new| new.event.participant_id())
            .collect()
    }

    /// The acknowledged sequence number and the rejections to answer with, once
    /// the store has appended what it could.
    pub fn answer(self, outcome: &PushOutcome) -> (u64, Vec<Rejection>) {
        let mut rejected = self.repeated;
        let stored = &self.new_events[..outcome.stored];
        rejected.extend(stored.iter().filter_map(|new| new.rejection.clone()));
        if let Some(clash) = self.new_events.get(outcome.stored) {
            let message = format!(
                "another stored event already has the id {}",
                clash.event.id()
            );
            rejected.push(rejection(
                &clash.event,
                RejectionCode::DuplicateEventId,
                message,
            ));
        } else {
            rejected.extend(self.refusal);
        }
        (outcome.head.last_seq(), rejected)
    }
}

/// The payload of an event if it is valid data for its kind and schema version and
/// records nothing after the event itself, by the same `trial` code the tablet
/// validated it with before saving.
fn check_payload(event: &Event) -> Result<Payload, String> {
    Payload::of_event(event).map_err(|error| error.to_string())
}

/// The answer to a flagged randomisation: every problem, in plain words.
fn flagged(event: &Event, flags: &[AllocationFlag]) -> Rejection {
    let problems: Vec<String> = flags.iter().map(ToString::to_string).collect();
    let message = format!(
        "randomisation stored, but flagged for the trial coordinator: {}",
        problems.join("; ")
    );
    rejection(event, RejectionCode::AllocationFlagged, message)
}

fn rejection(event: &Event, code: RejectionCode, message: String) -> Rejection {
    Rejection {
        device_seq: event.device_seq(),
        event_id: event.id(),
        code,
        message,
    }
}

#[cfg(test)]
mod tests {
    use trial::eligibility::Outcome;
    use trial::event::{EventDraft, EventKind};
    use trial::payload::{SCHEMA_VERSION, StudyNumber};
    use trial::randomisation::{RandomisationConfig, Seed, Stratum, arm_at};
    use trial::time::Moment;

    use super::*;

    const NOW_MS: i64 = 1_750_000_000_000;
    const DEVICE: Uuid = Uuid::from_u128(0xd1);
    const OTHER_DEVICE: Uuid = Uuid::from_u128(0xd2);

    fn lease(id: u128, owner: Uuid) -> Lease {
        Lease::issue(
            LeaseId::new(Uuid::from_u128(id)),
            Stratum::new("BJ", owner).unwrap(),
            Seed::from_bytes([5; 32]),
            RandomisationConfig::standard(),
            2,
        )
        .unwrap()
    }

    /// The device's batch, built on its chain from genesis.
    struct Batch(ChainHead, Vec<Event>);

    impl Batch {
        fn new() -> Self {
            Self(ChainHead::genesis(DEVICE), Vec::new())
        }

        fn record(&mut self, participant: u128, kind: EventKind, payload: String) -> &mut Self {
            let seq = self.1.len() as u128;
            let event = self
                .0
                .append(EventDraft {
                    id: Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 + seq),
                    participant_id: Uuid::from_u128(participant),
                    user_id: Uuid::from_u128(1),
                    recorded_at: Moment::new(NOW_MS, 480).unwrap(),
                    kind,
                    payload,
                    app_version: "0.1.0".to_owned(),
                    schema_version: SCHEMA_VERSION,
                })
                .unwrap();
            self.1.push(event);
            self
        }

        /// A randomisation of `participant` from `lease`'s `slot`, with the list's
        /// arm.
        fn randomise(&mut self, participant: u128, lease: &Lease, slot: u32) -> &mut Self {
            let body = Payload::Randomised(Randomised {
                lease_id: lease.id(),
                slot,
                arm: arm_at(lease.seed(), lease.config(), slot),
                study_number: StudyNumber::new("BJ", "T1", slot + 1).unwrap(),
                randomised_at: Moment::new(NOW_MS, 480).unwrap(),
            });
            self.record(participant, EventKind::Randomised, body.to_json())
        }

        fn plan(&self, context: AllocationContext) -> PushPlan {
            let mut plan = plan_push(ChainHead::genesis(DEVICE), &[], self.1.clone(), NOW_MS);
            plan.verify_allocations(context);
            plan
        }
    }

    fn unscreened() -> AllocationFlag {
        AllocationFlag::NotEligible(Outcome::Incomplete {
            missing: Vec::new(),
        })
    }

    fn context(leases: &[&Lease], participants: &[u128]) -> AllocationContext {
        AllocationContext {
            leases: leases
                .iter()
                .map(|lease| (lease.id(), ((*lease).clone(), Vec::new())))
                .collect(),
            participant_logs: participants
                .iter()
                .map(|participant| (Uuid::from_u128(*participant), Vec::new()))
                .collect(),
        }
    }

    #[test]
    fn earlier_randomisations_of_the_batch_count() {
        let own = lease(0x1, DEVICE);
        let plan = Batch::new()
            .randomise(1, &own, 0)
            // The same participant again, with the next slot.
            .randomise(1, &own, 1)
            // A payload that does not parse neither uses a slot nor randomises.
            .record(2, EventKind::Randomised, r#"{"slot":2}"#.to_owned())
            // Slot 1 again, for another participant.
            .randomise(2, &own, 1)
            .plan(context(&[&own], &[1, 2]));
        let flags: Vec<_> = plan
            .new_events
            .iter()
            .map(|new| new.flags.clone())
            .collect();
        assert_eq!(
            flags,
            [
                vec![unscreened()],
                vec![AllocationFlag::AlreadyRandomised],
                vec![],
                vec![
                    AllocationFlag::SlotReused {
                        lease: own.id(),
                        slot: 1
                    },
                    unscreened()
                ],
            ]
        );
        let codes: Vec<_> = plan
            .new_events
            .iter()
            .map(|new| new.rejection.as_ref().map(|rejection| rejection.code))
            .collect();
        let flagged = Some(RejectionCode::AllocationFlagged);
        assert_eq!(
            codes,
            [
                flagged,
                flagged,
                Some(RejectionCode::InvalidPayload),
                flagged
            ]
        );
        let message = &plan.new_events[3].rejection.as_ref().unwrap().message;
        assert!(
            message.contains("was used before; no complete screening"),
            "{message}"
        );
        // Allocations are recorded for the randomisations that parsed.
        let recorded: Vec<_> = plan
            .new_events
            .iter()
            .map(|new| new.randomised.as_ref().map(|body| body.slot))
            .collect();
        assert_eq!(recorded, [Some(0), Some(1), None, Some(1)]);
    }

    #[test]
    fn another_devices_lease_leaves_its_slots_alone() {
        let foreign = lease(0x2, OTHER_DEVICE);
        let plan = Batch::new()
            .randomise(1, &foreign, 0)
            .plan(context(&[&foreign], &[1]));
        assert_eq!(
            plan.new_events[0].flags,
            [
                AllocationFlag::LeaseOfAnotherDevice {
                    lease: foreign.id(),
                    owner: OTHER_DEVICE
                },
                unscreened()
            ]
        );
    }

    #[test]
    fn only_valid_data_changes_a_participants_queries() {
        let unknown = lease(0x3, DEVICE);
        let plan = Batch::new()
            .record(
                1,
                EventKind::EndOfParticipation,
                r#"{"status":"completed"}"#.to_owned(),
            )
            .record(
                2,
                EventKind::EndOfParticipation,
                r#"{"status":"cured"}"#.to_owned(),
            )
            .randomise(3, &unknown, 0)
            .record(
                4,
                EventKind::EndOfParticipation,
                r#"{"status":"completed"}"#.to_owned(),
            )
            .plan(context(&[], &[3]));
        assert_eq!(
            plan.new_events[2].flags,
            [
                AllocationFlag::UnknownLease {
                    lease: unknown.id()
                },
                unscreened()
            ]
        );
        let head = ChainHead::after(&plan.new_events[3].event);
        let all = plan.changed_participants(&PushOutcome { head, stored: 4 });
        assert_eq!(
            all,
            BTreeSet::from([Uuid::from_u128(1), Uuid::from_u128(4)])
        );
        let head = ChainHead::after(&plan.new_events[2].event);
        let three = plan.changed_participants(&PushOutcome { head, stored: 3 });
        assert_eq!(three, BTreeSet::from([Uuid::from_u128(1)]));
    }
}
