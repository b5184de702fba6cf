//! `POST /api/enrol`: a new tablet presents a one-time enrolment code and its
//! public key, and gets its token, label, site, the site's users and its first
//! lease, sealed to that key.

use axum::extract::State;
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
use crate::store::{EnrolOutcome, NewEnrolment};

/// Consumes the code, registers the device and issues its first lease in one
/// transaction; a used, expired or unknown code, or a device id already enrolled,
/// changes nothing. Everything random is drawn before, so nothing can fail once
/// the code is spent.
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
            description = "The enrolment code is not known, or has expired (`unauthenticated`).",
            body = trial::wire::ApiErrorBody,
        ),
        (
            status = 409,
            description = "The code was already used, or a tablet with this device id is already \
                enrolled (`conflict`).",
            body = trial::wire::ApiErrorBody,
        ),
        ServerFailure,
    ),
)]
pub async fn enrol(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<EnrolRequest>,
) -> Result<Json<EnrolResponse>, ApiError> {
    let code =
        EnrolmentCode::parse(&request.code).map_err(|error| ApiError::invalid("code", error))?;
    check_request(&request)?;
    let tablet_key = TabletKey::parse(&request.public_key)
        .map_err(|error| ApiError::invalid("public_key", error))?;
    let device_token = secrets::new_device_token()?;
    let (first_lease, sealing) = (FreshLease::draw()?, Sealing::draw()?);
    let now_ms = state.clock.now_ms();
    let outcome = state
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
        .await?;
    let EnrolOutcome::Enrolled(enrolment) = outcome else {
        return Err(refusal(&outcome));
    };
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
