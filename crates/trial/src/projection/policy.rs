//! The rules that read a participant's state: may they be randomised now, where
//! do they stand, which samples are due, which conflicts are still open. A
//! [`Summary`] answers where a participant stands by the same rules, through
//! [`Standing`].

use uuid::Uuid;

use super::model::{Deviation, NextSample, Participant, RandomiseRefusal, Status};
use super::summary::Summary;
use crate::casebook::{self, Casebook, CasebookRefusal};
use crate::crf::FormRef;
use crate::crf::cytokine::{Il6Change, SampleDue, TimePoint, il6_change};
use crate::crf::end::EndStatus;
use crate::edits::{Conflict, Subject};
use crate::eligibility::{Assessment, Outcome, assess};
use crate::event::Hash;
use crate::field::{Field, FieldError};
use crate::payload::MAX_MS_AFTER_RECORDING;
use crate::randomisation::Arm;
use crate::screening::Screening;
use crate::time::{Calendar, Moment};

/// What where a participant stands depends on, read from a whole state or from a
/// summary, so that both answer by one rule.
pub(super) struct Standing<'a, Sampled> {
    /// Whether a withdrawal is recorded.
    pub(super) withdrawn: bool,
    /// How follow-up ended, if it did.
    pub(super) end: Option<EndStatus>,
    /// The randomisation's arm and moment (T0).
    pub(super) randomised: Option<(Arm, Moment)>,
    /// Whether a record of non-enrolment stands.
    pub(super) not_enrolled: bool,
    /// The latest screening.
    pub(super) screening: Option<&'a Screening>,
    /// Where dates are read.
    pub(super) calendar: &'a Calendar,
    /// Whether a cytokine sample of the time point is recorded.
    pub(super) sampled: Sampled,
}

impl<Sampled: Fn(TimePoint) -> bool> Standing<'_, Sampled> {
    /// See [`Participant::assessment`].
    pub(super) fn assessment(&self, now: Moment) -> Option<Result<Assessment, FieldError>> {
        let screening = self.screening?;
        Some(assess(
            screening,
            now.max(screening.form().screened_at),
            self.calendar,
        ))
    }

    /// See [`Participant::status`].
    pub(super) fn status(&self, now: Moment) -> Status {
        if self.withdrawn {
            return Status::Withdrawn;
        }
        if let Some(end) = self.end {
            return match end {
                EndStatus::Completed => Status::Completed,
                EndStatus::LostToFollowUp => Status::LostToFollowUp,
            };
        }
        if let Some((arm, _)) = self.randomised {
            return Status::Randomised { arm };
        }
        if self.not_enrolled {
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

    /// See [`Participant::samples_to_take`].
    pub(super) fn samples_to_take(&self, now: Moment) -> Vec<NextSample> {
        let Some(t0) = self
            .randomised
            .filter(|_| matches!(self.status(now), Status::Randomised { .. }))
            .map(|(_, randomised_at)| randomised_at)
        else {
            return Vec::new();
        };
        let mut samples = Vec::new();
        let missing = TimePoint::ALL
            .into_iter()
            .filter(|time_point| !(self.sampled)(*time_point));
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
}

impl Participant {
    /// Where the casebook stands: open, signed, or signed and changed since by a
    /// record the signature does not cover (`crate::casebook`).
    pub fn casebook(&self) -> Casebook<'_> {
        match &self.signature {
            None => Casebook::Open,
            Some(signature) if signature.value.digest == casebook::digest(&self.records) => {
                Casebook::Signed(signature)
            }
            Some(signature) => Casebook::ChangedAfterSigning(signature),
        }
    }

    /// How many records the casebook holds and their digest: what a signature
    /// made now covers.
    pub fn casebook_contents(&self) -> (u32, Hash) {
        let count = u32::try_from(self.records.len())
            .expect("invariant: a participant's records are counted in a u32 (`events`)");
        (count, casebook::digest(&self.records))
    }

    /// Whether a form may be saved or corrected now: not while a signature stands,
    /// whether or not a record made offline has changed the casebook since. The
    /// tablet asks before it opens a form, the console before it writes a
    /// correction; only the coordinator's unlock opens the casebook again.
    pub fn check_editable(&self) -> Result<(), CasebookRefusal> {
        match &self.signature {
            Some(signature) => Err(CasebookRefusal::Locked { by: signature.by }),
            None => Ok(()),
        }
    }

    /// Whether the investigator may sign now: there are records to sign, and no
    /// signature covers them already.
    pub fn may_sign(&self) -> Result<(), CasebookRefusal> {
        match self.casebook() {
            Casebook::Signed(signature) => Err(CasebookRefusal::AlreadySigned { by: signature.by }),
            _ if self.records.is_empty() => Err(CasebookRefusal::NothingToSign),
            _ => Ok(()),
        }
    }

    /// Whether the coordinator may unlock now: a signature stands.
    pub fn may_unlock(&self) -> Result<(), CasebookRefusal> {
        match self.signature {
            Some(_) => Ok(()),
            None => Err(CasebookRefusal::NotSigned),
        }
    }

    /// The participant as where they stand depends on it.
    fn standing(&self) -> Standing<'_, impl Fn(TimePoint) -> bool + '_> {
        Standing {
            withdrawn: self.withdrawal.is_some(),
            end: self.end.as_ref().map(|end| end.value.status),
            randomised: self
                .randomisation
                .as_ref()
                .map(|randomised| (randomised.value.arm, randomised.value.randomised_at)),
            not_enrolled: self.not_enrolled.is_some(),
            screening: self.screening.as_ref().map(|screening| &screening.value),
            calendar: &self.calendar,
            sampled: |time_point| {
                self.forms
                    .contains_key(&FormRef::CytokineSample { time_point })
            },
        }
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
        self.standing().assessment(now)
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
    pub(super) fn refusals_but_randomised(
        &self,
        now: Moment,
        device_id: Uuid,
    ) -> Vec<RandomiseRefusal> {
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
        self.standing().status(now)
    }

    /// The cytokine samples to take or chase, while the participant is randomised
    /// and in follow-up: every time point with nothing recorded (neither a value
    /// nor "not done") whose window has closed, then the next one whose window has
    /// not. So an overdue 0 h sample never hides the 6 h one that is due now.
    /// Empty when every sample is recorded.
    pub fn samples_to_take(&self, now: Moment) -> Vec<NextSample> {
        self.standing().samples_to_take(now)
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
}

impl Summary {
    /// The summary as where the participant stands depends on it.
    fn standing(&self) -> Standing<'_, impl Fn(TimePoint) -> bool + '_> {
        Standing {
            withdrawn: self.withdrawn,
            end: self.end,
            randomised: self.arm.zip(self.randomised_at),
            not_enrolled: self.not_enrolled,
            screening: self.screening.as_ref(),
            calendar: &self.calendar,
            sampled: |time_point| self.sampled.contains(&time_point),
        }
    }

    /// Where the participant stands at `now`: [`Participant::status`].
    pub fn status(&self, now: Moment) -> Status {
        self.standing().status(now)
    }

    /// The cytokine samples to take or chase at `now`:
    /// [`Participant::samples_to_take`].
    pub fn samples_to_take(&self, now: Moment) -> Vec<NextSample> {
        self.standing().samples_to_take(now)
    }
}
