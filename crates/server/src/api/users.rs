//! `GET /api/users`: who may sign in on the site's tablets, with their PIN hashes,
//! so a user added or a PIN changed on the server reaches every tablet at its next
//! sync, and a tablet never needs the network to check a PIN. The site comes with
//! them, so the rules of its time zone reach the tablets as well.

use axum::extract::State;
use axum::response::Json;
use trial::wire::UsersResponse;

use super::openapi::{ServerFailure, TokenRefused};
use crate::AppState;
use crate::auth::AuthenticatedDevice;
use crate::error::ApiError;

/// The users of the device's site, as enrolment gave them, the site with its
/// time zone's rules, and its tablets' labels.
#[utoipa::path(
    get,
    path = "/users",
    tag = "sync",
    responses(
        (
            status = 200,
            description = "Everyone who may sign in on the site's tablets, with their PIN hashes, \
                and the site with its time zone's rules.",
            body = UsersResponse,
        ),
        TokenRefused,
        ServerFailure,
    ),
    security(("device_token" = [])),
)]
pub async fn users(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
) -> Result<Json<UsersResponse>, ApiError> {
    let users = state.store.users(&device.site_code).await?;
    let site = state.store.site(&device.site_code).await?;
    let tablets = state.store.site_tablets(&device.site_code).await?;
    let authors = state.store.console_authors(&device.site_code).await?;
    Ok(Json(UsersResponse {
        users,
        site,
        tablets,
        authors,
        server_time_ms: state.clock.now_ms(),
    }))
}
