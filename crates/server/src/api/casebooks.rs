//! `/api/console/casebook…` (issue 13 item 7): the investigator reviews a
//! participant's whole casebook and signs it with their password typed again
//! and the meaning stated (21 CFR 11.50, 11.200); the coordinator unlocks a
//! signed one with a reason. A signature and an unlock are events on the site's
//! console device, stored by the push's own path (`push::store_console_event`),
//! which accepts a signature only from an investigator and an unlock only from
//! a coordinator; every tablet pulls them at its next sync. The rules are the
//! core's (`trial::casebook`, `Participant::may_sign`, `check_editable`).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Json;
use trial::casebook::{
    CasebookQuery, CasebookReview, CasebookSigned, CasebookStatus, CasebookSummary,
    CasebookUnlocked, CasebooksQuery, CasebooksResponse, SignRequest, SignatureMeaning,
    UnlockRequest,
};
use trial::console::{ConsoleAction, ConsoleEvent};
use trial::event::Event;
use trial::payload::Payload;
use trial::projection::Participant;
use uuid::Uuid;

use super::console::password_checked;
use super::openapi::{JsonBodyErrors, ServerFailure, SessionRefused};
use super::push::{site_calendar, store_console_event};
use crate::AppState;
use crate::console::ConsoleSession;
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::store::{Device, PushTransaction};

/// A site's participants with where each casebook stands, for the reviewer to
/// pick one.
#[utoipa::path(
    get,
    path = "/console/casebooks",
    tag = "console",
    params(CasebooksQuery),
    responses(
        (status = 200, description = "The site's participants, each with its casebook's status.", body = CasebooksResponse),
        (status = 404, description = "No site has this code (`not_found`).", body = trial::wire::ApiErrorBody),
        (status = 422, description = "`site` missing, or an unknown parameter (`invalid_request`).", body = trial::wire::ApiErrorBody),
        SessionRefused,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn list_casebooks(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiQuery(query): ApiQuery<CasebooksQuery>,
) -> Result<Json<CasebooksResponse>, ApiError> {
    session.require(ConsoleAction::ReviewCasebook)?;
    if state.store.site(&query.site).await?.is_none() {
        return Err(ApiError::NotFound(format!(
            "there is no site {:?}: the codes are on the dashboard",
            query.site
        )));
    }
    let mut casebooks = Vec::new();
    for participant_id in state.store.export_participants(&query.site).await? {
        let (participant, _) = folded(&state, &query.site, participant_id).await?;
        casebooks.push(CasebookSummary {
            participant_id,
            screening_number: participant.screening_number().map(str::to_owned),
            study_number: participant
                .study_number()
                .map(|number| number.as_str().to_owned()),
            status: CasebookStatus::of(participant.casebook()),
        });
    }
    Ok(Json(CasebooksResponse { casebooks }))
}

/// One participant's whole casebook: every form with its current values and
/// history (who, where, when, why), every record, and the signature.
#[utoipa::path(
    get,
    path = "/console/casebook",
    tag = "console",
    params(CasebookQuery),
    responses(
        (status = 200, description = "The casebook, with the digest a signature sends back.", body = CasebookReview),
        (status = 404, description = "No such participant (`not_found`).", body = trial::wire::ApiErrorBody),
        (status = 422, description = "`participant` missing or not a UUID, or an unknown parameter (`invalid_request`).", body = trial::wire::ApiErrorBody),
        SessionRefused,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn casebook(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiQuery(query): ApiQuery<CasebookQuery>,
) -> Result<Json<CasebookReview>, ApiError> {
    session.require(ConsoleAction::ReviewCasebook)?;
    let site = participant_site(&state, query.participant).await?;
    Ok(Json(review(&state, &site, query.participant).await?))
}

/// Signs a casebook as the investigator: the password again, the meaning
/// acknowledged, and the digest of the casebook as reviewed.
#[utoipa::path(
    post,
    path = "/console/casebooks/sign",
    tag = "console",
    request_body(content = SignRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Signed and locked; the site's tablets pull the signature at their next sync.", body = CasebookReview),
        (status = 404, description = "No such participant (`not_found`).", body = trial::wire::ApiErrorBody),
        (status = 409, description = "A valid signature covers the casebook already, it holds no record, or a record arrived since it was reviewed (`conflict`). Nothing is written.", body = trial::wire::ApiErrorBody),
        (status = 429, description = "Too many wrong passwords in a row for this account (`too_many_requests`): `Retry-After` says how many seconds to wait.", body = trial::wire::ApiErrorBody),
        SessionRefused,
        JsonBodyErrors,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn sign(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiJson(request): ApiJson<SignRequest>,
) -> Result<Json<CasebookReview>, ApiError> {
    session.require(ConsoleAction::SignCasebook)?;
    if request.meaning != SignatureMeaning::CURRENT {
        return Err(ApiError::invalid(
            "meaning",
            format!(
                "a signature states {:?}: \"{}\"",
                SignatureMeaning::CURRENT.as_str(),
                SignatureMeaning::CURRENT.english()
            ),
        ));
    }
    let stored = state
        .store
        .console_account(&session.account.name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("a signed-in account is gone"))?;
    if !password_checked(
        &state,
        &session.client,
        &stored,
        request.password,
        ConsoleEvent::SignatureRefused,
    )
    .await?
    {
        return Err(ApiError::invalid(
            "password",
            "the password is wrong: type the password you signed in with; nothing was signed",
        ));
    }
    let site = participant_site(&state, request.participant_id).await?;
    let (device, mut push) = console_push(&state, &site).await?;
    let participant = casebook_in(&state, &mut push, &site, request.participant_id).await?;
    participant
        .may_sign()
        .map_err(|refusal| ApiError::Conflict(refusal.to_string()))?;
    let (records, digest) = participant.casebook_contents();
    if digest != request.digest {
        return Err(ApiError::Conflict(
            "a record reached the casebook after it was opened for review: review it again \
             before signing"
                .to_owned(),
        ));
    }
    let payload = Payload::CasebookSigned(CasebookSigned {
        signer_name: session.account.name.clone(),
        signer_role: session.account.role,
        meaning: request.meaning,
        records,
        digest,
    });
    write(
        &state,
        push,
        &device,
        &session,
        request.participant_id,
        &payload,
    )
    .await?;
    session
        .audit(
            &state,
            ConsoleEvent::CasebookSigned,
            &describe(request.participant_id, &site),
        )
        .await?;
    Ok(Json(review(&state, &site, request.participant_id).await?))
}

/// Unlocks a signed casebook for a correction, with a reason; it needs a new
/// signature afterwards.
#[utoipa::path(
    post,
    path = "/console/casebooks/unlock",
    tag = "console",
    request_body(content = UnlockRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Unlocked; the site's tablets pull the unlock at their next sync.", body = CasebookReview),
        (status = 404, description = "No such participant (`not_found`).", body = trial::wire::ApiErrorBody),
        (status = 409, description = "No signature locks the casebook (`conflict`). Nothing is written.", body = trial::wire::ApiErrorBody),
        SessionRefused,
        JsonBodyErrors,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn unlock(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiJson(request): ApiJson<UnlockRequest>,
) -> Result<Json<CasebookReview>, ApiError> {
    session.require(ConsoleAction::UnlockCasebook)?;
    let unlock = CasebookUnlocked::new(&request.reason)
        .map_err(|error| ApiError::invalid("reason", error))?;
    let site = participant_site(&state, request.participant_id).await?;
    let (device, mut push) = console_push(&state, &site).await?;
    casebook_in(&state, &mut push, &site, request.participant_id)
        .await?
        .may_unlock()
        .map_err(|refusal| ApiError::Conflict(refusal.to_string()))?;
    let payload = Payload::CasebookUnlocked(unlock);
    write(
        &state,
        push,
        &device,
        &session,
        request.participant_id,
        &payload,
    )
    .await?;
    session
        .audit(
            &state,
            ConsoleEvent::CasebookUnlocked,
            &describe(request.participant_id, &site),
        )
        .await?;
    Ok(Json(review(&state, &site, request.participant_id).await?))
}

/// The participant's casebook as it stands under the console chain's lock that
/// `push` holds: what a signature, an unlock or a console correction is judged
/// against, with no record stored in between.
pub(super) async fn casebook_in(
    state: &AppState,
    push: &mut PushTransaction,
    site: &str,
    participant_id: Uuid,
) -> Result<Participant, ApiError> {
    let events = push.casebook_log(participant_id).await?;
    let calendar = site_calendar(state, site).await?;
    Ok(Participant::fold(participant_id, &events, &calendar))
}

/// The site's console device and a push on its chain.
async fn console_push(state: &AppState, site: &str) -> Result<(Device, PushTransaction), ApiError> {
    let now_ms = state.clock.now_ms();
    let device = state.store.console_device(site, now_ms).await?;
    let push = state
        .store
        .begin_push(device.id, now_ms)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the console device of site {site} is revoked"))?;
    Ok((device, push))
}

/// Stores the signature or unlock; the push's rules refusing it (a role that
/// may not, which `require` stopped already) is the server's own failure.
async fn write(
    state: &AppState,
    push: PushTransaction,
    device: &Device,
    session: &ConsoleSession,
    participant_id: Uuid,
    payload: &Payload,
) -> Result<(), ApiError> {
    match store_console_event(
        state,
        push,
        device,
        participant_id,
        session.account.id,
        payload,
    )
    .await?
    {
        None => Ok(()),
        Some(rejection) => Err(ApiError::Internal(anyhow::anyhow!(
            "the console's {} event was refused: {}",
            payload.kind(),
            rejection.message
        ))),
    }
}

/// The site of the participant, or 404.
async fn participant_site(state: &AppState, participant_id: Uuid) -> Result<String, ApiError> {
    state
        .store
        .participant_site(participant_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "there is no participant {participant_id}: pick one from the site's list"
            ))
        })
}

/// The participant folded from every record of theirs the server accepted, with
/// those records.
async fn folded(
    state: &AppState,
    site: &str,
    participant_id: Uuid,
) -> Result<(Participant, Vec<Event>), ApiError> {
    let cut = state.store.export_cut().await?;
    let events: Vec<Event> = state
        .store
        .export_log(site, participant_id, cut)
        .await?
        .events
        .into_iter()
        .filter(|logged| logged.refusal.is_none())
        .map(|logged| logged.event)
        .collect();
    let calendar = site_calendar(state, site).await?;
    Ok((
        Participant::fold(participant_id, &events, &calendar),
        events,
    ))
}

/// The casebook as the console reviews it, everyone named.
async fn review(
    state: &AppState,
    site: &str,
    participant_id: Uuid,
) -> Result<CasebookReview, ApiError> {
    let (participant, events) = folded(state, site, participant_id).await?;
    let people: BTreeMap<Uuid, String> = state
        .store
        .export_people(site)
        .await?
        .into_iter()
        .map(|person| (person.id, person.name))
        .collect();
    let tablets: BTreeMap<Uuid, String> = state
        .store
        .site_tablets(site)
        .await?
        .into_iter()
        .map(|tablet| (tablet.id, tablet.label))
        .collect();
    let name = |names: &BTreeMap<Uuid, String>, id: Uuid| {
        names.get(&id).cloned().unwrap_or_else(|| id.to_string())
    };
    Ok(CasebookReview::of(
        site,
        &participant,
        &events,
        |user| name(&people, user),
        |device| name(&tablets, device),
    ))
}

/// What the audit trail says of a casebook action: ids, never a value.
fn describe(participant_id: Uuid, site: &str) -> String {
    format!("casebook of participant {participant_id} at site {site}")
}
