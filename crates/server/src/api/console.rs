//! `/api/console/…`: the coordinator console's sign-in, sessions, one-time links
//! and audit trail (`crate::console` says how sessions work). Every answer that
//! signs someone in sets the session cookie; every action is an audit entry.
//!
//! A wrong name, a disabled account and a wrong password are one answer, taking
//! as long (an unknown name is checked against a decoy hash), so the sign-in
//! tells no one which accounts exist. An account's failures in a row past
//! `trial::console::FREE_SIGN_IN_FAILURES` make its next try wait, growing; while
//! it waits no password is even checked.

use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Json, Response};
use trial::console::{
    Account, AuditResponse, ConsoleAction, ConsoleEvent, InvitationRequest, InvitationResponse,
    MAX_PASSWORD_CHARS, Password, SessionResponse, SetupRequest, SignInRequest, SignedOut,
    account_name, session_ends_ms, sign_in_wait_ms,
};

use super::ClientAddress;
use super::openapi::{JsonBodyErrors, ServerFailure, SessionRefused};
use crate::AppState;
use crate::console::{self, ConsoleSession, OverTls, audit};
use crate::error::{ApiError, ApiJson};
use crate::secrets;
use crate::store::{SetupOutcome, StoredAccount};

/// The most audit entries one answer holds.
const AUDIT_PAGE: i64 = 500;

/// Whether the request came over TLS, for the cookie's `Secure`.
pub struct Transport(bool);

impl<S: Send + Sync> FromRequestParts<S> for Transport {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<OverTls>().is_some()))
    }
}

/// Sets up an account from a one-time link (the first coordinator's, printed at
/// the first start, or one a coordinator made) and signs it in.
#[utoipa::path(
    post,
    path = "/console/setup",
    tag = "console",
    request_body(content = SetupRequest, content_type = "application/json"),
    responses(
        (
            status = 200,
            description = "The account exists with the link's role and is signed in: \
                           `Set-Cookie` carries the session.",
            body = SessionResponse,
        ),
        (status = 401, description = "The link was used, expired or never issued (`unauthenticated`).", body = trial::wire::ApiErrorBody),
        (status = 409, description = "Another account has this name (`conflict`).", body = trial::wire::ApiErrorBody),
        JsonBodyErrors,
        ServerFailure,
    ),
)]
pub async fn set_up(
    State(state): State<AppState>,
    client: ClientAddress,
    Transport(over_tls): Transport,
    ApiJson(request): ApiJson<SetupRequest>,
) -> Result<Response, ApiError> {
    let name = account_name(&request.name).map_err(|error| ApiError::invalid("name", error))?;
    let password = Password::new(&request.password, name)
        .map_err(|error| ApiError::invalid("password", error))?;
    let password_hash = blocking(move || console::hash_password(&password)).await??;
    let outcome = state
        .store
        .set_up_console_account(
            &secrets::sha256_hex(&request.token),
            name,
            &password_hash,
            state.clock.now_ms(),
        )
        .await?;
    let account = match outcome {
        SetupOutcome::Created(account) => account,
        SetupOutcome::NoSuchLink => {
            return Err(ApiError::Unauthenticated(
                "this link does not work: it was used, it expired (a link lasts 24 hours) or it \
                 was never issued; ask a coordinator for a new one"
                    .to_owned(),
            ));
        }
        SetupOutcome::NameTaken => {
            return Err(ApiError::Conflict(format!(
                "there is already an account named {name:?}: choose another name"
            )));
        }
    };
    audit(
        &state,
        &client,
        Some(&account),
        ConsoleEvent::AccountCreated,
        &format!("{} account {:?}", account.role, account.name),
    )
    .await?;
    signed_in(&state, account, over_tls).await
}

/// Signs in with a name and password.
#[utoipa::path(
    post,
    path = "/console/sign-in",
    tag = "console",
    request_body(content = SignInRequest, content_type = "application/json"),
    responses(
        (
            status = 200,
            description = "Signed in: `Set-Cookie` carries the session.",
            body = SessionResponse,
        ),
        (status = 401, description = "Wrong name or password, or a disabled account (`unauthenticated`): one answer for all three.", body = trial::wire::ApiErrorBody),
        (status = 429, description = "Too many wrong passwords in a row for this account (`too_many_requests`): `Retry-After` says how many seconds to wait.", body = trial::wire::ApiErrorBody),
        JsonBodyErrors,
        ServerFailure,
    ),
)]
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientAddress,
    Transport(over_tls): Transport,
    ApiJson(request): ApiJson<SignInRequest>,
) -> Result<Response, ApiError> {
    let refused = || ApiError::Unauthenticated("wrong name or password".to_owned());
    let stored = match account_name(&request.name) {
        Ok(name) => state.store.console_account(name).await?,
        Err(_) => None,
    };
    let Some(stored) = stored.filter(|stored| !stored.disabled) else {
        // As long as a wrong password takes, so a name's existence does not show.
        let typed = request.password;
        blocking(move || console::password_matches(&typed, console::decoy_hash())).await?;
        audit(
            &state,
            &client,
            None,
            ConsoleEvent::SignInFailed,
            "no such account, or disabled",
        )
        .await?;
        return Err(refused());
    };
    if !password_checked(
        &state,
        &client,
        &stored,
        request.password,
        ConsoleEvent::SignInFailed,
    )
    .await?
    {
        return Err(refused());
    }
    audit(
        &state,
        &client,
        Some(&stored.account),
        ConsoleEvent::SignedIn,
        "",
    )
    .await?;
    signed_in(&state, stored.account, over_tls).await
}

/// Whether `typed` is `stored`'s password, checked as a sign-in checks it: while
/// the account waits after failures nothing is checked (429 with
/// `Retry-After`), and a wrong password counts as a failed sign-in, audited as
/// `failed`. A signature's password typed again goes through here too, so
/// guessing it there is no faster than at the sign-in.
pub(super) async fn password_checked(
    state: &AppState,
    client: &ClientAddress,
    stored: &StoredAccount,
    typed: String,
    failed: ConsoleEvent,
) -> Result<bool, ApiError> {
    let now_ms = state.clock.now_ms();
    if stored.wait_until_ms > now_ms {
        let wait_ms = stored.wait_until_ms - now_ms;
        audit(
            state,
            client,
            Some(&stored.account),
            ConsoleEvent::SignInDelayed,
            &format!("{} failed sign-ins in a row", stored.failed_sign_ins),
        )
        .await?;
        return Err(ApiError::SignInDelayed {
            retry_after_s: u64::try_from(wait_ms).map_or(1, |ms| ms.div_ceil(1000)),
        });
    }
    let hash = stored.password_hash.clone();
    let matches = typed.chars().count() <= MAX_PASSWORD_CHARS
        && blocking(move || console::password_matches(&typed, &hash)).await?;
    if !matches {
        let failures = state
            .store
            .count_failed_sign_in(stored.account.id, now_ms, sign_in_wait_ms)
            .await?;
        audit(
            state,
            client,
            Some(&stored.account),
            failed,
            &format!("wrong password, {failures} in a row"),
        )
        .await?;
    }
    Ok(matches)
}

/// Who is signed in, and until when.
#[utoipa::path(
    get,
    path = "/console/session",
    tag = "console",
    responses(
        (status = 200, description = "The session's account.", body = SessionResponse),
        SessionRefused,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn session(session: ConsoleSession) -> Json<SessionResponse> {
    Json(SessionResponse {
        account: session.account,
        ends_at_ms: session.ends_at_ms,
    })
}

/// Ends the session: its cookie stops working at once.
#[utoipa::path(
    post,
    path = "/console/sign-out",
    tag = "console",
    responses(
        (status = 200, description = "Signed out; `Set-Cookie` removes the cookie.", body = SignedOut),
        SessionRefused,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn sign_out(
    State(state): State<AppState>,
    Transport(over_tls): Transport,
    session: ConsoleSession,
) -> Result<Response, ApiError> {
    let ended_at_ms = state.clock.now_ms();
    state
        .store
        .end_console_session(&session.token_hash, ended_at_ms)
        .await?;
    session.audit(&state, ConsoleEvent::SignedOut, "").await?;
    Ok((
        [(header::SET_COOKIE, console::cleared_cookie(over_tls))],
        Json(SignedOut { ended_at_ms }),
    )
        .into_response())
}

/// Makes a one-time link for a new console account of a role (coordinators only).
#[utoipa::path(
    post,
    path = "/console/invitations",
    tag = "console",
    request_body(content = InvitationRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The link, shown once.", body = InvitationResponse),
        SessionRefused,
        JsonBodyErrors,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn invite(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiJson(request): ApiJson<InvitationRequest>,
) -> Result<Json<InvitationResponse>, ApiError> {
    session.require(ConsoleAction::ManageAccounts)?;
    let now_ms = state.clock.now_ms();
    let path =
        console::invite(&state.store, request.role, Some(session.account.id), now_ms).await?;
    session
        .audit(
            &state,
            ConsoleEvent::InvitationCreated,
            &format!("link for a {} account", request.role),
        )
        .await?;
    Ok(Json(InvitationResponse {
        path,
        role: request.role,
        expires_at_ms: now_ms + trial::console::INVITATION_TTL_MS,
    }))
}

/// The console's audit trail, newest first (coordinators only).
#[utoipa::path(
    get,
    path = "/console/audit",
    tag = "console",
    responses(
        (status = 200, description = "The newest 500 entries.", body = AuditResponse),
        SessionRefused,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn audit_trail(
    State(state): State<AppState>,
    session: ConsoleSession,
) -> Result<Json<AuditResponse>, ApiError> {
    session.require(ConsoleAction::ManageAccounts)?;
    let entries = state.store.console_audit(AUDIT_PAGE).await?;
    Ok(Json(AuditResponse { entries }))
}

/// Starts a session for `account` and answers with it and its cookie.
async fn signed_in(
    state: &AppState,
    account: Account,
    over_tls: bool,
) -> Result<Response, ApiError> {
    let token = secrets::new_device_token()?;
    let now_ms = state.clock.now_ms();
    state
        .store
        .start_console_session(&secrets::sha256_hex(&token), account.id, now_ms)
        .await?;
    let body = SessionResponse {
        account,
        ends_at_ms: session_ends_ms(now_ms, now_ms),
    };
    Ok((
        [(
            header::SET_COOKIE,
            console::session_cookie(&token, over_tls),
        )],
        Json(body),
    )
        .into_response())
}

/// Runs a password hash off the async threads: Argon2 takes tens of
/// milliseconds by design, which would stall every other request on the thread.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("a password hash failed: {error}")))
}
