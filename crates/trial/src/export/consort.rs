//! The CONSORT flow's counts (PROTOCOL.md: a screened patient who is not enrolled
//! is still counted): assessed for eligibility, excluded with reasons, randomised,
//! allocated per arm, received the allocated intervention, withdrawn or lost, and
//! analysed for the primary outcome. Counted from each participant's projection as
//! they are written, so the export never holds the trial to count it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Record, Trial};
use crate::crf::FormRef;
use crate::crf::end::NotEnrolledReason;
use crate::eligibility::{Criterion, Outcome};
use crate::projection::{Participant, Status};
use crate::randomisation::Arm;
use crate::time::Moment;

/// The CONSORT counts of a trial.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Consort {
    /// Participants with a screening: assessed for eligibility.
    pub assessed: u32,
    /// Screened and not randomised, by reason.
    pub excluded: BTreeMap<Exclusion, u32>,
    /// Of those not eligible, how many fail each criterion: at the screening's
    /// own time, or, for a patient eligible then, at the export (whose 24 hours on
    /// ECMO ran out before randomisation: I5). One patient may fail several.
    pub failed_criteria: BTreeMap<Criterion, u32>,
    /// Participants randomised (an unreadable randomisation counts: the patient
    /// may have been allocated).
    pub randomised: u32,
    /// Randomised, but to no arm that stands: the only randomisation is flagged or
    /// unreadable, so the coordinator must settle the arm.
    pub arm_unknown: u32,
    /// The counts after allocation, per arm, hemoperfusion first.
    pub arms: BTreeMap<Arm, ArmCounts>,
}

/// One row of the CONSORT table.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsortRow {
    /// The stage of the flow (`assessed_for_eligibility`, `excluded`, …).
    pub stage: String,
    /// The arm, after allocation; empty before.
    pub arm: String,
    /// The reason or criterion, where the stage has them; empty otherwise.
    pub reason: String,
    /// How many participants.
    pub count: u32,
}

impl ConsortRow {
    /// The row as the CSV table writes it: stage, arm, reason, count.
    pub fn fields(&self) -> [String; 4] {
        [
            self.stage.clone(),
            self.arm.clone(),
            self.reason.clone(),
            self.count.to_string(),
        ]
    }
}

/// Why a screened patient was not randomised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exclusion {
    /// A criterion fails (including the ECMO window having passed).
    NotEligible,
    /// Answers are still missing.
    ScreeningIncomplete,
    /// Recorded as not enrolled, for this reason.
    NotEnrolled(NotEnrolledReason),
    /// Eligible at the export, not randomised yet.
    AwaitingRandomisation,
}

/// The counts of one arm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArmCounts {
    /// Allocated to the arm.
    pub allocated: u32,
    /// Received the allocated intervention: a hemoperfusion session in the
    /// hemoperfusion arm, none in standard care.
    pub received_allocated: u32,
    /// Withdrawn (still analysed in their arm: intention to treat).
    pub withdrawn: u32,
    /// Lost to follow-up.
    pub lost: u32,
    /// With an IL-6 value at T0 and at a later time point: analysed for the
    /// primary outcome.
    pub analysed_primary: u32,
}

/// Whether `record` holds a `Randomised` event at all, accepted or refused: a
/// participant with no arm who has one was still randomised (to an arm no one can
/// vouch for). Shared with the enrolment chart so the two count alike.
pub(super) fn randomised_unreadably(record: &Record) -> bool {
    record
        .log()
        .events
        .iter()
        .any(|logged| logged.event.kind() == crate::event::EventKind::Randomised)
}

impl Consort {
    /// Counts one participant, their status read at `now`.
    pub fn count(&mut self, record: &Record, now: Moment) {
        let participant = record.participant();
        if participant.screening().is_none() {
            return;
        }
        self.assessed += 1;
        let status = participant.status(now);
        // A randomisation flagged or whose payload cannot be read (both stored as
        // refused data) still counts: the patient may have been allocated, to an
        // arm no one can vouch for.
        let randomised_unreadably = randomised_unreadably(record);
        let Some(arm) = participant.arm() else {
            let exclusion = match status {
                _ if randomised_unreadably => {
                    self.randomised += 1;
                    self.arm_unknown += 1;
                    return;
                }
                Status::NotEligible => {
                    for criterion in failed_criteria(participant, now) {
                        *self.failed_criteria.entry(criterion).or_default() += 1;
                    }
                    Exclusion::NotEligible
                }
                Status::Eligible => Exclusion::AwaitingRandomisation,
                Status::NotEnrolled => participant
                    .not_enrolled()
                    .map_or(Exclusion::NotEligible, |record| {
                        Exclusion::NotEnrolled(record.value.reason)
                    }),
                _ => Exclusion::ScreeningIncomplete,
            };
            *self.excluded.entry(exclusion).or_default() += 1;
            return;
        };
        self.randomised += 1;
        let counts = self.arms.entry(arm).or_default();
        counts.allocated += 1;
        let had_session = participant
            .forms()
            .any(|form| matches!(form.form().form_ref(), FormRef::HemoperfusionSession { .. }));
        if had_session == (arm == Arm::Hemoperfusion) {
            counts.received_allocated += 1;
        }
        match status {
            Status::Withdrawn => counts.withdrawn += 1,
            Status::LostToFollowUp => counts.lost += 1,
            _ => {}
        }
        if !participant.il6_changes().is_empty() {
            counts.analysed_primary += 1;
        }
    }

    /// The rows of the CONSORT table: what the CSV export writes and the
    /// console's dashboard shows, so the two cannot differ.
    pub fn rows(&self) -> Vec<ConsortRow> {
        let row = |stage: &str, arm: &str, reason: &str, count: u32| ConsortRow {
            stage: stage.to_owned(),
            arm: arm.to_owned(),
            reason: reason.to_owned(),
            count,
        };
        let mut rows = vec![row("assessed_for_eligibility", "", "", self.assessed)];
        for (exclusion, count) in &self.excluded {
            rows.push(row("excluded", "", &exclusion.key(), *count));
        }
        for (criterion, count) in &self.failed_criteria {
            rows.push(row(
                "not_eligible_by_criterion",
                "",
                criterion.code(),
                *count,
            ));
        }
        rows.push(row("randomised", "", "", self.randomised));
        rows.push(row("allocated", "", "arm_unknown", self.arm_unknown));
        for arm in [Arm::Hemoperfusion, Arm::StandardCare] {
            let counts = self.arms.get(&arm).copied().unwrap_or_default();
            let arm = arm.as_str();
            rows.push(row("allocated", arm, "", counts.allocated));
            rows.push(row(
                "received_allocated_intervention",
                arm,
                "",
                counts.received_allocated,
            ));
            rows.push(row("withdrawn", arm, "", counts.withdrawn));
            rows.push(row("lost_to_follow_up", arm, "", counts.lost));
            rows.push(row(
                "analysed_primary_outcome",
                arm,
                "",
                counts.analysed_primary,
            ));
        }
        rows
    }
}

/// The criteria a patient not eligible fails: those that failed at the screening's
/// own time, else those that fail at `now`.
fn failed_criteria(participant: &Participant, now: Moment) -> Vec<Criterion> {
    let failed_at = |moment: Moment| match participant.assessment(moment) {
        Some(Ok(assessment)) => match assessment.outcome() {
            Outcome::Ineligible { failed } => failed.clone(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let screened_at = participant
        .screening()
        .map(|screening| screening.value.form().screened_at);
    match screened_at.map(failed_at) {
        Some(failed) if !failed.is_empty() => failed,
        _ => failed_at(now),
    }
}

impl Exclusion {
    /// Where it stands in the table: in declaration order, reasons not to enrol
    /// in theirs.
    fn rank(self) -> (u8, u8) {
        match self {
            Self::NotEligible => (0, 0),
            Self::ScreeningIncomplete => (1, 0),
            Self::NotEnrolled(reason) => (
                2,
                match reason {
                    NotEnrolledReason::Ineligible => 0,
                    NotEnrolledReason::ConsentRefused => 1,
                    NotEnrolledReason::MissedWindow => 2,
                    NotEnrolledReason::Other => 3,
                },
            ),
            Self::AwaitingRandomisation => (3, 0),
        }
    }

    /// The reason's key, as the table names it.
    pub fn key(self) -> String {
        match self {
            Self::NotEligible => "not_eligible".to_owned(),
            Self::ScreeningIncomplete => "screening_incomplete".to_owned(),
            Self::NotEnrolled(reason) => {
                let reason = serde_json::to_value(reason).unwrap_or_default();
                format!("not_enrolled_{}", reason.as_str().unwrap_or_default())
            }
            Self::AwaitingRandomisation => "awaiting_randomisation".to_owned(),
        }
    }
}

impl PartialOrd for Exclusion {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Exclusion {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// One stratum's allocations: the participants whose randomisation that counts
/// came from one tablet's leases, by arm. A stratum is the site and the tablet,
/// and the list is blocked within it, so each stratum should stay near balanced;
/// one that drifts says a tablet skipped or re-used slots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StratumBalance {
    /// The randomising tablet's label.
    pub tablet: String,
    /// Allocated to hemoperfusion.
    pub hemoperfusion: u32,
    /// Allocated to standard care.
    pub standard_care: u32,
}

/// The arm balance per stratum, counted from each participant as the export
/// writes them: the standing randomisations of `allocations.csv`.
#[derive(Clone, Debug, Default)]
pub struct Balance(BTreeMap<(String, Uuid), StratumBalance>);

impl Balance {
    /// Counts one participant's randomisation that counts, if any.
    pub fn count(&mut self, trial: &Trial, record: &Record) {
        let Some(randomisation) = record.participant().randomisation() else {
            return;
        };
        let device = randomisation.by.device_id;
        let tablet = trial.tablet_label(device).to_owned();
        let stratum = self
            .0
            .entry((tablet.clone(), device))
            .or_insert(StratumBalance {
                tablet,
                hemoperfusion: 0,
                standard_care: 0,
            });
        match randomisation.value.arm {
            Arm::Hemoperfusion => stratum.hemoperfusion += 1,
            Arm::StandardCare => stratum.standard_care += 1,
        }
    }

    /// Each stratum, by tablet label.
    pub fn rows(self) -> Vec<StratumBalance> {
        self.0.into_values().collect()
    }
}
