//! `POST /api/lockouts`: the PIN lockouts a tablet imposed, reported at sync so
//! the coordinator hears that someone tried PIN after PIN on it. Each report is
//! checked against the core's rule (`PinLockout::problem`) and the site's users,
//! and kept once by its id, so a tablet that sends it again changes nothing.

use axum::extract::State;
use axum::response::Json;
use trial::wire::{LockoutsRequest, LockoutsResponse, MAX_LOCKOUTS};

use super::openapi::{JsonBodyErrors, ServerFailure, TokenRefused};
use crate::AppState;
use crate::auth::AuthenticatedDevice;
use crate::error::{ApiError, ApiJson};

/// Keeps the lockouts the tablet reports, each once.
#[utoipa::path(
    post,
    path = "/lockouts",
    tag = "sync",
    request_body(content = LockoutsRequest, content_type = "application/json"),
    responses(
        (
            status = 200,
            description = "Every lockout reported is kept (those kept before, once); the tablet \
                may forget them.",
            body = LockoutsResponse,
        ),
        JsonBodyErrors,
        TokenRefused,
        ServerFailure,
    ),
    security(("device_token" = [])),
)]
pub async fn lockouts(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ApiJson(request): ApiJson<LockoutsRequest>,
) -> Result<Json<LockoutsResponse>, ApiError> {
    if request.lockouts.len() > MAX_LOCKOUTS {
        return Err(ApiError::invalid(
            "lockouts",
            format!("at most {MAX_LOCKOUTS} lockouts per request"),
        ));
    }
    let now_ms = state.clock.now_ms();
    let users = state.store.users(&device.site_code).await?;
    for (index, lockout) in request.lockouts.iter().enumerate() {
        if let Some((field, why)) = lockout.problem(now_ms) {
            return Err(ApiError::invalid(
                &format!("lockouts[{index}].{field}"),
                why,
            ));
        }
        if !users.iter().any(|user| user.id == lockout.user_id) {
            return Err(ApiError::invalid(
                &format!("lockouts[{index}].user_id"),
                "not a user who signs in on this site's tablets",
            ));
        }
    }
    let stored = state
        .store
        .record_lockouts(device.id, &request.lockouts, now_ms)
        .await?;
    if stored > 0 {
        tracing::warn!(
            tablet = device.label,
            lockouts = stored,
            "a tablet reported PIN lockouts"
        );
    }
    Ok(Json(LockoutsResponse {
        stored,
        server_time_ms: now_ms,
    }))
}
