//! Browser tests of how a typed date or date-time is read (`hp_ecmo::clock`): in
//! ISO order and 24-hour whatever the browser's language, twelve or eight digits
//! alone as a numeric keypad types them, a Chinese keyboard's full-width colon;
//! anything else (the browser's own 03/10/2026, 02:05 PM) is named, never guessed
//! at; and what is read is shown back in the one form.
#![cfg(target_arch = "wasm32")]

use hp_ecmo::clock::{
    NotADate, read_date_input, read_local_input, tidy_date, tidy_date_time, to_local_input,
};
use jiff::civil::date;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// What the wall-clock text `typed` reads as, shown back as the input shows it.
fn read(typed: &str) -> Result<Option<String>, NotADate> {
    read_local_input(typed).map(|moment| moment.map(to_local_input))
}

#[wasm_bindgen_test]
fn date_times_are_read_in_iso_order_and_24_hours() {
    let ok =
        |typed: &str, shown: &str| assert_eq!(read(typed), Ok(Some(shown.to_owned())), "{typed:?}");
    ok("2026-03-10 14:05", "2026-03-10 14:05");
    ok("  2026-03-10 14:05 ", "2026-03-10 14:05");
    ok("2026-03-10T14:05", "2026-03-10 14:05");
    ok("2026-03-10 9:05", "2026-03-10 09:05");
    ok("2026-03-10 14：05", "2026-03-10 14:05");
    ok("202603101405", "2026-03-10 14:05");
    ok("2026-03-10 00:00", "2026-03-10 00:00");
    ok("2026-03-10 23:59", "2026-03-10 23:59");
    assert_eq!(read(""), Ok(None));
    assert_eq!(read("   "), Ok(None));
}

#[wasm_bindgen_test]
fn anything_else_is_named_not_guessed() {
    for typed in [
        "03/10/2026, 02:05 PM",
        "10/03/2026 14:05",
        "2026-03-10",
        "2026-03-10 14",
        "2026-03-10 24:00",
        "2026-03-10 14:60",
        "2026-03-10 14:5",
        "2026-02-30 14:05",
        "2026-3-10 14:05",
        "2026-03-10 2:05 PM",
        "20260310140",
        "tomorrow",
    ] {
        assert_eq!(read(typed), Err(NotADate), "{typed:?}");
    }
}

#[wasm_bindgen_test]
fn dates_are_read_in_iso_order() {
    assert_eq!(read_date_input("1970-06-15"), Ok(Some(date(1970, 6, 15))));
    assert_eq!(read_date_input("19700615"), Ok(Some(date(1970, 6, 15))));
    assert_eq!(read_date_input(""), Ok(None));
    for typed in [
        "06/15/1970",
        "15.06.1970",
        "1970-6-15",
        "1970-02-30",
        "1970",
    ] {
        assert_eq!(read_date_input(typed), Err(NotADate), "{typed:?}");
    }
}

#[wasm_bindgen_test]
fn what_is_read_is_shown_back_in_the_one_form() {
    assert_eq!(
        tidy_date_time("202603101405").as_deref(),
        Some("2026-03-10 14:05")
    );
    assert_eq!(
        tidy_date_time("2026-03-10T09:05").as_deref(),
        Some("2026-03-10 09:05")
    );
    assert_eq!(
        tidy_date_time("03/10/2026"),
        None,
        "left as typed, and named"
    );
    assert_eq!(tidy_date("19700615").as_deref(), Some("1970-06-15"));
}
