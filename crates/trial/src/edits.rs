//! Concurrent edits (DESIGN.md, "Sync"): which changes of a field are *blind*, and
//! so open a data query.
//!
//! A change is blind when the field's value was last set by another device and the
//! event does not prove its user saw that value. A correction proves it when its
//! `old` equals the value it replaces; a saved form or a screening proves nothing
//! (neither carries old values), so a second device saving the same form instance,
//! or screening the same participant, with different values is blind. A blind
//! change still applies (the later event shows, as everywhere), and both values
//! stay in the history, but a [`Conflict`] is listed for a person to resolve. A
//! device always sees its own earlier events, so its own changes are never blind.
//! The rule errs towards a query: a device that pulled the other's value and then
//! re-saved the whole form instead of correcting it is reported too.
//!
//! A conflict over a form's field is resolved by the next correction of that
//! field, whoever makes it; one over the screening by the next screening, which
//! restates every answer.
//!
//! The rule needs, per field, only its current entry and who set it: a
//! [`SubjectState`] per subject (the screening, or one form instance). The
//! projection keeps one for each subject it folds; the server keeps them in its
//! database, so a push costs the same however long a participant's history is.
//! Both apply events in the projection's order (`recorded_at`, then id); an event
//! that belongs before ones already applied ([`SubjectState::folds_after`] is
//! false) means folding the subject's events again.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::crf::FormRef;
use crate::event::Event;
use crate::field::Field;
use crate::payload::Payload;
use crate::projection::Provenance;

/// What a data query is about: the screening, or one form instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// The screening form (CRF.md §1), which every screening event restates whole.
    Screening,
    /// One instance of a case report form.
    Form(FormRef),
}

/// Two devices changed the same field without either seeing the other's value:
/// the later shows, and a person decides.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    /// The screening or the form instance.
    pub subject: Subject,
    /// The field.
    pub field: Field,
    /// The later change, which shows.
    pub shown: Provenance,
    /// Its entry.
    pub shown_value: Value,
    /// The change it replaced without its user seeing it.
    pub overridden: Provenance,
    /// Its entry.
    pub overridden_value: Value,
}

/// One field's entry (its JSON, `null` when blank) and who set it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldHead {
    /// The entry.
    pub value: Value,
    /// Who set it: the last change of the field, or the first save of its form
    /// when it never changed.
    pub set_by: Provenance,
}

/// What the rule knows of one subject: each field's [`FieldHead`], and the last
/// event applied, which every later one must follow.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SubjectState {
    /// The order key (`recorded_at` in UTC ms, then id) of the last event applied.
    last: Option<(i64, Uuid)>,
    heads: BTreeMap<Field, FieldHead>,
}

/// What one event did to its subject's data queries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubjectChange {
    /// Each blind change it made, as a conflict.
    pub conflicts: Vec<Conflict>,
    /// The fields whose earlier conflicts it resolves.
    pub resolves: Vec<Field>,
}

/// The subject an event's body writes, if it writes one.
pub fn subject_of(payload: &Payload) -> Option<Subject> {
    match payload {
        Payload::ScreeningRecorded(_) => Some(Subject::Screening),
        Payload::FormSaved(body) => Some(Subject::Form(body.form.form_ref())),
        Payload::ValueCorrected(body) => Some(Subject::Form(body.form)),
        _ => None,
    }
}

impl SubjectState {
    /// Whether `event` comes after every event applied so far, in the
    /// projection's order: then [`SubjectState::apply`] may take it as it is.
    pub fn folds_after(&self, event: &Event) -> bool {
        self.last
            .is_none_or(|last| (event.recorded_at().utc_ms(), event.id()) > last)
    }

    /// Whether a form instance's state holds its first save yet (a correction of
    /// an unsaved form changes nothing).
    pub fn is_saved(&self) -> bool {
        !self.heads.is_empty()
    }

    /// The field's entry and who set it.
    pub fn head(&self, field: Field) -> Option<&FieldHead> {
        self.heads.get(&field)
    }

    /// Applies `event`, whose body is `payload`, if it writes this subject; the
    /// caller makes sure it [`SubjectState::folds_after`] the events applied.
    pub fn apply(&mut self, event: &Event, payload: &Payload) -> SubjectChange {
        let by = Provenance::of(event);
        match payload {
            Payload::ScreeningRecorded(_) => {
                self.restate(Subject::Screening, entries_written(payload), by)
            }
            Payload::FormSaved(body) => self.save(
                Subject::Form(body.form.form_ref()),
                entries_written(payload),
                by,
            ),
            Payload::ValueCorrected(body) => self.correct(
                Subject::Form(body.form),
                body.field,
                body.new.clone(),
                &body.old,
                by,
            ),
            _ => SubjectChange::default(),
        }
    }

    /// A form saved whole: the first save sets every field; a later one changes
    /// the fields whose entry differs, each blind unless this device set it.
    pub(crate) fn save(
        &mut self,
        subject: Subject,
        entries: Vec<(Field, Value)>,
        by: Provenance,
    ) -> SubjectChange {
        self.advance(&by);
        let first = !self.is_saved();
        let mut change = SubjectChange::default();
        for (field, new) in entries {
            match self.heads.get_mut(&field) {
                Some(head) if !first => {
                    if same_json(&head.value, &new) {
                        continue;
                    }
                    change
                        .conflicts
                        .extend(blind(subject, field, head, &new, None, by));
                    *head = FieldHead {
                        value: new,
                        set_by: by,
                    };
                }
                _ => {
                    self.heads.insert(
                        field,
                        FieldHead {
                            value: new,
                            set_by: by,
                        },
                    );
                }
            }
        }
        change
    }

    /// One field corrected: blind unless this device set it or the correction's
    /// `seen` is its entry; it resolves the field's earlier conflicts either way.
    pub(crate) fn correct(
        &mut self,
        subject: Subject,
        field: Field,
        new: Value,
        seen: &Value,
        by: Provenance,
    ) -> SubjectChange {
        self.advance(&by);
        if !self.is_saved() {
            return SubjectChange::default();
        }
        let head = self.heads.entry(field).or_insert_with(|| FieldHead {
            value: Value::Null,
            set_by: by,
        });
        let conflicts = blind(subject, field, head, &new, Some(seen), by)
            .into_iter()
            .collect();
        *head = FieldHead {
            value: new,
            set_by: by,
        };
        SubjectChange {
            conflicts,
            resolves: vec![field],
        }
    }

    /// A screening, restating every answer: each one it changes is blind unless
    /// this device gave the screening it replaces; it resolves every earlier
    /// conflict over the screening.
    fn restate(
        &mut self,
        subject: Subject,
        entries: Vec<(Field, Value)>,
        by: Provenance,
    ) -> SubjectChange {
        self.advance(&by);
        let mut change = SubjectChange::default();
        for (field, new) in entries {
            if let Some(head) = self.heads.get(&field)
                && !same_json(&head.value, &new)
            {
                change
                    .conflicts
                    .extend(blind(subject, field, head, &new, None, by));
            }
            change.resolves.push(field);
            self.heads.insert(
                field,
                FieldHead {
                    value: new,
                    set_by: by,
                },
            );
        }
        change
    }

    fn advance(&mut self, by: &Provenance) {
        self.last = Some((by.recorded_at.utc_ms(), by.event_id));
    }
}

/// The conflict of changing `head` to `new` by `by`, if the change is blind: the
/// module doc's rule. A change that keeps the value is nothing to disagree about.
fn blind(
    subject: Subject,
    field: Field,
    head: &FieldHead,
    new: &Value,
    seen: Option<&Value>,
    by: Provenance,
) -> Option<Conflict> {
    let proven_seen = seen.is_some_and(|seen| same_json(seen, &head.value));
    (head.set_by.device_id != by.device_id && !proven_seen && !same_json(&head.value, new)).then(
        || Conflict {
            subject,
            field,
            shown: by,
            shown_value: new.clone(),
            overridden: head.set_by,
            overridden_value: head.value.clone(),
        },
    )
}

/// Every field's entry `payload` writes: what the rule compares, and what a
/// data query shows of each of its two changes.
pub fn entries_written(payload: &Payload) -> Vec<(Field, Value)> {
    match payload {
        Payload::ScreeningRecorded(body) => object_entries(
            serde_json::to_value(&body.form)
                .expect("invariant: a screening form serialises to JSON"),
        ),
        Payload::FormSaved(body) => {
            let form = &body.form;
            form.kind()
                .fields()
                .iter()
                .filter_map(|field| Some((*field, form.value(*field)?)))
                .collect()
        }
        Payload::ValueCorrected(body) => vec![(body.field, body.new.clone())],
        _ => Vec::new(),
    }
}

/// The entries of a form serialised as an object whose keys are field keys.
fn object_entries(json: Value) -> Vec<(Field, Value)> {
    let Value::Object(object) = json else {
        return Vec::new();
    };
    object
        .into_iter()
        .filter_map(|(key, value)| Some((Field::from_key(&key)?, value)))
        .collect()
}

/// JSON equality that treats `12` and `12.0` as the same number, since a value may
/// have been written by another serialiser than the one reading it.
pub fn same_json(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => left.as_f64() == right.as_f64(),
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right)
                    .all(|(left, right)| same_json(left, right))
        }
        (Value::Object(left), Value::Object(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .all(|(key, value)| right.get(key).is_some_and(|other| same_json(value, other)))
        }
        _ => left == right,
    }
}

/// `screening`, or the form instance as [`FormRef`] shows it.
impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Screening => f.write_str("screening"),
            Self::Form(form) => form.fmt(f),
        }
    }
}
