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

mod lease;
#[cfg(test)]
mod tests;

pub use lease::{
    Allocation, Lease, LeaseError, LeaseId, MAX_LEASE_BLOCKS, MAX_SITE_LEN, Stratum, StratumError,
    VerifyError,
};

use std::fmt;

use rand::rngs::ChaCha20Rng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest block size a configuration may use; larger blocks let the arms drift
/// further apart before they balance again, which weakens a 1:1 trial.
pub const MAX_BLOCK_SIZE: u32 = 16;

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
