//! The allocation lease on the tablet, and the randomise step that consumes it.
//!
//! The seed is stored sealed (AES-GCM under a non-extractable WebCrypto key, see
//! `crate::crypto`), never in the clear: neither IndexedDB nor the developer tools
//! show a future arm. The caller opens the seed and derives the arm of the lease's
//! next slot before [`Store::randomise`] runs, because WebCrypto is asynchronous and
//! would end a transaction; the transaction then re-checks that the slot is still
//! the next one (compare-and-set) and that the participant has no allocation yet.

use std::fmt;

use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
use trial::event::{Event, EventDraft};
use trial::randomisation::LeaseId;
use trial::wire::SealedSeed;
use uuid::Uuid;
use wasm_bindgen::JsValue;

use super::{
    ALLOCATIONS, EVENTS, LEASES, META, OUTBOX, PARTICIPANTS, SUMMARIES, Store, StoreError, append,
    database, decode, encode, finish,
};

/// A lease's seed as stored: never in the clear.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseSeal {
    /// A training seed, generated on the tablet and sealed under its device key.
    Device(LocallySealed),
    /// A live seed, sealed by the server to the tablet's lease key pair
    /// (`trial::wire::SealedSeed`) and stored exactly as it arrived.
    Server(SealedSeed),
}

/// A seed sealed with AES-GCM under the tablet's device key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocallySealed {
    /// The 12-byte nonce.
    pub iv: Vec<u8>,
    /// The 32-byte seed, encrypted, with its 16-byte tag.
    pub ciphertext: Vec<u8>,
}

/// Whether a lease's allocations count for the trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseMode {
    /// Generated on the tablet before it was enrolled: visibly marked, never synced
    /// as real (DESIGN.md, "Randomisation").
    Training,
    /// Issued by the server for the tablet's stratum.
    Live,
}

/// A lease as stored: everything but the seed in the clear.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// The lease's id, as the server (or the training set-up) issued it.
    pub lease_id: LeaseId,
    /// Training or live.
    pub mode: LeaseMode,
    /// The site of the stratum.
    pub site: String,
    /// The device of the stratum: this tablet.
    pub device: Uuid,
    /// The configuration's block sizes, needed to regenerate the list.
    pub block_sizes: Vec<u32>,
    /// How many slots the lease holds (a whole number of blocks).
    pub n_slots: u32,
    /// The next slot to hand out.
    pub next_slot: u32,
    /// The seed, sealed.
    pub sealed_seed: LeaseSeal,
}

impl LeaseRecord {
    /// Slots not yet handed out.
    pub fn slots_left(&self) -> u32 {
        self.n_slots.saturating_sub(self.next_slot)
    }
}

/// The record that makes a participant's randomisation unique on this tablet.
#[derive(Debug, Serialize, Deserialize)]
struct AllocationRecord {
    participant_id: Uuid,
    lease_id: LeaseId,
    slot: u32,
    event_id: Uuid,
}

/// Why a randomisation was not stored. Nothing was written in any of these cases.
#[derive(Clone, Debug)]
pub enum RandomiseError {
    /// Occurs when the participant already has an allocation: a second tap, a second
    /// tab, or a reload mid-way. The first allocation stands.
    AlreadyRandomised {
        /// The slot the participant was given.
        slot: u32,
    },
    /// Occurs when another randomisation took the slot between reading the lease
    /// and writing: derive the arm for the new next slot and try again.
    SlotTaken {
        /// The slot this attempt expected.
        expected: u32,
        /// The slot that is next now.
        next: u32,
    },
    /// Occurs when the lease has no slot left; the tablet must get a new lease.
    LeaseExhausted,
    /// Occurs when the lease named does not exist on this tablet.
    NoLease,
    /// Occurs when storage itself fails.
    Store(StoreError),
}

impl From<StoreError> for RandomiseError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl fmt::Display for RandomiseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyRandomised { slot } => {
                write!(f, "this participant is already randomised (slot {slot})")
            }
            Self::SlotTaken { expected, next } => {
                write!(f, "slot {expected} was taken meanwhile; next is {next}")
            }
            Self::LeaseExhausted => f.write_str("no allocation slot left on this tablet"),
            Self::NoLease => f.write_str("this tablet holds no allocation lease"),
            Self::Store(error) => error.fmt(f),
        }
    }
}

impl Store {
    /// Stores a new lease (or replaces one with the same id).
    pub async fn put_lease(&self, lease: &LeaseRecord) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[LEASES], TransactionMode::ReadWrite)
            .map_err(database)?;
        let leases = tx.store(LEASES).map_err(database)?;
        leases.put(&encode(lease)?, None).await.map_err(database)?;
        tx.done().await.map_err(database)?;
        Ok(())
    }

    /// The lease to randomise from: the first one with a slot left, if any.
    pub async fn active_lease(&self) -> Result<Option<LeaseRecord>, StoreError> {
        let tx = self
            .db
            .transaction(&[LEASES], TransactionMode::ReadOnly)
            .map_err(database)?;
        let leases = tx.store(LEASES).map_err(database)?;
        let all = leases.get_all(None, None).await.map_err(database)?;
        for value in all {
            let lease: LeaseRecord = decode(value)?;
            if lease.slots_left() > 0 {
                return Ok(Some(lease));
            }
        }
        Ok(None)
    }

    /// How many participants this tablet has randomised, for study numbers.
    pub async fn n_randomised(&self) -> Result<u32, StoreError> {
        let tx = self
            .db
            .transaction(&[ALLOCATIONS], TransactionMode::ReadOnly)
            .map_err(database)?;
        let allocations = tx.store(ALLOCATIONS).map_err(database)?;
        allocations.count(None).await.map_err(database)
    }

    /// Consumes `slot` of lease `lease_id` for `participant_id` and records the
    /// randomisation event `draft`, in one transaction: either the slot is consumed,
    /// the allocation recorded, the event appended and queued and the
    /// participant's state updated, or nothing is.
    pub async fn randomise(
        &self,
        participant_id: Uuid,
        lease_id: LeaseId,
        slot: u32,
        draft: EventDraft,
    ) -> Result<Event, RandomiseError> {
        let tx = self
            .db
            .transaction(
                &[
                    LEASES,
                    ALLOCATIONS,
                    EVENTS,
                    META,
                    OUTBOX,
                    PARTICIPANTS,
                    SUMMARIES,
                ],
                TransactionMode::ReadWrite,
            )
            .map_err(database)?;
        let result = consume_slot(&tx, participant_id, lease_id, slot, draft).await;
        finish(tx, result).await
    }
}

async fn consume_slot(
    tx: &rexie::Transaction,
    participant_id: Uuid,
    lease_id: LeaseId,
    slot: u32,
    draft: EventDraft,
) -> Result<Event, RandomiseError> {
    let allocations = tx.store(ALLOCATIONS).map_err(database)?;
    let participant_key = JsValue::from_str(&participant_id.to_string());
    if let Some(existing) = allocations.get(participant_key).await.map_err(database)? {
        let existing: AllocationRecord = decode(existing)?;
        return Err(RandomiseError::AlreadyRandomised {
            slot: existing.slot,
        });
    }
    let leases = tx.store(LEASES).map_err(database)?;
    let stored = leases
        .get(JsValue::from_str(&lease_id.to_string()))
        .await
        .map_err(database)?
        .ok_or(RandomiseError::NoLease)?;
    let mut lease: LeaseRecord = decode(stored)?;
    if lease.next_slot != slot {
        return Err(RandomiseError::SlotTaken {
            expected: slot,
            next: lease.next_slot,
        });
    }
    if lease.slots_left() == 0 {
        return Err(RandomiseError::LeaseExhausted);
    }
    lease.next_slot += 1;
    let allocation = AllocationRecord {
        participant_id,
        lease_id,
        slot,
        event_id: draft.id,
    };
    leases.put(&encode(&lease)?, None).await.map_err(database)?;
    allocations
        .add(&encode(&allocation)?, None)
        .await
        .map_err(database)?;
    Ok(append(tx, draft).await?)
}
