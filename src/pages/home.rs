//! The participants on this tablet: who is where in the trial, how long ECMO has
//! run, and which cytokine sample is due next; found by typing part of a
//! screening or study number.
//!
//! The list reads each participant's summary (`trial::projection::Summary`),
//! never their whole state, and draws only the rows on screen: every row has the
//! same height ([`ROW_PX`]), so a site with a thousand participants scrolls,
//! filters and ticks as one with ten.

use std::sync::Arc;

use leptos::prelude::*;
use trial::crf::cytokine::SampleDue;
use trial::projection::{Status, Summary};
use trial::time::Moment;

use super::follow_up::wall_clock;
use crate::clock;
use crate::components::SyncStatusPanel;
use crate::i18n::backup::{Bt, bt};
use crate::i18n::{
    self, Lang, Text, arm_label, labelled, sample_due_label, storage_line, t, use_lang,
};
use crate::pwa;
use crate::state::use_tablet;

/// How often the list re-reads the clock (time on ECMO, samples due).
const TICK_MS: u32 = 30_000;

/// The height of every row of the list in CSS pixels, the gap below it included
/// (`ul.participant-list li` in `style/main.css` says the same).
const ROW_PX: f64 = 92.0;

/// Rows drawn beyond each edge of the screen, so a quick scroll shows no gap.
const OVERSCAN: usize = 8;

/// The home screen.
#[component]
pub fn Home() -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let now = ticking_clock();
    let typed = RwSignal::new(String::new());
    // Which summaries the typed number matches, by their place in the list.
    let shown = Memo::new(move |_| {
        typed.with(|typed| {
            tablet.summaries.with(|summaries| {
                summaries
                    .iter()
                    .enumerate()
                    .filter(|(_, summary)| summary.matches(typed))
                    .map(|(index, _)| index)
                    .collect::<Vec<_>>()
            })
        })
    });
    // Asked on the home screen, where a user has already interacted with the app
    // (browsers grant persistence more readily then); re-read after each write.
    let storage = LocalResource::new(move || {
        tablet.pending.track();
        pwa::storage()
    });
    let storage_line = move || {
        let lang = lang.get();
        storage.get().flatten().map(|status| {
            let kept = if status.persisted {
                Text::StorageKept
            } else {
                Text::StorageNotKept
            };
            let megabytes = status.usage / 1_000_000.0;
            view! {
                <p class="storage" class:warning=!status.persisted data-testid="storage-status">
                    {storage_line(lang, kept, megabytes)}
                </p>
            }
        })
    };
    view! {
        <section>
            <div class="heading-row">
                <h1>{move || t(lang.get(), Text::Participants)}</h1>
                <a class="button" href="/screening/new" data-testid="new-screening">
                    {move || t(lang.get(), Text::NewScreening)}
                </a>
            </div>
            <Show
                when=move || tablet.summaries.with(|list| !list.is_empty())
                fallback=move || view! { <p class="empty">{move || t(lang.get(), Text::NoParticipants)}</p> }
            >
                <div class="field find">
                    <label for="find-participant">{move || t(lang.get(), Text::FindParticipant)}</label>
                    <input id="find-participant" type="search" autocomplete="off" data-testid="find-participant"
                        prop:value=move || typed.get()
                        on:input=move |event| typed.set(event_target_value(&event))/>
                </div>
                <Show
                    when=move || shown.with(|shown| !shown.is_empty())
                    fallback=move || view! { <p class="empty" data-testid="no-match">{move || t(lang.get(), Text::NoParticipantMatches)}</p> }
                >
                    <ParticipantList shown now/>
                </Show>
            </Show>
            <SyncStatusPanel/>
            <Show when=move || tablet.loaded.get() && tablet.enrolment.with(Option::is_none)>
                <p><a class="button secondary" href="/enrol" data-testid="enrol-link">{move || t(lang.get(), Text::EnrolLink)}</a></p>
            </Show>
            {storage_line}
            <p><a class="button secondary" href="/backup" data-testid="backup-link">{move || bt(lang.get(), Bt::Link)}</a></p>
        </section>
    }
}

/// The rows of the summaries at the places `shown`, of which only those on
/// screen (and [`OVERSCAN`] more each side) are drawn; padding above and below
/// stands for the others, so the page scrolls as if all were there.
#[component]
fn ParticipantList(shown: Memo<Vec<usize>>, now: ReadSignal<Moment>) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let list = NodeRef::<leptos::html::Ul>::new();
    let viewport = RwSignal::new(window_viewport());
    let on_scroll =
        window_event_listener(leptos::ev::scroll, move |_| viewport.set(window_viewport()));
    let on_resize =
        window_event_listener(leptos::ev::resize, move |_| viewport.set(window_viewport()));
    on_cleanup(move || {
        on_scroll.remove();
        on_resize.remove();
    });
    let unsynced = Memo::new(move |_| tablet.unsynced_by_participant());
    let range = Memo::new(move |_| {
        let (scroll_y, height) = viewport.get();
        let rows = shown.with(Vec::len);
        // Where the list starts on the page: it moves only when what is above it
        // does, and the row count changing redraws it.
        let top = list
            .get()
            .map_or(0.0, |list| list.get_bounding_client_rect().top() + scroll_y);
        let first = ((scroll_y - top) / ROW_PX).floor().max(0.0) as usize;
        let on_screen = (height / ROW_PX).ceil() as usize;
        let start = first.saturating_sub(OVERSCAN).min(rows);
        let end = (first + on_screen + OVERSCAN).min(rows).max(start);
        (start, end, rows)
    });
    let rows = move || {
        let (start, end, _) = range.get();
        shown.with(|shown| {
            tablet.summaries.with(|summaries| {
                shown[start..end]
                    .iter()
                    .filter_map(|index| summaries.get(*index))
                    .map(|summary| Arc::new(summary.clone()))
                    .collect::<Vec<_>>()
            })
        })
    };
    let padding = move |before: bool| {
        let (start, end, rows) = range.get();
        let hidden = if before { start } else { rows - end };
        format!("{}px", hidden as f64 * ROW_PX)
    };
    view! {
        <ul class="participant-list" data-testid="participant-list" node_ref=list
            style:padding-top=move || padding(true)
            style:padding-bottom=move || padding(false)>
            // A row is drawn again when its participant's state changes (one
            // more event folded) and only then; the clock and the language
            // change its words in place.
            <For each=rows key=|summary| (summary.id(), summary.events_folded()) let:summary>
                <Row summary now lang unsynced/>
            </For>
        </ul>
    }
}

/// The window's scroll position and height.
fn window_viewport() -> (f64, f64) {
    let window = window();
    (
        window.scroll_y().unwrap_or(0.0),
        window
            .inner_height()
            .ok()
            .and_then(|height| height.as_f64())
            .unwrap_or(800.0),
    )
}

/// One participant: initials and bed, numbers and screening time, status, time
/// on ECMO, the samples to take (overdue ones highlighted) and how many of their
/// records wait for the server.
#[component]
fn Row(
    summary: Arc<Summary>,
    now: ReadSignal<Moment>,
    lang: RwSignal<Lang>,
    unsynced: Memo<std::collections::BTreeMap<uuid::Uuid, usize>>,
) -> impl IntoView {
    let href = format!("/participants/{}", summary.id());
    let number = summary.number().to_owned();
    // Who the patient is, for the nurses of the site: initials and bed, then the
    // screening number (kept once a study number is given) and when they were
    // screened, so two rows of one status never look the same.
    let who = {
        let (initials, bed) = summary.initials_and_bed();
        let (initials, bed) = (initials.map(str::to_owned), bed.map(str::to_owned));
        move || {
            let lang = lang.get();
            let bed = bed.as_deref().map(|name| i18n::bed(lang, name));
            [initials.clone(), bed]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ")
        }
    };
    let also = {
        let screening_number = summary
            .study_number()
            .and(summary.screening_number())
            .map(str::to_owned);
        let screened = summary.screened_at().map(wall_clock);
        [screening_number, screened]
            .into_iter()
            .flatten()
            .map(|part| format!(" · {part}"))
            .collect::<String>()
    };
    let id = summary.id();
    let status = {
        let summary = Arc::clone(&summary);
        Memo::new(move |_| summary.status(now.get()))
    };
    let status_class = move || match status.get() {
        Status::Eligible => "status eligible",
        Status::NotEligible | Status::NotEnrolled => "status not-eligible",
        Status::Randomised { .. } => "status randomised",
        _ => "status",
    };
    let on_ecmo = {
        let summary = Arc::clone(&summary);
        move || {
            let lang = lang.get();
            summary.ecmo_started_at().map(|started| {
                let duration = format_duration(lang, now.get().ms_since(started));
                format!("{} {duration}", t(lang, Text::OnEcmo))
            })
        }
    };
    let samples = move || {
        let lang = lang.get();
        summary
            .samples_to_take(now.get())
            .into_iter()
            .map(|sample| {
                let overdue = sample.due == SampleDue::Overdue;
                let text = sample_due_label(lang, &sample);
                view! { <span class="next-sample" class:overdue=overdue>{text}</span> }
            })
            .collect_view()
    };
    let tablet = use_tablet();
    let waiting = move || {
        let waiting = unsynced.with(|unsynced| unsynced.get(&id).copied().unwrap_or(0));
        // Training records never sync: nothing about them is waiting.
        (waiting > 0 && !tablet.is_training()).then(|| {
            view! {
                <span class="unsynced" data-testid="participant-unsynced">
                    {format!("{waiting} {}", t(lang.get(), Text::NotSynced))}
                </span>
            }
        })
    };
    view! {
        <li>
            <a href=href data-testid="participant-row">
                <span class="identity">
                    <span class="who" data-testid="participant-who">{who}</span>
                    <span class="numbers"><span class="number">{number}</span>{also}</span>
                </span>
                <span class=status_class>{move || status_label(lang.get(), status.get())}</span>
                <span class="on-ecmo">{on_ecmo}</span>
                {samples}
                {waiting}
            </a>
        </li>
    }
}

/// The home screen's words for a status.
pub fn status_label(lang: Lang, status: Status) -> String {
    match status {
        Status::ScreeningIncomplete => t(lang, Text::StatusIncomplete).into(),
        Status::NotEligible => t(lang, Text::StatusNotEligible).into(),
        Status::Eligible => t(lang, Text::StatusEligible).into(),
        Status::Randomised { arm } => {
            labelled(lang, t(lang, Text::StatusRandomised), arm_label(lang, arm))
        }
        Status::Withdrawn => t(lang, Text::StatusWithdrawn).into(),
        Status::Completed => t(lang, Text::StatusCompleted).into(),
        Status::LostToFollowUp => t(lang, Text::StatusLost).into(),
        Status::NotEnrolled => t(lang, Text::StatusNotEnrolled).into(),
    }
}

/// "5 h 12 min" / "5 小时 12 分钟"; negative durations read as zero.
pub fn format_duration(lang: Lang, ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    let (hours, minutes) = (minutes / 60, minutes % 60);
    match lang {
        Lang::En => format!("{hours} h {minutes} min"),
        Lang::Zh => format!("{hours} 小时 {minutes} 分钟"),
    }
}

/// The current time, re-read every [`TICK_MS`] so durations and deadlines move.
pub fn ticking_clock() -> ReadSignal<Moment> {
    let (now, set_now) = signal(clock::now());
    let handle = set_interval_with_handle(
        move || set_now.set(clock::now()),
        std::time::Duration::from_millis(u64::from(TICK_MS)),
    );
    on_cleanup(move || {
        if let Ok(handle) = handle {
            handle.clear();
        }
    });
    now
}
