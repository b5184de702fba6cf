//! What a participant's state records: the record of each value with its
//! provenance and history, the anomalies and deviations the log shows, and the
//! [`Participant`] that holds them, read through its getters (`fold` changes it,
//! `policy` judges it).

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::casebook::CasebookSigned;
use crate::crf::consent::ConsentForm;
use crate::crf::cytokine::{SampleDue, SampleWindow, TimePoint};
use crate::crf::daily::StudyDay;
use crate::crf::end::{EndOfParticipation, NotEnrolled, Withdrawal};
use crate::crf::{Form, FormContext, FormRef};
use crate::edits::{Conflict, Subject, SubjectState};
use crate::eligibility::Outcome;
use crate::event::{Event, Hash};
use crate::field::{Field, FieldError};
use crate::payload::{PayloadError, Randomised, StudyNumber};
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recorded<T> {
    /// What was recorded.
    pub value: T,
    /// Who recorded it, where and when.
    pub by: Provenance,
}

/// One change of one field of a form: the unit of its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FormRecord {
    pub(super) form: Form,
    pub(super) confirmed: Vec<Field>,
    pub(super) first_saved: Provenance,
    pub(super) history: Vec<Change>,
}

/// Something in a participant's log that the rules forbid but the log already
/// holds: listed for the coordinator, never silently accepted or dropped.
///
/// Serialised only as part of a stored state (`stored`), which promises nothing
/// beyond the build that wrote it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Anomaly {
    /// Occurs when an event's payload cannot be read or fails validation; the event
    /// is left out of the projection.
    UnreadablePayload {
        /// The event.
        event_id: Uuid,
        /// Why it was refused.
        #[serde(with = "super::stored::payload_error")]
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
///
/// Serialised only as part of a stored state, like [`Anomaly`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RandomiseRefusal {
    /// Occurs when the participant was randomised already: the first allocation
    /// stands.
    AlreadyRandomised,
    /// Occurs when the screening is not (or no longer) eligible, for example once
    /// ECMO has run for 24 hours; carries the outcome that says why.
    NotEligible(#[serde(with = "super::stored::outcome")] Outcome),
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

/// One participant's state, folded from their events by [`super::project`] or one
/// event at a time by [`Participant::apply`].
#[derive(Clone, Debug, PartialEq)]
pub struct Participant {
    pub(super) id: Uuid,
    /// Where dates are read: the site's time zone.
    pub(super) calendar: Calendar,
    pub(super) screening_number: Option<String>,
    /// The tablet of the first screening received: the only one that may
    /// randomise, however many tablets edit the screening later.
    pub(super) screened_on: Option<Uuid>,
    /// The first randomisation received, readable or not: the one that stands.
    pub(super) first_randomisation: Option<Uuid>,
    /// A randomisation whose payload cannot be read: the participant may have
    /// been allocated.
    pub(super) unreadable_randomisation: Option<Uuid>,
    pub(super) screening: Option<Recorded<Screening>>,
    /// Every screening, in the fold's order: what resolves a screening conflict.
    pub(super) screenings: Vec<Provenance>,
    pub(super) consents: Vec<Recorded<ConsentForm>>,
    pub(super) randomisation: Option<Recorded<Randomised>>,
    pub(super) forms: BTreeMap<FormRef, FormRecord>,
    pub(super) withdrawal: Option<Recorded<Withdrawal>>,
    /// Set by a `NotEnrolled` event, cleared by a later screening.
    pub(super) not_enrolled: Option<Recorded<NotEnrolled>>,
    pub(super) end: Option<Recorded<EndOfParticipation>>,
    /// Every record of the casebook folded (each event but signatures and
    /// unlocks), by id with its hash: what a signature covers
    /// (`crate::casebook::digest`).
    pub(super) records: BTreeMap<Uuid, Hash>,
    /// The signature that stands: the latest one, unless an unlock followed.
    pub(super) signature: Option<Recorded<CasebookSigned>>,
    /// What the blind-edit rule knows of each screening or form instance.
    pub(super) subjects: BTreeMap<Subject, SubjectState>,
    pub(super) conflicts: Vec<Conflict>,
    pub(super) anomalies: Vec<Anomaly>,
    /// The fold's order key (`recorded_at` in UTC ms, then id) of the first
    /// event folded: where the participant stands in a list in recorded order.
    pub(super) first: Option<OrderKey>,
    /// The order key of the last event folded, which the next one must follow
    /// to be folded on top ([`Participant::folds_after`]).
    pub(super) last: Option<OrderKey>,
    /// How many events were folded: what a holder compares with the events it
    /// holds about the participant, to find a state that missed one.
    pub(super) events: u32,
}

/// Where an event stands in the fold's order: `recorded_at` in UTC
/// milliseconds, then the event id.
pub type OrderKey = (i64, Uuid);

/// The order key of `event`.
pub(super) fn order_key(event: &Event) -> OrderKey {
    (event.recorded_at().utc_ms(), event.id())
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
    /// How many events were folded into this state.
    pub fn events_folded(&self) -> u32 {
        self.events
    }

    /// The order key of the participant's first event, in the fold's order: a
    /// list in that order lists participants as the tablet projects its log.
    pub fn first_event(&self) -> Option<OrderKey> {
        self.first
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

    /// Everything in the log the rules forbid, in the order found.
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
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

    /// The date of a study day on the site's calendar, once randomised: day 1 is
    /// the date of T0 in the site's time zone, whatever zone the tablet is in.
    pub fn study_day_date(&self, study_day: StudyDay) -> Option<Date> {
        Some(study_day.date(self.calendar.date(self.t0()?)))
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
}
