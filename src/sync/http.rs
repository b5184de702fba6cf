//! Requests to the sync API, and what can go wrong with them, sorted by what the
//! tablet should do about it: wait for the network, wait and retry, or tell a
//! person.

use std::fmt;

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use trial::wire::{ApiErrorBody, ErrorCode};

use crate::crypto::CryptoError;
use crate::store::StoreError;

/// Why a sync step did not complete. Nothing the tablet stored is lost by any of
/// them; the next run starts again where this one stopped.
#[derive(Clone, Debug)]
pub enum SyncError {
    /// Occurs when the server cannot be reached: no network, or the server is
    /// down. Normal on the ward, not an error.
    Offline,
    /// Occurs when the server no longer knows this tablet's token (revoked), or
    /// refuses the enrolment code.
    Unauthenticated(String),
    /// Occurs when the server refuses the request as wrong (a used code, a bad
    /// request); its code and message say why.
    Refused(ErrorCode, String),
    /// Occurs when the server fails or answers something this app cannot read;
    /// worth retrying later.
    Unexpected(String),
    /// Occurs when enrolment is asked of a tablet already enrolled.
    AlreadyEnrolled,
    /// Occurs when the tablet's storage fails.
    Store(StoreError),
    /// Occurs when the tablet's keys cannot be made or used.
    Crypto(CryptoError),
}

impl SyncError {
    /// Whether the tablet should retry on its own (with backoff).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Offline | Self::Unexpected(_))
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Offline => f.write_str("the server cannot be reached"),
            Self::Unauthenticated(message) | Self::Refused(_, message) => f.write_str(message),
            Self::Unexpected(message) => write!(f, "unexpected answer: {message}"),
            Self::AlreadyEnrolled => f.write_str("this tablet is already enrolled"),
            Self::Store(error) => error.fmt(f),
            Self::Crypto(error) => error.fmt(f),
        }
    }
}

impl From<StoreError> for SyncError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<CryptoError> for SyncError {
    fn from(error: CryptoError) -> Self {
        Self::Crypto(error)
    }
}

/// `POST path` with `body` as JSON, authenticated with `token` when given.
pub async fn post<T: DeserializeOwned>(
    path: &str,
    token: Option<&str>,
    body: &impl Serialize,
) -> Result<T, SyncError> {
    let request = authorised(Request::post(path), token)
        .json(body)
        .map_err(|error| SyncError::Unexpected(error.to_string()))?;
    answer(request.send().await).await
}

/// `GET path`, authenticated with `token` when given.
pub async fn get<T: DeserializeOwned>(path: &str, token: Option<&str>) -> Result<T, SyncError> {
    answer(authorised(Request::get(path), token).send().await).await
}

/// How long a request may go unanswered before the tablet gives up on it and
/// counts itself offline: a connection that hangs (a captive portal, a half-open
/// socket) must not hold up every later sync.
const REQUEST_TIMEOUT_MS: u32 = 60_000;

fn authorised(request: RequestBuilder, token: Option<&str>) -> RequestBuilder {
    let request = request.abort_signal(Some(&web_sys::AbortSignal::timeout_with_u32(
        REQUEST_TIMEOUT_MS,
    )));
    match token {
        Some(token) => request.header("Authorization", &format!("Bearer {token}")),
        None => request,
    }
}

/// Reads a success as `T` and anything else as the error it is.
async fn answer<T: DeserializeOwned>(
    response: Result<Response, gloo_net::Error>,
) -> Result<T, SyncError> {
    // `fetch` rejects only when no answer came at all: no network, or nobody
    // listening. A proxy's 502/503/504 means the same to the tablet.
    let response = response.map_err(|_| SyncError::Offline)?;
    if response.ok() {
        return response
            .json()
            .await
            .map_err(|error| SyncError::Unexpected(error.to_string()));
    }
    let status = response.status();
    if matches!(status, 502..=504) {
        return Err(SyncError::Offline);
    }
    let body: Option<ApiErrorBody> = response.json().await.ok();
    let message = body
        .as_ref()
        .map_or_else(|| format!("HTTP {status}"), |body| body.message.clone());
    Err(match body.map(|body| body.error) {
        Some(ErrorCode::Unauthenticated) => SyncError::Unauthenticated(message),
        Some(ErrorCode::Internal) | None => SyncError::Unexpected(message),
        Some(code) => SyncError::Refused(code, message),
    })
}
