//! `POST /api/push`: a device's events, stored once each and checked with the
//! shared rules (see `sync` for the rule itself); then the data queries of the
//! screenings and forms they wrote are brought up to date.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::response::Json;
use trial::edits::Subject;
use trial::event::{Event, EventDraft};
use trial::payload::{Payload, SCHEMA_VERSION};
use trial::projection::project;
use trial::time::Calendar;
use trial::wire::{MAX_PUSH_EVENTS, PushRequest, PushResponse, Rejection, RejectionCode};
use uuid::Uuid;

use super::openapi::{JsonBodyErrors, ServerFailure, TokenRefused};
use crate::AppState;
use crate::auth::AuthenticatedDevice;
use crate::calendar;
use crate::error::{ApiError, ApiJson};
use crate::queries::{self, QueryChanges};
use crate::store::{Device, PushTransaction};
use crate::sync::{self, AllocationContext, Origin};

/// Stores what continues the device's chain and answers with the new acknowledged
/// sequence number and every rejection. The whole batch, with the allocations,
/// flags and queries it implies, is one transaction that holds the device's chain:
/// a retry racing the original waits, then repeats.
///
/// Refused outright (with the rest of the batch): a broken chain, another device's
/// event, an event more than five minutes in the future or out of limits. Stored
/// but rejected: an event about another site's participant, by a user who may not
/// have recorded it, or whose payload does not validate, and a randomisation that
/// does not verify. See `sync` for why.
#[utoipa::path(
    post,
    path = "/push",
    tag = "sync",
    request_body(content = PushRequest, content_type = "application/json"),
    responses(
        (
            status = 200,
            description = "The new acknowledged sequence number, and every event of the batch \
                refused (stored as data refused, or not stored with the rest of the \
                batch), with why.",
            body = PushResponse,
        ),
        JsonBodyErrors,
        TokenRefused,
        ServerFailure,
    ),
    security(("device_token" = [])),
)]
pub async fn push(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ApiJson(request): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    check_batch_size(&request)?;
    let now_ms = state.clock.now_ms();
    let begun = state.store.begin_push(device.id, now_ms).await?;
    let push = begun.ok_or_else(revoked_meanwhile)?;
    let (acked_seq, rejected) = store_batch(&state, push, &device, request.events).await?;
    Ok(Json(PushResponse {
        acked_seq,
        rejected,
        server_time_ms: now_ms,
    }))
}

/// Stores a batch that continues the chain `push` holds (a tablet's, or the
/// console's own), with the allocations, flags and queries it implies, checked
/// as `sync` says; commits, and answers with the new acknowledged sequence
/// number and every rejection. The one path every event takes into the log.
pub(crate) async fn store_batch(
    state: &AppState,
    mut push: PushTransaction,
    device: &Device,
    events: Vec<Event>,
) -> Result<(u64, Vec<Rejection>), ApiError> {
    let now_ms = push.now_ms();
    let stored = match sync::repeated_seqs(&push.head(), &events) {
        Some(seqs) => push.stored(seqs).await?,
        None => Vec::new(),
    };
    let mut plan = sync::plan_push(push.head(), &stored, events, now_ms);
    let origin = Origin {
        site_code: device.site_code.clone(),
        participant_sites: push.claim_participants(&plan.participants()).await?,
        members: push.members().await?,
        console_roles: push.console_roles().await?,
    };
    plan.check_origin(&origin);
    if plan.randomises() {
        let context = AllocationContext {
            holdings: push
                .allocation_holdings(&plan.randomised_leases(), &plan.study_numbers())
                .await?,
            participant_logs: push
                .participant_logs(&plan.randomised_participants(&origin))
                .await?,
            calendar: site_calendar(state, &device.site_code).await?,
            site_code: device.site_code.clone(),
            device_label: device.label.clone(),
        };
        plan.verify_allocations(context, &origin);
    }
    let outcome = push.append(&plan.new_events).await?;
    update_queries(&mut push, plan.written_subjects(&outcome)).await?;
    push.commit().await?;
    let (acked_seq, rejected) = plan.answer(&outcome);
    log(acked_seq, outcome.stored, &rejected);
    Ok((acked_seq, rejected))
}

/// Stores one event the console records (`payload` about `participant_id`, by
/// the console account `user_id`, now) on the console device's chain that
/// `push` holds, by [`store_batch`]: a console correction, signature or unlock
/// meets every rule a tablet's event meets. The rejection, when those rules
/// refused it as data.
pub(crate) async fn store_console_event(
    state: &AppState,
    push: PushTransaction,
    device: &Device,
    participant_id: Uuid,
    user_id: Uuid,
    payload: &Payload,
) -> Result<Option<Rejection>, ApiError> {
    let recorded_at = site_calendar(state, &device.site_code)
        .await?
        .moment_at(push.now_ms())
        .ok_or_else(|| anyhow::anyhow!("the server's clock is outside the years a moment holds"))?;
    let event = push
        .head()
        .append(EventDraft {
            id: Uuid::now_v7(),
            participant_id,
            user_id,
            recorded_at,
            kind: payload.kind(),
            payload: payload.to_json(),
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
            schema_version: SCHEMA_VERSION,
        })
        .map_err(|error| anyhow::anyhow!("the console's event does not chain: {error}"))?;
    let (_, mut rejected) = store_batch(state, push, device, vec![event]).await?;
    Ok(rejected.pop())
}

/// Brings the data queries of every subject the stored part of the batch wrote
/// up to date, inside the push's transaction: by applying its events to the
/// subject's stored state when they all come after it (reading nothing else), or
/// by folding that subject's events again when one arrived out of order.
async fn update_queries(
    push: &mut PushTransaction,
    written: BTreeMap<(Uuid, Subject), Vec<Event>>,
) -> Result<(), ApiError> {
    let participants: BTreeSet<Uuid> = written
        .keys()
        .map(|(participant, _)| *participant)
        .collect();
    let open = push.open_queries(&participants).await?;
    let mut stored = push.subject_states(written.keys().copied()).await?;
    let mut states = Vec::new();
    let mut changes = QueryChanges::default();
    for ((participant, subject), events) in written {
        let open: Vec<_> = open
            .iter()
            .filter(|key| key.participant_id == participant && key.subject == subject)
            .copied()
            .collect();
        // A subject with no stored state is new.
        let mut state = stored.remove(&(participant, subject)).unwrap_or_default();
        let found = if events.first().is_some_and(|first| state.folds_after(first)) {
            let typed = events
                .into_iter()
                .map(|event| {
                    let payload =
                        Payload::parse(event.kind(), event.schema_version(), event.payload())
                            .map_err(|error| {
                                anyhow::anyhow!("an accepted event does not parse: {error}")
                            })?;
                    Ok((event, payload))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            queries::apply_in_order(participant, &mut state, &typed, &open)
        } else {
            let log = push.subject_events(participant, subject).await?;
            // Which changes conflict does not depend on dates.
            let folded = project(&log, &Calendar::Device)
                .into_iter()
                .find(|folded| folded.id() == participant)
                .ok_or_else(|| anyhow::anyhow!("participant {participant} has no events"))?;
            state = folded.subject_state(subject).cloned().unwrap_or_default();
            queries::reconcile(&folded, subject, &open)
        };
        changes.opened.extend(found.opened);
        changes.closed.extend(found.closed);
        states.push(((participant, subject), state));
    }
    push.record_queries(&changes).await?;
    push.save_subject_states(&states).await?;
    Ok(())
}

/// The calendar of the device's site, which the eligibility re-check reads dates in.
pub(crate) async fn site_calendar(state: &AppState, site_code: &str) -> Result<Calendar, ApiError> {
    let site = state
        .store
        .site(site_code)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the device's site {site_code} is not stored"))?;
    Ok(calendar::site_calendar(&site.time_zone)?)
}

fn check_batch_size(request: &PushRequest) -> Result<(), ApiError> {
    let count = request.events.len();
    if count > MAX_PUSH_EVENTS {
        let message = format!("at most {MAX_PUSH_EVENTS} events per push; this one has {count}");
        return Err(ApiError::invalid("events", message));
    }
    Ok(())
}

fn revoked_meanwhile() -> ApiError {
    ApiError::Unauthenticated("the tablet was revoked during the push".to_owned())
}

/// One line per push; a refusal is a warning, since it means a tablet is stuck or
/// something tampered with its log, and so is each flagged randomisation. Ids and
/// codes only, never a payload or a flag's message (which names a lease and slot).
fn log(acked_seq: u64, stored: usize, rejected: &[Rejection]) {
    let refusal = rejected.iter().find(|rejection| {
        !matches!(
            rejection.code,
            RejectionCode::InvalidPayload | RejectionCode::AllocationFlagged
        )
    });
    let flagged = rejected
        .iter()
        .filter(|rejection| rejection.code == RejectionCode::AllocationFlagged);
    for flag in flagged {
        tracing::warn!(
            seq = flag.device_seq,
            event_id = %flag.event_id,
            "randomisation flagged for the coordinator"
        );
    }
    match refusal {
        Some(refusal) => tracing::warn!(
            acked_seq,
            stored,
            refused_seq = refusal.device_seq,
            event_id = %refusal.event_id,
            code = %refusal.code,
            "push refused"
        ),
        None => tracing::info!(acked_seq, stored, rejected = rejected.len(), "push"),
    }
}
