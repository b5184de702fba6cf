//! The participants on this tablet: who is where in the trial, how long ECMO has
//! run, and which cytokine sample is due next.

use leptos::prelude::*;
use trial::crf::cytokine::SampleDue;
use trial::projection::{Participant, Status};
use trial::time::Moment;

use crate::clock;
use crate::components::SyncStatusPanel;
use crate::i18n::{Lang, Text, arm_label, labelled, sample_due_label, storage_line, t, use_lang};
use crate::pwa;
use crate::state::use_tablet;

/// How often the list re-reads the clock (time on ECMO, samples due).
const TICK_MS: u32 = 30_000;

/// The home screen.
#[component]
pub fn Home() -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let now = ticking_clock();
    let participants = Memo::new(move |_| tablet.participants());
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
                when=move || participants.with(|list| !list.is_empty())
                fallback=move || view! { <p class="empty">{move || t(lang.get(), Text::NoParticipants)}</p> }
            >
                <ul class="participant-list" data-testid="participant-list">
                    {move || {
                        let (lang, now) = (lang.get(), now.get());
                        let unsynced = tablet.unsynced_by_participant();
                        participants.with(|list| {
                            list.iter()
                                .map(|participant| {
                                    let unsynced = unsynced.get(&participant.id()).copied().unwrap_or(0);
                                    row(lang, now, participant, unsynced)
                                })
                                .collect_view()
                        })
                    }}
                </ul>
            </Show>
            <SyncStatusPanel/>
            <Show when=move || tablet.loaded.get() && tablet.enrolment.with(Option::is_none)>
                <p><a class="button secondary" href="/enrol" data-testid="enrol-link">{move || t(lang.get(), Text::EnrolLink)}</a></p>
            </Show>
            {storage_line}
        </section>
    }
}

/// One participant: number, status, time on ECMO, the samples to take (overdue
/// ones highlighted) and how many of their records wait for the server.
fn row(
    lang: Lang,
    now: Moment,
    participant: &Participant,
    unsynced: usize,
) -> impl IntoView + use<> {
    let href = format!("/participants/{}", participant.id());
    let number = participant
        .study_number()
        .map(|number| number.as_str().to_owned())
        .or_else(|| participant.screening_number().map(str::to_owned))
        .unwrap_or_default();
    let status = participant.status(now);
    let status_class = match status {
        Status::Eligible => "status eligible",
        Status::NotEligible | Status::NotEnrolled => "status not-eligible",
        Status::Randomised { .. } => "status randomised",
        _ => "status",
    };
    let on_ecmo = participant
        .ecmo_started_at()
        .map(|started| format_duration(lang, now.ms_since(started)));
    let samples = participant
        .samples_to_take(now)
        .into_iter()
        .map(|sample| {
            let overdue = sample.due == SampleDue::Overdue;
            let text = sample_due_label(lang, &sample);
            view! { <span class="next-sample" class:overdue=overdue>{text}</span> }
        })
        .collect_view();
    let unsynced = (unsynced > 0).then(|| {
        view! {
            <span class="unsynced" data-testid="participant-unsynced">
                {format!("{unsynced} {}", t(lang, Text::NotSynced))}
            </span>
        }
    });
    view! {
        <li>
            <a href=href data-testid="participant-row">
                <span class="number">{number}</span>
                <span class=status_class>{status_label(lang, status)}</span>
                <span class="on-ecmo">{on_ecmo.map(|text| format!("{} {text}", t(lang, Text::OnEcmo)))}</span>
                {samples}
                {unsynced}
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
