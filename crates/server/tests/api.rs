//! HTTP tests of the whole server, in-process through `router` with no socket: the
//! app shell, enrolment, push, pull and the error answers.
//!
//! Every test runs twice: on SQLite (a fresh file each) and on PostgreSQL (a fresh
//! database each) when `HP_ECMO_TEST_POSTGRES_URL` names a server that may create
//! databases, as `cargo xtask test` arranges. Without it the PostgreSQL runs say so
//! on stderr and pass.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use server::store::{DatabaseUrl, NewUser, Store};
use server::{AppState, Clock, admin};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use tower::ServiceExt;
use trial::event::{ChainHead, Event, EventDraft, EventKind};
use trial::pin::{ITERATIONS, Pin, PinHash, PinSalt};
use trial::time::Moment;
use trial::wire::{
    ApiErrorBody, EnrolRequest, EnrolResponse, ErrorCode, PullResponse, PushRequest, PushResponse,
    RejectionCode, Role, Site,
};
use uuid::Uuid;

/// The server's clock in every test: stopped, so timestamps are exact.
const NOW_MS: i64 = 1_750_000_000_000;
const FIVE_MINUTES_MS: i64 = 5 * 60 * 1000;
const VALID_PAYLOAD: &str = r#"{"status":"completed"}"#;
/// Valid JSON, a valid chain, but not a status the trial knows.
const INVALID_PAYLOAD: &str = r#"{"status":"cured"}"#;

#[derive(Clone, Copy, Debug)]
enum Engine {
    Sqlite,
    Postgres,
}

/// A server over a fresh database and a throw-away `dist` holding a tiny app.
struct TestApp {
    router: axum::Router,
    store: Store,
    database: DatabaseUrl,
    site: Site,
    /// The enrolment code the server printed at start.
    enrolment_code: String,
    _dist: tempfile::TempDir,
    _sqlite: Option<tempfile::TempDir>,
}

/// An enrolled tablet: its identity, token and the head of its own chain.
#[derive(Clone, Debug)]
struct Tablet {
    id: Uuid,
    token: String,
    label: String,
    user_id: Uuid,
    head: ChainHead,
}

/// Starts a server on `engine`; `None` when PostgreSQL is asked for but not
/// configured.
async fn spawn_app(engine: Engine) -> Option<TestApp> {
    let (database, sqlite) = match engine {
        Engine::Sqlite => {
            let folder = tempfile::tempdir().unwrap();
            let url = DatabaseUrl::sqlite_file(&folder.path().join("server.sqlite"));
            (url, Some(folder))
        }
        Engine::Postgres => (fresh_postgres_database().await?, None),
    };
    let store = Store::connect(&database).await.unwrap();
    let site = admin::site("BJ", "Beijing Anzhen Hospital", "Asia/Shanghai").unwrap();
    store.upsert_site(&site, NOW_MS).await.unwrap();
    // A user with a PIN hashed once per test binary: hashing takes a second in a
    // debug build, and `admin::start` would otherwise hash a first user's PIN in
    // every test.
    let user = NewUser {
        id: Uuid::now_v7(),
        name: "Li Na".to_owned(),
        role: Role::Investigator,
        pin: test_pin_hash().clone(),
    };
    store.add_user(&site.code, &user, NOW_MS).await.unwrap();
    let startup = admin::start(&store, &site, &Clock::fixed(NOW_MS))
        .await
        .unwrap();
    assert!(startup.first_user_pin.is_none());

    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("index.html"), "<html>app shell</html>").unwrap();
    std::fs::write(dist.path().join("app-1a2b.wasm"), b"\0asm").unwrap();
    let state = AppState::new(store.clone(), Clock::fixed(NOW_MS));
    Some(TestApp {
        router: server::router(state, dist.path()),
        store,
        database,
        site,
        enrolment_code: startup.enrolment_code.to_string(),
        _dist: dist,
        _sqlite: sqlite,
    })
}

/// A new, empty database on the PostgreSQL server the environment names.
async fn fresh_postgres_database() -> Option<DatabaseUrl> {
    let Ok(server_url) = std::env::var("HP_ECMO_TEST_POSTGRES_URL") else {
        eprintln!("HP_ECMO_TEST_POSTGRES_URL is not set: this PostgreSQL run is skipped");
        return None;
    };
    let name = format!("hp_ecmo_test_{}", Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&server_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    Some(DatabaseUrl::parse(&with_database(&server_url, &name)).unwrap())
}

/// `url` with its database (the path after the host) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, query) = match rest.split_once('?') {
        Some((authority, query)) => (authority, format!("?{query}")),
        None => (rest, String::new()),
    };
    let host = authority.split('/').next().unwrap();
    format!("{scheme}://{host}/{name}{query}")
}

fn test_pin_hash() -> &'static PinHash {
    static HASH: OnceLock<PinHash> = OnceLock::new();
    HASH.get_or_init(|| {
        let pin = Pin::parse("2468").unwrap();
        PinHash::new(&pin, PinSalt::from_bytes([5; 16]), ITERATIONS).unwrap()
    })
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl TestApp {
    /// Sends a request and returns the status and the raw body.
    async fn send(&self, request: Request<Body>) -> (StatusCode, Vec<u8>) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body.to_vec())
    }

    /// Sends JSON (`body` exactly as given) with an optional bearer token.
    async fn send_json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: impl Into<Body>,
    ) -> (StatusCode, Vec<u8>) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(request.body(body.into()).unwrap()).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Vec<u8>) {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// A new one-time code, as `hp-ecmo-server enrolment-code` prints it.
    async fn new_code(&self) -> String {
        admin::issue_enrolment_code(&self.store, &self.site.code, &Clock::fixed(NOW_MS))
            .await
            .unwrap()
            .to_string()
    }

    async fn try_enrol(&self, code: &str, device_id: Uuid) -> (StatusCode, Vec<u8>) {
        let request = EnrolRequest {
            code: code.to_owned(),
            device_id,
            app_version: "0.1.0".to_owned(),
        };
        self.send_json(Method::POST, "/api/enrol", None, to_json(&request))
            .await
    }

    /// Enrols a new tablet with a new code.
    async fn enrol(&self) -> Tablet {
        let device_id = Uuid::now_v7();
        let (status, body) = self.try_enrol(&self.new_code().await, device_id).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let response: EnrolResponse = from_json(&body);
        Tablet {
            id: device_id,
            token: response.device_token,
            label: response.device_label,
            user_id: response.users[0].id,
            head: ChainHead::genesis(device_id),
        }
    }

    async fn try_push(&self, token: Option<&str>, events: &[Event]) -> (StatusCode, Vec<u8>) {
        let request = PushRequest {
            events: events.to_vec(),
        };
        self.send_json(Method::POST, "/api/push", token, to_json(&request))
            .await
    }

    /// Pushes as `tablet`, expecting 200.
    async fn push(&self, tablet: &Tablet, events: &[Event]) -> PushResponse {
        let (status, body) = self.try_push(Some(&tablet.token), events).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        from_json(&body)
    }

    /// Pulls as `tablet` after `cursor`, expecting 200.
    async fn pull(&self, tablet: &Tablet, cursor: u64, limit: Option<u32>) -> PullResponse {
        let limit = limit.map_or(String::new(), |limit| format!("&limit={limit}"));
        let (status, body) = self
            .get(
                &format!("/api/pull?after={cursor}{limit}"),
                Some(&tablet.token),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        from_json(&body)
    }

    async fn stored(&self, tablet: &Tablet) -> u64 {
        self.store.count_events(tablet.id).await.unwrap()
    }
}

impl Tablet {
    /// Records `n` events with a valid payload, at the server's time.
    fn record(&mut self, n: usize) -> Vec<Event> {
        (0..n)
            .map(|_| self.record_one(VALID_PAYLOAD, NOW_MS))
            .collect()
    }

    fn record_one(&mut self, payload: &str, utc_ms: i64) -> Event {
        self.head
            .append(EventDraft {
                id: Uuid::now_v7(),
                participant_id: Uuid::from_u128(42),
                user_id: self.user_id,
                recorded_at: Moment::new(utc_ms, 480).unwrap(),
                kind: EventKind::EndOfParticipation,
                payload: payload.to_owned(),
                app_version: "0.1.0".to_owned(),
                schema_version: trial::payload::SCHEMA_VERSION,
            })
            .unwrap()
    }
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap()
}

fn from_json<T: DeserializeOwned>(body: &[u8]) -> T {
    serde_json::from_slice(body)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(body)))
}

/// An event as JSON, changed by `edit`, for crafting what the app would never send.
fn edited(event: &Event, edit: impl FnOnce(&mut serde_json::Value)) -> Event {
    let mut json = serde_json::to_value(event).unwrap();
    edit(&mut json);
    serde_json::from_value(json).unwrap()
}

fn error_body(
    status: StatusCode,
    body: &[u8],
    expected_status: StatusCode,
    code: ErrorCode,
) -> ApiErrorBody {
    assert_eq!(status, expected_status, "{}", String::from_utf8_lossy(body));
    let error: ApiErrorBody = from_json(body);
    assert_eq!(error.error, code, "{error:?}");
    error
}

/// Declares each test once for every engine.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = super::spawn_app(super::Engine::Sqlite).await.unwrap();
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(app) = super::spawn_app(super::Engine::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

on_both_engines!(
    serves_the_app_shell_and_deep_links,
    health_and_unknown_api_paths_answer_in_json,
    start_up_creates_a_first_user_only_when_there_is_none,
    an_enrolment_code_enrols_one_tablet,
    bad_enrolment_codes_are_refused,
    a_device_id_enrols_once,
    a_missing_wrong_or_revoked_token_is_401_and_writes_nothing,
    the_same_push_three_times_stores_once,
    a_batch_cut_off_mid_way_is_finished_by_the_retry,
    a_tampered_chain_is_refused_from_the_broken_link,
    a_different_event_under_a_stored_seq_is_refused,
    an_invalid_payload_is_stored_rejected_and_the_chain_continues,
    events_from_the_future_are_refused,
    another_devices_event_is_refused,
    a_reused_event_id_is_refused,
    two_devices_push_at_once,
    pull_pages_through_the_other_devices_events,
    bad_json_answers_in_the_error_shape,
    limits_on_size_and_count,
    an_internal_failure_says_nothing,
    stored_events_cannot_be_changed_or_deleted,
);

async fn serves_the_app_shell_and_deep_links(app: TestApp) {
    let (status, body) = app.get("/", None).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, &b"<html>app shell</html>"[..])
    );
    let response = app
        .router
        .clone()
        .oneshot(Request::get("/app-1a2b.wasm").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/wasm");
    let (status, body) = app.get("/participants/42", None).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, &b"<html>app shell</html>"[..])
    );
}

async fn health_and_unknown_api_paths_answer_in_json(app: TestApp) {
    let (status, body) = app.get("/api/health", None).await;
    assert_eq!(status, StatusCode::OK);
    let health: serde_json::Value = from_json(&body);
    assert_eq!(
        health,
        serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "api_version": 1,
            "server_time_ms": NOW_MS,
        })
    );
    let (status, body) = app.get("/api/no-such-thing", None).await;
    error_body(status, &body, StatusCode::NOT_FOUND, ErrorCode::NotFound);
    let (status, body) = app.get("/api/push", None).await;
    error_body(
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
    );
}

async fn start_up_creates_a_first_user_only_when_there_is_none(app: TestApp) {
    let site = admin::site("SH", "Shanghai", "Asia/Shanghai").unwrap();
    let clock = Clock::fixed(NOW_MS);
    let first = admin::start(&app.store, &site, &clock).await.unwrap();
    let digits = first.first_user_pin.expect("a site without users gets one");
    let users = app.store.users("SH").await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(
        (users[0].name.as_str(), users[0].role),
        ("Coordinator", Role::Coordinator)
    );
    assert!(users[0].pin.verify(&Pin::parse(&digits).unwrap()));
    assert!(users[0].pin.iterations() >= 100_000);

    let second = admin::start(&app.store, &site, &clock).await.unwrap();
    assert!(second.first_user_pin.is_none());
    assert_eq!(app.store.users("SH").await.unwrap().len(), 1);
    assert_ne!(first.enrolment_code, second.enrolment_code);
}

async fn an_enrolment_code_enrols_one_tablet(app: TestApp) {
    let device_id = Uuid::now_v7();
    // Typed the way people type it.
    let typed = app.enrolment_code.to_lowercase().replace('-', " ");
    let (status, body) = app.try_enrol(&typed, device_id).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let response: EnrolResponse = from_json(&body);
    assert_eq!(response.device_id, device_id);
    assert_eq!(response.device_label, "T1");
    assert_eq!(response.site, app.site);
    assert_eq!(response.server_time_ms, NOW_MS);
    assert_eq!(response.device_token.len(), 64);
    let names: Vec<_> = response
        .users
        .iter()
        .map(|user| user.name.as_str())
        .collect();
    assert_eq!(names, ["Li Na"]);
    assert!(response.users[0].pin.verify(&Pin::parse("2468").unwrap()));
    assert!(!response.users[0].pin.verify(&Pin::parse("1357").unwrap()));

    // The code is spent: a second tablet gets 409 and is not enrolled.
    let (status, body) = app.try_enrol(&app.enrolment_code, Uuid::now_v7()).await;
    let error = error_body(status, &body, StatusCode::CONFLICT, ErrorCode::Conflict);
    assert!(error.message.contains("already been used"), "{error:?}");

    // The next tablet, with its own code, is T2.
    assert_eq!(app.enrol().await.label, "T2");
}

async fn bad_enrolment_codes_are_refused(app: TestApp) {
    let (status, body) = app.try_enrol("ABCD-EFGH", Uuid::now_v7()).await;
    let error = error_body(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    );
    assert!(error.message.contains("not known"), "{error:?}");

    let (status, body) = app.try_enrol("ABCD-EF0H", Uuid::now_v7()).await;
    let error = error_body(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidRequest,
    );
    assert_eq!(error.problems[0].field, "code");

    let version_4 = Uuid::from_u128(0x0191_0000_0000_4000_8000_0000_0000_0001);
    let (status, body) = app.try_enrol(&app.enrolment_code, version_4).await;
    let error = error_body(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidRequest,
    );
    assert_eq!(error.problems[0].field, "device_id");

    // A code issued more than a day ago no longer works.
    let expired = "WXYZ-2345";
    app.store
        .add_enrolment_code(
            &app.site.code,
            &sha256_hex("WXYZ2345"),
            NOW_MS - 2 * 86_400_000,
            NOW_MS - 86_400_000,
        )
        .await
        .unwrap();
    let (status, body) = app.try_enrol(expired, Uuid::now_v7()).await;
    let error = error_body(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    );
    assert!(error.message.contains("expired"), "{error:?}");

    // None of the refusals spent the printed code.
    let (status, _) = app.try_enrol(&app.enrolment_code, Uuid::now_v7()).await;
    assert_eq!(status, StatusCode::OK);
}

async fn a_device_id_enrols_once(app: TestApp) {
    let tablet = app.enrol().await;
    let code = app.new_code().await;
    let (status, body) = app.try_enrol(&code, tablet.id).await;
    let error = error_body(status, &body, StatusCode::CONFLICT, ErrorCode::Conflict);
    assert!(error.message.contains("already enrolled"), "{error:?}");
    // The code was not spent on the refusal.
    let (status, _) = app.try_enrol(&code, Uuid::now_v7()).await;
    assert_eq!(status, StatusCode::OK);
}

async fn a_missing_wrong_or_revoked_token_is_401_and_writes_nothing(app: TestApp) {
    let mut tablet = app.enrol().await;
    let events = tablet.record(2);
    for token in [None, Some("0".repeat(64).as_str()), Some("")] {
        let (status, body) = app.try_push(token, &events).await;
        error_body(
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
        );
        let (status, body) = app.get("/api/pull", token).await;
        error_body(
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
        );
    }
    // Not even a malformed body gets past a missing token.
    let (status, body) = app
        .send_json(Method::POST, "/api/push", None, "{oops")
        .await;
    error_body(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    );
    assert_eq!(app.stored(&tablet).await, 0);

    assert!(
        app.store
            .revoke_device(&app.site.code, &tablet.label, NOW_MS)
            .await
            .unwrap()
    );
    let (status, body) = app.try_push(Some(&tablet.token), &events).await;
    error_body(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    );
    assert_eq!(app.stored(&tablet).await, 0);
}

async fn the_same_push_three_times_stores_once(app: TestApp) {
    let mut tablet = app.enrol().await;
    let events = tablet.record(3);
    let first = app.push(&tablet, &events).await;
    assert_eq!(first.acked_seq, 3);
    assert!(first.rejected.is_empty());
    for _ in 0..2 {
        assert_eq!(app.push(&tablet, &events).await, first);
    }
    assert_eq!(app.stored(&tablet).await, 3);
    // An empty push asks where the server is.
    assert_eq!(app.push(&tablet, &[]).await.acked_seq, 3);
}

async fn a_batch_cut_off_mid_way_is_finished_by_the_retry(app: TestApp) {
    let mut tablet = app.enrol().await;
    let events = tablet.record(10);
    let json = to_json(&PushRequest {
        events: events.clone(),
    });

    // The connection drops half-way through the body: nothing is stored.
    let half = json.as_bytes()[..json.len() / 2].to_vec();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(half.clone()),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        )),
    ];
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let (status, body) = app
        .send_json(Method::POST, "/api/push", Some(&tablet.token), body)
        .await;
    error_body(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        ErrorCode::MalformedJson,
    );
    // The body ends early without an error: not JSON, nothing stored.
    let (status, body) = app
        .send_json(Method::POST, "/api/push", Some(&tablet.token), half)
        .await;
    error_body(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        ErrorCode::MalformedJson,
    );
    assert_eq!(app.stored(&tablet).await, 0);

    // The first half was stored but the answer was lost; the tablet resends all.
    assert_eq!(app.push(&tablet, &events[..5]).await.acked_seq, 5);
    let retry = app.push(&tablet, &events).await;
    assert_eq!((retry.acked_seq, retry.rejected.len()), (10, 0));
    assert_eq!(app.stored(&tablet).await, 10);
}

async fn a_tampered_chain_is_refused_from_the_broken_link(app: TestApp) {
    let mut tablet = app.enrol().await;
    let mut events = tablet.record(5);
    events[2] = edited(&events[2], |json| {
        json["payload"] = r#"{"status":"lost_to_follow_up"}"#.into()
    });
    let response = app.push(&tablet, &events).await;
    assert_eq!(response.acked_seq, 2);
    assert_eq!(response.rejected.len(), 1);
    let refusal = &response.rejected[0];
    assert_eq!(
        (refusal.device_seq, refusal.code),
        (3, RejectionCode::ChainBroken)
    );
    assert_eq!(refusal.event_id, events[2].id());
    assert!(refusal.message.contains("altered"), "{refusal:?}");
    assert_eq!(app.stored(&tablet).await, 2);

    // A number the chain never uses.
    let zero = edited(&events[0], |json| json["device_seq"] = 0.into());
    let response = app.push(&tablet, &[zero]).await;
    assert_eq!(response.rejected[0].code, RejectionCode::ChainBroken);

    // A gap: event 4 without 3.
    let response = app.push(&tablet, &events[3..]).await;
    assert_eq!(response.acked_seq, 2);
    assert_eq!(response.rejected[0].device_seq, 4);
    assert!(
        response.rejected[0].message.contains("event 3 is missing"),
        "{response:?}"
    );
    assert_eq!(app.stored(&tablet).await, 2);
}

async fn a_different_event_under_a_stored_seq_is_refused(app: TestApp) {
    let mut tablet = app.enrol().await;
    let events = tablet.record(3);
    app.push(&tablet, &events).await;
    // Another history of the same device: same numbers, other events.
    let mut other = Tablet {
        head: ChainHead::genesis(tablet.id),
        ..tablet.clone()
    };
    let forged = other.record(4);
    let response = app.push(&tablet, &forged).await;
    assert_eq!(response.acked_seq, 3);
    assert_eq!(response.rejected.len(), 1);
    assert_eq!(
        (response.rejected[0].device_seq, response.rejected[0].code),
        (1, RejectionCode::SeqConflict)
    );
    assert_eq!(app.stored(&tablet).await, 3);
}

async fn an_invalid_payload_is_stored_rejected_and_the_chain_continues(app: TestApp) {
    let mut tablet = app.enrol().await;
    let reader = app.enrol().await;
    let events = vec![
        tablet.record_one(VALID_PAYLOAD, NOW_MS),
        tablet.record_one(INVALID_PAYLOAD, NOW_MS),
        tablet.record_one(VALID_PAYLOAD, NOW_MS),
    ];
    let response = app.push(&tablet, &events).await;
    assert_eq!(response.acked_seq, 3);
    assert_eq!(response.rejected.len(), 1);
    let rejection = &response.rejected[0];
    assert_eq!(
        (rejection.device_seq, rejection.code),
        (2, RejectionCode::InvalidPayload)
    );
    assert!(
        rejection.message.contains("unknown variant `cured`"),
        "{rejection:?}"
    );
    assert_eq!(app.stored(&tablet).await, 3);
    // The same answer again on a retry, and the chain goes on after it.
    assert_eq!(app.push(&tablet, &events).await, response);
    let next = tablet.record(1);
    let after = app.push(&tablet, &next).await;
    assert_eq!((after.acked_seq, after.rejected.len()), (4, 0));

    // Other tablets never receive the rejected event.
    let pulled = app.pull(&reader, 0, None).await;
    let seqs: Vec<_> = pulled
        .events
        .iter()
        .map(|pulled| pulled.event.device_seq())
        .collect();
    assert_eq!(seqs, [1, 3, 4]);
    assert_eq!(pulled.events[0].event, events[0]);
    assert_eq!(pulled.events[0].received_at_ms, NOW_MS);
}

async fn events_from_the_future_are_refused(app: TestApp) {
    let mut tablet = app.enrol().await;
    let events = vec![
        tablet.record_one(VALID_PAYLOAD, NOW_MS + FIVE_MINUTES_MS),
        tablet.record_one(VALID_PAYLOAD, NOW_MS + FIVE_MINUTES_MS + 1),
        tablet.record_one(VALID_PAYLOAD, NOW_MS),
    ];
    let response = app.push(&tablet, &events).await;
    assert_eq!(response.acked_seq, 1);
    assert_eq!(response.rejected.len(), 1);
    assert_eq!(
        (response.rejected[0].device_seq, response.rejected[0].code),
        (2, RejectionCode::FromTheFuture)
    );
    assert!(
        response.rejected[0].message.contains("300 s after"),
        "{response:?}"
    );
    assert_eq!(app.stored(&tablet).await, 1);
}

async fn another_devices_event_is_refused(app: TestApp) {
    let tablet = app.enrol().await;
    let mut other = app.enrol().await;
    let events = other.record(2);
    let response = app.push(&tablet, &events).await;
    assert_eq!(response.acked_seq, 0);
    assert_eq!(response.rejected[0].code, RejectionCode::WrongDevice);
    assert_eq!(app.stored(&tablet).await + app.stored(&other).await, 0);
}

async fn a_reused_event_id_is_refused(app: TestApp) {
    let mut first = app.enrol().await;
    let mut second = app.enrol().await;
    let taken = first.record(1);
    app.push(&first, &taken).await;
    // The second tablet's event 2 carries an id the first tablet's event has.
    let mut events = second.record(1);
    events.push(
        second
            .head
            .append(EventDraft {
                id: taken[0].id(),
                participant_id: Uuid::from_u128(42),
                user_id: second.user_id,
                recorded_at: Moment::new(NOW_MS, 480).unwrap(),
                kind: EventKind::EndOfParticipation,
                payload: VALID_PAYLOAD.to_owned(),
                app_version: "0.1.0".to_owned(),
                schema_version: trial::payload::SCHEMA_VERSION,
            })
            .unwrap(),
    );
    let response = app.push(&second, &events).await;
    assert_eq!(response.acked_seq, 1);
    assert_eq!(
        (response.rejected[0].device_seq, response.rejected[0].code),
        (2, RejectionCode::DuplicateEventId)
    );
    assert_eq!(app.stored(&second).await, 1);
}

async fn two_devices_push_at_once(app: TestApp) {
    let mut first = app.enrol().await;
    let mut second = app.enrol().await;
    let reader = app.enrol().await;
    let (first_events, second_events) = (first.record(200), second.record(200));
    let (a, b, c, d) = tokio::join!(
        app.push(&first, &first_events[..100]),
        app.push(&second, &second_events[..100]),
        app.push(&first, &first_events),
        app.push(&second, &second_events),
    );
    // Each half-batch may be answered before or after its full batch.
    assert!(a.acked_seq >= 100 && b.acked_seq >= 100, "{a:?} {b:?}");
    assert_eq!((c.acked_seq, d.acked_seq), (200, 200));
    let pulled = pull_all(&app, &reader, 0, 500).await;
    assert_eq!(pulled.len(), 400);
    let cursors: Vec<_> = pulled.iter().map(|pulled| pulled.cursor).collect();
    assert!(
        cursors.windows(2).all(|pair| pair[0] < pair[1]),
        "{cursors:?}"
    );
    for tablet in [&first, &second] {
        let seqs: Vec<_> = pulled
            .iter()
            .filter(|pulled| pulled.event.device_id() == tablet.id)
            .map(|pulled| pulled.event.device_seq())
            .collect();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
    }
}

/// Every page from `cursor` on.
async fn pull_all(
    app: &TestApp,
    tablet: &Tablet,
    mut cursor: u64,
    limit: u32,
) -> Vec<trial::wire::PulledEvent> {
    let mut events = Vec::new();
    loop {
        let page = app.pull(tablet, cursor, Some(limit)).await;
        events.extend(page.events);
        cursor = page.next_cursor;
        if !page.more {
            return events;
        }
    }
}

async fn pull_pages_through_the_other_devices_events(app: TestApp) {
    let mut first = app.enrol().await;
    let mut second = app.enrol().await;
    let third = app.enrol().await;
    let (first_events, second_events) = (first.record(7), second.record(3));
    app.push(&first, &first_events).await;
    app.push(&second, &second_events).await;

    let page = app.pull(&third, 0, Some(4)).await;
    assert_eq!(
        (page.events.len(), page.more, page.next_cursor),
        (4, true, 4)
    );
    assert_eq!(page.server_time_ms, NOW_MS);
    let page = app.pull(&third, page.next_cursor, Some(4)).await;
    assert_eq!(
        (page.events.len(), page.more, page.next_cursor),
        (4, true, 8)
    );
    let page = app.pull(&third, page.next_cursor, Some(4)).await;
    assert_eq!(
        (page.events.len(), page.more, page.next_cursor),
        (2, false, 10)
    );
    let page = app.pull(&third, page.next_cursor, None).await;
    assert_eq!(
        (page.events.len(), page.more, page.next_cursor),
        (0, false, 10)
    );

    // A device never gets its own events back.
    let own: Vec<_> = pull_all(&app, &first, 0, 500)
        .await
        .iter()
        .map(|pulled| pulled.event.device_id())
        .collect();
    assert_eq!(own, [second.id; 3]);
    let own = pull_all(&app, &second, 0, 2).await;
    assert_eq!(own.len(), 7);
}

async fn bad_json_answers_in_the_error_shape(app: TestApp) {
    let mut tablet = app.enrol().await;
    let event = serde_json::to_value(&tablet.record(1)[0]).unwrap();
    let token = Some(tablet.token.as_str());
    let check =
        async |body: String, status: StatusCode, code: ErrorCode, field: &str, message: &str| {
            let (actual, response) = app
                .send_json(Method::POST, "/api/push", token, body.clone())
                .await;
            let error = error_body(actual, &response, status, code);
            assert_eq!(error.problems.len(), 1, "{body}: {error:?}");
            assert_eq!(error.problems[0].field, field, "{body}: {error:?}");
            assert!(
                error.problems[0].message.contains(message),
                "{body}: {error:?}"
            );
        };
    let (bad_request, unprocessable) = (StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY);
    let (malformed, invalid) = (ErrorCode::MalformedJson, ErrorCode::InvalidRequest);
    check(
        "{\"events\": [".into(),
        bad_request,
        malformed,
        "events",
        "EOF",
    )
    .await;
    check(
        "not json".into(),
        bad_request,
        malformed,
        "body",
        "expected",
    )
    .await;
    check(
        "{\"events\": []} {}".into(),
        bad_request,
        malformed,
        "body",
        "trailing",
    )
    .await;
    check(
        r#"{"events": [], "lease": 1}"#.into(),
        unprocessable,
        invalid,
        "lease",
        "unknown field `lease`",
    )
    .await;
    check(
        r#"{"events": "none"}"#.into(),
        unprocessable,
        invalid,
        "events",
        "invalid type",
    )
    .await;
    check(
        "{}".into(),
        unprocessable,
        invalid,
        "body",
        "missing field `events`",
    )
    .await;
    let mut with_extra = event.clone();
    with_extra["note"] = "hi".into();
    let body = serde_json::json!({ "events": [with_extra] }).to_string();
    check(
        body,
        unprocessable,
        invalid,
        "events[0]",
        "unknown field `note`",
    )
    .await;
    let mut wrong_type = event.clone();
    wrong_type["device_seq"] = "one".into();
    let body = serde_json::json!({ "events": [event, wrong_type] }).to_string();
    check(
        body,
        unprocessable,
        invalid,
        "events[1]",
        "at `device_seq`: invalid type",
    )
    .await;

    let request = Request::post("/api/push")
        .header(header::AUTHORIZATION, format!("Bearer {}", tablet.token))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{\"events\": []}"))
        .unwrap();
    let (status, body) = app.send(request).await;
    error_body(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType,
    );

    for query in ["limit=0", "limit=501", "after=-1", "colour=red"] {
        let (status, body) = app.get(&format!("/api/pull?{query}"), token).await;
        let error = error_body(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidRequest,
        );
        assert_eq!(error.problems.len(), 1, "{query}: {error:?}");
    }
    assert_eq!(app.stored(&tablet).await, 0);
}

async fn limits_on_size_and_count(app: TestApp) {
    let mut tablet = app.enrol().await;
    let events = tablet.record(501);
    let (status, body) = app.try_push(Some(&tablet.token), &events).await;
    let error = error_body(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidRequest,
    );
    assert_eq!(error.problems[0].field, "events");
    assert!(
        error.problems[0].message.contains("at most 500"),
        "{error:?}"
    );

    let huge = format!(
        "{{\"events\": [], \"padding\": \"{}\"}}",
        "x".repeat(server::MAX_BODY_BYTES)
    );
    let (status, body) = app
        .send_json(Method::POST, "/api/push", Some(&tablet.token), huge)
        .await;
    error_body(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
    );
    assert_eq!(app.stored(&tablet).await, 0);

    // 500 is allowed.
    assert_eq!(app.push(&tablet, &events[..500]).await.acked_seq, 500);
}

async fn an_internal_failure_says_nothing(app: TestApp) {
    let mut tablet = app.enrol().await;
    let events = tablet.record(1);
    app.store.close().await;
    let (status, body) = app.try_push(Some(&tablet.token), &events).await;
    let error = error_body(
        status,
        &body,
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal,
    );
    assert_eq!(error.message, "the server failed; try again later");
    assert!(error.problems.is_empty());
}

async fn stored_events_cannot_be_changed_or_deleted(app: TestApp) {
    let mut tablet = app.enrol().await;
    let events = tablet.record(1);
    app.push(&tablet, &events).await;
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(app.database.as_url())
        .await
        .unwrap();
    for sql in ["UPDATE events SET payload = '{}'", "DELETE FROM events"] {
        let error = sqlx::query(sql).execute(&mut connection).await.unwrap_err();
        assert!(error.to_string().contains("append-only"), "{sql}: {error}");
    }
    connection.close().await.unwrap();
    assert_eq!(app.stored(&tablet).await, 1);
}
