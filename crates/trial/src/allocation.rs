//! Whether a randomisation a tablet reports may stand: the check the server runs on
//! every pushed `Randomised` event (DESIGN.md, "Randomisation").
//!
//! A tablet randomises offline, so the server learns of an allocation only after it
//! happened and cannot refuse it: the patient may already be treated. What it can
//! do is re-check everything the tablet decided, with the same code, and flag what
//! does not hold for a person to look at, never silently accepting it. The checks:
//!
//! - **The lease** is one the server issued, to the device that reports it. A lease
//!   the server never issued (one a tablet made itself in training mode, or a
//!   forgery) or another device's lease cannot be verified at all.
//! - **The leases are used in order.** A device finishes each lease before it
//!   takes a slot of the next one it was issued; otherwise it could choose between
//!   two next arms.
//! - **The slot** comes next on that lease: every slot the device reported before
//!   is used, so the next one is the one after the highest. A slot used before is
//!   *reused*, a later one *skips* slots, an earlier unused one is *out of order*,
//!   and a slot past the lease's end does not exist (it is flagged on its own and
//!   uses nothing, so the slots after it still verify).
//! - **The arm** is the one the lease's list has at that slot.
//! - **The moment** the payload names (`randomised_at`, T0) is the moment the event
//!   was recorded, give or take [`RANDOMISED_AT_TOLERANCE_MS`]. Everything else is
//!   judged at the recorded moment, never at a time the payload names.
//! - **The study number** is the tablet's (its site's code and its label) and no
//!   other randomisation in the trial has it.
//! - **The participant** may be randomised at that moment, by the rule the tablet
//!   itself applies before the tap ([`Participant::may_randomise`]), over the
//!   participant's events the server holds, in the order it received them, as the
//!   projection judges every randomisation ([`Anomaly::RandomisedAgainstTheRule`]):
//!   not randomised before (by any device, readable or not), not recorded as not
//!   enrolled, eligible at that moment by a screening recorded before it, screened
//!   first on this device, consented before it.
//!
//! Every problem is reported at once, so the coordinator sees the whole picture.

use std::fmt;

use uuid::Uuid;

use crate::eligibility::Outcome;
use crate::event::{Event, EventKind};
use crate::payload::{PayloadError, Randomised, StudyNumber};
use crate::projection::{Anomaly, Participant, RandomiseRefusal, project};
use crate::randomisation::{Arm, Lease, LeaseId, VerifyError};
use crate::roster::RecorderError;
use crate::time::{Calendar, Moment};

/// How far the `randomised_at` a payload names may lie from the moment its event
/// was recorded. The app takes both from one clock, a few milliseconds apart (the
/// seed is opened in between); a minute allows for a slow tablet and nothing more.
pub const RANDOMISED_AT_TOLERANCE_MS: i64 = 60 * 1000;

/// The kinds of event the participant's part of the check reads: nothing else
/// changes whether a participant may be randomised, so the server gives the check
/// only these, however long the participant's follow-up has grown.
pub const VERIFIED_AGAINST: [EventKind; 4] = [
    EventKind::ScreeningRecorded,
    EventKind::ConsentRecorded,
    EventKind::Randomised,
    EventKind::NotEnrolled,
];

/// A lease the server issued to the reporting device, as it stands when a
/// randomisation from one of its leases arrives.
#[derive(Clone, Copy, Debug)]
pub struct IssuedLease<'a> {
    /// The lease, rebuilt from the server's records with its seed.
    pub lease: &'a Lease,
    /// Every slot of the lease its own device reported before, in any order
    /// (slots past the lease's end included; they use nothing).
    pub used_slots: &'a [u32],
}

/// What the server holds when a randomisation arrives: everything
/// [`verify_randomisation`] checks it against.
#[derive(Clone, Copy, Debug)]
pub struct Holdings<'a> {
    /// The site code of the reporting device.
    pub site_code: &'a str,
    /// The label of the reporting device ("T1"), unique within its site.
    pub device_label: &'a str,
    /// Every lease issued to the reporting device, in the order they were issued.
    pub own_leases: &'a [IssuedLease<'a>],
    /// The device the named lease was issued to, when it is not among
    /// `own_leases` but the server issued it.
    pub lease_owner: Option<Uuid>,
    /// Another randomisation that already gave the same study number, if any.
    pub study_number_holder: Option<Uuid>,
    /// The participant's events the server holds, in the order it received them:
    /// those it accepted, and every earlier randomisation, flagged or unreadable.
    pub participant_log: &'a [Event],
    /// The site's calendar, which eligibility reads dates in.
    pub calendar: &'a Calendar,
}

/// Why a reported randomisation cannot be accepted as it is. Each variant names
/// what a coordinator needs to find the records, never a future arm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllocationFlag {
    /// Occurs when the server never issued the lease: a tablet's training lease,
    /// or a forgery.
    UnknownLease {
        /// The lease the randomisation names.
        lease: LeaseId,
    },
    /// Occurs when the lease was issued to another device; its list is not
    /// checked, so nothing of it is revealed.
    LeaseOfAnotherDevice {
        /// The lease the randomisation names.
        lease: LeaseId,
        /// The device it was issued to.
        owner: Uuid,
    },
    /// Occurs when a lease issued to the device before this one still has slots
    /// the device has not used: it could have chosen between two next arms.
    LeaseOutOfOrder {
        /// The lease the randomisation names.
        lease: LeaseId,
        /// The earlier lease that is not finished.
        earlier: LeaseId,
        /// How many of its slots were left.
        slots_left: u32,
    },
    /// Occurs when the slot lies beyond the end of the lease.
    SlotBeyondLease {
        /// The lease.
        lease: LeaseId,
        /// The slot reported.
        slot: u32,
        /// How many slots the lease holds.
        n_slots: u32,
    },
    /// Occurs when the device reported the slot before.
    SlotReused {
        /// The lease.
        lease: LeaseId,
        /// The slot reported again.
        slot: u32,
    },
    /// Occurs when the slot lies after the next unused one: slots were skipped.
    SlotSkipped {
        /// The lease.
        lease: LeaseId,
        /// The slot reported.
        slot: u32,
        /// The slot that came next.
        expected: u32,
    },
    /// Occurs when the slot lies before the next one but was never reported:
    /// slots were used out of order.
    SlotOutOfOrder {
        /// The lease.
        lease: LeaseId,
        /// The slot reported.
        slot: u32,
        /// The slot that came next.
        expected: u32,
    },
    /// Occurs when the arm reported is not the arm of the list at that slot.
    ArmMismatch {
        /// The lease.
        lease: LeaseId,
        /// The slot.
        slot: u32,
        /// The arm the tablet reported.
        reported: Arm,
    },
    /// Occurs when the payload's `randomised_at` lies more than
    /// [`RANDOMISED_AT_TOLERANCE_MS`] from the moment the event was recorded.
    RandomisedAtMismatch {
        /// The moment the payload names.
        randomised_at: Moment,
        /// The moment the event was recorded.
        recorded_at: Moment,
    },
    /// Occurs when the study number is not of the reporting tablet's form
    /// (`SITE-LABEL-NNN` with its site's code and its label).
    StudyNumberOfAnotherTablet {
        /// The study number reported.
        study_number: StudyNumber,
        /// How the tablet's study numbers begin.
        expected_prefix: String,
    },
    /// Occurs when another randomisation already gave the same study number.
    DuplicateStudyNumber {
        /// The study number reported.
        study_number: StudyNumber,
        /// The randomisation that gave it first.
        holder: Uuid,
    },
    /// Occurs when the participant was randomised before, on any device, or an
    /// earlier randomisation of theirs cannot be read.
    AlreadyRandomised,
    /// Occurs when the screening the server holds does not show the participant
    /// eligible at the moment of the randomisation, or there is none made by then.
    NotEligible(Outcome),
    /// Occurs when the server holds no consent recorded before the randomisation.
    NoConsent,
    /// Occurs when another device's screening of the participant reached the
    /// server first.
    ScreenedOnAnotherDevice,
    /// Occurs when the patient was recorded as not enrolled before the
    /// randomisation.
    NotEnrolled,
    /// Occurs when a `Randomised` event's payload cannot be read: the patient may
    /// have been allocated, but nothing of it can be verified.
    UnreadableRandomisation {
        /// Why the payload was refused.
        reason: String,
    },
    /// Occurs when the event names a user who may not have recorded it
    /// (`crate::roster`).
    RecordedByWrongUser(RecorderError),
    /// Occurs when the participant belongs to another site than the reporting
    /// tablet's: it is verified against nothing of theirs.
    ParticipantOfAnotherSite {
        /// The participant's site.
        site_code: String,
    },
}

/// Checks a randomisation a device reported, as the module doc describes.
///
/// `event` is the pushed event and `randomised` its payload, already parsed;
/// `holdings` is what the server held before this event.
pub fn verify_randomisation(
    event: &Event,
    randomised: &Randomised,
    holdings: &Holdings<'_>,
) -> Result<(), Vec<AllocationFlag>> {
    let mut flags = check_lease(event.device_id(), randomised, holdings);
    let (randomised_at, recorded_at) = (randomised.randomised_at, event.recorded_at());
    if randomised_at.ms_since(recorded_at).abs() > RANDOMISED_AT_TOLERANCE_MS {
        flags.push(AllocationFlag::RandomisedAtMismatch {
            randomised_at,
            recorded_at,
        });
    }
    let number = &randomised.study_number;
    if !number.is_of(holdings.site_code, holdings.device_label) {
        flags.push(AllocationFlag::StudyNumberOfAnotherTablet {
            study_number: number.clone(),
            expected_prefix: format!("{}-{}-", holdings.site_code, holdings.device_label),
        });
    }
    if let Some(holder) = holdings.study_number_holder {
        flags.push(AllocationFlag::DuplicateStudyNumber {
            study_number: number.clone(),
            holder,
        });
    }
    flags.extend(check_participant(
        event,
        holdings.participant_log,
        holdings.calendar,
    ));
    if flags.is_empty() { Ok(()) } else { Err(flags) }
}

/// The flag of a `Randomised` event whose payload cannot be read; the event still
/// counts as a randomisation of its participant.
pub fn unreadable_randomisation(error: &PayloadError) -> AllocationFlag {
    AllocationFlag::UnreadableRandomisation {
        reason: error.to_string(),
    }
}

/// The participant's part: what the projection found wrong with this very
/// randomisation when it folded the log with it.
fn check_participant(event: &Event, log: &[Event], calendar: &Calendar) -> Vec<AllocationFlag> {
    let mut with_event = log.to_vec();
    with_event.push(event.clone());
    let Some(participant) = project(&with_event, calendar)
        .into_iter()
        .find(|participant| participant.id() == event.participant_id())
    else {
        unreachable!("the projection has the participant of the event it was given")
    };
    refusals_of(&participant, event.id())
        .into_iter()
        .map(AllocationFlag::from)
        .collect()
}

/// What the fold held against the randomisation `event_id`.
fn refusals_of(participant: &Participant, event_id: Uuid) -> Vec<RandomiseRefusal> {
    participant
        .anomalies()
        .iter()
        .find_map(|anomaly| match anomaly {
            Anomaly::RandomisedTwice { ignored, .. } if *ignored == event_id => {
                Some(vec![RandomiseRefusal::AlreadyRandomised])
            }
            Anomaly::RandomisedAgainstTheRule {
                event_id: against,
                refusals,
            } if *against == event_id => Some(refusals.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The lease's part of the check: issued to this device, used in order, then the
/// slot's place and the arm.
fn check_lease(
    device_id: Uuid,
    randomised: &Randomised,
    holdings: &Holdings<'_>,
) -> Vec<AllocationFlag> {
    let lease = randomised.lease_id;
    let Some(index) = holdings
        .own_leases
        .iter()
        .position(|issued| issued.lease.id() == lease)
    else {
        return vec![match holdings.lease_owner {
            Some(owner) if owner != device_id => {
                AllocationFlag::LeaseOfAnotherDevice { lease, owner }
            }
            _ => AllocationFlag::UnknownLease { lease },
        }];
    };
    let issued = holdings.own_leases[index];
    let slot = randomised.slot;
    let mut flags: Vec<AllocationFlag> = holdings.own_leases[..index]
        .iter()
        .filter_map(|earlier| {
            let slots_left = earlier.lease.n_slots() - next_slot(earlier);
            (slots_left > 0).then(|| AllocationFlag::LeaseOutOfOrder {
                lease,
                earlier: earlier.lease.id(),
                slots_left,
            })
        })
        .collect();
    let arm_mismatch = match issued.lease.verify(slot, randomised.arm) {
        Ok(()) => None,
        // A slot that does not exist is neither reused, skipped nor out of order.
        Err(VerifyError::SlotBeyondLease { n_slots, .. }) => {
            flags.push(AllocationFlag::SlotBeyondLease {
                lease,
                slot,
                n_slots,
            });
            return flags;
        }
        Err(VerifyError::ArmMismatch { reported, .. }) => Some(AllocationFlag::ArmMismatch {
            lease,
            slot,
            reported,
        }),
    };
    let expected = next_slot(&issued);
    if issued.used_slots.contains(&slot) {
        flags.push(AllocationFlag::SlotReused { lease, slot });
    } else if slot > expected {
        flags.push(AllocationFlag::SlotSkipped {
            lease,
            slot,
            expected,
        });
    } else if slot < expected {
        flags.push(AllocationFlag::SlotOutOfOrder {
            lease,
            slot,
            expected,
        });
    }
    flags.extend(arm_mismatch);
    flags
}

/// The slot a lease hands out next: the one after the highest its device
/// reported, ignoring reported slots past its end, which use nothing.
pub fn next_slot(issued: &IssuedLease<'_>) -> u32 {
    slots_consumed(issued.lease.n_slots(), issued.used_slots)
}

/// How many of a lease's `n_slots` its device has used or passed, given the
/// slots it reported: the index of the slot it takes next. The allocation
/// audit counts a tablet's stock by it without rebuilding any list.
pub fn slots_consumed(n_slots: u32, used_slots: &[u32]) -> u32 {
    used_slots
        .iter()
        .filter(|slot| **slot < n_slots)
        .max()
        .map_or(0, |last| last + 1)
}

impl AllocationFlag {
    /// A stable snake_case name, for storage and for the coordinator's lists.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownLease { .. } => "unknown_lease",
            Self::LeaseOfAnotherDevice { .. } => "lease_of_another_device",
            Self::SlotBeyondLease { .. } => "slot_beyond_lease",
            Self::SlotReused { .. } => "slot_reused",
            Self::SlotSkipped { .. } => "slot_skipped",
            Self::SlotOutOfOrder { .. } => "slot_out_of_order",
            Self::ArmMismatch { .. } => "arm_mismatch",
            Self::AlreadyRandomised => "already_randomised",
            Self::NotEligible(_) => "not_eligible",
            Self::NoConsent => "no_consent",
            Self::ScreenedOnAnotherDevice => "screened_on_another_device",
            Self::NotEnrolled => "not_enrolled",
            Self::LeaseOutOfOrder { .. } => "lease_out_of_order",
            Self::RandomisedAtMismatch { .. } => "randomised_at_mismatch",
            Self::StudyNumberOfAnotherTablet { .. } => "study_number_of_another_tablet",
            Self::DuplicateStudyNumber { .. } => "duplicate_study_number",
            Self::UnreadableRandomisation { .. } => "unreadable_randomisation",
            Self::RecordedByWrongUser(_) => "unknown_user",
            Self::ParticipantOfAnotherSite { .. } => "participant_of_another_site",
        }
    }
}

impl From<RandomiseRefusal> for AllocationFlag {
    fn from(refusal: RandomiseRefusal) -> Self {
        match refusal {
            RandomiseRefusal::AlreadyRandomised => Self::AlreadyRandomised,
            RandomiseRefusal::NotEligible(outcome) => Self::NotEligible(outcome),
            RandomiseRefusal::NoConsent => Self::NoConsent,
            RandomiseRefusal::ScreenedOnAnotherDevice => Self::ScreenedOnAnotherDevice,
            RandomiseRefusal::NotEnrolled => Self::NotEnrolled,
        }
    }
}

/// Plain words for the coordinator and the tablet.
impl fmt::Display for AllocationFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownLease { lease } => write!(
                f,
                "lease {lease} was not issued by the server (a training lease cannot \
                 randomise for real)"
            ),
            Self::LeaseOfAnotherDevice { lease, owner } => {
                write!(f, "lease {lease} belongs to another tablet ({owner})")
            }
            Self::SlotBeyondLease {
                lease,
                slot,
                n_slots,
            } => write!(
                f,
                "slot {slot} does not exist: lease {lease} has {n_slots} slots"
            ),
            Self::SlotReused { lease, slot } => {
                write!(f, "slot {slot} of lease {lease} was used before")
            }
            Self::SlotSkipped {
                lease,
                slot,
                expected,
            } => write!(
                f,
                "slot {slot} of lease {lease} was used, but slot {expected} came next: \
                 slots were skipped"
            ),
            Self::SlotOutOfOrder {
                lease,
                slot,
                expected,
            } => write!(
                f,
                "slot {slot} of lease {lease} was used after later slots (slot {expected} \
                 came next)"
            ),
            Self::ArmMismatch {
                lease,
                slot,
                reported,
            } => write!(
                f,
                "the arm reported for slot {slot} of lease {lease} ({reported}) is not the \
                 arm of the allocation list"
            ),
            Self::LeaseOutOfOrder {
                lease,
                earlier,
                slots_left,
            } => write!(
                f,
                "lease {lease} was used while the tablet's earlier lease {earlier} still had \
                 {slots_left} unused slots"
            ),
            Self::RandomisedAtMismatch {
                randomised_at,
                recorded_at,
            } => write!(
                f,
                "the randomisation names {} ms UTC as its moment, but was recorded at {} ms UTC",
                randomised_at.utc_ms(),
                recorded_at.utc_ms()
            ),
            Self::StudyNumberOfAnotherTablet {
                study_number,
                expected_prefix,
            } => write!(
                f,
                "study number {study_number} is not one of this tablet's, which begin \
                 {expected_prefix}"
            ),
            Self::DuplicateStudyNumber {
                study_number,
                holder,
            } => write!(
                f,
                "study number {study_number} was given before, by randomisation {holder}"
            ),
            Self::UnreadableRandomisation { reason } => write!(
                f,
                "the randomisation cannot be read ({reason}); the participant may have been \
                 allocated"
            ),
            Self::RecordedByWrongUser(error) => error.fmt(f),
            Self::ParticipantOfAnotherSite { site_code } => write!(
                f,
                "the participant belongs to site {site_code}, not to this tablet's"
            ),
            Self::AlreadyRandomised => f.write_str(
                "the participant was already randomised, or an earlier randomisation of \
                 theirs cannot be read",
            ),
            Self::NotEligible(Outcome::Ineligible { failed }) => {
                let failed: Vec<String> = failed.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "the screening does not show the participant eligible at the \
                     randomisation: {} not met",
                    failed.join(", ")
                )
            }
            Self::NotEligible(_) => f.write_str(
                "no complete screening recorded before the randomisation showed the \
                 participant eligible at it",
            ),
            Self::NoConsent => {
                f.write_str("no consent is recorded for the participant before the randomisation")
            }
            Self::ScreenedOnAnotherDevice => {
                f.write_str("the participant was screened first on another tablet")
            }
            Self::NotEnrolled => {
                f.write_str("the patient was recorded as not enrolled before the randomisation")
            }
        }
    }
}
