//! The patient, the consent, the ward's clock and the PIN that tests in several
//! crates build alike, in one place, so a change to what a screening must hold is
//! made once. A dev-dependency of `trial` (its integration tests link the same
//! `trial` this crate does, so the types are one) and of `server` (its tests and
//! its bench); never a dependency of the app, so nothing here reaches the wasm.
//!
//! Every value is the one the tests used before they shared it: a test's meaning
//! does not change with where its builder lives.

#![deny(missing_docs)]

use std::sync::OnceLock;

use jiff::civil::date;
use trial::crf::consent::{ConsentForm, ConsentGivenBy};
use trial::payload::{Payload, ScreeningRecorded};
use trial::pin::{ITERATIONS, Pin, PinHash, PinSalt};
use trial::screening::{Answer, EcmoMode, ScreeningForm};
use trial::time::{MS_PER_HOUR, Moment};

/// Beijing's UTC offset, in minutes: the site every test is set in.
pub const BEIJING: i16 = 480;

/// An instant on a Beijing tablet's clock.
pub fn beijing(utc_ms: i64) -> Moment {
    Moment::new(utc_ms, BEIJING).expect("a test's moments are after 2018")
}

/// The server's stopped clock and a patient's day on the ward before it, shared by
/// the server's tests and its bench so a figure is measured on the data the tests
/// prove the server accepts.
pub mod ward {
    use super::MS_PER_HOUR;

    /// The server's clock: stopped, so timestamps are exact.
    pub const NOW_MS: i64 = 1_750_000_000_000;
    /// ECMO starts 6 h before `NOW_MS`.
    pub const ECMO_STARTED_MS: i64 = NOW_MS - 6 * MS_PER_HOUR;
    /// The screening, 5 h before `NOW_MS`.
    pub const SCREENED_MS: i64 = NOW_MS - 5 * MS_PER_HOUR;
    /// Consent, 4 h before `NOW_MS`.
    pub const CONSENTED_MS: i64 = NOW_MS - 4 * MS_PER_HOUR;
}

/// A patient who meets every criterion with the fewest answers: 55 years old in
/// 2026 (born 1970-06-15), BMI 24.2 (170 cm, 70 kg), in cardiogenic shock
/// (SBP below 90, pulmonary congestion, altered mental state, lactate 4.5 mmol/L),
/// on VA-ECMO for heart and lungs, every exclusion answered "no". The answers
/// inclusion 3 can do without stay blank. The fields are public: a test changes
/// the one it is about (the ECMO mode, the weight, an exclusion).
pub fn eligible_screening(screened_at: Moment, ecmo_started_at: Moment) -> ScreeningForm {
    let mut form = ScreeningForm::blank(screened_at);
    form.date_of_birth = Some(date(1970, 6, 15));
    form.height_cm = Some(170.0);
    form.weight_kg = Some(70.0);
    form.admitted_to_icu = Answer::Yes;
    form.sbp_below90_for30_min = Answer::Yes;
    form.pulmonary_congestion = Answer::Yes;
    form.altered_mental_status = Answer::Yes;
    form.lactate_mmol_per_l = Some(4.5);
    form.ecmo_mode = Some(EcmoMode::Va);
    form.ecmo_cardiopulmonary_support = Answer::Yes;
    form.ecmo_started_at = Some(ecmo_started_at);
    form.consent_refused = Answer::No;
    form.active_haemorrhage = Answer::No;
    form.thrombocytopenic_purpura = Answer::No;
    form.bridge_to_vad_or_transplant = Answer::No;
    form.infection = Answer::No;
    form
}

/// Answers "no" to the signs of shock that [`eligible_screening`] leaves blank
/// because inclusion 3 can do without them, as a nurse who fills in every question
/// would: the patient stays eligible, and a test that sets one of them alone sees
/// only its own effect.
pub fn answer_the_other_signs_no(form: &mut ScreeningForm) {
    for answer in [
        &mut form.map_below65_for30_min,
        &mut form.vasopressors_to_keep_sbp90,
        &mut form.elevated_lv_filling_pressure,
        &mut form.cold_clammy_skin,
        &mut form.oliguria,
    ] {
        *answer = Answer::No;
    }
}

/// `form` recorded under `screening_number` (a tablet's label and count, `T1-0001`).
pub fn screening_recorded(screening_number: impl Into<String>, form: ScreeningForm) -> Payload {
    Payload::ScreeningRecorded(ScreeningRecorded {
        screening_number: screening_number.into(),
        form,
    })
}

/// Consent given by the patient's legally authorised representative, as it is
/// for most patients on ECMO, on the consent form's version 2.1.
pub fn consent(consented_at: Moment) -> Payload {
    Payload::ConsentRecorded(ConsentForm {
        given_by: ConsentGivenBy::LegallyAuthorisedRepresentative,
        consented_at,
        form_version: "2.1".to_owned(),
    })
}

/// The PIN of every user the tests add.
pub const PIN: &str = "2468";

/// The hash of [`PIN`], computed once per process: hashing takes PBKDF2's full
/// count of rounds, which every test adding a user would otherwise pay again.
pub fn pin_hash() -> &'static PinHash {
    static HASH: OnceLock<PinHash> = OnceLock::new();
    HASH.get_or_init(|| {
        let pin = Pin::parse(PIN).expect("the tests' PIN has the digits a PIN needs");
        PinHash::new(&pin, PinSalt::from_bytes([5; 16]), ITERATIONS).expect("a PIN hashes")
    })
}

/// `url` (a PostgreSQL server's) with its database, the path after the host,
/// replaced by `name`: each test and bench run makes a fresh database of its own.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, query) = match rest.split_once('?') {
        Some((authority, query)) => (authority, format!("?{query}")),
        None => (rest, String::new()),
    };
    let host = authority.split('/').next().unwrap();
    format!("{scheme}://{host}/{name}{query}")
}
