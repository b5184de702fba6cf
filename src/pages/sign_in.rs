//! Sign-in with a name and a PIN, offline; on a tablet with no user yet, the
//! first-run set-up that creates one.

use leptos::prelude::*;
use leptos::task::spawn_local;
use trial::pin::{FREE_ATTEMPTS, Lockout, MIN_NEW_DIGITS, Pin, PinAttempts};
use trial::wire::PinLockout;
use uuid::Uuid;

use crate::actions::SaveOnce;
use crate::clock;
use crate::components::dirty::use_dirty;
use crate::crypto;
use crate::i18n::{
    Lang, Text, crypto_error, pin_locked, pin_wait, store_error, sync_error, t, use_lang, wrong_pin,
};
use crate::pages::Enrol;
use crate::state::{DATABASE, use_session, use_tablet};
use crate::store::{Store, UserRecord};
use crate::sync::{self, SyncError};

/// Sign-in, or the first-run set-up when no user exists yet.
#[component]
pub fn SignIn() -> impl IntoView {
    let tablet = use_tablet();
    let no_users = move || tablet.loaded.get() && tablet.users.with(Vec::is_empty);
    let not_enrolled = move || tablet.loaded.get() && tablet.enrolment.with(Option::is_none);
    // A trial tablet enrols first; the first-run user below it is for training.
    view! {
        <Show when=move || not_enrolled() && no_users()>
            <Enrol/>
        </Show>
        <Show when=move || tablet.loaded.get()>
            <Show when=no_users fallback=ChooseUser>
                <FirstUser/>
            </Show>
        </Show>
    }
}

/// The lock screen after idling: the same user's PIN continues where they left
/// off; anyone else signs in afresh, and the open page is discarded.
#[component]
pub fn Unlock() -> impl IntoView {
    let lang = use_lang();
    let session = use_session();
    let tablet = use_tablet();
    let pin = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let checking = RwSignal::new(false);
    let unlock = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(user) = session.user.get_untracked() else {
            return;
        };
        // One check at a time: a second Enter is not a second wrong PIN.
        if checking.get_untracked() {
            return;
        }
        checking.set(true);
        let lang = lang.get_untracked();
        let typed = pin.get_untracked();
        pin.set(String::new());
        let enrolled = tablet.enrolment.with_untracked(Option::is_some);
        spawn_local(async move {
            let checked = check_pin(lang, &user, &typed, enrolled).await;
            checking.try_set(false);
            match checked {
                Ok(()) => {
                    error.try_set(None);
                    session.locked.set(false);
                }
                Err(message) => {
                    error.try_set(Some(message));
                }
            }
        });
    };
    // Switching user drops whatever the locked page holds unsaved, so it asks.
    let forms = use_dirty();
    let switch_user = move |_| {
        if forms.may_discard(lang.get_untracked()) {
            session.user.set(None);
            session.locked.set(false);
        }
    };
    view! {
        <section class="card narrow" data-testid="lock-screen">
            <h1>{move || session.user.with(|user| user.as_ref().map(|user| user.name.clone()))}</h1>
            <p>{move || t(lang.get(), Text::Locked)}</p>
            <form on:submit=unlock>
                <div class="field">
                    <label for="unlock-pin">{move || t(lang.get(), Text::Pin)}</label>
                    <input id="unlock-pin" type="password" inputmode="numeric" autocomplete="current-password"
                        prop:value=move || pin.get()
                        on:input=move |e| pin.set(event_target_value(&e))/>
                </div>
                <p class="field-error" role="alert">{move || error.get()}</p>
                <button type="submit" prop:disabled=move || checking.get() data-testid="unlock">{move || t(lang.get(), Text::Unlock)}</button>
            </form>
            <button type="button" class="secondary" data-testid="switch-user" on:click=switch_user>
                {move || t(lang.get(), Text::SwitchUser)}
            </button>
        </section>
    }
}

/// Creates the tablet's first user (until enrolment brings the site's users).
#[component]
fn FirstUser() -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    let name = RwSignal::new(String::new());
    let pin = RwSignal::new(String::new());
    let pin_again = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    // One user, however often "Create" is tapped or Enter pressed.
    let once = SaveOnce::ready();
    let create = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let lang = lang.get_untracked();
        let name = name.get_untracked().trim().to_owned();
        if name.is_empty() {
            error.set(Some(t(lang, Text::NameRequired).into()));
            return;
        }
        let pin_text = pin.get_untracked();
        let parsed = match Pin::parse_new(&pin_text) {
            Ok(parsed) => parsed,
            Err(_) => return error.set(Some(t(lang, Text::NewPinRule).into())),
        };
        if pin_again.get_untracked() != pin_text {
            return error.set(Some(t(lang, Text::PinsDiffer).into()));
        }
        if !once.start() {
            return;
        }
        spawn_local(async move {
            let result = async {
                let hash = crypto::hash_new_pin(&parsed)
                    .await
                    .map_err(|e| crypto_error(lang, &e))?;
                let user = UserRecord {
                    id: Uuid::now_v7(),
                    name,
                    pin: hash,
                };
                let store = Store::open(DATABASE)
                    .await
                    .map_err(|e| store_error(lang, &e))?;
                let stored = store
                    .put_user(&user)
                    .await
                    .map_err(|e| store_error(lang, &e));
                store.close();
                stored.map(|()| user)
            }
            .await;
            match result {
                Ok(user) => {
                    once.saved();
                    session.user.set(Some(user));
                    tablet.refresh();
                }
                Err(message) => {
                    once.reopen();
                    error.try_set(Some(message));
                }
            }
        });
    };
    view! {
        <section class="card narrow">
            <h1>{move || t(lang.get(), Text::FirstUserTitle)}</h1>
            <p>{move || t(lang.get(), Text::FirstUserHelp)}</p>
            <form on:submit=create>
                <div class="field">
                    <label for="user-name">{move || t(lang.get(), Text::UserName)}</label>
                    <input id="user-name" type="text" autocomplete="name"
                        prop:value=move || name.get()
                        on:input=move |e| name.set(event_target_value(&e))/>
                </div>
                <div class="field">
                    <label for="new-pin">{move || t(lang.get(), Text::NewPin)}</label>
                    <input id="new-pin" type="password" inputmode="numeric" autocomplete="new-password"
                        prop:value=move || pin.get()
                        on:input=move |e| pin.set(event_target_value(&e))/>
                </div>
                <div class="field">
                    <label for="new-pin-again">{move || t(lang.get(), Text::PinAgain)}</label>
                    <input id="new-pin-again" type="password" inputmode="numeric" autocomplete="new-password"
                        prop:value=move || pin_again.get()
                        on:input=move |e| pin_again.set(event_target_value(&e))/>
                </div>
                <p class="field-error" role="alert">{move || error.get()}</p>
                <button type="submit" prop:disabled=move || once.is_busy() data-testid="create-user">{move || t(lang.get(), Text::CreateUser)}</button>
            </form>
        </section>
    }
}

/// Choose your name, type your PIN.
#[component]
fn ChooseUser() -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    let chosen = RwSignal::new(None::<Uuid>);
    let pin = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let checking = RwSignal::new(false);
    let must_change = RwSignal::new(None::<(UserRecord, String)>);
    let sign_in = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        // A second tap or Enter while the first is checked, or after it signed
        // in: nothing more to do (and no second "wrong PIN" counted, nor one for
        // the PIN field the first emptied).
        if checking.get_untracked() || session.user.with_untracked(Option::is_some) {
            return;
        }
        let lang = lang.get_untracked();
        let user = chosen.get_untracked().and_then(|id| {
            tablet
                .users
                .with_untracked(|users| users.iter().find(|u| u.id == id).cloned())
        });
        let Some(user) = user else {
            return error.set(Some(t(lang, Text::ChooseYourName).into()));
        };
        checking.set(true);
        let typed = pin.get_untracked();
        pin.set(String::new());
        let enrolled = tablet.enrolment.with_untracked(Option::is_some);
        spawn_local(async move {
            let checked = check_pin(lang, &user, &typed, enrolled).await;
            checking.try_set(false);
            match checked {
                // A PIN set before new PINs had six digits is replaced first.
                Ok(()) if typed.len() < MIN_NEW_DIGITS => {
                    error.try_set(None);
                    must_change.try_set(Some((user, typed)));
                }
                Ok(()) => {
                    error.try_set(None);
                    session.user.set(Some(user));
                }
                Err(message) => {
                    error.try_set(Some(message));
                }
            }
        });
    };
    let sign_in_form = move || {
        view! {
        <section class="card narrow">
            <h1>{move || t(lang.get(), Text::SignIn)}</h1>
            <form on:submit=sign_in>
                <fieldset class="answer users">
                    <legend>{move || t(lang.get(), Text::ChooseYourName)}</legend>
                    <For each=move || tablet.users.get() key=|user| user.id let:user>
                        {
                            let id = format!("user-{}", user.id);
                            let user_id = user.id;
                            view! {
                                <input type="radio" name="user" id=id.clone()
                                    prop:checked=move || chosen.get() == Some(user_id)
                                    on:change=move |_| chosen.set(Some(user_id))/>
                                <label for=id>{user.name.clone()}</label>
                            }
                        }
                    </For>
                </fieldset>
                <div class="field">
                    <label for="pin">{move || t(lang.get(), Text::Pin)}</label>
                    <input id="pin" type="password" inputmode="numeric" autocomplete="current-password"
                        prop:value=move || pin.get()
                        on:input=move |e| pin.set(event_target_value(&e))/>
                </div>
                <p class="field-error" role="alert">{move || error.get()}</p>
                <button type="submit" prop:disabled=move || checking.get() data-testid="sign-in">{move || t(lang.get(), Text::SignIn)}</button>
            </form>
        </section>
        }
    };
    view! {
        {move || match must_change.get() {
            Some((user, old)) => view! { <ChangePin user old/> }.into_any(),
            None => sign_in_form().into_any(),
        }}
    }
}

/// A new PIN for a user who signed in with one shorter than new PINs may be:
/// the server replaces it (the old PIN proves who asks) and every tablet of the
/// site gets the new hash at its next sync; a training tablet replaces it here.
/// Without the server the user signs in with the old PIN and is asked again
/// next time, so no bedside work waits for the network.
#[component]
fn ChangePin(user: UserRecord, old: String) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    let pin = RwSignal::new(String::new());
    let pin_again = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let offline = RwSignal::new(false);
    let once = SaveOnce::ready();
    let enrolled = tablet.enrolment.with_untracked(Option::is_some);
    let later = {
        let user = user.clone();
        move |_| session.user.set(Some(user.clone()))
    };
    let change = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let lang = lang.get_untracked();
        let typed = pin.get_untracked();
        let Ok(new) = Pin::parse_new(&typed) else {
            return error.set(Some(t(lang, Text::NewPinRule).into()));
        };
        if pin_again.get_untracked() != typed {
            return error.set(Some(t(lang, Text::PinsDiffer).into()));
        }
        if !once.start() {
            return;
        }
        let (user, old) = (user.clone(), old.clone());
        spawn_local(async move {
            let hash = if enrolled {
                sync::change_pin(user.id, &old, &typed)
                    .await
                    .map_err(|error| {
                        offline.try_set(matches!(error, SyncError::Offline));
                        sync_error(lang, &error)
                    })
            } else {
                crypto::hash_new_pin(&new)
                    .await
                    .map_err(|e| crypto_error(lang, &e))
            };
            let kept = match hash {
                Ok(pin) => keep_user(lang, UserRecord { pin, ..user }).await,
                Err(message) => Err(message),
            };
            match kept {
                Ok(user) => {
                    once.saved();
                    session.user.set(Some(user));
                    tablet.refresh();
                }
                Err(message) => {
                    once.reopen();
                    error.try_set(Some(message));
                }
            }
        });
    };
    view! {
        <section class="card narrow" data-testid="change-pin">
            <h1>{move || t(lang.get(), Text::ChangePinTitle)}</h1>
            <p>{move || t(lang.get(), Text::ChangePinHelp)}</p>
            <form on:submit=change>
                <div class="field">
                    <label for="changed-pin">{move || t(lang.get(), Text::NewPin)}</label>
                    <input id="changed-pin" type="password" inputmode="numeric" autocomplete="new-password"
                        prop:value=move || pin.get()
                        on:input=move |e| pin.set(event_target_value(&e))/>
                </div>
                <div class="field">
                    <label for="changed-pin-again">{move || t(lang.get(), Text::PinAgain)}</label>
                    <input id="changed-pin-again" type="password" inputmode="numeric" autocomplete="new-password"
                        prop:value=move || pin_again.get()
                        on:input=move |e| pin_again.set(event_target_value(&e))/>
                </div>
                <p class="field-error" role="alert" data-testid="change-pin-error">{move || error.get()}</p>
                <button type="submit" prop:disabled=move || once.is_busy() data-testid="change-pin-button">{move || t(lang.get(), Text::ChangePin)}</button>
            </form>
            <Show when=move || offline.get()>
                <p>{move || t(lang.get(), Text::PinChangeOffline)}</p>
                <button type="button" class="secondary" on:click=later.clone() data-testid="change-pin-later">{move || t(lang.get(), Text::Later)}</button>
            </Show>
        </section>
    }
}

/// Stores `user` with their new PIN hash, for sign-in now and after a reload.
async fn keep_user(lang: Lang, user: UserRecord) -> Result<UserRecord, String> {
    let store = Store::open(DATABASE)
        .await
        .map_err(|e| store_error(lang, &e))?;
    let kept = store
        .put_user(&user)
        .await
        .map_err(|e| store_error(lang, &e));
    store.close();
    kept.map(|()| user)
}

/// Checks the PIN `typed` for `user`: `Ok` when it is theirs, or the words to
/// show. Wrong PINs are counted per user on this tablet ([`PinAttempts`]); after
/// the free ones a PIN is not even checked until the wait is over, so a lost
/// tablet cannot be tried PIN after PIN from its screen.
async fn check_pin(
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
