//! The console's "Exports" section (issue 13 item 8): a download per format the
//! account's role may take, each a plain link to the server's zip (the session
//! cookie goes with a same-origin link by itself), and the exports made so far.
//! The server writes each one now and records it; this page only links to it.

use leptos::prelude::*;
use trial::console::{COMMAND_LINE, ConsoleAction, ConsoleRole, ExportRecord, SiteName};
use trial::export::Format;

use super::api;
use super::pages::{Listing, failure_message, local_time};
use super::text::{Ct, ct, format_text};
use crate::i18n::{Lang, use_lang};

/// How long after a download starts the list of exports is read again: the
/// server records an export once it is written, before the zip is sent.
const RELIST_AFTER_MS: u64 = 2_000;

/// The downloads `role` may take, per site, and the exports made.
#[component]
pub fn Exports(role: ConsoleRole) -> impl IntoView {
    let lang = use_lang();
    let version = RwSignal::new(0_u32);
    let answer = LocalResource::new(move || {
        version.track();
        api::exports()
    });
    let downloaded = move || {
        set_timeout(
            move || version.update(|version| *version += 1),
            std::time::Duration::from_millis(RELIST_AFTER_MS),
        );
    };
    let formats: Vec<Format> = Format::ALL
        .into_iter()
        .filter(|&format| role.may(ConsoleAction::export(format)))
        .collect();
    view! {
        <section class="card" data-testid="console-exports">
            <h2>{move || ct(lang.get(), Ct::ExportsTitle)}</h2>
            <p>{move || ct(lang.get(), Ct::ExportsHelp)}</p>
            {move || answer.get().map(|answer| match answer {
                Err(failure) => view! {
                    <p class="field-error" role="alert">{failure_message(lang.get(), &failure, Ct::SessionEnded)}</p>
                }.into_any(),
                Ok(answer) => {
                    let formats = formats.clone();
                    view! {
                        {answer.sites.into_iter().map(|site| view! {
                            <SiteDownloads site=site formats=formats.clone() downloaded=downloaded/>
                        }).collect_view()}
                        <PastExports exports=answer.exports/>
                    }.into_any()
                }
            })}
        </section>
    }
}

/// One site's downloads, a tile per format.
#[component]
fn SiteDownloads(
    site: SiteName,
    formats: Vec<Format>,
    downloaded: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let lang = use_lang();
    let code = site.code.clone();
    view! {
        <h3>{site.code.clone()} " " {site.name.clone()}</h3>
        <ul class="export-formats">
            {formats.into_iter().map(|format| {
                let href = api::export_download_path(&code, format);
                view! {
                    <li class="export-format" data-testid=format!("export-{format}")>
                        <strong>{move || format_text(lang.get(), format)[0]}</strong>
                        <p>{move || format_text(lang.get(), format)[1]}</p>
                        <a class="button" href=href download="" on:click=move |_| downloaded()
                            data-testid=format!("download-{format}")>
                            {move || ct(lang.get(), Ct::DownloadZip)}
                        </a>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// The exports made, newest first: who, when, which files, how much.
#[component]
fn PastExports(exports: Vec<ExportRecord>) -> impl IntoView {
    let lang = use_lang();
    let rows = exports
        .into_iter()
        .map(|export| {
            let by_command_line = export.requested_by == COMMAND_LINE;
            let who = export.requested_by.clone();
            view! {
                <tr data-testid="past-export">
                    <td>{move || local_time(lang.get(), export.started_at_ms)}</td>
                    <td>{export.site_code.clone()}</td>
                    <td>{move || format_text(lang.get(), export.format)[0]}</td>
                    <td>{move || if by_command_line {
                        ct(lang.get(), Ct::CommandLine).to_owned()
                    } else {
                        who.clone()
                    }}</td>
                    <td class="count">{export.participants}</td>
                    <td class="count">{export.events}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    let headers: Vec<fn(Lang) -> &'static str> = vec![
        |lang| ct(lang, Ct::When),
        |lang| ct(lang, Ct::SitesTitle),
        |lang| ct(lang, Ct::Files),
        |lang| ct(lang, Ct::Who),
        |lang| ct(lang, Ct::Count),
        |lang| ct(lang, Ct::Events),
    ];
    view! {
        <Listing title=Ct::ExportsMade empty=Ct::NoExports testid="past-exports" headers rows/>
    }
}
