//! The console's sign-in (issue 13, DESIGN.md "Coordinator console"): passwords
//! hashed with Argon2id, sessions in an `HttpOnly; SameSite=Strict` cookie
//! (`Secure` over TLS) that names a session row, and the one-time link the first
//! start prints so that no default password ever exists.
//!
//! Who may do what is `trial::console`'s table: [`ConsoleSession::require`] asks
//! it for every action, so a handler cannot forget a role check that the console
//! merely hides.

use anyhow::{Context, Result};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use trial::console::{
    Account, ConsoleAction, ConsoleEvent, ConsoleRole, INVITATION_TTL_MS, Password, session_ends_ms,
};
use uuid::Uuid;

use crate::api::ClientAddress;
use crate::error::ApiError;
use crate::secrets;
use crate::store::{NewAuditEntry, Store, StoredSession};
use crate::{AppState, Clock};

/// The cookie the session token travels in.
pub const COOKIE: &str = "hp_ecmo_console";

/// Where the console's setup page is, in the app: the token follows after `#`.
pub const SETUP_PATH: &str = "/console/setup";

/// Marks a request that came over TLS, so the session cookie is sent `Secure`
/// there (and only there: over plain HTTP on 127.0.0.1 a `Secure` cookie would
/// never come back).
#[derive(Clone, Copy, Debug)]
pub struct OverTls;

/// Hashes a new password: Argon2id with the crate's defaults (OWASP's minimum,
/// 19 MiB and two passes) and a random salt, as a PHC string.
pub fn hash_password(password: &Password) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| anyhow::anyhow!("{error}"))
        .context("cannot hash a password")
}

/// Whether `typed` is the password behind `stored` (a PHC string, whose own
/// parameters are used). A stored hash that does not parse matches nothing.
pub fn password_matches(typed: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(typed.as_bytes(), &hash)
            .is_ok()
    })
}

/// A hash no password matches, checked against when the name is unknown, so a
/// wrong name takes as long to refuse as a wrong password and tells no one which
/// names exist.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let password =
            Password::new("no account has this password", "").expect("the decoy meets the rule");
        hash_password(&password).expect("the decoy hashes")
    })
}

/// A one-time link for the first coordinator, when the server has no console
/// account: the path to print (token after `#`). Earlier starts' links stop
/// working, so only the newest printed one does.
pub async fn first_coordinator_link(store: &Store, clock: &Clock) -> Result<Option<String>> {
    if store.console_account_count().await? > 0 {
        return Ok(None);
    }
    let now_ms = clock.now_ms();
    store.cancel_first_coordinator_links(now_ms).await?;
    let link = invite(store, ConsoleRole::Coordinator, None, now_ms).await?;
    Ok(Some(link))
}

/// Keeps a one-time link for an account of `role`, made by `by`, and returns its
/// path with the token.
pub async fn invite(
    store: &Store,
    role: ConsoleRole,
    by: Option<Uuid>,
    now_ms: i64,
) -> Result<String> {
    let token = secrets::new_device_token()?;
    store
        .add_console_invitation(
            &secrets::sha256_hex(&token),
            role,
            by,
            now_ms,
            now_ms + INVITATION_TTL_MS,
        )
        .await?;
    Ok(format!("{SETUP_PATH}#{token}"))
}

/// A new session token, and the `Set-Cookie` value that carries it.
pub fn session_cookie(token: &str, over_tls: bool) -> String {
    let secure = if over_tls { "; Secure" } else { "" };
    // No Max-Age: the cookie ends with the browser, the session on the server
    // ends by its own rule, whichever comes first.
    format!("{COOKIE}={token}; Path=/api/console; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_cookie(over_tls: bool) -> String {
    let secure = if over_tls { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/api/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// The token of the request's one session cookie, if it has exactly one.
pub fn session_token(parts: &Parts) -> Option<String> {
    let mut tokens = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, token)| token.trim().to_owned());
    match (tokens.next(), tokens.next()) {
        (Some(token), None) if !token.is_empty() => Some(token),
        _ => None,
    }
}

/// The signed-in console account a request carries a live session of; every
/// console route but setup and sign-in takes one, and answers 401 before reading
/// the body without it.
#[derive(Clone, Debug)]
pub struct ConsoleSession {
    /// Who is signed in.
    pub account: Account,
    /// When the session ends unless used again, in UTC milliseconds.
    pub ends_at_ms: i64,
    /// The SHA-256 of the cookie's token.
    pub token_hash: String,
    /// Where the request came from.
    pub client: ClientAddress,
}

impl ConsoleSession {
    /// Refuses with 403 unless the account's role may take `action`.
    pub fn require(&self, action: ConsoleAction) -> Result<(), ApiError> {
        if self.account.role.may(action) {
            return Ok(());
        }
        Err(ApiError::Forbidden(format!(
            "a {} account may not do this",
            self.account.role
        )))
    }

    /// Records what the account did, with where from and when.
    pub async fn audit(
        &self,
        state: &AppState,
        event: ConsoleEvent,
        detail: &str,
    ) -> Result<(), ApiError> {
        audit(state, &self.client, Some(&self.account), event, detail).await
    }
}

/// Adds an entry to the console's audit trail: what `account` (none when no
/// account is known, as for a sign-in with an unknown name) did from `client`,
/// now. `detail` never holds a password, PIN, token or code.
pub async fn audit(
    state: &AppState,
    client: &ClientAddress,
    account: Option<&Account>,
    event: ConsoleEvent,
    detail: &str,
) -> Result<(), ApiError> {
    let client = client.to_string();
    state
        .store
        .audit_console(NewAuditEntry {
            account_id: account.map(|account| account.id),
            event,
            detail,
            client: &client,
            at_ms: state.clock.now_ms(),
        })
        .await?;
    Ok(())
}

impl FromRequestParts<AppState> for ConsoleSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client = ClientAddress::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        let refused = || {
            ApiError::Unauthenticated(
                "not signed in, or the session ended: sign in to the console again".to_owned(),
            )
        };
        let token = session_token(parts).ok_or_else(refused)?;
        let token_hash = secrets::sha256_hex(&token);
        let now_ms = state.clock.now_ms();
        let Some(StoredSession {
            account,
            signed_in_at_ms,
        }) = state.store.use_console_session(&token_hash, now_ms).await?
        else {
            return Err(refused());
        };
        Ok(Self {
            account,
            ends_at_ms: session_ends_ms(signed_in_at_ms, now_ms),
            token_hash,
            client,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_matches_its_hash_only() {
        let password = Password::new("correct horse battery", "Li Na").unwrap();
        let stored = hash_password(&password).unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(password_matches("correct horse battery", &stored));
        assert!(!password_matches("correct horse batterY", &stored));
        assert!(!password_matches("correct horse battery", "not a hash"));
        assert!(decoy_hash().starts_with("$argon2id$"));
        assert!(!password_matches("correct horse battery", decoy_hash()));
        // Two hashes of one password differ: each has its own salt.
        assert_ne!(hash_password(&password).unwrap(), stored);
    }

    #[test]
    fn the_cookie_is_read_only_when_it_is_the_one_session_cookie() {
        let parts = |cookies: &[&str]| {
            let mut request = axum::http::Request::builder();
            for cookie in cookies {
                request = request.header(header::COOKIE, *cookie);
            }
            request.body(()).unwrap().into_parts().0
        };
        assert_eq!(
            session_token(&parts(&["theme=dark; hp_ecmo_console=abc"])),
            Some("abc".to_owned())
        );
        assert_eq!(session_token(&parts(&["hp_ecmo_console="])), None);
        assert_eq!(
            session_token(&parts(&["hp_ecmo_console=a", "hp_ecmo_console=b"])),
            None
        );
        assert_eq!(session_token(&parts(&["hp_ecmo_consolex=a"])), None);
        assert!(session_cookie("abc", true).ends_with("SameSite=Strict; Secure"));
        assert!(!session_cookie("abc", false).contains("Secure"));
        assert!(session_cookie("abc", false).contains("HttpOnly"));
    }
}
