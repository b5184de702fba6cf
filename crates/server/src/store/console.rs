//! The coordinator console's accounts, one-time links, sessions and audit trail.
//! Tokens are kept only as their SHA-256, passwords only as Argon2id hashes; the
//! rules they follow (roles, waits, session length) are `trial::console`'s.

use anyhow::{Context, Result, bail};
use trial::console::{
    Account, AuditEntry, ConsoleEvent, ConsoleRole, DeviceReport, SESSION_IDLE_MS, SESSION_MAX_MS,
    SiteOverview, SiteTablet, SiteUser,
};
use trial::wire::StatusReport;
use uuid::Uuid;

use super::Store;

/// An account as sign-in needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAccount {
    /// Who it is.
    pub account: Account,
    /// The Argon2id PHC string.
    pub password_hash: String,
    /// Whether a coordinator disabled it.
    pub disabled: bool,
    /// Failed sign-ins in a row.
    pub failed_sign_ins: u32,
    /// Until when the next try must wait, in UTC milliseconds.
    pub wait_until_ms: i64,
}

/// A live session: whose, and since when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    /// The account signed in.
    pub account: Account,
    /// When it signed in.
    pub signed_in_at_ms: i64,
}

/// What setting up an account from a one-time link did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetupOutcome {
    /// The account exists, with the link's role; the link is spent.
    Created(Account),
    /// No link has this token, or it expired or was used: nothing changed.
    NoSuchLink,
    /// Another account has the name (ignoring case): nothing changed.
    NameTaken,
}

/// An entry for the audit trail.
#[derive(Clone, Copy, Debug)]
pub struct NewAuditEntry<'a> {
    /// The account acting, when known.
    pub account_id: Option<Uuid>,
    /// What it did.
    pub event: ConsoleEvent,
    /// What it concerned; never a password or a token.
    pub detail: &'a str,
    /// Where from.
    pub client: &'a str,
    /// When.
    pub at_ms: i64,
}

/// The key names are unique by: two spellings of one name differing only in case
/// are one account.
fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Store {
    /// How many console accounts exist, disabled ones included.
    pub async fn console_account_count(&self) -> Result<i64> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM console_accounts")
            .fetch_one(&self.pool)
            .await
            .context("cannot count the console accounts")?;
        Ok(count)
    }

    /// Keeps a one-time link to set up an account of `role`.
    pub async fn add_console_invitation(
        &self,
        token_hash: &str,
        role: ConsoleRole,
        created_by: Option<Uuid>,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO console_invitations (token_hash, role, created_by, created_at_ms, expires_at_ms)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(role.as_str())
        .bind(created_by.map(|id| id.to_string()))
        .bind(now_ms)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await
        .context("cannot keep a console invitation")?;
        Ok(())
    }

    /// Spends the first coordinator's unused links (made at earlier starts), so only
    /// the newest printed one works.
    pub async fn cancel_first_coordinator_links(&self, now_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE console_invitations SET expires_at_ms = $1
             WHERE created_by IS NULL AND used_at_ms IS NULL AND expires_at_ms > $1",
        )
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .context("cannot cancel the earlier first-coordinator links")?;
        Ok(())
    }

    /// Spends the link `token_hash` and creates the account `name` with its role,
    /// in one transaction: both or neither.
    pub async fn set_up_console_account(
        &self,
        token_hash: &str,
        name: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<SetupOutcome> {
        let mut tx = self.pool.begin().await.context("cannot begin a setup")?;
        let spent: Option<(String,)> = sqlx::query_as(
            "UPDATE console_invitations SET used_at_ms = $2
             WHERE token_hash = $1 AND used_at_ms IS NULL AND expires_at_ms > $2
             RETURNING role",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await
        .context("cannot spend a console invitation")?;
        let Some((role,)) = spent else {
            return Ok(SetupOutcome::NoSuchLink);
        };
        let Some(role) = ConsoleRole::parse(&role) else {
            bail!("a stored invitation has the unknown role {role:?}");
        };
        let taken: Option<(String,)> =
            sqlx::query_as("SELECT id FROM console_accounts WHERE name_key = $1")
                .bind(name_key(name))
                .fetch_optional(&mut *tx)
                .await
                .context("cannot look up a console account's name")?;
        if taken.is_some() {
            return Ok(SetupOutcome::NameTaken);
        }
        let account = Account {
            id: Uuid::now_v7(),
            name: name.trim().to_owned(),
            role,
        };
        sqlx::query(
            "INSERT INTO console_accounts (id, name, name_key, role, password_hash, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(account.id.to_string())
        .bind(&account.name)
        .bind(name_key(&account.name))
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .context("cannot create a console account")?;
        sqlx::query("UPDATE console_invitations SET used_by = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(account.id.to_string())
            .execute(&mut *tx)
            .await
            .context("cannot mark who used a console invitation")?;
        tx.commit().await.context("cannot commit a setup")?;
        Ok(SetupOutcome::Created(account))
    }

    /// The account `name` (ignoring case), as sign-in reads it.
    pub async fn console_account(&self, name: &str) -> Result<Option<StoredAccount>> {
        type Row = (String, String, String, String, Option<i64>, i64, i64);
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, name, role, password_hash, disabled_at_ms, failed_sign_ins, wait_until_ms
             FROM console_accounts WHERE name_key = $1",
        )
        .bind(name_key(name))
        .fetch_optional(&self.pool)
        .await
        .context("cannot read a console account")?;
        let Some((id, name, role, password_hash, disabled_at_ms, failed, wait_until_ms)) = row
        else {
            return Ok(None);
        };
        Ok(Some(StoredAccount {
            account: account(&id, name, &role)?,
            password_hash,
            disabled: disabled_at_ms.is_some(),
            failed_sign_ins: u32::try_from(failed).context("a stored count is negative")?,
            wait_until_ms,
        }))
    }

    /// Counts one more failed sign-in of `account_id` and returns the new count;
    /// `wait` turns the count into the wait it imposes. One statement, so two
    /// wrong passwords at once both count.
    pub async fn count_failed_sign_in(
        &self,
        account_id: Uuid,
        now_ms: i64,
        wait: impl Fn(u32) -> Option<i64>,
    ) -> Result<u32> {
        let mut tx = self.pool.begin().await.context("cannot begin a count")?;
        let (failed,): (i64,) = sqlx::query_as(
            "UPDATE console_accounts SET failed_sign_ins = failed_sign_ins + 1
             WHERE id = $1 RETURNING failed_sign_ins",
        )
        .bind(account_id.to_string())
        .fetch_one(&mut *tx)
        .await
        .context("cannot count a failed sign-in")?;
        let failed = u32::try_from(failed).context("a stored count is negative")?;
        if let Some(wait_ms) = wait(failed) {
            sqlx::query("UPDATE console_accounts SET wait_until_ms = $2 WHERE id = $1")
                .bind(account_id.to_string())
                .bind(now_ms + wait_ms)
                .execute(&mut *tx)
                .await
                .context("cannot record a sign-in wait")?;
        }
        tx.commit().await.context("cannot commit a count")?;
        Ok(failed)
    }

    /// Starts a session for `account_id`, and clears its failed sign-ins.
    pub async fn start_console_session(
        &self,
        token_hash: &str,
        account_id: Uuid,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.context("cannot begin a sign-in")?;
        sqlx::query(
            "UPDATE console_accounts SET failed_sign_ins = 0, wait_until_ms = 0 WHERE id = $1",
        )
        .bind(account_id.to_string())
        .execute(&mut *tx)
        .await
        .context("cannot clear the failed sign-ins")?;
        sqlx::query(
            "INSERT INTO console_sessions (token_hash, account_id, signed_in_at_ms, last_used_at_ms)
             VALUES ($1, $2, $3, $3)",
        )
        .bind(token_hash)
        .bind(account_id.to_string())
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .context("cannot start a console session")?;
        tx.commit().await.context("cannot commit a sign-in")?;
        Ok(())
    }

    /// The live session `token_hash`, marked as used at `now_ms`; `None` when there
    /// is none, it ended, it lapsed (idle or too old) or its account is disabled.
    pub async fn use_console_session(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<StoredSession>> {
        let used: Option<(String, i64)> = sqlx::query_as(
            "UPDATE console_sessions SET last_used_at_ms = $2
             WHERE token_hash = $1 AND ended_at_ms IS NULL
               AND last_used_at_ms + $3 > $2 AND signed_in_at_ms + $4 > $2
               AND account_id IN (SELECT id FROM console_accounts WHERE disabled_at_ms IS NULL)
             RETURNING account_id, signed_in_at_ms",
        )
        .bind(token_hash)
        .bind(now_ms)
        .bind(SESSION_IDLE_MS)
        .bind(SESSION_MAX_MS)
        .fetch_optional(&self.pool)
        .await
        .context("cannot use a console session")?;
        let Some((account_id, signed_in_at_ms)) = used else {
            return Ok(None);
        };
        let (id, name, role): (String, String, String) =
            sqlx::query_as("SELECT id, name, role FROM console_accounts WHERE id = $1")
                .bind(account_id)
                .fetch_one(&self.pool)
                .await
                .context("cannot read a session's account")?;
        Ok(Some(StoredSession {
            account: account(&id, name, &role)?,
            signed_in_at_ms,
        }))
    }

    /// Ends the session `token_hash`: its cookie no longer works.
    pub async fn end_console_session(&self, token_hash: &str, now_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE console_sessions SET ended_at_ms = $2
             WHERE token_hash = $1 AND ended_at_ms IS NULL",
        )
        .bind(token_hash)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .context("cannot end a console session")?;
        Ok(())
    }

    /// Adds an entry to the console's audit trail.
    pub async fn audit_console(&self, entry: NewAuditEntry<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO console_audit (id, at_ms, account_id, event, detail, client)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(entry.at_ms)
        .bind(entry.account_id.map(|id| id.to_string()))
        .bind(entry.event.as_str())
        .bind(entry.detail)
        .bind(entry.client)
        .execute(&self.pool)
        .await
        .context("cannot add to the console's audit trail")?;
        Ok(())
    }

    /// The newest `limit` entries of the console's audit trail, newest first.
    pub async fn console_audit(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows: Vec<(i64, Option<String>, String, String, String)> = sqlx::query_as(
            "SELECT c.at_ms, a.name, c.event, c.detail, c.client
             FROM console_audit c LEFT JOIN console_accounts a ON a.id = c.account_id
             ORDER BY c.at_ms DESC, c.id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("cannot read the console's audit trail")?;
        rows.into_iter()
            .map(|(at_ms, account, event, detail, client)| {
                let Some(event) = ConsoleEvent::parse(&event) else {
                    bail!("a stored audit entry has the unknown event {event:?}");
                };
                Ok(AuditEntry {
                    at_ms,
                    account,
                    event,
                    detail,
                    client,
                })
            })
            .collect()
    }
}

/// A row of the tablets' query, in its column order.
type TabletRow = (
    String,
    i64,
    Option<i64>,
    String,
    Option<i64>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

impl Store {
    /// Every site with all its users (disabled ones too, never a PIN hash) and all
    /// its tablets (revoked ones too), by code, name and label.
    pub async fn sites_overview(&self) -> Result<Vec<SiteOverview>> {
        let sites: Vec<(String, String)> =
            sqlx::query_as("SELECT code, name FROM sites ORDER BY code")
                .fetch_all(&self.pool)
                .await
                .context("cannot read the sites")?;
        let mut overviews = Vec::with_capacity(sites.len());
        for (code, name) in sites {
            let users: Vec<(String, String, String, Option<i64>)> = sqlx::query_as(
                "SELECT id, name, role, disabled_at_ms FROM users WHERE site_code = $1 ORDER BY name",
            )
            .bind(&code)
            .fetch_all(&self.pool)
            .await
            .with_context(|| format!("cannot read the users of site {code}"))?;
            let tablets = self.site_tablet_rows(&code).await?;
            overviews.push(SiteOverview {
                code,
                name,
                users: users
                    .into_iter()
                    .map(|(id, name, role, disabled_at_ms)| {
                        Ok(SiteUser {
                            id: id.parse().context("a stored user id is not a uuid")?,
                            name,
                            role: serde_json::from_value(role.into())
                                .context("a stored role does not read back")?,
                            disabled_at_ms,
                        })
                    })
                    .collect::<Result<_>>()?,
                tablets,
            });
        }
        Ok(overviews)
    }

    /// The site's tablets (revoked ones too, never the console's device), with
    /// their lease stock and their last report.
    async fn site_tablet_rows(&self, code: &str) -> Result<Vec<SiteTablet>> {
        let rows: Vec<TabletRow> = sqlx::query_as(
            "SELECT label, enrolled_at_ms, last_push_at_ms, app_version, revoked_at_ms, last_seq,
                    reported_at_ms, reported_clock_ms, reported_head_seq, reported_app_version
             FROM devices WHERE site_code = $1 AND console = 0
             ORDER BY enrolled_at_ms, label",
        )
        .bind(code)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the tablets of site {code}"))?;
        let stock = self.lease_stock(code).await?;
        rows.into_iter()
            .map(|row| {
                let (label, enrolled_at_ms, last_push_at_ms, app_version, revoked_at_ms) =
                    (row.0, row.1, row.2, row.3, row.4);
                let (stored_seq, at_ms, clock_ms, head_seq, version) =
                    (row.5, row.6, row.7, row.8, row.9);
                let last_report = match (at_ms, clock_ms, head_seq, version) {
                    (Some(at_ms), Some(clock_ms), Some(head_seq), Some(app_version)) => {
                        let sent = StatusReport {
                            clock_ms,
                            head_seq: super::from_db(head_seq)?,
                            app_version,
                        };
                        Some(DeviceReport::new(&sent, at_ms, super::from_db(stored_seq)?))
                    }
                    _ => None,
                };
                let slots_left = stock
                    .iter()
                    .find(|stock| stock.tablet == label)
                    .map_or(0, |stock| stock.left);
                Ok(SiteTablet {
                    label,
                    enrolled_at_ms,
                    last_push_at_ms,
                    app_version,
                    revoked_at_ms,
                    slots_left,
                    last_report,
                })
            })
            .collect()
    }
}

fn account(id: &str, name: String, role: &str) -> Result<Account> {
    Ok(Account {
        id: id.parse().context("a stored account id is not a uuid")?,
        name,
        role: ConsoleRole::parse(role)
            .with_context(|| format!("a stored account has the unknown role {role:?}"))?,
    })
}
