//! The HP-ECMO trial's rules, as one pure library shared by the bedside app (compiled
//! to wasm32) and the sync server (native).
//!
//! Every decision the trial depends on lives here: is this patient eligible, which
//! arm comes next, is this value plausible, is this audit trail intact. The app and
//! the server only move data and show it, and because both call the same code the
//! server can re-check everything a tablet decided while it was offline.
//!
//! The crate does no I/O, reads no clock and draws no entropy: the current time, ids
//! and seeds are arguments (`clippy.toml` beside this crate bans the shortcuts). That
//! makes every decision replayable, on the server and in tests.
//!
//! ```
//! use trial::randomisation::{AllocationSequence, RandomisationConfig, Seed};
//!
//! let config = RandomisationConfig::standard();
//! let seed = Seed::from_bytes([7; 32]);
//! let first: Vec<_> = AllocationSequence::new(&seed, &config).take(12).collect();
//! let again: Vec<_> = AllocationSequence::new(&seed, &config).take(12).collect();
//! assert_eq!(first, again, "the same seed always gives the same list");
//! ```
#![deny(missing_docs)]

pub mod allocation;
pub mod audit;
pub mod backup;
pub mod casebook;
pub mod console;
pub mod crf;
pub mod edits;
pub mod eligibility;
pub mod event;
pub mod export;
pub mod field;
pub mod json;
pub mod payload;
pub mod pin;
pub mod projection;
pub mod query;
pub mod randomisation;
pub mod roster;
pub mod screening;
pub mod time;
pub mod wire;

/// The trial's registration (ClinicalTrials.gov), which names it in the ODM
/// export and in every backup file: a file naming another trial is refused.
pub const REGISTRATION: &str = "NCT03729765";
