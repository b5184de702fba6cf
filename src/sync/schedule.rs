//! When sync runs: on start, when the network returns, after each save and on a
//! timer, with backoff after failures, from one tab at a time (DESIGN.md, "Sync").
//! Nobody has to press anything, and a queue never waits for a reload.
//!
//! One tab syncs at a time through a Web Lock: the others skip their turn and
//! re-read what it stored. Two tabs syncing at once would still be safe (push and
//! pull are idempotent), only wasteful.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use uuid::Uuid;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

use super::{Outcome, SyncError, sync_once};
use crate::state::{Progress, Tablet};

/// How often an idle tablet looks for the others' news.
const TICK: Duration = Duration::from_secs(30);
/// The first wait after a failure; it doubles with each failure in a row.
const FIRST_BACKOFF_MS: f64 = 5_000.0;
/// The longest wait after failures.
const MAX_BACKOFF_MS: f64 = 5.0 * 60_000.0;

#[wasm_bindgen(inline_js = r#"
export function with_sync_lock(run) {
  if (!navigator.locks) return run();
  return navigator.locks.request("hp-ecmo-sync", { ifAvailable: true }, (lock) => (lock ? run() : null));
}
"#)]
extern "C" {
    /// Calls `run` (which returns a promise) while holding the tab-wide sync lock,
    /// or not at all when another tab holds it.
    fn with_sync_lock(run: &js_sys::Function) -> js_sys::Promise;
}

/// What sync is doing, for the status line.
#[derive(Clone, Debug)]
pub enum Phase {
    /// Not enrolled, or waiting for the next run.
    Idle,
    /// A run is under way.
    Running,
    /// The server could not be reached at the last run: normal on the ward.
    Offline,
    /// The last run failed for a reason a person may need to read.
    Failed(SyncError),
}

/// The sync scheduler, shared as a context.
#[derive(Clone, Copy)]
pub struct SyncStatus {
    /// What sync is doing.
    pub phase: RwSignal<Phase>,
    tablet: Tablet,
    runner: StoredValue<Runner>,
}

#[derive(Default)]
struct Runner {
    running: bool,
    again: bool,
    failures: u32,
    /// The timer does not start a run before this moment (backoff).
    not_before_ms: f64,
}

/// Starts syncing in the background for the life of the app.
pub fn start(tablet: Tablet) -> SyncStatus {
    let status = SyncStatus {
        phase: RwSignal::new(Phase::Idle),
        tablet,
        runner: StoredValue::new(Runner::default()),
    };
    provide_context(status);
    status.run_now();
    let _ = window_event_listener(leptos::ev::online, move |_| status.run_now());
    let _ = set_interval_with_handle(move || status.tick(), TICK);
    // After each save: an event the outbox did not hold before. Not a count that
    // grew: a run that acknowledges one event as another is saved leaves the count
    // as it was, and the new one would wait for the timer.
    Effect::new(move |previous: Option<Vec<Uuid>>| {
        let outbox: Vec<Uuid> = tablet
            .outbox
            .with(|outbox| outbox.iter().map(|item| item.event_id).collect());
        if previous.is_some_and(|previous| outbox.iter().any(|id| !previous.contains(id))) {
            status.run_now();
        }
        outbox
    });
    status
}

/// The sync scheduler.
pub fn use_sync() -> SyncStatus {
    expect_context()
}

impl SyncStatus {
    /// Runs now, or right after the run under way.
    pub fn run_now(self) {
        // A disposed scheduler (the app is going away) counts as busy.
        let busy = self
            .runner
            .try_update_value(|runner| {
                if runner.running {
                    runner.again = true;
                }
                std::mem::replace(&mut runner.running, true)
            })
            .unwrap_or(true);
        if busy {
            return;
        }
        self.phase.set(Phase::Running);
        spawn_local(async move {
            let result = run_locked(self.tablet).await;
            self.finish(result);
        });
    }

    fn tick(self) {
        let due = self
            .runner
            .try_with_value(|runner| js_sys::Date::now() >= runner.not_before_ms)
            .unwrap_or(false);
        if due {
            self.run_now();
        }
    }

    fn finish(self, result: Option<Result<Outcome, SyncError>>) {
        let now = js_sys::Date::now();
        let phase = match &result {
            // Another tab holds the lock and syncs for this one.
            None => Phase::Idle,
            Some(Ok(_)) => Phase::Idle,
            Some(Err(SyncError::Offline)) => Phase::Offline,
            Some(Err(error)) => Phase::Failed(error.clone()),
        };
        let again = self.runner.try_update_value(|runner| {
            match &result {
                Some(Err(error)) => {
                    runner.failures += 1;
                    let exponent = runner.failures.saturating_sub(1).min(16) as i32;
                    // A refusal that needs a person (a revoked tablet, a request
                    // the server calls wrong) would be refused again at once: the
                    // timer asks only rarely, a save or "Sync now" at any time.
                    let wait = if error.is_transient() {
                        (FIRST_BACKOFF_MS * 2f64.powi(exponent)).min(MAX_BACKOFF_MS)
                    } else {
                        MAX_BACKOFF_MS
                    };
                    runner.not_before_ms = now + wait;
                }
                _ => {
                    runner.failures = 0;
                    runner.not_before_ms = now;
                }
            }
            runner.running = false;
            std::mem::take(&mut runner.again)
        });
        let again = again.unwrap_or(false);
        self.phase.set(phase);
        let progress = self.tablet.progress;
        if matches!(progress.get_untracked(), Some(Progress::Receiving { .. })) {
            progress.set(None);
        }
        // Re-reads only what the run changed: nothing of the participants when it
        // pulled nothing new.
        self.tablet.refresh();
        if again {
            self.run_now();
        } else if let Some(Err(_)) = result {
            // The retry comes when the backoff ends, not at the next tick.
            let wait = self
                .runner
                .try_with_value(|runner| runner.not_before_ms - now)
                .unwrap_or(0.0)
                .max(0.0);
            set_timeout(move || self.tick(), Duration::from_millis(wait as u64));
        }
    }
}

/// One run under the tab-wide lock; `None` when another tab holds it. While it
/// stores other tablets' events, the progress bar counts them and the screens
/// show each page's participants as it is stored.
async fn run_locked(tablet: Tablet) -> Option<Result<Outcome, SyncError>> {
    let slot: Rc<RefCell<Option<Result<Outcome, SyncError>>>> = Rc::default();
    let filled = Rc::clone(&slot);
    let received = move |received| {
        tablet.progress.set(Some(Progress::Receiving { received }));
        tablet.refresh();
    };
    let run = Closure::once_into_js(move || {
        future_to_promise(async move {
            *filled.borrow_mut() = Some(sync_once(received).await);
            Ok(JsValue::UNDEFINED)
        })
    });
    // The lock's promise settles once the run has; its value carries nothing.
    let _ = JsFuture::from(with_sync_lock(run.unchecked_ref())).await;
    slot.take()
}
