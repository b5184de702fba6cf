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
//! - **The slot** comes next on that lease: every slot the device reported before
//!   is used, so the next one is the one after the highest. A slot used before is
//!   *reused*, a later one *skips* slots, an earlier unused one is *out of order*,
//!   and a slot past the lease's end does not exist.
//! - **The arm** is the one the lease's list has at that slot.
//! - **The participant** may be randomised at the reported moment, by the rule the
//!   tablet itself applies before the tap ([`Participant::may_randomise`]), over the
//!   participant's events the server holds: not randomised before (by any device),
//!   eligible at that moment by the pushed screening, screened on this device,
//!   consented.
//!
//! Every problem is reported at once, so the coordinator sees the whole picture.

use std::fmt;

use uuid::Uuid;

use crate::eligibility::Outcome;
use crate::event::Event;
use crate::payload::Randomised;
use crate::projection::{RandomiseRefusal, project};
use crate::randomisation::{Arm, Lease, LeaseId, VerifyError};

/// A lease the server issued, as it stands when a randomisation from it arrives.
#[derive(Clone, Copy, Debug)]
pub struct IssuedLease<'a> {
    /// The lease, rebuilt from the server's records with its seed.
    pub lease: &'a Lease,
    /// Every slot of the lease its own device reported before, in any order.
    pub used_slots: &'a [u32],
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
    /// Occurs when the participant was randomised before, on any device.
    AlreadyRandomised,
    /// Occurs when the screening the server holds does not show the participant
    /// eligible at the moment of the randomisation, or there is none.
    NotEligible(Outcome),
    /// Occurs when the server holds no consent for the participant.
    NoConsent,
    /// Occurs when another device screened the participant.
    ScreenedOnAnotherDevice,
    /// Occurs when the patient was recorded as not enrolled before.
    NotEnrolled,
}

/// Checks a randomisation a device reported, as the module doc describes.
///
/// `event` is the pushed event and `randomised` its payload, already parsed;
/// `lease` is the server's lease of that id, `None` when it never issued one;
/// `participant_log` holds the events of the participant the server stored before
/// this one (those it accepted, and any earlier randomisation, flagged or not).
pub fn verify_randomisation(
    event: &Event,
    randomised: &Randomised,
    lease: Option<IssuedLease<'_>>,
    participant_log: &[Event],
) -> Result<(), Vec<AllocationFlag>> {
    let mut flags = match lease {
        None => vec![AllocationFlag::UnknownLease {
            lease: randomised.lease_id,
        }],
        Some(issued) => check_slot(event.device_id(), randomised, issued),
    };
    let participant = project(participant_log)
        .into_iter()
        .find(|participant| participant.id() == event.participant_id());
    let refusal = match participant {
        Some(participant) => participant
            .may_randomise(randomised.randomised_at, event.device_id())
            .err(),
        // Nothing stored about the participant: no screening to be eligible by,
        // which is what `may_randomise` says of a participant without one.
        None => Some(RandomiseRefusal::NotEligible(Outcome::Incomplete {
            missing: Vec::new(),
        })),
    };
    flags.extend(refusal.map(AllocationFlag::from));
    if flags.is_empty() { Ok(()) } else { Err(flags) }
}

/// The lease's part of the check: ownership, then the slot's place, then the arm.
fn check_slot(
    device_id: Uuid,
    randomised: &Randomised,
    issued: IssuedLease<'_>,
) -> Vec<AllocationFlag> {
    let lease = issued.lease.id();
    let owner = issued.lease.stratum().device();
    if owner != device_id {
        return vec![AllocationFlag::LeaseOfAnotherDevice { lease, owner }];
    }
    let slot = randomised.slot;
    let arm_mismatch = match issued.lease.verify(slot, randomised.arm) {
        Ok(()) => None,
        // A slot that does not exist is neither reused, skipped nor out of order.
        Err(VerifyError::SlotBeyondLease { n_slots, .. }) => {
            return vec![AllocationFlag::SlotBeyondLease {
                lease,
                slot,
                n_slots,
            }];
        }
        Err(VerifyError::ArmMismatch { reported, .. }) => Some(AllocationFlag::ArmMismatch {
            lease,
            slot,
            reported,
        }),
    };
    let expected = issued.used_slots.iter().max().map_or(0, |last| last + 1);
    let mut flags = Vec::new();
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
            Self::AlreadyRandomised => f.write_str("the participant was already randomised"),
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
                "no complete screening showed the participant eligible at the randomisation",
            ),
            Self::NoConsent => f.write_str("no consent is recorded for the participant"),
            Self::ScreenedOnAnotherDevice => {
                f.write_str("the participant was screened on another tablet")
            }
            Self::NotEnrolled => {
                f.write_str("the patient was recorded as not enrolled before the randomisation")
            }
        }
    }
}
