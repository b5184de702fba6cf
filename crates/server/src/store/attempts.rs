//! Enrolment attempts per client address: what the rate limit on
//! `POST /api/enrol` counts.
//!
//! In the database rather than in a process's memory, because several server
//! processes may serve one PostgreSQL behind a load balancer, and a limit each
//! process counted alone would let a client try N times the codes by spreading
//! its requests (DESIGN.md: nothing a process keeps in memory may decide what
//! another could contradict).
//!
//! An attempt is recorded *before* it is let through and counted with everyone
//! else's, so two attempts racing at the limit cannot both pass: each sees the
//! other's row. An attempt the limit refuses is not kept, so a client that keeps
//! knocking while refused does not push its wait further out; one that did not
//! fail (the tablet enrolled) is forgotten, since only failures count.

use anyhow::{Context, Result};
use uuid::Uuid;

use super::Store;

/// An attempt that was let through and counts as failed until forgotten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptId(Uuid);

/// What the limit says about a new attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Within the limit: go on; the attempt counts unless forgotten.
    Admitted(AttemptId),
    /// Over the limit: refused, and not recorded.
    Refused {
        /// When the client may try again: when enough of its attempts have left
        /// the window.
        retry_after_ms: i64,
    },
}

impl Store {
    /// Records an attempt from `client` at `now_ms` and lets it through when,
    /// counting it, `client` has made at most `limit` attempts in the `window_ms`
    /// up to `now_ms`. Attempts that have left the window (anyone's) are deleted
    /// on the way, so the table holds only what the limit still counts.
    pub async fn admit_enrolment_attempt(
        &self,
        client: &str,
        limit: usize,
        window_ms: i64,
        now_ms: i64,
    ) -> Result<Admission> {
        let window_start_ms = now_ms - window_ms;
        sqlx::query("DELETE FROM enrolment_attempts WHERE attempted_at_ms <= $1")
            .bind(window_start_ms)
            .execute(&self.pool)
            .await
            .context("cannot delete enrolment attempts that left the window")?;
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO enrolment_attempts (id, client, attempted_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(id.to_string())
        .bind(client)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .context("cannot record an enrolment attempt")?;
        let others: Vec<(i64,)> = sqlx::query_as(
            "SELECT attempted_at_ms FROM enrolment_attempts \
             WHERE client = $1 AND attempted_at_ms > $2 AND id <> $3 \
             ORDER BY attempted_at_ms",
        )
        .bind(client)
        .bind(window_start_ms)
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .context("cannot count a client's enrolment attempts")?;
        // This attempt may pass once at most `limit - 1` others are in the window:
        // when the one at `others.len() - limit` has left it.
        let Some(waited_for) = (others.len() + 1)
            .checked_sub(limit + 1)
            .map(|index| others[index].0)
        else {
            return Ok(Admission::Admitted(AttemptId(id)));
        };
        self.forget_enrolment_attempt(AttemptId(id)).await?;
        Ok(Admission::Refused {
            retry_after_ms: (waited_for + window_ms - now_ms).max(1),
        })
    }

    /// Forgets an attempt that did not fail, so it does not count against its
    /// client.
    pub async fn forget_enrolment_attempt(&self, attempt: AttemptId) -> Result<()> {
        sqlx::query("DELETE FROM enrolment_attempts WHERE id = $1")
            .bind(attempt.0.to_string())
            .execute(&self.pool)
            .await
            .context("cannot forget an enrolment attempt")?;
        Ok(())
    }
}
