//! `POST /api/enrol`: a new tablet presents a one-time enrolment code and gets its
//! token, label, site and the site's users.

use axum::extract::State;
use axum::response::Json;
use trial::wire::{EnrolRequest, EnrolResponse, EnrolmentCode};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiJson};
use crate::secrets;
use crate::store::{EnrolOutcome, NewEnrolment};

/// The longest app version string accepted.
const MAX_APP_VERSION_CHARS: usize = 64;

/// Consumes the code and registers the device in one transaction; a used,
/// expired or unknown code, or a device id already enrolled, changes nothing.
pub async fn enrol(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<EnrolRequest>,
) -> Result<Json<EnrolResponse>, ApiError> {
    let code =
        EnrolmentCode::parse(&request.code).map_err(|error| ApiError::invalid("code", error))?;
    check_request(&request)?;
    let device_token = secrets::new_device_token()?;
    let now_ms = state.clock.now_ms();
    let outcome = state
        .store
        .enrol(&NewEnrolment {
            code_hash: &secrets::sha256_hex(code.as_str()),
            device_id: request.device_id,
            app_version: &request.app_version,
            token_hash: &secrets::sha256_hex(&device_token),
            now_ms,
        })
        .await?;
    let EnrolOutcome::Enrolled(enrolment) = outcome else {
        return Err(refusal(&outcome));
    };
    tracing::info!(device_id = %request.device_id, label = %enrolment.label, site = %enrolment.site.code, "tablet enrolled");
    Ok(Json(EnrolResponse {
        device_id: request.device_id,
        device_token,
        device_label: enrolment.label,
        site: enrolment.site,
        users: enrolment.users,
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
