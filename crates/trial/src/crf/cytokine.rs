//! Cytokine samples, the primary outcome (CRF.md §5): the time points, their
//! sampling windows measured from T0, the sample form, and the change in IL-6 from
//! T0.
//!
//! T0 is the randomisation (CRF.md: "T0 = randomisation"; PROTOCOL.md: the IL-6
//! baseline is taken at randomisation). Counting the time points from ECMO start
//! instead would make an on-time 0 h sample impossible for anyone randomised hours
//! after ECMO began, which the 24-hour window allows.
//!
//! A sample taken outside its window is not refused: it is a warning the user
//! confirms, because a late sample is still data, and the analysis decides what to
//! do with it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Checker, Entry};
use crate::field::{Field, FieldError};
use crate::time::{MS_PER_HOUR, Moment, MomentError};

/// Milliseconds in one minute, for window messages.
const MS_PER_MINUTE: i64 = 60_000;

/// A sampling time point, in hours after T0, the randomisation (PROTOCOL.md,
/// assumed 0, 6, 12, 24, 48 and 72 h). Stored as `"h0"`, `"h6"`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimePoint {
    /// 0 h: T0, the baseline every change is measured from.
    H0,
    /// 6 h.
    H6,
    /// 12 h.
    H12,
    /// 24 h.
    H24,
    /// 48 h.
    H48,
    /// 72 h.
    H72,
}

/// When a time point's sample may be taken: its target time and the window around
/// it, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleWindow {
    target: Moment,
    earliest: Moment,
    latest: Moment,
}

/// Where `now` stands against a sample's window, for the home screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleDue {
    /// The window has not opened yet.
    NotYet,
    /// The window is open now.
    Due,
    /// The window has closed and no sample was recorded.
    Overdue,
}

/// The cytokine sample form as entered; carried by a `FormSaved` event.
///
/// If no sample was taken, record the sample time and IL-6 as not done with the
/// reason. IL-8, IL-10 and TNF-α are optional (blank means not measured).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // Each field is the CRF.md §5 item of the same name (Field::label).
pub struct CytokineSampleForm {
    /// The time point: the form's identity, never corrected.
    pub time_point: TimePoint,
    #[serde(default)]
    pub sampled_at: Option<Entry<Moment>>,
    #[serde(default)]
    pub il6_pg_per_ml: Option<Entry<f64>>,
    #[serde(default)]
    pub il8_pg_per_ml: Option<Entry<f64>>,
    #[serde(default)]
    pub il10_pg_per_ml: Option<Entry<f64>>,
    #[serde(default)]
    pub tnf_alpha_pg_per_ml: Option<Entry<f64>>,
}

/// How IL-6 at a later time point differs from IL-6 at T0 (CRF.md §5).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Il6Change {
    /// Later minus T0, in pg/mL.
    pub absolute_pg_per_ml: f64,
    /// The absolute change as a percentage of T0; `None` when T0 is 0, where a
    /// percentage is undefined.
    pub percent: Option<f64>,
    /// log10(later) − log10(T0); `None` when either is 0, where the logarithm is
    /// undefined. A lab reports its lower detection limit rather than 0 when it can.
    pub log10_change: Option<f64>,
}

impl TimePoint {
    /// Every time point, in order.
    pub const ALL: [TimePoint; 6] = [
        Self::H0,
        Self::H6,
        Self::H12,
        Self::H24,
        Self::H48,
        Self::H72,
    ];

    /// Hours after T0.
    pub fn hours(self) -> i64 {
        match self {
            Self::H0 => 0,
            Self::H6 => 6,
            Self::H12 => 12,
            Self::H24 => 24,
            Self::H48 => 48,
            Self::H72 => 72,
        }
    }

    /// Half the window's width: ± 1 h up to 24 h, ± 3 h after (CRF.md §5).
    pub fn half_window_ms(self) -> i64 {
        if self.hours() <= 24 {
            MS_PER_HOUR
        } else {
            3 * MS_PER_HOUR
        }
    }

    /// Milliseconds from this time point's target (T0 + its hours) to `sampled_at`;
    /// negative when the sample is early.
    pub fn ms_from_target(self, t0: Moment, sampled_at: Moment) -> i64 {
        sampled_at.ms_since(t0) - self.hours() * MS_PER_HOUR
    }

    /// The window measured from T0, shown in T0's UTC offset.
    /// Fails only when the window would end after 2200, which [`Moment`] does not
    /// represent.
    pub fn window(self, t0: Moment) -> Result<SampleWindow, MomentError> {
        let shifted = |ms: i64| Moment::new(t0.utc_ms() + ms, t0.offset_minutes());
        let target_ms = self.hours() * MS_PER_HOUR;
        Ok(SampleWindow {
            target: shifted(target_ms)?,
            earliest: shifted(target_ms - self.half_window_ms())?,
            latest: shifted(target_ms + self.half_window_ms())?,
        })
    }
}

impl fmt::Display for TimePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} h", self.hours())
    }
}

impl SampleWindow {
    /// ECMO start plus the time point's hours.
    pub fn target(&self) -> Moment {
        self.target
    }

    /// The first moment a sample counts as on time.
    pub fn earliest(&self) -> Moment {
        self.earliest
    }

    /// The last moment a sample counts as on time.
    pub fn latest(&self) -> Moment {
        self.latest
    }

    /// Whether a sample taken at `at` is on time; both ends count.
    pub fn contains(&self, at: Moment) -> bool {
        (self.earliest..=self.latest).contains(&at)
    }

    /// Where `now` stands against the window; at either end it is still due.
    pub fn due(&self, now: Moment) -> SampleDue {
        if now < self.earliest {
            SampleDue::NotYet
        } else if now <= self.latest {
            SampleDue::Due
        } else {
            SampleDue::Overdue
        }
    }
}

impl CytokineSampleForm {
    /// A new, empty form for one time point.
    pub fn blank(time_point: TimePoint) -> Self {
        Self {
            time_point,
            sampled_at: None,
            il6_pg_per_ml: None,
            il8_pg_per_ml: None,
            il10_pg_per_ml: None,
            tnf_alpha_pg_per_ml: None,
        }
    }

    /// Checks every field and returns every problem at once. IL-6 above its warning
    /// level passes only when confirmed; with `t0` (the randomisation) known, so
    /// does a sample taken outside its window (confirm [`Field::SampledAt`]).
    pub fn validate(&self, confirmed: &[Field], t0: Option<Moment>) -> Result<(), Vec<FieldError>> {
        let mut checker = Checker::new(confirmed);
        let sampled_at = checker.required(Field::SampledAt, &self.sampled_at);
        if let (Some(sampled_at), Some(t0)) = (sampled_at, t0) {
            let from_target = self.time_point.ms_from_target(t0, *sampled_at);
            let half_window = self.time_point.half_window_ms();
            if from_target.abs() > half_window && !confirmed.contains(&Field::SampledAt) {
                // Rounded away from zero, so 60 min 30 s late reads "61 min", not
                // the "60 min" that the ± 60 min window allows.
                let minutes = (from_target.abs() + MS_PER_MINUTE - 1) / MS_PER_MINUTE;
                checker.push(FieldError::UnconfirmedSampleWindow {
                    time_point: self.time_point,
                    minutes_from_target: minutes * from_target.signum(),
                    allowed_minutes: half_window / MS_PER_MINUTE,
                });
            }
        }
        checker.required_number(Field::Il6PgPerMl, &self.il6_pg_per_ml);
        checker.optional_number(Field::Il8PgPerMl, &self.il8_pg_per_ml);
        checker.optional_number(Field::Il10PgPerMl, &self.il10_pg_per_ml);
        checker.optional_number(Field::TnfAlphaPgPerMl, &self.tnf_alpha_pg_per_ml);
        checker.finish()
    }

    /// The IL-6 value, if one was recorded.
    pub fn il6_pg_per_ml(&self) -> Option<f64> {
        self.il6_pg_per_ml.as_ref().and_then(Entry::value).copied()
    }
}

/// The change in IL-6 from `t0_pg_per_ml` (the T0 sample) to `later_pg_per_ml`.
pub fn il6_change(t0_pg_per_ml: f64, later_pg_per_ml: f64) -> Il6Change {
    let absolute_pg_per_ml = later_pg_per_ml - t0_pg_per_ml;
    let percent = (t0_pg_per_ml != 0.0).then(|| 100.0 * absolute_pg_per_ml / t0_pg_per_ml);
    let log10_change = (t0_pg_per_ml > 0.0 && later_pg_per_ml > 0.0)
        .then(|| later_pg_per_ml.log10() - t0_pg_per_ml.log10());
    Il6Change {
        absolute_pg_per_ml,
        percent,
        log10_change,
    }
}
