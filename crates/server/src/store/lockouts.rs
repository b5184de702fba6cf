//! The PIN lockouts tablets reported (`POST /api/lockouts`): the tablet's own
//! audit records, kept for the coordinator (`hp-ecmo-server queries`).

use anyhow::{Context, Result};
use trial::wire::PinLockout;
use uuid::Uuid;

use super::Store;

/// A lockout as the coordinator reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportedLockout {
    /// The tablet's label ("T1").
    pub tablet: String,
    /// Whose PIN was tried.
    pub user_name: String,
    /// The lockout as reported.
    pub lockout: PinLockout,
}

impl Store {
    /// Keeps the lockouts `device_id` reported, each once by id; returns how many
    /// it had not kept before.
    pub async fn record_lockouts(
        &self,
        device_id: Uuid,
        lockouts: &[PinLockout],
        now_ms: i64,
    ) -> Result<u32> {
        let mut stored = 0;
        for lockout in lockouts {
            let inserted = sqlx::query(
                "INSERT INTO pin_lockouts (id, device_id, user_id, at_ms, failures, wait_ms, received_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            )
            .bind(lockout.id.to_string())
            .bind(device_id.to_string())
            .bind(lockout.user_id.to_string())
            .bind(lockout.at_ms)
            .bind(i64::from(lockout.failures))
            .bind(lockout.wait_ms)
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .context("cannot keep a reported PIN lockout")?;
            if inserted.rows_affected() > 0 {
                stored += 1;
            }
        }
        Ok(stored)
    }

    /// Every lockout the site's tablets reported, oldest first.
    pub async fn lockouts(&self, site_code: &str) -> Result<Vec<ReportedLockout>> {
        let rows: Vec<(String, String, String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT l.id, d.label, u.id, u.name, l.at_ms, l.failures, l.wait_ms
             FROM pin_lockouts l
             JOIN devices d ON d.id = l.device_id
             JOIN users u ON u.id = l.user_id
             WHERE d.site_code = $1
             ORDER BY l.at_ms, l.id",
        )
        .bind(site_code)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the PIN lockouts of site {site_code}"))?;
        rows.into_iter()
            .map(
                |(id, tablet, user_id, user_name, at_ms, failures, wait_ms)| {
                    Ok(ReportedLockout {
                        tablet,
                        user_name,
                        lockout: PinLockout {
                            id: id.parse().context("a stored lockout id is not a uuid")?,
                            user_id: user_id.parse().context("a stored user id is not a uuid")?,
                            at_ms,
                            failures: u32::try_from(failures)
                                .context("a stored count is negative")?,
                            wait_ms,
                        },
                    })
                },
            )
            .collect()
    }
}
