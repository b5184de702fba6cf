//! The tablet's backup page: write a backup of everything it holds, or import
//! one written on another tablet of the site (DESIGN.md, "Backup and recovery").

use std::rc::Rc;

use leptos::prelude::*;

use crate::components::backup::{ImportBackup, SendPage, WriteBackup};
use crate::i18n::backup::{Bt, bt};
use crate::i18n::use_lang;
use crate::state::use_tablet;
use crate::sync::http;

/// `/backup`.
#[component]
pub fn Backup() -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    // The page is sent with this tablet's token, so the server knows the site
    // whose tablets' records may come this way.
    let send: SendPage = Rc::new(move |events| {
        let token = tablet
            .enrolment
            .with_untracked(|enrolment| enrolment.as_ref().map(|e| e.device_token.clone()));
        Box::pin(async move {
            let request = trial::wire::PushRequest { events };
            http::post("/api/backups/import", token.as_deref(), &request)
                .await
                .map_err(|error| error.to_string())
        })
    });
    view! {
        <section>
            <h1>{move || bt(lang.get(), Bt::Title)}</h1>
            <WriteBackup/>
            <ImportBackup send/>
        </section>
    }
}
