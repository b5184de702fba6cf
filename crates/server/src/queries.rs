//! Data queries (DESIGN.md, "Sync"): when two devices changed one field without
//! seeing each other's value, both values are kept, the later shows, and a query
//! is opened for a person to resolve.
//!
//! Which changes conflict is the trial core's decision (`trial::edits`). This
//! module only turns what the core finds into what the store records, so it is
//! tested without a database. A push usually applies its events to the stored
//! state of each subject they write ([`apply_in_order`]), reading nothing of the
//! participant's history; an event that belongs before ones already applied makes
//! it fold that subject's events again ([`reconcile`]). Both give:
//!
//! - each conflict is one query, identified by participant, form instance, field
//!   and the change that shows; recording it again changes nothing, and a closed
//!   query is never reopened;
//! - a query closes at the first correction (a `ValueCorrected` event, anyone's)
//!   of that field that comes after the change that shows, in the projection's
//!   order (`Participant::resolution`). A blind correction still closes it, and
//!   opens a query of its own.

use std::collections::BTreeSet;

use trial::edits::SubjectState;
use trial::event::Event;
use trial::field::Field;
use trial::payload::Payload;
use trial::projection::{Conflict, Participant, Subject};
use uuid::Uuid;

/// What identifies a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct QueryKey {
    /// The participant.
    pub participant_id: Uuid,
    /// The screening or the form instance.
    pub subject: Subject,
    /// The field.
    pub field: Field,
    /// The event whose change shows.
    pub shown_event_id: Uuid,
}

/// A query to record, unless it is recorded already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewQuery {
    /// Its identity.
    pub key: QueryKey,
    /// The event whose change was replaced unseen.
    pub overridden_event_id: Uuid,
}

/// A query to close, if it is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closure {
    /// The query.
    pub key: QueryKey,
    /// The correction that resolved it.
    pub correction_event_id: Uuid,
}

/// What to record for one participant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryChanges {
    /// Every conflict the projection lists, as a query.
    pub opened: Vec<NewQuery>,
    /// Every query, listed now or open before, that a later correction resolved.
    pub closed: Vec<Closure>,
}

/// The queries of one subject of `participant` (folded from that subject's
/// events), given the keys of its queries that are open: every conflict the
/// projection lists, and every query a later event resolved. What a push records
/// when it folds a subject again.
pub fn reconcile(participant: &Participant, subject: Subject, open: &[QueryKey]) -> QueryChanges {
    let opened: Vec<NewQuery> = participant
        .conflicts()
        .iter()
        .filter(|conflict| conflict.subject == subject)
        .map(|conflict| NewQuery {
            key: key_of(participant.id(), conflict),
            overridden_event_id: conflict.overridden.event_id,
        })
        .collect();
    let keys: BTreeSet<QueryKey> = opened
        .iter()
        .map(|query| query.key)
        .chain(open.iter().copied().filter(|key| key.subject == subject))
        .collect();
    let closed = keys
        .into_iter()
        .filter_map(|key| {
            resolution(participant, &key).map(|correction_event_id| Closure {
                key,
                correction_event_id,
            })
        })
        .collect();
    QueryChanges { opened, closed }
}

/// The queries of one subject of a participant when every one of `events` (with
/// their bodies, in the projection's order) folds after `state`: each is applied
/// to the state, closing the open queries on the fields it resolves, then opening
/// one per blind change it made. A push's usual case, which reads nothing of the
/// participant's history.
pub fn apply_in_order(
    participant: Uuid,
    state: &mut SubjectState,
    events: &[(Event, Payload)],
    open: &[QueryKey],
) -> QueryChanges {
    let mut changes = QueryChanges::default();
    let mut live: Vec<QueryKey> = open.to_vec();
    for (event, payload) in events {
        let change = state.apply(event, payload);
        live.retain(|key| {
            let resolved = change.resolves.contains(&key.field);
            if resolved {
                changes.closed.push(Closure {
                    key: *key,
                    correction_event_id: event.id(),
                });
            }
            !resolved
        });
        for conflict in &change.conflicts {
            let key = key_of(participant, conflict);
            live.push(key);
            changes.opened.push(NewQuery {
                key,
                overridden_event_id: conflict.overridden.event_id,
            });
        }
    }
    changes
}

fn key_of(participant_id: Uuid, conflict: &Conflict) -> QueryKey {
    QueryKey {
        participant_id,
        subject: conflict.subject,
        field: conflict.field,
        shown_event_id: conflict.shown.event_id,
    }
}

/// The correction that resolved the query, by the core's rule.
fn resolution(participant: &Participant, key: &QueryKey) -> Option<Uuid> {
    participant.resolution(key.subject, key.field, key.shown_event_id)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use trial::crf::FormRef;
    use trial::crf::cytokine::TimePoint;
    use trial::event::{ChainHead, Event, EventDraft};
    use trial::payload::{FormSaved, Payload, SCHEMA_VERSION, ValueCorrected};
    use trial::projection::project;
    use trial::time::Moment;

    use trial::time::Calendar;

    use super::*;

    const PARTICIPANT: Uuid = Uuid::from_u128(0xaa);
    const TABLET_1: Uuid = Uuid::from_u128(0xd1);
    const TABLET_2: Uuid = Uuid::from_u128(0xd2);

    const SAMPLE: FormRef = FormRef::CytokineSample {
        time_point: TimePoint::H6,
    };
    const ECMO_STARTED_MS: i64 = 1_772_323_200_000;

    /// A log of several devices, each with its own chain, one event a minute.
    #[derive(Default)]
    struct Log {
        events: Vec<Event>,
        heads: Vec<ChainHead>,
    }

    impl Log {
        fn record(&mut self, device: Uuid, payload: &Payload) -> Uuid {
            let minute = i64::try_from(self.events.len()).unwrap();
            let index = match self
                .heads
                .iter()
                .position(|head| head.device_id() == device)
            {
                Some(index) => index,
                None => {
                    self.heads.push(ChainHead::genesis(device));
                    self.heads.len() - 1
                }
            };
            let event = self.heads[index]
                .append(EventDraft {
                    id: Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 + minute as u128),
                    participant_id: PARTICIPANT,
                    user_id: Uuid::from_u128(1),
                    recorded_at: Moment::new(ECMO_STARTED_MS + minute * 60_000, 480).unwrap(),
                    kind: payload.kind(),
                    payload: payload.to_json(),
                    app_version: "0.1.0".to_owned(),
                    schema_version: SCHEMA_VERSION,
                })
                .unwrap();
            self.events.push(event);
            self.events.last().unwrap().id()
        }

        fn save_il6(&mut self, device: Uuid, il6: f64) -> Uuid {
            let sampled_at =
                json!({ "value": { "utc_ms": ECMO_STARTED_MS, "offset_minutes": 480 } });
            let form = SAMPLE
                .form_with([
                    (Field::SampledAt, sampled_at),
                    (Field::Il6PgPerMl, json!({ "value": il6 })),
                ])
                .unwrap();
            self.record(
                device,
                &Payload::FormSaved(FormSaved {
                    form,
                    confirmed: vec![],
                }),
            )
        }

        fn correct_il6(&mut self, device: Uuid, old: f64, new: f64) -> Uuid {
            self.record(
                device,
                &Payload::ValueCorrected(ValueCorrected {
                    form: SAMPLE,
                    field: Field::Il6PgPerMl,
                    old: json!({ "value": old }),
                    new: json!({ "value": new }),
                    reason: "transcription".to_owned(),
                    confirms: None,
                }),
            )
        }

        fn changes(&self, open: &[QueryKey]) -> QueryChanges {
            let participants = project(&self.events, &Calendar::Device);
            reconcile(&participants[0], Subject::Form(SAMPLE), open)
        }
    }

    fn key(shown_event_id: Uuid) -> QueryKey {
        QueryKey {
            participant_id: PARTICIPANT,
            subject: Subject::Form(SAMPLE),
            field: Field::Il6PgPerMl,
            shown_event_id,
        }
    }

    #[test]
    fn a_blind_save_opens_a_query_and_a_later_correction_closes_it() {
        let mut log = Log::default();
        let first = log.save_il6(TABLET_1, 600.0);
        assert_eq!(log.changes(&[]), QueryChanges::default());
        let second = log.save_il6(TABLET_2, 700.0);
        let opened = vec![NewQuery {
            key: key(second),
            overridden_event_id: first,
        }];
        assert_eq!(
            log.changes(&[]),
            QueryChanges {
                opened: opened.clone(),
                closed: vec![],
            }
        );
        // Tablet 2 corrects its own value, having seen it: not blind, but it
        // resolves the query.
        let correction = log.correct_il6(TABLET_2, 700.0, 650.0);
        assert_eq!(
            log.changes(&[key(second)]),
            QueryChanges {
                opened,
                closed: vec![Closure {
                    key: key(second),
                    correction_event_id: correction,
                }],
            }
        );
    }

    #[test]
    fn a_blind_correction_closes_one_query_and_opens_another() {
        let mut log = Log::default();
        let first = log.save_il6(TABLET_1, 600.0);
        let second = log.save_il6(TABLET_2, 700.0);
        // Tablet 1 never saw 700.
        let correction = log.correct_il6(TABLET_1, 600.0, 620.0);
        let changes = log.changes(&[key(second)]);
        assert_eq!(
            changes.opened,
            [
                NewQuery {
                    key: key(second),
                    overridden_event_id: first,
                },
                NewQuery {
                    key: key(correction),
                    overridden_event_id: second,
                },
            ]
        );
        assert_eq!(
            changes.closed,
            [Closure {
                key: key(second),
                correction_event_id: correction,
            }]
        );
    }

    #[test]
    fn a_save_does_not_resolve_and_unknown_queries_stay_open() {
        let mut log = Log::default();
        log.save_il6(TABLET_1, 600.0);
        let second = log.save_il6(TABLET_2, 700.0);
        log.save_il6(TABLET_2, 750.0);
        let changes = log.changes(&[key(second), key(Uuid::from_u128(99))]);
        assert_eq!(changes.closed, []);
        assert_eq!(changes.opened.len(), 1);
    }

    #[test]
    fn applying_events_in_order_finds_what_folding_again_finds() {
        let mut log = Log::default();
        log.save_il6(TABLET_1, 600.0);
        log.save_il6(TABLET_2, 700.0);
        log.correct_il6(TABLET_1, 600.0, 620.0);
        log.correct_il6(TABLET_2, 620.0, 640.0);
        log.save_il6(TABLET_1, 660.0);
        let mut state = SubjectState::default();
        let mut open: Vec<QueryKey> = Vec::new();
        let (mut opened, mut closed) = (BTreeSet::new(), BTreeSet::new());
        for event in &log.events {
            let payload = Payload::of_event(event).unwrap();
            let changes =
                apply_in_order(PARTICIPANT, &mut state, &[(event.clone(), payload)], &open);
            for closure in &changes.closed {
                open.retain(|key| *key != closure.key);
                closed.insert((closure.key, closure.correction_event_id));
            }
            for query in &changes.opened {
                open.push(query.key);
                opened.insert((query.key, query.overridden_event_id));
            }
        }
        let folded = log.changes(&[]);
        let expected_opened: BTreeSet<_> = folded
            .opened
            .iter()
            .map(|query| (query.key, query.overridden_event_id))
            .collect();
        let expected_closed: BTreeSet<_> = folded
            .closed
            .iter()
            .map(|closure| (closure.key, closure.correction_event_id))
            .collect();
        assert_eq!(opened, expected_opened);
        assert_eq!(closed, expected_closed);
        assert_eq!(opened.len(), 3, "{opened:?}");
        let participant = project(&log.events, &Calendar::Device).remove(0);
        assert_eq!(
            Some(&state),
            participant.subject_state(Subject::Form(SAMPLE))
        );
    }
}
