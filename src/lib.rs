//! The HP-ECMO bedside app: Leptos, rendered in the browser, working offline.
//!
//! Decisions come from the `trial` crate; this crate stores (see [`store`]) and shows.
//! The screens of the bedside workflow arrive with later work; today the page shows
//! that the app runs and that the tablet's event log opens.
//!
//! On any target but wasm32 the library is empty: the workspace builds natively
//! without compiling the browser stack (see ARCHITECTURE.md, "Workspace and targets").
#![cfg(target_arch = "wasm32")]

pub mod crypto;
pub mod store;

use leptos::prelude::*;

/// The name of the tablet's IndexedDB database.
pub const DATABASE: &str = "hp-ecmo";

/// The root component.
#[component]
pub fn App() -> impl IntoView {
    let stored = LocalResource::new(|| async {
        let store = store::Store::open(DATABASE).await?;
        let n_events = store.events().await?.len();
        store.close();
        Ok::<_, store::StoreError>(n_events)
    });
    let status = move || match stored.get() {
        None => "Opening the event log…".to_owned(),
        Some(Ok(n_events)) => format!("Event log ready on this tablet: {n_events} events stored."),
        Some(Err(error)) => format!("The event log could not be opened: {error}"),
    };
    view! {
        <header class="app-bar">
            <h1>"HP-ECMO"</h1>
        </header>
        <main>
            <p>"Hemoperfusion in VA-ECMO: bedside data collection, offline."</p>
            <p class="status-line" role="status" data-testid="store-status">{status}</p>
        </main>
    }
}
