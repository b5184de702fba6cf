//! What sync reads and writes: the enrolment, the outbox in order, the server's
//! acknowledgements, other devices' events and the pull cursor, new leases.
//!
//! Each write is one transaction, so an answer half-applied cannot exist: the
//! outbox entries an acknowledgement removes go with the state that records it,
//! and pulled events go with the cursor that says they were pulled and with
//! their participants' new states. A lost answer only means the next sync asks
//! again, which the server answers the same.

use rexie::{KeyRange, TransactionMode};
use serde::{Deserialize, Serialize};
use trial::event::{ChainHead, Event};
use trial::wire::{Author, MAX_CLOCK_OFFSET_MS, PinLockout, Rejection, Site, Tablet};
use uuid::Uuid;
use wasm_bindgen::JsValue;

use super::states::{self, StateContext};
use super::{
    ALLOCATIONS, CHAIN_HEAD, EVENTS, LEASES, LeaseRecord, META, OUTBOX, OutboxEntry, PARTICIPANTS,
    SUMMARIES, Store, StoreError, USERS, UserRecord, database, decode, encode,
};

/// The meta record holding the [`Enrolment`].
pub(super) const ENROLMENT: &str = "enrolment";
/// The meta record holding the [`SyncState`].
const SYNC_STATE: &str = "sync_state";
/// The meta record holding the PIN lockouts not yet reported to the server.
const PIN_LOCKOUTS: &str = "pin_lockouts";

/// What enrolment gave this tablet: its token and who it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// The device token, sent as `Authorization: Bearer`; the server keeps only
    /// its hash, so this is the only copy.
    pub device_token: String,
    /// The tablet's short name at its site ("T1"), used in study numbers.
    pub device_label: String,
    /// The site the tablet belongs to.
    pub site: Site,
    /// When the server enrolled it, on the server's clock.
    pub enrolled_at_ms: i64,
    /// The site's tablets by their labels, as the last sync gave them: how the
    /// timeline names the tablet of each record. Absent from an older record.
    #[serde(default)]
    pub tablets: Vec<Tablet>,
    /// The console accounts whose corrections the site's records hold, as the
    /// last sync gave them: how the timeline names who made such a record.
    /// Absent from an older record.
    #[serde(default)]
    pub authors: Vec<Author>,
}

/// Where sync stands, for the status line and the next run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// The server cursor of the last event pulled.
    pub pull_cursor: u64,
    /// When the last sync completed, on the tablet's clock.
    pub last_success_ms: Option<i64>,
    /// The server's clock minus the tablet's, measured at the last answer.
    pub clock_offset_ms: Option<i64>,
    /// What the server refused, in its words, by sequence number: every event it
    /// stored but flagged, and what the last push refused outright.
    pub rejections: Vec<Rejection>,
}

impl SyncState {
    /// Whether the last sync found this tablet's clock further from the server's
    /// than `trial::wire::MAX_CLOCK_OFFSET_MS`.
    pub fn clock_is_off(&self) -> bool {
        self.clock_offset_ms
            .is_some_and(|offset| offset.abs() > MAX_CLOCK_OFFSET_MS)
    }
}

/// Everything an enrolment stores, in one transaction.
pub struct NewEnrolment {
    /// The device id the server registered; becomes the chain's device.
    pub device_id: Uuid,
    /// The token, label and site.
    pub enrolment: Enrolment,
    /// The site's users, replacing any first-run user.
    pub users: Vec<UserRecord>,
    /// The first live lease.
    pub lease: LeaseRecord,
}

impl Store {
    /// The tablet's enrolment, if it has one.
    pub async fn enrolment(&self) -> Result<Option<Enrolment>, StoreError> {
        self.meta_record(ENROLMENT).await
    }

    /// Where sync stands.
    pub async fn sync_state(&self) -> Result<SyncState, StoreError> {
        Ok(self.meta_record(SYNC_STATE).await?.unwrap_or_default())
    }

    /// Whether this tablet holds anything recorded in training mode: events, or a
    /// training lease.
    pub async fn has_training_records(&self) -> Result<bool, StoreError> {
        let tx = self
            .db
            .transaction(&[EVENTS, LEASES], TransactionMode::ReadOnly)
            .map_err(database)?;
        let events = tx.store(EVENTS).map_err(database)?.count(None).await;
        let leases = tx.store(LEASES).map_err(database)?.count(None).await;
        Ok(events.map_err(database)? + leases.map_err(database)? > 0)
    }

    /// Makes this tablet the enrolled device `new.device_id`: training records
    /// (events and the states folded from them, leases, allocations, outbox, the
    /// first-run users) are removed, the chain starts afresh under the new id, and
    /// the enrolment, the site's users and the first lease are stored. All or
    /// nothing.
    pub async fn enrol(&self, new: NewEnrolment) -> Result<(), StoreError> {
        let cleared = [
            EVENTS,
            LEASES,
            ALLOCATIONS,
            OUTBOX,
            USERS,
            PARTICIPANTS,
            SUMMARIES,
        ];
        let stores = [&cleared[..], &[META]].concat();
        let tx = self
            .db
            .transaction(&stores, TransactionMode::ReadWrite)
            .map_err(database)?;
        let result = async {
            for name in cleared {
                tx.store(name)
                    .map_err(database)?
                    .clear()
                    .await
                    .map_err(database)?;
            }
            let meta = tx.store(META).map_err(database)?;
            // Training screenings are gone: the enrolled tablet numbers afresh.
            meta.delete(JsValue::from_str(super::SCREENING_COUNT))
                .await
                .map_err(database)?;
            let head = ChainHead::genesis(new.device_id);
            meta.put(&encode(&head)?, Some(&JsValue::from_str(CHAIN_HEAD)))
                .await
                .map_err(database)?;
            meta.put(
                &encode(&new.enrolment)?,
                Some(&JsValue::from_str(ENROLMENT)),
            )
            .await
            .map_err(database)?;
            meta.put(
                &encode(&SyncState::default())?,
                Some(&JsValue::from_str(SYNC_STATE)),
            )
            .await
            .map_err(database)?;
            // No events, so no states: current for the site's calendar.
            states::write_stamp_for(&meta, &StateContext::of(Some(&new.enrolment)), 0).await?;
            let users = tx.store(USERS).map_err(database)?;
            for user in &new.users {
                users.put(&encode(user)?, None).await.map_err(database)?;
            }
            let leases = tx.store(LEASES).map_err(database)?;
            leases
                .add(&encode(&new.lease)?, None)
                .await
                .map_err(database)?;
            Ok(())
        }
        .await;
        super::finish(tx, result).await
    }

    /// This tablet's oldest events still waiting for the server, at most `limit`,
    /// in sequence order.
    pub async fn outbox_batch(&self, limit: u32) -> Result<Vec<Event>, StoreError> {
        let tx = self
            .db
            .transaction(&[OUTBOX, EVENTS], TransactionMode::ReadOnly)
            .map_err(database)?;
        let entries = tx
            .store(OUTBOX)
            .map_err(database)?
            .get_all(None, Some(limit))
            .await
            .map_err(database)?;
        let events = tx.store(EVENTS).map_err(database)?;
        let mut batch = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry: OutboxEntry = decode(entry)?;
            let event = events
                .get(JsValue::from_str(&entry.event_id.to_string()))
                .await
                .map_err(database)?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("outbox event {} is missing", entry.device_seq))
                })?;
            batch.push(decode(event)?);
        }
        Ok(batch)
    }

    /// Records a push answer: forgets the outbox entries up to `acked_seq` and
    /// keeps the server's refusals for the status line (see
    /// [`SyncState::rejections`]).
    pub async fn acknowledge(
        &self,
        acked_seq: u64,
        rejections: Vec<Rejection>,
        clock_offset_ms: i64,
    ) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[OUTBOX, META], TransactionMode::ReadWrite)
            .map_err(database)?;
        let result = async {
            let outbox = tx.store(OUTBOX).map_err(database)?;
            let range = KeyRange::upper_bound(&JsValue::from_f64(acked_seq as f64), Some(false))
                .map_err(|error| StoreError::Database(error.to_string()))?;
            for key in outbox
                .get_all_keys(Some(range), None)
                .await
                .map_err(database)?
            {
                outbox.delete(key).await.map_err(database)?;
            }
            update_sync_state(&tx, |state| {
                // An answer speaks only of its own batch: refusals of events the
                // server stored anyway stay listed, the rest are as current as
                // this answer.
                state.rejections.retain(|kept| {
                    kept.code.leaves_event_stored()
                        && !rejections
                            .iter()
                            .any(|new| new.device_seq == kept.device_seq)
                });
                state.rejections.extend(rejections);
                state
                    .rejections
                    .sort_by_key(|rejection| rejection.device_seq);
                state.clock_offset_ms = Some(clock_offset_ms);
            })
            .await
        }
        .await;
        super::finish(tx, result).await
    }

    /// Stores a page of other devices' events with the cursor after them and
    /// the new states of the participants they are about, in one transaction
    /// whose requests go out together. Returns how many events it stored.
    ///
    /// Each event is put, not first looked up: asking the database about each
    /// of 50,000 events took a tenth of a sync-in. An event the tablet already
    /// holds (one it read from a backup, say) is written again as the same
    /// record, an event being immutable under its id; its participant's stored
    /// state then counts fewer events in the log than it folded plus the page's,
    /// and is folded afresh from the log, as a stale state always is; and the
    /// states' count of the log runs ahead of the log, so the next start finds
    /// them stale and folds them all again, with its progress bar.
    pub async fn store_pulled(
        &self,
        pulled: &[Event],
        next_cursor: u64,
    ) -> Result<usize, StoreError> {
        // Encoded before the transaction opens: inside it, only its own
        // requests are awaited.
        let encoded = pulled.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        let tx = self
            .db
            .transaction(
                &[EVENTS, META, PARTICIPANTS, SUMMARIES],
                TransactionMode::ReadWrite,
            )
            .map_err(database)?;
        let result = async {
            let events = tx.store(EVENTS).map_err(database)?;
            events
                .put_all(encoded.into_iter().map(|value| (value, None)))
                .await
                .map_err(database)?;
            states::fold_into_states(&tx, pulled).await?;
            update_sync_state(&tx, |state| state.pull_cursor = next_cursor).await?;
            Ok(pulled.len())
        }
        .await;
        super::finish(tx, result).await
    }

    /// Notes a completed sync at `now_ms` on the tablet's clock, and the server's clock
    /// offset as measured during it.
    pub async fn sync_succeeded(
        &self,
        now_ms: i64,
        clock_offset_ms: i64,
    ) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[META], TransactionMode::ReadWrite)
            .map_err(database)?;
        let result = update_sync_state(&tx, |state| {
            state.last_success_ms = Some(now_ms);
            state.clock_offset_ms = Some(clock_offset_ms);
        })
        .await;
        super::finish(tx, result).await
    }

    /// Keeps a PIN lockout until a sync reports it (`POST /api/lockouts`).
    pub async fn add_lockout(&self, lockout: PinLockout) -> Result<(), StoreError> {
        self.change_lockouts(|pending| pending.push(lockout)).await
    }

    /// The PIN lockouts not yet reported, oldest first.
    pub async fn pending_lockouts(&self) -> Result<Vec<PinLockout>, StoreError> {
        Ok(self.meta_record(PIN_LOCKOUTS).await?.unwrap_or_default())
    }

    /// Forgets the lockouts the server has kept, leaving any added since.
    pub async fn forget_lockouts(&self, kept: &[PinLockout]) -> Result<(), StoreError> {
        self.change_lockouts(|pending| pending.retain(|lockout| !kept.contains(lockout)))
            .await
    }

    async fn change_lockouts(
        &self,
        change: impl FnOnce(&mut Vec<PinLockout>),
    ) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[META], TransactionMode::ReadWrite)
            .map_err(database)?;
        let result = async {
            let meta = tx.store(META).map_err(database)?;
            let key = JsValue::from_str(PIN_LOCKOUTS);
            let mut pending: Vec<PinLockout> =
                match meta.get(key.clone()).await.map_err(database)? {
                    Some(value) if !value.is_undefined() => decode(value)?,
                    _ => Vec::new(),
                };
            change(&mut pending);
            meta.put(&encode(&pending)?, Some(&key))
                .await
                .map_err(database)?;
            Ok(())
        }
        .await;
        super::finish(tx, result).await
    }

    /// Stores the leases this tablet does not hold yet. A lease already held is
    /// left as it is: its `next_slot` is this tablet's own progress.
    pub async fn add_new_leases(&self, leases: &[LeaseRecord]) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[LEASES], TransactionMode::ReadWrite)
            .map_err(database)?;
        let result = async {
            let store = tx.store(LEASES).map_err(database)?;
            for lease in leases {
                let id = JsValue::from_str(&lease.lease_id.to_string());
                if !store.key_exists(id).await.map_err(database)? {
                    store.add(&encode(lease)?, None).await.map_err(database)?;
                }
            }
            Ok(())
        }
        .await;
        super::finish(tx, result).await
    }

    async fn meta_record<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, StoreError> {
        let tx = self
            .db
            .transaction(&[META], TransactionMode::ReadOnly)
            .map_err(database)?;
        let meta = tx.store(META).map_err(database)?;
        meta.get(JsValue::from_str(name))
            .await
            .map_err(database)?
            .map(decode)
            .transpose()
    }
}

/// Reads, changes and writes the sync state inside `tx` (which covers meta).
async fn update_sync_state(
    tx: &rexie::Transaction,
    change: impl FnOnce(&mut SyncState),
) -> Result<(), StoreError> {
    let meta = tx.store(META).map_err(database)?;
    let key = JsValue::from_str(SYNC_STATE);
    let mut state: SyncState = match meta.get(key.clone()).await.map_err(database)? {
        Some(value) => decode(value)?,
        None => SyncState::default(),
    };
    change(&mut state);
    meta.put(&encode(&state)?, Some(&key))
        .await
        .map_err(database)?;
    Ok(())
}
