//! The bar across the top: the app's name, training mode, what is not yet synced,
//! who is signed in, and the language switch.

use leptos::prelude::*;

use crate::i18n::{Text, t, use_lang};
use crate::state::{use_session, use_tablet};

/// The top bar, on every screen.
#[component]
pub fn AppBar() -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    // Everything recorded before enrolment is training: it is deleted at
    // enrolment and never syncs.
    let training = move || tablet.loaded.get() && tablet.enrolment.with(Option::is_none);
    let pending = move || {
        let n = tablet.pending.get();
        format!("{n} {}", t(lang.get(), Text::NotSynced))
    };
    view! {
        <header class="app-bar">
            <a class="app-title" href="/">{move || t(lang.get(), Text::AppTitle)}</a>
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
                <button class="secondary" on:click=move |_| session.user.set(None)>
                    {move || t(lang.get(), Text::SignOut)}
                </button>
            </Show>
            <button
                class="secondary"
                data-testid="switch-language"
                on:click=move |_| lang.update(|lang| *lang = lang.other())
            >
                {move || t(lang.get(), Text::SwitchLanguage)}
            </button>
        </header>
    }
}
