//! `POST /api/leases`: a tablet's allocation leases, topped up when it runs low,
//! each seed sealed afresh to the tablet's key.

use axum::extract::State;
use axum::response::Json;
use trial::wire::{LeaseRequest, LeaseResponse};

use super::openapi::{JsonBodyErrors, ServerFailure, TokenRefused};
use crate::AppState;
use crate::auth::AuthenticatedDevice;
use crate::error::{ApiError, ApiJson};
use crate::leases::FreshLease;
use crate::seal::{Sealing, TabletKey};
use crate::store::Device;

/// Every lease of the device with a slot the server has not seen used, oldest
/// first, after issuing one when fewer than `LEASE_LOW_WATER` slots are left (see
/// `Store::leases`). Asking again issues nothing more, so a lost answer loses no
/// lease; each answer seals every seed with a new ephemeral key and nonce.
#[utoipa::path(
    post,
    path = "/leases",
    tag = "sync",
    request_body(content = LeaseRequest, content_type = "application/json"),
    responses(
        (
            status = 200,
            description = "Every lease of the tablet with a slot left, oldest first, each seed \
                sealed afresh.",
            body = LeaseResponse,
        ),
        JsonBodyErrors,
        TokenRefused,
        (
            status = 409,
            description = "The tablet was enrolled before the server issued leases and has no key \
                to seal to: enrol it again (`conflict`).",
            body = trial::wire::ApiErrorBody,
        ),
        ServerFailure,
    ),
    security(("device_token" = [])),
)]
pub async fn leases(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ApiJson(LeaseRequest {}): ApiJson<LeaseRequest>,
) -> Result<Json<LeaseResponse>, ApiError> {
    let tablet_key = tablet_key(&device)?;
    let now_ms = state.clock.now_ms();
    let held = state
        .store
        .leases(device.id, &FreshLease::draw()?, now_ms)
        .await?;
    let held = held.ok_or_else(|| {
        ApiError::Unauthenticated("the tablet was revoked during the request".to_owned())
    })?;
    if let Some(lease_id) = held.issued {
        tracing::info!(%lease_id, "lease issued");
    }
    let leases = held
        .leases
        .iter()
        .map(|lease| Ok(Sealing::draw()?.seal_lease(lease, &tablet_key)))
        .collect::<anyhow::Result<_>>()?;
    Ok(Json(LeaseResponse {
        leases,
        server_time_ms: now_ms,
    }))
}

/// The key the device enrolled with; a device enrolled before the server sealed
/// leases has none and must enrol again.
fn tablet_key(device: &Device) -> Result<TabletKey, ApiError> {
    let stored = device.public_key.as_deref().ok_or_else(|| {
        ApiError::Conflict(
            "this tablet was enrolled before the server issued leases: enrol it again".to_owned(),
        )
    })?;
    TabletKey::parse(stored).map_err(|error| {
        anyhow::anyhow!("the stored key of device {} is invalid: {error}", device.id).into()
    })
}
