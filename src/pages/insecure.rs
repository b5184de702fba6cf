//! The only page an insecure origin gets (plain HTTP from anything but this
//! machine): the app keeps patient records in the browser and protects PINs and
//! backups with its cryptography, which the browser offers only on a secure
//! connection, and records saved under `http://` would sit apart from the same
//! ward's `https://` records. So nothing starts; the page says in the user's
//! language that the address must be opened over HTTPS, and how.

use leptos::prelude::*;

use crate::i18n::{Lang, Text, t, use_lang};

/// Whether the page was opened on a secure origin: HTTPS, or this machine.
pub fn is_secure_origin() -> bool {
    web_sys::window().is_some_and(|window| window.is_secure_context())
}

/// "Open this app over HTTPS", with the HTTPS address of the same host.
#[component]
pub fn InsecureOrigin() -> impl IntoView {
    let lang = use_lang();
    let location = web_sys::window().map(|window| window.location());
    let host = location
        .as_ref()
        .and_then(|location| location.hostname().ok())
        .unwrap_or_default();
    let secure = format!("https://{host}/");
    view! {
        <header class="app-bar">
            <span class="app-title">"HP-ECMO"</span>
            <span class="spacer"></span>
            <button
                class="secondary"
                data-testid="switch-language"
                on:click=move |_| lang.update(|lang| *lang = lang.other())
            >
                {move || t(lang.get(), Text::SwitchLanguage)}
            </button>
        </header>
        <main>
            <section class="insecure" role="alert" data-testid="insecure-origin">
                <h1>{move || t(lang.get(), Text::InsecureOrigin)}</h1>
                <p>{move || t(lang.get(), Text::InsecureOriginWhy)}</p>
                <p>
                    {move || t(lang.get(), Text::InsecureOriginHow)}
                    // No space after a full-width colon.
                    {move || (lang.get() == Lang::En).then_some(" ")}
                    <a href=secure.clone() data-testid="secure-address">{secure.clone()}</a>
                </p>
                <p>{move || t(lang.get(), Text::InsecureOriginNothingSaved)}</p>
            </section>
        </main>
    }
}
