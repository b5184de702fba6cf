//! The console's requests to `/api/console/…`. The session cookie goes with each
//! by itself (same origin, `Path=/api/console`); a failure keeps what the page
//! needs to say why in the user's language: the code, the field, the wait.

use gloo_net::http::{Request, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use trial::audit::{AllocationAuditResponse, FlagResolution, ResolveFlagRequest};
use trial::casebook::{CasebookReview, CasebooksResponse, SignRequest, UnlockRequest};
use trial::console::{
    AuditResponse, ConsoleRole, InvitationRequest, InvitationResponse, NewEnrolmentCode, NewPin,
    NewSiteUser, SessionResponse, SetupRequest, SignInRequest, SignedOut, SiteRef, SiteTablet,
    SiteUser, SiteUserRef, SitesResponse, TabletRef,
};
use trial::query::{DataQuery, NewQueryComment, QueriesResponse, QueryResolution, QueryStatus};
use trial::wire::{ApiErrorBody, ErrorCode};

/// Why a request did not succeed.
#[derive(Clone, Debug)]
pub enum Failure {
    /// No answer: no network, or the server is down.
    Offline,
    /// The server answered with an error.
    Refused {
        /// Its code (`Other` when the body was not an error body).
        code: ErrorCode,
        /// The first field its problems name, if any.
        field: Option<String>,
        /// `Retry-After`, in seconds, when it asks to wait.
        retry_after_s: Option<u64>,
        /// Its message, for an unforeseen failure's detail.
        message: String,
    },
}

/// Who is signed in (401 when no one).
pub async fn session() -> Result<SessionResponse, Failure> {
    send(Request::get("/api/console/session")).await
}

/// Signs in.
pub async fn sign_in(request: &SignInRequest) -> Result<SessionResponse, Failure> {
    post("/api/console/sign-in", request).await
}

/// Sets up an account from a one-time link, and signs it in.
pub async fn set_up(request: &SetupRequest) -> Result<SessionResponse, Failure> {
    post("/api/console/setup", request).await
}

/// Ends the session.
pub async fn sign_out() -> Result<SignedOut, Failure> {
    send(Request::post("/api/console/sign-out")).await
}

/// A one-time link for a new account of `role`.
pub async fn invite(role: ConsoleRole) -> Result<InvitationResponse, Failure> {
    post("/api/console/invitations", &InvitationRequest { role }).await
}

/// The console's audit trail, newest first.
pub async fn audit() -> Result<AuditResponse, Failure> {
    send(Request::get("/api/console/audit")).await
}

/// Every site's CONSORT flow, as the export counts it.
pub async fn dashboard() -> Result<trial::console::DashboardResponse, Failure> {
    send(Request::get("/api/console/dashboard")).await
}

/// Every site with its users and tablets.
pub async fn sites() -> Result<SitesResponse, Failure> {
    send(Request::get("/api/console/sites")).await
}

/// Creates a user of a site's tablets; the answer holds their first PIN.
pub async fn add_user(request: &NewSiteUser) -> Result<NewPin, Failure> {
    post("/api/console/users", request).await
}

/// A new PIN for a user.
pub async fn reset_pin(request: &SiteUserRef) -> Result<NewPin, Failure> {
    post("/api/console/users/pin", request).await
}

/// Disables a user.
pub async fn disable_user(request: &SiteUserRef) -> Result<SiteUser, Failure> {
    post("/api/console/users/disable", request).await
}

/// A one-time enrolment code for a new tablet of a site.
pub async fn enrolment_code(request: &SiteRef) -> Result<NewEnrolmentCode, Failure> {
    post("/api/console/enrolment-codes", request).await
}

/// Revokes a tablet.
pub async fn revoke(request: &TabletRef) -> Result<SiteTablet, Failure> {
    post("/api/console/devices/revoke", request).await
}

/// Every site's data queries with `status`, oldest first.
pub async fn queries(status: QueryStatus) -> Result<QueriesResponse, Failure> {
    let status = match status {
        QueryStatus::Open => "open",
        QueryStatus::Closed => "closed",
        QueryStatus::All => "all",
    };
    send(Request::get(&format!(
        "/api/console/queries?status={status}"
    )))
    .await
}

/// Adds a comment to a query's thread.
pub async fn comment(request: &NewQueryComment) -> Result<DataQuery, Failure> {
    post("/api/console/queries/comment", request).await
}

/// Resolves a query with a correction.
pub async fn resolve(request: &QueryResolution) -> Result<DataQuery, Failure> {
    post("/api/console/queries/resolve", request).await
}

/// The sites to export, and the exports made, newest first.
pub async fn exports() -> Result<trial::console::ExportsResponse, Failure> {
    send(Request::get("/api/console/exports")).await
}

/// Where a site's export in `format` downloads from, as a zip: a link, not a
/// request of this page's, so the browser saves it as the server names it.
pub fn export_download_path(site: &str, format: trial::export::Format) -> String {
    let site = js_sys::encode_uri_component(site);
    format!("/api/console/exports/download?site={site}&format={format}")
}

/// A site's allocation audit: its randomisations, flags and lease stock.
pub async fn allocation_audit(site: &str) -> Result<AllocationAuditResponse, Failure> {
    let site = js_sys::encode_uri_component(site);
    send(Request::get(&format!(
        "/api/console/allocation-audit?site={site}"
    )))
    .await
}

/// Resolves an allocation flag with a note.
pub async fn resolve_flag(request: &ResolveFlagRequest) -> Result<FlagResolution, Failure> {
    post("/api/console/allocation-flags/resolve", request).await
}

/// Stores one page of a tablet's backup (the coordinator's).
pub async fn import_backup(
    events: Vec<trial::event::Event>,
) -> Result<trial::backup::ImportedPage, Failure> {
    post(
        "/api/console/backups/import",
        &trial::wire::PushRequest { events },
    )
    .await
}

/// A site's participants with where each casebook stands.
pub async fn casebooks(site: &str) -> Result<CasebooksResponse, Failure> {
    let site = js_sys::encode_uri_component(site);
    send(Request::get(&format!("/api/console/casebooks?site={site}"))).await
}

/// One participant's whole casebook.
pub async fn casebook(participant: uuid::Uuid) -> Result<CasebookReview, Failure> {
    send(Request::get(&format!(
        "/api/console/casebook?participant={participant}"
    )))
    .await
}

/// Signs a casebook as the investigator.
pub async fn sign_casebook(request: &SignRequest) -> Result<CasebookReview, Failure> {
    post("/api/console/casebooks/sign", request).await
}

/// Unlocks a signed casebook, with a reason.
pub async fn unlock_casebook(request: &UnlockRequest) -> Result<CasebookReview, Failure> {
    post("/api/console/casebooks/unlock", request).await
}

async fn post<T: DeserializeOwned>(path: &str, body: &impl Serialize) -> Result<T, Failure> {
    let request = Request::post(path)
        .json(body)
        .map_err(|error| Failure::Refused {
            code: ErrorCode::Other,
            field: None,
            retry_after_s: None,
            message: error.to_string(),
        })?;
    answer(request.send().await).await
}

async fn send<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, Failure> {
    answer(request.send().await).await
}

async fn answer<T: DeserializeOwned>(
    response: Result<gloo_net::http::Response, gloo_net::Error>,
) -> Result<T, Failure> {
    let response = response.map_err(|_| Failure::Offline)?;
    let status = response.status();
    if response.ok() {
        return response.json().await.map_err(|error| Failure::Refused {
            code: ErrorCode::Other,
            field: None,
            retry_after_s: None,
            message: error.to_string(),
        });
    }
    if matches!(status, 502..=504) {
        return Err(Failure::Offline);
    }
    let retry_after_s = response
        .headers()
        .get("Retry-After")
        .and_then(|value| value.parse().ok());
    let body: Option<ApiErrorBody> = response.json().await.ok();
    Err(match body {
        Some(body) => Failure::Refused {
            code: body.error,
            field: body.problems.first().map(|problem| problem.field.clone()),
            retry_after_s,
            message: body.message,
        },
        None => Failure::Refused {
            code: ErrorCode::Other,
            field: None,
            retry_after_s,
            message: format!("HTTP {status}"),
        },
    })
}
