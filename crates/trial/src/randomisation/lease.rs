//! The leases that hand a list out slot by slot: a run of whole blocks of one
//! seed's list, lent by the server to one tablet for one stratum, used strictly in
//! order, and the check of every allocation a tablet reports against it.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Arm, Blocks, RandomisationConfig, Seed, arm_at};

/// The most blocks one lease may hold; a tablet tops its lease up when online, so a
/// bigger lease only means more of the list sits on one device.
pub const MAX_LEASE_BLOCKS: u32 = 1_000;

/// The stratum a list belongs to: randomisation is stratified by site and device, so
/// each tablet's allocations are balanced on their own.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "StratumRepr", into = "StratumRepr")]
pub struct Stratum {
    site: String,
    device: Uuid,
}

/// How a [`Stratum`] crosses the wire and sits in storage.
#[derive(Serialize, Deserialize)]
struct StratumRepr {
    site: String,
    device: Uuid,
}

/// The longest site identifier accepted, in bytes; site ids are short codes.
pub const MAX_SITE_LEN: usize = 64;

/// Occurs when a stratum cannot name a site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StratumError {
    /// Occurs when the site identifier is empty or only whitespace.
    EmptySite,
    /// Occurs when the site identifier is longer than [`MAX_SITE_LEN`] bytes.
    SiteTooLong {
        /// The length that was given, in bytes.
        length: usize,
        /// The longest length allowed, in bytes.
        max: usize,
    },
}

/// Identifies a lease, so that every allocation can be traced to the lease (and so
/// the seed) it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaseId(Uuid);

/// A run of whole blocks of one seed's list, lent by the server to one tablet, which
/// hands its slots out strictly in order.
///
/// There is no `Serialize`: the seed must be stored sealed, so the app stores the
/// parts (see the getters) and rebuilds the lease with [`Lease::resume`]. `Debug`
/// conceals the seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    id: LeaseId,
    stratum: Stratum,
    seed: Seed,
    config: RandomisationConfig,
    n_slots: u32,
    next_slot: u32,
}

/// Occurs when a lease cannot be issued, rebuilt, or used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseError {
    /// Occurs when a lease is issued with no blocks or more than
    /// [`MAX_LEASE_BLOCKS`].
    BlockCountOutOfRange {
        /// The number of blocks asked for.
        n_blocks: u32,
        /// The most blocks a lease may hold.
        max: u32,
    },
    /// Occurs when a stored lease claims no slots, or more than
    /// [`MAX_LEASE_BLOCKS`] blocks of the largest size could hold.
    SlotCountOutOfRange {
        /// The number of slots claimed.
        n_slots: u32,
        /// The most slots a lease with this configuration may hold.
        max: u32,
    },
    /// Occurs when a stored lease ends inside a block: leases are whole blocks, so
    /// the state was corrupted or belongs to another seed or configuration.
    NotOnBlockBoundary {
        /// The number of slots claimed.
        n_slots: u32,
        /// The last block boundary before `n_slots`.
        previous_boundary: u32,
        /// The first block boundary after `n_slots`.
        next_boundary: u32,
    },
    /// Occurs when a stored lease's next slot lies beyond its end.
    NextSlotBeyondEnd {
        /// The next slot claimed.
        next_slot: u32,
        /// The number of slots in the lease.
        n_slots: u32,
    },
    /// Occurs when every slot of the lease has been used: the tablet must top up
    /// its lease from the server before it can randomise again.
    Exhausted {
        /// The lease that is used up.
        lease: LeaseId,
        /// The number of slots it held, all used.
        n_slots: u32,
    },
}

/// One slot of a lease, handed out once: which participant gets which arm is
/// recorded with it in the `Randomised` event.
///
/// Only [`Lease::allocate`] makes one on the tablet; one deserialised from a
/// report is a claim for the server to check with [`Lease::verify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    lease: LeaseId,
    slot: u32,
    arm: Arm,
}

/// Occurs when an allocation a tablet reports does not match its lease's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// Occurs when the slot lies beyond the end of the lease.
    SlotBeyondLease {
        /// The lease the allocation claims to come from.
        lease: LeaseId,
        /// The slot reported.
        slot: u32,
        /// The number of slots in the lease.
        n_slots: u32,
    },
    /// Occurs when the arm reported is not the arm the list has at that slot.
    ArmMismatch {
        /// The lease the allocation claims to come from.
        lease: LeaseId,
        /// The slot reported.
        slot: u32,
        /// The arm the list has at that slot.
        expected: Arm,
        /// The arm the tablet reported.
        reported: Arm,
    },
}

impl Stratum {
    /// Names the site (a short code from the server's site configuration) and the
    /// device whose list this is.
    pub fn new(site: impl Into<String>, device: Uuid) -> Result<Self, StratumError> {
        let site = site.into();
        if site.trim().is_empty() {
            return Err(StratumError::EmptySite);
        }
        if site.len() > MAX_SITE_LEN {
            return Err(StratumError::SiteTooLong {
                length: site.len(),
                max: MAX_SITE_LEN,
            });
        }
        Ok(Self { site, device })
    }

    /// The site's identifier.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// The device's identifier.
    pub fn device(&self) -> Uuid {
        self.device
    }
}

impl TryFrom<StratumRepr> for Stratum {
    type Error = StratumError;
    fn try_from(repr: StratumRepr) -> Result<Self, Self::Error> {
        Self::new(repr.site, repr.device)
    }
}

impl From<Stratum> for StratumRepr {
    fn from(stratum: Stratum) -> Self {
        Self {
            site: stratum.site,
            device: stratum.device,
        }
    }
}

impl fmt::Display for StratumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptySite => f.write_str("the site identifier is empty"),
            Self::SiteTooLong { length, max } => write!(
                f,
                "the site identifier is {length} bytes long; at most {max} are allowed"
            ),
        }
    }
}

impl std::error::Error for StratumError {}

impl LeaseId {
    /// Wraps an id generated by the server (this crate generates none).
    pub fn new(id: Uuid) -> Self {
        Self(id)
    }

    /// The underlying UUID, for storage.
    pub fn as_uuid(self) -> Uuid {
        self.0
    }
}

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Lease {
    /// Issues a new lease of the first `n_blocks` whole blocks of `seed`'s list, as
    /// the server does when a tablet asks for one.
    pub fn issue(
        id: LeaseId,
        stratum: Stratum,
        seed: Seed,
        config: RandomisationConfig,
        n_blocks: u32,
    ) -> Result<Self, LeaseError> {
        if !(1..=MAX_LEASE_BLOCKS).contains(&n_blocks) {
            return Err(LeaseError::BlockCountOutOfRange {
                n_blocks,
                max: MAX_LEASE_BLOCKS,
            });
        }
        let n_slots = Blocks::new(&seed, &config)
            .take(n_blocks as usize)
            .map(|block| u32::try_from(block.len()).expect("a block holds at most 16 slots"))
            .sum();
        Ok(Self {
            id,
            stratum,
            seed,
            config,
            n_slots,
            next_slot: 0,
        })
    }

    /// Rebuilds a lease from stored state, checking that it still ends on a block
    /// boundary of this seed's list and that its next slot is inside it.
    pub fn resume(
        id: LeaseId,
        stratum: Stratum,
        seed: Seed,
        config: RandomisationConfig,
        n_slots: u32,
        next_slot: u32,
    ) -> Result<Self, LeaseError> {
        let max_slots = MAX_LEASE_BLOCKS * config.largest_block();
        if !(1..=max_slots).contains(&n_slots) {
            return Err(LeaseError::SlotCountOutOfRange {
                n_slots,
                max: max_slots,
            });
        }
        let mut boundary = 0;
        for block in Blocks::new(&seed, &config) {
            let previous_boundary = boundary;
            boundary += u32::try_from(block.len()).expect("a block holds at most 16 slots");
            if boundary == n_slots {
                break;
            }
            if boundary > n_slots {
                return Err(LeaseError::NotOnBlockBoundary {
                    n_slots,
                    previous_boundary,
                    next_boundary: boundary,
                });
            }
        }
        if next_slot > n_slots {
            return Err(LeaseError::NextSlotBeyondEnd { next_slot, n_slots });
        }
        Ok(Self {
            id,
            stratum,
            seed,
            config,
            n_slots,
            next_slot,
        })
    }

    /// Hands out the next slot and its arm. Slots go strictly in order and each only
    /// once; the caller records the allocation in the same transaction that stores
    /// the advanced `next_slot`.
    pub fn allocate(&mut self) -> Result<Allocation, LeaseError> {
        if self.next_slot >= self.n_slots {
            return Err(LeaseError::Exhausted {
                lease: self.id,
                n_slots: self.n_slots,
            });
        }
        let slot = self.next_slot;
        let arm = arm_at(&self.seed, &self.config, slot);
        self.next_slot += 1;
        Ok(Allocation {
            lease: self.id,
            slot,
            arm,
        })
    }

    /// Checks an allocation a tablet reported for this lease against the list, as
    /// the server does on sync. Whether a slot was skipped or used twice is a
    /// question about the whole log, answered elsewhere.
    pub fn verify(&self, slot: u32, arm: Arm) -> Result<(), VerifyError> {
        if slot >= self.n_slots {
            return Err(VerifyError::SlotBeyondLease {
                lease: self.id,
                slot,
                n_slots: self.n_slots,
            });
        }
        let expected = arm_at(&self.seed, &self.config, slot);
        if expected != arm {
            return Err(VerifyError::ArmMismatch {
                lease: self.id,
                slot,
                expected,
                reported: arm,
            });
        }
        Ok(())
    }

    /// The lease's id.
    pub fn id(&self) -> LeaseId {
        self.id
    }

    /// The stratum the lease's list belongs to.
    pub fn stratum(&self) -> &Stratum {
        &self.stratum
    }

    /// The seed, for sealing it into storage; never show it.
    pub fn seed(&self) -> &Seed {
        &self.seed
    }

    /// The block sizes the list is made of.
    pub fn config(&self) -> &RandomisationConfig {
        &self.config
    }

    /// How many slots the lease holds; always the end of a whole block.
    pub fn n_slots(&self) -> u32 {
        self.n_slots
    }

    /// The slot the next allocation will use; equal to `n_slots` when exhausted.
    pub fn next_slot(&self) -> u32 {
        self.next_slot
    }

    /// How many allocations the lease can still make, so the app can top it up
    /// before it runs out.
    pub fn slots_left(&self) -> u32 {
        self.n_slots - self.next_slot
    }
}

impl fmt::Display for LeaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BlockCountOutOfRange { n_blocks, max } => write!(
                f,
                "a lease must hold from 1 to {max} blocks; {n_blocks} were asked for"
            ),
            Self::SlotCountOutOfRange { n_slots, max } => write!(
                f,
                "a stored lease claims {n_slots} slots; it must hold from 1 to {max}"
            ),
            Self::NotOnBlockBoundary {
                n_slots,
                previous_boundary,
                next_boundary,
            } => write!(
                f,
                "a stored lease ends at slot {n_slots}, inside a block \
                 (blocks end at {previous_boundary} and {next_boundary}): \
                 the lease state does not match its seed"
            ),
            Self::NextSlotBeyondEnd { next_slot, n_slots } => write!(
                f,
                "a stored lease's next slot {next_slot} is beyond its {n_slots} slots"
            ),
            Self::Exhausted { lease, n_slots } => write!(
                f,
                "all {n_slots} allocations of lease {lease} are used: \
                 connect to the server to get more before randomising"
            ),
        }
    }
}

impl std::error::Error for LeaseError {}

impl Allocation {
    /// The lease the slot belongs to.
    pub fn lease(&self) -> LeaseId {
        self.lease
    }

    /// The slot's position in the lease's list, counting from 0.
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// The arm allocated.
    pub fn arm(&self) -> Arm {
        self.arm
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SlotBeyondLease {
                lease,
                slot,
                n_slots,
            } => write!(
                f,
                "slot {slot} is beyond the {n_slots} slots of lease {lease}"
            ),
            Self::ArmMismatch {
                lease,
                slot,
                expected,
                reported,
            } => write!(
                f,
                "slot {slot} of lease {lease} was reported as {reported}, \
                 but the list has {expected}"
            ),
        }
    }
}

impl std::error::Error for VerifyError {}
