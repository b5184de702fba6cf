//! Who may sync: sites, their users, one-time enrolment codes and the devices
//! enrolled with them (each with its first lease).

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;
use trial::event::Hash;
use trial::pin::PinHash;
use trial::randomisation::Lease;
use trial::wire::{Role, Site, StatusReport, User};
use uuid::Uuid;

use super::{Store, leases};
use crate::calendar;
use crate::leases::FreshLease;
use crate::secrets;

/// The label of each site's console device: no tablet's (theirs are `T1`, `T2`,
/// …), and what the tablets' timelines and the exports name its events by.
pub const CONSOLE_LABEL: &str = "CONSOLE";

/// A device that presented a valid, unrevoked token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The id the tablet gave itself.
    pub id: Uuid,
    /// The site it was enrolled at.
    pub site_code: String,
    /// Its short name ("T1").
    pub label: String,
    /// Its ECDH public key (lowercase hex), to seal lease seeds to; `None` for a
    /// device enrolled before the server issued leases.
    pub public_key: Option<String>,
}

/// A user to create.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// The id every event the user records will name.
    pub id: Uuid,
    /// The name on the sign-in screen, unique within the site.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// The hash of the user's PIN.
    pub pin: PinHash,
}

/// What became of a change to a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserOutcome {
    /// Done.
    Done,
    /// The site does not exist.
    NoSuchSite,
    /// Another user of the site already has the name.
    NameTaken,
    /// No user of the site has the name.
    NoSuchUser,
}

/// A tablet's request to enrol, with the secrets already hashed.
#[derive(Clone, Debug)]
pub struct NewEnrolment<'a> {
    /// SHA-256 of the enrolment code presented.
    pub code_hash: &'a str,
    /// The id the tablet gave itself.
    pub device_id: Uuid,
    /// The app version it runs.
    pub app_version: &'a str,
    /// SHA-256 of the token the device will be given.
    pub token_hash: &'a str,
    /// The tablet's ECDH public key, validated, as lowercase hex.
    pub public_key: &'a str,
    /// The device's first lease, issued in the same transaction.
    pub first_lease: &'a FreshLease,
    /// The server's clock.
    pub now_ms: i64,
}

/// What became of an enrolment. Anything but `Enrolled` changed nothing.
#[derive(Clone, Debug)]
pub enum EnrolOutcome {
    /// The code was consumed and the device registered.
    Enrolled(Box<Enrolment>),
    /// No enrolment code has this hash.
    UnknownCode,
    /// The code was used before.
    CodeUsed,
    /// The code's time ran out.
    CodeExpired,
    /// A device with this id is already enrolled.
    DeviceAlreadyEnrolled,
}

/// A registered device's place in the trial.
#[derive(Clone, Debug)]
pub struct Enrolment {
    /// Its label, unique within the site.
    pub label: String,
    /// Its site.
    pub site: Site,
    /// The site's users, with their PIN hashes.
    pub users: Vec<User>,
    /// The device's first lease, with its seed, to be sealed to the device.
    pub lease: Lease,
}

impl Store {
    /// Creates the site, or updates its name and time zone to the ones given.
    pub async fn upsert_site(&self, site: &Site, now_ms: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO sites (code, name, time_zone, created_at_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, time_zone = excluded.time_zone",
        )
        .bind(&site.code)
        .bind(&site.name)
        .bind(&site.time_zone)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot store site {}", site.code))?;
        Ok(())
    }

    /// The site with this code, if there is one.
    pub async fn site(&self, code: &str) -> Result<Option<Site>> {
        let row: Option<(String, String, String)> =
            sqlx::query_as("SELECT code, name, time_zone FROM sites WHERE code = $1")
                .bind(code)
                .fetch_optional(&self.pool)
                .await
                .with_context(|| format!("cannot read site {code}"))?;
        Ok(row.map(|(code, name, time_zone)| calendar::site(code, name, time_zone)))
    }

    /// The site's users who sign in on its tablets ([`Role::at_bedside`]), by name:
    /// what a tablet is sent.
    pub async fn users(&self, site_code: &str) -> Result<Vec<User>> {
        let rows = sqlx::query(USERS_OF_SITE)
            .bind(site_code)
            .fetch_all(&self.pool)
            .await
            .with_context(|| format!("cannot read the users of site {site_code}"))?;
        bedside_users(&rows)
    }

    /// Creates a user at a site.
    pub async fn add_user(
        &self,
        site_code: &str,
        user: &NewUser,
        now_ms: i64,
    ) -> Result<UserOutcome> {
        if self.site(site_code).await?.is_none() {
            return Ok(UserOutcome::NoSuchSite);
        }
        let inserted = sqlx::query(
            "INSERT INTO users (id, site_code, name, role, pin_salt, pin_iterations, pin_hash, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (site_code, name) DO NOTHING",
        )
        .bind(user.id.to_string())
        .bind(site_code)
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(hex::encode(user.pin.salt().as_bytes()))
        .bind(i64::from(user.pin.iterations()))
        .bind(hex::encode(user.pin.hash()))
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot store user {} of site {site_code}", user.id))?
        .rows_affected();
        Ok(if inserted == 1 {
            UserOutcome::Done
        } else {
            UserOutcome::NameTaken
        })
    }

    /// Replaces the PIN of the site's user with this name.
    pub async fn set_pin(&self, site_code: &str, name: &str, pin: &PinHash) -> Result<UserOutcome> {
        let updated = sqlx::query(
            "UPDATE users SET pin_salt = $1, pin_iterations = $2, pin_hash = $3
             WHERE site_code = $4 AND name = $5",
        )
        .bind(hex::encode(pin.salt().as_bytes()))
        .bind(i64::from(pin.iterations()))
        .bind(hex::encode(pin.hash()))
        .bind(site_code)
        .bind(name)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot change a PIN at site {site_code}"))?
        .rows_affected();
        Ok(if updated == 1 {
            UserOutcome::Done
        } else {
            UserOutcome::NoSuchUser
        })
    }

    /// Disables the site's user with this name from `now_ms` on: events they
    /// record after it are refused as data, and tablets drop them at their next
    /// sync. Disabling again keeps the first moment.
    pub async fn disable_user(
        &self,
        site_code: &str,
        name: &str,
        now_ms: i64,
    ) -> Result<UserOutcome> {
        let updated = sqlx::query(
            "UPDATE users SET disabled_at_ms = COALESCE(disabled_at_ms, $1)
             WHERE site_code = $2 AND name = $3",
        )
        .bind(now_ms)
        .bind(site_code)
        .bind(name)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot disable a user at site {site_code}"))?
        .rows_affected();
        Ok(if updated == 1 {
            UserOutcome::Done
        } else {
            UserOutcome::NoSuchUser
        })
    }

    /// Stores a new one-time enrolment code (by its hash) for a site.
    pub async fn add_enrolment_code(
        &self,
        site_code: &str,
        code_hash: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO enrolment_codes (code_hash, site_code, created_at_ms, expires_at_ms)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(code_hash)
        .bind(site_code)
        .bind(now_ms)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot store an enrolment code for site {site_code}"))?;
        Ok(())
    }

    /// Consumes an enrolment code, registers the device and issues its first
    /// lease, in one transaction: either the code is used and the device exists
    /// with its lease, or none of it.
    pub async fn enrol(&self, request: &NewEnrolment<'_>) -> Result<EnrolOutcome> {
        let device_id = request.device_id.to_string();
        let mut tx = self
            .pool
            .begin()
            .await
            .context("cannot start an enrolment")?;
        // The write comes first, so the transaction holds its lock before deciding.
        let site_code: Option<(String,)> = sqlx::query_as(
            "UPDATE enrolment_codes SET used_at_ms = $1, used_by_device = $2
             WHERE code_hash = $3 AND used_at_ms IS NULL AND expires_at_ms > $1
             RETURNING site_code",
        )
        .bind(request.now_ms)
        .bind(&device_id)
        .bind(request.code_hash)
        .fetch_optional(&mut *tx)
        .await
        .context("cannot consume an enrolment code")?;
        let Some((site_code,)) = site_code else {
            return self.why_unusable(request.code_hash).await;
        };
        let (enrolled,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM devices WHERE id = $1")
            .bind(&device_id)
            .fetch_one(&mut *tx)
            .await
            .with_context(|| format!("cannot look up device {device_id}"))?;
        if enrolled > 0 {
            return Ok(EnrolOutcome::DeviceAlreadyEnrolled);
        }
        let (number, name, time_zone): (i64, String, String) = sqlx::query_as(
            "UPDATE sites SET devices_enrolled = devices_enrolled + 1 WHERE code = $1
             RETURNING devices_enrolled, name, time_zone",
        )
        .bind(&site_code)
        .fetch_one(&mut *tx)
        .await
        .with_context(|| format!("cannot number a new device of site {site_code}"))?;
        let label = format!("T{number}");
        sqlx::query(
            "INSERT INTO devices (id, site_code, label, token_hash, app_version, enrolled_at_ms,
                 last_seq, last_hash, public_key)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
        )
        .bind(&device_id)
        .bind(&site_code)
        .bind(&label)
        .bind(request.token_hash)
        .bind(request.app_version)
        .bind(request.now_ms)
        .bind(Hash::GENESIS.to_string())
        .bind(request.public_key)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("cannot register device {device_id}"))?;
        let first_lease = request.first_lease;
        let secret = leases::site_secret(
            &mut tx,
            &site_code,
            &first_lease.candidate_secret,
            request.now_ms,
        )
        .await?;
        let lease = first_lease.issue(&secret, &site_code, request.device_id)?;
        leases::insert_lease(&mut tx, &lease, request.now_ms).await?;
        let users = sqlx::query(USERS_OF_SITE)
            .bind(&site_code)
            .fetch_all(&mut *tx)
            .await
            .with_context(|| format!("cannot read the users of site {site_code}"))?;
        let users = bedside_users(&users)?;
        tx.commit().await.context("cannot commit an enrolment")?;
        Ok(EnrolOutcome::Enrolled(Box::new(Enrolment {
            label,
            site: calendar::site(site_code, name, time_zone),
            users,
            lease,
        })))
    }

    /// Why a code could not be consumed: unknown, used or expired.
    async fn why_unusable(&self, code_hash: &str) -> Result<EnrolOutcome> {
        let used: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT used_at_ms FROM enrolment_codes WHERE code_hash = $1")
                .bind(code_hash)
                .fetch_optional(&self.pool)
                .await
                .context("cannot look up an enrolment code")?;
        Ok(match used {
            None => EnrolOutcome::UnknownCode,
            Some((Some(_),)) => EnrolOutcome::CodeUsed,
            Some((None,)) => EnrolOutcome::CodeExpired,
        })
    }

    /// The enrolled, unrevoked device whose token has this hash.
    pub async fn device_by_token(&self, token_hash: &str) -> Result<Option<Device>> {
        let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, site_code, label, public_key FROM devices
             WHERE token_hash = $1 AND revoked_at_ms IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .context("cannot look up a device token")?;
        row.map(|(id, site_code, label, public_key)| {
            Ok(Device {
                id: id.parse().context("a stored device id is not a uuid")?,
                site_code,
                label,
                public_key,
            })
        })
        .transpose()
    }

    /// The site's console device, made at its first use: the chain of the
    /// corrections the console writes (a data query resolved), so they are events
    /// like a tablet's, hash-chained, verified by the same push and pulled by every
    /// tablet of the site. Its token is a hash of random bytes no one holds, so it
    /// never signs in; it takes no lease and no console page lists it as a tablet.
    pub async fn console_device(&self, site_code: &str, now_ms: i64) -> Result<Device> {
        let token_hash = secrets::sha256_hex(&secrets::new_device_token()?);
        sqlx::query(
            "INSERT INTO devices (id, site_code, label, token_hash, app_version, enrolled_at_ms,
                 last_seq, last_hash, console)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, 1)
             ON CONFLICT (site_code, label) DO NOTHING",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(site_code)
        .bind(CONSOLE_LABEL)
        .bind(token_hash)
        .bind(env!("CARGO_PKG_VERSION"))
        .bind(now_ms)
        .bind(Hash::GENESIS.to_string())
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot make the console device of site {site_code}"))?;
        let (id, label): (String, String) =
            sqlx::query_as("SELECT id, label FROM devices WHERE site_code = $1 AND console = 1")
                .bind(site_code)
                .fetch_one(&self.pool)
                .await
                .with_context(|| format!("cannot read the console device of site {site_code}"))?;
        Ok(Device {
            id: id.parse().context("a stored device id is not a uuid")?,
            site_code: site_code.to_owned(),
            label,
            public_key: None,
        })
    }

    /// The last sequence number of `device_id`'s events the server stores.
    pub async fn stored_seq(&self, device_id: Uuid) -> Result<u64> {
        let (seq,): (i64,) = sqlx::query_as("SELECT last_seq FROM devices WHERE id = $1")
            .bind(device_id.to_string())
            .fetch_one(&self.pool)
            .await
            .with_context(|| format!("cannot read the chain head of device {device_id}"))?;
        super::from_db(seq)
    }

    /// Keeps `report` as what `device_id` said of itself last, received at
    /// `now_ms`, in the place of the one before.
    pub async fn record_status(
        &self,
        device_id: Uuid,
        report: &StatusReport,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE devices SET reported_at_ms = $2, reported_clock_ms = $3,
                 reported_head_seq = $4, reported_app_version = $5
             WHERE id = $1",
        )
        .bind(device_id.to_string())
        .bind(now_ms)
        .bind(report.clock_ms)
        .bind(super::to_db(report.head_seq)?)
        .bind(&report.app_version)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot keep the status device {device_id} reported"))?;
        Ok(())
    }

    /// Revokes the device with this label: its token stops working at once. Its
    /// events stay. Returns whether such a device was enrolled and not yet revoked.
    pub async fn revoke_device(&self, site_code: &str, label: &str, now_ms: i64) -> Result<bool> {
        let updated = sqlx::query(
            "UPDATE devices SET revoked_at_ms = $1
             WHERE site_code = $2 AND label = $3 AND revoked_at_ms IS NULL AND console = 0",
        )
        .bind(now_ms)
        .bind(site_code)
        .bind(label)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot revoke device {label} of site {site_code}"))?
        .rows_affected();
        Ok(updated == 1)
    }
}

/// The site's users who may sign in: every one not disabled.
const USERS_OF_SITE: &str = "SELECT id, name, role, pin_salt, pin_iterations, pin_hash
     FROM users WHERE site_code = $1 AND disabled_at_ms IS NULL ORDER BY name";

/// The users of `rows` who sign in at the bedside: coordinators' PIN hashes never
/// leave the server.
fn bedside_users(rows: &[AnyRow]) -> Result<Vec<User>> {
    let users = rows.iter().map(user_from_row).collect::<Result<Vec<_>>>()?;
    Ok(users
        .into_iter()
        .filter(|user| user.role.at_bedside())
        .collect())
}

fn user_from_row(row: &AnyRow) -> Result<User> {
    let id: String = row.try_get("id")?;
    let pin = serde_json::json!({
        "salt": row.try_get::<String, _>("pin_salt")?,
        "iterations": row.try_get::<i64, _>("pin_iterations")?,
        "hash": row.try_get::<String, _>("pin_hash")?,
    });
    Ok(User {
        id: id.parse().context("a stored user id is not a uuid")?,
        name: row.try_get("name")?,
        role: serde_json::from_value(row.try_get::<String, _>("role")?.into())
            .context("a stored role does not read back")?,
        pin: serde_json::from_value(pin)
            .with_context(|| format!("the stored PIN hash of user {id} does not read back"))?,
    })
}
