//! What data queries are kept from: which screening or form instance each accepted
//! event writes (`event_subjects`), and what the blind-edit rule knows of each
//! (`subject_states`, `trial::edits::SubjectState` as JSON). A push reads and
//! writes the states of the subjects it touches only, so its cost does not grow
//! with a participant's history; a subject is folded again from its own events
//! when one arrives out of order.
//!
//! Every subject with an accepted event has a state (the start-up step
//! [`Store::record_missing_states`] makes sure of it for data stored before
//! states were kept), so a subject without one is new.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use sqlx::AnyConnection;
use trial::edits::{Subject, SubjectState, subject_of};
use trial::event::{Event, EventKind};
use trial::payload::Payload;
use trial::projection::project;
use trial::time::Calendar;
use uuid::Uuid;

use super::events::{EVENT_COLUMNS, EventRow};
use super::{NewEvent, PushTransaction, ROWS_PER_STATEMENT, Store, placeholders, value_rows};

/// What the screening is stored as where a subject is (`form_ref` of data
/// queries, `subject` of event subjects and states), beside the JSON of form
/// references (which never have this kind).
const SCREENING_JSON: &str = r#"{"kind":"screening"}"#;

/// A subject as stored.
pub(super) fn subject_json(subject: Subject) -> Result<String> {
    match subject {
        Subject::Screening => Ok(SCREENING_JSON.to_owned()),
        Subject::Form(form) => {
            serde_json::to_string(&form).context("a form reference always serialises")
        }
    }
}

/// A stored subject.
pub(super) fn read_subject(json: &str) -> Result<Subject> {
    if json == SCREENING_JSON {
        return Ok(Subject::Screening);
    }
    serde_json::from_str(json)
        .map(Subject::Form)
        .with_context(|| format!("stored form reference {json} does not read back"))
}

impl PushTransaction {
    /// Records which subject each of these stored events writes, for those that
    /// are valid data and write one.
    pub(super) async fn record_subjects(&mut self, stored: &[NewEvent]) -> Result<()> {
        let rows: Vec<(String, String, String)> = stored
            .iter()
            .filter(|new| new.rejection.is_none())
            .filter_map(|new| {
                let subject = new.subject?;
                Some((new.event.id(), new.event.participant_id(), subject))
            })
            .map(|(id, participant, subject)| {
                Ok((
                    id.to_string(),
                    participant.to_string(),
                    subject_json(subject)?,
                ))
            })
            .collect::<Result<_>>()?;
        insert_subjects(&mut self.tx, &rows).await
    }

    /// The stored states of these subjects; a subject missing from the answer
    /// is new.
    pub async fn subject_states(
        &mut self,
        subjects: impl Iterator<Item = (Uuid, Subject)>,
    ) -> Result<BTreeMap<(Uuid, Subject), SubjectState>> {
        let wanted: Vec<(Uuid, Subject)> = subjects.collect();
        let mut participants: Vec<String> = wanted
            .iter()
            .map(|(participant, _)| participant.to_string())
            .collect();
        participants.dedup();
        let mut states = BTreeMap::new();
        for chunk in participants.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT participant_id, subject, state FROM subject_states
                 WHERE participant_id IN ({})",
                placeholders(chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, String, String)>(&sql);
            for participant in chunk {
                query = query.bind(participant);
            }
            let rows = query
                .fetch_all(&mut *self.tx)
                .await
                .context("cannot read the subject states of a push")?;
            for (participant, subject, state) in rows {
                let key = (
                    participant
                        .parse()
                        .context("a participant id is not a uuid")?,
                    read_subject(&subject)?,
                );
                if wanted.contains(&key) {
                    let state = serde_json::from_str(&state).with_context(|| {
                        format!("a subject state of {} does not read back", key.0)
                    })?;
                    states.insert(key, state);
                }
            }
        }
        Ok(states)
    }

    /// Stores these subject states, each replacing the one before.
    pub async fn save_subject_states(
        &mut self,
        states: &[((Uuid, Subject), SubjectState)],
    ) -> Result<()> {
        let now_ms = self.now_ms;
        save_states(&mut self.tx, states, now_ms).await
    }

    /// The stored events that are valid data and write one subject of a
    /// participant, in the server's order: what the subject is folded again from
    /// when an event arrives out of order.
    pub async fn subject_events(
        &mut self,
        participant: Uuid,
        subject: Subject,
    ) -> Result<Vec<Event>> {
        subject_events(&mut self.tx, participant, subject).await
    }
}

impl Store {
    /// Records the subject of every accepted event stored before the server kept
    /// them (`event_subjects` came with migration 3; SQL cannot read payloads).
    /// Reads nothing once done.
    pub(super) async fn record_missing_subjects(&self) -> Result<()> {
        let kinds = [
            EventKind::ScreeningRecorded,
            EventKind::FormSaved,
            EventKind::ValueCorrected,
        ]
        .map(|kind| format!("'{}'", kind.as_str()))
        .join(", ");
        let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(&format!(
            "SELECT e.id, e.participant_id, e.kind, e.schema_version, e.payload FROM events e
             WHERE e.rejection_code IS NULL AND e.kind IN ({kinds})
               AND NOT EXISTS (SELECT 1 FROM event_subjects s WHERE s.event_id = e.id)"
        ))
        .fetch_all(&self.pool)
        .await
        .context("cannot look for events without a recorded subject")?;
        let mut missing = Vec::new();
        for (id, participant_id, kind, schema_version, payload) in rows {
            let kind: EventKind = serde_json::from_value(kind.into())
                .with_context(|| format!("stored event {id} has an unknown kind"))?;
            let schema_version = u32::try_from(schema_version)
                .with_context(|| format!("stored event {id} has a bad schema version"))?;
            // An accepted event parsed when it was stored; one that no longer does
            // (a later schema) has no subject this build can name.
            let subject = Payload::parse(kind, schema_version, &payload)
                .ok()
                .as_ref()
                .and_then(subject_of);
            if let Some(subject) = subject {
                missing.push((id, participant_id, subject_json(subject)?));
            }
        }
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("cannot reach the database")?;
        insert_subjects(&mut conn, &missing).await
    }

    /// Folds every subject that has events but no state (data stored before
    /// states were kept), so that a subject without one is new.
    pub(super) async fn record_missing_states(&self) -> Result<()> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT s.participant_id, s.subject FROM event_subjects s
             WHERE NOT EXISTS (SELECT 1 FROM subject_states t
                               WHERE t.participant_id = s.participant_id AND t.subject = s.subject)",
        )
        .fetch_all(&self.pool)
        .await
        .context("cannot look for subjects without a state")?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("cannot reach the database")?;
        let mut states = Vec::new();
        for (participant, subject) in rows {
            let participant: Uuid = participant
                .parse()
                .context("a participant id is not a uuid")?;
            let subject = read_subject(&subject)?;
            let events = subject_events(&mut conn, participant, subject).await?;
            // Which changes conflict does not depend on dates.
            let state = project(&events, &Calendar::Device)
                .into_iter()
                .find_map(|folded| folded.subject_state(subject).cloned())
                .unwrap_or_default();
            states.push(((participant, subject), state));
        }
        let now_ms = 0;
        save_states(&mut conn, &states, now_ms).await
    }
}

async fn insert_subjects(
    conn: &mut AnyConnection,
    rows: &[(String, String, String)],
) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO event_subjects (event_id, participant_id, subject) VALUES {}
             ON CONFLICT DO NOTHING",
            value_rows(chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for (id, participant, subject) in chunk {
            query = query.bind(id).bind(participant).bind(subject);
        }
        query
            .execute(&mut *conn)
            .await
            .context("cannot record the subjects of events")?;
    }
    Ok(())
}

async fn save_states(
    conn: &mut AnyConnection,
    states: &[((Uuid, Subject), SubjectState)],
    now_ms: i64,
) -> Result<()> {
    for chunk in states.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO subject_states (participant_id, subject, state, updated_at_ms) VALUES {}
             ON CONFLICT (participant_id, subject)
             DO UPDATE SET state = excluded.state, updated_at_ms = excluded.updated_at_ms",
            value_rows(chunk.len(), 4)
        );
        let mut query = sqlx::query(&sql);
        for ((participant, subject), state) in chunk {
            let json = serde_json::to_string(state).context("a subject state always serialises")?;
            query = query
                .bind(participant.to_string())
                .bind(subject_json(*subject)?)
                .bind(json)
                .bind(now_ms);
        }
        query
            .execute(&mut *conn)
            .await
            .context("cannot store subject states")?;
    }
    Ok(())
}

async fn subject_events(
    conn: &mut AnyConnection,
    participant: Uuid,
    subject: Subject,
) -> Result<Vec<Event>> {
    let columns: Vec<String> = EVENT_COLUMNS
        .split(", ")
        .map(|column| format!("e.{}", column.trim()))
        .collect();
    let sql = format!(
        "SELECT {} FROM events e JOIN event_subjects s ON s.event_id = e.id
         WHERE s.participant_id = $1 AND s.subject = $2 AND e.rejection_code IS NULL
         ORDER BY e.server_seq",
        columns.join(", ")
    );
    let rows: Vec<EventRow> = sqlx::query_as(&sql)
        .bind(participant.to_string())
        .bind(subject_json(subject)?)
        .fetch_all(&mut *conn)
        .await
        .with_context(|| format!("cannot read the events of participant {participant}"))?;
    rows.iter().map(EventRow::event).collect()
}
