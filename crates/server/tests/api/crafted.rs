//! Pushes no app would send, made by hand as an attacker or a broken tablet would
//! make them: forged and back-dated times, another site's participants, strangers'
//! user ids and study numbers, leases used out of order, garbled randomisations,
//! oversized and ancient events, repeated keys, edited replays, impossible
//! cursors. Each test names the exact rejection or flag it expects and checks that
//! nothing else changed.

use trial::crf::consent::{ConsentForm, ConsentGivenBy};

use super::*;

/// The rows each table gained since `before`, for the tables that changed.
async fn grown(app: &TestApp, before: &BTreeMap<&'static str, i64>) -> Vec<(&'static str, i64)> {
    app.row_counts()
        .await
        .into_iter()
        .filter_map(|(table, count)| {
            let gained = count - before[table];
            (gained != 0).then_some((table, gained))
        })
        .collect()
}

/// A change to an event's JSON.
type Edit = Box<dyn Fn(&mut serde_json::Value)>;

/// The codes of the rejections an answer names, in its order.
fn codes(response: &PushResponse) -> Vec<RejectionCode> {
    response
        .rejected
        .iter()
        .map(|rejection| rejection.code)
        .collect()
}

impl TestTablet {
    /// A randomisation from the next slot of its oldest lease with one left, as
    /// the app makes it, but recorded at `recorded_ms` and naming `named_ms` as
    /// its moment.
    fn randomise_at(&mut self, participant: Uuid, recorded_ms: i64, named_ms: i64) -> Event {
        let body = self.next_randomisation(named_ms);
        self.event(participant, &Payload::Randomised(body), recorded_ms)
    }

    /// The body of the next randomisation the app would make, naming `named_ms`.
    fn next_randomisation(&mut self, named_ms: i64) -> Randomised {
        let allocation = self
            .leases
            .iter_mut()
            .find(|lease| lease.slots_left() > 0)
            .expect("the tablet holds a slot")
            .allocate()
            .unwrap();
        self.randomised += 1;
        Randomised {
            lease_id: allocation.lease(),
            slot: allocation.slot(),
            arm: allocation.arm(),
            study_number: StudyNumber::new(&self.site, &self.label, self.randomised).unwrap(),
            randomised_at: beijing(named_ms),
        }
    }

    /// A randomisation from the next slot of its oldest lease, giving
    /// `study_number`.
    fn randomise_numbered(&mut self, participant: Uuid, study_number: &str) -> Event {
        let allocation = self
            .leases
            .iter_mut()
            .find(|lease| lease.slots_left() > 0)
            .expect("the tablet holds a slot")
            .allocate()
            .unwrap();
        let body = Randomised {
            lease_id: allocation.lease(),
            slot: allocation.slot(),
            arm: allocation.arm(),
            study_number: StudyNumber::parse(study_number).unwrap(),
            randomised_at: beijing(RANDOMISED_MS),
        };
        self.event(participant, &Payload::Randomised(body), RANDOMISED_MS)
    }

    /// The arm the tablet's lease `index` (in the order issued) has at `slot`.
    fn arm_of(&self, index: usize, slot: u32) -> Arm {
        let lease = &self.leases[index];
        trial::randomisation::arm_at(lease.seed(), lease.config(), slot)
    }
}

/// Screens and consents `participant` on `tablet` and pushes it, expecting no
/// rejection.
async fn screened(app: &TestApp, tablet: &mut TestTablet, participant: Uuid) {
    let events = tablet.screen(participant);
    assert_eq!(app.push(tablet, &events).await.rejected, []);
}

on_both_engines!(
    a_randomisation_naming_an_earlier_moment_is_judged_when_recorded,
    a_consent_recorded_after_the_randomisation_is_no_consent,
    a_backdated_screening_from_another_tablet_opens_a_query_and_blames_no_one,
    the_first_screening_received_names_the_screening_tablet,
    another_sites_tablet_cannot_write_for_this_sites_participants,
    a_later_lease_waits_until_the_earlier_one_is_used_up,
    a_slot_beyond_the_lease_is_flagged_alone_and_keeps_the_lease,
    a_slot_before_the_next_one_is_out_of_order,
    a_garbled_randomisation_is_flagged_and_still_counts,
    events_of_strangers_and_inactive_users_are_refused_as_data,
    a_randomisation_by_a_stranger_is_flagged,
    study_numbers_are_the_tablets_and_unique_in_the_trial,
    events_out_of_limits_are_refused_with_the_rest_of_the_batch,
    a_pull_page_stops_at_its_byte_limit,
    a_repeated_key_is_refused,
    a_replay_with_an_edited_offset_is_a_seq_conflict,
    a_cursor_beyond_every_event_is_refused_without_a_500,
    the_sites_calendar_decides_the_age,
);

async fn a_randomisation_naming_an_earlier_moment_is_judged_when_recorded(mut app: TestApp) {
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    screened(&app, &mut tablet, participant).await;
    // Recorded 30 h after ECMO start, naming 3 h after it (the time the payload
    // would need for the 24-hour window).
    let recorded = ECMO_STARTED_MS + 30 * MS_PER_HOUR;
    app.set_clock(recorded + MS_PER_HOUR);
    let backdated = tablet.randomise_at(participant, recorded, ECMO_STARTED_MS + 3 * MS_PER_HOUR);
    check_flagged(
        &app,
        &tablet,
        &[backdated],
        &["randomised_at_mismatch", "not_eligible"],
    )
    .await;
}

async fn a_consent_recorded_after_the_randomisation_is_no_consent(app: TestApp) {
    let mut tablet = app.enrol().await;
    // On the same tablet, its clock jumping: the consent comes first in the
    // chain, but is recorded (and dated) an hour after the randomisation.
    let participant = Uuid::now_v7();
    let late = RANDOMISED_MS + MS_PER_HOUR;
    let later_consent = Payload::ConsentRecorded(ConsentForm {
        given_by: ConsentGivenBy::Patient,
        consented_at: beijing(late),
        form_version: "2.1".to_owned(),
    });
    let events = vec![
        tablet.event(participant, &screening(EcmoMode::Va), SCREENED_MS),
        tablet.event(participant, &later_consent, late),
        tablet.randomise(participant),
    ];
    check_flagged(&app, &tablet, &events, &["no_consent"]).await;
    // From another tablet of the site, received before the randomisation but
    // recorded after it.
    let mut other = app.enrol().await;
    let participant = Uuid::now_v7();
    let screening_only = vec![tablet.event(participant, &screening(EcmoMode::Va), SCREENED_MS)];
    assert_eq!(app.push(&tablet, &screening_only).await.rejected, []);
    let consent = other.event(participant, &later_consent, late);
    assert_eq!(app.push(&other, &[consent]).await.rejected, []);
    let randomised = tablet.randomise(participant);
    check_flagged(&app, &tablet, &[randomised], &["no_consent"]).await;
}

async fn a_backdated_screening_from_another_tablet_opens_a_query_and_blames_no_one(app: TestApp) {
    let mut first = app.enrol().await;
    let mut second = app.enrol().await;
    let participant = Uuid::now_v7();
    screened(&app, &mut first, participant).await;
    // The second tablet screens the same participant, claiming an hour earlier
    // and another weight.
    let mut form = match screening(EcmoMode::Va) {
        Payload::ScreeningRecorded(body) => body,
        _ => unreachable!(),
    };
    form.form.screened_at = beijing(SCREENED_MS - MS_PER_HOUR);
    form.form.weight_kg = Some(82.0);
    let backdated = Payload::ScreeningRecorded(form);
    let event = second.event(participant, &backdated, SCREENED_MS - MS_PER_HOUR);
    assert_eq!(
        app.push(&second, std::slice::from_ref(&event))
            .await
            .rejected,
        []
    );
    let queries = app.store.open_query_reports(&app.site.code).await.unwrap();
    let fields: Vec<_> = queries
        .iter()
        .map(|query| (query.subject, query.field, query.overridden.0))
        .collect();
    assert_eq!(
        fields,
        [
            (Subject::Screening, Field::ScreenedAt, event.id()),
            (Subject::Screening, Field::WeightKg, event.id()),
        ]
    );
    // The genuine randomisation stands.
    let randomised = first.randomise(participant);
    assert_eq!(app.push(&first, &[randomised]).await.rejected, []);
    assert_eq!(app.flags().await, []);
    // Another one afterwards blames nothing already verified either.
    let again = second.event(participant, &backdated, SCREENED_MS - MS_PER_HOUR / 2);
    assert_eq!(app.push(&second, &[again]).await.rejected, []);
    assert_eq!(app.flags().await, []);
}

async fn the_first_screening_received_names_the_screening_tablet(app: TestApp) {
    let mut screener = app.enrol().await;
    let mut other = app.enrol().await;
    let participant = Uuid::now_v7();
    screened(&app, &mut screener, participant).await;
    // Another tablet of the site randomises the participant it pulled.
    let consent = other.event(participant, &consent(), CONSENTED_MS);
    let randomised = other.randomise(participant);
    check_flagged(
        &app,
        &other,
        &[consent, randomised],
        &["screened_on_another_device"],
    )
    .await;
}

async fn another_sites_tablet_cannot_write_for_this_sites_participants(app: TestApp) {
    app.add_site("SH").await;
    let mut bejing = app.enrol().await;
    let mut shanghai = app.enrol_at("SH").await;
    let participant = Uuid::now_v7();
    screened(&app, &mut bejing, participant).await;
    // Shanghai's tablet screens Beijing's participant: stored, refused as data.
    let before = app.row_counts().await;
    let foreign = shanghai.event(participant, &screening(EcmoMode::Vv), SCREENED_MS);
    let response = app.push(&shanghai, &[foreign]).await;
    assert_eq!(response.acked_seq, 1);
    assert_eq!(codes(&response), [RejectionCode::ParticipantOfAnotherSite]);
    assert!(
        response.rejected[0].message.contains("belongs to site BJ"),
        "{response:?}"
    );
    assert_eq!(grown(&app, &before).await, [("events", 1)]);
    // It randomises them with its own lease: flagged, and checked against
    // nothing of Beijing's.
    let randomised = shanghai.randomise(participant);
    check_flagged(
        &app,
        &shanghai,
        &[randomised],
        &["participant_of_another_site", "not_eligible", "no_consent"],
    )
    .await;
    // Beijing's own randomisation is untouched by either.
    let genuine = bejing.randomise(participant);
    assert_eq!(app.push(&bejing, &[genuine]).await.rejected, []);
    let reader = app.enrol().await;
    let pulled = app.pulled_ids(&reader).await;
    assert_eq!(
        pulled.len(),
        3,
        "Beijing's screening, consent, randomisation"
    );
}

async fn a_later_lease_waits_until_the_earlier_one_is_used_up(app: TestApp) {
    let mut tablet = app.enrol().await;
    let n_slots = tablet.leases[0].n_slots();
    // Use the first lease down to fewer than the low-water mark: a second one
    // is issued.
    let mut events = Vec::new();
    for _ in 0..=n_slots - LEASE_LOW_WATER {
        let participant = Uuid::now_v7();
        events.extend(tablet.screen(participant));
        events.push(tablet.randomise(participant));
    }
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
    app.leases(&mut tablet).await;
    assert_eq!(tablet.leases.len(), 2);
    let second = tablet.leases[1].id();
    // Slot 0 of the second lease while the first still has slots.
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    let arm = tablet.arm_of(1, 0);
    events.push(tablet.randomised_as(participant, second, 0, arm));
    check_flagged(&app, &tablet, &events, &["lease_out_of_order"]).await;
    let flags = app
        .store
        .allocation_flag_reports(&app.site.code)
        .await
        .unwrap();
    assert!(
        flags[0].message.contains("still had 7 unused slots"),
        "{flags:?}"
    );
    // The first lease used up, the second goes on from slot 1.
    let mut events = Vec::new();
    while tablet.leases[0].slots_left() > 0 {
        let participant = Uuid::now_v7();
        events.extend(tablet.screen(participant));
        events.push(tablet.randomise(participant));
    }
    let participant = Uuid::now_v7();
    events.extend(tablet.screen(participant));
    let arm = tablet.arm_of(1, 1);
    events.push(tablet.randomised_as(participant, second, 1, arm));
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
}

async fn a_slot_beyond_the_lease_is_flagged_alone_and_keeps_the_lease(app: TestApp) {
    let mut tablet = app.enrol().await;
    let lease = tablet.leases[0].id();
    let n_slots = tablet.leases[0].n_slots();
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    events.push(tablet.randomised_as(participant, lease, n_slots, Arm::Hemoperfusion));
    check_flagged(&app, &tablet, &events, &["slot_beyond_lease"]).await;
    // The lease still hands out slot 0, and still has all its slots.
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    events.push(tablet.randomise(participant));
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
    let response = app.leases(&mut tablet).await;
    assert_eq!(response.leases[0].lease_id, lease);
    assert_eq!(tablet.leases.len(), 1, "no top-up: the slots are there");
}

async fn a_slot_before_the_next_one_is_out_of_order(app: TestApp) {
    let mut tablet = app.enrol().await;
    let lease = tablet.leases[0].id();
    let mut events = Vec::new();
    for slot in [0, 2] {
        let participant = Uuid::now_v7();
        events.extend(tablet.screen(participant));
        let arm = tablet.arm_of(0, slot);
        events.push(tablet.randomised_as(participant, lease, slot, arm));
    }
    let response = app.push(&tablet, &events).await;
    assert_eq!(codes(&response), [RejectionCode::AllocationFlagged]);
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    let arm = tablet.arm_of(0, 1);
    events.push(tablet.randomised_as(participant, lease, 1, arm));
    check_flagged(&app, &tablet, &events, &["slot_out_of_order"]).await;
}

async fn a_garbled_randomisation_is_flagged_and_still_counts(app: TestApp) {
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    screened(&app, &mut tablet, participant).await;
    let user = tablet.user_id;
    let garbled = tablet.event_as(
        user,
        participant,
        EventKind::Randomised,
        r#"{"slot":0,"arm":"hemoperfusion"}"#,
        RANDOMISED_MS,
    );
    let before = app.row_counts().await;
    let response = app.push(&tablet, std::slice::from_ref(&garbled)).await;
    assert_eq!(codes(&response), [RejectionCode::InvalidPayload]);
    assert_eq!(
        grown(&app, &before).await,
        [("allocation_flags", 1), ("events", 1)]
    );
    assert_eq!(
        app.flags().await,
        [(garbled.id(), "unreadable_randomisation".to_owned())]
    );
    let report = admin::queries_report(&app.store, &app.site.code)
        .await
        .unwrap();
    assert!(
        report.contains("(no readable study number), randomised on T1")
            && report.contains("unreadable_randomisation"),
        "{report}"
    );
    // The participant may have been allocated: a second randomisation is flagged.
    let second = tablet.randomise(participant);
    check_flagged(&app, &tablet, &[second], &["already_randomised"]).await;
}

async fn events_of_strangers_and_inactive_users_are_refused_as_data(app: TestApp) {
    let mut tablet = app.enrol().await;
    let reader = app.enrol().await;
    // A user created at the server's clock, after the events below are dated,
    // and a user disabled four hours ago.
    let late = NewUser {
        id: Uuid::now_v7(),
        name: "Late Comer".to_owned(),
        role: Role::ResearchNurse,
        pin: pin_hash().clone(),
    };
    app.store.add_user("BJ", &late, NOW_MS).await.unwrap();
    app.store
        .disable_user("BJ", "Li Na", NOW_MS - 4 * MS_PER_HOUR)
        .await
        .unwrap();
    let li_na = tablet.user_id;
    let stranger = Uuid::now_v7();
    let participant = Uuid::now_v7();
    let screening = screening(EcmoMode::Va).to_json();
    let kind = EventKind::ScreeningRecorded;
    let events = vec![
        tablet.event_as(stranger, participant, kind, &screening, SCREENED_MS),
        tablet.event_as(late.id, participant, kind, &screening, SCREENED_MS),
        // Li Na before she was disabled, then after.
        tablet.event_as(li_na, participant, kind, &screening, SCREENED_MS),
        tablet.event_as(
            li_na,
            participant,
            kind,
            &screening,
            NOW_MS - 3 * MS_PER_HOUR,
        ),
    ];
    let response = app.push(&tablet, &events).await;
    assert_eq!(response.acked_seq, 4);
    assert_eq!(
        codes(&response),
        [RejectionCode::UnknownUser; 3],
        "{response:?}"
    );
    let refused: Vec<_> = response.rejected.iter().map(|r| r.event_id).collect();
    assert_eq!(refused, [events[0].id(), events[1].id(), events[3].id()]);
    assert!(response.rejected[0].message.contains("is not a user of"));
    assert!(
        response.rejected[1]
            .message
            .contains("after the event was recorded")
    );
    assert!(response.rejected[2].message.contains("was disabled"));
    assert_eq!(
        app.pulled_ids(&reader).await,
        BTreeSet::from([events[2].id()])
    );
    // A disabled user no longer reaches the tablets.
    let (_, body) = app.get("/api/users", Some(&tablet.token)).await;
    let users: UsersResponse = from_json(&body);
    assert!(users.users.iter().all(|user| user.id != li_na));
}

async fn a_randomisation_by_a_stranger_is_flagged(app: TestApp) {
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    screened(&app, &mut tablet, participant).await;
    let body = Payload::Randomised(tablet.next_randomisation(RANDOMISED_MS));
    let stranger = Uuid::now_v7();
    let forged = tablet.event_as(
        stranger,
        participant,
        EventKind::Randomised,
        &body.to_json(),
        RANDOMISED_MS,
    );
    check_flagged(&app, &tablet, &[forged], &["unknown_user"]).await;
}

async fn study_numbers_are_the_tablets_and_unique_in_the_trial(app: TestApp) {
    let mut tablet = app.enrol().await;
    let other = app.enrol().await;
    // Another tablet's number, then another site's.
    for number in [format!("BJ-{}-001", other.label), "SH-T1-001".to_owned()] {
        let participant = Uuid::now_v7();
        let mut events = tablet.screen(participant);
        events.push(tablet.randomise_numbered(participant, &number));
        check_flagged(&app, &tablet, &events, &["study_number_of_another_tablet"]).await;
    }
    // Its own number, twice.
    let number = format!("BJ-{}-001", tablet.label);
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    events.push(tablet.randomise_numbered(participant, &number));
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    events.push(tablet.randomise_numbered(participant, &number));
    check_flagged(&app, &tablet, &events, &["duplicate_study_number"]).await;
}

async fn events_out_of_limits_are_refused_with_the_rest_of_the_batch(app: TestApp) {
    let mut tablet = app.enrol().await;
    let good = tablet.record(1);
    assert_eq!(app.push(&tablet, &good).await.rejected, []);
    let cases: [(&str, Edit); 3] = [
        (
            "app_version must have 1 to 64 characters; this one has 1000",
            Box::new(|json| json["app_version"] = "9".repeat(1000).into()),
        ),
        (
            "the payload has 70002 bytes; at most 65536 are accepted",
            Box::new(|json| json["payload"] = format!("\"{}\"", "x".repeat(70_000)).into()),
        ),
        (
            "the event is dated 1950-01-01, before the trial began",
            Box::new(|json| json["recorded_at"]["utc_ms"] = (-631_152_000_000_i64).into()),
        ),
    ];
    for (message, edit) in cases {
        // The stored event again, the bad one, and a good one after it.
        let mut events = good.clone();
        let next = tablet.record(1).remove(0);
        events.push(edited(&next, edit));
        events.extend(tablet.record(1));
        let before = app.row_counts().await;
        let response = app.push(&tablet, &events).await;
        assert_eq!(response.acked_seq, 1, "{message}");
        assert_eq!(codes(&response), [RejectionCode::LimitExceeded]);
        assert!(
            response.rejected[0].message.contains(message),
            "{response:?}"
        );
        assert_eq!(grown(&app, &before).await, []);
        // Nothing after the stored event was taken: the tablet's chain goes on
        // from it.
        tablet.head = ChainHead::after(&good[0]);
    }
    assert_eq!(app.stored(&tablet).await, 1);
}

async fn a_pull_page_stops_at_its_byte_limit(app: TestApp) {
    let mut tablet = app.enrol().await;
    let reader = app.enrol().await;
    // 500 valid corrections, each with a long reason of four-byte characters:
    // about 2.6 kB each as JSON, 1.3 MB in all.
    let reason = "𝛼".repeat(500);
    let correction = Payload::ValueCorrected(ValueCorrected {
        form: SAMPLE_T0,
        field: Field::Il6PgPerMl,
        old: json!({ "value": 850.0 }),
        new: json!({ "value": 900.0 }),
        reason,
        confirms: None,
    });
    let participant = Uuid::now_v7();
    let events: Vec<Event> = (0..500)
        .map(|_| tablet.event(participant, &correction, NOW_MS))
        .collect();
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
    let (status, body) = app
        .get("/api/pull?after=0&limit=500", Some(&reader.token))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.len() <= trial::wire::MAX_PULL_BYTES + 200,
        "{}",
        body.len()
    );
    let page: PullResponse = from_json(&body);
    assert!(
        page.more && page.events.len() < 500,
        "{}",
        page.events.len()
    );
    assert_eq!(pull_all(&app, &reader, 0, 500).await.len(), 500);
}

async fn a_repeated_key_is_refused(app: TestApp) {
    let mut tablet = app.enrol().await;
    let event = tablet.record(1).remove(0);
    let json = to_json(&PushRequest {
        events: vec![event.clone()],
    });
    let twice = json.replacen("\"device_seq\":1", "\"device_seq\":1,\"device_seq\":2", 1);
    let (status, body) = app
        .send_json(Method::POST, "/api/push", Some(&tablet.token), twice)
        .await;
    let error = error_body(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidRequest,
    );
    assert_eq!(error.problems[0].field, "events[0]");
    assert_eq!(
        error.problems[0].message,
        "the key `device_seq` occurs twice"
    );
    assert_eq!(app.row_counts().await["events"], 0);
    // Inside a payload: stored, refused as data.
    let ambiguous = tablet.record_one(
        r#"{"status":"completed","status":"lost_to_follow_up"}"#,
        NOW_MS,
    );
    let response = app.push(&tablet, &[event, ambiguous]).await;
    assert_eq!(codes(&response), [RejectionCode::InvalidPayload]);
    assert!(
        response.rejected[0]
            .message
            .contains("the key `status` occurs twice"),
        "{response:?}"
    );
}

async fn a_replay_with_an_edited_offset_is_a_seq_conflict(app: TestApp) {
    let mut tablet = app.enrol().await;
    let events = tablet.record(2);
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
    let replay = edited(&events[1], |json| {
        json["recorded_at"]["offset_minutes"] = 0.into();
    });
    let before = app.row_counts().await;
    let response = app.push(&tablet, &[replay]).await;
    assert_eq!(response.acked_seq, 2);
    assert_eq!(codes(&response), [RejectionCode::SeqConflict]);
    assert_eq!(grown(&app, &before).await, []);
}

async fn a_cursor_beyond_every_event_is_refused_without_a_500(app: TestApp) {
    let tablet = app.enrol().await;
    for after in [
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
    ] {
        let (status, body) = app
            .get(&format!("/api/pull?after={after}"), Some(&tablet.token))
            .await;
        let error = error_body(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidRequest,
        );
        assert!(
            ["after", "query"].contains(&error.problems[0].field.as_str()),
            "{error:?}"
        );
    }
    let page = app.pull(&tablet, i64::MAX as u64, None).await;
    assert_eq!((page.events.len(), page.more), (0, false));
}

/// A tablet whose clock runs in UTC at the Shanghai-time site: dates are read in
/// the site's zone, so a patient who turned 18 on the Shanghai date of the
/// screening is eligible, though it was still the day before in UTC.
async fn the_sites_calendar_decides_the_age(mut app: TestApp) {
    // 17:06 UTC on 15 June 2025 is 01:06 on 16 June in Shanghai.
    let screened_ms = NOW_MS + 2 * MS_PER_HOUR;
    app.set_clock(screened_ms + MS_PER_HOUR);
    let mut tablet = app.enrol().await;
    let utc = |utc_ms| Moment::new(utc_ms, 0).unwrap();
    let Payload::ScreeningRecorded(mut body) = screening(EcmoMode::Va) else {
        unreachable!("screening() makes a screening")
    };
    body.form.screened_at = utc(screened_ms);
    body.form.date_of_birth = Some(jiff::civil::date(2007, 6, 16));
    body.form.ecmo_started_at = Some(utc(screened_ms - 2 * MS_PER_HOUR));
    let consent = Payload::ConsentRecorded(ConsentForm {
        given_by: ConsentGivenBy::Patient,
        consented_at: utc(screened_ms + 10 * 60_000),
        form_version: "2.1".to_owned(),
    });
    let randomised = Payload::Randomised(tablet.next_randomisation(screened_ms + 20 * 60_000));
    let participant = Uuid::now_v7();
    let user = tablet.user_id;
    let mut record = |payload: &Payload, utc_ms: i64| {
        tablet
            .head
            .append(EventDraft {
                id: Uuid::now_v7(),
                participant_id: participant,
                user_id: user,
                recorded_at: utc(utc_ms),
                kind: payload.kind(),
                payload: payload.to_json(),
                app_version: "0.1.0".to_owned(),
                schema_version: SCHEMA_VERSION,
            })
            .unwrap()
    };
    let events = vec![
        record(&Payload::ScreeningRecorded(body), screened_ms),
        record(&consent, screened_ms + 10 * 60_000),
        record(&randomised, screened_ms + 20 * 60_000),
    ];
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
    assert_eq!(app.flags().await, []);
}
