//! The case report forms of CRF.md §2, §4–§10: every limit on both sides of each
//! boundary, warnings that need confirming, not-done reasons, the rules that span
//! fields, the derived values (VIS, change in IL-6), the sample windows at their
//! exact edges, and the payloads that carry the forms.

use jiff::civil::date;
use serde_json::{Value, json};
use trial::crf::adverse_event::{AdverseEventForm, AeOutcome, Relatedness, Severity};
use trial::crf::baseline::{BaselineForm, ShockCause};
use trial::crf::consent::{ConsentForm, ConsentGivenBy};
use trial::crf::cytokine::{CytokineSampleForm, SampleDue, TimePoint, il6_change};
use trial::crf::daily::{DailyAssessmentForm, StudyDay};
use trial::crf::end::{
    EndOfParticipation, EndStatus, NotEnrolled, NotEnrolledReason, Withdrawal, WithdrawnBy,
};
use trial::crf::hemoperfusion::{Cartridge, CircuitPosition, HemoperfusionSessionForm, StopReason};
use trial::crf::outcomes::{Day28Status, OutcomesForm};
use trial::crf::vasoactive::{VasoactiveDoses, VasoactiveEntries};
use trial::crf::{Entry, Form, FormContext, FormKind, FormRef, MAX_TEXT_CHARS};
use trial::event::EventKind;
use trial::field::{Field, FieldError, Input, TimeLimit};
use trial::payload::{
    FormSaved, Payload, PayloadError, Randomised, SCHEMA_VERSION, ScreeningNumber,
    ScreeningNumberError, ScreeningRecorded, StudyNumber, StudyNumberError, ValueCorrected,
};
use trial::randomisation::{Arm, LeaseId};
use trial::screening::ScreeningForm;
use trial::time::{MS_PER_HOUR, Moment, MomentError};
use uuid::Uuid;

const BEIJING: i16 = 480;
/// 2026-03-01 08:00 in Beijing: ECMO starts.
const ECMO_UTC_MS: i64 = 1_772_323_200_000;
const MINUTE: i64 = 60_000;
const SESSION: Uuid = Uuid::from_u128(0x5e55);
const ADVERSE_EVENT: Uuid = Uuid::from_u128(0xae);

fn at(utc_ms: i64) -> Moment {
    Moment::new(utc_ms, BEIJING).unwrap()
}

fn ecmo_start() -> Moment {
    at(ECMO_UTC_MS)
}

fn value<T>(value: T) -> Option<Entry<T>> {
    Some(Entry::Value(value))
}

fn day(day: u8) -> StudyDay {
    StudyDay::new(day).unwrap()
}

// Complete, valid forms that the tables below change one field of.

fn baseline() -> BaselineForm {
    BaselineForm {
        shock_cause: value(ShockCause::AcuteMyocardialInfarction),
        cardiac_arrest: value(true),
        ecpr: value(false),
        sofa_score: value(12),
        apache_ii_score: value(25),
        save_score: value(-5),
        mean_arterial_pressure_mmhg: value(62.0),
        heart_rate_per_min: value(118.0),
        lactate_mmol_per_l: value(6.4),
        ecmo_flow_l_per_min: value(4.2),
        sweep_gas_l_per_min: value(3.5),
        platelets_e9_per_l: value(142.0),
        haemoglobin_g_per_l: value(98.0),
        creatinine_umol_per_l: value(156.0),
        bilirubin_umol_per_l: value(21.0),
        vasoactive: VasoactiveEntries {
            dopamine_ug_per_kg_min: value(5.0),
            dobutamine_ug_per_kg_min: value(0.0),
            adrenaline_ug_per_kg_min: value(0.05),
            noradrenaline_ug_per_kg_min: value(0.2),
            milrinone_ug_per_kg_min: value(0.0),
            vasopressin_u_per_kg_min: value(0.0),
        },
    }
}

fn sample(time_point: TimePoint) -> CytokineSampleForm {
    CytokineSampleForm {
        time_point,
        sampled_at: value(at(ECMO_UTC_MS + time_point.hours() * MS_PER_HOUR)),
        il6_pg_per_ml: value(850.0),
        il8_pg_per_ml: value(120.0),
        il10_pg_per_ml: None,
        tnf_alpha_pg_per_ml: None,
    }
}

fn session() -> HemoperfusionSessionForm {
    HemoperfusionSessionForm {
        session_id: SESSION,
        cartridge: value(Cartridge::Ha380),
        cartridge_lot: value("HA380-2511-004".to_owned()),
        session_started_at: value(at(ECMO_UTC_MS + MS_PER_HOUR)),
        session_stopped_at: value(at(ECMO_UTC_MS + 5 * MS_PER_HOUR)),
        hp_blood_flow_ml_per_min: value(200.0),
        circuit_position: value(CircuitPosition::EcmoCircuit),
        anticoagulation: value("systemic heparin via ECMO".to_owned()),
        session_stop_reason: value(StopReason::Completed),
    }
}

fn daily(study_day: StudyDay) -> DailyAssessmentForm {
    DailyAssessmentForm {
        study_day,
        lactate_mmol_per_l: value(2.1),
        sofa_score: value(10),
        vasoactive: VasoactiveEntries {
            dopamine_ug_per_kg_min: value(3.0),
            dobutamine_ug_per_kg_min: value(0.0),
            adrenaline_ug_per_kg_min: value(0.0),
            noradrenaline_ug_per_kg_min: value(0.1),
            milrinone_ug_per_kg_min: value(0.0),
            vasopressin_u_per_kg_min: value(0.0),
        },
        ecmo_flow_l_per_min: value(3.8),
        platelets_e9_per_l: value(96.0),
        haemoglobin_g_per_l: value(92.0),
        red_cells_u: value(2.0),
        platelet_doses: value(0),
        plasma_ml: value(400),
        bleeding_event: value(false),
        renal_replacement_therapy: value(true),
        rbc_units: None,
        platelet_units: None,
        plasma_units: None,
    }
}

/// A daily assessment as version 1 of the forms recorded it: transfusions in units.
fn daily_in_version_1_units(study_day: StudyDay) -> DailyAssessmentForm {
    DailyAssessmentForm {
        red_cells_u: None,
        platelet_doses: None,
        plasma_ml: None,
        rbc_units: value(2),
        platelet_units: value(0),
        plasma_units: value(1),
        ..daily(study_day)
    }
}

fn adverse_event() -> AdverseEventForm {
    AdverseEventForm {
        adverse_event_id: ADVERSE_EVENT,
        ae_term: value("cannula site bleeding".to_owned()),
        ae_onset_at: value(at(ECMO_UTC_MS + 30 * MS_PER_HOUR)),
        ae_severity: value(Severity::Moderate),
        ae_serious: value(false),
        ae_relatedness: value(Relatedness::Unlikely),
        ae_action: value("local compression".to_owned()),
        ae_outcome: value(AeOutcome::Recovered),
    }
}

fn outcomes() -> OutcomesForm {
    OutcomesForm {
        ecmo_weaned: value(true),
        ecmo_weaned_at: value(at(ECMO_UTC_MS + 5 * 24 * MS_PER_HOUR)),
        died: value(false),
        died_at: None,
        day28_status: value(Day28Status::AliveDischarged),
        icu_discharged_on: value(date(2026, 3, 10)),
        hospital_discharged_on: value(date(2026, 3, 20)),
        rrt_days: value(4),
        bridged_to_vad_or_transplant: value(false),
    }
}

/// One complete, valid form of each kind.
fn every_form() -> [Form; 6] {
    [
        Form::Baseline(baseline()),
        Form::CytokineSample(sample(TimePoint::H6)),
        Form::HemoperfusionSession(session()),
        Form::DailyAssessment(daily(day(3))),
        Form::AdverseEvent(adverse_event()),
        Form::Outcomes(outcomes()),
    ]
}

/// One form of every kind that holds `field`: a field of version 1 on a form of
/// version 1.
fn forms_holding(field: Field) -> Vec<Form> {
    every_form()
        .into_iter()
        .filter(|form| form.kind().fields().contains(&field))
        .map(|form| match form {
            Form::DailyAssessment(daily) if field.is_retired() => {
                Form::DailyAssessment(daily_in_version_1_units(daily.study_day))
            }
            form => form,
        })
        .collect()
}

/// `form` with one field's entry replaced through its JSON, as a correction does.
fn with(form: &Form, field: Field, entry: Value) -> Form {
    let mut json = serde_json::to_value(form).unwrap();
    json[field.key()] = entry;
    serde_json::from_value(json).unwrap()
}

fn validate(form: &Form, confirmed: &[Field]) -> Result<(), Vec<FieldError>> {
    // In these tests the participant is randomised at ECMO start, so T0 and the
    // ECMO start coincide.
    form.validate(
        confirmed,
        FormContext {
            ecmo_started_at: Some(ecmo_start()),
            randomised_at: Some(ecmo_start()),
        },
    )
}

#[test]
fn the_reference_forms_are_valid() {
    for form in every_form() {
        assert_eq!(validate(&form, &[]), Ok(()), "{form:#?}");
    }
    assert_eq!(
        ConsentForm {
            given_by: ConsentGivenBy::LegallyAuthorisedRepresentative,
            consented_at: ecmo_start(),
            form_version: "2.1".to_owned(),
        }
        .validate(),
        Ok(())
    );
}

#[test]
fn form_json_keys_are_field_keys() {
    let identity = |kind| match kind {
        FormKind::CytokineSample => vec!["time_point"],
        FormKind::HemoperfusionSession => vec!["session_id"],
        FormKind::DailyAssessment => vec!["study_day"],
        FormKind::AdverseEvent => vec!["adverse_event_id"],
        FormKind::Baseline | FormKind::Outcomes => vec![],
    };
    for form in every_form() {
        let kind = form.kind();
        let json = serde_json::to_value(FormRef::blank_form(form.form_ref())).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        let mut expected: Vec<_> = ["kind"]
            .into_iter()
            .chain(identity(kind))
            // An old field is written only by the old forms that hold it.
            .chain(kind.entered_fields().map(Field::key))
            .map(str::to_owned)
            .collect();
        keys.sort();
        expected.sort();
        assert_eq!(keys, expected, "{kind:?}");
        assert_eq!(json["kind"], kind.key());
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.key());
    }
}

/// A number as JSON, whole when it is whole, so scores and counts deserialise.
fn number(value: f64) -> Value {
    if value.fract() == 0.0 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

/// Checks `field` on every form that has it, on both sides of both limits: the
/// limits themselves pass and one step beyond is refused, naming field and range.
/// Confirmed, so that a limit inside a warning range is tested on its own. `below`
/// is `None` for counts, whose type has nothing below 0.
fn check_limits(field: Field, below: Option<f64>, min: f64, max: f64, above: f64) {
    let limits = field.limits().expect("a measured field");
    assert_eq!((limits.min, limits.max), (min, max), "{field:?}");
    let forms = forms_holding(field);
    assert!(!forms.is_empty(), "{field:?} is on no form");
    for form in forms {
        for inside in [min, max] {
            let changed = with(&form, field, json!({ "value": number(inside) }));
            assert_eq!(validate(&changed, &[field]), Ok(()), "{field:?} = {inside}");
        }
        for outside in below.into_iter().chain([above]) {
            let changed = with(&form, field, json!({ "value": number(outside) }));
            let expected = FieldError::OutOfRange {
                field,
                value: outside,
                min,
                max,
            };
            assert_eq!(
                validate(&changed, &[field]),
                Err(vec![expected]),
                "{field:?} = {outside}"
            );
        }
    }
}

#[test]
fn every_limit_holds_on_both_sides_of_each_boundary() {
    #[rustfmt::skip]
    let table = [
        // field                            below      min     max        above
        (Field::SofaScore,                  -1.0,      0.0,    24.0,      25.0),
        (Field::ApacheIiScore,              -1.0,      0.0,    71.0,      72.0),
        (Field::SaveScore,                  -36.0,     -35.0,  17.0,      18.0),
        (Field::MeanArterialPressureMmhg,   19.9,      20.0,   200.0,     200.1),
        (Field::HeartRatePerMin,            -0.1,      0.0,    250.0,     250.1),
        (Field::LactateMmolPerL,            -0.1,      0.0,    30.0,      30.1),
        (Field::EcmoFlowLPerMin,            -0.1,      0.0,    8.0,       8.1),
        (Field::SweepGasLPerMin,            -0.1,      0.0,    15.0,      15.1),
        (Field::PlateletsE9PerL,            -0.1,      0.0,    1500.0,    1500.1),
        (Field::HaemoglobinGPerL,           19.9,      20.0,   250.0,     250.1),
        (Field::CreatinineUmolPerL,         9.9,       10.0,   2000.0,    2000.1),
        (Field::BilirubinUmolPerL,          -0.1,      0.0,    800.0,     800.1),
        (Field::DopamineUgPerKgMin,         -0.1,      0.0,    50.0,      50.1),
        (Field::DobutamineUgPerKgMin,       -0.1,      0.0,    40.0,      40.1),
        (Field::AdrenalineUgPerKgMin,       -0.01,     0.0,    5.0,       5.01),
        (Field::NoradrenalineUgPerKgMin,    -0.01,     0.0,    5.0,       5.01),
        (Field::MilrinoneUgPerKgMin,        -0.01,     0.0,    2.0,       2.01),
        (Field::VasopressinUPerKgMin,       -0.0001,   0.0,    0.005,     0.0051),
        (Field::Il6PgPerMl,                 -0.1,      0.0,    100_000.0, 100_000.1),
        (Field::Il8PgPerMl,                 -0.1,      0.0,    100_000.0, 100_000.1),
        (Field::Il10PgPerMl,                -0.1,      0.0,    100_000.0, 100_000.1),
        (Field::TnfAlphaPgPerMl,            -0.1,      0.0,    100_000.0, 100_000.1),
        (Field::HpBloodFlowMlPerMin,        49.9,      50.0,   400.0,     400.1),
        (Field::RedCellsU,                  -0.5,      0.0,    50.0,      50.5),
    ];
    for (field, below, min, max, above) in table {
        check_limits(field, Some(below), min, max, above);
    }
    // Counts are unsigned: below zero is not a count at all (tested below).
    for field in [Field::RbcUnits, Field::PlateletUnits, Field::PlasmaUnits] {
        check_limits(field, None, 0.0, 50.0, 51.0);
    }
    check_limits(Field::PlateletDoses, None, 0.0, 10.0, 11.0);
    check_limits(Field::PlasmaMl, None, 0.0, 5000.0, 5001.0);
    check_limits(Field::RrtDays, None, 0.0, 365.0, 366.0);
    // Every measured field of a form is in the tables above.
    let tested = table.len() + 6;
    let measured = Field::ALL
        .into_iter()
        .filter(|field| field.limits().is_some())
        .filter(|field| {
            FormKind::ALL
                .iter()
                .any(|kind| kind.fields().contains(field))
        })
        .count();
    assert_eq!(tested, measured);
}

#[test]
fn whole_numbers_and_counts_refuse_other_types() {
    let form = Form::DailyAssessment(daily(day(1)));
    let mut json = serde_json::to_value(&form).unwrap();
    for (field, entry) in [
        (Field::PlateletDoses, json!({ "value": -1 })),
        (Field::PlasmaMl, json!({ "value": 200.5 })),
        (Field::SofaScore, json!({ "value": 3.5 })),
        (Field::BleedingEvent, json!({ "value": "yes" })),
    ] {
        let saved = json[field.key()].take();
        json[field.key()] = entry;
        let error = serde_json::from_value::<Form>(json.clone()).unwrap_err();
        assert!(
            error.to_string().starts_with("invalid"),
            "{field:?}: {error}"
        );
        json[field.key()] = saved;
    }
}

fn check_study_day(day: u8, ok: bool) {
    let result = StudyDay::new(day);
    if ok {
        assert_eq!(result.map(StudyDay::get), Ok(day));
    } else {
        assert_eq!(
            result,
            Err(FieldError::OutOfRange {
                field: Field::StudyDay,
                value: f64::from(day),
                min: 1.0,
                max: 7.0
            })
        );
    }
    let json = json!({ "kind": "daily_assessment", "study_day": day });
    assert_eq!(
        serde_json::from_value::<FormRef>(json).is_ok(),
        ok,
        "day {day}"
    );
}

#[test]
fn study_days_are_1_to_7() {
    check_study_day(0, false);
    check_study_day(1, true);
    check_study_day(7, true);
    check_study_day(8, false);
}

/// The value at the warning level passes, one above it needs confirmation, and
/// once confirmed it passes.
fn check_warning(field: Field, at_level: Value, above: Value) {
    let form = every_form()
        .into_iter()
        .find(|form| form.kind().fields().contains(&field))
        .unwrap();
    let warn_above = field.limits().unwrap().warn_above.unwrap();
    assert_eq!(at_level.as_f64(), Some(warn_above), "{field:?}");
    let level = with(&form, field, json!({ "value": at_level }));
    assert_eq!(validate(&level, &[]), Ok(()), "{field:?} at its level");
    let unusual = with(&form, field, json!({ "value": above }));
    let errors = validate(&unusual, &[]).unwrap_err();
    assert_eq!(
        errors,
        [FieldError::UnconfirmedWarning {
            field,
            value: above.as_f64().unwrap(),
            warn_above
        }]
    );
    assert!(errors[0].needs_confirmation());
    assert_eq!(validate(&unusual, &[field]), Ok(()), "{field:?} confirmed");
}

#[test]
fn unusual_values_need_confirmation() {
    check_warning(Field::Il6PgPerMl, json!(10_000.0), json!(10_000.5));
    check_warning(Field::DopamineUgPerKgMin, json!(20.0), json!(20.5));
    check_warning(Field::DobutamineUgPerKgMin, json!(20.0), json!(20.5));
    check_warning(Field::AdrenalineUgPerKgMin, json!(1.0), json!(1.01));
    check_warning(Field::NoradrenalineUgPerKgMin, json!(1.0), json!(1.01));
    check_warning(Field::MilrinoneUgPerKgMin, json!(0.75), json!(0.76));
    check_warning(Field::VasopressinUPerKgMin, json!(0.001), json!(0.0011));
    // Only the fields CRF.md gives a warning for (and the doses we chose) have one.
    let warned: Vec<_> = Field::ALL
        .into_iter()
        .filter(|field| {
            field
                .limits()
                .is_some_and(|limits| limits.warn_above.is_some())
        })
        .collect();
    assert_eq!(warned.len(), 7, "{warned:?}");
    assert_eq!(
        FieldError::UnconfirmedWarning {
            field: Field::Il6PgPerMl,
            value: 12_000.0,
            warn_above: 10_000.0
        }
        .to_string(),
        "IL-6: 12000 pg/mL is above 10000 pg/mL, which is unusual; confirm it to save"
    );
}

/// Sets `field` to `entry` on the form of its kind and checks the errors.
fn check_entry(field: Field, entry: Value, expected: &[FieldError]) {
    let form = forms_holding(field).swap_remove(0);
    let changed = with(&form, field, entry.clone());
    let expected = if expected.is_empty() {
        Ok(())
    } else {
        Err(expected.to_vec())
    };
    assert_eq!(validate(&changed, &[]), expected, "{field:?} = {entry}");
}

#[test]
fn every_field_may_be_not_done_with_a_reason() {
    let long = "x".repeat(MAX_TEXT_CHARS + 1);
    for form in every_form() {
        for field in form.kind().fields() {
            let field = *field;
            check_entry(
                field,
                json!({ "not_done": { "reason": "analyser down" } }),
                &[],
            );
            check_entry(
                field,
                json!({ "not_done": { "reason": " " } }),
                &[FieldError::BlankReason { field }],
            );
            check_entry(
                field,
                json!({ "not_done": { "reason": long } }),
                &[FieldError::TooLong {
                    field,
                    length: MAX_TEXT_CHARS + 1,
                    max: MAX_TEXT_CHARS,
                }],
            );
        }
    }
    assert_eq!(
        FieldError::BlankReason {
            field: Field::Il6PgPerMl
        }
        .to_string(),
        "IL-6: recorded as not done without a reason"
    );
}

#[test]
fn blank_fields_are_named_all_at_once() {
    let errors = FormRef::Baseline
        .blank_form()
        .validate(&[], FormContext::NONE)
        .unwrap_err();
    let fields: Vec<_> = errors.iter().map(FieldError::field).collect();
    // ECPR is asked only after a cardiac arrest, which is blank too.
    let expected: Vec<_> = FormKind::Baseline
        .fields()
        .iter()
        .copied()
        .filter(|field| *field != Field::Ecpr)
        .collect();
    assert_eq!(fields, expected);
    assert!(
        errors
            .iter()
            .all(|error| matches!(error, FieldError::Required { .. }))
    );

    // Optional fields may stay blank.
    for (field, blank_is_fine) in [
        (Field::Il8PgPerMl, true),
        (Field::Il10PgPerMl, true),
        (Field::TnfAlphaPgPerMl, true),
        (Field::IcuDischargedOn, true),
        (Field::HospitalDischargedOn, true),
        (Field::Il6PgPerMl, false),
        (Field::SampledAt, false),
        (Field::RrtDays, false),
    ] {
        let expected = if blank_is_fine {
            vec![]
        } else {
            vec![FieldError::Required { field }]
        };
        check_entry(field, Value::Null, &expected);
    }
}

#[test]
fn texts_must_not_be_blank_or_too_long() {
    for field in [
        Field::CartridgeLot,
        Field::Anticoagulation,
        Field::AeTerm,
        Field::AeAction,
    ] {
        check_entry(
            field,
            json!({ "value": "  " }),
            &[FieldError::Blank { field }],
        );
        check_entry(field, json!({ "value": "y".repeat(MAX_TEXT_CHARS) }), &[]);
        check_entry(
            field,
            json!({ "value": "é".repeat(MAX_TEXT_CHARS + 1) }),
            &[FieldError::TooLong {
                field,
                length: MAX_TEXT_CHARS + 1,
                max: MAX_TEXT_CHARS,
            }],
        );
    }
    let mut consent = ConsentForm {
        given_by: ConsentGivenBy::Patient,
        consented_at: ecmo_start(),
        form_version: " ".to_owned(),
    };
    assert_eq!(
        consent.validate(),
        Err(vec![FieldError::Blank {
            field: Field::ConsentFormVersion
        }])
    );
    consent.form_version = "2.1".to_owned();
    assert_eq!(consent.validate(), Ok(()));
    let withdrawal = Withdrawal {
        by: WithdrawnBy::LegallyAuthorisedRepresentative,
        reason: String::new(),
    };
    assert_eq!(
        withdrawal.validate(),
        Err(vec![FieldError::Blank {
            field: Field::WithdrawalReason
        }])
    );
}

fn contradiction(field: Field, other: Field) -> FieldError {
    FieldError::Contradiction { field, other }
}

#[test]
fn answers_that_depend_on_each_other() {
    type Change = fn(&mut BaselineForm);
    let baseline_cases: [(Change, Vec<FieldError>); 5] = [
        (
            |form| form.ecpr = None,
            vec![FieldError::Required { field: Field::Ecpr }],
        ),
        (
            |form| {
                form.cardiac_arrest = value(false);
                form.ecpr = value(true);
            },
            vec![contradiction(Field::Ecpr, Field::CardiacArrest)],
        ),
        (
            |form| {
                form.cardiac_arrest = value(false);
                form.ecpr = None;
            },
            vec![],
        ),
        (
            |form| {
                form.cardiac_arrest = Some(Entry::not_done("history unavailable"));
                form.ecpr = None;
            },
            vec![],
        ),
        (|form| form.ecpr = value(true), vec![]),
    ];
    for (change, expected) in baseline_cases {
        let mut form = baseline();
        change(&mut form);
        assert_eq!(
            form.validate(&[]).err().unwrap_or_default(),
            expected,
            "{form:#?}"
        );
    }

    type SessionChange = fn(&mut HemoperfusionSessionForm);
    let not_after = FieldError::NotAfter {
        field: Field::SessionStoppedAt,
        limit: TimeLimit::SessionStart,
    };
    let session_cases: [(SessionChange, Vec<FieldError>); 5] = [
        (
            |form| form.session_stopped_at = value(at(ECMO_UTC_MS + MS_PER_HOUR)),
            vec![not_after.clone()],
        ),
        (
            |form| form.session_stopped_at = value(at(ECMO_UTC_MS + MS_PER_HOUR + 1)),
            vec![],
        ),
        (
            // Still running: no stop time and no reason yet.
            |form| {
                form.session_stopped_at = None;
                form.session_stop_reason = None;
            },
            vec![],
        ),
        (
            |form| form.session_stop_reason = None,
            vec![FieldError::Required {
                field: Field::SessionStopReason,
            }],
        ),
        (
            |form| form.session_stopped_at = None,
            vec![contradiction(
                Field::SessionStopReason,
                Field::SessionStoppedAt,
            )],
        ),
    ];
    for (change, expected) in session_cases {
        let mut form = session();
        change(&mut form);
        assert_eq!(
            form.validate(&[]).err().unwrap_or_default(),
            expected,
            "{form:#?}"
        );
    }

    let mut fatal = adverse_event();
    fatal.ae_outcome = value(AeOutcome::Fatal);
    assert_eq!(
        fatal.validate(&[]),
        Err(vec![contradiction(Field::AeSerious, Field::AeOutcome)])
    );
    fatal.ae_serious = value(true);
    assert_eq!(fatal.validate(&[]), Ok(()));
}

#[test]
fn outcome_dates_are_not_before_ecmo_start() {
    let earlier = |field| FieldError::EarlierThan {
        field,
        limit: TimeLimit::EcmoStart,
    };
    type Change = fn(&mut OutcomesForm);
    let cases: [(Change, Vec<FieldError>); 10] = [
        (|form| form.ecmo_weaned_at = value(at(ECMO_UTC_MS)), vec![]),
        (
            |form| form.ecmo_weaned_at = value(at(ECMO_UTC_MS - 1)),
            vec![earlier(Field::EcmoWeanedAt)],
        ),
        (
            |form| {
                form.died = value(true);
                form.died_at = value(at(ECMO_UTC_MS - MINUTE));
                form.day28_status = value(Day28Status::Dead);
            },
            vec![earlier(Field::DiedAt)],
        ),
        (
            // ECMO started on 1 March on the ward's calendar.
            |form| form.icu_discharged_on = value(date(2026, 3, 1)),
            vec![],
        ),
        (
            |form| form.icu_discharged_on = value(date(2026, 2, 28)),
            vec![earlier(Field::IcuDischargedOn)],
        ),
        (
            |form| form.hospital_discharged_on = value(date(2026, 3, 9)),
            vec![FieldError::EarlierThan {
                field: Field::HospitalDischargedOn,
                limit: TimeLimit::IcuDischarge,
            }],
        ),
        (
            |form| form.ecmo_weaned_at = None,
            vec![FieldError::Required {
                field: Field::EcmoWeanedAt,
            }],
        ),
        (
            |form| form.died_at = value(at(ECMO_UTC_MS + MS_PER_HOUR)),
            vec![contradiction(Field::DiedAt, Field::Died)],
        ),
        (
            |form| form.day28_status = value(Day28Status::Dead),
            vec![contradiction(Field::Day28Status, Field::Died)],
        ),
        (
            |form| {
                form.ecmo_weaned = value(false);
                form.ecmo_weaned_at = None;
            },
            vec![],
        ),
    ];
    for (change, expected) in cases {
        let mut form = outcomes();
        change(&mut form);
        let actual = form.validate(&[], Some(ecmo_start()));
        assert_eq!(actual.err().unwrap_or_default(), expected, "{form:#?}");
    }
    // Without the ECMO start, only what the form shows on its own is checked.
    let mut form = outcomes();
    form.ecmo_weaned_at = value(at(ECMO_UTC_MS - 1));
    assert_eq!(form.validate(&[], None), Ok(()));
}

fn check_vis(doses: [f64; 6], expected: f64) {
    let [
        dopamine,
        dobutamine,
        adrenaline,
        noradrenaline,
        milrinone,
        vasopressin,
    ] = doses;
    let doses = VasoactiveDoses {
        dopamine_ug_per_kg_min: dopamine,
        dobutamine_ug_per_kg_min: dobutamine,
        adrenaline_ug_per_kg_min: adrenaline,
        noradrenaline_ug_per_kg_min: noradrenaline,
        milrinone_ug_per_kg_min: milrinone,
        vasopressin_u_per_kg_min: vasopressin,
    };
    let score = doses.score();
    assert!((score - expected).abs() < 1e-9, "{doses:?}: {score}");
}

#[test]
fn vasoactive_inotropic_score_is_computed_from_doses() {
    check_vis([0.0; 6], 0.0);
    check_vis([5.0, 0.0, 0.0, 0.0, 0.0, 0.0], 5.0);
    check_vis([0.0, 7.5, 0.0, 0.0, 0.0, 0.0], 7.5);
    check_vis([0.0, 0.0, 0.1, 0.0, 0.0, 0.0], 10.0);
    check_vis([0.0, 0.0, 0.0, 0.3, 0.0, 0.0], 30.0);
    check_vis([0.0, 0.0, 0.0, 0.0, 0.5, 0.0], 5.0);
    check_vis([0.0, 0.0, 0.0, 0.0, 0.0, 0.0004], 4.0);
    check_vis(
        [5.0, 5.0, 0.05, 0.2, 0.375, 0.0003],
        5.0 + 5.0 + 5.0 + 20.0 + 3.75 + 3.0,
    );

    // The baseline reference: 5 + 0 + 5 + 20 + 0 + 0.
    let score = baseline().vasoactive.score().unwrap();
    assert!((score - 30.0).abs() < 1e-9, "{score}");
    let score = daily(day(2)).vasoactive.score().unwrap();
    assert!((score - 13.0).abs() < 1e-9, "{score}");
    // A dose not done leaves the score unknown rather than counting it as zero.
    let mut form = baseline();
    form.vasoactive.vasopressin_u_per_kg_min = Some(Entry::not_done("pump record lost"));
    assert_eq!(form.vasoactive.score(), None);
    assert_eq!(form.validate(&[]), Ok(()));
}

fn check_il6(t0: f64, later: f64, absolute: f64, percent: Option<f64>, log10: Option<f64>) {
    let change = il6_change(t0, later);
    let close = |left: f64, right: f64| (left - right).abs() < 1e-9;
    assert!(
        close(change.absolute_pg_per_ml, absolute),
        "{t0} → {later}: {change:?}"
    );
    assert_eq!(
        change.percent.is_some(),
        percent.is_some(),
        "{t0} → {later}"
    );
    assert_eq!(
        change.log10_change.is_some(),
        log10.is_some(),
        "{t0} → {later}"
    );
    if let (Some(actual), Some(expected)) = (change.percent, percent) {
        assert!(close(actual, expected), "{t0} → {later}: {change:?}");
    }
    if let (Some(actual), Some(expected)) = (change.log10_change, log10) {
        assert!(close(actual, expected), "{t0} → {later}: {change:?}");
    }
}

#[test]
fn il6_change_from_t0() {
    check_il6(1000.0, 100.0, -900.0, Some(-90.0), Some(-1.0));
    check_il6(100.0, 1000.0, 900.0, Some(900.0), Some(1.0));
    check_il6(500.0, 500.0, 0.0, Some(0.0), Some(0.0));
    check_il6(200.0, 50.0, -150.0, Some(-75.0), Some(0.25f64.log10()));
    // IL-6 of 0 at T0: no percentage and no logarithm.
    check_il6(0.0, 40.0, 40.0, None, None);
    // IL-6 of 0 later: the percentage exists, the logarithm does not.
    check_il6(80.0, 0.0, -80.0, Some(-100.0), None);
    check_il6(0.0, 0.0, 0.0, None, None);
}

/// A sample for `time_point` taken `offset_ms` after its target, checked against
/// the window with and without confirmation.
fn check_window(time_point: TimePoint, offset_ms: i64, expected: Option<(i64, i64)>) {
    let mut form = sample(time_point);
    let target = ECMO_UTC_MS + time_point.hours() * MS_PER_HOUR;
    form.sampled_at = value(at(target + offset_ms));
    let form = Form::CytokineSample(form);
    let expected = match expected {
        None => Ok(()),
        Some((minutes_from_target, allowed_minutes)) => {
            Err(vec![FieldError::UnconfirmedSampleWindow {
                time_point,
                minutes_from_target,
                allowed_minutes,
            }])
        }
    };
    assert_eq!(
        validate(&form, &[]),
        expected,
        "{time_point} {offset_ms:+} ms"
    );
    assert_eq!(validate(&form, &[Field::SampledAt]), Ok(()), "confirmed");
    let window = time_point.window(ecmo_start()).unwrap();
    assert_eq!(
        window.contains(at(target + offset_ms)),
        expected.is_ok(),
        "{time_point} {offset_ms:+} ms"
    );
}

#[test]
fn sample_windows_include_their_exact_edges() {
    let hour = MS_PER_HOUR;
    for time_point in [TimePoint::H0, TimePoint::H6, TimePoint::H12, TimePoint::H24] {
        check_window(time_point, 0, None);
        check_window(time_point, hour, None);
        check_window(time_point, -hour, None);
        check_window(time_point, hour + 1, Some((61, 60)));
        check_window(time_point, -hour - 1, Some((-61, 60)));
    }
    for time_point in [TimePoint::H48, TimePoint::H72] {
        check_window(time_point, 3 * hour, None);
        check_window(time_point, -3 * hour, None);
        check_window(time_point, 3 * hour + 1, Some((181, 180)));
        check_window(time_point, -3 * hour - 1, Some((-181, 180)));
        check_window(time_point, -4 * hour, Some((-240, 180)));
    }
    assert_eq!(
        FieldError::UnconfirmedSampleWindow {
            time_point: TimePoint::H12,
            minutes_from_target: 95,
            allowed_minutes: 60
        }
        .to_string(),
        "sample date-time: the 12 h sample was taken 95 min after its target time, \
         outside its window of ± 60 min; confirm it to save"
    );
    // Without T0 the window cannot be checked; the projection does it.
    let mut late = sample(TimePoint::H6);
    late.sampled_at = value(at(ECMO_UTC_MS + 9 * MS_PER_HOUR));
    assert_eq!(late.validate(&[], None), Ok(()));
}

fn check_due(time_point: TimePoint, now_offset_ms: i64, expected: SampleDue) {
    let window = time_point.window(ecmo_start()).unwrap();
    let target = ECMO_UTC_MS + time_point.hours() * MS_PER_HOUR;
    assert_eq!(window.target(), at(target));
    assert_eq!(
        window.due(at(target + now_offset_ms)),
        expected,
        "{time_point} at {now_offset_ms:+} ms"
    );
}

#[test]
fn a_sample_is_due_from_its_window_opening_to_its_closing() {
    let hour = MS_PER_HOUR;
    check_due(TimePoint::H6, -hour - 1, SampleDue::NotYet);
    check_due(TimePoint::H6, -hour, SampleDue::Due);
    check_due(TimePoint::H6, hour, SampleDue::Due);
    check_due(TimePoint::H6, hour + 1, SampleDue::Overdue);
    check_due(TimePoint::H72, -3 * hour - 1, SampleDue::NotYet);
    check_due(TimePoint::H72, -3 * hour, SampleDue::Due);
    check_due(TimePoint::H72, 3 * hour, SampleDue::Due);
    check_due(TimePoint::H72, 3 * hour + 1, SampleDue::Overdue);
    let window = TimePoint::H0.window(ecmo_start()).unwrap();
    assert_eq!(window.earliest(), at(ECMO_UTC_MS - hour));
    assert_eq!(window.latest(), at(ECMO_UTC_MS + hour));
    assert_eq!(window.earliest().offset_minutes(), BEIJING);
    // 2200 is the end of the representable calendar.
    let late_start = Moment::new(7_258_118_400_000 - hour, 0).unwrap();
    assert!(matches!(
        TimePoint::H6.window(late_start),
        Err(MomentError::InstantOutOfRange { .. })
    ));
}

fn check_study_number(
    site: &str,
    device: &str,
    count: u32,
    expected: Result<&str, StudyNumberError>,
) {
    let made = StudyNumber::new(site, device, count);
    assert_eq!(
        made.as_ref().map(StudyNumber::as_str).map_err(Clone::clone),
        expected.clone(),
        "{site} {device} {count}"
    );
    if let Ok(text) = expected {
        assert_eq!(StudyNumber::parse(text), made);
        let json = serde_json::to_string(&made.unwrap()).unwrap();
        assert_eq!(json, format!("\"{text}\""));
    }
}

#[test]
fn study_numbers_are_site_device_count() {
    check_study_number("BJ", "T1", 7, Ok("BJ-T1-007"));
    check_study_number("BJ", "T1", 1, Ok("BJ-T1-001"));
    check_study_number("SH2", "TAB12", 1234, Ok("SH2-TAB12-1234"));
    check_study_number("BJ", "T1", 99_999, Ok("BJ-T1-99999"));
    check_study_number(
        "BJ",
        "T1",
        100_000,
        Err(StudyNumberError::Count { count: 100_000 }),
    );
    check_study_number("BJ", "T1", 0, Err(StudyNumberError::Count { count: 0 }));
    check_study_number(
        "bj",
        "T1",
        1,
        Err(StudyNumberError::SiteCode { code: "bj".into() }),
    );
    check_study_number(
        "",
        "T1",
        1,
        Err(StudyNumberError::SiteCode {
            code: String::new(),
        }),
    );
    check_study_number(
        "BJ",
        "T-1",
        1,
        Err(StudyNumberError::DeviceLabel {
            label: "T-1".into(),
        }),
    );
    check_study_number(
        "BJ",
        "TABLET123",
        1,
        Err(StudyNumberError::DeviceLabel {
            label: "TABLET123".into(),
        }),
    );
    for text in [
        "BJ-T1-7",
        "BJ-T1-0007",
        "BJ-T1",
        "BJ-T1-007-2",
        "BJ-T1-+07",
        "BJ-T1- 07",
    ] {
        assert_eq!(
            StudyNumber::parse(text),
            Err(StudyNumberError::Malformed { text: text.into() }),
            "{text}"
        );
    }
    let error = serde_json::from_str::<StudyNumber>("\"BJ-T1-7\"").unwrap_err();
    assert!(
        error.to_string().contains("is not a study number"),
        "{error}"
    );
}

fn check_payload(payload: Payload) {
    let json = payload.to_json();
    assert_eq!(
        Payload::parse(payload.kind(), SCHEMA_VERSION, &json),
        Ok(payload.clone()),
        "{json}"
    );
    // Strict: one unknown field anywhere in the body is refused.
    let mut body: Value = serde_json::from_str(&json).unwrap();
    body["favourite_colour"] = json!("red");
    let error = Payload::parse(payload.kind(), SCHEMA_VERSION, &body.to_string()).unwrap_err();
    assert!(
        matches!(&error, PayloadError::Malformed { message, .. } if message.contains("favourite_colour")),
        "{error}"
    );
    // Also inside a nested form, and inside an entry.
    let mut body: Value = serde_json::from_str(&json).unwrap();
    if let Some(form) = body.get_mut("form").and_then(Value::as_object_mut) {
        form.insert("favourite_colour".to_owned(), json!("red"));
        let nested = Payload::parse(payload.kind(), SCHEMA_VERSION, &body.to_string());
        assert!(
            matches!(nested, Err(PayloadError::Malformed { .. })),
            "{body}"
        );
    }
    // A newer app's event is kept but not read; version 0 was never written.
    let newer = Payload::parse(payload.kind(), SCHEMA_VERSION + 1, &json);
    assert_eq!(
        newer,
        Err(PayloadError::NewerSchemaVersion {
            found: SCHEMA_VERSION + 1,
            supported: SCHEMA_VERSION
        })
    );
    assert!(
        newer.unwrap_err().to_string().contains("update the app"),
        "the words say what to do"
    );
    assert_eq!(
        Payload::parse(payload.kind(), 0, &json),
        Err(PayloadError::UnsupportedSchemaVersion {
            found: 0,
            supported: SCHEMA_VERSION
        })
    );
}

fn screening_recorded(screening_number: &str) -> ScreeningRecorded {
    ScreeningRecorded {
        screening_number: screening_number.to_owned(),
        form: ScreeningForm::blank(ecmo_start()),
    }
}

fn correction(form: FormRef, field: Field, new: Value, reason: &str) -> Payload {
    correction_of(form, field, Value::Null, new, reason)
}

fn correction_of(form: FormRef, field: Field, old: Value, new: Value, reason: &str) -> Payload {
    Payload::ValueCorrected(ValueCorrected {
        form,
        field,
        old,
        new,
        reason: reason.to_owned(),
        confirms: None,
    })
}

#[test]
fn every_payload_round_trips_strictly() {
    check_payload(Payload::ScreeningRecorded(screening_recorded("T1-0007")));
    check_payload(Payload::ConsentRecorded(ConsentForm {
        given_by: ConsentGivenBy::Patient,
        consented_at: ecmo_start(),
        form_version: "2.1".to_owned(),
    }));
    check_payload(Payload::Randomised(Randomised {
        lease_id: LeaseId::new(Uuid::from_u128(0x1ea5e)),
        slot: 3,
        arm: Arm::Hemoperfusion,
        study_number: StudyNumber::new("BJ", "T1", 7).unwrap(),
        randomised_at: ecmo_start(),
    }));
    for form in every_form() {
        check_payload(Payload::FormSaved(FormSaved {
            form,
            confirmed: vec![],
        }));
    }
    check_payload(correction(
        FormRef::CytokineSample {
            time_point: TimePoint::H6,
        },
        Field::Il6PgPerMl,
        json!({ "value": 640.0 }),
        "transcription error",
    ));
    check_payload(Payload::Withdrawn(Withdrawal {
        by: WithdrawnBy::Participant,
        reason: "no longer wishes to take part".to_owned(),
    }));
    check_payload(Payload::EndOfParticipation(EndOfParticipation {
        status: EndStatus::LostToFollowUp,
    }));
    check_payload(Payload::NotEnrolled(NotEnrolled {
        reason: NotEnrolledReason::MissedWindow,
        details: String::new(),
    }));
    assert_eq!(
        Payload::EndOfParticipation(EndOfParticipation {
            status: EndStatus::Completed
        })
        .to_json(),
        r#"{"status":"completed"}"#
    );
}

#[test]
fn entries_are_strict_too() {
    let mut json = serde_json::to_value(Form::CytokineSample(sample(TimePoint::H6))).unwrap();
    json["il6_pg_per_ml"] = json!({ "not_done": { "reason": "lost", "by": "me" } });
    let error = serde_json::from_value::<Form>(json.clone()).unwrap_err();
    assert!(error.to_string().contains("unknown field `by`"), "{error}");
    json["il6_pg_per_ml"] = json!({ "value": 5.0, "not_done": { "reason": "lost" } });
    let error = serde_json::from_value::<Form>(json.clone()).unwrap_err();
    assert!(
        error.to_string().contains("expected map with a single key"),
        "{error}"
    );
    json["il6_pg_per_ml"] = json!({ "not_done": { "reason": "lost" } });
    assert!(serde_json::from_value::<Form>(json).is_ok());
}

/// A baseline form and a daily assessment as the build before the six doses were
/// one block ([`VasoactiveEntries`]) wrote them; the daily one has a dose not done.
const BASELINE_SAVED: &str = r#"{"form":{"kind":"baseline","shock_cause":{"value":"acute_myocardial_infarction"},"cardiac_arrest":{"value":true},"ecpr":{"value":false},"sofa_score":{"value":12},"apache_ii_score":{"value":24},"save_score":{"value":-4},"mean_arterial_pressure_mmhg":{"value":62.0},"heart_rate_per_min":{"value":118.0},"lactate_mmol_per_l":{"value":5.2},"ecmo_flow_l_per_min":{"value":3.8},"sweep_gas_l_per_min":{"value":3.0},"platelets_e9_per_l":{"value":142.0},"haemoglobin_g_per_l":{"value":104.0},"creatinine_umol_per_l":{"value":131.0},"bilirubin_umol_per_l":{"not_done":{"reason":"sample haemolysed"}},"dopamine_ug_per_kg_min":{"value":5.0},"dobutamine_ug_per_kg_min":{"value":2.5},"adrenaline_ug_per_kg_min":{"value":0.0},"noradrenaline_ug_per_kg_min":{"value":0.12},"milrinone_ug_per_kg_min":{"value":0.0},"vasopressin_u_per_kg_min":{"value":0.0}},"confirmed":[]}"#;
const DAILY_SAVED: &str = r#"{"form":{"kind":"daily_assessment","study_day":2,"lactate_mmol_per_l":{"value":3.1},"sofa_score":{"value":11},"dopamine_ug_per_kg_min":{"value":5.0},"dobutamine_ug_per_kg_min":{"value":2.5},"adrenaline_ug_per_kg_min":{"value":0.0},"noradrenaline_ug_per_kg_min":{"value":0.12},"milrinone_ug_per_kg_min":{"value":0.0},"vasopressin_u_per_kg_min":{"not_done":{"reason":"pump record lost"}},"ecmo_flow_l_per_min":{"value":3.5},"platelets_e9_per_l":{"value":118.0},"haemoglobin_g_per_l":{"value":98.0},"red_cells_u":{"value":1.5},"platelet_doses":{"value":1},"plasma_ml":{"value":400},"bleeding_event":{"value":false},"renal_replacement_therapy":{"value":true}},"confirmed":["platelets_e9_per_l"]}"#;
/// A daily assessment being typed, with doses still blank (`null`).
const DAILY_DRAFT: &str = r#"{"kind":"daily_assessment","study_day":3,"lactate_mmol_per_l":{"value":2.0},"sofa_score":null,"dopamine_ug_per_kg_min":{"value":3.0},"dobutamine_ug_per_kg_min":null,"adrenaline_ug_per_kg_min":null,"noradrenaline_ug_per_kg_min":{"value":0.1},"milrinone_ug_per_kg_min":null,"vasopressin_u_per_kg_min":null,"ecmo_flow_l_per_min":null,"platelets_e9_per_l":null,"haemoglobin_g_per_l":null,"red_cells_u":null,"platelet_doses":null,"plasma_ml":null,"bleeding_event":null,"renal_replacement_therapy":null}"#;

/// An event's hash covers its payload's text, and a form is read and written again
/// by every correction: the forms that share their doses write them back to the
/// byte, in the place each form always had them.
#[test]
fn the_forms_sharing_the_doses_write_back_what_they_read() {
    for text in [BASELINE_SAVED, DAILY_SAVED] {
        let payload = Payload::parse(EventKind::FormSaved, SCHEMA_VERSION, text).unwrap();
        assert_eq!(payload.to_json(), text);
    }
    let draft: Form = serde_json::from_str(DAILY_DRAFT).unwrap();
    assert_eq!(serde_json::to_string(&draft).unwrap(), DAILY_DRAFT);
    let Form::DailyAssessment(daily) = draft else {
        panic!("a daily assessment: {draft:?}");
    };
    assert_eq!(daily.vasoactive.noradrenaline_ug_per_kg_min, value(0.1));
    assert_eq!(daily.vasoactive.score(), None);
}

/// The doses are read by a block of their own inside each form, which sees every
/// key of the form; a key no part of the form takes is still refused, inside the
/// doses' range of keys too, and so is a dose given twice.
#[test]
fn the_forms_sharing_the_doses_refuse_what_no_field_takes() {
    for text in [BASELINE_SAVED, DAILY_SAVED] {
        for key in ["favourite_colour", "dopamine_ug_per_kg_hour"] {
            let mut body: Value = serde_json::from_str(text).unwrap();
            body["form"][key] = json!({ "value": 5.0 });
            let error = serde_json::from_value::<Form>(body["form"].clone()).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains(&format!("unknown field `{key}`")),
                "{error}"
            );
            let error = Payload::parse(EventKind::FormSaved, SCHEMA_VERSION, &body.to_string())
                .unwrap_err();
            assert!(
                matches!(&error, PayloadError::Malformed { message, .. } if message.contains(key)),
                "{error}"
            );
        }
        let twice = text.replacen(
            r#""dopamine_ug_per_kg_min":{"value":5.0}"#,
            r#""dopamine_ug_per_kg_min":{"value":5.0},"dopamine_ug_per_kg_min":{"value":50.0}"#,
            1,
        );
        assert_ne!(twice, text);
        let form = &twice[r#"{"form":"#.len()..twice.find(r#","confirmed""#).unwrap()];
        let error = serde_json::from_str::<Form>(form).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("duplicate field `dopamine_ug_per_kg_min`"),
            "{error}"
        );
        let error = Payload::parse(EventKind::FormSaved, SCHEMA_VERSION, &twice).unwrap_err();
        assert!(
            matches!(&error, PayloadError::Malformed { message, .. }
                if message.contains("dopamine_ug_per_kg_min")),
            "{error}"
        );
    }
}

#[test]
fn payloads_are_validated_with_the_form_rules() {
    let invalid = |kind, errors: Vec<FieldError>| Err(PayloadError::Invalid { kind, errors });

    let blank = Payload::ScreeningRecorded(screening_recorded(" "));
    assert_eq!(
        Payload::parse(
            EventKind::ScreeningRecorded,
            SCHEMA_VERSION,
            &blank.to_json()
        ),
        invalid(
            EventKind::ScreeningRecorded,
            vec![FieldError::Blank {
                field: Field::ScreeningNumber
            }]
        )
    );
    let long = Payload::ScreeningRecorded(screening_recorded(&"7".repeat(33)));
    assert_eq!(
        Payload::parse(
            EventKind::ScreeningRecorded,
            SCHEMA_VERSION,
            &long.to_json()
        ),
        invalid(
            EventKind::ScreeningRecorded,
            vec![FieldError::TooLong {
                field: Field::ScreeningNumber,
                length: 33,
                max: 32
            }]
        )
    );

    let mut il6 = sample(TimePoint::H0);
    il6.il6_pg_per_ml = value(25_000.0);
    let unconfirmed = Payload::FormSaved(FormSaved {
        form: Form::CytokineSample(il6.clone()),
        confirmed: vec![],
    });
    assert_eq!(
        Payload::parse(EventKind::FormSaved, SCHEMA_VERSION, &unconfirmed.to_json()),
        invalid(
            EventKind::FormSaved,
            vec![FieldError::UnconfirmedWarning {
                field: Field::Il6PgPerMl,
                value: 25_000.0,
                warn_above: 10_000.0
            }]
        )
    );
    let confirmed = Payload::FormSaved(FormSaved {
        form: Form::CytokineSample(il6),
        confirmed: vec![Field::Il6PgPerMl],
    });
    assert!(Payload::parse(EventKind::FormSaved, SCHEMA_VERSION, &confirmed.to_json()).is_ok());

    // "Other" says what; the named reasons may say more.
    let not_enrolled = |reason, details: &str| {
        let payload = Payload::NotEnrolled(NotEnrolled {
            reason,
            details: details.to_owned(),
        });
        Payload::parse(EventKind::NotEnrolled, SCHEMA_VERSION, &payload.to_json()).map(drop)
    };
    let blank_details = vec![FieldError::Blank {
        field: Field::NotEnrolledDetails,
    }];
    assert_eq!(
        not_enrolled(NotEnrolledReason::Other, " "),
        invalid(EventKind::NotEnrolled, blank_details).map(drop)
    );
    assert_eq!(
        not_enrolled(NotEnrolledReason::Other, "transferred to another hospital"),
        Ok(())
    );
    assert_eq!(not_enrolled(NotEnrolledReason::ConsentRefused, ""), Ok(()));
    assert_eq!(
        not_enrolled(NotEnrolledReason::Ineligible, &"x".repeat(10_000)),
        invalid(
            EventKind::NotEnrolled,
            vec![FieldError::TooLong {
                field: Field::NotEnrolledDetails,
                length: 10_000,
                max: MAX_TEXT_CHARS
            }]
        )
        .map(drop)
    );
    // Each answer's key reads back as the reason the payload stores.
    let keys = match Field::NotEnrolledReason.input() {
        Input::Choice(keys) => keys,
        other => panic!("{other:?}"),
    };
    for key in keys {
        serde_json::from_value::<NotEnrolledReason>(json!(key)).unwrap();
    }

    // The kind decides how the body is read.
    assert!(matches!(
        Payload::parse(EventKind::Randomised, SCHEMA_VERSION, &confirmed.to_json()),
        Err(PayloadError::Malformed {
            kind: EventKind::Randomised,
            ..
        })
    ));
}

fn check_correction(
    form: FormRef,
    field: Field,
    new: Value,
    reason: &str,
    expected: Result<(), PayloadError>,
) {
    let payload = correction(form, field, new, reason);
    let parsed = Payload::parse(
        EventKind::ValueCorrected,
        SCHEMA_VERSION,
        &payload.to_json(),
    );
    assert_eq!(parsed.map(drop), expected, "{payload:?}");
}

#[test]
fn corrections_are_checked_against_the_field() {
    let six_hours = FormRef::CytokineSample {
        time_point: TimePoint::H6,
    };
    let invalid = |errors| {
        Err(PayloadError::Invalid {
            kind: EventKind::ValueCorrected,
            errors,
        })
    };
    let il6 = Field::Il6PgPerMl;
    check_correction(six_hours, il6, json!({ "value": 640 }), "typo", Ok(()));
    // A correction is deliberate and gives a reason, so a warning counts as confirmed.
    check_correction(
        six_hours,
        il6,
        json!({ "value": 25_000 }),
        "re-assayed",
        Ok(()),
    );
    check_correction(
        six_hours,
        il6,
        json!({ "not_done": { "reason": "haemolysed" } }),
        "sample unusable",
        Ok(()),
    );
    check_correction(
        six_hours,
        il6,
        json!({ "value": 100_001 }),
        "typo",
        invalid(vec![FieldError::OutOfRange {
            field: il6,
            value: 100_001.0,
            min: 0.0,
            max: 100_000.0,
        }]),
    );
    let parse = |payload: Payload| {
        Payload::parse(
            EventKind::ValueCorrected,
            SCHEMA_VERSION,
            &payload.to_json(),
        )
        .map(drop)
    };
    let was = json!({ "value": 640 });
    assert_eq!(
        parse(correction_of(
            six_hours,
            il6,
            was.clone(),
            Value::Null,
            "typo"
        )),
        invalid(vec![FieldError::Required { field: il6 }])
    );
    let il8 = Field::Il8PgPerMl;
    assert_eq!(
        parse(correction_of(
            six_hours,
            il8,
            was.clone(),
            Value::Null,
            "not measured"
        )),
        Ok(())
    );
    // A correction changes the entry: 640 and 640.0 are one value.
    for same in [json!({ "value": 640 }), json!({ "value": 640.0 })] {
        assert_eq!(
            parse(correction_of(six_hours, il6, was.clone(), same, "typo")),
            invalid(vec![FieldError::Unchanged { field: il6 }])
        );
    }
    assert_eq!(
        parse(correction_of(
            six_hours,
            il8,
            Value::Null,
            Value::Null,
            "blank"
        )),
        invalid(vec![FieldError::Unchanged { field: il8 }])
    );
    // The entry the user saw must be one of the field's too.
    assert!(matches!(
        parse(correction_of(six_hours, il6, json!("high"), json!({ "value": 1 }), "typo")),
        Err(PayloadError::Malformed { message, .. }) if message.starts_with("old: il6_pg_per_ml")
    ));
    check_correction(
        six_hours,
        il6,
        json!({ "value": 640 }),
        "  ",
        invalid(vec![FieldError::Blank {
            field: Field::CorrectionReason,
        }]),
    );
    check_correction(
        six_hours,
        Field::SofaScore,
        json!({ "value": 3 }),
        "wrong form",
        Err(PayloadError::FieldNotOnForm {
            form: FormKind::CytokineSample,
            field: Field::SofaScore,
        }),
    );
    // The identity of a form is not one of its fields.
    check_correction(
        FormRef::DailyAssessment { study_day: day(2) },
        Field::StudyDay,
        json!(3),
        "wrong day",
        Err(PayloadError::FieldNotOnForm {
            form: FormKind::DailyAssessment,
            field: Field::StudyDay,
        }),
    );
    let wrong_type = correction(six_hours, il6, json!({ "value": "high" }), "typo");
    assert!(matches!(
        Payload::parse(EventKind::ValueCorrected, SCHEMA_VERSION, &wrong_type.to_json()),
        Err(PayloadError::Malformed { message, .. }) if message.starts_with("il6_pg_per_ml")
    ));
}

fn check_times_after(payload: Payload, recorded_at_ms: i64, expected: &[Field]) {
    let later = |field| FieldError::LaterThan {
        field,
        limit: TimeLimit::RecordingTime,
    };
    let expected: Vec<FieldError> = expected.iter().map(|&field| later(field)).collect();
    assert_eq!(
        payload.times_after(at(recorded_at_ms)),
        expected,
        "{payload:?}"
    );
}

#[test]
fn nothing_is_recorded_before_it_happened() {
    let consent = |utc_ms| {
        Payload::ConsentRecorded(ConsentForm {
            given_by: ConsentGivenBy::Patient,
            consented_at: at(utc_ms),
            form_version: "2.1".to_owned(),
        })
    };
    // Up to five minutes ahead is a clock read early, not the future.
    check_times_after(consent(ECMO_UTC_MS), ECMO_UTC_MS, &[]);
    check_times_after(consent(ECMO_UTC_MS + 5 * MINUTE), ECMO_UTC_MS, &[]);
    check_times_after(
        consent(ECMO_UTC_MS + 5 * MINUTE + 1),
        ECMO_UTC_MS,
        &[Field::ConsentedAt],
    );

    let mut form = ScreeningForm::blank(at(ECMO_UTC_MS + MS_PER_HOUR));
    form.icu_admitted_at = Some(at(ECMO_UTC_MS - MS_PER_HOUR));
    form.ecmo_started_at = Some(at(ECMO_UTC_MS + 30 * MINUTE));
    let screening = Payload::ScreeningRecorded(ScreeningRecorded {
        screening_number: "T1-0001".to_owned(),
        form,
    });
    check_times_after(
        screening.clone(),
        ECMO_UTC_MS,
        &[Field::ScreenedAt, Field::EcmoStartedAt],
    );
    check_times_after(screening, ECMO_UTC_MS + MS_PER_HOUR, &[]);

    // Forms: a sample recorded an hour before it was taken; a session still
    // running is saved without its stop time; a discharge date tomorrow.
    let saved = |form| {
        Payload::FormSaved(FormSaved {
            form,
            confirmed: Vec::new(),
        })
    };
    let taken = ECMO_UTC_MS + 6 * MS_PER_HOUR;
    let h6 = saved(Form::CytokineSample(sample(TimePoint::H6)));
    check_times_after(h6.clone(), taken - MS_PER_HOUR, &[Field::SampledAt]);
    check_times_after(h6, taken, &[]);
    let mut running = session();
    running.session_stopped_at = None;
    check_times_after(
        saved(Form::HemoperfusionSession(running)),
        ECMO_UTC_MS + 2 * MS_PER_HOUR,
        &[],
    );
    check_times_after(
        saved(Form::HemoperfusionSession(session())),
        ECMO_UTC_MS + 2 * MS_PER_HOUR,
        &[Field::SessionStoppedAt],
    );
    // 2026-03-09 23:00 in Beijing: the 10 March discharge is tomorrow.
    let evening_before = ECMO_UTC_MS + 8 * 24 * MS_PER_HOUR + 15 * MS_PER_HOUR;
    check_times_after(
        saved(Form::Outcomes(outcomes())),
        evening_before,
        &[Field::IcuDischargedOn, Field::HospitalDischargedOn],
    );

    // A correction to a time not yet come; "not done" holds no time.
    let sample_h6 = FormRef::CytokineSample {
        time_point: TimePoint::H6,
    };
    let corrected_to = |entry: Entry<Moment>| {
        correction(
            sample_h6,
            Field::SampledAt,
            serde_json::to_value(entry).unwrap(),
            "typo",
        )
    };
    check_times_after(
        corrected_to(Entry::Value(at(taken + MS_PER_HOUR))),
        taken,
        &[Field::SampledAt],
    );
    check_times_after(corrected_to(Entry::not_done("lost")), taken, &[]);
}

#[test]
fn the_study_days_are_the_days_the_field_allows() {
    let limits = Field::StudyDay.limits().unwrap();
    let days: Vec<f64> = StudyDay::ALL
        .iter()
        .map(|day| f64::from(day.get()))
        .collect();
    let allowed: Vec<f64> = (limits.min as u8..=limits.max as u8)
        .map(f64::from)
        .collect();
    assert_eq!(days, allowed);
    for day in StudyDay::ALL {
        assert_eq!(StudyDay::new(day.get()), Ok(day));
    }
}

#[test]
fn the_check_before_saving_names_every_problem_at_once() {
    // A 6 h sample dated after its recording and with IL-6 out of range: both
    // errors, the time first.
    let mut late = sample(TimePoint::H6);
    late.il6_pg_per_ml = value(200_000.0);
    late.sampled_at = value(at(ECMO_UTC_MS + 10 * MS_PER_HOUR));
    let payload = Payload::FormSaved(FormSaved {
        form: Form::CytokineSample(late),
        confirmed: vec![],
    });
    assert_eq!(
        payload.check(at(ECMO_UTC_MS + 9 * MS_PER_HOUR), FormContext::NONE),
        Err(PayloadError::Invalid {
            kind: EventKind::FormSaved,
            errors: vec![
                FieldError::LaterThan {
                    field: Field::SampledAt,
                    limit: TimeLimit::RecordingTime
                },
                FieldError::OutOfRange {
                    field: Field::Il6PgPerMl,
                    value: 200_000.0,
                    min: 0.0,
                    max: 100_000.0
                }
            ]
        })
    );
}

/// An adverse event is recorded with its term, severity, seriousness and
/// relatedness answered: "not done" there is refused on saving and correcting
/// (by the same check on the tablet and the server), stays allowed everywhere
/// else, and an event saved before the rule still reads.
#[test]
fn an_adverse_event_is_answered_where_not_done_means_nothing() {
    let must_answer: Vec<Field> = FormKind::AdverseEvent
        .fields()
        .iter()
        .copied()
        .filter(|field| !field.may_be_not_done())
        .collect();
    assert_eq!(
        must_answer,
        [
            Field::AeTerm,
            Field::AeSeverity,
            Field::AeSerious,
            Field::AeRelatedness
        ]
    );
    let recorded = at(ECMO_UTC_MS + 40 * MS_PER_HOUR);
    let saved = |form: AdverseEventForm| {
        Payload::FormSaved(FormSaved {
            form: Form::AdverseEvent(form),
            confirmed: vec![],
        })
    };
    let unanswered = AdverseEventForm {
        ae_term: Some(Entry::not_done("unknown")),
        ae_serious: Some(Entry::not_done("not assessed")),
        ..adverse_event()
    };
    assert_eq!(
        saved(unanswered.clone()).check(recorded, FormContext::NONE),
        Err(PayloadError::Invalid {
            kind: EventKind::FormSaved,
            errors: vec![
                FieldError::NotDoneRefused {
                    field: Field::AeTerm
                },
                FieldError::NotDoneRefused {
                    field: Field::AeSerious
                },
            ]
        })
    );
    assert_eq!(
        FieldError::NotDoneRefused {
            field: Field::AeSerious
        }
        .to_string(),
        "serious: must be answered; it cannot be recorded as not done"
    );
    assert_eq!(
        Form::AdverseEvent(unanswered).validate(&[], FormContext::NONE),
        Ok(()),
        "a form saved before the rule stays readable"
    );
    let action_not_done = AdverseEventForm {
        ae_action: Some(Entry::not_done("none taken yet")),
        ae_onset_at: Some(Entry::not_done("found at ward round")),
        ..adverse_event()
    };
    assert_eq!(
        saved(action_not_done).check(recorded, FormContext::NONE),
        Ok(())
    );

    let form = FormRef::AdverseEvent {
        adverse_event_id: ADVERSE_EVENT,
    };
    let not_done = json!({ "not_done": { "reason": "not assessed" } });
    assert_eq!(
        correction(form, Field::AeSeverity, not_done.clone(), "re-assessed")
            .check(recorded, FormContext::NONE),
        Err(PayloadError::Invalid {
            kind: EventKind::ValueCorrected,
            errors: vec![FieldError::NotDoneRefused {
                field: Field::AeSeverity
            }]
        })
    );
    assert_eq!(
        correction(form, Field::AeAction, not_done, "none yet").check(recorded, FormContext::NONE),
        Ok(())
    );
}

#[test]
fn screening_numbers_are_the_tablets_label_and_count() {
    assert_eq!(ScreeningNumber::new("T1", 7).unwrap().as_str(), "T1-0007");
    assert_eq!(
        ScreeningNumber::new("T12", 9_999).unwrap().as_str(),
        "T12-9999"
    );
    assert_eq!(
        ScreeningNumber::new("T1", 0),
        Err(ScreeningNumberError::Count { count: 0 })
    );
    assert_eq!(
        ScreeningNumber::new("T1", 10_000),
        Err(ScreeningNumberError::Count { count: 10_000 })
    );
    assert_eq!(
        ScreeningNumber::new("t1", 1),
        Err(ScreeningNumberError::DeviceLabel {
            label: "t1".to_owned()
        })
    );
    assert_eq!(ScreeningNumber::count_in("T1-0007", "T1"), Some(7));
    for other in [
        "T2-0007", "T1-7", "T1-00007", "T1-0000", "T10-0007", "T1-000x",
    ] {
        assert_eq!(ScreeningNumber::count_in(other, "T1"), None, "{other}");
    }
}

/// A saved daily assessment as the server reads it, entered with `schema_version`.
fn parse_daily(form: DailyAssessmentForm, schema_version: u32) -> Result<Payload, PayloadError> {
    let saved = Payload::FormSaved(FormSaved {
        form: Form::DailyAssessment(form),
        confirmed: Vec::new(),
    });
    Payload::parse(EventKind::FormSaved, schema_version, &saved.to_json())
}

#[test]
fn transfusions_are_counted_as_chinese_blood_banks_count_them() {
    // CRF.md §7: red cells in U (0–50, half units given), platelets in
    // therapeutic doses (0–10), plasma in mL (0–5000).
    let mut form = daily(day(2));
    form.red_cells_u = value(1.5);
    form.platelet_doses = value(1);
    form.plasma_ml = value(600);
    assert_eq!(form.validate(&[]), Ok(()));
    assert!(parse_daily(form.clone(), SCHEMA_VERSION).is_ok());

    form.red_cells_u = value(1.25);
    form.platelet_doses = value(12);
    form.plasma_ml = None;
    assert_eq!(
        form.validate(&[]),
        Err(vec![
            FieldError::TooManyDecimals {
                field: Field::RedCellsU,
                decimals: 1
            },
            FieldError::OutOfRange {
                field: Field::PlateletDoses,
                value: 12.0,
                min: 0.0,
                max: 10.0
            },
            FieldError::Required {
                field: Field::PlasmaMl
            },
        ])
    );
    assert_eq!(
        Field::PlateletDoses.limits().unwrap().unit,
        "therapeutic doses"
    );
    assert_eq!(Field::PlasmaMl.limits().unwrap().unit, "mL");
    assert_eq!(Field::RedCellsU.limits().unwrap().unit, "U");
}

#[test]
fn a_version_1_daily_assessment_keeps_its_units_and_its_meaning() {
    let old = daily_in_version_1_units(day(1));
    let Payload::FormSaved(saved) = parse_daily(old.clone(), 1).unwrap() else {
        panic!("a saved form");
    };
    assert_eq!(saved.form, Form::DailyAssessment(old.clone()));
    // Shown in the units it was entered in, where the new fields would be.
    let shown = saved.form.shown_fields();
    let transfusions: Vec<_> = shown
        .iter()
        .copied()
        .filter(|field| field.is_retired() || field.replaces().is_some())
        .collect();
    assert_eq!(
        transfusions,
        [Field::RbcUnits, Field::PlateletUnits, Field::PlasmaUnits]
    );
    assert_eq!(
        saved.form.value(Field::PlasmaUnits),
        Some(json!({ "value": 1 }))
    );
    // A new form is entered and shown in the new units only.
    let new = Form::DailyAssessment(daily(day(1)));
    let entered: Vec<_> = FormKind::DailyAssessment.entered_fields().collect();
    assert_eq!(new.shown_fields(), entered);
    assert!(entered.contains(&Field::PlateletDoses));
    assert!(!entered.contains(&Field::PlateletUnits));
}

#[test]
fn a_form_of_this_version_may_not_hold_the_old_units() {
    // Entered now in the old units: refused, naming the field.
    assert_eq!(
        parse_daily(daily_in_version_1_units(day(1)), SCHEMA_VERSION).map(drop),
        Err(PayloadError::FieldNotOnForm {
            form: FormKind::DailyAssessment,
            field: Field::RbcUnits
        })
    );
    // Both sets at once (a correction of an old field on a new form would make
    // this): every new field is named beside the old one it contradicts.
    let mixed = DailyAssessmentForm {
        rbc_units: value(2),
        ..daily(day(1))
    };
    let errors = mixed.validate(&[]).unwrap_err();
    assert!(errors.contains(&FieldError::Contradiction {
        field: Field::PlateletDoses,
        other: Field::PlateletUnits
    }));
    assert!(errors.contains(&FieldError::Required {
        field: Field::PlateletUnits
    }));
    assert_eq!(
        parse_daily(mixed, 1).map(drop),
        Err(PayloadError::Invalid {
            kind: EventKind::FormSaved,
            errors
        })
    );
}

#[test]
fn a_version_1_form_is_corrected_in_its_own_units() {
    let day_1 = FormRef::DailyAssessment { study_day: day(1) };
    let old = Form::DailyAssessment(daily_in_version_1_units(day(1)));
    assert_eq!(old.validate(&[], FormContext::NONE), Ok(()));
    let corrected = with(&old, Field::PlateletUnits, json!({ "value": 2 }));
    assert_eq!(corrected.validate(&[], FormContext::NONE), Ok(()));
    check_correction(
        day_1,
        Field::PlateletUnits,
        json!({ "value": 2 }),
        "counted the second bag",
        Ok(()),
    );
}
