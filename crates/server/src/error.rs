//! One error type for every API answer, and the JSON and query extractors that
//! answer bad input in the same shape (`trial::wire::ApiErrorBody`).
//!
//! | error | status |
//! |---|---|
//! | body not JSON, or cut off | 400 `malformed_json` |
//! | well-formed but wrong: unknown field, wrong type, out of range | 422 `invalid_request`, with every problem's field |
//! | no, wrong or revoked token; wrong or expired enrolment code | 401 `unauthenticated` |
//! | unknown thing | 404 `not_found` |
//! | known endpoint, wrong method | 405 `method_not_allowed` |
//! | contradicts what is stored | 409 `conflict` |
//! | body over the limit | 413 `payload_too_large` |
//! | body not declared JSON | 415 `unsupported_media_type` |
//! | signed in to the console, but the role may not do this | 403 `forbidden` |
//! | too many failed enrolment attempts from one address, or wrong passwords for one console account | 429 `too_many_requests`, with `Retry-After` |
//! | anything else | 500 `internal`, no detail; the cause is logged by [`log_internal_errors`] |

use std::fmt;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::Value;
use serde_json::error::Category;
use trial::json::{JsonError, check_unique_keys};
use trial::wire::{ApiErrorBody, ErrorCode, Problem};

/// Why a request failed; becomes a JSON [`ApiErrorBody`].
#[derive(Debug)]
pub enum ApiError {
    /// 400: the body is not JSON.
    MalformedJson(Problem),
    /// 415: the body is not declared as JSON.
    UnsupportedMediaType,
    /// 413: the body is over the limit.
    PayloadTooLarge,
    /// 422: the request is JSON but wrong.
    Invalid(Vec<Problem>),
    /// 401, with what the person should do.
    Unauthenticated(String),
    /// 404.
    NotFound(String),
    /// 405.
    MethodNotAllowed,
    /// 409, with what it contradicts.
    Conflict(String),
    /// 429: too many failed attempts; try again after this many seconds.
    TooManyRequests {
        /// What `Retry-After` says.
        retry_after_s: u64,
    },
    /// 429: too many wrong passwords in a row for one console account.
    SignInDelayed {
        /// What `Retry-After` says.
        retry_after_s: u64,
    },
    /// 403, with what the role may not do.
    Forbidden(String),
    /// 500: the cause is logged, never sent.
    Internal(anyhow::Error),
}

/// The cause of a 500, carried from the handler to [`log_internal_errors`] in the
/// response's extensions.
#[derive(Clone)]
struct InternalCause(Arc<anyhow::Error>);

impl ApiError {
    /// A 422 naming one field.
    pub fn invalid(field: &str, message: impl fmt::Display) -> Self {
        Self::Invalid(vec![Problem {
            field: field.to_owned(),
            message: message.to_string(),
        }])
    }

    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::MalformedJson(_) => (StatusCode::BAD_REQUEST, ErrorCode::MalformedJson),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidRequest),
            Self::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed),
            Self::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            Self::TooManyRequests { .. } | Self::SignInDelayed { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests)
            }
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        Self::Internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error) = self.status_and_code();
        let retry_after_s = match self {
            Self::TooManyRequests { retry_after_s } | Self::SignInDelayed { retry_after_s } => {
                Some(retry_after_s)
            }
            _ => None,
        };
        let (message, problems, cause) = match self {
            Self::MalformedJson(problem) => {
                ("the body is not valid JSON".to_owned(), vec![problem], None)
            }
            Self::UnsupportedMediaType => (
                "send the body as JSON, with Content-Type: application/json".to_owned(),
                Vec::new(),
                None,
            ),
            Self::PayloadTooLarge => (
                format!(
                    "the body is larger than {} MiB",
                    crate::MAX_BODY_BYTES >> 20
                ),
                Vec::new(),
                None,
            ),
            Self::Invalid(problems) => ("the request is not valid".to_owned(), problems, None),
            Self::MethodNotAllowed => (
                "this endpoint does not take this method".to_owned(),
                Vec::new(),
                None,
            ),
            Self::Unauthenticated(message)
            | Self::NotFound(message)
            | Self::Conflict(message)
            | Self::Forbidden(message) => (message, Vec::new(), None),
            Self::SignInDelayed { retry_after_s } => (
                format!(
                    "too many wrong passwords in a row for this account: wait {retry_after_s} s before trying again"
                ),
                Vec::new(),
                None,
            ),
            Self::TooManyRequests { retry_after_s } => {
                let when = match retry_after_s.div_ceil(60) {
                    0 | 1 => "a minute".to_owned(),
                    minutes => format!("{minutes} minutes"),
                };
                (
                    format!(
                        "too many failed enrolment attempts from this address: try again in \
                         {when}, with the code the coordinator gave"
                    ),
                    Vec::new(),
                    None,
                )
            }
            Self::Internal(cause) => (
                "the server failed; try again later".to_owned(),
                Vec::new(),
                Some(InternalCause(Arc::new(cause))),
            ),
        };
        let body = ApiErrorBody {
            error,
            message,
            problems,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(cause) = cause {
            response.extensions_mut().insert(cause);
        }
        if let Some(seconds) = retry_after_s {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Middleware: logs the cause of every 500 inside the request's span, so the log
/// has the whole chain of `.context` while the client gets none of it.
pub async fn log_internal_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(error = format!("{cause:#}"), "request failed");
    }
    response
}

/// Like `axum::Json`, but bad input answers as an [`ApiError`], naming the field
/// (`events[3].device_seq`) that was wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::MalformedJson(Problem {
                        field: "body".to_owned(),
                        message: format!("the body could not be read whole: {rejection}"),
                    })
                }
            })?;
        parse_json(&bytes).map(Self)
    }
}

/// Parses a whole body as `T`: syntax errors and a cut-off body are 400, a
/// well-formed body of the wrong shape is 422.
///
/// An object that repeats a key is 422 too, naming where: readers disagree about
/// which of the two counts (`trial::json`). So is a body that is not an object:
/// serde would read a struct from an array of its fields' values too, which is
/// no request this API describes.
///
/// A number is read as its value, as JSON Schema and the API's OpenAPI
/// description read it: `3.0` is the integer 3 where an integer is asked for.
/// (serde takes only `3`; numbers are doubles in JSON's data model, so the body
/// is read again with every whole number below 2^53 written as an integer
/// before it is refused.)
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Err(JsonError::DuplicateKey { path, key }) = check_unique_keys(text)
    {
        return Err(ApiError::Invalid(vec![Problem {
            field: if path.is_empty() {
                "body".to_owned()
            } else {
                path
            },
            message: format!("the key `{key}` occurs twice"),
        }]));
    }
    let starts_as_object = bytes.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'{');
    if !starts_as_object && serde_json::from_slice::<IgnoredAny>(bytes).is_ok() {
        return Err(ApiError::invalid(
            "body",
            "a request body is a JSON object; this is another JSON value",
        ));
    }
    let (path, error) = match parse_whole(bytes) {
        Ok(value) => return Ok(value),
        Err((path, error)) => match (error.classify(), with_whole_numbers(bytes)) {
            (Category::Data, Some(value)) => match serde_path_to_error::deserialize(value) {
                Ok(value) => return Ok(value),
                Err(_) => (path, error),
            },
            _ => (path, error),
        },
    };
    // The root, or an unknown key that is the empty string.
    let problem = Problem {
        field: if path == "." || path.is_empty() {
            "body".to_owned()
        } else {
            path
        },
        message: error.to_string(),
    };
    Err(match error.classify() {
        Category::Data => ApiError::Invalid(vec![problem]),
        _ => ApiError::MalformedJson(problem),
    })
}

/// `bytes` as one `T` and nothing after it, or where it failed and why.
fn parse_whole<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, (String, serde_json::Error)> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| (error.path().to_string(), error.into_inner()))
        .and_then(|value| {
            // Refuses anything after the value, such as a second one.
            deserializer
                .end()
                .map(|()| value)
                .map_err(|error| (".".to_owned(), error))
        })
}

/// The body as a JSON value with every whole number that a double holds exactly
/// written as an integer, when there was one to rewrite.
fn with_whole_numbers(bytes: &[u8]) -> Option<Value> {
    fn rewrite(value: &mut Value, rewritten: &mut bool) {
        match value {
            Value::Number(number) => {
                // Below 2^53 a double holds every whole number exactly.
                const EXACT: f64 = 9_007_199_254_740_992.0;
                if let Some(float) = number.as_f64()
                    && number.is_f64()
                    && float.fract() == 0.0
                    && float.abs() < EXACT
                {
                    *number = (float as i64).into();
                    *rewritten = true;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| rewrite(item, rewritten)),
            Value::Object(fields) => fields
                .values_mut()
                .for_each(|field| rewrite(field, rewritten)),
            _ => {}
        }
    }
    let mut value: Value = serde_json::from_slice(bytes).ok()?;
    let mut rewritten = false;
    rewrite(&mut value, &mut rewritten);
    rewritten.then_some(value)
}

/// Like `axum::extract::Query`, but a bad query answers as an [`ApiError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::try_from_uri(&parts.uri)
            .map(|Query(value)| Self(value))
            .map_err(|rejection| ApiError::invalid("query", rejection.body_text()))
    }
}
