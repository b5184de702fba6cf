//! The tablet's storage: the event log in IndexedDB, through rexie.
//!
//! An event and the chain head it advances are written in one readwrite
//! transaction, so a crash, a closed tab or a second tab leaves either both or
//! neither (DESIGN.md, "Records"). Everything the transaction needs is computed
//! before it opens or between its own requests: awaiting anything else would let
//! IndexedDB commit it early (PITFALLS.md §2).

use std::fmt;

use rexie::{Index, ObjectStore, Rexie, TransactionMode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use trial::event::{AppendError, ChainHead, Event, EventDraft};
use uuid::Uuid;
use wasm_bindgen::JsValue;

/// The database's schema version; raise it with every change of stores or indexes.
const SCHEMA_VERSION: u32 = 1;
const EVENTS: &str = "events";
const META: &str = "meta";
/// Events in chain order: by device, then by the device's sequence number.
const BY_DEVICE_SEQ: &str = "by_device_seq";
/// The meta record holding this tablet's chain head (its device id, last sequence
/// number and last hash).
const CHAIN_HEAD: &str = "chain_head";

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

impl Store {
    /// Opens (creating or upgrading as needed) the database called `name`, and gives
    /// the tablet a device id the first time.
    pub async fn open(name: &str) -> Result<Self, StoreError> {
        let db = Rexie::builder(name)
            .version(SCHEMA_VERSION)
            .add_object_store(ObjectStore::new(EVENTS).key_path("id").add_index(
                Index::new_array(BY_DEVICE_SEQ, ["device_id", "device_seq"]).unique(true),
            ))
            .add_object_store(ObjectStore::new(META))
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
        let meta = tx.store(META).map_err(database)?;
        let head = meta
            .get(JsValue::from_str(CHAIN_HEAD))
            .await
            .map_err(database)?;
        let head = head.ok_or_else(|| StoreError::Corrupt("the chain head is missing".into()))?;
        decode(head)
    }

    /// Seals `draft` as this tablet's next event and stores it together with the new
    /// chain head, atomically. Returns the stored event.
    pub async fn record(&self, draft: EventDraft) -> Result<Event, StoreError> {
        let tx = self
            .db
            .transaction(&[EVENTS, META], TransactionMode::ReadWrite)
            .map_err(database)?;
        let events = tx.store(EVENTS).map_err(database)?;
        let meta = tx.store(META).map_err(database)?;
        let key = JsValue::from_str(CHAIN_HEAD);
        let stored_head = meta.get(key.clone()).await.map_err(database)?;
        let sealed = stored_head
            .ok_or_else(|| StoreError::Corrupt("the chain head is missing".into()))
            .and_then(decode::<ChainHead>)
            .and_then(|mut head| {
                let event = head.append(draft).map_err(StoreError::Append)?;
                Ok((encode(&event)?, encode(&head)?, event))
            });
        let (event_value, head_value, event) = match sealed {
            Ok(sealed) => sealed,
            Err(error) => {
                // Nothing was written yet, but abort anyway: dropping a rexie
                // transaction would commit it.
                tx.abort().await.map_err(database)?;
                return Err(error);
            }
        };
        events.add(&event_value, None).await.map_err(database)?;
        meta.put(&head_value, Some(&key)).await.map_err(database)?;
        tx.done().await.map_err(database)?;
        Ok(event)
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

    async fn ensure_chain_head(&self) -> Result<(), StoreError> {
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

/// rexie's `Display` hides the browser's message ("idb error"); its `Debug` keeps it.
fn database(error: rexie::Error) -> StoreError {
    StoreError::Database(format!("{error:?}"))
}

fn encode(value: &impl Serialize) -> Result<JsValue, StoreError> {
    serde_wasm_bindgen::to_value(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn decode<T: DeserializeOwned>(value: JsValue) -> Result<T, StoreError> {
    serde_wasm_bindgen::from_value(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}
