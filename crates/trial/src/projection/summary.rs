//! What a list of participants shows of each one: their numbers, where they
//! stand and which sample is due. A tablet keeps it beside each participant's
//! state, so the home list of a thousand participants is read without reading a
//! thousand histories; it answers by the same rules as the whole state
//! (`policy`), from the part of the state they read.

use uuid::Uuid;

use super::model::{OrderKey, Participant};
use crate::crf::FormRef;
use crate::crf::cytokine::TimePoint;
use crate::crf::end::EndStatus;
use crate::payload::StudyNumber;
use crate::randomisation::Arm;
use crate::screening::Screening;
use crate::time::{Calendar, Moment};

/// The part of a participant's state the home list shows, made by
/// [`Participant::summary`]; its [`Summary::status`] and
/// [`Summary::samples_to_take`] are the participant's own.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub(super) id: Uuid,
    pub(super) calendar: Calendar,
    pub(super) first: Option<OrderKey>,
    pub(super) events: u32,
    pub(super) screening_number: Option<String>,
    pub(super) study_number: Option<StudyNumber>,
    pub(super) arm: Option<Arm>,
    pub(super) randomised_at: Option<Moment>,
    pub(super) screening: Option<Screening>,
    pub(super) withdrawn: bool,
    pub(super) end: Option<EndStatus>,
    pub(super) not_enrolled: bool,
    /// The time points whose cytokine sample is recorded.
    pub(super) sampled: Vec<TimePoint>,
}

impl Participant {
    /// What the home list shows of this participant.
    pub fn summary(&self) -> Summary {
        Summary {
            id: self.id,
            calendar: self.calendar.clone(),
            first: self.first,
            events: self.events,
            screening_number: self.screening_number.clone(),
            study_number: self.study_number().cloned(),
            arm: self.arm(),
            randomised_at: self.t0(),
            screening: self
                .screening
                .as_ref()
                .map(|screening| screening.value.clone()),
            withdrawn: self.withdrawal.is_some(),
            end: self.end.as_ref().map(|end| end.value.status),
            not_enrolled: self.not_enrolled.is_some(),
            sampled: self
                .forms
                .keys()
                .filter_map(|form| match form {
                    FormRef::CytokineSample { time_point } => Some(*time_point),
                    _ => None,
                })
                .collect(),
        }
    }
}

impl Summary {
    /// The participant's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The order key of the participant's first event: a list sorted by it
    /// lists participants as [`crate::projection::project`] does for a log in
    /// recorded order.
    pub fn first_event(&self) -> Option<OrderKey> {
        self.first
    }

    /// How many events the participant's state folded.
    pub fn events_folded(&self) -> u32 {
        self.events
    }

    /// The screening number the tablet gave at the first screening.
    pub fn screening_number(&self) -> Option<&str> {
        self.screening_number.as_deref()
    }

    /// The study number given at randomisation.
    pub fn study_number(&self) -> Option<&StudyNumber> {
        self.study_number.as_ref()
    }

    /// The number the participant is known by: the study number once randomised,
    /// the screening number before.
    pub fn number(&self) -> &str {
        self.study_number
            .as_ref()
            .map(StudyNumber::as_str)
            .or(self.screening_number.as_deref())
            .unwrap_or_default()
    }

    /// The patient's initials and bed from the latest screening: how the site's
    /// nurses tell two patients apart (never exported).
    pub fn initials_and_bed(&self) -> (Option<&str>, Option<&str>) {
        let form = self.screening.as_ref().map(Screening::form);
        (
            form.and_then(|form| form.patient_initials.as_deref()),
            form.and_then(|form| form.bed.as_deref()),
        )
    }

    /// When the latest screening was made.
    pub fn screened_at(&self) -> Option<Moment> {
        self.screening
            .as_ref()
            .map(|screening| screening.form().screened_at)
    }

    /// Whether `typed` (ignoring case and surrounding spaces) is part of the
    /// screening or the study number, the initials or the bed: how a list is
    /// filtered as someone types.
    pub fn matches(&self, typed: &str) -> bool {
        let typed = typed.trim().to_uppercase();
        let (initials, bed) = self.initials_and_bed();
        typed.is_empty()
            || [
                self.screening_number(),
                self.study_number().map(StudyNumber::as_str),
                initials,
                bed,
            ]
            .into_iter()
            .flatten()
            .any(|text| text.to_uppercase().contains(&typed))
    }

    /// The ECMO start from the latest screening.
    pub fn ecmo_started_at(&self) -> Option<Moment> {
        self.screening
            .as_ref()
            .and_then(|screening| screening.form().ecmo_started_at)
    }
}
