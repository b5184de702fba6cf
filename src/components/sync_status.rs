//! Where sync stands, in words: the last successful sync, what waits to be sent,
//! whether the tablet is offline (normal, not an error), what the server refused
//! and whether the tablet's clock disagrees with the server's; and a progress bar
//! while the tablet stores other tablets' records or prepares its participants'
//! states after an update ([`ProgressBar`], shown in training mode too).

use leptos::prelude::*;

use trial::wire::RejectionCode;

use crate::clock;
use crate::i18n::{Text, labelled, refused_record, sync_error, t, use_lang};
use crate::state::{Progress, use_tablet};
use crate::store::SyncState;
use crate::sync::{Phase, use_sync};

/// The status line of an enrolled tablet; nothing in training mode.
#[component]
pub fn SyncStatusPanel() -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let sync = use_sync();
    let enrolled = move || tablet.enrolment.with(Option::is_some);
    let identity = move || {
        tablet.enrolment.with(|enrolment| {
            enrolment.as_ref().map(|enrolment| {
                labelled(
                    lang.get(),
                    t(lang.get(), Text::SyncTablet),
                    &format!("{} · {}", enrolment.device_label, enrolment.site.name),
                )
            })
        })
    };
    let last = move || {
        let lang = lang.get();
        let last = tablet.sync.with(|state| state.last_success_ms);
        match last.and_then(clock::at_utc_ms) {
            Some(moment) => labelled(
                lang,
                t(lang, Text::SyncLast),
                &clock::to_local_input(moment),
            ),
            None => t(lang, Text::SyncNever).into(),
        }
    };
    let pending = move || {
        let lang = lang.get();
        match tablet.pending.get() {
            0 => t(lang, Text::SyncAllSent).to_owned(),
            n => format!("{n} {}", t(lang, Text::SyncWaiting)),
        }
    };
    let phase = move || {
        let lang = lang.get();
        match sync.phase.get() {
            Phase::Idle => None,
            Phase::Running => Some(("info", t(lang, Text::SyncRunning).to_owned())),
            Phase::Offline => Some(("info", t(lang, Text::SyncOffline).to_owned())),
            Phase::Failed(error) => Some(("error", sync_error(lang, &error))),
        }
    };
    let clock_off = move || tablet.sync.with(SyncState::clock_is_off);
    view! {
        <Show when=enrolled>
            <div class="sync-status" role="status" data-testid="sync-status">
                <p>
                    <span>{identity}</span>
                    " · "
                    <span data-testid="sync-last">{last}</span>
                    " · "
                    <span data-testid="sync-pending">{pending}</span>
                </p>
                {move || phase().map(|(class, text)| view! {
                    <p class=format!("sync-phase {class}") data-testid="sync-phase">{text}</p>
                })}
                <Show when=clock_off>
                    <p class="sync-phase error" data-testid="clock-off">{move || t(lang.get(), Text::ClockOff)}</p>
                </Show>
                <ul class="rejections">
                    <For
                        each=move || tablet.sync.with(|state| state.rejections.clone())
                        key=|rejection| (rejection.device_seq, rejection.code)
                        let:rejection
                    >
                        <li class="error">
                            {move || refused_record(lang.get(), rejection.device_seq, rejection_text(rejection.code))}
                        </li>
                    </For>
                </ul>
                <button type="button" class="secondary" data-testid="sync-now"
                    prop:disabled=move || sync.phase.with(|phase| matches!(phase, Phase::Running))
                    on:click=move |_| sync.run_now()>
                    {move || t(lang.get(), Text::SyncNow)}
                </button>
            </div>
        </Show>
    }
}

/// Long work under way, as a bar: how far the participants' states are folded
/// again (of how many), or how many records sync has stored (a bar that moves,
/// since the server does not say how many remain). Nothing when idle.
#[component]
pub fn ProgressBar() -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    move || {
        let lang = lang.get();
        tablet.progress.get().map(|progress| match progress {
            Progress::Rebuilding(rebuild) => view! {
                <div class="progress" role="status" data-testid="progress">
                    <label for="progress-bar">
                        {labelled(lang, t(lang, Text::StatesRebuilding), &format!("{} / {}", rebuild.done, rebuild.total))}
                    </label>
                    <progress id="progress-bar" max=rebuild.total.max(1) value=rebuild.done></progress>
                </div>
            }
            .into_any(),
            Progress::Receiving { received } => view! {
                <div class="progress" role="status" data-testid="progress">
                    <label for="progress-bar">
                        {labelled(lang, t(lang, Text::SyncReceiving), &received.to_string())}
                    </label>
                    <progress id="progress-bar"></progress>
                </div>
            }
            .into_any(),
        })
    }
}

/// Why the server refused an event, in the user's words.
fn rejection_text(code: RejectionCode) -> Text {
    match code {
        RejectionCode::InvalidPayload => Text::RejectedInvalid,
        RejectionCode::FromTheFuture => Text::RejectedFuture,
        RejectionCode::ChainBroken
        | RejectionCode::SeqConflict
        | RejectionCode::DuplicateEventId
        | RejectionCode::WrongDevice => Text::RejectedChain,
        RejectionCode::ParticipantOfAnotherSite => Text::RejectedOtherSite,
        RejectionCode::UnknownUser => Text::RejectedUser,
        RejectionCode::LimitExceeded => Text::RejectedLimit,
        RejectionCode::AllocationFlagged | RejectionCode::Other => Text::RejectedOther,
    }
}
