//! What the screens share, provided once by [`crate::App`] as contexts: the log read
//! from IndexedDB (and what is derived from it), and who is signed in.
//!
//! The participant list is a projection of the event log (`trial::projection`),
//! recomputed in memory whenever the log changes: the log is the only thing stored,
//! so the screens can never show state that disagrees with it.

use leptos::prelude::*;
use leptos::task::spawn_local;
use trial::event::Event;
use trial::projection::{Participant, project};
use uuid::Uuid;

use crate::store::{LeaseRecord, Store, StoreError, UserRecord};

/// The name of the tablet's IndexedDB database.
pub const DATABASE: &str = "hp-ecmo";

/// The tablet's stored state as the screens see it.
#[derive(Clone, Copy)]
pub struct Tablet {
    /// Every event on this tablet, in chain order.
    pub events: RwSignal<Vec<Event>>,
    /// This tablet's events not yet acknowledged by the server.
    pub pending: RwSignal<u32>,
    /// The lease randomisation draws from, if any slot is left.
    pub lease: RwSignal<Option<LeaseRecord>>,
    /// Who may sign in.
    pub users: RwSignal<Vec<UserRecord>>,
    /// This tablet's device id, once read.
    pub device: RwSignal<Option<Uuid>>,
    /// Whether the first read has finished (so "no users" means none, not "not yet").
    pub loaded: RwSignal<bool>,
    /// The last storage failure, shown until the next successful read.
    pub error: RwSignal<Option<String>>,
}

impl Tablet {
    fn new() -> Self {
        Self {
            events: RwSignal::new(Vec::new()),
            pending: RwSignal::new(0),
            lease: RwSignal::new(None),
            users: RwSignal::new(Vec::new()),
            device: RwSignal::new(None),
            loaded: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }

    /// Re-reads everything from IndexedDB; call after every write.
    pub fn refresh(self) {
        spawn_local(async move {
            match read_all().await {
                Ok(Read {
                    events,
                    pending,
                    lease,
                    users,
                    device,
                }) => {
                    self.events.set(events);
                    self.pending.set(pending);
                    self.lease.set(lease);
                    self.users.set(users);
                    self.device.set(Some(device));
                    self.error.set(None);
                }
                Err(error) => self.error.set(Some(error.to_string())),
            }
            self.loaded.set(true);
        });
    }

    /// The participants, projected from the log.
    pub fn participants(self) -> Vec<Participant> {
        self.events.with(|events| project(events))
    }
}

/// Everything the screens read from storage, in one go.
struct Read {
    events: Vec<Event>,
    pending: u32,
    lease: Option<LeaseRecord>,
    users: Vec<UserRecord>,
    device: Uuid,
}

async fn read_all() -> Result<Read, StoreError> {
    let store = Store::open(DATABASE).await?;
    let read = Read {
        events: store.events().await?,
        pending: store.pending().await?,
        lease: store.active_lease().await?,
        users: store.users().await?,
        device: store.chain_head().await?.device_id(),
    };
    store.close();
    Ok(read)
}

/// Who is signed in: every event names this user.
#[derive(Clone, Copy)]
pub struct Session {
    /// The signed-in user, if any.
    pub user: RwSignal<Option<UserRecord>>,
}

/// Provides the shared state and starts the first read; called once by the root.
pub fn provide() -> (Tablet, Session) {
    let tablet = Tablet::new();
    let session = Session {
        user: RwSignal::new(None),
    };
    provide_context(tablet);
    provide_context(session);
    tablet.refresh();
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
