//! How events change a participant's state: [`project`] folds a whole log, and
//! [`Participant::apply`] one event on top of a state kept beside the log, which
//! gives the same state (see the module doc of `projection`).

use std::collections::BTreeMap;

use uuid::Uuid;

use super::model::{Anomaly, Change, FormRecord, Participant, Provenance, Recorded, order_key};
use crate::casebook;
use crate::crf::FormRef;
use crate::edits::{same_json, subject_of};
use crate::event::{Event, EventKind};
use crate::payload::{FormSaved, Payload, Randomised, ValueCorrected};
use crate::screening::Screening;
use crate::time::Calendar;

/// Occurs when an event belongs before events a participant's state has folded
/// already (it was recorded earlier, and arrived later): it cannot be folded on
/// top, so the holder folds the participant again from their events
/// ([`Participant::refold`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfOrder;

/// Folds `events` (of any participants, in the order they were received) into one
/// [`Participant`] per participant, in the order of each one's first event; dates
/// are read in the site's `calendar`.
///
/// The events must have passed `crate::event::verify_chain`: nothing here checks
/// hashes. A payload that cannot be read does not stop the projection; it is an
/// [`Anomaly`] of its participant, so one bad record never hides the others.
pub fn project(events: &[Event], calendar: &Calendar) -> Vec<Participant> {
    let mut participants: Vec<Participant> = Vec::new();
    let mut index_of: BTreeMap<Uuid, usize> = BTreeMap::new();
    // What the order of receipt decides (see the module doc).
    for event in events {
        let index = *index_of.entry(event.participant_id()).or_insert_with(|| {
            participants.push(Participant::new(event.participant_id(), calendar.clone()));
            participants.len() - 1
        });
        participants[index].receive(event);
    }
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|event| order_key(event));
    let mut seen: BTreeMap<Uuid, &Event> = BTreeMap::new();
    for event in sorted {
        let index = index_of[&event.participant_id()];
        participants[index].fold_unless_seen(event, &mut seen);
    }
    participants
}

impl Participant {
    /// The state of participant `id` before any event: nothing recorded. Dates
    /// are read in `calendar`.
    pub fn new(id: Uuid, calendar: Calendar) -> Self {
        Self {
            id,
            calendar,
            screening_number: None,
            screened_on: None,
            first_randomisation: None,
            unreadable_randomisation: None,
            screening: None,
            screenings: Vec::new(),
            consents: Vec::new(),
            randomisation: None,
            forms: BTreeMap::new(),
            withdrawal: None,
            not_enrolled: None,
            end: None,
            records: BTreeMap::new(),
            signature: None,
            subjects: BTreeMap::new(),
            conflicts: Vec::new(),
            anomalies: Vec::new(),
            first: None,
            last: None,
            events: 0,
        }
    }

    /// Participant `id` folded from their `events`, in the order received:
    /// what [`project`] gives for them.
    pub fn fold(id: Uuid, events: &[Event], calendar: &Calendar) -> Self {
        let mut participant = Self::new(id, calendar.clone());
        for event in events {
            participant.receive(event);
        }
        participant.fold_sorted(events);
        participant
    }

    /// Participant `id` folded from their `events` as a tablet folds them: a
    /// tablet does not record the order events arrived in, so it takes the order
    /// they were recorded in as that order, and the first screening and the
    /// first randomisation are the earliest recorded (the server, which knows the
    /// order of arrival, verifies by it). What `project` gives for the events in
    /// recorded order.
    pub fn fold_in_recorded_order(id: Uuid, events: &[Event], calendar: &Calendar) -> Self {
        let mut sorted: Vec<Event> = events.to_vec();
        sorted.sort_by_key(order_key);
        Self::fold(id, &sorted, calendar)
    }

    /// Whether `event` comes after every event folded so far, in the fold's
    /// order, so that [`Participant::apply`] folds it on top.
    pub fn folds_after(&self, event: &Event) -> bool {
        self.last.is_none_or(|last| order_key(event) > last)
    }

    /// Folds `event`, the next one received about this participant, into the
    /// state: afterwards the state is what [`project`] gives for every event
    /// received so far. Only this participant changes. The holder keeps each
    /// event id once (IndexedDB and the server both key events by id), so two
    /// different events never share one here.
    ///
    /// Fails with [`OutOfOrder`] when the event belongs before events already
    /// folded (or repeats one), or is the first screening to arrive after a
    /// randomisation was folded (which is judged knowing the screening tablet):
    /// what the order of receipt decides is recorded,
    /// and the holder calls [`Participant::refold`] with all of the
    /// participant's events, this one included. A tablet, which takes the
    /// recorded order as the order of receipt, folds afresh instead
    /// ([`Participant::fold_in_recorded_order`]).
    pub fn apply(&mut self, event: &Event) -> Result<(), OutOfOrder> {
        debug_assert_eq!(
            event.participant_id(),
            self.id,
            "an event of another participant"
        );
        // A randomisation is judged knowing which tablet screened the
        // participant, even when that screening arrives after it: one folded
        // before any screening arrived is judged again once one does.
        let judged_unscreened = self.screened_on.is_none() && self.randomisation.is_some();
        self.receive(event);
        if !self.folds_after(event) || (judged_unscreened && self.screened_on.is_some()) {
            return Err(OutOfOrder);
        }
        self.fold_one(event);
        Ok(())
    }

    /// Folds the participant again from all of their `events` received (in any
    /// order; an event repeated is folded once), keeping what the order of
    /// receipt decided: after [`Participant::apply`] refused an event as
    /// [`OutOfOrder`].
    pub fn refold(&mut self, events: &[Event]) {
        let mut fresh = Self::new(self.id, self.calendar.clone());
        fresh.screened_on = self.screened_on;
        fresh.first_randomisation = self.first_randomisation;
        for event in events {
            fresh.receive(event);
        }
        fresh.fold_sorted(events);
        *self = fresh;
    }

    /// Records what the order of receipt decides: the tablet of the first
    /// screening received, and the first randomisation received.
    fn receive(&mut self, event: &Event) {
        match event.kind() {
            EventKind::ScreeningRecorded => {
                self.screened_on.get_or_insert(event.device_id());
            }
            EventKind::Randomised => {
                self.first_randomisation.get_or_insert(event.id());
            }
            _ => {}
        }
    }

    /// Folds this participant's `events` in the fold's order.
    fn fold_sorted(&mut self, events: &[Event]) {
        let mut sorted: Vec<&Event> = events.iter().collect();
        sorted.sort_by_key(|event| order_key(event));
        let mut seen = BTreeMap::new();
        for event in sorted {
            self.fold_unless_seen(event, &mut seen);
        }
    }

    /// Folds `event` unless an event with its id was folded: the same event again
    /// is nothing new, another one with the same id is an anomaly.
    fn fold_unless_seen<'e>(&mut self, event: &'e Event, seen: &mut BTreeMap<Uuid, &'e Event>) {
        match seen.get(&event.id()) {
            Some(first) if *first == event => {}
            Some(_) => self.anomalies.push(Anomaly::DuplicateEventId {
                event_id: event.id(),
            }),
            None => {
                seen.insert(event.id(), event);
                self.fold_one(event);
            }
        }
    }

    /// Folds one event on top of the state: the fold's step, in the fold's order.
    fn fold_one(&mut self, event: &Event) {
        let key = order_key(event);
        self.first = Some(self.first.map_or(key, |first| first.min(key)));
        self.last = Some(self.last.map_or(key, |last| last.max(key)));
        self.events += 1;
        if casebook::is_record(event.kind()) {
            self.records.insert(event.id(), event.hash());
        }
        let by = Provenance::of(event);
        let payload = match Payload::parse(event.kind(), event.schema_version(), event.payload()) {
            Ok(payload) => payload,
            Err(error) => {
                if event.kind() == EventKind::Randomised {
                    self.unreadable_randomisation.get_or_insert(by.event_id);
                }
                self.anomalies.push(Anomaly::UnreadablePayload {
                    event_id: by.event_id,
                    error,
                });
                return;
            }
        };
        if let Some(subject) = subject_of(&payload) {
            let change = self
                .subjects
                .entry(subject)
                .or_default()
                .apply(event, &payload);
            self.conflicts.extend(change.conflicts);
        }
        match payload {
            Payload::ScreeningRecorded(body) => {
                match &self.screening_number {
                    None => self.screening_number = Some(body.screening_number),
                    Some(number) if *number != body.screening_number => {
                        self.anomalies.push(Anomaly::ScreeningNumberChanged {
                            event_id: by.event_id,
                            ignored: body.screening_number,
                        });
                    }
                    Some(_) => {}
                }
                // Screening again means the patient is considered again.
                self.not_enrolled = None;
                let screening = Screening::parse(&body.form)
                    .expect("invariant: Payload::parse validated the screening form");
                self.screenings.push(by);
                self.screening = Some(Recorded {
                    value: screening,
                    by,
                });
            }
            Payload::ConsentRecorded(form) => self.consents.push(Recorded { value: form, by }),
            Payload::Randomised(body) => self.randomise(body, by),
            Payload::FormSaved(body) => self.save_form(body, by),
            Payload::ValueCorrected(body) => self.correct(body, by),
            Payload::Withdrawn(body) => self.withdrawal = Some(Recorded { value: body, by }),
            Payload::EndOfParticipation(body) => self.end = Some(Recorded { value: body, by }),
            Payload::NotEnrolled(body) => self.not_enrolled = Some(Recorded { value: body, by }),
            Payload::CasebookSigned(body) => self.signature = Some(Recorded { value: body, by }),
            Payload::CasebookUnlocked(_) => self.signature = None,
        }
    }

    fn randomise(&mut self, body: Randomised, by: Provenance) {
        let kept = self.first_randomisation.unwrap_or(by.event_id);
        if kept != by.event_id {
            self.anomalies.push(Anomaly::RandomisedTwice {
                kept,
                ignored: by.event_id,
            });
            return;
        }
        // Judged at the event's own moment, not at a time its payload names.
        let refusals = self.refusals_but_randomised(by.recorded_at, by.device_id);
        if !refusals.is_empty() {
            self.anomalies.push(Anomaly::RandomisedAgainstTheRule {
                event_id: by.event_id,
                refusals,
            });
        }
        self.randomisation = Some(Recorded { value: body, by });
    }

    fn save_form(&mut self, body: FormSaved, by: Provenance) {
        let form_ref = body.form.form_ref();
        let fields = form_ref.kind().fields();
        match self.forms.get_mut(&form_ref) {
            None => {
                let history = fields
                    .iter()
                    .filter_map(|field| {
                        let new = body.form.value(*field)?;
                        (!new.is_null()).then_some(Change {
                            field: *field,
                            by,
                            old: None,
                            new,
                            reason: None,
                        })
                    })
                    .collect();
                self.forms.insert(
                    form_ref,
                    FormRecord {
                        form: body.form,
                        confirmed: body.confirmed,
                        first_saved: by,
                        history,
                    },
                );
            }
            Some(record) => {
                for field in fields {
                    let (Some(old), Some(new)) =
                        (record.form.value(*field), body.form.value(*field))
                    else {
                        continue;
                    };
                    if !same_json(&old, &new) {
                        let change = Change {
                            field: *field,
                            by,
                            old: Some(old),
                            new,
                            reason: None,
                        };
                        record.history.push(change);
                    }
                }
                record.form = body.form;
                record.confirmed = body.confirmed;
            }
        }
        self.check_in_context(form_ref, by);
    }

    fn correct(&mut self, body: ValueCorrected, by: Provenance) {
        let Some(record) = self.forms.get_mut(&body.form) else {
            self.anomalies.push(Anomaly::CorrectionOfUnsavedForm {
                event_id: by.event_id,
                form: body.form,
            });
            return;
        };
        let current = record
            .form
            .value(body.field)
            .expect("invariant: Payload::parse checked that the field is on the form");
        record
            .form
            .set_value(body.field, &body.new)
            .expect("invariant: Payload::parse checked the new entry's type");
        if !record.confirmed.contains(&body.field) {
            record.confirmed.push(body.field);
        }
        let change = Change {
            field: body.field,
            by,
            old: Some(current),
            new: body.new,
            reason: Some(body.reason),
        };
        record.history.push(change);
        self.check_in_context(body.form, by);
    }

    /// Re-validates a form after a change, with the participant's anchors (the
    /// ECMO start from the screening, T0 from the randomisation).
    fn check_in_context(&mut self, form: FormRef, by: Provenance) {
        let context = self.form_context();
        let record = self
            .forms
            .get(&form)
            .expect("invariant: called just after the form was saved or corrected");
        if let Err(errors) = record.form.validate(&record.confirmed, context) {
            self.anomalies.push(Anomaly::InvalidInContext {
                event_id: by.event_id,
                form,
                errors,
            });
        }
    }
}
