//! The tablet's storage: the event log in IndexedDB, through rexie.
//!
//! An event and everything it implies (the chain head it advances, its outbox
//! entry, for a randomisation the slot it consumes) are written in one readwrite
//! transaction, so a crash, a closed tab or a second tab leaves either all of it or
//! none (DESIGN.md, "Records"). Everything a transaction needs is computed before it
//! opens or between its own requests: awaiting anything else (a timer, `fetch`,
//! WebCrypto) would let IndexedDB commit it early (PITFALLS.md §2). Readwrite
//! transactions over overlapping stores are serialised by the browser, also across
//! tabs, which is what makes the compare-and-set in [`Store::randomise`] safe.
//!
//! Every transaction that adds events also folds them into the states of the
//! participants they are about (`states`), so the screens read those states and
//! never the whole log.

mod lease;
mod states;
mod sync;
mod users;

pub use lease::{LeaseMode, LeaseRecord, LeaseSeal, LocallySealed, RandomiseError};
pub use states::{RebuildProgress, StateContext, sort_summaries, take_changed};
pub use sync::{Enrolment, NewEnrolment, SyncState};

pub use users::UserRecord;

use std::fmt;

use rexie::{Index, ObjectStore, Rexie, Store as ObjectStoreTx, TransactionMode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use trial::event::{AppendError, ChainHead, Event, EventDraft, EventKind};
use trial::payload::{ScreeningNumber, ScreeningRecorded};
use uuid::Uuid;
use wasm_bindgen::{JsCast, JsValue};

/// The database's schema version; raise it with every change of stores or indexes.
/// Version 2 adds the participants' states and summaries and the events' index by
/// participant; opening a version-1 database adds them and keeps every record
/// (the states are then folded from the log, once).
const SCHEMA_VERSION: u32 = 2;
const EVENTS: &str = "events";
const META: &str = "meta";
/// The allocation leases this tablet randomises from, keyed by lease id.
const LEASES: &str = "leases";
/// One record per randomised participant, keyed by participant id: the guard that
/// makes a second randomisation of the same patient impossible.
const ALLOCATIONS: &str = "allocations";
/// This tablet's events not yet acknowledged by the server, keyed by `device_seq`.
const OUTBOX: &str = "outbox";
/// The people who may sign in on this tablet, keyed by user id.
const USERS: &str = "users";
/// Events in chain order: by device, then by the device's sequence number.
const BY_DEVICE_SEQ: &str = "by_device_seq";
/// Events by the participant they are about: what folds one participant again.
const BY_PARTICIPANT: &str = "by_participant";
/// Each participant's state as the trial core folds it, keyed by participant id
/// (`states`).
const PARTICIPANTS: &str = "participants";
/// Each participant's summary for the home list, keyed by participant id.
const SUMMARIES: &str = "summaries";
/// The meta record holding this tablet's chain head (its device id, last sequence
/// number and last hash).
const CHAIN_HEAD: &str = "chain_head";
/// The meta record holding how many patients this tablet has screened: the count
/// in its last screening number.
pub(crate) const SCREENING_COUNT: &str = "screening_count";

/// The tablet's WebCrypto keys, kept in the meta store as the key objects
/// themselves: IndexedDB clones a `CryptoKey` without exposing its bytes, so a
/// non-extractable key stays non-extractable at rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySlot {
    /// The AES-GCM key that seals training seeds generated on the tablet.
    Device,
    /// The ECDH P-256 key pair (`{privateKey, publicKey}`) the server seals live
    /// lease seeds to; its public half is sent at enrolment.
    Lease,
}

impl KeySlot {
    fn name(self) -> &'static str {
        match self {
            Self::Device => "device_key",
            Self::Lease => "lease_key_pair",
        }
    }
}

/// The tablet's IndexedDB database.
pub struct Store {
    db: Rexie,
}

/// Occurs when storage fails; says which step, so a support call can tell a full
/// disk from a bug.
#[derive(Clone, Debug)]
pub enum StoreError {
    /// Occurs when IndexedDB refuses a request (quota, blocked upgrade, closed
    /// database); carries the browser's own words.
    Database(String),
    /// Occurs when a stored record cannot be read back as its type: a bug or a
    /// record written by an incompatible version.
    Corrupt(String),
    /// Occurs when the trial core refuses to seal a draft into the chain.
    Append(AppendError),
}

/// An outbox entry: this tablet's event `device_seq` still waits for the server.
#[derive(Serialize, Deserialize)]
struct OutboxEntry {
    device_seq: u64,
    event_id: Uuid,
    /// Who the event is about; entries written before version 2 of the database
    /// lack it, and the event says.
    #[serde(default)]
    participant_id: Option<Uuid>,
}

/// One of this tablet's events waiting for the server, and who it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboxItem {
    /// The event.
    pub event_id: Uuid,
    /// The participant it is about.
    pub participant_id: Uuid,
}

impl Store {
    /// Opens (creating or upgrading as needed) the database called `name`, and gives
    /// the tablet a device id the first time.
    pub async fn open(name: &str) -> Result<Self, StoreError> {
        let db = Rexie::builder(name)
            .version(SCHEMA_VERSION)
            .add_object_store(
                ObjectStore::new(EVENTS)
                    .key_path("id")
                    .add_index(
                        Index::new_array(BY_DEVICE_SEQ, ["device_id", "device_seq"]).unique(true),
                    )
                    .add_index(Index::new(BY_PARTICIPANT, "participant_id")),
            )
            .add_object_store(ObjectStore::new(META))
            .add_object_store(ObjectStore::new(LEASES).key_path("lease_id"))
            .add_object_store(ObjectStore::new(ALLOCATIONS).key_path("participant_id"))
            .add_object_store(ObjectStore::new(OUTBOX).key_path("device_seq"))
            .add_object_store(ObjectStore::new(USERS).key_path("id"))
            .add_object_store(ObjectStore::new(PARTICIPANTS).key_path("id"))
            .add_object_store(ObjectStore::new(SUMMARIES).key_path("id"))
            .build()
            .await
            .map_err(database)?;
        let store = Self { db };
        store.ensure_chain_head().await?;
        Ok(store)
    }

    /// Closes the connection, so another open (or a schema upgrade) is not blocked.
    pub fn close(self) {
        self.db.close();
    }

    /// Where this tablet's chain ends now.
    pub async fn chain_head(&self) -> Result<ChainHead, StoreError> {
        let tx = self
            .db
            .transaction(&[META], TransactionMode::ReadOnly)
            .map_err(database)?;
        read_head(&tx.store(META).map_err(database)?).await
    }

    /// Seals `draft` as this tablet's next event and stores it with the new chain
    /// head, its outbox entry and its participant's new state, atomically.
    /// Returns the stored event.
    pub async fn record(&self, draft: EventDraft) -> Result<Event, StoreError> {
        let tx = self
            .db
            .transaction(&APPEND_STORES, TransactionMode::ReadWrite)
            .map_err(database)?;
        let appended = append(&tx, draft).await;
        finish(tx, appended).await
    }

    /// Records a new participant's screening with this tablet's next screening
    /// number, taken in the same transaction as the event: two tabs screening at
    /// once are serialised by IndexedDB and get two numbers. `draft` builds the
    /// event from the number (it must not await). The count carries on from the
    /// highest number of this tablet's label its log holds, the first time.
    pub async fn record_screening(
        &self,
        device_label: &str,
        draft: impl FnOnce(&ScreeningNumber) -> EventDraft,
    ) -> Result<(Event, ScreeningNumber), StoreError> {
        let tx = self
            .db
            .transaction(&APPEND_STORES, TransactionMode::ReadWrite)
            .map_err(database)?;
        let result = async {
            let meta = tx.store(META).map_err(database)?;
            let key = JsValue::from_str(SCREENING_COUNT);
            let stored = meta.get(key.clone()).await.map_err(database)?;
            let last: u32 = match stored.filter(|value| !value.is_undefined()) {
                Some(value) => decode(value)?,
                None => {
                    let device = read_head(&meta).await?.device_id();
                    let events = tx.store(EVENTS).map_err(database)?;
                    let all = events.get_all(None, None).await.map_err(database)?;
                    highest_screening_count(all, device, device_label)?
                }
            };
            let number = ScreeningNumber::new(device_label, last + 1)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            meta.put(&encode(&(last + 1))?, Some(&key))
                .await
                .map_err(database)?;
            let event = append(&tx, draft(&number)).await?;
            Ok((event, number))
        }
        .await;
        finish(tx, result).await
    }

    /// Every stored event, in chain order (by device, then sequence number).
    pub async fn events(&self) -> Result<Vec<Event>, StoreError> {
        let tx = self
            .db
            .transaction(&[EVENTS], TransactionMode::ReadOnly)
            .map_err(database)?;
        let index = tx
            .store(EVENTS)
            .and_then(|events| events.index(BY_DEVICE_SEQ))
            .map_err(database)?;
        let values = index.get_all(None, None).await.map_err(database)?;
        values.into_iter().map(decode).collect()
    }

    /// How many of this tablet's events wait for the server.
    pub async fn pending(&self) -> Result<u32, StoreError> {
        let tx = self
            .db
            .transaction(&[OUTBOX], TransactionMode::ReadOnly)
            .map_err(database)?;
        let outbox = tx.store(OUTBOX).map_err(database)?;
        outbox.count(None).await.map_err(database)
    }

    /// The events in the outbox, oldest first, and who each is about: what the
    /// server has not acknowledged yet.
    pub async fn outbox(&self) -> Result<Vec<OutboxItem>, StoreError> {
        let tx = self
            .db
            .transaction(&[OUTBOX, EVENTS], TransactionMode::ReadOnly)
            .map_err(database)?;
        let entries = tx
            .store(OUTBOX)
            .map_err(database)?
            .get_all(None, None)
            .await
            .map_err(database)?;
        let events = tx.store(EVENTS).map_err(database)?;
        let mut items = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry: OutboxEntry = decode(entry)?;
            let participant_id = match entry.participant_id {
                Some(participant_id) => participant_id,
                None => {
                    let event = events
                        .get(JsValue::from_str(&entry.event_id.to_string()))
                        .await
                        .map_err(database)?
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!(
                                "outbox event {} is missing",
                                entry.device_seq
                            ))
                        })?;
                    decode::<Event>(event)?.participant_id()
                }
            };
            items.push(OutboxItem {
                event_id: entry.event_id,
                participant_id,
            });
        }
        Ok(items)
    }

    /// The WebCrypto key object stored under `slot`, if any.
    pub async fn crypto_key(&self, slot: KeySlot) -> Result<Option<JsValue>, StoreError> {
        let tx = self
            .db
            .transaction(&[META], TransactionMode::ReadOnly)
            .map_err(database)?;
        let meta = tx.store(META).map_err(database)?;
        meta.get(JsValue::from_str(slot.name()))
            .await
            .map_err(database)
    }

    /// Stores `key` under `slot` unless one is stored already, and returns the one
    /// that is kept, so concurrent first uses (two tabs) agree on one key.
    pub async fn keep_first_crypto_key(
        &self,
        slot: KeySlot,
        key: JsValue,
    ) -> Result<JsValue, StoreError> {
        let tx = self
            .db
            .transaction(&[META], TransactionMode::ReadWrite)
            .map_err(database)?;
        let meta = tx.store(META).map_err(database)?;
        let name = JsValue::from_str(slot.name());
        let kept = match meta.get(name.clone()).await.map_err(database)? {
            Some(existing) => existing,
            None => {
                meta.put(&key, Some(&name)).await.map_err(database)?;
                key
            }
        };
        tx.done().await.map_err(database)?;
        Ok(kept)
    }

    async fn ensure_chain_head(&self) -> Result<(), StoreError> {
        // Asked first without writing: a read-write transaction on the meta store
        // waits for every other one that touches it (a sync storing a page), and
        // this runs at every open, before every save.
        let tx = self
            .db
            .transaction(&[META], TransactionMode::ReadOnly)
            .map_err(database)?;
        let held = tx
            .store(META)
            .map_err(database)?
            .key_exists(JsValue::from_str(CHAIN_HEAD))
            .await
            .map_err(database)?;
        if held {
            return Ok(());
        }
        let tx = self
            .db
            .transaction(&[META], TransactionMode::ReadWrite)
            .map_err(database)?;
        let meta = tx.store(META).map_err(database)?;
        let key = JsValue::from_str(CHAIN_HEAD);
        if meta.get(key.clone()).await.map_err(database)?.is_none() {
            // The tablet names itself; enrolment registers this id with the server.
            let head = ChainHead::genesis(Uuid::now_v7());
            meta.put(&encode(&head)?, Some(&key))
                .await
                .map_err(database)?;
        }
        tx.done().await.map_err(database)?;
        Ok(())
    }
}

/// The stores a transaction that appends an event covers: the event, the chain
/// head, the outbox entry and the participant's state and summary.
const APPEND_STORES: [&str; 5] = [EVENTS, META, OUTBOX, PARTICIPANTS, SUMMARIES];

/// Appends `draft` inside `tx` (which must cover [`APPEND_STORES`]): reads the
/// chain head, seals the event, writes event, head and outbox entry, and folds
/// the event into its participant's state.
async fn append(tx: &rexie::Transaction, draft: EventDraft) -> Result<Event, StoreError> {
    let meta = tx.store(META).map_err(database)?;
    let mut head = read_head(&meta).await?;
    let event = head.append(draft).map_err(StoreError::Append)?;
    let outbox_entry = OutboxEntry {
        device_seq: event.device_seq(),
        event_id: event.id(),
        participant_id: Some(event.participant_id()),
    };
    let (event_value, head_value, outbox_value) =
        (encode(&event)?, encode(&head)?, encode(&outbox_entry)?);
    let events = tx.store(EVENTS).map_err(database)?;
    events.add(&event_value, None).await.map_err(database)?;
    meta.put(&head_value, Some(&JsValue::from_str(CHAIN_HEAD)))
        .await
        .map_err(database)?;
    let outbox = tx.store(OUTBOX).map_err(database)?;
    outbox.add(&outbox_value, None).await.map_err(database)?;
    states::fold_into_states(tx, std::slice::from_ref(&event)).await?;
    Ok(event)
}

/// The highest screening count in the numbers of `device`'s screenings, as the
/// tablet labelled `device_label` gave them; 0 before the first.
fn highest_screening_count(
    events: Vec<JsValue>,
    device: Uuid,
    device_label: &str,
) -> Result<u32, StoreError> {
    let mut highest = 0;
    for value in events {
        let event: Event = decode(value)?;
        if event.device_id() != device || event.kind() != EventKind::ScreeningRecorded {
            continue;
        }
        let Ok(body) = serde_json::from_str::<ScreeningRecorded>(event.payload()) else {
            continue;
        };
        if let Some(count) = ScreeningNumber::count_in(&body.screening_number, device_label) {
            highest = highest.max(count);
        }
    }
    Ok(highest)
}

/// Commits `tx` when `result` is a success, and aborts it otherwise: dropping a
/// rexie transaction would commit whatever it had written.
async fn finish<T, E: From<StoreError>>(
    tx: rexie::Transaction,
    result: Result<T, E>,
) -> Result<T, E> {
    match result {
        Ok(value) => {
            tx.done().await.map_err(database)?;
            Ok(value)
        }
        Err(error) => {
            tx.abort().await.map_err(database)?;
            Err(error)
        }
    }
}

async fn read_head(meta: &ObjectStoreTx) -> Result<ChainHead, StoreError> {
    let head = meta
        .get(JsValue::from_str(CHAIN_HEAD))
        .await
        .map_err(database)?;
    decode(head.ok_or_else(|| StoreError::Corrupt("the chain head is missing".into()))?)
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Database(message) => write!(f, "storage error: {message}"),
            Self::Corrupt(message) => write!(f, "stored data unreadable: {message}"),
            Self::Append(error) => write!(f, "event refused: {error}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The browser's own words for a refusal: rexie's `Display` says only "idb
/// error", so the `idb` error inside it is shown, which names the request and the
/// browser's message.
fn database(error: rexie::Error) -> StoreError {
    StoreError::Database(match error {
        rexie::Error::IdbError(inner) => inner.to_string(),
        other => other.to_string(),
    })
}

/// A JavaScript error in words: its name and message when it is an `Error` or a
/// `DOMException`, its text when it is a string.
pub(crate) fn js_words(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return format!(
            "{}: {}",
            String::from(error.name()),
            String::from(error.message())
        );
    }
    value
        .as_string()
        .unwrap_or_else(|| "the browser gave no reason".to_owned())
}

fn encode(value: &impl Serialize) -> Result<JsValue, StoreError> {
    serde_wasm_bindgen::to_value(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn decode<T: DeserializeOwned>(value: JsValue) -> Result<T, StoreError> {
    serde_wasm_bindgen::from_value(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}
