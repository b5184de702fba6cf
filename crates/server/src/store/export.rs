//! What an export reads, one participant at a time so a large trial never sits in
//! memory whole, and the record each export leaves of itself (no patient data).

use anyhow::{Context, Result};
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};
pub use trial::console::ExportRecord;
use trial::export::{Flag, Format, Logged, ParticipantLog, Person, Tablet};
use trial::wire::Author;
use uuid::Uuid;

use super::events::{EVENT_COLUMNS, EventRow};
use super::{Store, from_db, to_db};

impl Store {
    /// Where an export taken now ends: the server order of the last event
    /// stored. Pushes commit in the order of their numbers, so every event up to
    /// it is committed, and one stored while the export runs is in the next one.
    pub async fn export_cut(&self) -> Result<i64> {
        let (cut,): (i64,) =
            sqlx::query_as("SELECT value FROM counters WHERE name = 'event_server_seq'")
                .fetch_one(&self.pool)
                .await
                .context("cannot read where the stored events end")?;
        Ok(cut)
    }

    /// The site's participants, in the order the server first heard of each.
    pub async fn export_participants(&self, site_code: &str) -> Result<Vec<Uuid>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM participants WHERE site_code = $1 ORDER BY claimed_at_ms, id",
        )
        .bind(site_code)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot list the participants of site {site_code}"))?;
        rows.into_iter()
            .map(|(id,)| id.parse().context("a stored participant id is not a uuid"))
            .collect()
    }

    /// The site a participant belongs to (the site of the first device the
    /// server heard of them from), or none for an id it never heard of.
    pub async fn participant_site(&self, participant: Uuid) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT site_code FROM participants WHERE id = $1")
                .bind(participant.to_string())
                .fetch_optional(&self.pool)
                .await
                .with_context(|| format!("cannot read the site of participant {participant}"))?;
        Ok(row.map(|(site,)| site))
    }

    /// Everything the site's tablets stored about one participant up to `cut`
    /// ([`Store::export_cut`]), in the server's order, refused events included
    /// (they belong in the audit trail), with the flags raised on their
    /// randomisations.
    pub async fn export_log(
        &self,
        site_code: &str,
        participant: Uuid,
        cut: i64,
    ) -> Result<ParticipantLog> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE participant_id = $1
               AND device_id IN (SELECT id FROM devices WHERE site_code = $2)
               AND server_seq <= $3
             ORDER BY server_seq"
        );
        let rows: Vec<AnyRow> = sqlx::query(&sql)
            .bind(participant.to_string())
            .bind(site_code)
            .bind(cut)
            .fetch_all(&self.pool)
            .await
            .with_context(|| format!("cannot read the events of participant {participant}"))?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let event = EventRow::from_row(row)
                .context("cannot read a stored event")?
                .event()?;
            let code: Option<String> = row.try_get("rejection_code")?;
            let message: Option<String> = row.try_get("rejection_message")?;
            events.push(Logged {
                event,
                received_at_ms: row.try_get("received_at_ms")?,
                refusal: code.map(|code| format!("{code}: {}", message.unwrap_or_default())),
            });
        }
        let flags: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT f.event_id, f.code, f.message FROM allocation_flags f
             JOIN events e ON e.id = f.event_id
             WHERE e.participant_id = $1
               AND f.device_id IN (SELECT id FROM devices WHERE site_code = $2)
               AND e.server_seq <= $3
             ORDER BY e.server_seq, f.code",
        )
        .bind(participant.to_string())
        .bind(site_code)
        .bind(cut)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the flags of participant {participant}"))?;
        let flags = flags
            .into_iter()
            .map(|(event_id, code, message)| {
                Ok(Flag {
                    event_id: event_id
                        .parse()
                        .context("a stored event id is not a uuid")?,
                    code,
                    message,
                })
            })
            .collect::<Result<_>>()?;
        Ok(ParticipantLog {
            id: participant,
            events,
            flags,
        })
    }

    /// Everyone who ever was a user of the site, disabled or not, and every
    /// console account that corrected its data: the audit trail names them all.
    pub async fn export_people(&self, site_code: &str) -> Result<Vec<Person>> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT id, name, role FROM users WHERE site_code = $1
                 UNION
                 SELECT id, name, role FROM console_accounts WHERE id IN (
                     SELECT user_id FROM events WHERE device_id IN (
                         SELECT id FROM devices WHERE site_code = $1 AND console = 1))
                 ORDER BY name",
        )
        .bind(site_code)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the users of site {site_code}"))?;
        rows.into_iter()
            .map(|(id, name, role)| {
                Ok(Person {
                    id: id.parse().context("a stored user id is not a uuid")?,
                    name,
                    role,
                })
            })
            .collect()
    }

    /// The console accounts that recorded events at the site (its console
    /// device's corrections), by name: the tablets name them in the timeline.
    pub async fn console_authors(&self, site_code: &str) -> Result<Vec<Author>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, name FROM console_accounts WHERE id IN (
                 SELECT user_id FROM events WHERE device_id IN (
                     SELECT id FROM devices WHERE site_code = $1 AND console = 1))
             ORDER BY name",
        )
        .bind(site_code)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the console authors of site {site_code}"))?;
        rows.into_iter()
            .map(|(id, name)| {
                Ok(Author {
                    id: id.parse().context("a stored account id is not a uuid")?,
                    name,
                })
            })
            .collect()
    }

    /// Every tablet ever enrolled at the site, revoked or not: the audit trail
    /// names them, and so does every tablet's timeline.
    pub async fn site_tablets(&self, site_code: &str) -> Result<Vec<Tablet>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, label FROM devices WHERE site_code = $1 ORDER BY label")
                .bind(site_code)
                .fetch_all(&self.pool)
                .await
                .with_context(|| format!("cannot read the tablets of site {site_code}"))?;
        rows.into_iter()
            .map(|(id, label)| {
                Ok(Tablet {
                    id: id.parse().context("a stored device id is not a uuid")?,
                    label,
                })
            })
            .collect()
    }

    /// The CRF versions of the events the site's tablets stored up to `cut`, and
    /// how many events there are.
    pub async fn export_versions(&self, site_code: &str, cut: i64) -> Result<(Vec<u32>, u64)> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT schema_version, COUNT(*) FROM events
             WHERE device_id IN (SELECT id FROM devices WHERE site_code = $1)
               AND server_seq <= $2
             GROUP BY schema_version ORDER BY schema_version",
        )
        .bind(site_code)
        .bind(cut)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the CRF versions of site {site_code}"))?;
        let mut versions = Vec::with_capacity(rows.len());
        let mut events = 0;
        for (version, count) in rows {
            versions.push(u32::try_from(version).context("a stored schema version is negative")?);
            events += from_db(count)?;
        }
        Ok((versions, events))
    }

    /// Records an export that was written.
    pub async fn record_export(&self, export: &ExportRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO exports (id, site_code, format, requested_by, participants, events,
                 started_at_ms, finished_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(export.id.to_string())
        .bind(&export.site_code)
        .bind(export.format.as_str())
        .bind(&export.requested_by)
        .bind(to_db(export.participants)?)
        .bind(to_db(export.events)?)
        .bind(export.started_at_ms)
        .bind(export.finished_at_ms)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot record export {}", export.id))?;
        Ok(())
    }

    /// Every export of the site, oldest first.
    pub async fn exports(&self, site_code: &str) -> Result<Vec<ExportRecord>> {
        let rows: Vec<ExportRow> = sqlx::query_as(&format!(
            "SELECT {EXPORT_COLUMNS} FROM exports WHERE site_code = $1 ORDER BY started_at_ms, id"
        ))
        .bind(site_code)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the exports of site {site_code}"))?;
        rows.into_iter().map(export_record).collect()
    }

    /// The newest `limit` exports of every site, newest first.
    pub async fn recent_exports(&self, limit: i64) -> Result<Vec<ExportRecord>> {
        let rows: Vec<ExportRow> = sqlx::query_as(&format!(
            "SELECT {EXPORT_COLUMNS} FROM exports ORDER BY started_at_ms DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("cannot read the recent exports")?;
        rows.into_iter().map(export_record).collect()
    }
}

/// The columns an [`ExportRow`] reads, in its order.
const EXPORT_COLUMNS: &str =
    "id, site_code, format, requested_by, participants, events, started_at_ms, finished_at_ms";

/// One row of the `exports` table, as stored.
type ExportRow = (String, String, String, String, i64, i64, i64, i64);

/// An export as stored, read back.
fn export_record(row: ExportRow) -> Result<ExportRecord> {
    let (id, site_code, format, requested_by, participants, events, started, finished) = row;
    Ok(ExportRecord {
        id: id.parse().context("a stored export id is not a uuid")?,
        site_code,
        format: Format::parse(&format).context("a stored export's format")?,
        requested_by,
        participants: from_db(participants)?,
        events: from_db(events)?,
        started_at_ms: started,
        finished_at_ms: finished,
    })
}
