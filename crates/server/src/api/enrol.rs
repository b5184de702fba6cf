//! `POST /api/enrol`: a new tablet presents a one-time enrolment code and its
//! public key, and gets its token, label, site, the site's users and its first
//! lease, sealed to that key.
//!
//! Codes are eight characters from a 31-letter alphabet, so guessing one takes
//! about 10^12 tries; the rate limit keeps anyone on the ward network far from
//! that: [`ENROLMENT_ATTEMPTS`] failed attempts per client address per
//! [`ENROLMENT_WINDOW_MS`], then 429 with `Retry-After` until the oldest leaves
//! the window. A failed attempt is one whose code the store refused (unknown,
//! expired, used, or valid for a device already enrolled, which tells that the
//! code was right): a malformed request tests no code and does not count. The
//! attempts live in the database (`store::attempts`, which says why). Every
//! refusal is logged at warn with the client's address and why, never with what
//! was typed.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Json;
use trial::event::MAX_APP_VERSION_CHARS;
use trial::wire::{EnrolRequest, EnrolResponse, EnrolmentCode};
use uuid::Uuid;

use super::openapi::{JsonBodyErrors, ServerFailure};
use crate::AppState;
use crate::error::{ApiError, ApiJson};
use crate::leases::FreshLease;
use crate::seal::{Sealing, TabletKey};
use crate::secrets;
use crate::store::{Admission, AttemptId, EnrolOutcome, NewEnrolment};

/// How many failed enrolment attempts one client address may make per
/// [`ENROLMENT_WINDOW_MS`]: enough for a coordinator's typos on a few tablets.
pub const ENROLMENT_ATTEMPTS: usize = 10;

/// The window the attempts are counted in: 15 minutes.
pub const ENROLMENT_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Where a request came from, as the rate limit counts it: the peer address
/// `serve` puts on every request it accepts (axum's `ConnectInfo`).
///
/// IPv6 clients count per /64, the block one network is given, since a client
/// can pick any address within it. A request with no peer address comes from
/// inside the process (the tests drive the router without a socket, and may set
/// `ConnectInfo` themselves); such requests share one count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(Self(
            peer.map(|ConnectInfo(address)| address.ip().to_canonical()),
        ))
    }
}

/// The address, or its /64 for IPv6: what attempts are counted under.
impl fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(IpAddr::V4(address)) => write!(f, "{address}"),
            Some(IpAddr::V6(address)) => {
                let prefix = u128::from(address) & !((1_u128 << 64) - 1);
                write!(f, "{}/64", std::net::Ipv6Addr::from(prefix))
            }
            None => f.write_str("in-process"),
        }
    }
}

/// Enrols a tablet: consumes the code, registers the device and issues its first
/// lease in one transaction. A used, expired or unknown code, or a device id
/// already enrolled, changes nothing but the count of the client's failed
/// attempts. Everything random is drawn before, so nothing can fail once the
/// code is spent.
#[utoipa::path(
    post,
    path = "/enrol",
    tag = "sync",
    request_body(content = EnrolRequest, content_type = "application/json"),
    responses(
        (
            status = 200,
            description = "Enrolled: the device token (shown this once), the tablet's label, site \
                and users, and its first lease.",
            body = EnrolResponse,
        ),
        JsonBodyErrors,
        (
            status = 401,
            description = "The enrolment code is not known, or has expired (`unauthenticated`). \
                Counts as a failed attempt.",
            body = trial::wire::ApiErrorBody,
        ),
        (
            status = 409,
            description = "The code was already used, or a tablet with this device id is already \
                enrolled (`conflict`). Counts as a failed attempt.",
            body = trial::wire::ApiErrorBody,
        ),
        (
            status = 429,
            description = "Too many failed attempts from this address (`too_many_requests`): 10 \
                per 15 minutes.",
            body = trial::wire::ApiErrorBody,
            headers((
                "Retry-After" = u64,
                description = "Seconds until an attempt from this address is let through again."
            )),
        ),
        ServerFailure,
    ),
)]
pub async fn enrol(
    State(state): State<AppState>,
    client: ClientAddress,
    request: Result<ApiJson<EnrolRequest>, ApiError>,
) -> Result<Json<EnrolResponse>, ApiError> {
    let refused = |reason: &str, error: ApiError| {
        tracing::warn!(%client, reason, "enrolment refused");
        error
    };
    let ApiJson(request) = request.map_err(|error| refused("the request is malformed", error))?;
    let code = EnrolmentCode::parse(&request.code)
        .map_err(|error| refused("not an enrolment code", ApiError::invalid("code", error)))?;
    check_request(&request).map_err(|error| refused("the request is invalid", error))?;
    let tablet_key = TabletKey::parse(&request.public_key)
        .map_err(|error| refused("not a public key", ApiError::invalid("public_key", error)))?;
    let device_token = secrets::new_device_token()?;
    let (first_lease, sealing) = (FreshLease::draw()?, Sealing::draw()?);
    let now_ms = state.clock.now_ms();
    let admission = state
        .store
        .admit_enrolment_attempt(
            &client.to_string(),
            ENROLMENT_ATTEMPTS,
            ENROLMENT_WINDOW_MS,
            now_ms,
        )
        .await?;
    let attempt = match admission {
        Admission::Admitted(attempt) => attempt,
        Admission::Refused { retry_after_ms } => {
            let retry_after_s = u64::try_from(retry_after_ms).map_or(1, |ms| ms.div_ceil(1000));
            return Err(refused(
                "too many failed attempts from this address",
                ApiError::TooManyRequests { retry_after_s },
            ));
        }
    };
    let enrolled = state
        .store
        .enrol(&NewEnrolment {
            code_hash: &secrets::sha256_hex(code.as_str()),
            device_id: request.device_id,
            app_version: &request.app_version,
            token_hash: &secrets::sha256_hex(&device_token),
            public_key: &tablet_key.to_hex(),
            first_lease: &first_lease,
            now_ms,
        })
        .await;
    let outcome = match enrolled {
        Ok(outcome) => outcome,
        Err(error) => {
            forget(&state, attempt).await;
            return Err(error.into());
        }
    };
    let EnrolOutcome::Enrolled(enrolment) = outcome else {
        return Err(refused(reason(&outcome), refusal(&outcome)));
    };
    forget(&state, attempt).await;
    tracing::info!(device_id = %request.device_id, label = %enrolment.label, site = %enrolment.site.code, lease_id = %first_lease.id, "tablet enrolled");
    Ok(Json(EnrolResponse {
        device_id: request.device_id,
        device_token,
        device_label: enrolment.label,
        site: enrolment.site,
        users: enrolment.users,
        lease: sealing.seal_lease(&enrolment.lease, &tablet_key),
        server_time_ms: now_ms,
    }))
}

/// Forgets an attempt that did not fail. Not forgetting it costs the client one
/// counted attempt, not the tablet its enrolment: logged, not answered.
async fn forget(state: &AppState, attempt: AttemptId) {
    if let Err(error) = state.store.forget_enrolment_attempt(attempt).await {
        tracing::error!(
            error = format!("{error:#}"),
            "enrolment attempt not forgotten"
        );
    }
}

fn check_request(request: &EnrolRequest) -> Result<(), ApiError> {
    if request.device_id.get_version_num() != 7 || request.device_id == Uuid::nil() {
        return Err(ApiError::invalid(
            "device_id",
            "a tablet names itself with a UUID version 7",
        ));
    }
    let length = request.app_version.chars().count();
    if length == 0 || length > MAX_APP_VERSION_CHARS {
        return Err(ApiError::invalid(
            "app_version",
            format!("1 to {MAX_APP_VERSION_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Why the store refused, for the log: the outcome, never the code.
fn reason(outcome: &EnrolOutcome) -> &'static str {
    match outcome {
        EnrolOutcome::UnknownCode => "unknown code",
        EnrolOutcome::CodeExpired => "expired code",
        EnrolOutcome::CodeUsed => "used code",
        EnrolOutcome::DeviceAlreadyEnrolled | EnrolOutcome::Enrolled(_) => {
            "device already enrolled"
        }
    }
}

fn refusal(outcome: &EnrolOutcome) -> ApiError {
    let ask = "ask the coordinator for a new code";
    match outcome {
        EnrolOutcome::UnknownCode => ApiError::Unauthenticated(format!(
            "this enrolment code is not known: check it, or {ask}"
        )),
        EnrolOutcome::CodeExpired => {
            ApiError::Unauthenticated(format!("this enrolment code has expired: {ask}"))
        }
        EnrolOutcome::CodeUsed => ApiError::Conflict(format!(
            "this enrolment code has already been used; each code enrols one tablet: {ask}"
        )),
        EnrolOutcome::DeviceAlreadyEnrolled | EnrolOutcome::Enrolled(_) => ApiError::Conflict(
            "a tablet with this device id is already enrolled; the code was not used".to_owned(),
        ),
    }
}
