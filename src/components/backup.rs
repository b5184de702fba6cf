//! Writing a backup (on the tablet) and importing one (on a tablet of the site
//! and in the console): one import form for both, which sends a verified
//! backup's pages the way its host gives ([`SendPage`]).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::{Array, Uint8Array};
use leptos::prelude::*;
use leptos::task::spawn_local;
use trial::backup::{ImportedPage, Passphrase};
use trial::event::Event;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::backup::{self, BackupFailure};
use crate::i18n::backup::{Bt, bt, failure, header_line, outcome, passphrase_error, written};
use crate::i18n::{Lang, use_lang};
use crate::state::DATABASE;
use crate::store::Store;

/// Sends one page of a backup to the server: with the tablet's token, or the
/// console's session. Its error is the server's words.
pub type SendPage =
    Rc<dyn Fn(Vec<Event>) -> Pin<Box<dyn Future<Output = Result<ImportedPage, String>>>>>;

/// "Write backup": two passphrase fields and a button; the file is saved by
/// the browser's download.
#[component]
pub fn WriteBackup() -> impl IntoView {
    let lang = use_lang();
    let passphrase = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let lang = lang.get_untracked();
        done.set(None);
        let typed = passphrase.get_untracked();
        let chosen = match Passphrase::new(&typed) {
            Ok(chosen) => chosen,
            Err(refusal) => return error.set(Some(passphrase_error(lang, refusal))),
        };
        if typed != again.get_untracked() {
            return error.set(Some(bt(lang, Bt::PassphrasesDiffer).to_owned()));
        }
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            let result = write_and_save(&chosen).await;
            busy.try_set(false);
            match result {
                Ok(message) => {
                    passphrase.try_set(String::new());
                    again.try_set(String::new());
                    done.try_set(Some(message(lang)));
                }
                Err(message) => {
                    error.try_set(Some(message(lang)));
                }
            }
        });
    };
    view! {
        <section class="card" data-testid="write-backup">
            <h2>{move || bt(lang.get(), Bt::WriteTitle)}</h2>
            <p>{move || bt(lang.get(), Bt::WriteHelp)}</p>
            <form on:submit=submit>
                <PassphraseInput id="backup-passphrase" label=Bt::Passphrase value=passphrase/>
                <PassphraseInput id="backup-passphrase-again" label=Bt::PassphraseAgain value=again/>
                <Show when=move || busy.get()>
                    <div class="progress" role="status">
                        <label for="backup-progress">{move || bt(lang.get(), Bt::Writing)}</label>
                        <progress id="backup-progress"></progress>
                    </div>
                </Show>
                <p class="field-error" role="alert" data-testid="backup-error">{move || error.get()}</p>
                <p role="status" data-testid="backup-written">{move || done.get()}</p>
                <button type="submit" data-testid="backup-write" prop:disabled=move || busy.get()>
                    {move || bt(lang.get(), Bt::Write)}
                </button>
            </form>
        </section>
    }
}

/// A sentence in the language of the moment it is shown.
type Message = Box<dyn Fn(Lang) -> String>;

/// Writes the backup and hands the file to the browser to save.
async fn write_and_save(passphrase: &Passphrase) -> Result<Message, Message> {
    let fail =
        |failure_: BackupFailure| -> Message { Box::new(move |lang| failure(lang, &failure_)) };
    let store = Store::open(DATABASE)
        .await
        .map_err(|error| fail(BackupFailure::Store(error)))?;
    let result = async {
        let enrolment = store
            .enrolment()
            .await
            .map_err(BackupFailure::Store)?
            .ok_or(BackupFailure::NotEnrolled)?;
        backup::write(&store, &enrolment, passphrase, crate::clock::now().utc_ms()).await
    }
    .await;
    store.close();
    let file = result.map_err(fail)?;
    save(&file.bytes, &file.file_name).map_err(|detail| fail(BackupFailure::Send(detail)))?;
    let (events, name) = (file.events, file.file_name);
    Ok(Box::new(move |lang| written(lang, events, &name)))
}

/// Offers `bytes` to the browser as a download named `name`.
fn save(bytes: &[u8], name: &str) -> Result<(), String> {
    let words = |error: wasm_bindgen::JsValue| crate::store::js_words(&error);
    let parts = Array::of1(&Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob =
        web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(words)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(words)?;
    let document = document();
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(words)?
        .unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // Revoked once the browser has surely read it: revoking at once can cancel
    // the download it has only just begun.
    set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        std::time::Duration::from_secs(60),
    );
    Ok(())
}

/// "Import backup": a file, its passphrase, and the pages sent with a bar.
#[component]
pub fn ImportBackup(send: SendPage) -> impl IntoView {
    let lang = use_lang();
    let input = NodeRef::<leptos::html::Input>::new();
    let passphrase = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let about = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    // Events sent, of how many; `(0, 0)` while the file is read and checked.
    let progress = RwSignal::new(None::<(usize, usize)>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let lang = lang.get_untracked();
        let file = input
            .get_untracked()
            .and_then(|input| input.files())
            .and_then(|files| files.get(0));
        let Some(file) = file else {
            return error.set(Some(bt(lang, Bt::NoFile).to_owned()));
        };
        error.set(None);
        done.set(None);
        about.set(None);
        busy.set(true);
        progress.set(Some((0, 0)));
        let typed = passphrase.get_untracked();
        let send = send.clone();
        spawn_local(async move {
            let result = async {
                let buffer = JsFuture::from(file.array_buffer())
                    .await
                    .map_err(|error| BackupFailure::Send(crate::store::js_words(&error)))?;
                let bytes = Uint8Array::new(&buffer).to_vec();
                let (header, verified) = backup::read(&bytes, &typed).await?;
                about.try_set(Some(header_line(lang, &header)));
                let total = verified.len();
                progress.try_set(Some((0, total)));
                backup::import(
                    &verified,
                    |page| send(page),
                    |sent| {
                        progress.try_set(Some((sent, total)));
                    },
                )
                .await
            }
            .await;
            busy.try_set(false);
            progress.try_set(None);
            match result {
                Ok(tally) => {
                    passphrase.try_set(String::new());
                    done.try_set(Some(outcome(lang, tally.outcome())));
                }
                Err(failed) => {
                    error.try_set(Some(failure(lang, &failed)));
                }
            }
        });
    };
    let bar = move || {
        progress.get().map(|(sent, total)| {
            let lang = lang.get();
            let label = if total == 0 {
                bt(lang, Bt::Reading).to_owned()
            } else {
                crate::i18n::labelled(lang, bt(lang, Bt::Sending), &format!("{sent} / {total}"))
            };
            view! {
                <div class="progress" role="status" data-testid="import-progress">
                    <label for="import-progress-bar">{label}</label>
                    {if total == 0 {
                        view! { <progress id="import-progress-bar"></progress> }.into_any()
                    } else {
                        view! { <progress id="import-progress-bar" max=total value=sent></progress> }.into_any()
                    }}
                </div>
            }
        })
    };
    view! {
        <section class="card" data-testid="import-backup">
            <h2>{move || bt(lang.get(), Bt::ImportTitle)}</h2>
            <p>{move || bt(lang.get(), Bt::ImportHelp)}</p>
            <form on:submit=submit>
                <div class="field">
                    <label for="import-file">{move || bt(lang.get(), Bt::File)}</label>
                    <input id="import-file" type="file" accept=".hpbackup" node_ref=input data-testid="import-file"/>
                </div>
                <PassphraseInput id="import-passphrase" label=Bt::Passphrase value=passphrase/>
                {bar}
                <p data-testid="import-header">{move || about.get()}</p>
                <p class="field-error" role="alert" data-testid="import-error">{move || error.get()}</p>
                <p role="status" data-testid="import-result">{move || done.get()}</p>
                <button type="submit" data-testid="import-button" prop:disabled=move || busy.get()>
                    {move || bt(lang.get(), if busy.get() { Bt::Importing } else { Bt::Import })}
                </button>
            </form>
        </section>
    }
}

/// A passphrase field: typed, never shown, never filled in by the browser.
#[component]
fn PassphraseInput(id: &'static str, label: Bt, value: RwSignal<String>) -> impl IntoView {
    let lang = use_lang();
    view! {
        <div class="field">
            <label for=id>{move || bt(lang.get(), label)}</label>
            <input id=id type="password" autocomplete="new-password" data-testid=id
                prop:value=move || value.get()
                on:input=move |event| value.set(event_target_value(&event))/>
        </div>
    }
}
