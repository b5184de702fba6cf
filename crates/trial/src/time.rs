//! Instants as the device saw them, and the calendar questions the protocol asks.
//!
//! An instant is stored as UTC milliseconds plus the device's UTC offset at that
//! moment (DESIGN.md, "Time"): the UTC part orders events across devices, the offset
//! shows when the device thought it was. Calendar questions ("how old on the
//! screening date?") are answered by a [`Calendar`]: the site's IANA time zone,
//! whatever zone a tablet happens to be set to. Nothing here reads a clock; callers
//! pass the current time in.

use std::fmt;

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use serde::{Deserialize, Serialize};

/// Where calendar dates are read: the site's time zone, whose rules (TZif, RFC 8536)
/// the server sends, so the wasm carries no time-zone database; or, on a tablet not
/// enrolled yet (training mode), the device's own offset as each moment recorded it.
#[derive(Clone, Debug, PartialEq)]
pub enum Calendar {
    /// The site's IANA time zone.
    Site(TimeZone),
    /// The device's offset at each moment: training mode only, and said so.
    Device,
}

/// Occurs when a site's time-zone rules cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarError {
    /// The zone's IANA name.
    pub name: String,
    /// What the TZif reader found.
    pub message: String,
}

impl Calendar {
    /// The calendar of the zone `name`, from its TZif bytes.
    pub fn site(name: &str, tzif: &[u8]) -> Result<Self, CalendarError> {
        TimeZone::tzif(name, tzif)
            .map(Self::Site)
            .map_err(|error| CalendarError {
                name: name.to_owned(),
                message: error.to_string(),
            })
    }

    /// The date `moment` falls on.
    pub fn date(&self, moment: Moment) -> Date {
        self.wall_clock(moment).date()
    }

    /// The date and time the site's clocks showed at `moment`: what the screens
    /// show and what a nurse types, so a tablet set to another zone shows the
    /// ward's times. On the device's calendar, the offset the moment was
    /// recorded with.
    pub fn wall_clock(&self, moment: Moment) -> DateTime {
        match self {
            Self::Site(zone) => jiff::Timestamp::from_millisecond(moment.utc_ms)
                .map_or_else(|_| moment.local_datetime(), |at| zone.to_datetime(at)),
            Self::Device => moment.local_datetime(),
        }
    }

    /// The moment the clocks of `zone` show as `at`, with the zone's offset then:
    /// how a time typed at the site is read. In an hour the clocks repeat, the
    /// first time round (as browsers read it); `None` for a time they skip (a
    /// daylight-saving gap) or outside the years a moment holds.
    pub fn moment_in(zone: &TimeZone, at: DateTime) -> Option<Moment> {
        let offset = match zone.to_ambiguous_timestamp(at).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset,
            AmbiguousOffset::Fold { before, .. } => before,
            AmbiguousOffset::Gap { .. } => return None,
        };
        let instant = offset.to_timestamp(at).ok()?;
        let minutes = i16::try_from(offset.seconds() / 60).ok()?;
        Moment::new(instant.as_millisecond(), minutes).ok()
    }

    /// The moment `utc_ms`, with the offset the site's clocks had then: how the
    /// server dates an event it records itself (the console's corrections), as a
    /// tablet on the ward would have. `None` outside the years a moment holds.
    pub fn moment_at(&self, utc_ms: i64) -> Option<Moment> {
        let offset_minutes = match self {
            Self::Site(zone) => {
                let at = jiff::Timestamp::from_millisecond(utc_ms).ok()?;
                i16::try_from(zone.to_offset(at).seconds() / 60).ok()?
            }
            Self::Device => 0,
        };
        Moment::new(utc_ms, offset_minutes).ok()
    }

    /// The zone's IANA name; `None` for the device's offsets.
    pub fn zone_name(&self) -> Option<&str> {
        match self {
            Self::Site(zone) => zone.iana_name(),
            Self::Device => None,
        }
    }
}

impl fmt::Display for CalendarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the rules of time zone {} cannot be read: {}",
            self.name, self.message
        )
    }
}

impl std::error::Error for CalendarError {}

/// Milliseconds in one hour, for durations measured in hours.
pub const MS_PER_HOUR: i64 = 3_600_000;

/// A point in time with the UTC offset the recording device had at that moment.
///
/// Two moments are equal, and ordered, by their UTC instant only: the offset is how
/// it was displayed, not when it was.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(try_from = "MomentRepr", into = "MomentRepr")]
pub struct Moment {
    utc_ms: i64,
    offset_minutes: i16,
}

/// How a [`Moment`] crosses the wire and sits in storage.
#[derive(Serialize, Deserialize)]
struct MomentRepr {
    utc_ms: i64,
    offset_minutes: i16,
}

/// Occurs when a moment cannot be represented or is outside the calendar range the
/// trial can meet (years 1900 to 2200).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MomentError {
    /// Occurs when the UTC offset is beyond ±18 hours, which no time zone uses.
    OffsetOutOfRange {
        /// The offset that was given, in minutes.
        offset_minutes: i16,
    },
    /// Occurs when the instant lies outside 1900-01-01 to 2200-01-01 UTC.
    InstantOutOfRange {
        /// The instant that was given, in UTC milliseconds since 1970.
        utc_ms: i64,
    },
}

/// The earliest instant accepted: 1900-01-01T00:00:00Z.
const MIN_UTC_MS: i64 = -2_208_988_800_000;
/// The latest instant accepted: 2200-01-01T00:00:00Z.
const MAX_UTC_MS: i64 = 7_258_118_400_000;
/// The largest UTC offset any time zone uses, with room to spare.
const MAX_OFFSET_MINUTES: i16 = 18 * 60;

impl Moment {
    /// Builds a moment from UTC milliseconds and the device's offset in minutes east
    /// of UTC (Beijing is +480).
    pub fn new(utc_ms: i64, offset_minutes: i16) -> Result<Self, MomentError> {
        if !(-MAX_OFFSET_MINUTES..=MAX_OFFSET_MINUTES).contains(&offset_minutes) {
            return Err(MomentError::OffsetOutOfRange { offset_minutes });
        }
        if !(MIN_UTC_MS..=MAX_UTC_MS).contains(&utc_ms) {
            return Err(MomentError::InstantOutOfRange { utc_ms });
        }
        Ok(Self {
            utc_ms,
            offset_minutes,
        })
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub fn utc_ms(self) -> i64 {
        self.utc_ms
    }

    /// The device's offset from UTC in minutes, east positive.
    pub fn offset_minutes(self) -> i16 {
        self.offset_minutes
    }

    /// The calendar date on the device's wall clock at this moment.
    pub fn local_date(self) -> Date {
        self.local_datetime().date()
    }

    fn local_datetime(self) -> DateTime {
        let timestamp = jiff::Timestamp::from_millisecond(self.utc_ms)
            .expect("Moment::new keeps the instant inside jiff's range");
        let offset = Offset::from_seconds(i32::from(self.offset_minutes) * 60)
            .expect("Moment::new keeps the offset inside ±18 h");
        offset.to_datetime(timestamp)
    }

    /// Milliseconds from `earlier` to `self`; negative when `self` is before.
    pub fn ms_since(self, earlier: Moment) -> i64 {
        self.utc_ms - earlier.utc_ms
    }
}

impl PartialEq for Moment {
    fn eq(&self, other: &Self) -> bool {
        self.utc_ms == other.utc_ms
    }
}

impl Eq for Moment {}

impl PartialOrd for Moment {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Moment {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.utc_ms.cmp(&other.utc_ms)
    }
}

impl TryFrom<MomentRepr> for Moment {
    type Error = MomentError;
    fn try_from(repr: MomentRepr) -> Result<Self, Self::Error> {
        Moment::new(repr.utc_ms, repr.offset_minutes)
    }
}

impl From<Moment> for MomentRepr {
    fn from(moment: Moment) -> Self {
        Self {
            utc_ms: moment.utc_ms,
            offset_minutes: moment.offset_minutes,
        }
    }
}

impl fmt::Display for MomentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OffsetOutOfRange { offset_minutes } => write!(
                f,
                "UTC offset {offset_minutes} min is outside the allowed range of -1080 to +1080 min"
            ),
            Self::InstantOutOfRange { utc_ms } => write!(
                f,
                "time {utc_ms} ms is outside the allowed range of 1900-01-01 to 2200-01-01 UTC"
            ),
        }
    }
}

impl std::error::Error for MomentError {}

/// Completed years of life on `on`, for someone born on `born`.
///
/// The birthday counts once its month and day have been reached, so someone born on
/// 29 February becomes a year older on 1 March in common years. Returns `None` when
/// `born` is after `on`.
pub fn age_in_years(born: Date, on: Date) -> Option<u32> {
    if born > on {
        return None;
    }
    let birthday_reached = (on.month(), on.day()) >= (born.month(), born.day());
    let years = i32::from(on.year()) - i32::from(born.year()) - i32::from(!birthday_reached);
    u32::try_from(years).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn local_date_uses_the_device_offset() {
        // 2026-03-01T17:30Z is already 2 March in Beijing (+08:00).
        let utc_ms = 1_772_386_200_000;
        let beijing = Moment::new(utc_ms, 480).unwrap();
        let london = Moment::new(utc_ms, 0).unwrap();
        assert_eq!(beijing.local_date(), date(2026, 3, 2));
        assert_eq!(london.local_date(), date(2026, 3, 1));
        assert_eq!(beijing, london, "equality is by instant only");
    }

    #[test]
    fn moment_rejects_impossible_offsets_and_instants() {
        assert_eq!(
            Moment::new(0, 1_200),
            Err(MomentError::OffsetOutOfRange {
                offset_minutes: 1_200
            })
        );
        assert_eq!(
            Moment::new(MAX_UTC_MS + 1, 0),
            Err(MomentError::InstantOutOfRange {
                utc_ms: MAX_UTC_MS + 1
            })
        );
        let err = serde_json::from_str::<Moment>(r#"{"utc_ms":0,"offset_minutes":2000}"#);
        let error = err.unwrap_err().to_string();
        assert!(
            error.contains("2000"),
            "deserialising validates too: {error}"
        );
    }

    fn check_age(born: Date, on: Date, expected: Option<u32>) {
        assert_eq!(age_in_years(born, on), expected, "born {born}, on {on}");
    }

    #[test]
    fn age_counts_completed_years() {
        check_age(date(2008, 3, 15), date(2026, 3, 15), Some(18));
        check_age(date(2008, 3, 16), date(2026, 3, 15), Some(17));
        check_age(date(1950, 12, 31), date(2026, 1, 1), Some(75));
        check_age(date(2008, 2, 29), date(2026, 2, 28), Some(17));
        check_age(date(2008, 2, 29), date(2026, 3, 1), Some(18));
        check_age(date(2008, 2, 29), date(2028, 2, 29), Some(20));
        check_age(date(2026, 3, 15), date(2026, 3, 15), Some(0));
        check_age(date(2026, 3, 16), date(2026, 3, 15), None);
    }
}
