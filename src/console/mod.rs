//! The coordinator console (DESIGN.md, "Coordinator console"): the same codebase
//! as the bedside app (its language, its `trial` rules, its styles), under
//! `/console`, built as its own entry point (`src/console_main.rs`,
//! `console.html`) so the tablet's offline shell carries none of it. Online only:
//! nothing is stored in the browser but the language; the session is an
//! `HttpOnly` cookie the page cannot read.

mod api;
mod audit;
mod casebooks;
mod consort;
mod exports;
mod pages;
mod queries;
mod site;
mod text;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use trial::console::SessionResponse;

use pages::{Home, SetUp};
use text::{Ct, ct};

/// The signed-in session, or none; `None` inside while the first answer is
/// awaited.
#[derive(Clone, Copy)]
struct Session(RwSignal<Option<Option<SessionResponse>>>);

/// The console's root: the language, the session, and its two pages.
#[component]
pub fn Console() -> impl IntoView {
    let lang = crate::i18n::provide_lang();
    let session = Session(RwSignal::new(None));
    provide_context(session);
    spawn_local(async move {
        // A cookie from an earlier sign-in may still be live.
        session.0.set(Some(api::session().await.ok()));
    });
    view! {
        <Router base="/console">
            <header class="app-bar console-bar">
                <h1>{move || ct(lang.get(), Ct::Title)}</h1>
                <button type="button" class="secondary" data-testid="switch-language"
                    on:click=move |_| lang.update(|lang| *lang = lang.other())>
                    {move || crate::i18n::t(lang.get(), crate::i18n::Text::SwitchLanguage)}
                </button>
            </header>
            <main class="console">
                <Routes fallback=|| view! { <Home/> }>
                    <Route path=path!("/setup") view=SetUp/>
                    <Route path=path!("/") view=Home/>
                </Routes>
            </main>
        </Router>
    }
}
