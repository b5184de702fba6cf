//! `POST /api/status`: what a tablet says of itself at the start of every sync
//! (its clock, its last record, its app's version), kept for the console's
//! devices table. Checked by the core's rule (`StatusReport::problem`) against
//! the chain the server holds; nothing the server decides reads it.

use axum::extract::State;
use axum::response::Json;
use trial::wire::{StatusReport, StatusResponse};

use super::openapi::{JsonBodyErrors, ServerFailure, TokenRefused};
use crate::AppState;
use crate::auth::AuthenticatedDevice;
use crate::error::{ApiError, ApiJson};

/// Keeps the tablet's report in the place of its last one.
#[utoipa::path(
    post,
    path = "/status",
    tag = "sync",
    request_body(content = StatusReport, content_type = "application/json"),
    responses(
        (status = 200, description = "The report is kept.", body = StatusResponse),
        JsonBodyErrors,
        TokenRefused,
        ServerFailure,
    ),
    security(("device_token" = [])),
)]
pub async fn status(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ApiJson(report): ApiJson<StatusReport>,
) -> Result<Json<StatusResponse>, ApiError> {
    let stored_seq = state.store.stored_seq(device.id).await?;
    if let Some((field, why)) = report.problem(stored_seq) {
        return Err(ApiError::invalid(field, why));
    }
    let now_ms = state.clock.now_ms();
    state
        .store
        .record_status(device.id, &report, now_ms)
        .await?;
    Ok(Json(StatusResponse {
        server_time_ms: now_ms,
    }))
}
