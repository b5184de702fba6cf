//! What the screens share, provided once by [`crate::App`] as contexts: the log read
//! from IndexedDB (and what is derived from it), and who is signed in.
//!
//! The participant list is a projection of the event log (`trial::projection`),
//! recomputed in memory whenever the log changes: the log is the only thing stored,
//! so the screens can never show state that disagrees with it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use leptos::prelude::*;
use leptos::task::spawn_local;
use trial::event::Event;
use trial::projection::{Participant, project};
use trial::time::Calendar;
use uuid::Uuid;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::BroadcastChannel;

use crate::store::{Enrolment, LeaseRecord, Store, StoreError, SyncState, UserRecord};

/// The name of the tablet's IndexedDB database.
pub const DATABASE: &str = "hp-ecmo";

/// The tablet's stored state as the screens see it.
#[derive(Clone, Copy)]
pub struct Tablet {
    /// Every event on this tablet, in chain order.
    pub events: RwSignal<Vec<Event>>,
    /// The ids of this tablet's events not yet acknowledged by the server.
    pub outbox: RwSignal<Vec<Uuid>>,
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
    /// Whether the first read has finished (so "no users" means none, not "not yet").
    pub loaded: RwSignal<bool>,
    /// The last storage failure, shown until the next successful read.
    pub error: RwSignal<Option<String>>,
}

impl Tablet {
    fn new() -> Self {
        let outbox = RwSignal::new(Vec::<Uuid>::new());
        let enrolment = RwSignal::new(None::<Enrolment>);
        Self {
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
            loaded: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }

    /// Re-reads everything from IndexedDB; call after every write. The tablet's
    /// other tabs are told to re-read too, so none shows a participant as it was
    /// before this tab changed it.
    pub fn refresh(self) {
        spawn_local(self.reload());
        tell_other_tabs();
    }

    /// Re-reads everything from IndexedDB, for a caller that shows the result
    /// next (closing a form only once its saved value is on screen).
    pub async fn reload(self) {
        match read_all().await {
            Ok(Read {
                events,
                outbox,
                lease,
                users,
                device,
                enrolment,
                sync,
            }) => {
                self.events.set(events);
                self.outbox.set(outbox);
                self.lease.set(lease);
                self.users.set(users);
                self.device.set(Some(device));
                self.enrolment.set(enrolment);
                self.sync.set(sync);
                self.error.set(None);
            }
            Err(error) => self.error.set(Some(error.to_string())),
        }
        self.loaded.set(true);
    }

    /// The participants, projected from the log in the tablet's calendar.
    pub fn participants(self) -> Vec<Participant> {
        self.calendar
            .with(|calendar| self.events.with(|events| participants_of(events, calendar)))
    }

    /// What `read` makes of the participants, read without tracking (from an event
    /// handler).
    pub fn participants_untracked<T>(self, read: impl FnOnce(&[Participant]) -> T) -> T {
        let calendar = self.calendar.get_untracked();
        self.events
            .with_untracked(|events| read(&participants_of(events, &calendar)))
    }

    /// How many events about each participant wait for the server.
    pub fn unsynced_by_participant(self) -> BTreeMap<Uuid, usize> {
        let waiting: BTreeSet<Uuid> = self.outbox.with(|outbox| outbox.iter().copied().collect());
        let mut counts = BTreeMap::new();
        self.events.with(|events| {
            for event in events.iter().filter(|event| waiting.contains(&event.id())) {
                *counts.entry(event.participant_id()).or_default() += 1;
            }
        });
        counts
    }
}

/// Everything the screens read from storage, in one go.
struct Read {
    events: Vec<Event>,
    outbox: Vec<Uuid>,
    lease: Option<LeaseRecord>,
    users: Vec<UserRecord>,
    device: Uuid,
    enrolment: Option<Enrolment>,
    sync: SyncState,
}

async fn read_all() -> Result<Read, StoreError> {
    let store = Store::open(DATABASE).await?;
    let read = Read {
        events: store.events().await?,
        outbox: store.outbox_event_ids().await?,
        lease: store.active_lease().await?,
        users: store.users().await?,
        device: store.chain_head().await?.device_id(),
        enrolment: store.enrolment().await?,
        sync: store.sync_state().await?,
    };
    store.close();
    Ok(read)
}

/// The channel on which a tab that wrote tells the tablet's other tabs to re-read.
const CHANGES: &str = "hp-ecmo-changes";

thread_local! {
    /// This tab's end of [`CHANGES`]: it posts there and listens there, and a
    /// channel object never receives its own messages.
    static CHANNEL: RefCell<Option<BroadcastChannel>> = const { RefCell::new(None) };
}

fn tell_other_tabs() {
    // Without BroadcastChannel the other tabs still re-read at their next sync or
    // write; nothing is lost, they only lag.
    CHANNEL.with_borrow(|channel| {
        if let Some(channel) = channel {
            let _ = channel.post_message(&JsValue::NULL);
        }
    });
}

/// Re-reads whenever another tab of this tablet wrote, for the life of the app.
fn listen_to_other_tabs(tablet: Tablet) {
    let Ok(channel) = BroadcastChannel::new(CHANGES) else {
        return;
    };
    let on_message = Closure::<dyn Fn()>::new(move || spawn_local(tablet.reload()));
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

/// The participants of the tablet's log. The projection decides two facts by the
/// order events were received in (the screening tablet, the randomisation that
/// stands); the tablet does not record when each event arrived, so it gives them
/// in the order they were recorded, as the nearest it knows. The server, which
/// does know, verifies every randomisation by its own order.
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
    enrolment
        .and_then(|enrolment| enrolment.site.calendar().ok())
        .unwrap_or(Calendar::Device)
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
    spawn_local(tablet.reload());
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
