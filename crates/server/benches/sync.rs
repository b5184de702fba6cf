//! Throughput of the sync server: figures for people to read and compare, not
//! pass/fail. The machines are shared and noisy, so a timed assertion would only
//! flake; the checks here are of correctness instead (every event accepted, the
//! retry answered the same, every event pulled once, in order), so a figure is
//! never that of a server that refused the work.
//!
//! The server runs in-process through `server::router` with no socket, as
//! `tests/api.rs` drives it, over a fresh SQLite file in a temporary folder and,
//! when `HP_ECMO_TEST_POSTGRES_URL` names a PostgreSQL server that may create
//! databases (as `cargo xtask test` arranges), over a fresh PostgreSQL database,
//! dropped afterwards. Each of [`RUNS`] runs starts on a fresh database and measures:
//!
//! 1. **push**: one enrolled tablet pushes [`EVENTS`] events in batches of
//!    `MAX_PUSH_EVENTS`, in events per second. The events are a ward's day per
//!    participant, valid as the trial core checks them: the screening form of an
//!    eligible patient, consent, and the T0 cytokine sample, so each batch touches
//!    some 170 participants whose data queries the server brings up to date.
//! 2. **retry**: the last batch pushed again, as after a lost answer, [`RETRIES`]
//!    times; it must get the same answer. Milliseconds per batch.
//! 3. **pull**: a second enrolled tablet pulls all of them, `MAX_PULL_EVENTS` per
//!    page, in events per second.
//! 4. **history**: a third tablet screens one participant and pushes
//!    `MAX_PUSH_EVENTS` corrections of their T0 IL-6, then [`HISTORY`] more, then
//!    `MAX_PUSH_EVENTS` again: milliseconds for the first batch and for the last.
//!    A push costs the same whatever the participant's history holds when the two
//!    are equal.
//!
//! The time counted is the server's: from the request to the last byte of its
//! answer. Request bodies are serialised before and answers parsed after it, since
//! that is the tablet's work. The server's clock is stopped, as in the tests.
//!
//! Reading the figures: a push today makes about 840 SQL round trips per batch (an
//! insert per event, two reads per participant touched), and sqlx runs each SQLite
//! statement on the connection's own thread, so the push figure is bound by thread
//! wake-ups more than by work. It swings with scheduling: pinned to one core
//! (`taskset -c 0`) it was about 3.5 times the figure with two, on a shared
//! two-core machine. Compare figures from the same machine and setting only.
//!
//! Run it with `cargo bench -p server --bench sync`. The bench profile inherits
//! the workspace's release profile, which is tuned for the wasm app (size-optimised,
//! LTO): a build at `opt-level = 3` measured a few tenths faster at pulls, and
//! within the noise at pushes.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use p256::SecretKey;
use p256::elliptic_curve::sec1::ToSec1Point;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use server::store::{DatabaseUrl, Engine, NewUser, Store};
use server::{AppState, Clock, admin};
use sqlx::Connection;
use testkit::ward::{CONSENTED_MS, ECMO_STARTED_MS, NOW_MS, SCREENED_MS};
use testkit::{BEIJING, beijing, with_database};
use tower::ServiceExt;
use trial::crf::FormRef;
use trial::crf::cytokine::TimePoint;
use trial::event::{ChainHead, Event, EventDraft};
use trial::field::Field;
use trial::payload::{FormSaved, Payload, SCHEMA_VERSION, ValueCorrected};
use trial::time::MS_PER_HOUR;
use trial::wire::{
    EnrolRequest, EnrolResponse, MAX_PULL_EVENTS, MAX_PUSH_EVENTS, PullResponse, PushRequest,
    PushResponse, Role,
};
use uuid::Uuid;

/// How many events the tablet pushes and the other pulls, per run.
const EVENTS: usize = 5_000;
/// How many corrections of one participant's value lie between the two timed
/// batches of the history measure.
const HISTORY: usize = 8_000;
/// How many runs, each on a fresh database; the table shows their median.
const RUNS: usize = 5;
/// How many times each run retries its last batch; the table shows the median of
/// all the retries of all the runs.
const RETRIES: usize = 5;

/// A participant's day on the ward goes on from `testkit::ward`, as in the API
/// tests: the T0 sample 3 h before the server's stopped clock.
const SAMPLED_MS: i64 = NOW_MS - 3 * MS_PER_HOUR;
const SITE: &str = "BJ";

fn main() {
    let postgres = std::env::var("HP_ECMO_TEST_POSTGRES_URL").ok();
    if postgres.is_none() {
        eprintln!("HP_ECMO_TEST_POSTGRES_URL is not set: PostgreSQL is not measured");
    }
    let engines =
        std::iter::once(Engine::Sqlite).chain(postgres.as_ref().map(|_| Engine::Postgres));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut rows = Vec::new();
    for engine in engines {
        let figures = runtime.block_on(measure(engine, postgres.as_deref()));
        rows.extend(figures.rows(engine));
    }
    println!(
        "{RUNS} runs of {EVENTS} events each ({MAX_PUSH_EVENTS} per push, {MAX_PULL_EVENTS} \
         per pull page, {RETRIES} retries per run)"
    );
    print_table(&rows);
}

/// The samples of every run on one engine.
#[derive(Debug, Default)]
struct Figures {
    push_events_per_s: Vec<f64>,
    retry_ms: Vec<f64>,
    pull_events_per_s: Vec<f64>,
    history_first_ms: Vec<f64>,
    history_after_ms: Vec<f64>,
    /// The size of the push bodies, for context: bytes per event.
    request_bytes_per_event: Vec<f64>,
}

/// One line of the table: a measure's samples, summarised when printed.
struct Row {
    engine: &'static str,
    measure: &'static str,
    samples: Vec<f64>,
    unit: &'static str,
}

/// Every run on `engine`, each on a fresh database.
async fn measure(engine: Engine, postgres: Option<&str>) -> Figures {
    let mut figures = Figures::default();
    for run in 1..=RUNS {
        let server = Server::start(engine, postgres).await;
        server.run_once(&mut figures).await;
        server.discard().await;
        // Each run on stderr too, so a run that stands out shows.
        eprintln!(
            "{} run {run}/{RUNS}: push {:.0} events/s, pull {:.0} events/s",
            engine_name(engine),
            figures.push_events_per_s.last().unwrap(),
            figures.pull_events_per_s.last().unwrap(),
        );
    }
    figures
}

impl Figures {
    fn rows(self, engine: Engine) -> [Row; 6] {
        let engine = engine_name(engine);
        let row = |measure, samples, unit| Row {
            engine,
            measure,
            samples,
            unit,
        };
        [
            row("push", self.push_events_per_s, "events/s"),
            row("retry last batch", self.retry_ms, "ms/batch"),
            row("pull", self.pull_events_per_s, "events/s"),
            row("history: first", self.history_first_ms, "ms/batch"),
            row("history: after", self.history_after_ms, "ms/batch"),
            row("push body", self.request_bytes_per_event, "bytes/event"),
        ]
    }
}

fn engine_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<9} {:<17} {:>10} {:>10} {:>10}  unit",
        "engine", "measure", "median", "min", "max"
    );
    for row in rows {
        let (median, min, max) = summary(&row.samples);
        println!(
            "{:<9} {:<17} {median:>10.1} {min:>10.1} {max:>10.1}  {}",
            row.engine, row.measure, row.unit
        );
    }
}

/// Median, minimum and maximum.
fn summary(samples: &[f64]) -> (f64, f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    let median = if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    };
    (median, sorted[0], sorted[sorted.len() - 1])
}

/// A server over a fresh database, with one site and one user.
struct Server {
    router: axum::Router,
    store: Store,
    database: FreshDatabase,
    /// The folder the router serves the app from: empty, nothing here asks for it.
    _dist: tempfile::TempDir,
}

/// A database made for one run, and what it takes to throw it away.
enum FreshDatabase {
    /// The folder of the SQLite file, deleted when dropped.
    Sqlite { _folder: tempfile::TempDir },
    /// A database `name` made on the PostgreSQL server at `server_url`.
    Postgres { server_url: String, name: String },
}

/// An enrolled tablet: its token, its user and the head of its own chain.
struct Tablet {
    token: String,
    user_id: Uuid,
    head: ChainHead,
}

impl Server {
    async fn start(engine: Engine, postgres: Option<&str>) -> Self {
        let (database, url) = FreshDatabase::create(engine, postgres).await;
        let store = Store::connect(&url).await.unwrap();
        let site = admin::site(SITE, "Beijing Anzhen Hospital", "Asia/Shanghai").unwrap();
        store.upsert_site(&site, NOW_MS).await.unwrap();
        let user = NewUser {
            id: Uuid::now_v7(),
            name: "Li Na".to_owned(),
            role: Role::Investigator,
            pin: testkit::pin_hash().clone(),
        };
        // Created before the day the events record, so every one is by a user
        // who was active.
        store
            .add_user(SITE, &user, NOW_MS - 48 * MS_PER_HOUR)
            .await
            .unwrap();
        let dist = tempfile::tempdir().unwrap();
        let state = AppState::new(store.clone(), Clock::fixed(NOW_MS));
        Self {
            router: server::router(state, dist.path()),
            store,
            database,
            _dist: dist,
        }
    }

    /// Closes the store and drops the database.
    async fn discard(self) {
        self.store.close().await;
        self.database.drop_database().await;
    }

    /// One run of the three measures of the module doc, on this server's database.
    async fn run_once(&self, figures: &mut Figures) {
        let mut writer = self.enrol(1).await;
        let events = writer.ward_days(EVENTS);
        let bodies: Vec<Bytes> = events
            .chunks(MAX_PUSH_EVENTS)
            .map(|batch| {
                to_json(&PushRequest {
                    events: batch.to_vec(),
                })
                .into()
            })
            .collect();
        let body_bytes: usize = bodies.iter().map(Bytes::len).sum();
        figures
            .request_bytes_per_event
            .push(body_bytes as f64 / EVENTS as f64);

        let mut pushing = Duration::ZERO;
        let mut last_answer = None;
        for (body, batch) in bodies.iter().zip(events.chunks(MAX_PUSH_EVENTS)) {
            let (took, answer) = self.push(&writer, body.clone()).await;
            let last_seq = batch.last().unwrap().device_seq();
            assert_eq!(
                (answer.acked_seq, &answer.rejected[..]),
                (last_seq, &[][..]),
                "every event is stored and accepted"
            );
            pushing += took;
            last_answer = Some(answer);
        }
        figures.push_events_per_s.push(per_second(EVENTS, pushing));

        let (last_body, last_answer) = (bodies.last().unwrap(), last_answer.unwrap());
        for _ in 0..RETRIES {
            let (took, answer) = self.push(&writer, last_body.clone()).await;
            assert_eq!(answer, last_answer, "a retry gets the same answer");
            figures.retry_ms.push(took.as_secs_f64() * 1000.0);
        }

        let reader = self.enrol(2).await;
        let (pulling, pulled) = self.pull_all(&reader).await;
        let pushed: Vec<Uuid> = events.iter().map(Event::id).collect();
        assert_eq!(pulled, pushed, "every event pulled once, in order");
        figures.pull_events_per_s.push(per_second(EVENTS, pulling));

        let mut nurse = self.enrol(3).await;
        let participant = Uuid::now_v7();
        let day = nurse.ward_day(participant);
        self.push_accepted(&nurse, &day).await;
        let batches = 1 + HISTORY / MAX_PUSH_EVENTS + 1;
        for batch in 0..batches {
            let corrections = nurse.corrections(participant, batch * MAX_PUSH_EVENTS);
            let took = self.push_accepted(&nurse, &corrections).await;
            if batch == 0 {
                figures.history_first_ms.push(took);
            } else if batch == batches - 1 {
                figures.history_after_ms.push(took);
            }
        }
    }

    /// Pushes `events` as `tablet`, expecting each one stored and accepted: the
    /// milliseconds the server took.
    async fn push_accepted(&self, tablet: &Tablet, events: &[Event]) -> f64 {
        let body = to_json(&PushRequest {
            events: events.to_vec(),
        });
        let (took, answer) = self.push(tablet, body.into()).await;
        assert_eq!(
            (answer.acked_seq, &answer.rejected[..]),
            (events.last().unwrap().device_seq(), &[][..]),
            "every event is stored and accepted"
        );
        took.as_secs_f64() * 1000.0
    }

    /// Enrols a tablet whose P-256 key is made from `key_byte`: deterministic, and
    /// the server only seals a lease to it, which nothing here opens.
    async fn enrol(&self, key_byte: u8) -> Tablet {
        let code = admin::issue_enrolment_code(&self.store, SITE, &Clock::fixed(NOW_MS))
            .await
            .unwrap();
        let key = SecretKey::from_slice(&[key_byte; 32]).unwrap();
        let request = EnrolRequest {
            code: code.to_string(),
            device_id: Uuid::now_v7(),
            app_version: "0.1.0".to_owned(),
            public_key: hex::encode(key.public_key().to_uncompressed_point()),
        };
        let post = Request::post("/api/enrol").header(header::CONTENT_TYPE, "application/json");
        let (_, body) = self
            .send(post.body(to_json(&request).into()).unwrap())
            .await;
        let response: EnrolResponse = from_json(&body);
        Tablet {
            token: response.device_token,
            user_id: response.users[0].id,
            head: ChainHead::genesis(request.device_id),
        }
    }

    /// Pushes a serialised `PushRequest` as `tablet`.
    async fn push(&self, tablet: &Tablet, body: Bytes) -> (Duration, PushResponse) {
        let request = tablet
            .authorised(Request::post("/api/push"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let (took, body) = self.send(request).await;
        (took, from_json(&body))
    }

    /// Pulls every page as `tablet`, as its sync does: the time the server took
    /// over all of them, and the ids pulled, in order.
    async fn pull_all(&self, tablet: &Tablet) -> (Duration, Vec<Uuid>) {
        let (mut pulling, mut ids, mut cursor) = (Duration::ZERO, Vec::new(), 0);
        loop {
            let path = format!("/api/pull?after={cursor}&limit={MAX_PULL_EVENTS}");
            let request = tablet.authorised(Request::get(path));
            let (took, body) = self.send(request.body(Body::empty()).unwrap()).await;
            pulling += took;
            let page: PullResponse = from_json(&body);
            ids.extend(page.events.iter().map(|pulled| pulled.event.id()));
            cursor = page.next_cursor;
            if !page.more {
                return (pulling, ids);
            }
        }
    }

    /// Sends a request, expecting 200: the time from the call to the last byte of
    /// the answer, and the answer.
    async fn send(&self, request: Request<Body>) -> (Duration, Bytes) {
        let started = Instant::now();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let took = started.elapsed();
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        (took, body)
    }
}

impl FreshDatabase {
    /// A new, empty database on `engine`, and the URL the store connects to.
    async fn create(engine: Engine, postgres: Option<&str>) -> (Self, DatabaseUrl) {
        match engine {
            Engine::Sqlite => {
                let folder = tempfile::tempdir().unwrap();
                let url = DatabaseUrl::sqlite_file(&folder.path().join("server.sqlite"));
                (Self::Sqlite { _folder: folder }, url)
            }
            Engine::Postgres => {
                let server_url = postgres.expect("PostgreSQL is measured only when named");
                let name = format!("hp_ecmo_bench_{}", Uuid::now_v7().simple());
                postgres_admin(server_url, &format!("CREATE DATABASE {name}")).await;
                let url = DatabaseUrl::parse(&with_database(server_url, &name)).unwrap();
                let database = Self::Postgres {
                    server_url: server_url.to_owned(),
                    name,
                };
                (database, url)
            }
        }
    }

    /// Drops a PostgreSQL database, so runs leave nothing behind on the server (a
    /// SQLite folder goes by itself).
    async fn drop_database(self) {
        if let Self::Postgres { server_url, name } = self {
            postgres_admin(&server_url, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
        }
    }
}

/// Runs one statement on the PostgreSQL server's own database.
async fn postgres_admin(server_url: &str, statement: &str) {
    let mut admin = sqlx::PgConnection::connect(server_url).await.unwrap();
    sqlx::query(statement).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
}

impl Tablet {
    /// `n` events: participant after participant, each screened, consented and
    /// sampled at T0 (the last one's day cut short at `n`).
    fn ward_days(&mut self, n: usize) -> Vec<Event> {
        let days = (1..).flat_map(|number: u32| {
            let participant = Uuid::now_v7();
            [
                (participant, screening(number), SCREENED_MS),
                (participant, consent(), CONSENTED_MS),
                (participant, il6_sample(number), SAMPLED_MS + 60_000),
            ]
        });
        days.take(n)
            .map(|(participant, payload, utc_ms)| self.record(participant, &payload, utc_ms))
            .collect()
    }

    /// One participant's day: screened, consented, sampled at T0.
    fn ward_day(&mut self, participant: Uuid) -> Vec<Event> {
        vec![
            self.record(participant, &screening(1), SCREENED_MS),
            self.record(participant, &consent(), CONSENTED_MS),
            self.record(participant, &il6_sample(1), SAMPLED_MS + 60_000),
        ]
    }

    /// `MAX_PUSH_EVENTS` corrections of the participant's T0 IL-6 from the
    /// `first`th on, each of the value the one before set, a millisecond apart.
    fn corrections(&mut self, participant: Uuid, first: usize) -> Vec<Event> {
        let form = FormRef::CytokineSample {
            time_point: TimePoint::H0,
        };
        let first = u32::try_from(first).unwrap();
        let count = u32::try_from(MAX_PUSH_EVENTS).unwrap();
        (first..first + count)
            .map(|n| {
                let (old, new) = (101.0 + f64::from(n % 900), 101.0 + f64::from((n + 1) % 900));
                let correction = Payload::ValueCorrected(ValueCorrected {
                    form,
                    field: Field::Il6PgPerMl,
                    old: json!({ "value": old }),
                    new: json!({ "value": new }),
                    reason: "lab report re-read".to_owned(),
                    confirms: None,
                });
                self.record(
                    participant,
                    &correction,
                    SAMPLED_MS + 120_000 + i64::from(n),
                )
            })
            .collect()
    }

    /// Records an event about `participant` at `utc_ms`, continuing the chain.
    fn record(&mut self, participant: Uuid, payload: &Payload, utc_ms: i64) -> Event {
        self.head
            .append(EventDraft {
                id: Uuid::now_v7(),
                participant_id: participant,
                user_id: self.user_id,
                recorded_at: beijing(utc_ms),
                kind: payload.kind(),
                payload: payload.to_json(),
                app_version: "0.1.0".to_owned(),
                schema_version: SCHEMA_VERSION,
            })
            .unwrap()
    }

    fn authorised(&self, request: axum::http::request::Builder) -> axum::http::request::Builder {
        request.header(header::AUTHORIZATION, format!("Bearer {}", self.token))
    }
}

/// The screening of an eligible patient (VA-ECMO for cardiogenic shock), the
/// `number`th of the tablet.
fn screening(number: u32) -> Payload {
    let form = testkit::eligible_screening(beijing(SCREENED_MS), beijing(ECMO_STARTED_MS));
    testkit::screening_recorded(format!("T1-{number:04}"), form)
}

fn consent() -> Payload {
    testkit::consent(beijing(CONSENTED_MS))
}

/// The T0 cytokine sample, its IL-6 varying with `number`.
fn il6_sample(number: u32) -> Payload {
    let sampled_at = json!({ "value": { "utc_ms": SAMPLED_MS, "offset_minutes": BEIJING } });
    let il6 = 100.0 + f64::from(number % 900);
    let form = FormRef::CytokineSample {
        time_point: TimePoint::H0,
    }
    .form_with([
        (Field::SampledAt, sampled_at),
        (Field::Il6PgPerMl, json!({ "value": il6 })),
    ])
    .unwrap();
    Payload::FormSaved(FormSaved {
        form,
        confirmed: vec![],
    })
}

fn per_second(events: usize, took: Duration) -> f64 {
    events as f64 / took.as_secs_f64()
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap()
}

fn from_json<T: DeserializeOwned>(body: &[u8]) -> T {
    serde_json::from_slice(body)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(body)))
}
