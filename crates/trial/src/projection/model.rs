//! A participant's current state, folded from their events: what the home screen,
//! the forms and the coordinator's data queries show.
//!
//! Nothing is stored but the log (DESIGN.md, "Records"); every screen is a
//! projection of it, so any device holding the same events shows the same state.
//! To make that true whatever order events arrived in, [`project`] first sorts
//! them by `recorded_at` and then by event id, and folds them in that order.
//!
//! Two facts are decided by the order the holder *received* events in instead
//! (the order of the slice given to [`project`]: the server's order on the server,
//! the store's on a tablet), because device clocks can be set to anything: which
//! tablet screened the participant first, and which randomisation came first. A
//! participant's id is made by the tablet that screens them, and any other tablet
//! learns it only through the server, so the screening tablet's events always
//! reach the server first, whatever another tablet's clock says.
//!
//! # Rules
//!
//! - **Screening**: the latest screening form counts; the screening number is the
//!   first one given. A screening from another device than the one whose
//!   screening it replaces changes its answers blind (a screening carries no old
//!   values), so each answer it changes is a [`Conflict`], as for forms.
//! - **Randomisation is set once**, by the first `Randomised` event received. Any
//!   other never overwrites it; it is listed as an [`Anomaly`]. A randomisation
//!   that [`Participant::may_randomise`] would have refused at its moment, over
//!   the events recorded before it, is listed too, with the reasons: the rule the
//!   tablet applies before the tap is the rule its record is checked by. A
//!   randomisation whose payload cannot be read still counts as one: the patient
//!   may have been allocated, so nobody may randomise them again.
//! - **Forms** keep every value they ever held: each change records who, when, the
//!   old and new entry, and the reason for a correction.
//! - **Concurrent edits** are decided by `crate::edits`, one [`SubjectState`] per
//!   screening or form instance: a blind change still applies (the later event
//!   shows, as everywhere), and both values stay in the history, but a
//!   [`Conflict`] is listed for a person to resolve.
//! - **Checks against the ECMO start** (sample windows, outcome dates), which a
//!   payload cannot make on its own, are re-run here with the participant's
//!   screening; a failure is an [`Anomaly`], not a refusal, since the event is
//!   already in everyone's log.
//! - **Withdrawal and end**: the latest of each counts; the arm never changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::crf::consent::ConsentForm;
use crate::crf::cytokine::{Il6Change, SampleDue, SampleWindow, TimePoint, il6_change};
use crate::crf::end::{EndOfParticipation, EndStatus, NotEnrolled, Withdrawal};
use crate::crf::{Form, FormContext, FormRef};
pub use crate::edits::{Conflict, Subject};
use crate::edits::{SubjectState, same_json, subject_of};
use crate::eligibility::{Assessment, Outcome, assess};
use crate::event::{Event, EventKind};
use crate::field::{Field, FieldError};
use crate::payload::{
    FormSaved, MAX_MS_AFTER_RECORDING, Payload, PayloadError, Randomised, StudyNumber,
    ValueCorrected,
};
use crate::randomisation::Arm;
use crate::screening::Screening;
use crate::time::{Calendar, Moment};

/// Who recorded something, on which device, when, and in which event: the audit
/// trail of every value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The event that recorded it.
    pub event_id: Uuid,
    /// The device the event was recorded on.
    pub device_id: Uuid,
    /// The signed-in user who acted.
    pub user_id: Uuid,
    /// When, on the device's clock.
    pub recorded_at: Moment,
}

/// A record and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded<T> {
    /// What was recorded.
    pub value: T,
    /// Who recorded it, where and when.
    pub by: Provenance,
}

/// One change of one field of a form: the unit of its history.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The field changed.
    pub field: Field,
    /// Who changed it, where and when.
    pub by: Provenance,
    /// The entry before (`null` when blank); `None` for the form's first save.
    pub old: Option<Value>,
    /// The entry after (`null` when blank).
    pub new: Value,
    /// The reason given for a correction; `None` when a form was saved.
    pub reason: Option<String>,
}

/// A form instance as it stands, with its whole history.
#[derive(Clone, Debug, PartialEq)]
pub struct FormRecord {
    form: Form,
    confirmed: Vec<Field>,
    first_saved: Provenance,
    history: Vec<Change>,
}

/// Something in a participant's log that the rules forbid but the log already
/// holds: listed for the coordinator, never silently accepted or dropped.
#[derive(Clone, Debug, PartialEq)]
pub enum Anomaly {
    /// Occurs when an event's payload cannot be read or fails validation; the event
    /// is left out of the projection.
    UnreadablePayload {
        /// The event.
        event_id: Uuid,
        /// Why it was refused.
        error: PayloadError,
    },
    /// Occurs when two different events share one id; the second is left out.
    DuplicateEventId {
        /// The shared id.
        event_id: Uuid,
    },
    /// Occurs when a later screening gives another screening number; the first
    /// number stays.
    ScreeningNumberChanged {
        /// The later screening event.
        event_id: Uuid,
        /// The number it gave, which is not used.
        ignored: String,
    },
    /// Occurs when a participant is randomised a second time; the first
    /// randomisation received stays.
    RandomisedTwice {
        /// The randomisation that stands (perhaps one whose payload cannot be read).
        kept: Uuid,
        /// The other one, which is not used.
        ignored: Uuid,
    },
    /// Occurs when the randomisation that stands was made while
    /// [`Participant::may_randomise`] would have refused it, judged at its
    /// `recorded_at` over the events recorded before it.
    RandomisedAgainstTheRule {
        /// The randomisation.
        event_id: Uuid,
        /// Every reason the rule gives, in the rule's order.
        refusals: Vec<RandomiseRefusal>,
    },
    /// Occurs when a correction names a form instance that was never saved; the
    /// correction is left out.
    CorrectionOfUnsavedForm {
        /// The correction.
        event_id: Uuid,
        /// The form it names.
        form: FormRef,
    },
    /// Occurs when a form, as saved or corrected, fails a check that needs the
    /// participant's screening (the sample window, the outcome dates) or spans
    /// fields a correction changed separately; the values still show.
    InvalidInContext {
        /// The event after which the form failed.
        event_id: Uuid,
        /// The form instance.
        form: FormRef,
        /// Every problem found.
        errors: Vec<FieldError>,
    },
}

/// A departure from the protocol that the data show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deviation {
    /// A standard-care participant had a hemoperfusion session (CRF.md §6).
    HemoperfusionInStandardCare {
        /// The session.
        session_id: Uuid,
    },
}

/// Where a participant stands, for the home screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Screened, but answers are missing (or ECMO has not started yet).
    ScreeningIncomplete,
    /// A criterion fails, including the ECMO window having passed.
    NotEligible,
    /// Eligible now; may be randomised once consent is recorded.
    Eligible,
    /// Randomised and in follow-up.
    Randomised {
        /// The allocated arm.
        arm: Arm,
    },
    /// Withdrawn (the arm stays for analysis).
    Withdrawn,
    /// Follow-up completed.
    Completed,
    /// Lost to follow-up.
    LostToFollowUp,
    /// Screened, and not enrolled for the reason recorded.
    NotEnrolled,
}

/// Why a participant may not be randomised at a given moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RandomiseRefusal {
    /// Occurs when the participant was randomised already: the first allocation
    /// stands.
    AlreadyRandomised,
    /// Occurs when the screening is not (or no longer) eligible, for example once
    /// ECMO has run for 24 hours; carries the outcome that says why.
    NotEligible(Outcome),
    /// Occurs when no consent is recorded.
    NoConsent,
    /// Occurs when another tablet screened the participant: only that tablet
    /// randomises them (DESIGN.md, "Randomisation"), so two tablets holding the
    /// same pulled screening can never both allocate.
    ScreenedOnAnotherDevice,
    /// Occurs when the patient was recorded as not enrolled, and no screening
    /// since has reopened it.
    NotEnrolled,
}

/// The next cytokine sample a participant needs, for the home screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextSample {
    /// The earliest time point with nothing recorded.
    pub time_point: TimePoint,
    /// Its window.
    pub window: SampleWindow,
    /// Where now stands against the window.
    pub due: SampleDue,
}

/// One participant's state, folded from their events by [`project`].
#[derive(Clone, Debug, PartialEq)]
pub struct Participant {
    id: Uuid,
    /// Where dates are read: the site's time zone.
    calendar: Calendar,
    screening_number: Option<String>,
    /// The tablet of the first screening received: the only one that may
    /// randomise, however many tablets edit the screening later.
    screened_on: Option<Uuid>,
    /// The first randomisation received, readable or not: the one that stands.
    first_randomisation: Option<Uuid>,
    /// A randomisation whose payload cannot be read: the participant may have
    /// been allocated.
    unreadable_randomisation: Option<Uuid>,
    screening: Option<Recorded<Screening>>,
    /// Every screening, in the fold's order: what resolves a screening conflict.
    screenings: Vec<Provenance>,
    consents: Vec<Recorded<ConsentForm>>,
    randomisation: Option<Recorded<Randomised>>,
    forms: BTreeMap<FormRef, FormRecord>,
    withdrawal: Option<Recorded<Withdrawal>>,
    /// Set by a `NotEnrolled` event, cleared by a later screening.
    not_enrolled: Option<Recorded<NotEnrolled>>,
    end: Option<Recorded<EndOfParticipation>>,
    /// What the blind-edit rule knows of each screening or form instance.
    subjects: BTreeMap<Subject, SubjectState>,
    conflicts: Vec<Conflict>,
    anomalies: Vec<Anomaly>,
}

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
        let participant = &mut participants[index];
        match event.kind() {
            EventKind::ScreeningRecorded => {
                participant.screened_on.get_or_insert(event.device_id());
            }
            EventKind::Randomised => {
                participant.first_randomisation.get_or_insert(event.id());
            }
            _ => {}
        }
    }
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|event| (event.recorded_at(), event.id()));
    let mut seen: BTreeMap<Uuid, &Event> = BTreeMap::new();
    for event in sorted {
        let index = index_of[&event.participant_id()];
        let participant = &mut participants[index];
        match seen.get(&event.id()) {
            Some(first) if *first == event => {}
            Some(_) => participant.anomalies.push(Anomaly::DuplicateEventId {
                event_id: event.id(),
            }),
            None => {
                seen.insert(event.id(), event);
                participant.apply(event);
            }
        }
    }
    participants
}

impl Provenance {
    /// Who recorded `event`, where and when.
    pub fn of(event: &Event) -> Self {
        Self {
            event_id: event.id(),
            device_id: event.device_id(),
            user_id: event.user_id(),
            recorded_at: event.recorded_at(),
        }
    }
}

impl FormRecord {
    /// The form with every field's current entry.
    pub fn form(&self) -> &Form {
        &self.form
    }

    /// The fields whose unusual values were confirmed (on saving, or by a
    /// correction).
    pub fn confirmed(&self) -> &[Field] {
        &self.confirmed
    }

    /// The form's first save.
    pub fn first_saved(&self) -> &Provenance {
        &self.first_saved
    }

    /// Every change of every field, oldest first.
    pub fn history(&self) -> &[Change] {
        &self.history
    }

    /// The changes of one field, oldest first.
    pub fn field_history(&self, field: Field) -> impl Iterator<Item = &Change> {
        self.history
            .iter()
            .filter(move |change| change.field == field)
    }
}

impl Participant {
    fn new(id: Uuid, calendar: Calendar) -> Self {
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
            subjects: BTreeMap::new(),
            conflicts: Vec::new(),
            anomalies: Vec::new(),
        }
    }

    /// The participant's id, as every event names it.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The screening number the tablet gave at the first screening.
    pub fn screening_number(&self) -> Option<&str> {
        self.screening_number.as_deref()
    }

    /// The tablet whose screening of the participant was received first, and so
    /// the only one that may randomise them.
    pub fn screened_on(&self) -> Option<Uuid> {
        self.screened_on
    }

    /// The latest screening, validated.
    pub fn screening(&self) -> Option<&Recorded<Screening>> {
        self.screening.as_ref()
    }

    /// The ECMO start from the latest screening, from which samples are timed.
    pub fn ecmo_started_at(&self) -> Option<Moment> {
        self.screening
            .as_ref()
            .and_then(|screening| screening.value.form().ecmo_started_at)
    }

    /// Every consent recorded, oldest first (a representative's, then perhaps the
    /// patient's own).
    pub fn consents(&self) -> &[Recorded<ConsentForm>] {
        &self.consents
    }

    /// The randomisation, set once by the first `Randomised` event.
    pub fn randomisation(&self) -> Option<&Recorded<Randomised>> {
        self.randomisation.as_ref()
    }

    /// The allocated arm.
    pub fn arm(&self) -> Option<Arm> {
        self.randomisation.as_ref().map(|record| record.value.arm)
    }

    /// The study number given at randomisation.
    pub fn study_number(&self) -> Option<&StudyNumber> {
        self.randomisation
            .as_ref()
            .map(|record| &record.value.study_number)
    }

    /// Every saved form instance, ordered by kind and instance.
    pub fn forms(&self) -> impl Iterator<Item = &FormRecord> {
        self.forms.values()
    }

    /// One form instance, if it was saved.
    pub fn form(&self, form: FormRef) -> Option<&FormRecord> {
        self.forms.get(&form)
    }

    /// The latest withdrawal.
    pub fn withdrawal(&self) -> Option<&Recorded<Withdrawal>> {
        self.withdrawal.as_ref()
    }

    /// The latest end of follow-up.
    pub fn end(&self) -> Option<&Recorded<EndOfParticipation>> {
        self.end.as_ref()
    }

    /// Why the patient was not enrolled, unless a screening since reopened it.
    pub fn not_enrolled(&self) -> Option<&Recorded<NotEnrolled>> {
        self.not_enrolled.as_ref()
    }

    /// What the blind-edit rule knows of a screening or form instance: what the
    /// server keeps to judge the next event without folding the whole log.
    pub fn subject_state(&self, subject: Subject) -> Option<&SubjectState> {
        self.subjects.get(&subject)
    }

    /// Every concurrent edit found, for data queries, in the order found.
    pub fn conflicts(&self) -> &[Conflict] {
        &self.conflicts
    }

    /// The event that resolved a conflict over `field` of `subject` whose
    /// showing change is the event `shown_event_id`: for a form, the first
    /// correction of the field after that change, whoever made it; for the
    /// screening, the first screening after it (a screening restates every
    /// answer). A data query stays open until there is one.
    pub fn resolution(&self, subject: Subject, field: Field, shown_event_id: Uuid) -> Option<Uuid> {
        match subject {
            Subject::Screening => {
                let mut screenings = self
                    .screenings
                    .iter()
                    .skip_while(|by| by.event_id != shown_event_id);
                screenings.next()?;
                screenings.next().map(|by| by.event_id)
            }
            Subject::Form(form) => {
                let mut changes = self
                    .form(form)?
                    .field_history(field)
                    .skip_while(|change| change.by.event_id != shown_event_id);
                changes.next()?;
                changes
                    .find(|change| change.reason.is_some())
                    .map(|change| change.by.event_id)
            }
        }
    }

    /// The conflicts nothing has resolved yet: the open data queries, which the
    /// tablet shows beside their fields.
    pub fn open_conflicts(&self) -> impl Iterator<Item = &Conflict> {
        self.conflicts.iter().filter(|conflict| {
            self.resolution(conflict.subject, conflict.field, conflict.shown.event_id)
                .is_none()
        })
    }

    /// Everything in the log the rules forbid, in the order found.
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }

    /// The protocol deviations the data show.
    pub fn deviations(&self) -> Vec<Deviation> {
        if self.arm() != Some(Arm::StandardCare) {
            return Vec::new();
        }
        self.forms
            .keys()
            .filter_map(|form| match form {
                FormRef::HemoperfusionSession { session_id } => {
                    Some(Deviation::HemoperfusionInStandardCare {
                        session_id: *session_id,
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// The eligibility of the latest screening at `now`, or at the screening time
    /// if `now` is earlier (another device's clock ran ahead); `None` before any
    /// screening, an error when ECMO starts after that moment.
    pub fn assessment(&self, now: Moment) -> Option<Result<Assessment, FieldError>> {
        let screening = &self.screening.as_ref()?.value;
        Some(assess(
            screening,
            now.max(screening.form().screened_at),
            &self.calendar,
        ))
    }

    /// Whether the participant may be randomised at `now`: not randomised yet,
    /// not recorded as not enrolled, eligible at that very moment (the 24-hour
    /// ECMO window included) by a screening made by then, screened on `device_id`
    /// (the tablet asking), consented by then. The tablet asks before enabling the
    /// button and again at the tap; the fold asks of every randomisation at its
    /// moment, which is how the server verifies a pushed one
    /// (`crate::allocation`). The first reason, if any.
    pub fn may_randomise(&self, now: Moment, device_id: Uuid) -> Result<(), RandomiseRefusal> {
        match self.randomise_refusals(now, device_id).into_iter().next() {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        }
    }

    /// Every reason [`Participant::may_randomise`] has to refuse, in its order.
    pub fn randomise_refusals(&self, now: Moment, device_id: Uuid) -> Vec<RandomiseRefusal> {
        let mut refusals = Vec::new();
        if self.randomisation.is_some() || self.unreadable_randomisation.is_some() {
            refusals.push(RandomiseRefusal::AlreadyRandomised);
        }
        refusals.extend(self.refusals_but_randomised(now, device_id));
        refusals
    }

    /// The rule's reasons other than an earlier randomisation, which the fold
    /// decides by the order of receipt.
    fn refusals_but_randomised(&self, now: Moment, device_id: Uuid) -> Vec<RandomiseRefusal> {
        // A time a little after `now` is a clock read ahead, as for every time a
        // payload records; anything later had not happened yet.
        let by_then = |moment: Moment| moment.ms_since(now) <= MAX_MS_AFTER_RECORDING;
        let mut refusals = Vec::new();
        if self.not_enrolled.is_some() {
            refusals.push(RandomiseRefusal::NotEnrolled);
        }
        let screening = self
            .screening
            .as_ref()
            .filter(|screening| by_then(screening.value.form().screened_at));
        match screening.map(|screening| {
            assess(
                &screening.value,
                now.max(screening.value.form().screened_at),
                &self.calendar,
            )
        }) {
            Some(Ok(assessment)) if assessment.is_eligible() => {}
            Some(Ok(assessment)) => {
                refusals.push(RandomiseRefusal::NotEligible(assessment.outcome().clone()));
            }
            // No screening by then, or times that cannot be right: nothing is known.
            Some(Err(_)) | None => {
                refusals.push(RandomiseRefusal::NotEligible(Outcome::Incomplete {
                    missing: Vec::new(),
                }))
            }
        }
        if self
            .screened_on
            .is_some_and(|screener| screener != device_id)
        {
            refusals.push(RandomiseRefusal::ScreenedOnAnotherDevice);
        }
        if !self
            .consents
            .iter()
            .any(|consent| by_then(consent.value.consented_at))
        {
            refusals.push(RandomiseRefusal::NoConsent);
        }
        refusals
    }

    /// Where the participant stands at `now`. Withdrawal, then the end of
    /// follow-up, then randomisation, then a record of non-enrolment decide before
    /// eligibility does; eligibility is
    /// assessed at `now`, so an eligible patient becomes not eligible when the ECMO
    /// window closes.
    pub fn status(&self, now: Moment) -> Status {
        if self.withdrawal.is_some() {
            return Status::Withdrawn;
        }
        if let Some(end) = &self.end {
            return match end.value.status {
                EndStatus::Completed => Status::Completed,
                EndStatus::LostToFollowUp => Status::LostToFollowUp,
            };
        }
        if let Some(arm) = self.arm() {
            return Status::Randomised { arm };
        }
        if self.not_enrolled.is_some() {
            return Status::NotEnrolled;
        }
        match self.assessment(now) {
            Some(Ok(assessment)) => match assessment.outcome() {
                Outcome::Eligible => Status::Eligible,
                Outcome::Ineligible { .. } => Status::NotEligible,
                Outcome::Incomplete { .. } => Status::ScreeningIncomplete,
            },
            // ECMO starting after now: the patient is screened before the run.
            Some(Err(_)) | None => Status::ScreeningIncomplete,
        }
    }

    /// The cytokine samples to take or chase, while the participant is randomised
    /// and in follow-up: every time point with nothing recorded (neither a value
    /// nor "not done") whose window has closed, then the next one whose window has
    /// not. So an overdue 0 h sample never hides the 6 h one that is due now.
    /// Empty when every sample is recorded.
    pub fn samples_to_take(&self, now: Moment) -> Vec<NextSample> {
        let Some(t0) = self
            .randomisation()
            .filter(|_| matches!(self.status(now), Status::Randomised { .. }))
            .map(|randomised| randomised.value.randomised_at)
        else {
            return Vec::new();
        };
        let mut samples = Vec::new();
        let missing = TimePoint::ALL.into_iter().filter(|time_point| {
            !self.forms.contains_key(&FormRef::CytokineSample {
                time_point: *time_point,
            })
        });
        for time_point in missing {
            let Ok(window) = time_point.window(t0) else {
                break;
            };
            let due = window.due(now);
            samples.push(NextSample {
                time_point,
                window,
                due,
            });
            if due != SampleDue::Overdue {
                break;
            }
        }
        samples
    }

    /// The change in IL-6 from T0 at each later time point where both have a value.
    pub fn il6_changes(&self) -> Vec<(TimePoint, Il6Change)> {
        let Some(t0) = self.il6(TimePoint::H0) else {
            return Vec::new();
        };
        TimePoint::ALL[1..]
            .iter()
            .filter_map(|time_point| {
                let later = self.il6(*time_point)?;
                Some((*time_point, il6_change(t0, later)))
            })
            .collect()
    }

    /// T0, the randomisation: what cytokine samples are timed from.
    pub fn t0(&self) -> Option<Moment> {
        self.randomisation
            .as_ref()
            .map(|randomised| randomised.value.randomised_at)
    }

    /// The anchors every form check is measured from: the ECMO start of the
    /// screening and T0.
    pub fn form_context(&self) -> FormContext {
        FormContext {
            ecmo_started_at: self.ecmo_started_at(),
            randomised_at: self.t0(),
        }
    }

    /// The window of a sample's time point, measured from T0, once randomised.
    pub fn sample_window(&self, time_point: TimePoint) -> Option<SampleWindow> {
        time_point.window(self.t0()?).ok()
    }

    /// The IL-6 recorded at a time point, if a value was.
    pub fn il6(&self, time_point: TimePoint) -> Option<f64> {
        match &self
            .forms
            .get(&FormRef::CytokineSample { time_point })?
            .form
        {
            Form::CytokineSample(sample) => sample.il6_pg_per_ml(),
            _ => None,
        }
    }

    fn apply(&mut self, event: &Event) {
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
        record.form = record
            .form
            .with_value(body.field, body.new.clone())
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
