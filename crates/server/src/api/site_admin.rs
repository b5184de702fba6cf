//! `/api/console/…` for the site's people and tablets (issue 13 item 6): the
//! coordinator creates the tablets' users (with a first PIN the server makes and
//! shows once), resets a PIN, disables a user, makes enrolment codes and
//! revokes tablets. Each change reaches the tablets at their next sync (`GET
//! /api/users`), each is an audit entry, and only a role that may
//! `ManageSite` gets past the first line of a handler.

use axum::extract::State;
use axum::response::Json;
use trial::console::{
    ConsoleAction, ConsoleEvent, DashboardResponse, NewEnrolmentCode, NewPin, NewSiteUser,
    SiteDashboard, SiteRef, SiteTablet, SiteUser, SiteUserRef, SitesResponse, TabletRef,
};
use trial::pin::Pin;
use uuid::Uuid;

use super::console::blocking;
use super::openapi::{JsonBodyErrors, ServerFailure, SessionRefused};
use crate::AppState;
use crate::admin;
use crate::console::ConsoleSession;
use crate::error::{ApiError, ApiJson};
use crate::secrets;
use crate::store::{NewUser, UserOutcome};

/// Every site with its users and tablets.
#[utoipa::path(
    get,
    path = "/console/sites",
    tag = "console",
    responses(
        (status = 200, description = "Every site, its users (no PIN hash) and its tablets.", body = SitesResponse),
        SessionRefused,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn sites(
    State(state): State<AppState>,
    session: ConsoleSession,
) -> Result<Json<SitesResponse>, ApiError> {
    session.require(ConsoleAction::ManageSite)?;
    Ok(Json(SitesResponse {
        sites: state.store.sites_overview().await?,
    }))
}

/// Each site's CONSORT flow, as the CSV export would count it now.
#[utoipa::path(
    get,
    path = "/console/dashboard",
    tag = "console",
    responses(
        (status = 200, description = "Every site's CONSORT rows, as `consort.csv` has them, its arm balance per stratum and its cytokine samples overdue.", body = DashboardResponse),
        SessionRefused,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn dashboard(
    State(state): State<AppState>,
    session: ConsoleSession,
) -> Result<Json<DashboardResponse>, ApiError> {
    session.require(ConsoleAction::ReadDashboard)?;
    let counted_at_ms = state.clock.now_ms();
    let clock = crate::Clock::fixed(counted_at_ms);
    let mut sites = Vec::new();
    for site in state.store.sites_overview().await? {
        let dashboard = crate::export::dashboard(&state.store, &site.code, &clock).await?;
        sites.push(SiteDashboard {
            code: site.code,
            name: site.name,
            consort: dashboard.consort.rows(),
            balance: dashboard.balance,
            overdue_samples: dashboard.overdue_samples,
            enrolment: dashboard.enrolment,
        });
    }
    Ok(Json(DashboardResponse {
        sites,
        counted_at_ms,
    }))
}

/// Creates a user of a site's tablets with a new six-digit PIN, shown once.
#[utoipa::path(
    post,
    path = "/console/users",
    tag = "console",
    request_body(content = NewSiteUser, content_type = "application/json"),
    responses(
        (status = 200, description = "The user, and their first PIN: shown only now.", body = NewPin),
        (status = 404, description = "No such site (`not_found`).", body = trial::wire::ApiErrorBody),
        (status = 409, description = "The site already has a user of this name (`conflict`).", body = trial::wire::ApiErrorBody),
        SessionRefused,
        JsonBodyErrors,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn add_user(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiJson(request): ApiJson<NewSiteUser>,
) -> Result<Json<NewPin>, ApiError> {
    session.require(ConsoleAction::ManageSite)?;
    admin::check_name("name", &request.name).map_err(|error| ApiError::invalid("name", error))?;
    if !request.role.at_bedside() {
        return Err(ApiError::invalid(
            "role",
            "investigator or research_nurse: only they sign in on tablets",
        ));
    }
    let (pin, hash) = new_pin().await?;
    let user = NewUser {
        id: Uuid::now_v7(),
        name: request.name.trim().to_owned(),
        role: request.role,
        pin: hash,
    };
    let outcome = state
        .store
        .add_user(&request.site, &user, state.clock.now_ms())
        .await?;
    refused(outcome, &request.site, &user.name)?;
    session
        .audit(
            &state,
            ConsoleEvent::UserCreated,
            &format!("{} {:?} at site {}", user.role, user.name, request.site),
        )
        .await?;
    Ok(Json(NewPin {
        user: SiteUser {
            id: user.id,
            name: user.name,
            role: user.role,
            disabled_at_ms: None,
        },
        pin,
    }))
}

/// Gives a user a new six-digit PIN, shown once; tablets take it at their next
/// sync.
#[utoipa::path(
    post,
    path = "/console/users/pin",
    tag = "console",
    request_body(content = SiteUserRef, content_type = "application/json"),
    responses(
        (status = 200, description = "The new PIN: shown only now.", body = NewPin),
        (status = 404, description = "No such site or user (`not_found`).", body = trial::wire::ApiErrorBody),
        SessionRefused,
        JsonBodyErrors,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn reset_pin(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiJson(request): ApiJson<SiteUserRef>,
) -> Result<Json<NewPin>, ApiError> {
    session.require(ConsoleAction::ManageSite)?;
    let user = site_user(&state, &request).await?;
    let (pin, hash) = new_pin().await?;
    let outcome = state
        .store
        .set_pin(&request.site, &user.name, &hash)
        .await?;
    refused(outcome, &request.site, &user.name)?;
    session
        .audit(
            &state,
            ConsoleEvent::PinReset,
            &format!("{:?} at site {}", user.name, request.site),
        )
        .await?;
    Ok(Json(NewPin { user, pin }))
}

/// Disables a user: tablets drop them at their next sync, and what they record
/// from now on is refused as data.
#[utoipa::path(
    post,
    path = "/console/users/disable",
    tag = "console",
    request_body(content = SiteUserRef, content_type = "application/json"),
    responses(
        (status = 200, description = "The user, disabled.", body = SiteUser),
        (status = 404, description = "No such site or user (`not_found`).", body = trial::wire::ApiErrorBody),
        SessionRefused,
        JsonBodyErrors,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn disable_user(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiJson(request): ApiJson<SiteUserRef>,
) -> Result<Json<SiteUser>, ApiError> {
    session.require(ConsoleAction::ManageSite)?;
    let user = site_user(&state, &request).await?;
    let now_ms = state.clock.now_ms();
    let outcome = state
        .store
        .disable_user(&request.site, &user.name, now_ms)
        .await?;
    refused(outcome, &request.site, &user.name)?;
    session
        .audit(
            &state,
            ConsoleEvent::UserDisabled,
            &format!("{:?} at site {}", user.name, request.site),
        )
        .await?;
    let user = site_user(&state, &request).await?;
    Ok(Json(user))
}

/// Makes a one-time enrolment code for a new tablet of a site.
#[utoipa::path(
    post,
    path = "/console/enrolment-codes",
    tag = "console",
    request_body(content = SiteRef, content_type = "application/json"),
    responses(
        (status = 200, description = "The code: one tablet, valid 24 hours, shown only now.", body = NewEnrolmentCode),
        (status = 404, description = "No such site (`not_found`).", body = trial::wire::ApiErrorBody),
        SessionRefused,
        JsonBodyErrors,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn enrolment_code(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiJson(request): ApiJson<SiteRef>,
) -> Result<Json<NewEnrolmentCode>, ApiError> {
    session.require(ConsoleAction::ManageSite)?;
    if state.store.site(&request.site).await?.is_none() {
        return Err(no_such_site(&request.site));
    }
    let code = admin::issue_enrolment_code(&state.store, &request.site, &state.clock).await?;
    session
        .audit(
            &state,
            ConsoleEvent::EnrolmentCodeIssued,
            &format!("site {}", request.site),
        )
        .await?;
    Ok(Json(NewEnrolmentCode {
        code: code.to_string(),
        expires_at_ms: state.clock.now_ms() + admin::ENROLMENT_CODE_TTL_MS,
    }))
}

/// Revokes a tablet: its token stops working at once; its events stay.
#[utoipa::path(
    post,
    path = "/console/devices/revoke",
    tag = "console",
    request_body(content = TabletRef, content_type = "application/json"),
    responses(
        (status = 200, description = "The tablet, revoked.", body = SiteTablet),
        (status = 404, description = "No such enrolled, unrevoked tablet at the site (`not_found`).", body = trial::wire::ApiErrorBody),
        SessionRefused,
        JsonBodyErrors,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn revoke_device(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiJson(request): ApiJson<TabletRef>,
) -> Result<Json<SiteTablet>, ApiError> {
    session.require(ConsoleAction::ManageSite)?;
    let now_ms = state.clock.now_ms();
    if !state
        .store
        .revoke_device(&request.site, &request.label, now_ms)
        .await?
    {
        return Err(ApiError::NotFound(format!(
            "site {} has no enrolled, unrevoked tablet {}",
            request.site, request.label
        )));
    }
    session
        .audit(
            &state,
            ConsoleEvent::DeviceRevoked,
            &format!("tablet {} of site {}", request.label, request.site),
        )
        .await?;
    let tablet = state
        .store
        .sites_overview()
        .await?
        .into_iter()
        .filter(|site| site.code == request.site)
        .flat_map(|site| site.tablets)
        .find(|tablet| tablet.label == request.label)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a revoked tablet is gone")))?;
    Ok(Json(tablet))
}

/// Six random digits and their hash (a million PBKDF2 rounds, off the async
/// threads).
async fn new_pin() -> Result<(String, trial::pin::PinHash), ApiError> {
    let digits = secrets::new_pin_digits()?;
    let pin = Pin::parse_new(&digits).map_err(|error| ApiError::Internal(error.into()))?;
    let hash = blocking(move || secrets::hash_pin(&pin)).await??;
    Ok((digits, hash))
}

/// The user `request` names, as the console shows them.
async fn site_user(state: &AppState, request: &SiteUserRef) -> Result<SiteUser, ApiError> {
    let sites = state.store.sites_overview().await?;
    let site = sites
        .into_iter()
        .find(|site| site.code == request.site)
        .ok_or_else(|| no_such_site(&request.site))?;
    site.users
        .into_iter()
        .find(|user| user.name == request.name.trim())
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "site {} has no user {:?}",
                request.site, request.name
            ))
        })
}

fn no_such_site(site: &str) -> ApiError {
    ApiError::NotFound(format!("there is no site {site:?}"))
}

/// A store's refusal as the answer it is.
fn refused(outcome: UserOutcome, site: &str, name: &str) -> Result<(), ApiError> {
    match outcome {
        UserOutcome::Done => Ok(()),
        UserOutcome::NoSuchSite => Err(no_such_site(site)),
        UserOutcome::NameTaken => Err(ApiError::Conflict(format!(
            "site {site} already has a user {name:?}: choose another name"
        ))),
        UserOutcome::NoSuchUser => Err(ApiError::NotFound(format!(
            "site {site} has no user {name:?}"
        ))),
    }
}
