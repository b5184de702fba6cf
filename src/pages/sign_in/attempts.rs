//! Checking a typed PIN on the tablet: the core's rule for wrong PINs in a row
//! (`trial::pin::PinAttempts`), kept per user across reloads, and the lockouts it
//! imposes, kept for the next sync to report.

use trial::pin::{FREE_ATTEMPTS, Lockout, Pin, PinAttempts};
use trial::wire::PinLockout;
use uuid::Uuid;

use crate::clock;
use crate::crypto;
use crate::i18n::{Lang, crypto_error, pin_locked, pin_wait, wrong_pin};
use crate::state::DATABASE;
use crate::store::{Store, UserRecord};

/// Checks the PIN `typed` for `user`: `Ok` when it is theirs, or the words to
/// show. Wrong PINs are counted per user on this tablet ([`PinAttempts`]); after
/// the free ones a PIN is not even checked until the wait is over, so a lost
/// tablet cannot be tried PIN after PIN from its screen.
pub(super) async fn check_pin(
    lang: Lang,
    user: &UserRecord,
    typed: &str,
    enrolled: bool,
) -> Result<(), String> {
    let attempts = attempts_of(user.id);
    if let Some(wait) = attempts.wait_ms(clock::now().utc_ms()) {
        return Err(pin_wait(lang, wait));
    }
    let matches = match Pin::parse(typed) {
        Ok(pin) => crypto::pin_matches(&user.pin, &pin)
            .await
            .map_err(|e| crypto_error(lang, &e))?,
        Err(_) => false,
    };
    if matches {
        keep_attempts(user.id, PinAttempts::default());
        return Ok(());
    }
    let now_ms = clock::now().utc_ms();
    let (attempts, lockout) = attempts.failed(now_ms);
    keep_attempts(user.id, attempts);
    // Training users are no one the server knows: only an enrolled tablet's
    // lockouts are reported.
    if let (Some(lockout), true) = (lockout, enrolled) {
        report_lockout(user.id, lockout, now_ms).await;
    }
    Err(match lockout {
        Some(lockout) => pin_locked(lang, lockout.failures, lockout.wait_ms),
        None => wrong_pin(lang, FREE_ATTEMPTS.saturating_sub(attempts.failures())),
    })
}

/// Keeps a lockout for the next sync to report, so the coordinator hears of it.
/// Sign-in goes on if the store refuses: the wait itself is already kept.
async fn report_lockout(user_id: Uuid, lockout: Lockout, now_ms: i64) {
    let record = PinLockout {
        id: Uuid::now_v7(),
        user_id,
        at_ms: now_ms,
        failures: lockout.failures,
        wait_ms: lockout.wait_ms,
    };
    if let Ok(store) = Store::open(DATABASE).await {
        let _ = store.add_lockout(record).await;
        store.close();
    }
}

/// Where a user's wrong PINs are kept: the origin's localStorage, so a reload
/// does not reset the count and every tab of the tablet shares it.
fn attempts_key(user: Uuid) -> String {
    format!("hp-ecmo.pin-attempts.{user}")
}

fn attempts_of(user: Uuid) -> PinAttempts {
    local_storage()
        .and_then(|storage| storage.get_item(&attempts_key(user)).ok().flatten())
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}

fn keep_attempts(user: Uuid, attempts: PinAttempts) {
    let Some(storage) = local_storage() else {
        return;
    };
    let key = attempts_key(user);
    // Storage refusing a few bytes (a full origin quota) loses this count, not
    // the sign-in: the wait already stored, if any, stands.
    let _ = if attempts == PinAttempts::default() {
        storage.remove_item(&key)
    } else {
        let json = serde_json::to_string(&attempts).expect("attempts serialise");
        storage.set_item(&key, &json)
    };
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|window| window.local_storage().ok().flatten())
}
