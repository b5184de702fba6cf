//! The tablet's clock, read in one place: the trial core takes time as an argument.
//!
//! Times are shown and typed on the site's wall clock (`trial::time::Calendar`):
//! a tablet set to UTC at a Shanghai site shows and reads Shanghai times. The
//! calendar is set once the enrolment is read ([`set_calendar`]); before
//! enrolment (training mode) it is the device's own zone, and the screens say so.

use std::cell::RefCell;

use trial::time::{Calendar, Moment};

thread_local! {
    /// Where times are shown and read: the page has one tablet and one site.
    static CALENDAR: RefCell<Calendar> = const { RefCell::new(Calendar::Device) };
}

/// Shows and reads times on `calendar`'s clock from now on; called when the
/// enrolment is read and whenever it changes.
pub fn set_calendar(calendar: Calendar) {
    CALENDAR.set(calendar);
}

/// Now, as UTC milliseconds plus the tablet's current UTC offset. A clock set
/// outside the years a moment can hold (1900–2200) reads as the nearest of them
/// rather than stopping the app: a record dated so is then refused, with words
/// that say the clock is wrong (`trial::event::LimitError`, the server's
/// "from the future").
pub fn now() -> Moment {
    let date = js_sys::Date::new_0();
    from_js_date(&date).unwrap_or_else(|| {
        let bound = if date.get_time() < 0.0 {
            MIN_UTC_MS
        } else {
            MAX_UTC_MS
        };
        Moment::new(bound, 0).expect("invariant: the bounds are moments")
    })
}

/// The first and last instants a moment holds (1900-01-01 and 2200-01-01 UTC).
const MIN_UTC_MS: i64 = -2_208_988_800_000;
const MAX_UTC_MS: i64 = 7_258_118_400_000;

/// A date-time as a nurse types it, on the site's wall clock, in ISO order and
/// 24-hour whatever the language: "2026-03-10 14:05". Also read: a `T` for the
/// space (as the browser's own inputs wrote it), a one-digit hour ("9:05"), a
/// full-width colon from a Chinese keyboard, and the twelve digits alone
/// ("202603101405") that a numeric keypad can type. `Ok(None)` when blank; an
/// error when it is none of these, or names no such day, or a time the site's
/// clocks skip (a daylight-saving gap).
pub fn read_local_input(text: &str) -> Result<Option<Moment>, NotADate> {
    let text = text.trim().replace('：', ":");
    if text.is_empty() {
        return Ok(None);
    }
    let (date, time) = if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
        (read_date(&text[..8])?, (&text[8..10], &text[10..]))
    } else {
        let (date, time) = text.split_once([' ', 'T']).ok_or(NotADate)?;
        (
            read_date(date)?,
            time.trim().split_once(':').ok_or(NotADate)?,
        )
    };
    let number = |digits: &str, max: u32| -> Result<u32, NotADate> {
        let sane = (1..=2).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        let value: u32 = digits.parse().map_err(|_| NotADate)?;
        (sane && value <= max).then_some(value).ok_or(NotADate)
    };
    let (hour, minute) = (number(time.0, 23)?, number(time.1, 59)?);
    if time.1.len() != 2 {
        return Err(NotADate);
    }
    let typed = date.at(hour as i8, minute as i8, 0, 0);
    CALENDAR.with_borrow(|calendar| match calendar {
        Calendar::Site(zone) => Calendar::moment_in(zone, typed).map(Some).ok_or(NotADate),
        Calendar::Device => on_the_device_clock(typed).map(Some),
    })
}

/// The moment the device's own clock shows as `typed`, by the browser's rules
/// for its zone.
fn on_the_device_clock(typed: jiff::civil::DateTime) -> Result<Moment, NotADate> {
    let (hour, minute) = (typed.hour(), typed.minute());
    let local = js_sys::Date::new_with_year_month_day_hr_min(
        u32::try_from(typed.year()).map_err(|_| NotADate)?,
        i32::from(typed.month()) - 1,
        i32::from(typed.day()),
        i32::from(hour),
        i32::from(minute),
    );
    // A wall-clock time that does not exist here comes back moved.
    if local.get_hours() != hour as u32 || local.get_minutes() != minute as u32 {
        return Err(NotADate);
    }
    from_js_date(&local).ok_or(NotADate)
}

/// A date as typed: "1970-06-15" (ISO order in every language), or its eight
/// digits alone ("19700615"). `Ok(None)` when blank.
pub fn read_date_input(text: &str) -> Result<Option<jiff::civil::Date>, NotADate> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    read_date(text).map(Some)
}

/// A date-time written as it is typed, for the messages that say how.
pub const DATE_TIME_EXAMPLE: &str = "2026-03-10 14:05";
/// A date written as it is typed.
pub const DATE_EXAMPLE: &str = "2026-03-10";
/// What a date-time input shows while empty: the form, which no one could
/// mistake for a value already entered.
pub const DATE_TIME_PLACEHOLDER: &str = "YYYY-MM-DD hh:mm";
/// What a date input shows while empty.
pub const DATE_PLACEHOLDER: &str = "YYYY-MM-DD";

/// A typed date-time in the form it is shown in, once it reads as one
/// ("202603101405" reads as "2026-03-10 14:05"), so the nurse sees what was read.
pub fn tidy_date_time(text: &str) -> Option<String> {
    read_local_input(text).ok().flatten().map(to_local_input)
}

/// A typed date in the form it is shown in, once it reads as one.
pub fn tidy_date(text: &str) -> Option<String> {
    read_date_input(text)
        .ok()
        .flatten()
        .map(|date| date.to_string())
}

/// Why a typed date or date-time was not read: it is not written as one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotADate;

fn read_date(text: &str) -> Result<jiff::civil::Date, NotADate> {
    let iso = if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &text[..4], &text[4..6], &text[6..])
    } else {
        text.to_owned()
    };
    // Exactly YYYY-MM-DD: jiff also reads forms a nurse would not mean.
    let shaped = iso.len() == 10
        && iso.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shaped {
        return Err(NotADate);
    }
    iso.parse().map_err(|_| NotADate)
}

/// The moment `utc_ms`, with the tablet's UTC offset at that moment.
pub fn at_utc_ms(utc_ms: i64) -> Option<Moment> {
    from_js_date(&js_sys::Date::new(&(utc_ms as f64).into()))
}

/// How a date-time input shows `moment` on the site's wall clock (the device's
/// before enrolment), and what [`read_local_input`] reads back: "2026-03-01 12:00".
pub fn to_local_input(moment: Moment) -> String {
    let shown = CALENDAR.with_borrow(|calendar| calendar.wall_clock(moment));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        shown.year(),
        shown.month(),
        shown.day(),
        shown.hour(),
        shown.minute()
    )
}

fn from_js_date(date: &js_sys::Date) -> Option<Moment> {
    let utc_ms = date.get_time();
    if utc_ms.is_nan() {
        return None;
    }
    // JavaScript's offset is minutes *behind* UTC; ours is minutes ahead.
    let offset_minutes = -(date.get_timezone_offset() as i16);
    Moment::new(utc_ms as i64, offset_minutes).ok()
}
