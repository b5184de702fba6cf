//! The push rule: which events of a batch are stored, which are refused, and why.
//!
//! A tablet pushes its events in order, usually after the last one the server
//! acknowledged; after a lost answer it may resend some that are stored already.
//! For each event, in order:
//!
//! 1. **Repeats** (a sequence number the server has stored) must be identical to
//!    the stored event, every field as stored (the UTC offset too); they are
//!    skipped, and a rejection stored with one is given again, so a retried batch
//!    gets the same answer. A *different* event under a stored number is refused
//!    (`seq_conflict`).
//! 2. **New events** must be recorded on the token's device (`wrong_device`), not
//!    more than `trial::wire::MAX_CLOCK_OFFSET_MS` after the server's clock
//!    (`from_the_future`; the same event is taken once the server's clock has
//!    caught up), keep the limits of every event (`limit_exceeded`:
//!    `trial::event::LimitError`), and continue the hash chain from the server's
//!    last stored event, as `trial::event::verify_chain_from` checks it
//!    (`chain_broken`).
//! 3. The first event refused this way ends the batch: neither it nor anything
//!    after it is stored, and `acked_seq` stays at the last stored event. Nothing
//!    after a broken link can be trusted, and the tablet must not skip past it.
//! 4. An event that passes 2 is stored, acknowledged and kept for good, but
//!    refused as data (marked rejected with its reason, kept out of pulls and out
//!    of every check of other events) when its participant belongs to another site
//!    (`participant_of_another_site`: a tablet writes only for its own site), it
//!    names a user who is no active user of the site (`unknown_user`,
//!    `trial::roster`), or its **payload** does not validate (`invalid_payload`).
//!    The audit trail stays gapless and the tablet is never stuck behind one bad
//!    record, while the coordinator sees it.
//! 5. A **randomisation** whose payload is valid is verified by
//!    `trial::allocation::verify_randomisation` against the device's leases (with
//!    the slots it reported before, this batch included), the study numbers given
//!    before, and the participant's events received before it (the batch's earlier
//!    ones included). A foreign participant or a wrong user is one more flag on it.
//!    One that does not hold is stored and acknowledged all the same (it already
//!    happened at the bedside), its flags recorded for the coordinator, and it is
//!    answered `allocation_flagged` naming every problem. A randomisation whose
//!    payload cannot be read is `invalid_payload` and flagged too: the patient may
//!    have been allocated.
//!
//! **Flagged randomisations are not served in pulls**, like invalid payloads:
//! another tablet must never project a forged or unverifiable arm as real, and it
//! cannot randomise the participant itself either (only the screening tablet
//! randomises), so the participant waits, unrandomised everywhere else, for the
//! coordinator. They still count as a randomisation of the participant (a second
//! one is flagged), readable or not, and as a use of their slot and study number.
//!
//! The handler runs the whole batch in one database transaction; this module only
//! decides, so it is tested without a database.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use trial::allocation::{
    AllocationFlag, Holdings, IssuedLease, unreadable_randomisation, verify_randomisation,
};
use trial::casebook;
use trial::console::ConsoleRole;
use trial::edits::{Subject, subject_of};
use trial::event::{ChainHead, Event, EventKind, verify_chain_from};
use trial::payload::{Payload, PayloadError, Randomised, StudyNumber};
use trial::randomisation::LeaseId;
use trial::roster::{Member, check_recorder};
use trial::time::Calendar;
use trial::wire::{MAX_CLOCK_OFFSET_MS, Rejection, RejectionCode};
use uuid::Uuid;

use crate::store::{AllocationHoldings, NewEvent, PushOutcome, StoredEvent};

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

/// Who the pushing device is and what its site holds: what rule 4 checks.
#[derive(Debug, Default)]
pub struct Origin {
    /// The device's site.
    pub site_code: String,
    /// The site of each participant the batch names, as the server first
    /// recorded it.
    pub participant_sites: BTreeMap<Uuid, String>,
    /// The users of the device's site.
    pub members: Vec<Member>,
    /// The role of each member, on a console device; empty on a tablet, whose
    /// users have none.
    pub console_roles: BTreeMap<Uuid, ConsoleRole>,
}

/// What the server holds that a batch's randomisations are verified against.
#[derive(Debug)]
pub struct AllocationContext {
    /// The device's site code.
    pub site_code: String,
    /// The device's label.
    pub device_label: String,
    /// The device's leases, the owners of other leases named, the study numbers
    /// given before.
    pub holdings: AllocationHoldings,
    /// For each of the site's participants the batch randomises, the stored
    /// events their randomisation is checked against (see
    /// `PushTransaction::participant_logs`).
    pub participant_logs: BTreeMap<Uuid, Vec<Event>>,
    /// The site's calendar, which eligibility reads dates in.
    pub calendar: Calendar,
}

/// The stored sequence numbers a batch repeats, if any: the store reads those
/// events back to compare them.
pub fn repeated_seqs(head: &ChainHead, batch: &[Event]) -> Option<RangeInclusive<u64>> {
    let first = batch.iter().map(Event::device_seq).min()?.max(1);
    (first <= head.last_seq()).then(|| first..=head.last_seq())
}

/// Applies rules 1 to 3 and the payload part of 4 to a batch, given the device's
/// stored head and the stored events it repeats.
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
        } else if let Err(error) = event.check_limits() {
            let message = format!("event {}: {error}", event.device_seq());
            rejection(&event, RejectionCode::LimitExceeded, message)
        } else {
            match verify_chain_from(&anchor, std::slice::from_ref(&event)) {
                Ok(next) => {
                    anchor = next;
                    plan.new_events.push(judge_payload(event));
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

/// A new event with its payload's verdict: valid data, a randomisation to
/// verify, or refused as data (an unreadable randomisation flagged as such).
fn judge_payload(event: Event) -> NewEvent {
    match Payload::of_event(&event) {
        Ok(payload) => NewEvent {
            subject: subject_of(&payload),
            randomised: match payload {
                Payload::Randomised(randomised) => Some(randomised),
                _ => None,
            },
            rejection: None,
            flags: Vec::new(),
            event,
        },
        Err(error) => NewEvent {
            flags: if event.kind() == EventKind::Randomised {
                vec![unreadable_randomisation(&error)]
            } else {
                Vec::new()
            },
            rejection: Some(invalid_payload(&event, &error)),
            randomised: None,
            subject: None,
            event,
        },
    }
}

impl PushPlan {
    /// The participants the batch's new events name.
    pub fn participants(&self) -> BTreeSet<Uuid> {
        self.new_events
            .iter()
            .map(|new| new.event.participant_id())
            .collect()
    }

    /// The leases the batch's randomisations name.
    pub fn randomised_leases(&self) -> BTreeSet<LeaseId> {
        self.randomisations()
            .map(|(_, randomised)| randomised.lease_id)
            .collect()
    }

    /// The study numbers the batch's randomisations give.
    pub fn study_numbers(&self) -> BTreeSet<StudyNumber> {
        self.randomisations()
            .map(|(_, randomised)| randomised.study_number.clone())
            .collect()
    }

    /// Whether any event of the batch is a randomisation, readable or not.
    pub fn randomises(&self) -> bool {
        self.new_events
            .iter()
            .any(|new| new.event.kind() == EventKind::Randomised)
    }

    /// The participants of the device's own site that the batch randomises
    /// (readable or not), by `origin`'s record of their sites.
    pub fn randomised_participants(&self, origin: &Origin) -> BTreeSet<Uuid> {
        self.new_events
            .iter()
            .filter(|new| new.event.kind() == EventKind::Randomised)
            .map(|new| new.event.participant_id())
            .filter(|participant| origin.is_own(*participant))
            .collect()
    }

    fn randomisations(&self) -> impl Iterator<Item = (&Event, &Randomised)> {
        self.new_events
            .iter()
            .filter_map(|new| Some((&new.event, new.randomised.as_ref()?)))
    }

    /// Rule 4's site and user checks: an event about another site's participant,
    /// or by a user who may not have recorded it, is refused as data; on a
    /// randomisation each is a flag instead, so its slot still counts.
    pub fn check_origin(&mut self, origin: &Origin) {
        for new in &mut self.new_events {
            let event = &new.event;
            let mut problems = Vec::new();
            if let Some(site_code) = origin.participant_sites.get(&event.participant_id())
                && *site_code != origin.site_code
            {
                problems.push(AllocationFlag::ParticipantOfAnotherSite {
                    site_code: site_code.clone(),
                });
            }
            if let Err(error) =
                check_recorder(&origin.members, event.user_id(), event.recorded_at())
            {
                problems.push(AllocationFlag::RecordedByWrongUser(error));
            }
            let Some(first) = problems.first() else {
                // A signature or an unlock only by a console account whose
                // role takes that action: never a tablet's user.
                if let Some(action) = casebook::action_recorded(event.kind())
                    && !origin
                        .console_roles
                        .get(&event.user_id())
                        .is_some_and(|role| role.may(action))
                {
                    let roles: Vec<&str> = ConsoleRole::ALL
                        .into_iter()
                        .filter(|role| role.may(action))
                        .map(ConsoleRole::as_str)
                        .collect();
                    let message = format!(
                        "a {} event is recorded only in the console, by a {} account",
                        event.kind(),
                        roles.join(" or ")
                    );
                    new.rejection = Some(rejection(event, RejectionCode::UnknownUser, message));
                }
                continue;
            };
            if event.kind() == EventKind::Randomised {
                new.flags.extend(problems);
                continue;
            }
            let (code, message) = match first {
                AllocationFlag::ParticipantOfAnotherSite { site_code } => (
                    RejectionCode::ParticipantOfAnotherSite,
                    format!(
                        "participant {} belongs to site {site_code}; this tablet writes only \
                         for site {}",
                        event.participant_id(),
                        origin.site_code
                    ),
                ),
                other => (RejectionCode::UnknownUser, other.to_string()),
            };
            new.rejection = Some(rejection(event, code, message));
        }
    }

    /// Verifies each readable randomisation in batch order (rule 5 of the module
    /// doc), against `context` as the earlier events of the batch extend it.
    pub fn verify_allocations(&mut self, mut context: AllocationContext, origin: &Origin) {
        for new in &mut self.new_events {
            let participant = new.event.participant_id();
            let own = origin.is_own(participant);
            if let Some(randomised) = &new.randomised {
                let holdings = &context.holdings;
                let issued: Vec<IssuedLease<'_>> = holdings
                    .own_leases
                    .iter()
                    .map(|(lease, used_slots)| IssuedLease { lease, used_slots })
                    .collect();
                let log = context
                    .participant_logs
                    .get(&participant)
                    .filter(|_| own)
                    .map_or(&[][..], Vec::as_slice);
                let holdings = Holdings {
                    site_code: &context.site_code,
                    device_label: &context.device_label,
                    own_leases: &issued,
                    lease_owner: holdings.lease_owners.get(&randomised.lease_id).copied(),
                    study_number_holder: holdings
                        .study_number_holders
                        .get(&randomised.study_number)
                        .copied(),
                    participant_log: log,
                    calendar: &context.calendar,
                };
                if let Err(flags) = verify_randomisation(&new.event, randomised, &holdings) {
                    new.flags.extend(flags);
                }
                if !new.flags.is_empty() {
                    new.rejection = Some(flagged(&new.event, &new.flags));
                }
                if let Some((_, used_slots)) = context
                    .holdings
                    .own_leases
                    .iter_mut()
                    .find(|(lease, _)| lease.id() == randomised.lease_id)
                {
                    used_slots.push(randomised.slot);
                }
                context
                    .holdings
                    .study_number_holders
                    .entry(randomised.study_number.clone())
                    .or_insert(new.event.id());
            }
            // What later randomisations of the participant are checked against:
            // valid data, and every randomisation of the site's participant, which
            // happened though flagged or unreadable.
            let counts = new.rejection.is_none() || new.event.kind() == EventKind::Randomised;
            if own
                && counts
                && let Some(log) = context.participant_logs.get_mut(&participant)
            {
                log.push(new.event.clone());
            }
        }
    }

    /// The events of the stored part of the batch that are valid data and write a
    /// screening or form, by participant and subject, each list in the
    /// projection's order (`recorded_at`, then id): their data queries are
    /// brought up to date.
    pub fn written_subjects(&self, outcome: &PushOutcome) -> BTreeMap<(Uuid, Subject), Vec<Event>> {
        let mut written: BTreeMap<(Uuid, Subject), Vec<Event>> = BTreeMap::new();
        for new in &self.new_events[..outcome.stored] {
            if let (None, Some(subject)) = (&new.rejection, new.subject) {
                written
                    .entry((new.event.participant_id(), subject))
                    .or_default()
                    .push(new.event.clone());
            }
        }
        for events in written.values_mut() {
            events.sort_by_key(|event| (event.recorded_at(), event.id()));
        }
        written
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

impl Origin {
    /// Whether the participant belongs to the device's site (one the server
    /// knows of no site for is being recorded by this device first).
    pub fn is_own(&self, participant: Uuid) -> bool {
        self.participant_sites
            .get(&participant)
            .is_none_or(|site| *site == self.site_code)
    }
}

/// The answer to an event whose payload does not validate.
fn invalid_payload(event: &Event, error: &PayloadError) -> Rejection {
    rejection(event, RejectionCode::InvalidPayload, error.to_string())
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
    use trial::event::{EARLIEST_RECORDING_MS, EventDraft, EventKind};
    use trial::payload::{SCHEMA_VERSION, StudyNumber};
    use trial::randomisation::{Lease, RandomisationConfig, Seed, Stratum, arm_at};
    use trial::roster::RecorderError;
    use trial::time::Moment;

    use super::*;

    const NOW_MS: i64 = 1_750_000_000_000;
    const DEVICE: Uuid = Uuid::from_u128(0xd1);
    const OTHER_DEVICE: Uuid = Uuid::from_u128(0xd2);
    const NURSE: Uuid = Uuid::from_u128(1);

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
            self.record_by(NURSE, participant, kind, payload)
        }

        fn record_by(
            &mut self,
            user: Uuid,
            participant: u128,
            kind: EventKind,
            payload: String,
        ) -> &mut Self {
            let seq = self.1.len() as u128;
            let event = self
                .0
                .append(EventDraft {
                    id: Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 + seq),
                    participant_id: Uuid::from_u128(participant),
                    user_id: user,
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

        fn plan(&self, context: AllocationContext, origin: &Origin) -> PushPlan {
            let mut plan = plan_push(ChainHead::genesis(DEVICE), &[], self.1.clone(), NOW_MS);
            plan.check_origin(origin);
            plan.verify_allocations(context, origin);
            plan
        }
    }

    fn unscreened() -> AllocationFlag {
        AllocationFlag::NotEligible(Outcome::Incomplete {
            missing: Vec::new(),
        })
    }

    /// Site BJ with its nurse; participants 1 to 9 are BJ's, 10 and up SH's.
    fn origin() -> Origin {
        Origin {
            site_code: "BJ".to_owned(),
            participant_sites: (1..20)
                .map(|n| {
                    let site = if n < 10 { "BJ" } else { "SH" };
                    (Uuid::from_u128(n), site.to_owned())
                })
                .collect(),
            members: vec![Member {
                user_id: NURSE,
                active_from_ms: NOW_MS - 1_000_000,
                disabled_at_ms: None,
            }],
            console_roles: BTreeMap::new(),
        }
    }

    fn context(own: &[&Lease], others: &[&Lease], participants: &[u128]) -> AllocationContext {
        AllocationContext {
            site_code: "BJ".to_owned(),
            device_label: "T1".to_owned(),
            holdings: AllocationHoldings {
                own_leases: own
                    .iter()
                    .map(|lease| ((*lease).clone(), Vec::new()))
                    .collect(),
                lease_owners: others
                    .iter()
                    .map(|lease| (lease.id(), lease.stratum().device()))
                    .collect(),
                study_number_holders: BTreeMap::new(),
            },
            participant_logs: participants
                .iter()
                .map(|participant| (Uuid::from_u128(*participant), Vec::new()))
                .collect(),
            calendar: Calendar::Device,
        }
    }

    fn codes(plan: &PushPlan) -> Vec<Option<RejectionCode>> {
        plan.new_events
            .iter()
            .map(|new| new.rejection.as_ref().map(|rejection| rejection.code))
            .collect()
    }

    #[test]
    fn earlier_randomisations_of_the_batch_count() {
        let own = lease(0x1, DEVICE);
        let plan = Batch::new()
            .randomise(1, &own, 0)
            // The same participant again, with the next slot.
            .randomise(1, &own, 1)
            // A payload that does not parse uses no slot, but the participant
            // may have been randomised.
            .record(2, EventKind::Randomised, r#"{"slot":2}"#.to_owned())
            // Slot 1 again, for that participant, with slot 1's study number.
            .randomise(2, &own, 1)
            .plan(context(&[&own], &[], &[1, 2]), &origin());
        let flags: Vec<Vec<&str>> = plan
            .new_events
            .iter()
            .map(|new| new.flags.iter().map(AllocationFlag::code).collect())
            .collect();
        assert_eq!(
            flags,
            [
                vec!["not_eligible", "no_consent"],
                vec!["already_randomised"],
                vec!["unreadable_randomisation"],
                vec![
                    "slot_reused",
                    "duplicate_study_number",
                    "already_randomised"
                ],
            ]
        );
        assert_eq!(plan.new_events[0].flags[0], unscreened());
        let flagged = Some(RejectionCode::AllocationFlagged);
        assert_eq!(
            codes(&plan),
            [
                flagged,
                flagged,
                Some(RejectionCode::InvalidPayload),
                flagged
            ]
        );
        let message = &plan.new_events[3].rejection.as_ref().unwrap().message;
        assert!(
            message.contains("was used before; study number BJ-T1-002 was given before"),
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
            .plan(context(&[], &[&foreign], &[1]), &origin());
        assert_eq!(
            plan.new_events[0].flags,
            [
                AllocationFlag::LeaseOfAnotherDevice {
                    lease: foreign.id(),
                    owner: OTHER_DEVICE
                },
                unscreened(),
                AllocationFlag::NoConsent,
            ]
        );
    }

    #[test]
    fn another_sites_participant_and_a_stranger_are_refused_as_data() {
        let own = lease(0x1, DEVICE);
        let stranger = Uuid::from_u128(0x666);
        let plan = Batch::new()
            // Site SH's participant 10.
            .record(
                10,
                EventKind::EndOfParticipation,
                r#"{"status":"completed"}"#.to_owned(),
            )
            .record_by(
                stranger,
                1,
                EventKind::EndOfParticipation,
                r#"{"status":"completed"}"#.to_owned(),
            )
            // Both on a randomisation: flags, so the slot still counts.
            .randomise(11, &own, 0)
            .randomise(1, &own, 1)
            .plan(context(&[&own], &[], &[1]), &origin());
        assert_eq!(
            codes(&plan)[..2],
            [
                Some(RejectionCode::ParticipantOfAnotherSite),
                Some(RejectionCode::UnknownUser)
            ]
        );
        let message = &plan.new_events[0].rejection.as_ref().unwrap().message;
        assert!(message.contains("belongs to site SH"), "{message}");
        assert_eq!(
            plan.new_events[2].flags[0],
            AllocationFlag::ParticipantOfAnotherSite {
                site_code: "SH".to_owned()
            }
        );
        // Slot 0 was used by the foreign randomisation: slot 1 comes next.
        let codes_of_last: Vec<_> = plan.new_events[3]
            .flags
            .iter()
            .map(AllocationFlag::code)
            .collect();
        assert_eq!(codes_of_last, ["not_eligible", "no_consent"]);
        let mut by_stranger = Batch::new();
        let body = Payload::Randomised(Randomised {
            lease_id: own.id(),
            slot: 0,
            arm: arm_at(own.seed(), own.config(), 0),
            study_number: StudyNumber::new("BJ", "T1", 1).unwrap(),
            randomised_at: Moment::new(NOW_MS, 480).unwrap(),
        });
        by_stranger.record_by(stranger, 1, EventKind::Randomised, body.to_json());
        let plan = by_stranger.plan(context(&[&own], &[], &[1]), &origin());
        assert_eq!(
            plan.new_events[0].flags[0],
            AllocationFlag::RecordedByWrongUser(RecorderError::Unknown { user_id: stranger })
        );
    }

    #[test]
    fn a_replay_must_be_the_stored_event_to_the_last_field() {
        let mut batch = Batch::new();
        batch.record(
            1,
            EventKind::EndOfParticipation,
            r#"{"status":"completed"}"#.to_owned(),
        );
        let stored = StoredEvent {
            event: batch.1[0].clone(),
            rejection: None,
        };
        let head = ChainHead::after(&stored.event);
        let mut json = serde_json::to_value(&stored.event).unwrap();
        json["recorded_at"]["offset_minutes"] = 0.into();
        let edited: Event = serde_json::from_value(json).unwrap();
        let plan = plan_push(head, std::slice::from_ref(&stored), vec![edited], NOW_MS);
        assert_eq!(
            plan.refusal.map(|refusal| refusal.code),
            Some(RejectionCode::SeqConflict)
        );
        let plan = plan_push(
            head,
            std::slice::from_ref(&stored),
            vec![stored.event.clone()],
            NOW_MS,
        );
        assert!(plan.refusal.is_none() && plan.new_events.is_empty());
    }

    #[test]
    fn an_event_out_of_limits_ends_the_batch() {
        let mut batch = Batch::new();
        batch.record(
            1,
            EventKind::EndOfParticipation,
            r#"{"status":"completed"}"#.to_owned(),
        );
        let mut json = serde_json::to_value(&batch.1[0]).unwrap();
        json["recorded_at"]["utc_ms"] = (EARLIEST_RECORDING_MS - 1).into();
        let early: Event = serde_json::from_value(json).unwrap();
        let plan = plan_push(ChainHead::genesis(DEVICE), &[], vec![early], NOW_MS);
        let refusal = plan.refusal.unwrap();
        assert_eq!(refusal.code, RejectionCode::LimitExceeded);
        assert!(
            refusal.message.contains("before the trial began"),
            "{}",
            refusal.message
        );
    }

    #[test]
    fn only_valid_data_brings_queries_up_to_date() {
        let unknown = lease(0x3, DEVICE);
        let mut form = trial::screening::ScreeningForm::blank(Moment::new(NOW_MS, 480).unwrap());
        // The least a screening needs to be recorded.
        form.date_of_birth = Some(jiff::civil::date(1970, 6, 15));
        form.patient_initials = Some("ZW".to_owned());
        let screening = Payload::ScreeningRecorded(trial::payload::ScreeningRecorded {
            screening_number: "T1-0001".to_owned(),
            form,
        })
        .to_json();
        let plan = Batch::new()
            .record(1, EventKind::ScreeningRecorded, screening.clone())
            .record(2, EventKind::ScreeningRecorded, r#"{"form":{}}"#.to_owned())
            .randomise(3, &unknown, 0)
            .record(4, EventKind::ScreeningRecorded, screening)
            .plan(context(&[], &[], &[3]), &origin());
        assert_eq!(
            plan.new_events[2].flags,
            [
                AllocationFlag::UnknownLease {
                    lease: unknown.id()
                },
                unscreened(),
                AllocationFlag::NoConsent,
            ]
        );
        let written = |stored: usize| -> Vec<Uuid> {
            let head = ChainHead::after(&plan.new_events[stored - 1].event);
            plan.written_subjects(&PushOutcome { head, stored })
                .into_keys()
                .map(|(participant, subject)| {
                    assert_eq!(subject, Subject::Screening);
                    participant
                })
                .collect()
        };
        assert_eq!(written(4), [Uuid::from_u128(1), Uuid::from_u128(4)]);
        assert_eq!(written(3), [Uuid::from_u128(1)]);
    }
}
