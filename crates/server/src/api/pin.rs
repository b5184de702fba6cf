//! `POST /api/pin`: a user with a PIN shorter than a new PIN may be replaces it
//! at sign-in. The old PIN proves who asks (an attacker holding the tablet has
//! the hashes anyway, so this check gives nothing away that the tablet does
//! not); the new one is checked by the core's rule and hashed here, and reaches
//! every tablet of the site at its next sync. Neither PIN is logged.

use axum::extract::State;
use axum::response::Json;
use trial::pin::Pin;
use trial::wire::{PinChangeRequest, PinChangeResponse};

use super::openapi::{JsonBodyErrors, ServerFailure, TokenRefused};
use crate::AppState;
use crate::auth::AuthenticatedDevice;
use crate::error::{ApiError, ApiJson};
use crate::secrets;
use crate::store::UserOutcome;

/// Replaces a bedside user's PIN, given the one they signed in with.
#[utoipa::path(
    post,
    path = "/pin",
    tag = "sync",
    request_body(content = PinChangeRequest, content_type = "application/json"),
    responses(
        (
            status = 200,
            description = "The PIN is changed; the new hash, for the tablet to keep at once.",
            body = PinChangeResponse,
        ),
        JsonBodyErrors,
        TokenRefused,
        ServerFailure,
    ),
    security(("device_token" = [])),
)]
pub async fn change_pin(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ApiJson(request): ApiJson<PinChangeRequest>,
) -> Result<Json<PinChangeResponse>, ApiError> {
    let users = state.store.users(&device.site_code).await?;
    let user = users
        .iter()
        .find(|user| user.id == request.user_id)
        .ok_or_else(|| {
            ApiError::invalid("user_id", "not a user who signs in on this site's tablets")
        })?;
    let old = Pin::parse(&request.old_pin).map_err(|error| ApiError::invalid("old_pin", error))?;
    if !user.pin.verify(&old) {
        return Err(ApiError::invalid("old_pin", "not this user's PIN"));
    }
    let new =
        Pin::parse_new(&request.new_pin).map_err(|error| ApiError::invalid("new_pin", error))?;
    let hash = secrets::hash_pin(&new)?;
    match state
        .store
        .set_pin(&device.site_code, &user.name, &hash)
        .await?
    {
        UserOutcome::Done => {}
        _ => {
            return Err(ApiError::invalid(
                "user_id",
                "the user is gone from the site",
            ));
        }
    }
    tracing::info!(tablet = device.label, user_id = %user.id, "PIN changed at sign-in");
    Ok(Json(PinChangeResponse {
        pin: hash,
        server_time_ms: state.clock.now_ms(),
    }))
}
