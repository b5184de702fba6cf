//! The tablet's clock, read in one place: the trial core takes time as an argument.

use trial::time::Moment;

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

/// A `<input type="datetime-local">` value ("2026-03-01T12:00"), read on the
/// tablet's wall clock; `None` when empty or not a date-time.
pub fn from_local_input(value: &str) -> Option<Moment> {
    if value.is_empty() {
        return None;
    }
    from_js_date(&js_sys::Date::new(&value.into()))
}

/// The moment `utc_ms`, with the tablet's UTC offset at that moment.
pub fn at_utc_ms(utc_ms: i64) -> Option<Moment> {
    from_js_date(&js_sys::Date::new(&(utc_ms as f64).into()))
}

/// The `datetime-local` value that shows `moment` on the tablet's wall clock.
pub fn to_local_input(moment: Moment) -> String {
    let date = js_sys::Date::new(&(moment.utc_ms() as f64).into());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes()
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
