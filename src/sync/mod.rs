//! The sync client: enrolment with the server, then push, lease top-up, users and
//! pull.
//!
//! The order of one run matters. The outbox goes first, so the server counts the
//! slots this tablet used before it decides whether to issue a lease; then the
//! site's users (a new user, a changed PIN); pulls come last, page by page, each
//! page stored with its cursor and its participants' new states, while the next
//! page is already on its way. Every step's answer is
//! stored in one transaction (`crate::store`), so a run cut off anywhere (the
//! network gone, the tab closed, the server killed) leaves nothing half-done, and
//! the next run simply asks again: push and pull are idempotent on the server.
//!
//! The server serves the app, so it is always this page's own origin.

pub(crate) mod http;
mod schedule;

use trial::event::Event;
use trial::pin::PinHash;
use trial::wire::{
    EnrolRequest, EnrolResponse, LeaseRequest, LeaseResponse, LockoutsRequest, LockoutsResponse,
    MAX_LOCKOUTS, MAX_PULL_EVENTS, MAX_PUSH_EVENTS, PinChangeRequest, PinChangeResponse,
    PullResponse, PushRequest, PushResponse, SealedLease, StatusReport, StatusResponse, User,
    UsersResponse,
};
use uuid::Uuid;

pub use http::SyncError;
pub use schedule::{Phase, SyncStatus, start, use_sync};

use crate::actions::APP_VERSION;
use crate::crypto;
use crate::state::DATABASE;
use crate::store::{Enrolment, LeaseMode, LeaseRecord, LeaseSeal, NewEnrolment, Store, UserRecord};

/// Enrols this tablet with the one-time `code` the coordinator gave. Training
/// records on the tablet are removed (they never count for the trial); the chain
/// restarts under a new device id; the site's users and the first lease arrive.
pub async fn enrol(code: &str) -> Result<(), SyncError> {
    let store = Store::open(DATABASE).await?;
    let result = enrol_in(&store, code).await;
    store.close();
    result
}

async fn enrol_in(store: &Store, code: &str) -> Result<(), SyncError> {
    if store.enrolment().await?.is_some() {
        return Err(SyncError::AlreadyEnrolled);
    }
    let request = EnrolRequest {
        code: code.to_owned(),
        device_id: Uuid::now_v7(),
        app_version: APP_VERSION.to_owned(),
        public_key: crypto::lease_public_key(store).await?,
    };
    let answer: EnrolResponse = http::post("/api/enrol", None, &request).await?;
    if answer.device_id != request.device_id || answer.lease.device_id != request.device_id {
        return Err(SyncError::Unexpected(
            "the server answered for another device".into(),
        ));
    }
    let users = answer.users.into_iter().map(user_record).collect();
    store
        .enrol(NewEnrolment {
            device_id: answer.device_id,
            enrolment: Enrolment {
                device_token: answer.device_token,
                device_label: answer.device_label,
                site: answer.site,
                enrolled_at_ms: answer.server_time_ms,
                // The next sync, right after, brings the site's tablets.
                tablets: Vec::new(),
                authors: Vec::new(),
            },
            users,
            lease: lease_record(answer.lease),
        })
        .await?;
    Ok(())
}

/// What one run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The tablet is not enrolled: there is nothing to sync with.
    NotEnrolled,
    /// Everything was exchanged; `refused` when the server refused part of the
    /// outbox (the status line says what).
    Synced {
        /// Whether events remain that the server refused.
        refused: bool,
    },
}

/// One sync run: push the outbox, top up the leases, pull the other devices'
/// events, telling `received` how many new events it has stored so far.
pub async fn sync_once(received: impl Fn(usize)) -> Result<Outcome, SyncError> {
    let store = Store::open(DATABASE).await?;
    let result = sync_in(&store, &received).await;
    store.close();
    result
}

async fn sync_in(store: &Store, received: &impl Fn(usize)) -> Result<Outcome, SyncError> {
    let Some(enrolment) = store.enrolment().await? else {
        return Ok(Outcome::NotEnrolled);
    };
    let token = Some(enrolment.device_token.as_str());
    report_status(store, token).await?;
    let refused = push(store, token).await?;
    let leases: LeaseResponse = http::post("/api/leases", token, &LeaseRequest {}).await?;
    // Measured at every run, not only when something was pushed, so a tablet
    // whose clock drifts hears of it before its next randomisation.
    let clock_offset_ms = leases.server_time_ms - now_ms();
    let leases: Vec<LeaseRecord> = leases.leases.into_iter().map(lease_record).collect();
    store.add_new_leases(&leases).await?;
    let users: UsersResponse = http::get("/api/users", token).await?;
    let (site, tablets, authors) = (users.site, users.tablets, users.authors);
    let users: Vec<UserRecord> = users.users.into_iter().map(user_record).collect();
    store
        .replace_users(&users, site.as_ref(), &tablets, &authors)
        .await?;
    report_lockouts(store, token).await?;
    pull(store, token, received).await?;
    store.sync_succeeded(now_ms(), clock_offset_ms).await?;
    Ok(Outcome::Synced { refused })
}

/// Replaces `user_id`'s PIN `old` with `new` on the server, which checks both
/// and hashes the new one; the answer is the new hash, for the tablet to keep.
pub async fn change_pin(user_id: Uuid, old: &str, new: &str) -> Result<PinHash, SyncError> {
    let store = Store::open(DATABASE).await?;
    let enrolment = store.enrolment().await;
    store.close();
    let enrolment = enrolment?.ok_or(SyncError::Unauthenticated(
        "this tablet is not enrolled".to_owned(),
    ))?;
    let request = PinChangeRequest {
        user_id,
        old_pin: old.to_owned(),
        new_pin: new.to_owned(),
    };
    let answer: PinChangeResponse =
        http::post("/api/pin", Some(&enrolment.device_token), &request).await?;
    Ok(answer.pin)
}

/// Tells the server this tablet's clock, last record and app version before it
/// pushes, so the coordinator sees what it holds even if the push then fails.
async fn report_status(store: &Store, token: Option<&str>) -> Result<(), SyncError> {
    let report = StatusReport {
        clock_ms: now_ms(),
        head_seq: store.chain_head().await?.last_seq(),
        app_version: APP_VERSION.to_owned(),
    };
    let answer: Result<StatusResponse, SyncError> = http::post("/api/status", token, &report).await;
    match answer {
        // A report is for the coordinator's eyes: one the server refuses must
        // not stop the records syncing.
        Ok(_) | Err(SyncError::Refused(..)) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Reports the PIN lockouts this tablet imposed since the last report, and
/// forgets those the server kept (all it was sent: it keeps each once, by id) or
/// refused.
async fn report_lockouts(store: &Store, token: Option<&str>) -> Result<(), SyncError> {
    let mut pending = store.pending_lockouts().await?;
    pending.truncate(MAX_LOCKOUTS);
    if pending.is_empty() {
        return Ok(());
    }
    let request = LockoutsRequest { lockouts: pending };
    let answer: Result<LockoutsResponse, SyncError> =
        http::post("/api/lockouts", token, &request).await;
    match answer {
        // A report the server refuses (a user removed from the site meanwhile)
        // would be refused for good: it must not stop the records syncing.
        Ok(_) | Err(SyncError::Refused(..)) => {
            store.forget_lockouts(&request.lockouts).await?;
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// Pulls page after page until the server has no more, each stored (with its
/// cursor) while the next one is fetched: the store's transaction awaits only
/// its own requests, and the fetch runs beside it.
async fn pull(
    store: &Store,
    token: Option<&str>,
    received: &impl Fn(usize),
) -> Result<(), SyncError> {
    let mut page = pull_page(store.sync_state().await?.pull_cursor, token).await?;
    let mut stored = 0;
    loop {
        let events: Vec<Event> = page.events.into_iter().map(|pulled| pulled.event).collect();
        let (next_cursor, more) = (page.next_cursor, page.more);
        let storing = store.store_pulled(&events, next_cursor);
        let (new, next) = if more {
            let (new, next) = futures::join!(storing, pull_page(next_cursor, token));
            (new?, Some(next?))
        } else {
            (storing.await?, None)
        };
        if new > 0 {
            stored += new;
            received(stored);
        }
        match next {
            Some(next) => page = next,
            None => return Ok(()),
        }
    }
}

/// The page of other devices' events after `cursor`.
async fn pull_page(cursor: u64, token: Option<&str>) -> Result<PullResponse, SyncError> {
    let path = format!("/api/pull?after={cursor}&limit={MAX_PULL_EVENTS}");
    http::get(&path, token).await
}

/// Pushes the outbox in batches until it is empty or the server stops accepting.
/// Returns whether the server refused part of it.
async fn push(store: &Store, token: Option<&str>) -> Result<bool, SyncError> {
    loop {
        let batch = store.outbox_batch(MAX_PUSH_EVENTS as u32).await?;
        let Some(last_seq) = batch.last().map(|event| event.device_seq()) else {
            return Ok(false);
        };
        let answer: PushResponse =
            http::post("/api/push", token, &PushRequest { events: batch }).await?;
        let offset = answer.server_time_ms - now_ms();
        store
            .acknowledge(answer.acked_seq, answer.rejected, offset)
            .await?;
        if answer.acked_seq < last_seq {
            // The rest of the batch was refused (a chain break, a clock far ahead):
            // sending it again would be refused again. It waits for a person.
            return Ok(true);
        }
    }
}

/// A user as the server sent them, stored for offline sign-in.
fn user_record(user: User) -> UserRecord {
    UserRecord {
        id: user.id,
        name: user.name,
        pin: user.pin,
    }
}

/// A lease as the server sent it, stored with its seed still sealed.
fn lease_record(lease: SealedLease) -> LeaseRecord {
    LeaseRecord {
        lease_id: lease.lease_id,
        mode: LeaseMode::Live,
        site: lease.site,
        device: lease.device_id,
        block_sizes: lease.block_sizes,
        n_slots: lease.n_slots,
        next_slot: 0,
        sealed_seed: LeaseSeal::Server(lease.seed),
    }
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}
