//! What the screens share, provided once by [`crate::App`] as contexts: what the
//! tablet holds (each participant's summary, the participant on screen, the
//! outbox, leases, users, the enrolment) and who is signed in.
//!
//! The log is the only source of truth, and every participant's state is a
//! projection of it (`trial::projection`), but the screens never fold the log:
//! the store keeps each participant's state and summary beside it, written in
//! the same transaction as each event (`crate::store`). So start-up reads the
//! summaries, a write re-reads only the participants it changed (the store names
//! them), a sync that pulled nothing re-reads nothing of them, and opening a
//! participant reads that one state and its events. When the stored states are
//! not those of this build and calendar, or are behind the log, they are folded
//! again once, with a progress bar ([`Progress`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use leptos::prelude::*;
use leptos::task::spawn_local;
use trial::event::Event;
use trial::projection::{Participant, Summary, project};
use trial::time::Calendar;
use uuid::Uuid;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::BroadcastChannel;

use crate::store::{
    Enrolment, LeaseRecord, OutboxItem, RebuildProgress, StateContext, Store, StoreError,
    SyncState, UserRecord, sort_summaries, take_changed,
};

/// The name of the tablet's IndexedDB database.
pub const DATABASE: &str = "hp-ecmo";

/// The tablet's stored state as the screens see it.
#[derive(Clone, Copy)]
pub struct Tablet {
    /// Every participant's summary, in the order of their first event as
    /// recorded: what the home list shows.
    pub summaries: RwSignal<Vec<Summary>>,
    /// The participant on screen, as their stored state ([`Tablet::participant`]).
    pub open: RwSignal<Option<Participant>>,
    /// The events of the participant on screen, in chain order: what their
    /// timeline tells.
    pub events: RwSignal<Vec<Event>>,
    /// This tablet's events not yet acknowledged by the server, oldest first.
    pub outbox: RwSignal<Vec<OutboxItem>>,
    /// How many events wait for the server.
    pub pending: Memo<u32>,
    /// The lease randomisation draws from, if any slot is left.
    pub lease: RwSignal<Option<LeaseRecord>>,
    /// Who may sign in.
    pub users: RwSignal<Vec<UserRecord>>,
    /// This tablet's device id, once read.
    pub device: RwSignal<Option<Uuid>>,
    /// The enrolment with the server; `None` in training mode.
    pub enrolment: RwSignal<Option<Enrolment>>,
    /// Where calendar dates are read (`calendar_of`).
    pub calendar: Memo<Calendar>,
    /// Where sync stands.
    pub sync: RwSignal<SyncState>,
    /// Long work under way that the screens show with a progress bar.
    pub progress: RwSignal<Option<Progress>>,
    /// Whether the first read has finished (so "no users" means none, not "not yet").
    pub loaded: RwSignal<bool>,
    /// The last storage failure, shown until the next successful read.
    pub error: RwSignal<Option<String>>,
    /// The participant being read for the screen, if one is.
    opening: RwSignal<Option<Uuid>>,
    /// The participant the screen last asked for: re-read when their state
    /// changes.
    wanted: StoredValue<Option<Uuid>>,
    /// The stamp the states were last read with.
    stamp: StoredValue<Option<String>>,
}

/// Long work the tablet does in the background, for the progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The participants' states are folded again from the log (a new build, or
    /// states behind the log).
    Rebuilding(RebuildProgress),
    /// Sync is storing other tablets' events: how many so far in this run.
    Receiving {
        /// Events stored so far.
        received: usize,
    },
}

/// What changed in storage, for a re-read.
enum Changes {
    /// Anything may have: read every summary.
    All,
    /// Only these participants' states.
    Participants(BTreeSet<Uuid>),
}

impl Tablet {
    fn new() -> Self {
        let outbox = RwSignal::new(Vec::<OutboxItem>::new());
        let enrolment = RwSignal::new(None::<Enrolment>);
        Self {
            summaries: RwSignal::new(Vec::new()),
            open: RwSignal::new(None),
            events: RwSignal::new(Vec::new()),
            outbox,
            pending: Memo::new(move |_| outbox.with(Vec::len) as u32),
            lease: RwSignal::new(None),
            users: RwSignal::new(Vec::new()),
            device: RwSignal::new(None),
            enrolment,
            calendar: Memo::new(move |_| {
                enrolment.with(|enrolment| calendar_of(enrolment.as_ref()))
            }),
            sync: RwSignal::new(SyncState::default()),
            progress: RwSignal::new(None),
            loaded: RwSignal::new(false),
            error: RwSignal::new(None),
            opening: RwSignal::new(None),
            wanted: StoredValue::new(None),
            stamp: StoredValue::new(None),
        }
    }

    /// Whether this tablet is in training: everything recorded before enrolment
    /// is training, deleted at enrolment and never synced, so every screen that
    /// could be mistaken for the trial's says so. Reactive.
    pub fn is_training(self) -> bool {
        self.loaded.get() && self.enrolment.with(Option::is_none)
    }

    /// Re-reads what this tab's writes changed; call after every write. The
    /// tablet's other tabs are told which participants changed, so none shows a
    /// participant as it was before this tab changed it.
    pub fn refresh(self) {
        spawn_local(self.reload());
    }

    /// Re-reads what this tab's writes changed, for a caller that shows the
    /// result next (closing a form only once its saved value is on screen).
    pub async fn reload(self) {
        let changed = take_changed();
        tell_other_tabs(&changed);
        self.read(Changes::Participants(changed)).await;
    }

    /// The participant `id` as stored, for the screen; read from storage the
    /// first time it is asked for (until then `None`, and
    /// [`Tablet::is_opening`] says so), and kept up to date after that.
    pub fn participant(self, id: Uuid) -> Option<Participant> {
        let open = self
            .open
            .with(|open| open.as_ref().filter(|open| open.id() == id).cloned());
        if open.is_none() && self.wanted.get_value() != Some(id) {
            self.wanted.set_value(Some(id));
            // Not while the screen computes: a signal is set once it has.
            spawn_local(async move {
                self.opening.set(Some(id));
                self.read_open(id).await;
            });
        }
        open
    }

    /// Whether a participant asked for is still being read.
    pub fn is_opening(self) -> bool {
        self.opening.with(Option::is_some)
    }

    /// How many events about each participant wait for the server.
    pub fn unsynced_by_participant(self) -> BTreeMap<Uuid, usize> {
        let mut counts = BTreeMap::new();
        self.outbox.with(|outbox| {
            for item in outbox {
                *counts.entry(item.participant_id).or_default() += 1;
            }
        });
        counts
    }

    /// Reads what `changes` names and the small records (outbox, lease, users,
    /// enrolment, sync state), setting only the signals whose value changed, so
    /// a sync that stored nothing new redraws nothing. At the first read, and
    /// when anything may have changed, starts folding the states again when they
    /// are not current.
    async fn read(self, changes: Changes) {
        // Whether the states may not be this build's or may lag the log: at the
        // first read, when another tab says anything may have changed, and when
        // the calendar changed (enrolment, new rules for the site's zone). A
        // save or a pulled page folds its events in its own transaction, so
        // after one they are current; and counting the log takes longer the
        // longer it is, too long to do after every page of a sync.
        let check = !self.loaded.get_untracked() || matches!(changes, Changes::All);
        match self.read_from_store(changes).await {
            Ok(new_stamp) => {
                self.error.set(None);
                if check || new_stamp {
                    // After the screen has what it asked for.
                    spawn_local(self.rebuild_if_stale());
                }
            }
            Err(error) => self.error.set(Some(error.to_string())),
        }
        self.loaded.set(true);
    }

    /// Folds the states again when they are not those of this build and
    /// calendar, or are behind the log.
    async fn rebuild_if_stale(self) {
        let current = async {
            let store = Store::open(DATABASE).await?;
            let context = store.state_context().await;
            let current = match context {
                Ok(context) => store.states_are_current(&context).await,
                Err(error) => Err(error),
            };
            store.close();
            current
        }
        .await;
        match current {
            Ok(true) => {}
            Ok(false) => self.rebuild().await,
            Err(error) => self.error.set(Some(error.to_string())),
        }
    }

    /// Whether the states' stamp (build, schema, calendar) differs from the
    /// last read's.
    async fn read_from_store(self, changes: Changes) -> Result<bool, StoreError> {
        let store = Store::open(DATABASE).await?;
        let result = async {
            let enrolment = store.enrolment().await?;
            let context = StateContext::of(enrolment.as_ref());
            // Before anything read below is shown: its times are the site's.
            crate::clock::set_calendar(context.calendar.clone());
            let new_stamp = self
                .stamp
                .try_update_value(|stamp| {
                    let new = stamp.as_deref() != Some(context.stamp.as_str());
                    *stamp = Some(context.stamp.clone());
                    new
                })
                .unwrap_or(false);
            let (outbox, lease, users, head, sync) = futures::try_join!(
                store.outbox(),
                store.active_lease(),
                store.users(),
                store.chain_head(),
                store.sync_state(),
            )?;
            set_if_changed(self.lease, lease);
            set_if_changed(self.users, users);
            set_if_changed(self.device, Some(head.device_id()));
            set_if_changed(self.enrolment, enrolment);
            set_if_changed(self.sync, sync);
            let open = self.wanted.get_value();
            let first_read = !self.loaded.get_untracked();
            match changes {
                Changes::Participants(ids) if !first_read => {
                    if !ids.is_empty() {
                        let fresh = store.summaries_of(&ids, &context).await?;
                        self.summaries.update(|summaries| merge(summaries, fresh));
                    }
                    if let Some(open) = open.filter(|open| ids.contains(open)) {
                        self.set_open(&store, open, &context).await?;
                    }
                }
                _ => {
                    self.summaries.set(store.summaries(&context).await?);
                    if let Some(open) = open {
                        self.set_open(&store, open, &context).await?;
                    }
                }
            }
            // Last: a new entry in the outbox starts a sync, which should not
            // compete with showing what was just saved.
            set_if_changed(self.outbox, outbox);
            Ok(new_stamp)
        }
        .await;
        store.close();
        result
    }

    /// Reads participant `id` and their events for the screen.
    async fn read_open(self, id: Uuid) {
        let result = async {
            let store = Store::open(DATABASE).await?;
            let context = store.state_context().await;
            let read = match context {
                Ok(context) => self.set_open(&store, id, &context).await,
                Err(error) => Err(error),
            };
            store.close();
            read
        }
        .await;
        if let Err(error) = result {
            self.error.set(Some(error.to_string()));
        }
        self.opening.set(None);
    }

    async fn set_open(
        self,
        store: &Store,
        id: Uuid,
        context: &StateContext,
    ) -> Result<(), StoreError> {
        match store.participant(id, context).await? {
            Some((participant, events)) => {
                self.events.set(events);
                self.open.set(Some(participant));
            }
            None => {
                self.events.set(Vec::new());
                self.open.set(None);
            }
        }
        Ok(())
    }

    /// Folds the stored states again from the log, showing how far it got, then
    /// reads every summary.
    async fn rebuild(self) {
        if self.progress.get_untracked().is_some() {
            return;
        }
        let result = async {
            let store = Store::open(DATABASE).await?;
            let context = store.state_context().await;
            let rebuilt = match context {
                Ok(context) => {
                    store
                        .rebuild(&context, |done| {
                            self.progress.set(Some(Progress::Rebuilding(done)));
                        })
                        .await
                }
                Err(error) => Err(error),
            };
            store.close();
            rebuilt
        }
        .await;
        self.progress.set(None);
        take_changed();
        if let Err(error) = result {
            self.error.set(Some(error.to_string()));
            return;
        }
        tell_other_tabs_all();
        self.read(Changes::All).await;
    }
}

/// Sets `signal` to `value` unless it holds that already, so nothing that reads
/// it is redrawn for nothing.
fn set_if_changed<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    if signal.with_untracked(|current| *current != value) {
        signal.set(value);
    }
}

/// Replaces or adds `fresh` summaries in `summaries`, keeping their order.
fn merge(summaries: &mut Vec<Summary>, fresh: Vec<Summary>) {
    for summary in fresh {
        match summaries.iter_mut().find(|kept| kept.id() == summary.id()) {
            Some(kept) => *kept = summary,
            None => summaries.push(summary),
        }
    }
    sort_summaries(summaries);
}

/// The channel on which a tab that wrote tells the tablet's other tabs to re-read.
const CHANGES: &str = "hp-ecmo-changes";

thread_local! {
    /// This tab's end of [`CHANGES`]: it posts there and listens there, and a
    /// channel object never receives its own messages.
    static CHANNEL: RefCell<Option<BroadcastChannel>> = const { RefCell::new(None) };
}

/// Tells the other tabs which participants changed: the ids as strings (an
/// empty list when only the small records may have).
fn tell_other_tabs(changed: &BTreeSet<Uuid>) {
    let ids = js_sys::Array::new();
    for id in changed {
        ids.push(&JsValue::from_str(&id.to_string()));
    }
    post(&ids);
}

/// Tells the other tabs that any participant may have changed.
fn tell_other_tabs_all() {
    post(&JsValue::NULL);
}

fn post(message: &JsValue) {
    // Without BroadcastChannel the other tabs still re-read at their next sync or
    // write; nothing is lost, they only lag.
    CHANNEL.with_borrow(|channel| {
        if let Some(channel) = channel {
            let _ = channel.post_message(message);
        }
    });
}

/// Re-reads whenever another tab of this tablet wrote, for the life of the app.
fn listen_to_other_tabs(tablet: Tablet) {
    let Ok(channel) = BroadcastChannel::new(CHANGES) else {
        return;
    };
    let on_message =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |message: web_sys::MessageEvent| {
            let changes = match message.data().dyn_into::<js_sys::Array>() {
                Ok(ids) => Changes::Participants(
                    ids.iter()
                        .filter_map(|id| id.as_string()?.parse().ok())
                        .collect(),
                ),
                Err(_) => Changes::All,
            };
            spawn_local(tablet.read(changes));
        });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the page, as does the channel kept below.
    on_message.forget();
    CHANNEL.set(Some(channel));
}

/// Who is signed in: every event names this user.
#[derive(Clone, Copy)]
pub struct Session {
    /// The signed-in user, if any.
    pub user: RwSignal<Option<UserRecord>>,
    /// Whether the screen is locked after idling: the user stays signed in and
    /// the open page (with any unsaved form) stays as it was, hidden until the
    /// same user's PIN unlocks it.
    pub locked: RwSignal<bool>,
}

/// The participants of a tablet's log, folded whole: what the states the store
/// keeps always equal (a browser test checks it). The projection decides two
/// facts by the order events were received in (the screening tablet, the
/// randomisation that stands); the tablet does not record when each event
/// arrived, so it gives them in the order they were recorded, as the nearest it
/// knows. The server, which does know, verifies every randomisation by its own
/// order.
pub fn participants_of(events: &[Event], calendar: &Calendar) -> Vec<Participant> {
    let mut ordered: Vec<Event> = events.to_vec();
    ordered.sort_by_key(|event| (event.recorded_at(), event.id()));
    project(&ordered, calendar)
}

/// Where the tablet reads calendar dates (the age on the screening date): in its
/// site's time zone, by the rules the server sent; in training mode, or with rules
/// that do not read, in the device's own offset at each moment (the screens say
/// so).
pub fn calendar_of(enrolment: Option<&Enrolment>) -> Calendar {
    StateContext::of(enrolment).calendar
}

/// Provides the shared state and starts the first read; called once by the root.
pub fn provide() -> (Tablet, Session) {
    let tablet = Tablet::new();
    let session = Session {
        user: RwSignal::new(None),
        locked: RwSignal::new(false),
    };
    provide_context(tablet);
    provide_context(session);
    listen_to_other_tabs(tablet);
    spawn_local(tablet.read(Changes::All));
    (tablet, session)
}

/// The shared tablet state.
pub fn use_tablet() -> Tablet {
    expect_context()
}

/// The sign-in state.
pub fn use_session() -> Session {
    expect_context()
}
