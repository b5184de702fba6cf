//! Which arm comes next: 1:1 permuted blocks of randomly varying size, drawn from a
//! seed, and the allocation leases that hand them out slot by slot.
//!
//! The list is generated on the tablet, offline, and regenerated on the server to
//! verify every allocation a tablet reports (DESIGN.md, "Randomisation"). Both must
//! therefore produce the same arms from the same seed on every platform and with
//! every build of this crate, for as long as the trial runs. That is why the
//! algorithm below is spelled out, uses only `next_u32` of a named generator, and is
//! pinned by golden vectors in the tests: **changing any step changes every list
//! already in the field.**
//!
//! # The algorithm (a wire promise)
//!
//! 1. The generator is ChaCha20 (`rand::rngs::ChaCha20Rng`, 20 rounds) seeded with
//!    the 32 seed bytes through `SeedableRng::from_seed`. Only its `next_u32` output
//!    is used, one 32-bit word at a time.
//! 2. `below(n)`, a uniform draw from `0..n` for `1 ≤ n`: draw a word `x`; if
//!    `x < 2³² − (2³² mod n)` return `x mod n`, otherwise discard `x` and draw again
//!    (rejection sampling, so there is no modulo bias). Every call consumes at least
//!    one word, even when `n = 1`.
//! 3. The block sizes of a [`RandomisationConfig`] are kept sorted ascending. Each
//!    block starts with `index = below(number of sizes)` and takes
//!    `size = sizes[index]`.
//! 4. The block is laid out as `size / 2` × hemoperfusion followed by `size / 2` ×
//!    standard care, then shuffled by Fisher–Yates from the back: for `i` from
//!    `size − 1` down to `1`, `j = below(i + 1)`, swap positions `i` and `j`.
//! 5. Blocks follow one another from the same generator, endlessly. Slot `k` of a
//!    seed is the `k`-th arm (counting from 0) of the concatenated blocks.
//!
//! `rand`'s own `shuffle`, `random_range` and distributions are deliberately not
//! used: their outputs have changed between minor releases, and `usize` is never
//! sampled because wasm32 is a 32-bit target (PITFALLS.md §3).
//!
//! # Concealment
//!
//! A seed reveals every future arm of its list, so [`Seed`] has no `Display` and its
//! `Debug` prints `Seed(<concealed>)`; a [`Lease`] or a log line that includes one
//! shows nothing either. [`Blocks`] and [`AllocationSequence`] have no `Debug` at all,
//! because their generator state is as revealing as the seed.

use std::fmt;

use rand::rngs::ChaCha20Rng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The largest block size a configuration may use; larger blocks let the arms drift
/// further apart before they balance again, which weakens a 1:1 trial.
pub const MAX_BLOCK_SIZE: u32 = 16;

/// The most blocks one lease may hold; a tablet tops its lease up when online, so a
/// bigger lease only means more of the list sits on one device.
pub const MAX_LEASE_BLOCKS: u32 = 1_000;

/// The treatment a participant is randomised to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// Hemoperfusion added to standard ECMO care: the intervention arm.
    Hemoperfusion,
    /// Standard ECMO care alone: the control arm.
    StandardCare,
}

/// The 32 bytes that determine a whole allocation list.
///
/// Anyone who holds a seed can compute every future arm of its list, so the seed is
/// sealed to the tablet in storage and in transit, and this type never prints its
/// bytes: `Debug` shows `Seed(<concealed>)` and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Seed([u8; 32]);

/// The block sizes a list is made of, validated so that every block is 1:1.
///
/// There is deliberately no `Default`: which sizes a trial uses is a protocol
/// decision that every caller states, usually with [`RandomisationConfig::standard`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ConfigRepr", into = "ConfigRepr")]
pub struct RandomisationConfig {
    /// Sorted ascending, no duplicates, each even and in `2..=MAX_BLOCK_SIZE`.
    block_sizes: Vec<u32>,
}

/// How a [`RandomisationConfig`] crosses the wire and sits in storage.
#[derive(Serialize, Deserialize)]
struct ConfigRepr {
    block_sizes: Vec<u32>,
}

/// Occurs when a list of block sizes cannot give 1:1 permuted blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Occurs when no block size is given at all.
    NoBlockSizes,
    /// Occurs when a block size is odd, zero, or larger than [`MAX_BLOCK_SIZE`]: an
    /// odd block cannot hold the two arms equally.
    InvalidBlockSize {
        /// The size that was given.
        block_size: u32,
        /// The largest size allowed.
        max: u32,
    },
    /// Occurs when the same block size is listed twice, which would silently make it
    /// more likely than the others.
    DuplicateBlockSize {
        /// The size that was listed more than once.
        block_size: u32,
    },
}

/// The blocks of one seed's list, one after another, endlessly.
///
/// Leases are made of whole blocks, so lease sizes are computed from this. No
/// `Debug`: the generator state reveals the list.
pub struct Blocks {
    rng: ChaCha20Rng,
    config: RandomisationConfig,
}

/// The arms of one seed's list, slot after slot, endlessly.
///
/// No `Debug`: the generator state reveals the list.
pub struct AllocationSequence {
    blocks: Blocks,
    current_block: std::vec::IntoIter<Arm>,
}

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

impl Arm {
    /// Both arms, in a fixed order, for tallies and exhaustive tests.
    pub const ALL: [Arm; 2] = [Arm::Hemoperfusion, Arm::StandardCare];

    /// The arm's name as stored and sent (the same as its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Arm::Hemoperfusion => "hemoperfusion",
            Arm::StandardCare => "standard_care",
        }
    }
}

impl fmt::Display for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Seed {
    /// Wraps 32 bytes from the server's entropy source (this crate draws none).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes, for sealing the seed to a tablet's key and for storing it on
    /// the server.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seed(<concealed>)")
    }
}

/// Serialised as 64 lowercase hex digits, for the server's sealed storage.
impl Serialize for Seed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Seed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0; 32];
        // The error names only the problem, never the text: it may be a real seed
        // with one digit damaged.
        hex::decode_to_slice(&text, &mut bytes).map_err(|error| {
            serde::de::Error::custom(format_args!("a seed must be 64 hex digits: {error}"))
        })?;
        Ok(Self(bytes))
    }
}

impl RandomisationConfig {
    /// Validates a set of block sizes; the order given does not matter, because the
    /// sizes are kept sorted (step 3 of the module's algorithm).
    pub fn new(block_sizes: Vec<u32>) -> Result<Self, ConfigError> {
        let mut block_sizes = block_sizes;
        if block_sizes.is_empty() {
            return Err(ConfigError::NoBlockSizes);
        }
        if let Some(&block_size) = block_sizes
            .iter()
            .find(|&&size| size == 0 || size % 2 != 0 || size > MAX_BLOCK_SIZE)
        {
            return Err(ConfigError::InvalidBlockSize {
                block_size,
                max: MAX_BLOCK_SIZE,
            });
        }
        block_sizes.sort_unstable();
        if let Some(pair) = block_sizes.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(ConfigError::DuplicateBlockSize {
                block_size: pair[0],
            });
        }
        Ok(Self { block_sizes })
    }

    /// The protocol's configuration: blocks of 2, 4 and 6, equally likely.
    pub fn standard() -> Self {
        Self::new(vec![2, 4, 6]).expect("2, 4 and 6 are valid, distinct block sizes")
    }

    /// The block sizes, sorted ascending.
    pub fn block_sizes(&self) -> &[u32] {
        &self.block_sizes
    }

    /// The largest block size: the arms never differ by more than half of it at any
    /// point of the list.
    pub fn largest_block(&self) -> u32 {
        *self
            .block_sizes
            .last()
            .expect("RandomisationConfig::new rejects an empty list")
    }
}

impl TryFrom<ConfigRepr> for RandomisationConfig {
    type Error = ConfigError;
    fn try_from(repr: ConfigRepr) -> Result<Self, Self::Error> {
        Self::new(repr.block_sizes)
    }
}

impl From<RandomisationConfig> for ConfigRepr {
    fn from(config: RandomisationConfig) -> Self {
        Self {
            block_sizes: config.block_sizes,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoBlockSizes => f.write_str("no block sizes were given"),
            Self::InvalidBlockSize { block_size, max } => write!(
                f,
                "block size {block_size} is not allowed: sizes must be even, from 2 to {max}"
            ),
            Self::DuplicateBlockSize { block_size } => {
                write!(f, "block size {block_size} is listed more than once")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Blocks {
    /// Starts the list of `seed` at its first block.
    pub fn new(seed: &Seed, config: &RandomisationConfig) -> Self {
        Self {
            rng: ChaCha20Rng::from_seed(seed.0),
            config: config.clone(),
        }
    }
}

impl Iterator for Blocks {
    type Item = Vec<Arm>;

    /// Steps 3 and 4 of the module's algorithm.
    fn next(&mut self) -> Option<Vec<Arm>> {
        let sizes = &self.config.block_sizes;
        let n_sizes = u32::try_from(sizes.len()).expect("at most 8 valid block sizes exist");
        let size_idx = below(&mut self.rng, n_sizes);
        let size = sizes[size_idx as usize];
        let half = (size / 2) as usize;
        let mut block = vec![Arm::Hemoperfusion; half];
        block.resize(2 * half, Arm::StandardCare);
        for i in (1..size).rev() {
            let j = below(&mut self.rng, i + 1);
            block.swap(i as usize, j as usize);
        }
        Some(block)
    }
}

impl AllocationSequence {
    /// Starts the list of `seed` at slot 0.
    pub fn new(seed: &Seed, config: &RandomisationConfig) -> Self {
        Self {
            blocks: Blocks::new(seed, config),
            current_block: Vec::new().into_iter(),
        }
    }
}

impl Iterator for AllocationSequence {
    type Item = Arm;

    fn next(&mut self) -> Option<Arm> {
        loop {
            if let Some(arm) = self.current_block.next() {
                return Some(arm);
            }
            self.current_block = self.blocks.next()?.into_iter();
        }
    }
}

/// The arm at `slot` (counting from 0) of `seed`'s list: what the server checks a
/// reported allocation against.
pub fn arm_at(seed: &Seed, config: &RandomisationConfig, slot: u32) -> Arm {
    AllocationSequence::new(seed, config)
        .nth(slot as usize)
        .expect("an allocation sequence never ends")
}

/// A uniform draw from `0..n` by rejection sampling (step 2 of the module's
/// algorithm). `n` must be at least 1.
fn below(rng: &mut impl Rng, n: u32) -> u32 {
    debug_assert!(n >= 1, "below(0) has no value to return");
    let range = u64::from(n);
    // The largest multiple of n not above 2³²: words from here up would favour the
    // smallest values, so they are drawn again.
    let accept_below = (1u64 << 32) - (1u64 << 32) % range;
    loop {
        let word = u64::from(rng.next_u32());
        if word < accept_below {
            return u32::try_from(word % range).expect("a remainder of n fits in u32");
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The list as letters, H for hemoperfusion and S for standard care.
    fn letters(seed: &Seed, config: &RandomisationConfig, n_slots: usize) -> String {
        AllocationSequence::new(seed, config)
            .take(n_slots)
            .map(|arm| match arm {
                Arm::Hemoperfusion => 'H',
                Arm::StandardCare => 'S',
            })
            .collect()
    }

    fn counting_seed() -> Seed {
        let mut bytes = [0; 32];
        for (byte, value) in bytes.iter_mut().zip(1..=32) {
            *byte = value;
        }
        Seed::from_bytes(bytes)
    }

    fn check_golden(seed: &Seed, expected_arms: &str, expected_block_sizes: &[u32]) {
        let config = RandomisationConfig::standard();
        assert_eq!(letters(seed, &config, expected_arms.len()), expected_arms);
        let block_sizes: Vec<usize> = Blocks::new(seed, &config)
            .take(expected_block_sizes.len())
            .map(|block| block.len())
            .collect();
        let expected_block_sizes: Vec<usize> = expected_block_sizes
            .iter()
            .map(|&size| size as usize)
            .collect();
        assert_eq!(block_sizes, expected_block_sizes);
    }

    // GOLDEN VECTORS. These pin the algorithm in the module doc, ChaCha20 and the
    // pinned `rand` release; an independent implementation of the documented
    // algorithm over RFC 8439 ChaCha20 gave the same letters. If this test fails,
    // every allocation list already in the field has changed and the server can no
    // longer verify the tablets. Never update these strings to make the test pass:
    // find what changed and undo it.
    #[test]
    fn golden_vectors_never_change() {
        check_golden(
            &Seed::from_bytes([0; 32]),
            "SHHSSHHSSHSSHHSSSHHHSSHH",
            &[2, 2, 6, 4, 6, 6],
        );
        check_golden(
            &counting_seed(),
            "SHHSHSHSHSHHSSHSHSHHSSSH",
            &[2, 6, 6, 2, 2, 4, 4],
        );
    }

    #[test]
    fn generator_is_chacha20_with_a_zero_nonce() {
        // The first keystream words of ChaCha20 with an all-zero key, nonce and
        // counter (the test vector of the original ChaCha paper's reference code,
        // also used by rand_chacha): a change of generator fails here first.
        let mut rng = ChaCha20Rng::from_seed([0; 32]);
        let words: Vec<u32> = (0..4).map(|_| rng.next_u32()).collect();
        assert_eq!(words, [0xade0_b876, 0x903d_f1a0, 0xe56a_5d40, 0x28bd_8653]);
    }

    fn check_config(block_sizes: Vec<u32>, expected: Result<&[u32], ConfigError>) {
        let given = format!("{block_sizes:?}");
        let actual = RandomisationConfig::new(block_sizes);
        assert_eq!(
            actual.as_ref().map(RandomisationConfig::block_sizes),
            expected.as_ref().map(|sizes| *sizes),
            "block sizes {given}"
        );
    }

    #[test]
    fn config_accepts_only_distinct_even_sizes_up_to_the_maximum() {
        check_config(vec![2, 4, 6], Ok(&[2, 4, 6]));
        check_config(vec![6, 2, 4], Ok(&[2, 4, 6]));
        check_config(vec![2], Ok(&[2]));
        check_config(vec![16], Ok(&[16]));
        check_config(vec![], Err(ConfigError::NoBlockSizes));
        let invalid = |block_size| ConfigError::InvalidBlockSize {
            block_size,
            max: 16,
        };
        check_config(vec![0], Err(invalid(0)));
        check_config(vec![2, 3], Err(invalid(3)));
        check_config(vec![18], Err(invalid(18)));
        check_config(
            vec![4, 2, 4],
            Err(ConfigError::DuplicateBlockSize { block_size: 4 }),
        );
    }

    #[test]
    fn config_order_does_not_change_the_list() {
        let seed = counting_seed();
        let sorted = RandomisationConfig::new(vec![2, 4, 6]).unwrap();
        let shuffled = RandomisationConfig::new(vec![6, 2, 4]).unwrap();
        assert_eq!(letters(&seed, &sorted, 60), letters(&seed, &shuffled, 60));
        assert_eq!(sorted.largest_block(), 6);
    }

    #[test]
    fn config_deserialising_validates() {
        let config: RandomisationConfig = serde_json::from_str(r#"{"block_sizes":[4,2]}"#).unwrap();
        assert_eq!(config.block_sizes(), [2, 4]);
        let odd = serde_json::from_str::<RandomisationConfig>(r#"{"block_sizes":[3]}"#);
        let error = odd.unwrap_err().to_string();
        assert!(error.contains("block size 3"), "{error}");
    }

    #[test]
    fn seed_never_prints_its_bytes() {
        let seed = Seed::from_bytes([0xab; 32]);
        assert_eq!(format!("{seed:?}"), "Seed(<concealed>)");
        let lease = Lease::issue(
            LeaseId::new(Uuid::nil()),
            Stratum::new("BJ01", Uuid::nil()).unwrap(),
            seed,
            RandomisationConfig::standard(),
            1,
        )
        .unwrap();
        let debug = format!("{lease:?}");
        assert!(debug.contains("Seed(<concealed>)"), "{debug}");
        assert!(!debug.contains("ab") && !debug.contains("171"), "{debug}");
    }

    #[test]
    fn seed_serialises_as_hex_and_back() {
        let seed = counting_seed();
        let json = serde_json::to_string(&seed).unwrap();
        assert_eq!(
            json,
            "\"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\""
        );
        assert_eq!(serde_json::from_str::<Seed>(&json).unwrap(), seed);
        let short = serde_json::from_str::<Seed>("\"0102\"").unwrap_err();
        assert!(short.to_string().contains("64 hex digits"), "{short}");
        let not_hex = serde_json::from_str::<Seed>(&json.replace('a', "x")).unwrap_err();
        assert!(not_hex.to_string().contains("64 hex digits"), "{not_hex}");
    }

    /// A generator that returns the words it is given, to test `below` exactly.
    struct Scripted<'a>(std::iter::Copied<std::slice::Iter<'a, u32>>);

    impl rand::TryRng for Scripted<'_> {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.0.next().expect("the script has enough words"))
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            unreachable!("below draws 32-bit words only")
        }
        fn try_fill_bytes(&mut self, _dst: &mut [u8]) -> Result<(), Self::Error> {
            unreachable!("below draws 32-bit words only")
        }
    }

    fn check_below(n: u32, words: &[u32], expected: u32, words_used: usize) {
        let mut rng = Scripted(words.iter().copied());
        assert_eq!(below(&mut rng, n), expected, "n {n}, words {words:?}");
        assert_eq!(
            words.len() - rng.0.len(),
            words_used,
            "n {n}, words {words:?}"
        );
    }

    #[test]
    fn below_rejects_only_the_biased_tail() {
        check_below(1, &[u32::MAX, 5], 0, 1);
        check_below(2, &[u32::MAX, 5], 1, 1);
        check_below(2, &[6, 5], 0, 1);
        // 2³² mod 3 = 1: only the very last word is rejected.
        check_below(3, &[u32::MAX, 7], 1, 2);
        check_below(3, &[u32::MAX - 1, 7], 2, 1);
        // 2³² mod 6 = 4: the last four words are rejected.
        check_below(6, &[u32::MAX - 3, u32::MAX, 11], 5, 3);
        check_below(6, &[u32::MAX - 4, 11], 5, 1);
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = ChaCha20Rng::from_seed([9; 32]);
        for n in 1..=17 {
            for _ in 0..200 {
                assert!(below(&mut rng, n) < n);
            }
        }
    }

    fn lease(n_blocks: u32) -> Result<Lease, LeaseError> {
        Lease::issue(
            LeaseId::new(Uuid::from_u128(1)),
            Stratum::new("BJ01", Uuid::from_u128(2)).unwrap(),
            counting_seed(),
            RandomisationConfig::standard(),
            n_blocks,
        )
    }

    #[test]
    fn lease_issue_rejects_block_counts_out_of_range() {
        let out_of_range = |n_blocks| LeaseError::BlockCountOutOfRange {
            n_blocks,
            max: 1_000,
        };
        assert_eq!(lease(0), Err(out_of_range(0)));
        assert_eq!(lease(1_001), Err(out_of_range(1_001)));
        assert!(lease(1_000).is_ok());
    }

    fn check_resume(n_slots: u32, next_slot: u32, expected: Result<u32, LeaseError>) {
        let resumed = Lease::resume(
            LeaseId::new(Uuid::from_u128(1)),
            Stratum::new("BJ01", Uuid::from_u128(2)).unwrap(),
            counting_seed(),
            RandomisationConfig::standard(),
            n_slots,
            next_slot,
        );
        assert_eq!(
            resumed.map(|lease| lease.slots_left()),
            expected,
            "n_slots {n_slots}, next_slot {next_slot}"
        );
    }

    #[test]
    fn lease_resume_checks_the_stored_state() {
        let boundaries: Vec<u32> = Blocks::new(&counting_seed(), &RandomisationConfig::standard())
            .take(3)
            .scan(0, |end, block| {
                *end += block.len() as u32;
                Some(*end)
            })
            .collect();
        let [first, second, third] = boundaries[..] else {
            unreachable!("three blocks were taken")
        };
        check_resume(first, 0, Ok(first));
        check_resume(third, second, Ok(third - second));
        check_resume(third, third, Ok(0));
        check_resume(
            third,
            third + 1,
            Err(LeaseError::NextSlotBeyondEnd {
                next_slot: third + 1,
                n_slots: third,
            }),
        );
        check_resume(
            0,
            0,
            Err(LeaseError::SlotCountOutOfRange {
                n_slots: 0,
                max: 6_000,
            }),
        );
        check_resume(
            6_001,
            0,
            Err(LeaseError::SlotCountOutOfRange {
                n_slots: 6_001,
                max: 6_000,
            }),
        );
        if second - first > 1 {
            check_resume(
                first + 1,
                0,
                Err(LeaseError::NotOnBlockBoundary {
                    n_slots: first + 1,
                    previous_boundary: first,
                    next_boundary: second,
                }),
            );
        }
    }

    #[test]
    fn lease_allocates_in_order_then_refuses() {
        let mut lease = lease(2).unwrap();
        let n_slots = lease.n_slots();
        let expected: Vec<Arm> = AllocationSequence::new(lease.seed(), lease.config())
            .take(n_slots as usize)
            .collect();
        for (slot, arm) in (0..n_slots).zip(expected) {
            let allocation = lease.allocate().unwrap();
            assert_eq!((allocation.slot(), allocation.arm()), (slot, arm));
            assert_eq!(lease.verify(slot, arm), Ok(()));
        }
        assert_eq!(lease.slots_left(), 0);
        assert_eq!(
            lease.allocate(),
            Err(LeaseError::Exhausted {
                lease: LeaseId::new(Uuid::from_u128(1)),
                n_slots
            })
        );
    }

    #[test]
    fn lease_verify_flags_wrong_arms_and_slots() {
        let lease = lease(1).unwrap();
        let expected = arm_at(lease.seed(), lease.config(), 0);
        let other = if expected == Arm::Hemoperfusion {
            Arm::StandardCare
        } else {
            Arm::Hemoperfusion
        };
        let id = lease.id();
        assert_eq!(
            lease.verify(0, other),
            Err(VerifyError::ArmMismatch {
                lease: id,
                slot: 0,
                expected,
                reported: other
            })
        );
        let n_slots = lease.n_slots();
        assert_eq!(
            lease.verify(n_slots, expected),
            Err(VerifyError::SlotBeyondLease {
                lease: id,
                slot: n_slots,
                n_slots
            })
        );
    }

    fn check_stratum(site: &str, expected: Result<&str, StratumError>) {
        let stratum = Stratum::new(site, Uuid::nil());
        assert_eq!(
            stratum.as_ref().map(Stratum::site),
            expected.as_ref().map(|s| *s)
        );
    }

    #[test]
    fn stratum_needs_a_site() {
        check_stratum("BJ01", Ok("BJ01"));
        check_stratum("", Err(StratumError::EmptySite));
        check_stratum("  ", Err(StratumError::EmptySite));
        check_stratum(
            &"x".repeat(65),
            Err(StratumError::SiteTooLong {
                length: 65,
                max: 64,
            }),
        );
        let json = r#"{"site":"","device":"00000000-0000-0000-0000-000000000000"}"#;
        let error = serde_json::from_str::<Stratum>(json).unwrap_err();
        assert_eq!(error.to_string(), StratumError::EmptySite.to_string());
    }

    #[test]
    fn arm_names_match_serde() {
        for arm in Arm::ALL {
            assert_eq!(serde_json::to_string(&arm).unwrap(), format!("\"{arm}\""));
        }
    }
}
