//! Data queries and allocation flags: recorded in the push that raised them, and
//! listed for the coordinator by participant id and study number only.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use sqlx::Row;
use sqlx::any::AnyRow;
use trial::edits::entries_written;
use trial::event::EventKind;
use trial::field::Field;
use trial::payload::Payload;
use trial::projection::Subject;
use trial::query::{DataQuery, QueryChange, QueryComment, QueryRef, QueryStatus};
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

impl Store {
    /// The data queries of a site (of every site when `site_code` is `None`; or
    /// the one `only` names), oldest first, each with
    /// both changes (entry, who, where, when) and its comments: what the console
    /// shows and resolves.
    pub async fn data_queries(
        &self,
        site_code: Option<&str>,
        status: QueryStatus,
        only: Option<QueryRef>,
    ) -> Result<Vec<DataQuery>> {
        // Who recorded a change: a tablet's user, or a console account.
        let change = |side: &str| {
            format!(
                "{side}.id, {side}.payload, {side}.kind, {side}.schema_version,
                 COALESCE((SELECT name FROM users WHERE id = {side}.user_id),
                          (SELECT name FROM console_accounts WHERE id = {side}.user_id),
                          {side}.user_id),
                 (SELECT label FROM devices WHERE id = {side}.device_id), {side}.recorded_at_ms"
            )
        };
        let sql = format!(
            "SELECT q.participant_id, q.form_ref, q.field, q.opened_at_ms, q.closed_at_ms, (
                        SELECT a.study_number FROM allocations a JOIN events r ON r.id = a.event_id
                        WHERE a.participant_id = q.participant_id ORDER BY r.server_seq LIMIT 1
                    ), {}, {}, q.site_code
             FROM data_queries q
             JOIN events shown ON shown.id = q.shown_event_id
             JOIN events overridden ON overridden.id = q.overridden_event_id
             WHERE ($1 = '' OR q.site_code = $1)
               AND ($2 = 'all' OR ($2 = 'open') = (q.closed_at_ms IS NULL))
               AND ($3 = '' OR (q.shown_event_id = $3 AND q.field = $4))
             ORDER BY q.opened_at_ms, shown.server_seq, q.field",
            change("shown"),
            change("overridden"),
        );
        let status_name = match status {
            QueryStatus::Open => "open",
            QueryStatus::Closed => "closed",
            QueryStatus::All => "all",
        };
        let everywhere = "every site";
        let rows: Vec<AnyRow> = sqlx::query(&sql)
            .bind(site_code.unwrap_or_default())
            .bind(status_name)
            .bind(
                only.map(|query| query.shown_event_id.to_string())
                    .unwrap_or_default(),
            )
            .bind(only.map(|query| query.field.key()).unwrap_or_default())
            .fetch_all(&self.pool)
            .await
            .with_context(|| {
                format!(
                    "cannot read the data queries of {}",
                    site_code.unwrap_or(everywhere)
                )
            })?;
        let mut comments = self.query_comments(site_code.unwrap_or_default()).await?;
        rows.iter()
            .map(|row| {
                let field = read_field(&row.try_get::<String, _>(2)?)?;
                let shown = read_change(row, 6, field)?;
                let overridden = read_change(row, 13, field)?;
                let query = QueryRef {
                    shown_event_id: shown.event_id,
                    field,
                };
                Ok(DataQuery {
                    query,
                    site: row.try_get(20)?,
                    participant_id: row
                        .try_get::<String, _>(0)?
                        .parse()
                        .context("a participant id is not a uuid")?,
                    study_number: row.try_get(5)?,
                    form: match read_subject(&row.try_get::<String, _>(1)?)? {
                        Subject::Screening => None,
                        Subject::Form(form) => Some(form),
                    },
                    shown,
                    overridden,
                    opened_at_ms: row.try_get(3)?,
                    closed_at_ms: row.try_get(4)?,
                    comments: comments.remove(&query).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Every comment on a site's queries (every site's for `""`), by query,
    /// oldest first.
    async fn query_comments(
        &self,
        site_code: &str,
    ) -> Result<BTreeMap<QueryRef, Vec<QueryComment>>> {
        let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(
            "SELECT c.shown_event_id, c.field, a.name, c.at_ms, c.text
             FROM data_query_comments c
             JOIN console_accounts a ON a.id = c.account_id
             WHERE c.shown_event_id IN (
                 SELECT shown_event_id FROM data_queries WHERE $1 = '' OR site_code = $1)
             ORDER BY c.at_ms, c.id",
        )
        .bind(site_code)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the query comments of site {site_code}"))?;
        let mut threads: BTreeMap<QueryRef, Vec<QueryComment>> = BTreeMap::new();
        for (shown, field, author, at_ms, text) in rows {
            let query = QueryRef {
                shown_event_id: shown.parse().context("an event id is not a uuid")?,
                field: read_field(&field)?,
            };
            threads.entry(query).or_default().push(QueryComment {
                author,
                at_ms,
                text,
            });
        }
        Ok(threads)
    }

    /// Adds a comment to a query's thread.
    pub async fn add_query_comment(
        &self,
        query: QueryRef,
        account_id: Uuid,
        at_ms: i64,
        text: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO data_query_comments (id, shown_event_id, field, account_id, at_ms, text)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(query.shown_event_id.to_string())
        .bind(query.field.key())
        .bind(account_id.to_string())
        .bind(at_ms)
        .bind(text)
        .execute(&self.pool)
        .await
        .context("cannot add a comment to a data query")?;
        Ok(())
    }

    /// The site a query belongs to, if there is such a query.
    pub async fn query_site(&self, query: QueryRef) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT site_code FROM data_queries WHERE shown_event_id = $1 AND field = $2",
        )
        .bind(query.shown_event_id.to_string())
        .bind(query.field.key())
        .fetch_optional(&self.pool)
        .await
        .context("cannot look up a data query")?;
        Ok(row.map(|(site,)| site))
    }
}

/// One change of a query, from the seven columns of its event from `at` on
/// (id, payload, kind, schema version, recorder, device, time): the entry its
/// payload wrote to `field`.
fn read_change(row: &AnyRow, at: usize, field: Field) -> Result<QueryChange> {
    let kind: String = row.try_get(at + 2)?;
    let kind: EventKind = serde_json::from_value(kind.clone().into())
        .with_context(|| format!("stored event kind {kind} does not read back"))?;
    let schema_version: i64 = row.try_get(at + 3)?;
    let payload: String = row.try_get(at + 1)?;
    let payload = Payload::parse(kind, u32::try_from(schema_version)?, &payload)
        .map_err(|error| anyhow::anyhow!("an accepted event does not parse: {error}"))?;
    let entry = entries_written(&payload)
        .into_iter()
        .find_map(|(written, entry)| (written == field).then_some(entry))
        .unwrap_or(serde_json::Value::Null);
    Ok(QueryChange {
        event_id: row
            .try_get::<String, _>(at)?
            .parse()
            .context("an event id is not a uuid")?,
        entry,
        user: row.try_get(at + 4)?,
        device: row.try_get(at + 5)?,
        recorded_at_ms: row.try_get(at + 6)?,
    })
}
