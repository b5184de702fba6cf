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
//! | `POST /api/lockouts` | device token | `LockoutsRequest` → `LockoutsResponse` |
//! | `POST /api/status` | device token | `StatusReport` → `StatusResponse` (kept for the devices table) |
//! | `POST /api/pin` | device token | `PinChangeRequest` → `PinChangeResponse` |
//! | `GET /api/openapi.json` | none | → this table in OpenAPI 3.1, with every schema |
//! | `POST /api/console/setup` | one-time link's token in the body | `SetupRequest` → `SessionResponse` + cookie |
//! | `POST /api/console/sign-in` | name and password in the body | `SignInRequest` → `SessionResponse` + cookie |
//! | `GET /api/console/session` | console session cookie | → `SessionResponse` |
//! | `POST /api/console/sign-out` | console session cookie | → `SignedOut`, cookie removed |
//! | `POST /api/console/invitations` | coordinator's session | `InvitationRequest` → `InvitationResponse` |
//! | `GET /api/console/audit` | coordinator's session | → `AuditResponse` |
//! | `GET /api/console/dashboard` | any console session | → `DashboardResponse` (CONSORT rows as exported, overdue samples) |
//! | `GET /api/console/sites` | coordinator's session | → `SitesResponse` (users, tablets) |
//! | `POST /api/console/users` | coordinator's session | `NewSiteUser` → `NewPin` |
//! | `POST /api/console/users/pin` | coordinator's session | `SiteUserRef` → `NewPin` |
//! | `POST /api/console/users/disable` | coordinator's session | `SiteUserRef` → `SiteUser` |
//! | `POST /api/console/enrolment-codes` | coordinator's session | `SiteRef` → `NewEnrolmentCode` |
//! | `POST /api/console/devices/revoke` | coordinator's session | `TabletRef` → `SiteTablet` |
//! | `GET /api/console/exports` | coordinator's or statistician's session | → `ExportsResponse` (the exports written, newest first) |
//! | `GET /api/console/exports/download?site=&format=` | coordinator's or statistician's session; `identification` the coordinator's only | → a zip of the export's files (`application/zip`) |
//! | `GET /api/console/allocation-audit?site=` | coordinator's or investigator's session | → `AllocationAuditResponse` (randomisations, flags, lease stock) |
//! | `POST /api/console/allocation-flags/resolve` | coordinator's session | `ResolveFlagRequest` → `FlagResolution` |
//! | `GET /api/console/queries?status=&site=` | coordinator's or investigator's session | → `QueriesResponse` |
//! | `POST /api/console/queries/comment` | coordinator's or investigator's session | `NewQueryComment` → `DataQuery` |
//! | `POST /api/console/queries/resolve` | coordinator's or investigator's session | `QueryResolution` → `DataQuery` |
//! | `POST /api/backups/import` | device token | `PushRequest` (one page of a backup of the site's tablet) → `ImportedPage` |
//! | `POST /api/console/backups/import` | coordinator's session | `PushRequest` (one page of any tablet's backup) → `ImportedPage` |
//! | `GET /api/console/casebooks?site=` | coordinator's or investigator's session | → `CasebooksResponse` (each participant's casebook status) |
//! | `GET /api/console/casebook?participant=` | coordinator's or investigator's session | → `CasebookReview` (forms, history, records, signature) |
//! | `POST /api/console/casebooks/sign` | investigator's session and password | `SignRequest` → `CasebookReview` |
//! | `POST /api/console/casebooks/unlock` | coordinator's session | `UnlockRequest` → `CasebookReview` |
//!
//! Errors answer as `ApiErrorBody` (see `error`). Enrolment attempts are
//! rate-limited per client address (`enrol`); console sign-ins per account
//! (`console`). The console's request and answer types are `trial::console`'s
//! (the allocation audit's `trial::audit`'s, the casebooks' `trial::casebook`'s).

mod audit;
mod backups;
mod casebooks;
mod console;
mod enrol;
mod exports;
mod leases;
mod lockouts;
mod openapi;
mod pin;
mod pull;
mod push;
mod queries;
mod site_admin;
mod status;
mod users;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::response::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;

pub(crate) use enrol::ClientAddress;

/// The largest request body accepted. A full push of 500 events with the largest
/// forms is well under 1 MiB; the limit is there to stop a runaway client.
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// The API's routes, to be nested under `/api`, and `GET /api/openapi.json`
/// describing them.
pub fn router(state: AppState) -> Router {
    let (router, paths) = routes().split_for_parts();
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(openapi::Description::new(paths)))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Every route with its description: the one list both the router and
/// `/api/openapi.json` are made from, so neither can have a route the other lacks.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(health))
        .routes(routes!(openapi::openapi))
        .routes(routes!(enrol::enrol))
        .routes(routes!(push::push))
        .routes(routes!(pull::pull))
        .routes(routes!(leases::leases))
        .routes(routes!(users::users))
        .routes(routes!(lockouts::lockouts))
        .routes(routes!(status::status))
        .routes(routes!(pin::change_pin))
        .routes(routes!(console::set_up))
        .routes(routes!(console::sign_in))
        .routes(routes!(console::session))
        .routes(routes!(console::sign_out))
        .routes(routes!(console::invite))
        .routes(routes!(console::audit_trail))
        .routes(routes!(site_admin::dashboard))
        .routes(routes!(site_admin::sites))
        .routes(routes!(site_admin::add_user))
        .routes(routes!(site_admin::reset_pin))
        .routes(routes!(site_admin::disable_user))
        .routes(routes!(site_admin::enrolment_code))
        .routes(routes!(site_admin::revoke_device))
        .routes(routes!(exports::list_exports))
        .routes(routes!(exports::download_export))
        .routes(routes!(queries::list_queries))
        .routes(routes!(queries::comment))
        .routes(routes!(queries::resolve))
        .routes(routes!(audit::allocation_audit))
        .routes(routes!(audit::resolve_flag))
        .routes(routes!(backups::import_from_tablet))
        .routes(routes!(backups::import_from_console))
        .routes(routes!(casebooks::list_casebooks))
        .routes(routes!(casebooks::casebook))
        .routes(routes!(casebooks::sign))
        .routes(routes!(casebooks::unlock))
}

/// The answer of `GET /api/health`: lets a tablet tell "server reachable" from
/// "network up", shows which build is running, and gives the server's clock.
#[derive(Debug, Serialize, ToSchema)]
struct Health {
    /// Always `ok`.
    status: &'static str,
    /// The server's build.
    version: &'static str,
    /// The version of the sync API it speaks (`trial::wire::API_VERSION`).
    api_version: u32,
    /// The server's clock, in UTC milliseconds.
    server_time_ms: i64,
}

/// Whether the server is up, which build it is, and its clock. No token needed.
#[utoipa::path(
    get,
    path = "/health",
    tag = "meta",
    responses((status = 200, description = "The server is up.", body = Health)),
)]
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
