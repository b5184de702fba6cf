//! One component per route, and the sign-in screen that stands in front of them.

mod backup;
mod enrol;
mod follow_up;
mod home;
mod insecure;
mod not_enrolled;
mod participant;
mod screening;
mod sign_in;

pub use backup::Backup;
pub use enrol::Enrol;
pub(crate) use follow_up::describe_entry;
pub use home::Home;
pub use insecure::{InsecureOrigin, is_secure_origin};
pub use participant::ParticipantPage;
pub use screening::NewScreening;
pub use sign_in::{SignIn, Unlock};

use leptos::prelude::*;

use crate::i18n::{Text, t, use_lang};

/// Shown for a path the app does not know.
#[component]
pub fn NotFound() -> impl IntoView {
    let lang = use_lang();
    view! {
        <section>
            <h1>{move || t(lang.get(), Text::NotFound)}</h1>
            <a class="button" href="/">{move || t(lang.get(), Text::Participants)}</a>
        </section>
    }
}
