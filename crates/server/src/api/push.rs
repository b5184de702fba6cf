//! `POST /api/push`: a device's events, stored once each and checked with the
//! shared rules (see `sync` for the rule itself).

use axum::extract::State;
use axum::response::Json;
use trial::wire::{MAX_PUSH_EVENTS, PushRequest, PushResponse, Rejection, RejectionCode};

use crate::AppState;
use crate::auth::AuthenticatedDevice;
use crate::error::{ApiError, ApiJson};
use crate::sync;

/// Stores what continues the device's chain and answers with the new acknowledged
/// sequence number and every rejection. The whole batch is one transaction that
/// holds the device's chain: a retry racing the original waits, then repeats.
///
/// Refused outright (with the rest of the batch): a broken chain, another device's
/// event, an event more than five minutes in the future. Stored but rejected: an
/// event whose payload does not validate. See `sync` for why.
pub async fn push(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ApiJson(request): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    check_batch_size(&request)?;
    let now_ms = state.clock.now_ms();
    let begun = state.store.begin_push(device.id, now_ms).await?;
    let mut push = begun.ok_or_else(revoked_meanwhile)?;
    let stored = match sync::repeated_seqs(&push.head(), &request.events) {
        Some(seqs) => push.stored(seqs).await?,
        None => Vec::new(),
    };
    let plan = sync::plan_push(push.head(), &stored, request.events, now_ms);
    let outcome = push.commit(&plan.new_events).await?;
    let (acked_seq, rejected) = plan.answer(&outcome);
    log(acked_seq, outcome.stored, &rejected);
    Ok(Json(PushResponse {
        acked_seq,
        rejected,
        server_time_ms: now_ms,
    }))
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
/// something tampered with its log. Ids and codes only, never a payload.
fn log(acked_seq: u64, stored: usize, rejected: &[Rejection]) {
    let refusal = rejected
        .iter()
        .find(|rejection| rejection.code != RejectionCode::InvalidPayload);
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
