//! Device authentication: every API endpoint but health and enrolment wants
//! `Authorization: Bearer <device token>`, and answers 401 before reading the
//! body when it is missing, wrong or revoked, so nothing changes.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::AppState;
use crate::error::ApiError;
use crate::secrets;
use crate::store::Device;

/// The device whose token the request carries.
#[derive(Clone, Debug)]
pub struct AuthenticatedDevice(pub Device);

impl FromRequestParts<AppState> for AuthenticatedDevice {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts).ok_or_else(|| {
            ApiError::Unauthenticated(
                "send the device token as `Authorization: Bearer <token>`".to_owned(),
            )
        })?;
        let device = state
            .store
            .device_by_token(&secrets::sha256_hex(token))
            .await?
            .ok_or_else(|| {
                ApiError::Unauthenticated(
                    "this device token is not valid: it is wrong, or the tablet was revoked; \
                     enrol the tablet again"
                        .to_owned(),
                )
            })?;
        tracing::Span::current().record("device_id", tracing::field::display(device.id));
        Ok(Self(device))
    }
}

/// The token of the one `Authorization: Bearer <token>` header. Two headers are
/// none: which of them counts is not for a proxy and the server to disagree on.
fn bearer_token(parts: &Parts) -> Option<&str> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return None;
    };
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
