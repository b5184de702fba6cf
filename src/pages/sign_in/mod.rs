//! Sign-in with a name and a PIN, offline; on a tablet with no user yet, the
//! first-run set-up that creates one.

use leptos::prelude::*;
use leptos::task::spawn_local;
use trial::pin::{MIN_NEW_DIGITS, Pin};
use uuid::Uuid;

mod attempts;

use attempts::check_pin;

use crate::actions::SaveOnce;
use crate::components::dirty::use_dirty;
use crate::crypto;
use crate::i18n::{Lang, Text, crypto_error, store_error, sync_error, t, use_lang};
use crate::pages::Enrol;
use crate::state::{DATABASE, Session, Tablet, use_session, use_tablet};
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
    let new_pin = NewPinInputs::default();
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
        let parsed = match new_pin.read(lang) {
            Ok(parsed) => parsed,
            Err(message) => return error.set(Some(message)),
        };
        if !once.start() {
            return;
        }
        spawn_local(async move {
            let result = async {
                let hash = crypto::hash_new_pin(&parsed)
                    .await
                    .map_err(|e| crypto_error(lang, &e))?;
                keep_user(
                    lang,
                    UserRecord {
                        id: Uuid::now_v7(),
                        name,
                        pin: hash,
                    },
                )
                .await
            }
            .await;
            signed_in_or_refused(once, session, tablet, error, result);
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
                {new_pin.view("new-pin")}
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
    let new_pin = NewPinInputs::default();
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
        let new = match new_pin.read(lang) {
            Ok(new) => new,
            Err(message) => return error.set(Some(message)),
        };
        let typed = new_pin.pin.get_untracked();
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
            signed_in_or_refused(once, session, tablet, error, kept);
        });
    };
    view! {
        <section class="card narrow" data-testid="change-pin">
            <h1>{move || t(lang.get(), Text::ChangePinTitle)}</h1>
            <p>{move || t(lang.get(), Text::ChangePinHelp)}</p>
            <form on:submit=change>
                {new_pin.view("changed-pin")}
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

/// A new PIN typed twice: the first user's, or one replacing a short PIN.
#[derive(Clone, Copy, Default)]
struct NewPinInputs {
    pin: RwSignal<String>,
    again: RwSignal<String>,
}

impl NewPinInputs {
    /// The new PIN, or what is wrong with it: the core's rule for new PINs, and
    /// both inputs the same.
    fn read(self, lang: Lang) -> Result<Pin, String> {
        let typed = self.pin.get_untracked();
        let pin = Pin::parse_new(&typed).map_err(|_| t(lang, Text::NewPinRule).to_owned())?;
        if self.again.get_untracked() != typed {
            return Err(t(lang, Text::PinsDiffer).into());
        }
        Ok(pin)
    }

    /// The two inputs, `id` and `id`-again.
    fn view(self, id: &'static str) -> impl IntoView {
        let lang = use_lang();
        let input = move |id: String, label: Text, value: RwSignal<String>| {
            view! {
                <div class="field">
                    <label for=id.clone()>{move || t(lang.get(), label)}</label>
                    <input id=id type="password" inputmode="numeric" autocomplete="new-password"
                        prop:value=move || value.get()
                        on:input=move |e| value.set(event_target_value(&e))/>
                </div>
            }
        };
        view! {
            {input(id.to_owned(), Text::NewPin, self.pin)}
            {input(format!("{id}-again"), Text::PinAgain, self.again)}
        }
    }
}

/// Signs the user a PIN form kept in, or reopens the form saying why they could
/// not be kept: the end of the first user's form and of a replacing PIN's.
fn signed_in_or_refused(
    once: SaveOnce,
    session: Session,
    tablet: Tablet,
    error: RwSignal<Option<String>>,
    kept: Result<UserRecord, String>,
) {
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
