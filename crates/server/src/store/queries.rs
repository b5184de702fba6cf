//! Data queries and allocation flags: recorded in the push that raised them, and
//! listed for the coordinator by participant id and study number only.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use trial::field::Field;
use trial::projection::Subject;
use uuid::Uuid;

use super::subjects::{read_subject, subject_json};
use super::{PushTransaction, ROWS_PER_STATEMENT, Store, placeholders};
use crate::queries::{QueryChanges, QueryKey};

/// An open data query, as the coordinator's list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryReport {
    /// The participant.
    pub participant_id: Uuid,
    /// The participant's study number, once randomised.
    pub study_number: Option<String>,
    /// The screening or the form instance.
    pub subject: Subject,
    /// The field.
    pub field: Field,
    /// The change that shows, and the label of the tablet that made it.
    pub shown: (Uuid, String),
    /// The change it replaced unseen, and the label of the tablet that made it.
    pub overridden: (Uuid, String),
    /// When the server opened the query.
    pub opened_at_ms: i64,
}

/// An allocation flag, as the coordinator's list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagReport {
    /// The randomisation event.
    pub event_id: Uuid,
    /// The label of the tablet that reported it.
    pub device_label: String,
    /// The participant.
    pub participant_id: Uuid,
    /// The study number the randomisation gave, unless its payload cannot be
    /// read.
    pub study_number: Option<String>,
    /// `trial::allocation::AllocationFlag::code`.
    pub code: String,
    /// What is wrong, in plain words.
    pub message: String,
    /// When the server raised the flag.
    pub created_at_ms: i64,
}

/// A row of [`Store::allocation_flag_reports`], in its column order.
type FlagRow = (String, String, String, Option<String>, String, String, i64);

/// A row of [`Store::open_query_reports`], in its column order.
type QueryRow = (
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
);

impl PushTransaction {
    /// The keys of these participants' open queries.
    pub async fn open_queries(&mut self, participants: &BTreeSet<Uuid>) -> Result<Vec<QueryKey>> {
        let ids: Vec<String> = participants.iter().map(Uuid::to_string).collect();
        let mut keys = Vec::new();
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT participant_id, form_ref, field, shown_event_id FROM data_queries
                 WHERE participant_id IN ({}) AND closed_at_ms IS NULL",
                placeholders(chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, String, String, String)>(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            let rows = query
                .fetch_all(&mut *self.tx)
                .await
                .context("cannot read the open queries of a push's participants")?;
            for (participant, form, field, shown) in rows {
                keys.push(QueryKey {
                    participant_id: participant
                        .parse()
                        .context("a participant id is not a uuid")?,
                    subject: read_subject(&form)?,
                    field: read_field(&field)?,
                    shown_event_id: shown.parse().context("a query's event id is not a uuid")?,
                });
            }
        }
        Ok(keys)
    }

    /// Records new queries (a query recorded before, open or closed, stays as it
    /// is) and closes the resolved ones that are still open.
    pub async fn record_queries(&mut self, changes: &QueryChanges) -> Result<()> {
        for query in &changes.opened {
            let key = &query.key;
            sqlx::query(
                "INSERT INTO data_queries (participant_id, form_ref, field, shown_event_id,
                     overridden_event_id, site_code, opened_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(key.participant_id.to_string())
            .bind(subject_json(key.subject)?)
            .bind(key.field.key())
            .bind(key.shown_event_id.to_string())
            .bind(query.overridden_event_id.to_string())
            .bind(&self.site_code)
            .bind(self.now_ms)
            .execute(&mut *self.tx)
            .await
            .with_context(|| format!("cannot open a query on event {}", key.shown_event_id))?;
        }
        for closure in &changes.closed {
            let key = &closure.key;
            sqlx::query(
                "UPDATE data_queries SET closed_at_ms = $1, closed_by_event_id = $2
                 WHERE participant_id = $3 AND form_ref = $4 AND field = $5
                   AND shown_event_id = $6 AND closed_at_ms IS NULL",
            )
            .bind(self.now_ms)
            .bind(closure.correction_event_id.to_string())
            .bind(key.participant_id.to_string())
            .bind(subject_json(key.subject)?)
            .bind(key.field.key())
            .bind(key.shown_event_id.to_string())
            .execute(&mut *self.tx)
            .await
            .with_context(|| format!("cannot close the query on event {}", key.shown_event_id))?;
        }
        Ok(())
    }
}

impl Store {
    /// The site's open data queries, oldest first.
    pub async fn open_query_reports(&self, site_code: &str) -> Result<Vec<QueryReport>> {
        let rows: Vec<QueryRow> = sqlx::query_as(
            "SELECT q.participant_id, (
                        SELECT a.study_number FROM allocations a JOIN events r ON r.id = a.event_id
                        WHERE a.participant_id = q.participant_id ORDER BY r.server_seq LIMIT 1
                    ), q.form_ref, q.field, q.shown_event_id, shown_device.label,
                    q.overridden_event_id, overridden_device.label, q.opened_at_ms
                 FROM data_queries q
                 JOIN events shown ON shown.id = q.shown_event_id
                 JOIN devices shown_device ON shown_device.id = shown.device_id
                 JOIN events overridden ON overridden.id = q.overridden_event_id
                 JOIN devices overridden_device ON overridden_device.id = overridden.device_id
                 WHERE q.site_code = $1 AND q.closed_at_ms IS NULL
                 ORDER BY q.opened_at_ms, shown.server_seq",
        )
        .bind(site_code)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the open queries of site {site_code}"))?;
        rows.into_iter()
            .map(
                |(
                    participant,
                    study_number,
                    form,
                    field,
                    shown,
                    shown_by,
                    overridden,
                    overridden_by,
                    opened_at_ms,
                )| {
                    Ok(QueryReport {
                        participant_id: participant
                            .parse()
                            .context("a participant id is not a uuid")?,
                        study_number,
                        subject: read_subject(&form)?,
                        field: read_field(&field)?,
                        shown: (
                            shown.parse().context("an event id is not a uuid")?,
                            shown_by,
                        ),
                        overridden: (
                            overridden.parse().context("an event id is not a uuid")?,
                            overridden_by,
                        ),
                        opened_at_ms,
                    })
                },
            )
            .collect()
    }

    /// Every allocation flag raised on the site's tablets, oldest first.
    pub async fn allocation_flag_reports(&self, site_code: &str) -> Result<Vec<FlagReport>> {
        let rows: Vec<FlagRow> = sqlx::query_as(
            "SELECT f.event_id, d.label, e.participant_id, a.study_number, f.code, f.message,
                    f.created_at_ms
             FROM allocation_flags f
             JOIN devices d ON d.id = f.device_id
             JOIN events e ON e.id = f.event_id
             LEFT JOIN allocations a ON a.event_id = f.event_id
             WHERE d.site_code = $1
             ORDER BY e.server_seq, f.code",
        )
        .bind(site_code)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the allocation flags of site {site_code}"))?;
        rows.into_iter()
            .map(
                |(event, device_label, participant, study_number, code, message, created_at_ms)| {
                    Ok(FlagReport {
                        event_id: event.parse().context("an event id is not a uuid")?,
                        device_label,
                        participant_id: participant
                            .parse()
                            .context("a participant id is not a uuid")?,
                        study_number,
                        code,
                        message,
                        created_at_ms,
                    })
                },
            )
            .collect()
    }
}

fn read_field(key: &str) -> Result<Field> {
    serde_json::from_value(key.into())
        .with_context(|| format!("stored field {key} does not read back"))
}
