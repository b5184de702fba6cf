//! What a coordinator does from the command line until the console exists: set up
//! the site at start, issue enrolment codes, create users, change PINs, revoke
//! tablets, list open data queries and allocation flags.

use std::fmt::Write as _;

use anyhow::Result;
use trial::pin::Pin;
use trial::wire::{EnrolmentCode, Role, Site};
use uuid::Uuid;

use crate::Clock;
use crate::secrets;
use crate::store::{NewUser, Store, UserOutcome};

/// How long an enrolment code works: long enough to set up the ward's tablets
/// the day it is printed, short enough that a forgotten note is harmless.
pub const ENROLMENT_CODE_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// The user a server creates when its site has no one who signs in on a tablet,
/// so it can be tried at once: a bedside role, since no other reaches a tablet.
pub const FIRST_USER_NAME: &str = "Investigator";

/// The longest site code, user name or device label accepted.
const MAX_NAME_CHARS: usize = 64;

/// What a start-up created, for the terminal.
#[derive(Debug)]
pub struct Startup {
    /// The one-time code that enrols the next tablet.
    pub enrolment_code: EnrolmentCode,
    /// The PIN of the user created because the site had none; shown once.
    pub first_user_pin: Option<String>,
}

/// The site name a new site gets when the command line names none.
pub const DEFAULT_SITE_NAME: &str = "Beijing Anzhen Hospital";
/// The time zone a new site gets when the command line names none.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// The site to serve: what the command line says, else what is stored, else the
/// defaults. So a flag given once sticks, and leaving it out later changes nothing.
pub fn site_to_serve(
    stored: Option<Site>,
    code: &str,
    name: Option<&str>,
    time_zone: Option<&str>,
) -> Result<Site, String> {
    let stored_name = stored.as_ref().map(|site| site.name.as_str());
    let stored_zone = stored.as_ref().map(|site| site.time_zone.as_str());
    site(
        code,
        name.or(stored_name).unwrap_or(DEFAULT_SITE_NAME),
        time_zone.or(stored_zone).unwrap_or(DEFAULT_TIME_ZONE),
    )
}

/// Validates the site the command line describes.
pub fn site(code: &str, name: &str, time_zone: &str) -> Result<Site, String> {
    let code_ok = !code.is_empty()
        && code.len() <= 8
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !code_ok {
        return Err(format!(
            "site code {code:?}: 1 to 8 capital letters or digits, such as BJ"
        ));
    }
    check_name("site name", name)?;
    crate::calendar::site_calendar(time_zone).map_err(|_| {
        format!("time zone {time_zone:?} is not an IANA time zone name, such as Asia/Shanghai")
    })?;
    Ok(crate::calendar::site(
        code.to_owned(),
        name.trim().to_owned(),
        time_zone.to_owned(),
    ))
}

/// Readies the store for serving `site`: stores the site, creates a first user when
/// no one signs in on its tablets, and issues an enrolment code.
pub async fn start(store: &Store, site: &Site, clock: &Clock) -> Result<Startup> {
    store.upsert_site(site, clock.now_ms()).await?;
    let first_user_pin = if store.users(&site.code).await?.is_empty() {
        let digits = secrets::new_pin_digits()?;
        let pin = Pin::parse(&digits)?;
        let role = Role::Investigator;
        let outcome = add_user(store, &site.code, FIRST_USER_NAME, role, &pin, clock).await?;
        // A PIN is shown only for a user it was given to.
        (outcome == UserOutcome::Done).then_some(digits)
    } else {
        None
    };
    let enrolment_code = issue_enrolment_code(store, &site.code, clock).await?;
    Ok(Startup {
        enrolment_code,
        first_user_pin,
    })
}

/// A new one-time enrolment code for a site, valid for [`ENROLMENT_CODE_TTL_MS`].
pub async fn issue_enrolment_code(
    store: &Store,
    site_code: &str,
    clock: &Clock,
) -> Result<EnrolmentCode> {
    let code = secrets::new_enrolment_code()?;
    let now_ms = clock.now_ms();
    let code_hash = secrets::sha256_hex(code.as_str());
    store
        .add_enrolment_code(
            site_code,
            &code_hash,
            now_ms,
            now_ms + ENROLMENT_CODE_TTL_MS,
        )
        .await?;
    Ok(code)
}

/// Creates a user with a new id (UUID v7) and the PIN hashed.
pub async fn add_user(
    store: &Store,
    site_code: &str,
    name: &str,
    role: Role,
    pin: &Pin,
    clock: &Clock,
) -> Result<UserOutcome> {
    let user = NewUser {
        id: Uuid::now_v7(),
        name: name.trim().to_owned(),
        role,
        pin: secrets::hash_pin(pin)?,
    };
    store.add_user(site_code, &user, clock.now_ms()).await
}

/// Replaces a user's PIN.
pub async fn set_pin(store: &Store, site_code: &str, name: &str, pin: &Pin) -> Result<UserOutcome> {
    store
        .set_pin(site_code, name.trim(), &secrets::hash_pin(pin)?)
        .await
}

/// The site's open data queries, allocation flags and PIN lockouts, as text for
/// the terminal.
/// Participants appear by id and study number only: no other patient data.
pub async fn queries_report(store: &Store, site_code: &str) -> Result<String> {
    let queries = store.open_query_reports(site_code).await?;
    let flags = store.allocation_flag_reports(site_code).await?;
    let mut report = format!("Open data queries at site {site_code}: {}\n", queries.len());
    for query in &queries {
        let (shown, shown_by) = &query.shown;
        let (overridden, overridden_by) = &query.overridden;
        writeln!(
            report,
            "- participant {} ({}): {}, {}: the value from {shown_by} (event {shown}) replaced \
             the one from {overridden_by} (event {overridden}) unseen; opened {}",
            query.participant_id,
            query.study_number.as_deref().unwrap_or("not randomised"),
            query.subject,
            query.field,
            utc(query.opened_at_ms),
        )?;
    }
    writeln!(
        report,
        "Allocation flags at site {site_code}: {}",
        flags.len()
    )?;
    for flag in &flags {
        writeln!(
            report,
            "- participant {} ({}), randomised on {} (event {}): {}: {}; raised {}",
            flag.participant_id,
            flag.study_number
                .as_deref()
                .unwrap_or("no readable study number"),
            flag.device_label,
            flag.event_id,
            flag.code,
            flag.message,
            utc(flag.created_at_ms),
        )?;
    }
    let lockouts = store.lockouts(site_code).await?;
    writeln!(
        report,
        "PIN lockouts at site {site_code}: {}",
        lockouts.len()
    )?;
    for reported in &lockouts {
        let lockout = &reported.lockout;
        writeln!(
            report,
            "- tablet {}, {}: {} wrong PINs in a row, a {} s wait from {} (tablet's clock)",
            reported.tablet,
            reported.user_name,
            lockout.failures,
            lockout.wait_ms / 1000,
            utc(lockout.at_ms),
        )?;
    }
    Ok(report)
}

/// An instant as people read it in a log: UTC, to the second.
fn utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| format!("{ms} ms"),
        |instant| instant.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// Checks a name a person typed: not blank, not too long.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let length = name.trim().chars().count();
    if length == 0 || length > MAX_NAME_CHARS {
        return Err(format!("{what} {name:?}: 1 to {MAX_NAME_CHARS} characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_stored_site_which_overrides_the_defaults() {
        let stored = site("BJ", "Anzhen", "Asia/Urumqi").unwrap();
        let serve = |stored: Option<Site>, name, zone| {
            let site = site_to_serve(stored, "BJ", name, zone).unwrap();
            (site.name, site.time_zone)
        };
        assert_eq!(
            serve(None, None, None),
            (DEFAULT_SITE_NAME.to_owned(), DEFAULT_TIME_ZONE.to_owned())
        );
        assert_eq!(
            serve(Some(stored.clone()), None, None),
            ("Anzhen".to_owned(), "Asia/Urumqi".to_owned())
        );
        assert_eq!(
            serve(Some(stored), Some("Anzhen Hospital"), Some("UTC")),
            ("Anzhen Hospital".to_owned(), "UTC".to_owned())
        );
    }

    #[test]
    fn sites_from_the_command_line() {
        assert!(site("BJ", "Beijing Anzhen Hospital", "Asia/Shanghai").is_ok());
        assert_eq!(
            site("bj", "x", "Asia/Shanghai").unwrap_err(),
            "site code \"bj\": 1 to 8 capital letters or digits, such as BJ"
        );
        assert_eq!(
            site("BJ", "x", "Asia/Beijing").unwrap_err(),
            "time zone \"Asia/Beijing\" is not an IANA time zone name, such as Asia/Shanghai"
        );
        assert_eq!(
            site("BJ", "  ", "UTC").unwrap_err(),
            "site name \"  \": 1 to 64 characters"
        );
    }
}
