//! The HP-ECMO bedside app: Leptos, rendered in the browser, working offline.
//!
//! Decisions come from the `trial` crate; this crate stores (`store`, `crypto`),
//! shares state (`state`), translates (`i18n`) and shows (`pages`, `components`).
//!
//! On any target but wasm32 the library is empty: the workspace builds natively
//! without compiling the browser stack (see ARCHITECTURE.md, "Workspace and targets").
#![cfg(target_arch = "wasm32")]

pub mod actions;
pub mod backup;
pub mod clock;
pub mod components;
pub mod console;
pub mod crash;
pub mod crypto;
pub mod i18n;
pub mod pages;
pub mod pwa;
pub mod state;
pub mod store;
pub mod sync;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::components::AppBar;
use crate::i18n::{Text, t};
use crate::state::Session;

/// How long a signed-in tablet may sit untouched before it locks.
const IDLE_LOCK_MS: f64 = 5.0 * 60_000.0;

/// The root component: shared state, the language, and the routes. Every page but
/// sign-in requires a signed-in user; an insecure origin gets one page only.
#[component]
pub fn App() -> impl IntoView {
    let lang = crate::i18n::provide_lang();
    // Nothing is stored or synced on an insecure origin (`pages::InsecureOrigin`).
    if !pages::is_secure_origin() {
        return view! { <pages::InsecureOrigin/> }.into_any();
    }
    let (tablet, session) = state::provide();
    sync::start(tablet);
    lock_when_idle(session);
    let update_ready = RwSignal::new(false);
    pwa::register(update_ready);
    // Every form registers here while it holds unsaved input: a waiting update is
    // offered only when reloading would lose nothing.
    let forms = components::dirty::provide_dirty();
    let offer_update = move || update_ready.get() && !forms.any_dirty();
    let signed_in = move || session.user.with(Option::is_some);
    view! {
        <Router>
            <AppBar/>
            <components::ProgressBar/>
            <main>
                <Show when=offer_update>
                    <p class="banner update" role="status" data-testid="update-ready">
                        {move || t(lang.get(), Text::UpdateReady)}
                        " "
                        <button on:click=move |_| pwa::update_now()>{move || t(lang.get(), Text::ReloadNow)}</button>
                    </p>
                </Show>
                <Show when=move || tablet.error.with(Option::is_some)>
                    <p class="banner error" role="alert">
                        {move || i18n::with_detail(lang.get(), Text::StorageFailed, &tablet.error.get().unwrap_or_default())}
                    </p>
                </Show>
                <Show when=signed_in fallback=pages::SignIn>
                    // Hidden, not unmounted, while locked: an open form keeps
                    // everything typed into it.
                    <div class="page" class:hidden=move || session.locked.get()>
                        <Routes fallback=pages::NotFound>
                            <Route path=path!("/") view=pages::Home/>
                            <Route path=path!("/enrol") view=pages::Enrol/>
                            <Route path=path!("/backup") view=pages::Backup/>
                            <Route path=path!("/screening/new") view=pages::NewScreening/>
                            <Route path=path!("/participants/:id") view=pages::ParticipantPage/>
                        </Routes>
                    </div>
                    <Show when=move || session.locked.get()>
                        <pages::Unlock/>
                    </Show>
                </Show>
            </main>
        </Router>
    }
    .into_any()
}

/// Locks the screen after [`IDLE_LOCK_MS`] without a touch or a key press, so a
/// tablet left on the ward does not let the next person record as someone else.
fn lock_when_idle(session: Session) {
    let last_activity = StoredValue::new(js_sys::Date::now());
    let touched = move || last_activity.set_value(js_sys::Date::now());
    let _ = window_event_listener(leptos::ev::pointerdown, move |_| touched());
    let _ = window_event_listener(leptos::ev::keydown, move |_| touched());
    let _ = set_interval_with_handle(
        move || {
            let idle = js_sys::Date::now() - last_activity.get_value();
            if idle >= IDLE_LOCK_MS
                && session.user.with_untracked(Option::is_some)
                && !session.locked.get_untracked()
            {
                session.locked.set(true);
            }
        },
        std::time::Duration::from_secs(5),
    );
}
