//! The sync API under `/api`: JSON in and out, in the shapes of `trial::wire`.
//!
//! | endpoint | auth | body → answer |
//! |---|---|---|
//! | `GET /api/health` | none | → `{status, version, api_version, server_time_ms}` |
//! | `POST /api/enrol` | enrolment code in the body | `EnrolRequest` → `EnrolResponse` |
//! | `POST /api/push` | device token | `PushRequest` → `PushResponse` |
//! | `GET /api/pull?after=&limit=` | device token | → `PullResponse` |
//! | `POST /api/leases` | device token | `LeaseRequest` (`{}`) → `LeaseResponse` |
//! | `GET /api/users` | device token | → `UsersResponse` |
//!
//! Errors answer as `ApiErrorBody` (see `error`).

mod enrol;
mod leases;
mod pull;
mod push;
mod users;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::Json;
use axum::routing::{get, post};
use serde::Serialize;

use crate::AppState;
use crate::error::ApiError;

/// The largest request body accepted. A full push of 500 events with the largest
/// forms is well under 1 MiB; the limit is there to stop a runaway client.
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// The API's routes, to be nested under `/api`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/enrol", post(enrol::enrol))
        .route("/push", post(push::push))
        .route("/pull", get(pull::pull))
        .route("/leases", post(leases::leases))
        .route("/users", get(users::users))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The answer of `GET /api/health`: lets a tablet tell "server reachable" from
/// "network up", shows which build is running, and gives the server's clock.
#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    api_version: u32,
    server_time_ms: i64,
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: state.version,
        api_version: trial::wire::API_VERSION,
        server_time_ms: state.clock.now_ms(),
    })
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such API endpoint".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
