//! The bar across the top: the app's name, training mode, what is not yet synced,
//! who is signed in, and the language switch.

use leptos::prelude::*;

use crate::components::dirty::use_dirty;
use crate::i18n::{Text, labelled, t, use_lang};
use crate::state::{use_session, use_tablet};

/// The top bar, on every screen.
#[component]
pub fn AppBar() -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    let training = move || tablet.is_training();
    // Training records never sync: they are counted as what they are.
    let pending = move || {
        let n = tablet.pending.get();
        let words = if training() {
            Text::TrainingRecords
        } else {
            Text::NotSynced
        };
        format!("{n} {}", t(lang.get(), words))
    };
    // Leaving a page with unsaved input asks first; a locked screen leads
    // nowhere until it is unlocked, so the form it hides stays as it was.
    let forms = use_dirty();
    let leave = move |event: leptos::ev::MouseEvent| {
        if session.locked.get_untracked() || !forms.may_discard(lang.get_untracked()) {
            event.prevent_default();
        }
    };
    let sign_out = move |_| {
        if forms.may_discard(lang.get_untracked()) {
            session.user.set(None);
        }
    };
    view! {
        <header class="app-bar" class:training=training>
            <a class="app-title" href="/" on:click=leave>{move || t(lang.get(), Text::AppTitle)}</a>
            <Show when=training>
                <span class="training-badge" data-testid="training-badge">
                    {move || t(lang.get(), Text::TrainingMode)}
                </span>
            </Show>
            <span class="spacer"></span>
            <span class="pending" data-testid="pending-count">{pending}</span>
            <Show when=move || session.user.with(Option::is_some)>
                <span class="user-name" data-testid="signed-in-user">
                    {move || session.user.with(|user| user.as_ref().map(|user| user.name.clone()))}
                </span>
                <Show when=move || !session.locked.get()>
                    <button class="secondary" data-testid="sign-out" on:click=sign_out>
                        {move || t(lang.get(), Text::SignOut)}
                    </button>
                </Show>
            </Show>
            <button
                class="secondary"
                data-testid="switch-language"
                on:click=move |_| lang.update(|lang| *lang = lang.other())
            >
                {move || t(lang.get(), Text::SwitchLanguage)}
            </button>
        </header>
        // A band under the bar on every screen: what training is, and that dates
        // are read in the tablet's own zone until the site's reaches it.
        <Show when=training>
            // A landmark of its own, so no content of the page lies outside one.
            <aside class="training-band" aria-label=move || t(lang.get(), Text::TrainingMode) data-testid="training-band">
                {move || {
                    let lang = lang.get();
                    labelled(lang, t(lang, Text::TrainingBand), &device_offset())
                }}
            </aside>
        </Show>
    }
}

/// The device's offset from UTC now, as "UTC+08:00": the zone training mode reads
/// dates in.
fn device_offset() -> String {
    // JavaScript gives minutes *behind* UTC.
    let ahead = -(js_sys::Date::new_0().get_timezone_offset() as i32);
    let sign = if ahead < 0 { '-' } else { '+' };
    let ahead = ahead.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", ahead / 60, ahead % 60)
}
