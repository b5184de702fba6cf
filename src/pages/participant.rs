//! One participant: where they stand, their screening, consent, and the randomise
//! step (enabled only when eligible, consented and inside the ECMO window, and
//! checked again at the tap). The allocation is shown once, large, then recorded.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use trial::crf::FormContext;
use trial::crf::consent::{ConsentForm, ConsentGivenBy};
use trial::eligibility::Outcome;
use trial::field::{Field, FieldError};
use trial::payload::{Payload, PayloadError, Randomised};
use trial::projection::{Participant, RandomiseRefusal};
use uuid::Uuid;

use crate::actions::{self, SaveOnce};
use crate::clock;
use crate::components::dirty::use_dirty;
use crate::components::{ChoiceField, DateTimeField, TextField};
use crate::i18n::{
    Text, action_error, arm_label, field_error, incomplete_outcome, refusal_text, t, use_lang,
};
use crate::pages::follow_up::{FollowUp, Timeline};
use crate::pages::home::{status_label, ticking_clock};
use crate::pages::not_enrolled::NotEnrolledSection;
use crate::pages::screening::{ParticipantEligibility, ScreeningEditor, window_line};
use crate::state::{use_session, use_tablet};
use crate::store::SyncState;

/// `/participants/:id`
#[component]
pub fn ParticipantPage() -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|id| id.parse::<Uuid>().ok()));
    let participant = Memo::new(move |_| tablet.participant(id()?));
    view! {
        <Show
            when=move || participant.with(Option::is_some)
            fallback=move || view! { <p>{move || (!tablet.is_opening()).then(|| t(lang.get(), Text::NotFound))}</p> }
        >
            {move || {
                // The last participant seen stands in while `Show` swaps to its
                // fallback (the participant gone, as at enrolment's training wipe).
                let last = participant.get_untracked()?;
                // A memo, not a derived signal: every section reads the
                // participant, and a derived signal would clone their whole state
                // at each read; a memo holds one copy, made once per change.
                let shown = Memo::new(move |_| participant.get().unwrap_or_else(|| last.clone()));
                Some(view! { <ParticipantView participant=shown.into()/> })
            }}
        </Show>
    }
}

#[component]
fn ParticipantView(participant: Signal<Participant>) -> impl IntoView {
    let lang = use_lang();
    let now = ticking_clock();
    let editing = RwSignal::new(false);
    let revealed = RwSignal::new(None::<Randomised>);
    // Why the last randomise tap did not allocate. Shown above the sections, so it
    // stays when the tap lost to another tab and the randomise section gives way
    // to the follow-up.
    let refused = RwSignal::new(None::<String>);
    let title = move || {
        participant.with(|p| {
            let screening = p.screening_number().unwrap_or_default().to_owned();
            match p.study_number() {
                Some(study) => format!("{} · {screening}", study.as_str()),
                None => screening,
            }
        })
    };
    view! {
        <section>
            <div class="heading-row">
                <h1 data-testid="participant-title">{title}</h1>
                <span class="status" data-testid="participant-status">
                    {move || status_label(lang.get(), participant.with(|p| p.status(now.get())))}
                </span>
            </div>
            {move || revealed.get().map(|randomised| view! { <Reveal randomised/> })}
            <p class="field-error" role="alert" data-testid="randomise-problem">{move || refused.get()}</p>
            <Show when=move || participant.with(|p| p.randomisation().is_none())>
                <Show
                    when=move || editing.get()
                    fallback=move || view! {
                        <ParticipantEligibility participant now/>
                        <button class="secondary" on:click=move |_| editing.set(true) data-testid="edit-screening">
                            {move || t(lang.get(), Text::EditScreening)}
                        </button>
                    }
                >
                    {move || participant.with_untracked(|p| {
                        let initial = p.screening().map(|s| s.value.form().clone());
                        let number = p.screening_number().unwrap_or_default().to_owned();
                        initial.map(|initial| view! { <ScreeningEditor initial participant=Some((p.id(), number))/> })
                    })}
                </Show>
                // A patient recorded as not enrolled has nothing to consent to or
                // randomise until a new screening reopens them.
                <Show when=move || participant.with(|p| p.not_enrolled().is_none())>
                    <ConsentSection participant/>
                    <RandomiseSection participant now revealed refused/>
                </Show>
                <NotEnrolledSection participant/>
                <Timeline participant/>
            </Show>
            <Show when=move || participant.with(|p| p.randomisation().is_some())>
                <FollowUp participant/>
            </Show>
        </section>
    }
}

/// Consent (CRF.md §2), recorded once eligibility is established. Every
/// problem shows at its field as the value is typed (what is still missing, from
/// the first tap on "Record consent" on), and one consent is recorded however
/// often the button is tapped.
#[component]
fn ConsentSection(participant: Signal<Participant>) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    let given_by = RwSignal::new(None::<&'static str>);
    let consented_at = RwSignal::new(clock::to_local_input(clock::now()));
    let form_version = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let attempted = RwSignal::new(false);
    let once = SaveOnce::ready();
    let now = ticking_clock();
    let consented = move || participant.with(|p| !p.consents().is_empty());
    use_dirty().register(Signal::derive(move || {
        !consented() && (given_by.get().is_some() || !form_version.get().trim().is_empty())
    }));
    // The record to make, or every problem with what was entered: what is not
    // a value here, then the trial core's one check before saving.
    let verdict = Memo::new(move |_| -> Result<ConsentForm, Vec<FieldError>> {
        let mut errors = Vec::new();
        let given_by = match given_by.get() {
            Some("patient") => Some(ConsentGivenBy::Patient),
            Some(_) => Some(ConsentGivenBy::LegallyAuthorisedRepresentative),
            None => {
                errors.push(FieldError::Required {
                    field: Field::ConsentGivenBy,
                });
                None
            }
        };
        let at = match clock::read_local_input(&consented_at.get()) {
            Ok(Some(at)) => Some(at),
            Ok(None) => {
                errors.push(FieldError::Required {
                    field: Field::ConsentedAt,
                });
                None
            }
            Err(_) => {
                errors.push(FieldError::NotADate {
                    field: Field::ConsentedAt,
                });
                None
            }
        };
        let form = ConsentForm {
            given_by: given_by.unwrap_or(ConsentGivenBy::Patient),
            consented_at: at.unwrap_or_else(|| now.get()),
            form_version: form_version.get().trim().to_owned(),
        };
        if let Err(PayloadError::Invalid { errors: found, .. }) =
            Payload::ConsentRecorded(form.clone()).check(now.get(), FormContext::NONE)
        {
            // A time already named as missing or unreadable is not judged again.
            errors.extend(
                found
                    .into_iter()
                    .filter(|error| at.is_some() || error.field() != Field::ConsentedAt),
            );
        }
        if errors.is_empty() {
            Ok(form)
        } else {
            Err(errors)
        }
    });
    let error_of = move |field: Field| {
        Signal::derive(move || {
            let attempted = attempted.get();
            verdict.with(|verdict| {
                let errors = verdict.as_ref().err()?;
                errors
                    .iter()
                    .filter(|e| attempted || !e.is_missing())
                    .find(|e| e.field() == field)
                    .map(|e| field_error(lang.get(), e))
            })
        })
    };
    let given_by_error = error_of(Field::ConsentGivenBy);
    let save = move |_| {
        attempted.set(true);
        let lang = lang.get_untracked();
        let Ok(form) = verdict.get_untracked() else {
            return;
        };
        let (Some(user), participant_id) = (
            session.user.get_untracked(),
            participant.with_untracked(Participant::id),
        ) else {
            return;
        };
        if !once.start() {
            return;
        }
        spawn_local(async move {
            match actions::record(participant_id, user.id, &Payload::ConsentRecorded(form)).await {
                Ok(()) => {
                    // Stays done: the form gives way to "Consent recorded".
                    once.saved();
                    problem.try_set(None);
                    tablet.refresh();
                }
                Err(error) => {
                    once.reopen();
                    problem.try_set(Some(action_error(lang, &error)));
                }
            }
        });
    };
    let options = vec![
        ("patient", Text::ConsentPatient),
        ("representative", Text::ConsentRepresentative),
    ];
    view! {
        <section class="card" data-testid="consent">
            <h2>{move || t(lang.get(), Text::Consent)}</h2>
            <Show
                when=move || !consented()
                fallback=move || view! { <p class="done" data-testid="consent-recorded">{move || t(lang.get(), Text::ConsentRecorded)}</p> }
            >
                <div class="field" class:invalid=move || given_by_error.with(Option::is_some)>
                    <ChoiceField field=Field::ConsentGivenBy options=options.clone() value=given_by/>
                    <p class="field-error" data-testid="consent_given_by-error">{given_by_error}</p>
                </div>
                <DateTimeField field=Field::ConsentedAt value=consented_at error=error_of(Field::ConsentedAt)/>
                <TextField field=Field::ConsentFormVersion value=form_version error=error_of(Field::ConsentFormVersion)/>
                <p class="field-error" role="alert" data-testid="consent-problem">{move || problem.get()}</p>
                <button on:click=save prop:disabled=move || once.is_busy() data-testid="save-consent">{move || t(lang.get(), Text::RecordConsent)}</button>
            </Show>
        </section>
    }
}

/// The randomise button, its confirmation, and why it is disabled when it is.
#[component]
fn RandomiseSection(
    participant: Signal<Participant>,
    now: ReadSignal<trial::time::Moment>,
    revealed: RwSignal<Option<Randomised>>,
    refused: RwSignal<Option<String>>,
) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    let confirming = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let blocker = move || -> Option<String> {
        let now = now.get();
        let lang = lang.get();
        // An unenrolled tablet has no slot to run out of: it says what it lacks.
        let no_slot = move || {
            let text = if tablet.is_training() {
                Text::BlockedTabletNotEnrolled
            } else {
                Text::BlockedNoSlot
            };
            Some(t(lang, text).to_owned())
        };
        let Some(device) = tablet.device.get() else {
            return no_slot();
        };
        match participant.with(|p| p.may_randomise(now, device)) {
            // An incomplete screening is not "not eligible": it says what it
            // still needs (listed in the eligibility card above).
            Err(RandomiseRefusal::NotEligible(Outcome::Incomplete { missing })) => {
                Some(incomplete_outcome(lang, missing.len()))
            }
            Err(refusal) => Some(t(lang, refusal_text(&refusal)).to_owned()),
            Ok(()) if tablet.lease.with(Option::is_none) => no_slot(),
            Ok(()) => None,
        }
    };
    let randomise = move |_| {
        // A second tap while the first is under way does nothing here; were it to
        // get through, the store would still refuse it (`Store::randomise`).
        if busy.get_untracked() {
            return;
        }
        let lang = lang.get_untracked();
        let (Some(user), participant_id) = (
            session.user.get_untracked(),
            participant.with_untracked(Participant::id),
        ) else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            let result = actions::randomise(participant_id, user.id).await;
            // Once randomised, this section is gone from the page: its own signals
            // may be disposed by now, so they are only tried.
            busy.try_set(false);
            confirming.try_set(false);
            match result {
                Ok(randomised) => {
                    refused.set(None);
                    revealed.set(Some(randomised));
                }
                Err(error) => refused.set(Some(action_error(lang, &error))),
            }
            tablet.refresh();
        });
    };
    let start_training = move |_| {
        let lang = lang.get_untracked();
        spawn_local(async move {
            if let Err(error) = actions::start_training().await {
                refused.set(Some(action_error(lang, &error)));
            }
            tablet.refresh();
        });
    };
    // Training is for a tablet not yet enrolled: an enrolled one waits for the
    // server's leases, and the blocker above says so.
    let may_train =
        move || tablet.lease.with(Option::is_none) && tablet.enrolment.with(Option::is_none);
    // The 24-hour window, counting down where the decision is taken.
    let window = move || {
        let started = participant.with(Participant::ecmo_started_at)?;
        Some(window_line(lang.get(), started, now.get()))
    };
    view! {
        <section class="card" data-testid="randomise">
            <h2>{move || t(lang.get(), Text::Randomise)}</h2>
            {move || window().map(|text| view! { <p class="window" data-testid="randomise-window">{text}</p> })}
            // The window and the tap are timed by this tablet's clock: a clock the
            // server found off is said here, where it matters.
            <Show when=move || tablet.sync.with(SyncState::clock_is_off)>
                <p class="blocked" role="alert" data-testid="randomise-clock-off">{move || t(lang.get(), Text::ClockOff)}</p>
            </Show>
            {move || blocker().map(|text| view! { <p class="blocked" data-testid="randomise-blocked">{text}</p> })}
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button
                        class="primary big"
                        prop:disabled=move || blocker().is_some()
                        on:click=move |_| confirming.set(true)
                        data-testid="randomise-button"
                    >
                        {move || t(lang.get(), Text::Randomise)}
                    </button>
                }
            >
                <div class="confirm" role="alertdialog" aria-labelledby="confirm-title">
                    <p id="confirm-title"><strong>{move || t(lang.get(), Text::RandomiseIrreversible)}</strong></p>
                    <button class="secondary" on:click=move |_| confirming.set(false)>{move || t(lang.get(), Text::Cancel)}</button>
                    <button class="primary" prop:disabled=move || busy.get() on:click=randomise data-testid="confirm-randomise">
                        {move || t(lang.get(), Text::ConfirmRandomise)}
                    </button>
                </div>
            </Show>
            // Apart from the randomise button, under a rule: a tap meant for one
            // never lands on the other.
            <Show when=may_train>
                <div class="training-offer" data-testid="training-offer">
                    <p>{move || t(lang.get(), Text::TrainingExplained)}</p>
                    <button class="secondary" on:click=start_training data-testid="start-training">
                        {move || t(lang.get(), Text::StartTraining)}
                    </button>
                </div>
            </Show>
        </section>
    }
}

/// The allocation, shown once, large and unmistakable; a training allocation
/// says so on the card itself, in a colour no trial allocation has.
#[component]
fn Reveal(randomised: Randomised) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let arm = randomised.arm;
    // Read once: the card stands for the allocation made, whatever happens next.
    let training = tablet.is_training();
    view! {
        <div class="reveal" class:training=training role="status" data-testid="allocation">
            {training.then(|| view! {
                <p class="reveal-training" data-testid="allocation-training">{move || t(lang.get(), Text::TrainingAllocation)}</p>
            })}
            <p class="reveal-label">{move || t(lang.get(), Text::AllocatedArm)}</p>
            <p class="reveal-arm" data-testid="allocated-arm">{move || arm_label(lang.get(), arm)}</p>
            <p class="reveal-number">
                {move || t(lang.get(), Text::StudyNumber)} " " <strong data-testid="study-number">{randomised.study_number.as_str().to_owned()}</strong>
            </p>
        </div>
    }
}
