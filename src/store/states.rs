//! Each participant's projected state, kept beside the log so the tablet starts
//! (and saves, and syncs) without folding the whole log again.
//!
//! The log stays the only source of truth: a state is what
//! `trial::projection` folds from the participant's events, written in the same
//! transaction as the event that changed it (so a reload mid-write leaves both or
//! neither), as the core's own JSON text with the stamp of the build, the payload
//! schema and the calendar that computed it ([`StateContext::stamp`]). A state
//! whose stamp differs, or which folded fewer events than the log holds about the
//! participant, is stale: the next write about that participant folds them again
//! from their events (through the `by_participant` index), and [`Store::rebuild`]
//! folds every stale one, once, when a new build starts or a check finds the
//! states behind the log. Beside each state its `trial::projection::Summary` is
//! kept in a store of its own, which is all the home list reads.
//!
//! A tablet does not record the order events arrived in, so an event that
//! belongs before those folded folds its participant afresh in recorded order
//! (`Participant::fold_in_recorded_order`), as `crate::state::participants_of`
//! projects.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;
use rexie::{Direction, KeyRange, TransactionMode};
use serde::{Deserialize, Serialize};
use trial::event::Event;
use trial::payload::SCHEMA_VERSION;
use trial::projection::{OutOfOrder, Participant, Summary};
use trial::time::Calendar;
use uuid::Uuid;
use wasm_bindgen::JsValue;

use super::sync::ENROLMENT;
use super::{
    BY_PARTICIPANT, EVENTS, Enrolment, META, PARTICIPANTS, SUMMARIES, Store, StoreError, database,
    decode, encode,
};

/// The meta record holding the [`StampRecord`] of the states.
const STATE_STAMP: &str = "state_stamp";

/// How many participants one transaction of a rebuild folds: small enough that a
/// save waiting behind it waits a moment, large enough that the transactions'
/// own cost stays small.
const REBUILD_BATCH: usize = 10;

/// Identifies the code that folds states: a hash of the core's and the store's
/// sources, made by `build.rs`, so any change in the rules or the stored shape
/// makes the states of an older build stale.
const CODE: &str = env!("HP_ECMO_STATE_CODE");

/// What a state is folded with: the calendar dates are read in, and the stamp
/// that says which build, schema version and calendar folded it.
#[derive(Clone, Debug)]
pub struct StateContext {
    /// Where dates are read (the site's time zone, or the device's offsets).
    pub calendar: Calendar,
    /// The stamp of every state folded with this context.
    pub stamp: String,
}

/// A participant's state as stored.
#[derive(Serialize, Deserialize)]
struct StateRecord {
    id: Uuid,
    stamp: String,
    state: String,
}

/// A participant's summary as stored.
#[derive(Serialize, Deserialize)]
struct SummaryRecord {
    id: Uuid,
    stamp: String,
    summary: String,
}

/// What the states as a whole were last known to be: folded with `stamp`, from
/// `events` events. Start-up compares it with the log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct StampRecord {
    stamp: String,
    events: u32,
}

/// Where a rebuild stands, for the progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RebuildProgress {
    /// Participants looked at so far.
    pub done: u32,
    /// Participants in the log.
    pub total: u32,
}

thread_local! {
    /// The last context made, by the enrolment's zone and rules: parsing the
    /// site's time-zone rules for every write would be wasted work.
    static CONTEXT: RefCell<Option<(String, StateContext)>> = const { RefCell::new(None) };
    /// The participants whose state this tab's writes changed since the screens
    /// last read them (`take_changed`).
    static CHANGED: RefCell<BTreeSet<Uuid>> = const { RefCell::new(BTreeSet::new()) };
}

impl StateContext {
    /// The context of a tablet with `enrolment`: its site's calendar, or the
    /// device's offsets in training mode or when the site's rules do not read.
    pub fn of(enrolment: Option<&Enrolment>) -> Self {
        let site = enrolment.map(|enrolment| &enrolment.site);
        let key = site.map_or_else(String::new, |site| {
            format!("{}:{:016x}", site.time_zone, fnv(&site.time_zone_rules))
        });
        if let Some(context) = CONTEXT.with_borrow(|cached| {
            cached
                .as_ref()
                .filter(|(cached, _)| *cached == key)
                .map(|(_, context)| context.clone())
        }) {
            return context;
        }
        let (calendar, zone) = match site.and_then(|site| site.calendar().ok()) {
            Some(calendar) => (calendar, key.clone()),
            None => (Calendar::Device, "device".to_owned()),
        };
        let context = Self {
            calendar,
            stamp: format!(
                "{}+{CODE} schema {SCHEMA_VERSION} calendar {zone}",
                crate::actions::APP_VERSION
            ),
        };
        CONTEXT.set(Some((key, context.clone())));
        context
    }
}

/// FNV-1a, 64 bits: a fingerprint of the site's rules for the stamp.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The participants whose state this tab changed since the last call, so the
/// screens re-read those and nothing else.
pub fn take_changed() -> BTreeSet<Uuid> {
    CHANGED.take()
}

impl Store {
    /// The context states are folded with now, from the stored enrolment.
    pub async fn state_context(&self) -> Result<StateContext, StoreError> {
        Ok(StateContext::of(self.enrolment().await?.as_ref()))
    }

    /// Whether the stored states are those of this build and calendar and folded
    /// every event the log holds; when not, [`Store::rebuild`] brings them up to
    /// date.
    pub async fn states_are_current(&self, context: &StateContext) -> Result<bool, StoreError> {
        let tx = self
            .db
            .transaction(&[EVENTS, META], TransactionMode::ReadOnly)
            .map_err(database)?;
        let stamp = read_stamp(&tx.store(META).map_err(database)?).await?;
        let events = tx
            .store(EVENTS)
            .map_err(database)?
            .count(None)
            .await
            .map_err(database)?;
        Ok(stamp.stamp == context.stamp && stamp.events == events)
    }

    /// Every participant's summary, in the order of their first event (as
    /// recorded), read without reading their states. A summary of another stamp
    /// is left out: a rebuild is due and brings it back.
    pub async fn summaries(&self, context: &StateContext) -> Result<Vec<Summary>, StoreError> {
        let tx = self
            .db
            .transaction(&[SUMMARIES], TransactionMode::ReadOnly)
            .map_err(database)?;
        let values = tx
            .store(SUMMARIES)
            .map_err(database)?
            .get_all(None, None)
            .await
            .map_err(database)?;
        let mut summaries = Vec::with_capacity(values.len());
        for value in values {
            if let Some(summary) = summary_of(value, context)? {
                summaries.push(summary);
            }
        }
        sort_summaries(&mut summaries);
        Ok(summaries)
    }

    /// The summaries of `ids` that have one of this stamp.
    pub async fn summaries_of(
        &self,
        ids: &BTreeSet<Uuid>,
        context: &StateContext,
    ) -> Result<Vec<Summary>, StoreError> {
        let tx = self
            .db
            .transaction(&[SUMMARIES], TransactionMode::ReadOnly)
            .map_err(database)?;
        let store = tx.store(SUMMARIES).map_err(database)?;
        let values = join_all(ids.iter().map(|id| store.get(key(*id)))).await;
        let mut summaries = Vec::new();
        for value in values {
            if let Some(summary) = value
                .map_err(database)?
                .map(|value| summary_of(value, context))
                .transpose()?
                .flatten()
            {
                summaries.push(summary);
            }
        }
        Ok(summaries)
    }

    /// One participant's state and events (in chain order), read together: the
    /// stored state when it is current, else folded from the events. `None` when
    /// the log holds nothing about them.
    pub async fn participant(
        &self,
        id: Uuid,
        context: &StateContext,
    ) -> Result<Option<(Participant, Vec<Event>)>, StoreError> {
        let tx = self
            .db
            .transaction(&[EVENTS, PARTICIPANTS], TransactionMode::ReadOnly)
            .map_err(database)?;
        let stored = tx
            .store(PARTICIPANTS)
            .map_err(database)?
            .get(key(id))
            .await
            .map_err(database)?;
        let mut events = events_of(&tx, id).await?;
        if events.is_empty() {
            return Ok(None);
        }
        let participant = match stored.and_then(|value| state_of(value, context)) {
            Some(participant) if participant.events_folded() as usize == events.len() => {
                participant
            }
            _ => Participant::fold_in_recorded_order(id, &events, &context.calendar),
        };
        events.sort_by_key(|event| (event.device_id(), event.device_seq()));
        Ok(Some((participant, events)))
    }

    /// Folds again every participant whose state is stale (another build,
    /// another calendar, or fewer events than the log holds about them), a few
    /// per transaction, telling `progress` after each; then records the states
    /// as current. Safe to stop anywhere: the next start carries on.
    pub async fn rebuild(
        &self,
        context: &StateContext,
        mut progress: impl FnMut(RebuildProgress),
    ) -> Result<(), StoreError> {
        let ids = self.participant_ids().await?;
        let total = ids.len() as u32;
        progress(RebuildProgress { done: 0, total });
        for (batch, chunk) in ids.chunks(REBUILD_BATCH).enumerate() {
            let tx = self
                .db
                .transaction(
                    &[EVENTS, PARTICIPANTS, SUMMARIES],
                    TransactionMode::ReadWrite,
                )
                .map_err(database)?;
            let result = async {
                for id in chunk {
                    refold_if_stale(&tx, *id, context).await?;
                }
                Ok::<_, StoreError>(())
            }
            .await;
            super::finish(tx, result).await?;
            progress(RebuildProgress {
                done: ((batch + 1) * REBUILD_BATCH).min(ids.len()) as u32,
                total,
            });
        }
        // The log may have grown meanwhile (another tab, a pull): those writes
        // folded their own participants, so the count read now is the states'.
        let tx = self
            .db
            .transaction(&[EVENTS, META], TransactionMode::ReadWrite)
            .map_err(database)?;
        let result = async {
            let events = tx
                .store(EVENTS)
                .map_err(database)?
                .count(None)
                .await
                .map_err(database)?;
            write_stamp(
                &tx.store(META).map_err(database)?,
                &StampRecord {
                    stamp: context.stamp.clone(),
                    events,
                },
            )
            .await
        }
        .await;
        super::finish(tx, result).await?;
        CHANGED.with_borrow_mut(|changed| changed.extend(ids));
        Ok(())
    }

    /// Every participant the log holds events about: one entry of the
    /// `by_participant` index per participant.
    async fn participant_ids(&self) -> Result<Vec<Uuid>, StoreError> {
        let tx = self
            .db
            .transaction(&[EVENTS], TransactionMode::ReadOnly)
            .map_err(database)?;
        let index = tx
            .store(EVENTS)
            .and_then(|events| events.index(BY_PARTICIPANT))
            .map_err(database)?;
        let entries = index
            .scan(None, None, None, Some(Direction::NextUnique))
            .await
            .map_err(database)?;
        entries
            .into_iter()
            .map(|(key, _)| {
                key.as_string()
                    .and_then(|text| text.parse().ok())
                    .ok_or_else(|| {
                        StoreError::Corrupt("a participant id that does not read".into())
                    })
            })
            .collect()
    }
}

/// Brings the states of the participants `events` are about up to date inside
/// `tx`, which covers events, meta, participants and summaries and has added
/// `events` already (the index then finds them): each participant's stored state
/// takes its new events in order, or is folded again from all of theirs when one
/// belongs before those folded, or the state is stale or missed an event. The
/// stamp record counts the events in.
pub(super) async fn fold_into_states(
    tx: &rexie::Transaction,
    events: &[Event],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let meta = tx.store(META).map_err(database)?;
    let enrolment: Option<Enrolment> = match meta.get(key_str(ENROLMENT)).await.map_err(database)? {
        Some(value) if !value.is_undefined() => Some(decode(value)?),
        _ => None,
    };
    let context = StateContext::of(enrolment.as_ref());
    let mut by_participant: BTreeMap<Uuid, Vec<&Event>> = BTreeMap::new();
    for event in events {
        by_participant
            .entry(event.participant_id())
            .or_default()
            .push(event);
    }
    let participants = tx.store(PARTICIPANTS).map_err(database)?;
    let index = tx
        .store(EVENTS)
        .and_then(|events| events.index(BY_PARTICIPANT))
        .map_err(database)?;
    let ranges = by_participant
        .keys()
        .map(|id| only(*id))
        .collect::<Result<Vec<_>, _>>()?;
    let (stored, counts) = futures::join!(
        join_all(by_participant.keys().map(|id| participants.get(key(*id)))),
        join_all(ranges.into_iter().map(|range| index.count(Some(range)))),
    );
    let mut folded = Vec::with_capacity(by_participant.len());
    for (((id, new), stored), count) in by_participant.into_iter().zip(stored).zip(counts) {
        let held = count.map_err(database)? as usize;
        let stored = stored.map_err(database)?;
        let participant = if stored.is_none() && held == new.len() {
            // New to the tablet, all their events in this batch (a sync-in's
            // page): folded from the batch, without reading back what it wrote.
            let new: Vec<Event> = new.into_iter().cloned().collect();
            Participant::fold_in_recorded_order(id, &new, &context.calendar)
        } else {
            let current = stored
                .and_then(|value| state_of(value, &context))
                // A state that missed an event the log holds is folded again.
                .filter(|participant| participant.events_folded() as usize + new.len() == held);
            let applied = current.and_then(|mut participant| {
                applies_in_order(&mut participant, &new).then_some(participant)
            });
            match applied {
                Some(participant) => participant,
                // Out of order, or stale: fold the participant's events afresh.
                None => {
                    let events = events_of(tx, id).await?;
                    Participant::fold_in_recorded_order(id, &events, &context.calendar)
                }
            }
        };
        folded.push(participant);
    }
    write_states(tx, &folded, &context).await?;
    let mut stamp = read_stamp(&meta).await?;
    if stamp.stamp == context.stamp {
        stamp.events += events.len() as u32;
        write_stamp(&meta, &stamp).await?;
    }
    CHANGED.with_borrow_mut(|changed| changed.extend(folded.iter().map(Participant::id)));
    Ok(())
}

/// Applies `new` to `participant` one by one; false when one of them belongs
/// before the events folded, so the participant must be folded again.
fn applies_in_order(participant: &mut Participant, new: &[&Event]) -> bool {
    new.iter()
        .all(|event| participant.apply(event) != Err(OutOfOrder))
}

/// Folds participant `id` again inside `tx` unless their stored state is
/// current and folded every event the log holds about them.
async fn refold_if_stale(
    tx: &rexie::Transaction,
    id: Uuid,
    context: &StateContext,
) -> Result<(), StoreError> {
    let index = tx
        .store(EVENTS)
        .and_then(|events| events.index(BY_PARTICIPANT))
        .map_err(database)?;
    let (stored, count) = futures::join!(
        async {
            tx.store(PARTICIPANTS)
                .map_err(database)?
                .get(key(id))
                .await
                .map_err(database)
        },
        async { index.count(Some(only(id)?)).await.map_err(database) }
    );
    let (current, count) = (stored?.and_then(|value| state_of(value, context)), count?);
    if current.is_some_and(|participant| participant.events_folded() == count) {
        return Ok(());
    }
    let events = events_of(tx, id).await?;
    let participant = Participant::fold_in_recorded_order(id, &events, &context.calendar);
    write_states(tx, std::slice::from_ref(&participant), context).await
}

/// Writes each participant's state and summary, stamped.
async fn write_states(
    tx: &rexie::Transaction,
    folded: &[Participant],
    context: &StateContext,
) -> Result<(), StoreError> {
    let mut states = Vec::with_capacity(folded.len());
    let mut summaries = Vec::with_capacity(folded.len());
    for participant in folded {
        let record = StateRecord {
            id: participant.id(),
            stamp: context.stamp.clone(),
            state: participant.to_stored(),
        };
        states.push((encode(&record)?, None));
        // One participant's save: the screen reads them back next.
        if let [only] = folded {
            LAST_STATE.set(Some((record.stamp, record.state, only.clone())));
        }
        summaries.push((
            encode(&SummaryRecord {
                id: participant.id(),
                stamp: context.stamp.clone(),
                summary: participant.summary().to_stored(),
            })?,
            None,
        ));
    }
    tx.store(PARTICIPANTS)
        .map_err(database)?
        .put_all(states.into_iter())
        .await
        .map_err(database)?;
    tx.store(SUMMARIES)
        .map_err(database)?
        .put_all(summaries.into_iter())
        .await
        .map_err(database)
}

/// Every event about participant `id`, through the index, as stored.
async fn events_of(tx: &rexie::Transaction, id: Uuid) -> Result<Vec<Event>, StoreError> {
    let index = tx
        .store(EVENTS)
        .and_then(|events| events.index(BY_PARTICIPANT))
        .map_err(database)?;
    let values = index
        .get_all(Some(only(id)?), None)
        .await
        .map_err(database)?;
    values.into_iter().map(decode).collect()
}

thread_local! {
    /// The state last written or read, with the stamp and text it was stored
    /// as. A save folds one event into a participant's stored state and the
    /// screen then reads that state back: reading the text is a save's costliest
    /// step, and this makes it once. It answers only for exactly the same stamp
    /// and text, so what it gives is what reading would give.
    static LAST_STATE: RefCell<Option<(String, String, Participant)>> = const { RefCell::new(None) };
}

/// The stored state in `value`, if it is of this stamp and reads.
fn state_of(value: JsValue, context: &StateContext) -> Option<Participant> {
    let record: StateRecord = decode(value).ok()?;
    if record.stamp != context.stamp {
        return None;
    }
    let known = LAST_STATE.with_borrow(|last| {
        last.as_ref()
            .filter(|(stamp, text, _)| *stamp == record.stamp && *text == record.state)
            .map(|(_, _, participant)| participant.clone())
    });
    if known.is_some() {
        return known;
    }
    let participant = Participant::from_stored(&record.state, &context.calendar).ok()?;
    LAST_STATE.set(Some((record.stamp, record.state, participant.clone())));
    Some(participant)
}

/// The stored summary in `value`, if it is of this stamp; an error when it is
/// and does not read.
fn summary_of(value: JsValue, context: &StateContext) -> Result<Option<Summary>, StoreError> {
    let record: SummaryRecord = decode(value)?;
    if record.stamp != context.stamp {
        return Ok(None);
    }
    Summary::from_stored(&record.summary, &context.calendar)
        .map(Some)
        .map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// Sorts summaries as `trial::projection::project` orders participants of a log
/// in recorded order: by their first event.
pub fn sort_summaries(summaries: &mut [Summary]) {
    summaries.sort_by_key(|summary| (summary.first_event(), summary.id()));
}

async fn read_stamp(meta: &rexie::Store) -> Result<StampRecord, StoreError> {
    match meta.get(key_str(STATE_STAMP)).await.map_err(database)? {
        Some(value) if !value.is_undefined() => decode(value),
        _ => Ok(StampRecord::default()),
    }
}

async fn write_stamp(meta: &rexie::Store, stamp: &StampRecord) -> Result<(), StoreError> {
    meta.put(&encode(stamp)?, Some(&key_str(STATE_STAMP)))
        .await
        .map_err(database)?;
    Ok(())
}

/// Records inside a transaction over meta that the states are those of
/// `context`, folded from `events` events: for enrolment, which leaves none.
pub(super) async fn write_stamp_for(
    meta: &rexie::Store,
    context: &StateContext,
    events: u32,
) -> Result<(), StoreError> {
    write_stamp(
        meta,
        &StampRecord {
            stamp: context.stamp.clone(),
            events,
        },
    )
    .await
}

fn key(id: Uuid) -> JsValue {
    JsValue::from_str(&id.to_string())
}

fn key_str(name: &str) -> JsValue {
    JsValue::from_str(name)
}

fn only(id: Uuid) -> Result<KeyRange, StoreError> {
    KeyRange::only(&key(id)).map_err(|error| StoreError::Database(error.to_string()))
}
