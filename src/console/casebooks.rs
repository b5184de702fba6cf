//! The console's "Casebooks" section (issue 13 item 7): a site's participants
//! with where each casebook stands; one casebook reviewed whole (every form's
//! values and history, every record, the signature); the investigator's
//! signature, stating its meaning and asking for the password again; the
//! coordinator's unlock with a reason. The core's rules (`trial::casebook`)
//! check the reason before it is sent, and the server checks everything again.

use leptos::prelude::*;
use leptos::task::spawn_local;
use trial::casebook::{
    CasebookError, CasebookReview, CasebookStatus, CasebookUnlocked, SignRequest, SignatureMeaning,
    SignatureView, UnlockRequest,
};
use trial::console::{ConsoleAction, ConsoleRole};
use trial::field::Field;
use trial::wire::ErrorCode;
use uuid::Uuid;

use super::api::{self, Failure};
use super::pages::{failure_message, local_time};
use super::text::{Ct, ct, role_name};
use crate::i18n::{Lang, field_label, form_label, use_lang};
use crate::pages::describe_entry;

/// Every site's casebooks, for the roles that review them.
#[component]
pub fn Casebooks(role: ConsoleRole) -> impl IntoView {
    let lang = use_lang();
    let sites = LocalResource::new(api::dashboard);
    let chosen = RwSignal::new(None::<Uuid>);
    // Bumped by a signature or an unlock: the review and the lists read again.
    let version = RwSignal::new(0_u32);
    view! {
        <section class="card" data-testid="console-casebooks">
            <h2>{move || ct(lang.get(), Ct::CasebooksTitle)}</h2>
            <p>{move || ct(lang.get(), Ct::CasebooksHelp)}</p>
            {move || sites.get().map(|answer| match answer {
                Err(failure) => view! {
                    <p class="field-error" role="alert">{failure_message(lang.get(), &failure, Ct::SessionEnded)}</p>
                }.into_any(),
                Ok(dashboard) => dashboard.sites.into_iter().map(|site| view! {
                    <SiteCasebooks code=site.code chosen version/>
                }).collect_view().into_any(),
            })}
            {move || chosen.get().map(|participant| view! { <Review participant role version/> })}
        </section>
    }
}

/// One site's participants, each with its status and a button to review it.
#[component]
fn SiteCasebooks(
    code: String,
    chosen: RwSignal<Option<Uuid>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let lang = use_lang();
    let site = code.clone();
    let answer = LocalResource::new(move || {
        version.track();
        let site = site.clone();
        async move { api::casebooks(&site).await }
    });
    view! {
        <h3>{code}</h3>
        {move || answer.get().map(|answer| match answer {
            Err(failure) => view! {
                <p class="field-error" role="alert">{failure_message(lang.get(), &failure, Ct::SessionEnded)}</p>
            }.into_any(),
            Ok(list) => view! {
                <ul class="casebook-list">
                    {list.casebooks.into_iter().map(|casebook| {
                        let id = casebook.participant_id;
                        let number = casebook
                            .study_number
                            .or(casebook.screening_number)
                            .unwrap_or_else(|| id.to_string());
                        let testid = format!("casebook-{number}");
                        view! {
                            <li>
                                <button type="button" class="secondary" data-testid=testid on:click=move |_| chosen.set(Some(id))>
                                    {number.clone()}
                                </button>
                                " " {move || status_text(lang.get(), casebook.status)}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any(),
        })}
    }
}

/// One casebook, whole, with the actions the role may take on it.
#[component]
fn Review(participant: Uuid, role: ConsoleRole, version: RwSignal<u32>) -> impl IntoView {
    let lang = use_lang();
    let answer = LocalResource::new(move || {
        version.track();
        api::casebook(participant)
    });
    view! {
        <article class="console-casebook" data-testid="casebook-review">
            {move || answer.get().map(|answer| match answer {
                Err(failure) => view! {
                    <p class="field-error" role="alert">{failure_message(lang.get(), &failure, Ct::SessionEnded)}</p>
                }.into_any(),
                Ok(review) => view! { <Casebook review role version/> }.into_any(),
            })}
        </article>
    }
}

/// The casebook's contents and its signature or unlock form.
#[component]
fn Casebook(review: CasebookReview, role: ConsoleRole, version: RwSignal<u32>) -> impl IntoView {
    let lang = use_lang();
    let number = review
        .study_number
        .clone()
        .or(review.screening_number.clone())
        .unwrap_or_else(|| review.participant_id.to_string());
    let status = review.status;
    let signature = review.signature.clone();
    let may_sign = role.may(ConsoleAction::SignCasebook) && status != CasebookStatus::Signed;
    let may_unlock = role.may(ConsoleAction::UnlockCasebook) && status != CasebookStatus::Open;
    let forms = review.forms.clone();
    let timeline = review.timeline.clone();
    view! {
        <h3>{number}</h3>
        <p class="casebook-status" data-testid="casebook-status">{move || status_text(lang.get(), status)}</p>
        {signature.map(|signature| view! { <Signature signature/> })}
        <h4>{move || ct(lang.get(), Ct::CasebookForms)}</h4>
        {forms.into_iter().map(|form| {
            let form_ref = form.form;
            view! {
                <h5>{move || form_label(lang.get(), form_ref)}</h5>
                <dl class="casebook-values">
                    {form.values.into_iter().filter_map(|value| {
                        let field = Field::from_key(&value.field)?;
                        let entry = value.entry;
                        Some(view! {
                            <dt>{move || field_label(lang.get(), field)}</dt>
                            <dd>{move || describe_entry(lang.get(), field, &entry)}</dd>
                        })
                    }).collect_view()}
                </dl>
                <ul class="casebook-history">
                    {form.history.into_iter().filter_map(|change| {
                        let field = Field::from_key(&change.field)?;
                        Some(view! {
                            <li>
                                {move || {
                                    let lang = lang.get();
                                    let old = change.old.as_ref().map(|old| describe_entry(lang, field, old));
                                    let new = describe_entry(lang, field, &change.new);
                                    let value = old.map_or(new.clone(), |old| format!("{old} → {new}"));
                                    let reason = change.reason.clone().map(|reason| format!(" · {reason}")).unwrap_or_default();
                                    format!(
                                        "{}: {value}{reason} · {} · {} · {}",
                                        field_label(lang, field),
                                        change.user,
                                        change.device,
                                        local_time(lang, change.recorded_at_ms)
                                    )
                                }}
                            </li>
                        })
                    }).collect_view()}
                </ul>
            }
        }).collect_view()}
        <h4>{move || ct(lang.get(), Ct::CasebookRecords)}</h4>
        <ul class="casebook-timeline" data-testid="casebook-timeline">
            {timeline.into_iter().map(|entry| view! {
                <li>
                    {move || format!(
                        "{} · {} · {} · {}{}",
                        local_time(lang.get(), entry.recorded_at_ms),
                        entry.kind,
                        entry.user,
                        entry.device,
                        entry.reason.as_ref().map(|reason| format!(" · {reason}")).unwrap_or_default()
                    )}
                </li>
            }).collect_view()}
        </ul>
        {may_sign.then(|| view! { <SignForm review=review.clone() version/> })}
        {may_unlock.then(|| view! { <UnlockForm participant=review.participant_id version/> })}
    }
}

/// A signature as 21 CFR 11.50 asks it be shown: printed name, role, when, and
/// what it means.
#[component]
fn Signature(signature: SignatureView) -> impl IntoView {
    let lang = use_lang();
    view! {
        <p class="casebook-signature" data-testid="casebook-signature">
            {move || {
                let lang = lang.get();
                let meaning = match lang {
                    Lang::En => signature.meaning_en.clone(),
                    Lang::Zh => signature.meaning_zh.clone(),
                };
                format!(
                    "{} {} ({}) · {} · {meaning}",
                    ct(lang, Ct::SignedBy),
                    signature.signer_name,
                    role_name(lang, signature.signer_role),
                    local_time(lang, signature.signed_at_ms)
                )
            }}
        </p>
    }
}

/// The investigator's signature: the meaning stated, acknowledged, and the
/// password typed again.
#[component]
fn SignForm(review: CasebookReview, version: RwSignal<u32>) -> impl IntoView {
    let lang = use_lang();
    let password = RwSignal::new(String::new());
    let acknowledged = RwSignal::new(false);
    let error = RwSignal::new(None::<Failure>);
    let busy = RwSignal::new(false);
    let (participant_id, digest) = (review.participant_id, review.digest);
    let sign = move |_| {
        let request = SignRequest {
            participant_id,
            password: password.get_untracked(),
            meaning: SignatureMeaning::CURRENT,
            digest,
        };
        busy.set(true);
        spawn_local(async move {
            match api::sign_casebook(&request).await {
                Ok(_) => version.update(|version| *version += 1),
                Err(failure) => {
                    busy.set(false);
                    error.set(Some(failure));
                }
            }
        });
    };
    view! {
        <div class="casebook-sign" data-testid="casebook-sign">
            <h4>{move || ct(lang.get(), Ct::SignTitle)}</h4>
            <label>
                <input type="checkbox" data-testid="sign-acknowledge" bind:checked=acknowledged/>
                {move || match lang.get() {
                    Lang::En => SignatureMeaning::CURRENT.english(),
                    Lang::Zh => SignatureMeaning::CURRENT.chinese(),
                }}
            </label>
            <label>
                {move || ct(lang.get(), Ct::SignPassword)}
                <input type="password" autocomplete="current-password" data-testid="sign-password" bind:value=password/>
            </label>
            <button type="button" data-testid="sign-casebook" disabled=move || busy.get() || !acknowledged.get() on:click=sign>
                {move || ct(lang.get(), Ct::SignButton)}
            </button>
            <p class="field-error" role="alert" data-testid="sign-error">
                {move || error.with(|failure| failure.as_ref().map(|failure| casebook_failure(lang.get(), failure)))}
            </p>
        </div>
    }
}

/// The coordinator's unlock, with its reason.
#[component]
fn UnlockForm(participant: Uuid, version: RwSignal<u32>) -> impl IntoView {
    let lang = use_lang();
    let reason = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let unlock = move |_| {
        let lang = lang.get_untracked();
        if let Err(problem) = CasebookUnlocked::new(&reason.get_untracked()) {
            error.set(Some(reason_problem(lang, problem)));
            return;
        }
        let request = UnlockRequest {
            participant_id: participant,
            reason: reason.get_untracked(),
        };
        busy.set(true);
        spawn_local(async move {
            match api::unlock_casebook(&request).await {
                Ok(_) => version.update(|version| *version += 1),
                Err(failure) => {
                    busy.set(false);
                    error.set(Some(casebook_failure(lang, &failure)));
                }
            }
        });
    };
    view! {
        <div class="casebook-unlock" data-testid="casebook-unlock">
            <h4>{move || ct(lang.get(), Ct::UnlockTitle)}</h4>
            <label>
                {move || ct(lang.get(), Ct::UnlockReason)}
                <input type="text" data-testid="unlock-reason" bind:value=reason/>
            </label>
            <button type="button" data-testid="unlock-casebook" disabled=move || busy.get() on:click=unlock>
                {move || ct(lang.get(), Ct::UnlockButton)}
            </button>
            <p class="field-error" role="alert" data-testid="unlock-error">{move || error.get()}</p>
        </div>
    }
}

/// A casebook's status in `lang`.
fn status_text(lang: Lang, status: CasebookStatus) -> &'static str {
    ct(
        lang,
        match status {
            CasebookStatus::Open => Ct::CasebookOpen,
            CasebookStatus::Signed => Ct::CasebookSigned,
            CasebookStatus::ChangedAfterSigning => Ct::CasebookChanged,
        },
    )
}

/// Why an unlock's reason is refused, in `lang`.
fn reason_problem(lang: Lang, problem: CasebookError) -> String {
    match problem {
        CasebookError::ReasonTooLong { length } => format!(
            "{} ({length} / {})",
            ct(lang, Ct::UnlockReasonTooLong),
            trial::crf::MAX_TEXT_CHARS
        ),
        _ => ct(lang, Ct::UnlockReasonBlank).to_owned(),
    }
}

/// A refused signature or unlock in `lang`: a wrong password or a casebook that
/// changed by its own words, the rest as every console failure.
fn casebook_failure(lang: Lang, failure: &Failure) -> String {
    match failure {
        Failure::Refused {
            code: ErrorCode::InvalidRequest,
            field: Some(field),
            ..
        } if field == "password" => ct(lang, Ct::WrongPasswordAgain).to_owned(),
        Failure::Refused {
            code: ErrorCode::Conflict,
            ..
        } => ct(lang, Ct::CasebookConflict).to_owned(),
        other => failure_message(lang, other, Ct::SessionEnded),
    }
}
