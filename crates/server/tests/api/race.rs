//! Two devices push a randomisation of the *same* participant at the same moment,
//! on a runtime with several threads, so the two pushes really run at once: the
//! server must verify them one after the other (ARCHITECTURE.md: verifying takes
//! the lock every push takes to append), so exactly one of them finds the other
//! and is flagged as a second randomisation. Twenty times on each engine.

use super::*;

/// How many times the race is run on each engine.
const REPETITIONS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_two_devices_randomise_one_participant_at_once() {
    race(spawn_app(Engine::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "HP_ECMO_TEST_POSTGRES_URL is not set")]
async fn postgres_two_devices_randomise_one_participant_at_once() {
    race(spawn_app(Engine::Postgres).await).await;
}

/// A push of `events` as `tablet`, ready to be sent from any thread.
fn push_request(tablet: &TestTablet, events: Vec<Event>) -> Request<Body> {
    Request::post("/api/push")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {}", tablet.token))
        .body(Body::from(to_json(&PushRequest { events })))
        .unwrap()
}

async fn race(app: TestApp) {
    let mut screener = app.enrol().await;
    let mut other = app.enrol().await;
    for repetition in 0..REPETITIONS {
        // A lease's slots depend on its random blocks: a tablet out of them asks
        // for more, as the app does at each sync.
        for tablet in [&mut screener, &mut other] {
            if tablet.leases.iter().all(|lease| lease.slots_left() == 0) {
                app.leases(tablet).await;
            }
        }
        let participant = Uuid::now_v7();
        let events = screener.screen(participant);
        assert_eq!(app.push(&screener, &events).await.rejected, []);
        let first = screener.randomise(participant);
        let second = other.randomise(participant);
        let requests = [
            push_request(&screener, vec![first.clone()]),
            push_request(&other, vec![second.clone()]),
        ];
        let pushes: Vec<_> = requests
            .into_iter()
            .map(|request| tokio::spawn(app.router.clone().oneshot(request)))
            .collect();
        for push in pushes {
            let response = push.await.unwrap().unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
        let flags = app.flags().await;
        let twice: Vec<Uuid> = [first.id(), second.id()]
            .into_iter()
            .filter(|event| {
                flags
                    .iter()
                    .any(|(flagged, code)| flagged == event && code == "already_randomised")
            })
            .collect();
        assert_eq!(
            twice.len(),
            1,
            "repetition {repetition}: exactly one found the other: {flags:?}"
        );
        // The other tablet never screened the participant: whichever came first,
        // its randomisation does not stand.
        assert!(
            flags.iter().any(|(flagged, _)| *flagged == second.id()),
            "{flags:?}"
        );
    }
    assert_eq!(
        app.count_rows("allocations").await,
        2 * REPETITIONS as i64,
        "both happened, and both are recorded"
    );
}
