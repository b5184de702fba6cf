//! HTTP tests of the whole server, in-process through `router` with no socket: the
//! app shell, enrolment, leases, push (with the verification of randomisations and
//! data queries), pull, the error answers, and the admin command beside a running
//! server. Also the golden vector of a sealed seed, opened here as a tablet opens
//! it, with an implementation independent of the server's.
//!
//! Every test runs twice: on SQLite (a fresh file each) and on PostgreSQL (a fresh
//! database each) when `HP_ECMO_TEST_POSTGRES_URL` names a server that may create
//! databases, as `cargo xtask test` arranges. Without it the PostgreSQL runs are
//! reported as ignored, never as passed; under `CI=true` they fail (`build.rs`).

use std::collections::{BTreeMap, BTreeSet};

use aes_gcm::aead::Nonce;
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use hkdf::Hkdf;
use http_body_util::BodyExt;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::pkcs8::DecodePrivateKey;
use p256::{PublicKey, SecretKey};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use server::store::{DatabaseUrl, NewUser, Store};
use server::{AppState, Clock, admin};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use testkit::ward::{CONSENTED_MS, ECMO_STARTED_MS, NOW_MS, SCREENED_MS};
use testkit::{
    BEIJING, PIN, beijing, eligible_screening, pin_hash, screening_recorded, with_database,
};
use tower::ServiceExt;
use trial::crf::FormRef;
use trial::crf::cytokine::TimePoint;
use trial::crf::end::{NotEnrolled, NotEnrolledReason};
use trial::event::{ChainHead, Event, EventDraft, EventKind};
use trial::field::Field;
use trial::payload::{FormSaved, Payload, Randomised, SCHEMA_VERSION, StudyNumber, ValueCorrected};
use trial::pin::Pin;
use trial::projection::Subject;
use trial::randomisation::{Arm, Lease, LeaseId, RandomisationConfig, Seed, Stratum};
use trial::screening::{Answer, EcmoMode};
use trial::time::{MS_PER_HOUR, Moment};
use trial::wire::{
    ApiErrorBody, EnrolRequest, EnrolResponse, ErrorCode, LEASE_BLOCKS, LEASE_LOW_WATER,
    LeaseRequest, LeaseResponse, LockoutsRequest, LockoutsResponse, PinChangeRequest,
    PinChangeResponse, PinLockout, PullResponse, PushRequest, PushResponse, RejectionCode, Role,
    SEAL_INFO, SealedLease, SealedSeed, Site, StatusReport, StatusResponse, UsersResponse,
};
use uuid::Uuid;

/// A patient's day on the ward goes on from `testkit::ward`: the randomisation
/// 3 h before `NOW_MS`, after consent.
const RANDOMISED_MS: i64 = NOW_MS - 3 * MS_PER_HOUR;
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
    /// What `--database` names for the command line: the SQLite file, or the URL.
    database_arg: String,
    dist: tempfile::TempDir,
    /// The server's clock, which `set_clock` moves.
    now_ms: i64,
    _sqlite: Option<tempfile::TempDir>,
}

/// An enrolled tablet: its identity, token, key pair, the head of its own chain
/// and the leases it holds, opened, as the app holds them.
#[derive(Clone, Debug)]
struct TestTablet {
    id: Uuid,
    /// The site it was enrolled at.
    site: String,
    token: String,
    label: String,
    user_id: Uuid,
    head: ChainHead,
    key: SecretKey,
    leases: Vec<Lease>,
    /// How many participants it randomised, for their study numbers.
    randomised: u32,
}

/// Starts a server on `engine`.
async fn spawn_app(engine: Engine) -> TestApp {
    logs::install();
    let (database, database_arg, sqlite) = match engine {
        Engine::Sqlite => {
            let folder = tempfile::tempdir().unwrap();
            let file = folder.path().join("server.sqlite");
            let url = DatabaseUrl::sqlite_file(&file);
            (url, file.to_str().unwrap().to_owned(), Some(folder))
        }
        Engine::Postgres => {
            let url = fresh_postgres_database().await;
            let arg = url.as_url().to_owned();
            (url, arg, None)
        }
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
        pin: pin_hash().clone(),
    };
    // Created two days before the server's clock: every test event is recorded
    // while the user is active.
    store
        .add_user(&site.code, &user, NOW_MS - 48 * MS_PER_HOUR)
        .await
        .unwrap();
    let startup = admin::start(&store, &site, &Clock::fixed(NOW_MS))
        .await
        .unwrap();
    assert!(startup.first_user_pin.is_none());

    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("index.html"), "<html>app shell</html>").unwrap();
    std::fs::write(dist.path().join("app-1a2b.wasm"), b"\0asm").unwrap();
    // The build's brotli copy, stood in for by a marker: served as it is.
    std::fs::write(dist.path().join("app-1a2b.wasm.br"), b"brotli of wasm").unwrap();
    std::fs::create_dir(dist.path().join("console")).unwrap();
    std::fs::write(
        dist.path().join("console/index.html"),
        "<html>console shell</html>",
    )
    .unwrap();
    let state = AppState::new(store.clone(), Clock::fixed(NOW_MS));
    TestApp {
        router: server::router(state, dist.path()),
        store,
        database,
        site,
        enrolment_code: startup.enrolment_code.to_string(),
        database_arg,
        dist,
        now_ms: NOW_MS,
        _sqlite: sqlite,
    }
}

/// A new, empty database on the PostgreSQL server the environment names.
async fn fresh_postgres_database() -> DatabaseUrl {
    // The PostgreSQL variants run only with a server to run on, or under CI,
    // which must have one (`build.rs`): failing here is the point.
    let server_url = std::env::var("HP_ECMO_TEST_POSTGRES_URL")
        .expect("CI runs the PostgreSQL variants: set HP_ECMO_TEST_POSTGRES_URL");
    let name = format!("hp_ecmo_test_{}", Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&server_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    DatabaseUrl::parse(&with_database(&server_url, &name)).unwrap()
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

    /// Enrols with a key pair made for the occasion.
    async fn try_enrol(&self, code: &str, device_id: Uuid) -> (StatusCode, Vec<u8>) {
        self.try_enrol_with_key(code, device_id, &public_hex(&new_tablet_key()))
            .await
    }

    async fn try_enrol_with_key(
        &self,
        code: &str,
        device_id: Uuid,
        public_key: &str,
    ) -> (StatusCode, Vec<u8>) {
        let request = EnrolRequest {
            code: code.to_owned(),
            device_id,
            app_version: "0.1.0".to_owned(),
            public_key: public_key.to_owned(),
        };
        self.send_json(Method::POST, "/api/enrol", None, to_json(&request))
            .await
    }

    /// Enrols a new tablet with a new code; it holds its first lease, opened.
    async fn enrol(&self) -> TestTablet {
        self.enrol_at(&self.site.code).await
    }

    /// Enrols a new tablet at the site `site_code`.
    async fn enrol_at(&self, site_code: &str) -> TestTablet {
        let device_id = Uuid::now_v7();
        let key = new_tablet_key();
        let code = admin::issue_enrolment_code(&self.store, site_code, &Clock::fixed(self.now_ms))
            .await
            .unwrap()
            .to_string();
        let (status, body) = self
            .try_enrol_with_key(&code, device_id, &public_hex(&key))
            .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let response: EnrolResponse = from_json(&body);
        let mut tablet = TestTablet {
            id: device_id,
            site: site_code.to_owned(),
            token: response.device_token,
            label: response.device_label,
            user_id: response.users[0].id,
            head: ChainHead::genesis(device_id),
            key,
            leases: Vec::new(),
            randomised: 0,
        };
        tablet.hold(&response.lease);
        tablet
    }

    async fn try_leases(&self, token: Option<&str>) -> (StatusCode, Vec<u8>) {
        self.send_json(
            Method::POST,
            "/api/leases",
            token,
            to_json(&LeaseRequest {}),
        )
        .await
    }

    /// Asks for `tablet`'s leases, expecting 200, and holds the new ones.
    async fn leases(&self, tablet: &mut TestTablet) -> LeaseResponse {
        let (status, body) = self.try_leases(Some(&tablet.token)).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let response: LeaseResponse = from_json(&body);
        for lease in &response.leases {
            tablet.hold(lease);
        }
        response
    }

    /// The ids of the events `reader` can pull.
    async fn pulled_ids(&self, reader: &TestTablet) -> BTreeSet<Uuid> {
        pull_all(self, reader, 0, 500)
            .await
            .iter()
            .map(|pulled| pulled.event.id())
            .collect()
    }

    /// The codes of every allocation flag of the site, by event.
    async fn flags(&self) -> Vec<(Uuid, String)> {
        self.flags_at(&self.site.code).await
    }

    /// The codes of every allocation flag raised on the tablets of `site_code`.
    async fn flags_at(&self, site_code: &str) -> Vec<(Uuid, String)> {
        let flags = self.store.allocation_flag_reports(site_code).await.unwrap();
        flags
            .into_iter()
            .map(|flag| (flag.event_id, flag.code))
            .collect()
    }

    /// A second site, Shanghai, with a user of its own.
    async fn add_site(&self, code: &str) {
        let site = admin::site(code, "Shanghai Chest Hospital", "Asia/Shanghai").unwrap();
        self.store.upsert_site(&site, NOW_MS).await.unwrap();
        let user = NewUser {
            id: Uuid::now_v7(),
            name: "Wang Fang".to_owned(),
            role: Role::ResearchNurse,
            pin: pin_hash().clone(),
        };
        self.store
            .add_user(code, &user, NOW_MS - 48 * MS_PER_HOUR)
            .await
            .unwrap();
    }

    /// How many rows each table that a push can write holds: what a refusal must
    /// leave as it was.
    async fn row_counts(&self) -> BTreeMap<&'static str, i64> {
        let mut counts = BTreeMap::new();
        for table in PUSHED_TABLES {
            counts.insert(table, self.count_rows(table).await);
        }
        counts
    }

    /// How many rows a table holds, read past the server.
    async fn count_rows(&self, table: &str) -> i64 {
        sqlx::any::install_default_drivers();
        let mut connection = sqlx::AnyConnection::connect(self.database.as_url())
            .await
            .unwrap();
        let (count,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
        count
    }

    /// How many rows every table of the database holds, by name (the migrations'
    /// own bookkeeping included): what a refused request must leave as it was.
    async fn all_row_counts(&self) -> BTreeMap<String, i64> {
        sqlx::any::install_default_drivers();
        let mut connection = sqlx::AnyConnection::connect(self.database.as_url())
            .await
            .unwrap();
        let list = match self.database.engine() {
            server::store::Engine::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            }
            server::store::Engine::Postgres => {
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()"
            }
        };
        let tables: Vec<(String,)> = sqlx::query_as(list)
            .fetch_all(&mut connection)
            .await
            .unwrap();
        assert!(tables.len() > 10, "{tables:?}");
        let mut counts = BTreeMap::new();
        for (table,) in tables {
            let (count,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&mut connection)
                .await
                .unwrap();
            counts.insert(table, count);
        }
        connection.close().await.unwrap();
        counts
    }

    async fn try_push(&self, token: Option<&str>, events: &[Event]) -> (StatusCode, Vec<u8>) {
        let request = PushRequest {
            events: events.to_vec(),
        };
        self.send_json(Method::POST, "/api/push", token, to_json(&request))
            .await
    }

    /// Moves the server's clock to `utc_ms`: the same store and app, a new router.
    fn set_clock(&mut self, utc_ms: i64) {
        self.now_ms = utc_ms;
        let state = AppState::new(self.store.clone(), Clock::fixed(utc_ms));
        self.router = server::router(state, self.dist.path());
    }

    /// Pushes as `tablet`, expecting 200.
    async fn push(&self, tablet: &TestTablet, events: &[Event]) -> PushResponse {
        let (status, body) = self.try_push(Some(&tablet.token), events).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        from_json(&body)
    }

    /// Pulls as `tablet` after `cursor`, expecting 200.
    async fn pull(&self, tablet: &TestTablet, cursor: u64, limit: Option<u32>) -> PullResponse {
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

    async fn stored(&self, tablet: &TestTablet) -> u64 {
        self.store.count_events(tablet.id).await.unwrap()
    }
}

impl TestTablet {
    /// Opens a lease the server sealed to this tablet and holds it, unless it
    /// holds it already (by id), as the app does.
    fn hold(&mut self, sealed: &SealedLease) {
        assert_eq!((sealed.device_id, &sealed.site), (self.id, &self.site));
        if self
            .leases
            .iter()
            .any(|lease| lease.id() == sealed.lease_id)
        {
            return;
        }
        let seed = open_seed(&self.key, sealed.lease_id, &sealed.seed)
            .expect("the seed opens with the tablet's key");
        let lease = Lease::resume(
            sealed.lease_id,
            Stratum::new(sealed.site.as_str(), sealed.device_id).unwrap(),
            seed,
            RandomisationConfig::new(sealed.block_sizes.clone()).unwrap(),
            sealed.n_slots,
            0,
        )
        .expect("the lease ends on a block boundary of its seed's list");
        self.leases.push(lease);
    }

    /// Records an event about `participant` at `utc_ms`.
    fn event(&mut self, participant: Uuid, payload: &Payload, utc_ms: i64) -> Event {
        let user = self.user_id;
        self.event_as(
            user,
            participant,
            payload.kind(),
            &payload.to_json(),
            utc_ms,
        )
    }

    /// Records an event of any kind, with any payload text, signed by `user`.
    fn event_as(
        &mut self,
        user: Uuid,
        participant: Uuid,
        kind: EventKind,
        payload: &str,
        utc_ms: i64,
    ) -> Event {
        self.head
            .append(EventDraft {
                id: Uuid::now_v7(),
                participant_id: participant,
                user_id: user,
                recorded_at: beijing(utc_ms),
                kind,
                payload: payload.to_owned(),
                app_version: "0.1.0".to_owned(),
                schema_version: SCHEMA_VERSION,
            })
            .unwrap()
    }

    /// Screens an eligible patient and records consent.
    fn screen(&mut self, participant: Uuid) -> Vec<Event> {
        vec![
            self.event(participant, &screening(EcmoMode::Va), SCREENED_MS),
            self.event(participant, &consent(), CONSENTED_MS),
        ]
    }

    /// Randomises from the next slot of its oldest lease with one left, as the
    /// app does.
    fn randomise(&mut self, participant: Uuid) -> Event {
        let allocation = self
            .leases
            .iter_mut()
            .find(|lease| lease.slots_left() > 0)
            .expect("the tablet holds a slot")
            .allocate()
            .unwrap();
        self.randomised_as(
            participant,
            allocation.lease(),
            allocation.slot(),
            allocation.arm(),
        )
    }

    /// A randomisation with whatever lease, slot and arm it is told.
    fn randomised_as(
        &mut self,
        participant: Uuid,
        lease_id: LeaseId,
        slot: u32,
        arm: Arm,
    ) -> Event {
        self.randomised += 1;
        let body = Randomised {
            lease_id,
            slot,
            arm,
            study_number: StudyNumber::new(&self.site, &self.label, self.randomised).unwrap(),
            randomised_at: beijing(RANDOMISED_MS),
        };
        self.event(participant, &Payload::Randomised(body), RANDOMISED_MS)
    }

    /// The arm its first lease has at `slot`.
    fn arm_at(&self, slot: u32) -> Arm {
        let lease = &self.leases[0];
        trial::randomisation::arm_at(lease.seed(), lease.config(), slot)
    }

    /// Records `n` events with a valid payload, at the server's time.
    fn record(&mut self, n: usize) -> Vec<Event> {
        (0..n)
            .map(|_| self.record_one(VALID_PAYLOAD, NOW_MS))
            .collect()
    }

    fn record_one(&mut self, payload: &str, utc_ms: i64) -> Event {
        let user = self.user_id;
        let participant = Uuid::from_u128(42);
        self.event_as(
            user,
            participant,
            EventKind::EndOfParticipation,
            payload,
            utc_ms,
        )
    }
}

/// Every table a push writes to.
const PUSHED_TABLES: [&str; 6] = [
    "events",
    "allocations",
    "allocation_flags",
    "data_queries",
    "participants",
    "leases",
];

/// A tablet's key pair, as WebCrypto would make it.
fn new_tablet_key() -> SecretKey {
    loop {
        let mut bytes = [0; 32];
        getrandom::fill(&mut bytes).unwrap();
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// The public half as the tablet sends it: WebCrypto's raw export, in hex.
fn public_hex(key: &SecretKey) -> String {
    hex::encode(key.public_key().to_uncompressed_point())
}

/// Opens a sealed seed as the tablet does with WebCrypto, written from the
/// contract in `trial::wire::SealedSeed` rather than from the server's code.
fn open_seed(key: &SecretKey, lease_id: LeaseId, sealed: &SealedSeed) -> Option<Seed> {
    let ephemeral = hex::decode(&sealed.ephemeral_public_key).ok()?;
    let shared = key.diffie_hellman(&PublicKey::from_sec1_bytes(&ephemeral).ok()?);
    let salt = lease_id.as_uuid().into_bytes();
    let mut aes_key = [0; 32];
    Hkdf::<Sha256>::new(Some(&salt), shared.raw_secret_bytes())
        .expand(SEAL_INFO, &mut aes_key)
        .ok()?;
    let nonce: [u8; 12] = hex::decode(&sealed.nonce).ok()?.try_into().ok()?;
    let ciphertext = hex::decode(&sealed.ciphertext).ok()?;
    let (text, tag) = ciphertext.split_at_checked(32)?;
    let mut seed: [u8; 32] = text.try_into().ok()?;
    Aes256Gcm::new(&aes_key.into())
        .decrypt_inout_detached(
            &Nonce::<Aes256Gcm>::from(nonce),
            &salt,
            (&mut seed[..]).into(),
            tag.try_into().ok()?,
        )
        .ok()?;
    Some(Seed::from_bytes(seed))
}

/// A lockout `user_id`'s `failures` wrong PINs in a row imposed, an hour ago.
fn lockout_of(user_id: Uuid, failures: u32) -> PinLockout {
    PinLockout {
        id: Uuid::now_v7(),
        user_id,
        at_ms: NOW_MS - MS_PER_HOUR,
        failures,
        wait_ms: trial::pin::Lockout::after(failures).unwrap().wait_ms,
    }
}

/// The initials and the bed every test screening holds: identifiers for the site
/// alone, never in an export or a log line.
const SITE_ONLY: [&str; 2] = ["QXZW", "bed Q-7741"];

/// An eligible patient in `ecmo_mode`: VA-ECMO for cardiogenic shock is eligible,
/// VV-ECMO is not.
fn screening(ecmo_mode: EcmoMode) -> Payload {
    let mut form = eligible_screening(beijing(SCREENED_MS), beijing(ECMO_STARTED_MS));
    form.ecmo_mode = Some(ecmo_mode);
    // Who the patient is, for the site alone: [`SITE_ONLY`] names them, so a
    // test can prove they never leave it.
    form.patient_initials = Some(SITE_ONLY[0].to_owned());
    form.bed = Some(SITE_ONLY[1].to_owned());
    screening_recorded("T1-0001", form)
}

fn consent() -> Payload {
    testkit::consent(beijing(CONSENTED_MS))
}

/// The sample drawn at randomisation (T0).
const SAMPLE_T0: FormRef = FormRef::CytokineSample {
    time_point: TimePoint::H0,
};

/// The T0 sample with this IL-6 value.
fn il6_saved(il6: f64) -> Payload {
    let sampled_at = json!({ "value": { "utc_ms": RANDOMISED_MS, "offset_minutes": BEIJING } });
    let form = SAMPLE_T0
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

fn il6_corrected(old: f64, new: f64) -> Payload {
    Payload::ValueCorrected(ValueCorrected {
        form: SAMPLE_T0,
        field: Field::Il6PgPerMl,
        old: json!({ "value": old }),
        new: json!({ "value": new }),
        reason: "lab report re-read".to_owned(),
        confirms: None,
    })
}

fn other_arm(arm: Arm) -> Arm {
    match arm {
        Arm::Hemoperfusion => Arm::StandardCare,
        Arm::StandardCare => Arm::Hemoperfusion,
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
                    super::$name(super::spawn_app(super::Engine::Sqlite).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                #[cfg_attr(not(postgres_tests), ignore = "HP_ECMO_TEST_POSTGRES_URL is not set")]
                async fn $name() {
                    super::$name(super::spawn_app(super::Engine::Postgres).await).await;
                }
            )*
        }
    };
}

mod audit;
mod auth;
mod backups;
mod casebooks;
mod console;
mod crafted;
mod export;
mod fuzz;
mod lockouts;
mod logs;
mod openapi;
mod pin_change;
mod queries;
mod race;
mod rate_limit;
mod status;

on_both_engines!(
    serves_the_app_shell_and_deep_links,
    health_and_unknown_api_paths_answer_in_json,
    start_up_creates_a_first_user_only_when_there_is_none,
    an_enrolment_code_enrols_one_tablet,
    bad_enrolment_codes_are_refused,
    a_device_id_enrols_once,
    a_missing_wrong_or_revoked_token_is_401_and_writes_nothing,
    users_and_pins_reach_enrolled_tablets,
    the_same_push_three_times_stores_once,
    a_batch_cut_off_mid_way_is_finished_by_the_retry,
    a_tampered_chain_is_refused_from_the_broken_link,
    a_different_event_under_a_stored_seq_is_refused,
    an_invalid_payload_is_stored_rejected_and_the_chain_continues,
    a_time_after_its_recording_is_an_invalid_payload,
    events_from_the_future_are_refused,
    another_devices_event_is_refused,
    a_reused_event_id_is_refused,
    two_devices_push_at_once,
    pull_pages_through_the_other_devices_events,
    bad_json_answers_in_the_error_shape,
    limits_on_size_and_count,
    an_internal_failure_says_nothing,
    stored_events_cannot_be_changed_or_deleted,
    enrolment_gives_a_lease_that_opens_with_the_tablet_key,
    a_public_key_that_is_not_a_p256_point_is_refused,
    leases_are_topped_up_once_then_not_again,
    leases_need_a_valid_token_and_change_nothing_without_one,
    a_correct_randomisation_is_accepted_and_served,
    a_forged_arm_is_flagged,
    a_skipped_slot_is_flagged,
    a_reused_slot_is_flagged,
    another_devices_lease_is_flagged,
    a_training_lease_is_flagged,
    a_participant_randomised_twice_is_flagged,
    a_randomisation_without_an_eligible_screening_is_flagged,
    a_randomisation_after_not_enrolled_is_flagged,
    a_flagging_push_three_times_stores_and_flags_once,
    a_randomising_batch_cut_off_stores_nothing,
    two_devices_randomise_at_once,
    a_conflict_opens_one_query_and_a_correction_closes_it,
    what_queries_are_kept_from_is_rebuilt_at_start,
    an_edit_arriving_out_of_order_folds_its_form_again,
    the_admin_command_prints_an_enrolment_code_beside_the_running_server,
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
    assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
    // A browser that takes brotli gets the build's own copy, uncompressed again.
    let response = app
        .router
        .clone()
        .oneshot(
            Request::get("/app-1a2b.wasm")
                .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/wasm");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"brotli of wasm");
    let (status, body) = app.get("/participants/42", None).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, &b"<html>app shell</html>"[..])
    );
    // The console has its own shell, for each of its deep links.
    for path in ["/console", "/console/", "/console/setup"] {
        let (status, body) = app.get(path, None).await;
        assert_eq!(
            (status, body.as_slice()),
            (StatusCode::OK, &b"<html>console shell</html>"[..]),
            "{path}"
        );
    }
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
        ("Investigator", Role::Investigator)
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
    assert!(response.users[0].pin.verify(&Pin::parse(PIN).unwrap()));
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

async fn users_and_pins_reach_enrolled_tablets(app: TestApp) {
    let tablet = app.enrol().await;
    let clock = Clock::fixed(NOW_MS);
    let pin = Pin::parse("8642").unwrap();
    admin::add_user(
        &app.store,
        &app.site.code,
        "Zhang Wei",
        Role::ResearchNurse,
        &pin,
        &clock,
    )
    .await
    .unwrap();
    let new_pin = Pin::parse("97531").unwrap();
    admin::set_pin(&app.store, &app.site.code, "Li Na", &new_pin)
        .await
        .unwrap();
    // A coordinator signs in on the console, never on a tablet: their PIN hash
    // stays on the server, whether a tablet syncs or enrols.
    admin::add_user(
        &app.store,
        &app.site.code,
        "Wang Fang",
        Role::Coordinator,
        &Pin::parse("135790").unwrap(),
        &clock,
    )
    .await
    .unwrap();
    let (status, body) = app.try_enrol(&app.new_code().await, Uuid::now_v7()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let enrolled: EnrolResponse = from_json(&body);
    let names: Vec<_> = enrolled
        .users
        .iter()
        .map(|user| user.name.as_str())
        .collect();
    assert_eq!(names, ["Li Na", "Zhang Wei"]);

    let (status, body) = app.get("/api/users", Some(&tablet.token)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let answer: UsersResponse = from_json(&body);
    let user = |name: &str| {
        answer
            .users
            .iter()
            .find(|user| user.name == name)
            .unwrap_or_else(|| panic!("{name} in {answer:?}"))
    };
    assert_eq!(answer.users.len(), 2, "no coordinator: {answer:?}");
    assert_eq!(user("Zhang Wei").role, Role::ResearchNurse);
    assert!(user("Zhang Wei").pin.verify(&pin));
    assert!(user("Li Na").pin.verify(&new_pin));
    assert!(!user("Li Na").pin.verify(&Pin::parse(PIN).unwrap()));
    // The site comes with its time zone's rules, which the tablet reads dates in.
    let site = answer
        .site
        .as_ref()
        .expect("the site is sent at every sync");
    assert_eq!(site.time_zone, "Asia/Shanghai");
    let calendar = site.calendar().unwrap();
    assert_eq!(calendar.zone_name(), Some("Asia/Shanghai"));

    for token in [None, Some("0".repeat(64).as_str())] {
        let (status, body) = app.get("/api/users", token).await;
        error_body(
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
        );
    }
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
    let mut other = TestTablet {
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

async fn a_time_after_its_recording_is_an_invalid_payload(app: TestApp) {
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    // Recorded at the screening, but saying consent was given an hour later.
    let early = tablet.event(participant, &consent(), CONSENTED_MS - MS_PER_HOUR);
    let response = app.push(&tablet, &[early]).await;
    assert_eq!(response.acked_seq, 1);
    assert_eq!(response.rejected.len(), 1, "{response:?}");
    let rejection = &response.rejected[0];
    assert_eq!(rejection.code, RejectionCode::InvalidPayload);
    assert!(
        rejection.message.contains("consent date-time"),
        "{rejection:?}"
    );
    // Recorded when it happened, the same consent is accepted.
    let on_time = tablet.event(participant, &consent(), CONSENTED_MS);
    let response = app.push(&tablet, &[on_time]).await;
    assert_eq!((response.acked_seq, response.rejected.len()), (2, 0));
}

async fn events_from_the_future_are_refused(mut app: TestApp) {
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

    // Once the server's clock has caught up, the same events are taken: a tablet
    // whose clock ran a little ahead is delayed, never stuck.
    app.set_clock(NOW_MS + 1);
    let response = app.push(&tablet, &events).await;
    assert_eq!((response.acked_seq, response.rejected.len()), (3, 0));
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
    tablet: &TestTablet,
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

    let too_many = format!("limit={}", trial::wire::MAX_PULL_EVENTS + 1);
    for query in ["limit=0", &too_many, "after=-1", "colour=red"] {
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

#[test]
fn the_golden_sealed_seed_opens_with_the_tablets_pkcs8_key() {
    let golden = golden();
    let field = |name: &str| golden[name].as_str().unwrap().to_owned();
    // The key as WebCrypto imports it: PKCS#8 DER.
    let key =
        SecretKey::from_pkcs8_der(&hex::decode(field("tablet_private_key_pkcs8_hex")).unwrap())
            .unwrap();
    assert_eq!(public_hex(&key), field("tablet_public_key_hex"));
    let lease_id: LeaseId = serde_json::from_value(golden["lease_id"].clone()).unwrap();
    let sealed: SealedSeed = serde_json::from_value(golden["sealed_seed"].clone()).unwrap();
    let seed = open_seed(&key, lease_id, &sealed).expect("the golden seed opens");
    assert_eq!(hex::encode(seed.as_bytes()), field("seed_hex"));
    // The intermediate values, for whoever debugs another implementation.
    let ephemeral =
        PublicKey::from_sec1_bytes(&hex::decode(&sealed.ephemeral_public_key).unwrap()).unwrap();
    let shared = key.diffie_hellman(&ephemeral);
    assert_eq!(hex::encode(shared.raw_secret_bytes()), field("ecdh_x_hex"));
    let mut aes_key = [0; 32];
    Hkdf::<Sha256>::new(
        Some(lease_id.as_uuid().as_bytes()),
        shared.raw_secret_bytes(),
    )
    .expand(SEAL_INFO, &mut aes_key)
    .unwrap();
    assert_eq!(hex::encode(aes_key), field("aes_key_hex"));
}

#[test]
fn a_sealed_seed_opens_only_for_its_lease_and_its_tablet() {
    let golden = golden();
    let key_hex = golden["tablet_private_key_pkcs8_hex"].as_str().unwrap();
    let key = SecretKey::from_pkcs8_der(&hex::decode(key_hex).unwrap()).unwrap();
    let lease_id: LeaseId = serde_json::from_value(golden["lease_id"].clone()).unwrap();
    let sealed: SealedSeed = serde_json::from_value(golden["sealed_seed"].clone()).unwrap();
    assert!(open_seed(&key, lease_id, &sealed).is_some());
    // Moved to another lease: the lease id is the HKDF salt and the GCM data.
    assert!(open_seed(&key, LeaseId::new(Uuid::now_v7()), &sealed).is_none());
    assert!(open_seed(&new_tablet_key(), lease_id, &sealed).is_none());
    let mut tampered = sealed.clone();
    let flipped = if tampered.ciphertext.starts_with('0') {
        "1"
    } else {
        "0"
    };
    tampered.ciphertext.replace_range(..1, flipped);
    assert!(open_seed(&key, lease_id, &tampered).is_none());
}

fn golden() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sealed_seed.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn enrolment_gives_a_lease_that_opens_with_the_tablet_key(app: TestApp) {
    let device_id = Uuid::now_v7();
    let key = new_tablet_key();
    let (status, body) = app
        .try_enrol_with_key(&app.enrolment_code, device_id, &public_hex(&key))
        .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let response: EnrolResponse = from_json(&body);
    let lease = &response.lease;
    assert_eq!(
        (
            lease.site.as_str(),
            lease.device_id,
            lease.block_sizes.as_slice()
        ),
        ("BJ", device_id, &[2, 4, 6][..])
    );
    assert!(
        (2 * LEASE_BLOCKS..=6 * LEASE_BLOCKS).contains(&lease.n_slots),
        "{lease:?}"
    );
    assert_eq!(lease.lease_id.as_uuid().get_version_num(), 7);
    let seed = open_seed(&key, lease.lease_id, &lease.seed).expect("it opens with the key");
    // Only with that key.
    assert!(open_seed(&new_tablet_key(), lease.lease_id, &lease.seed).is_none());
    // The list the server keeps is the list the seed gives: its first slot
    // verifies, the other arm does not.
    let mut tablet = TestTablet {
        id: device_id,
        site: "BJ".to_owned(),
        token: response.device_token,
        label: response.device_label,
        user_id: response.users[0].id,
        head: ChainHead::genesis(device_id),
        key,
        leases: Vec::new(),
        randomised: 0,
    };
    tablet.hold(lease);
    assert_eq!(tablet.leases[0].seed(), &seed);
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    events.push(tablet.randomise(participant));
    let response = app.push(&tablet, &events).await;
    assert_eq!((response.acked_seq, response.rejected), (3, vec![]));
}

async fn a_public_key_that_is_not_a_p256_point_is_refused(app: TestApp) {
    let good = public_hex(&new_tablet_key());
    let compressed = format!("02{}", &good[2..66]);
    let off_curve = format!("04{}", "1".repeat(128));
    for key in ["", "not hex", compressed.as_str(), off_curve.as_str()] {
        let (status, body) = app
            .try_enrol_with_key(&app.enrolment_code, Uuid::now_v7(), key)
            .await;
        let error = error_body(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidRequest,
        );
        assert_eq!(error.problems[0].field, "public_key", "{key:?}: {error:?}");
    }
    // None of them spent the code or issued a lease.
    assert_eq!(app.count_rows("leases").await, 0);
    let (status, _) = app
        .try_enrol_with_key(&app.enrolment_code, Uuid::now_v7(), &good)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.count_rows("leases").await, 1);
}

async fn leases_are_topped_up_once_then_not_again(app: TestApp) {
    let mut tablet = app.enrol().await;
    let first = tablet.leases[0].clone();
    // Plenty left: the same lease, sealed afresh.
    let answer = app.leases(&mut tablet).await;
    assert_eq!(answer.server_time_ms, NOW_MS);
    assert_eq!(answer.leases.len(), 1);
    assert_eq!(answer.leases[0].lease_id, first.id());
    let again = app.leases(&mut tablet).await;
    assert_ne!(answer.leases[0].seed, again.leases[0].seed);
    assert_eq!(
        open_seed(&tablet.key, first.id(), &again.leases[0].seed).as_ref(),
        Some(first.seed())
    );

    // Use all but LEASE_LOW_WATER - 1 slots: the server counts them from the push.
    let mut events = Vec::new();
    for _ in 0..first.n_slots() - (LEASE_LOW_WATER - 1) {
        let participant = Uuid::now_v7();
        events.extend(tablet.screen(participant));
        events.push(tablet.randomise(participant));
    }
    let pushed = app.push(&tablet, &events).await;
    assert_eq!(pushed.rejected, []);
    // Two requests at once (two tabs, a retry) issue one lease between them.
    let token = Some(tablet.token.as_str());
    let (one, other) = tokio::join!(app.try_leases(token), app.try_leases(token));
    let ids = |(status, body): (StatusCode, Vec<u8>)| {
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let answer: LeaseResponse = from_json(&body);
        answer
            .leases
            .iter()
            .map(|lease| lease.lease_id)
            .collect::<Vec<_>>()
    };
    let ids = (ids(one), ids(other));
    assert_eq!(ids.0, ids.1);
    let ids = ids.0;
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], first.id(), "the older lease comes first");
    app.leases(&mut tablet).await;
    assert_eq!(tablet.leases.len(), 2);
    // Asking again issues nothing more.
    for _ in 0..2 {
        let answer = app.leases(&mut tablet).await;
        let again: Vec<_> = answer.leases.iter().map(|lease| lease.lease_id).collect();
        assert_eq!(again, ids);
    }
    assert_eq!(app.count_rows("leases").await, 2);

    // Once the first lease is used up, it is no longer listed.
    let mut events = Vec::new();
    for _ in 0..LEASE_LOW_WATER - 1 {
        let participant = Uuid::now_v7();
        events.extend(tablet.screen(participant));
        events.push(tablet.randomise(participant));
    }
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
    let answer = app.leases(&mut tablet).await;
    let left: Vec<_> = answer.leases.iter().map(|lease| lease.lease_id).collect();
    assert_eq!(left, [ids[1]]);
}

async fn leases_need_a_valid_token_and_change_nothing_without_one(app: TestApp) {
    let tablet = app.enrol().await;
    let wrong = "0".repeat(64);
    for token in [None, Some(wrong.as_str()), Some("")] {
        let (status, body) = app.try_leases(token).await;
        error_body(
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
        );
    }
    assert!(
        app.store
            .revoke_device(&app.site.code, &tablet.label, NOW_MS)
            .await
            .unwrap()
    );
    let (status, body) = app.try_leases(Some(&tablet.token)).await;
    error_body(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    );
    assert_eq!(app.count_rows("leases").await, 1);
    // A body other than `{}` is refused too.
    let other = app.enrol().await;
    let (status, body) = app
        .send_json(
            Method::POST,
            "/api/leases",
            Some(&other.token),
            r#"{"n": 3}"#,
        )
        .await;
    error_body(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidRequest,
    );
    assert_eq!(app.count_rows("leases").await, 2);
}

async fn a_correct_randomisation_is_accepted_and_served(app: TestApp) {
    let mut tablet = app.enrol().await;
    let reader = app.enrol().await;
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    events.push(tablet.randomise(participant));
    let response = app.push(&tablet, &events).await;
    assert_eq!((response.acked_seq, response.rejected), (3, vec![]));
    assert_eq!(app.flags().await, []);
    let pulled = app.pulled_ids(&reader).await;
    assert!(pulled.contains(&events[2].id()));
}

/// Pushes `events` as `tablet`; the last one must be stored, acknowledged, flagged
/// with exactly `codes`, and never served to another tablet.
async fn check_flagged(app: &TestApp, tablet: &TestTablet, events: &[Event], codes: &[&str]) {
    let flagged = events.last().unwrap();
    let stored_before = app.stored(tablet).await;
    let response = app.push(tablet, events).await;
    assert_eq!(response.acked_seq, flagged.device_seq(), "{response:?}");
    let rejection = response
        .rejected
        .iter()
        .find(|rejection| rejection.event_id == flagged.id())
        .unwrap_or_else(|| panic!("not flagged: {response:?}"));
    assert_eq!(rejection.code, RejectionCode::AllocationFlagged);
    assert!(
        rejection
            .message
            .contains("flagged for the trial coordinator"),
        "{rejection:?}"
    );
    assert_eq!(
        app.stored(tablet).await,
        stored_before + events.len() as u64
    );
    let flags: Vec<String> = app
        .flags_at(&tablet.site)
        .await
        .into_iter()
        .filter(|(event_id, _)| *event_id == flagged.id())
        .map(|(_, code)| code)
        .collect();
    // The store lists a randomisation's flags by code.
    let mut expected = codes.to_vec();
    expected.sort_unstable();
    assert_eq!(flags, expected);
    let reader = app.enrol().await;
    assert!(!app.pulled_ids(&reader).await.contains(&flagged.id()));
}

async fn a_forged_arm_is_flagged(app: TestApp) {
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    let lease = tablet.leases[0].id();
    let forged = other_arm(tablet.arm_at(0));
    let mut events = tablet.screen(participant);
    events.push(tablet.randomised_as(participant, lease, 0, forged));
    check_flagged(&app, &tablet, &events, &["arm_mismatch"]).await;
    let report = admin::queries_report(&app.store, &app.site.code)
        .await
        .unwrap();
    assert!(
        report.contains("Allocation flags at site BJ: 1"),
        "{report}"
    );
    let line = format!(
        "- participant {participant} (BJ-T1-001), randomised on T1 (event {}): arm_mismatch: \
         the arm reported for slot 0 of lease {lease} ({forged}) is not the arm of the \
         allocation list; raised 2025-06-15 15:06:40 UTC",
        events[2].id()
    );
    assert!(report.contains(&line), "{report}");
}

async fn a_skipped_slot_is_flagged(app: TestApp) {
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    let lease = tablet.leases[0].id();
    let arm = tablet.arm_at(1);
    let mut events = tablet.screen(participant);
    events.push(tablet.randomised_as(participant, lease, 1, arm));
    check_flagged(&app, &tablet, &events, &["slot_skipped"]).await;
}

async fn a_reused_slot_is_flagged(app: TestApp) {
    let mut tablet = app.enrol().await;
    let first = Uuid::now_v7();
    let mut events = tablet.screen(first);
    events.push(tablet.randomise(first));
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
    let second = Uuid::now_v7();
    let lease = tablet.leases[0].id();
    let arm = tablet.arm_at(0);
    let mut events = tablet.screen(second);
    events.push(tablet.randomised_as(second, lease, 0, arm));
    check_flagged(&app, &tablet, &events, &["slot_reused"]).await;
}

async fn another_devices_lease_is_flagged(app: TestApp) {
    let owner = app.enrol().await;
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    let lease = owner.leases[0].id();
    let arm = owner.arm_at(0);
    let mut events = tablet.screen(participant);
    events.push(tablet.randomised_as(participant, lease, 0, arm));
    check_flagged(&app, &tablet, &events, &["lease_of_another_device"]).await;
    // The owner's own use of that slot is not affected.
    let mut owner = owner;
    let participant = Uuid::now_v7();
    let mut events = owner.screen(participant);
    events.push(owner.randomise(participant));
    assert_eq!(app.push(&owner, &events).await.rejected, []);
}

async fn a_training_lease_is_flagged(app: TestApp) {
    let mut tablet = app.enrol().await;
    // A lease the tablet made itself before it was enrolled.
    let mut training = Lease::issue(
        LeaseId::new(Uuid::now_v7()),
        Stratum::new("TRAINING", tablet.id).unwrap(),
        Seed::from_bytes([3; 32]),
        RandomisationConfig::standard(),
        1,
    )
    .unwrap();
    let allocation = training.allocate().unwrap();
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    events.push(tablet.randomised_as(
        participant,
        allocation.lease(),
        allocation.slot(),
        allocation.arm(),
    ));
    check_flagged(&app, &tablet, &events, &["unknown_lease"]).await;
}

async fn a_participant_randomised_twice_is_flagged(app: TestApp) {
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    events.push(tablet.randomise(participant));
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
    // The next slot, correctly, but for the same participant.
    let twice = tablet.randomise(participant);
    check_flagged(&app, &tablet, &[twice], &["already_randomised"]).await;
    // Another tablet randomising them, with its own lease: twice, and not the
    // tablet that screened them.
    let mut other = app.enrol().await;
    let third = other.randomise(participant);
    check_flagged(&app, &other, &[third], &["already_randomised"]).await;
}

async fn a_randomisation_without_an_eligible_screening_is_flagged(app: TestApp) {
    let mut tablet = app.enrol().await;
    // A consistent screening (VA-ECMO supporting the heart) with an exclusion
    // present, infection: valid data, and not eligible.
    let participant = Uuid::now_v7();
    let Payload::ScreeningRecorded(mut infected) = screening(EcmoMode::Va) else {
        unreachable!("screening() makes a screening")
    };
    infected.form.infection = Answer::Yes;
    let events = vec![
        tablet.event(
            participant,
            &Payload::ScreeningRecorded(infected),
            SCREENED_MS,
        ),
        tablet.event(participant, &consent(), CONSENTED_MS),
    ];
    assert_eq!(app.push(&tablet, &events).await.rejected, [], "valid data");
    let randomised = tablet.randomise(participant);
    check_flagged(&app, &tablet, &[randomised], &["not_eligible"]).await;
    let flags = app
        .store
        .allocation_flag_reports(&app.site.code)
        .await
        .unwrap();
    assert!(
        flags[0].message.contains("E5 not met") || flags[0].message.contains("not met"),
        "{flags:?}"
    );
    // No screening at all.
    let unscreened = Uuid::now_v7();
    let events = vec![
        tablet.event(unscreened, &consent(), CONSENTED_MS),
        tablet.randomise(unscreened),
    ];
    check_flagged(&app, &tablet, &events, &["not_eligible"]).await;
}

async fn a_randomisation_after_not_enrolled_is_flagged(app: TestApp) {
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    let not_enrolled = Payload::NotEnrolled(NotEnrolled {
        reason: NotEnrolledReason::ConsentRefused,
        details: String::new(),
    });
    let events = vec![
        tablet.event(participant, &screening(EcmoMode::Va), SCREENED_MS),
        tablet.event(participant, &consent(), CONSENTED_MS),
        tablet.event(participant, &not_enrolled, CONSENTED_MS + 1),
        tablet.randomise(participant),
    ];
    check_flagged(&app, &tablet, &events, &["not_enrolled"]).await;
}

async fn a_flagging_push_three_times_stores_and_flags_once(app: TestApp) {
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    let lease = tablet.leases[0].id();
    let forged = other_arm(tablet.arm_at(0));
    let mut events = tablet.screen(participant);
    events.push(tablet.randomised_as(participant, lease, 0, forged));
    // The next participant gets slot 1, in order after the forged one.
    let next = Uuid::now_v7();
    events.extend(tablet.screen(next));
    let arm = tablet.arm_at(1);
    events.push(tablet.randomised_as(next, lease, 1, arm));
    let first = app.push(&tablet, &events).await;
    assert_eq!(first.acked_seq, 6);
    assert_eq!(first.rejected.len(), 1, "{first:?}");
    for _ in 0..2 {
        assert_eq!(app.push(&tablet, &events).await, first);
    }
    assert_eq!(app.stored(&tablet).await, 6);
    assert_eq!(app.count_rows("allocations").await, 2);
    assert_eq!(app.count_rows("allocation_flags").await, 1);
}

async fn a_randomising_batch_cut_off_stores_nothing(app: TestApp) {
    let mut tablet = app.enrol().await;
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    events.push(tablet.randomise(participant));
    let json = to_json(&PushRequest {
        events: events.clone(),
    });
    let cut = json.as_bytes()[..json.len() * 2 / 3].to_vec();
    let (status, body) = app
        .send_json(Method::POST, "/api/push", Some(&tablet.token), cut)
        .await;
    error_body(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        ErrorCode::MalformedJson,
    );
    assert_eq!(app.stored(&tablet).await, 0);
    assert_eq!(app.count_rows("allocations").await, 0);
    // Whole, it goes through.
    assert_eq!(app.push(&tablet, &events).await.rejected, []);
    assert_eq!(app.count_rows("allocations").await, 1);
}

async fn two_devices_randomise_at_once(app: TestApp) {
    let mut first = app.enrol().await;
    let mut second = app.enrol().await;
    let batch = |tablet: &mut TestTablet| {
        let mut events = Vec::new();
        for _ in 0..5 {
            let participant = Uuid::now_v7();
            events.extend(tablet.screen(participant));
            events.push(tablet.randomise(participant));
        }
        events
    };
    let (first_events, second_events) = (batch(&mut first), batch(&mut second));
    let (a, b) = tokio::join!(
        app.push(&first, &first_events),
        app.push(&second, &second_events),
    );
    assert_eq!((a.acked_seq, b.acked_seq), (15, 15));
    assert_eq!((a.rejected, b.rejected), (vec![], vec![]));
    assert_eq!(app.count_rows("allocations").await, 10);
    assert_eq!(app.flags().await, []);
}

/// A database from before the server kept event subjects and subject states:
/// both are rebuilt when the server starts, and the next blind edit opens its
/// query as it would have.
async fn what_queries_are_kept_from_is_rebuilt_at_start(mut app: TestApp) {
    let mut first = app.enrol().await;
    let mut second = app.enrol().await;
    let participant = Uuid::now_v7();
    let mut events = first.screen(participant);
    events.push(first.event(participant, &il6_saved(600.0), RANDOMISED_MS + 60_000));
    assert_eq!(app.push(&first, &events).await.rejected, []);
    let kept = (
        app.count_rows("event_subjects").await,
        app.count_rows("subject_states").await,
    );
    assert_eq!(kept, (2, 2), "the screening and the sample");
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(app.database.as_url())
        .await
        .unwrap();
    for table in ["event_subjects", "subject_states"] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut connection)
            .await
            .unwrap();
    }
    connection.close().await.unwrap();
    app.store.close().await;
    app.store = Store::connect(&app.database).await.unwrap();
    app.set_clock(NOW_MS);
    let rebuilt = (
        app.count_rows("event_subjects").await,
        app.count_rows("subject_states").await,
    );
    assert_eq!(rebuilt, kept);
    let blind = second.event(participant, &il6_saved(700.0), RANDOMISED_MS + 120_000);
    assert_eq!(app.push(&second, &[blind]).await.rejected, []);
    let open = app.store.open_query_reports(&app.site.code).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].overridden.0, events[2].id());
}

/// The second tablet's save is dated before the first's but arrives after it:
/// the sample's events are folded again in their order, the later save (the
/// first tablet's) shows over the earlier unseen, and a correction that arrives
/// later still resolves it.
async fn an_edit_arriving_out_of_order_folds_its_form_again(app: TestApp) {
    let mut first = app.enrol().await;
    let mut second = app.enrol().await;
    let participant = Uuid::now_v7();
    let mut events = first.screen(participant);
    let later = first.event(participant, &il6_saved(600.0), RANDOMISED_MS + 120_000);
    events.push(later.clone());
    assert_eq!(app.push(&first, &events).await.rejected, []);
    let earlier = second.event(participant, &il6_saved(700.0), RANDOMISED_MS + 60_000);
    assert_eq!(
        app.push(&second, std::slice::from_ref(&earlier))
            .await
            .rejected,
        []
    );
    let open = app.store.open_query_reports(&app.site.code).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (open[0].shown.0, open[0].overridden.0),
        (later.id(), earlier.id())
    );
    let correction = second.event(
        participant,
        &il6_corrected(600.0, 650.0),
        RANDOMISED_MS + 180_000,
    );
    assert_eq!(app.push(&second, &[correction]).await.rejected, []);
    assert_eq!(
        app.store.open_query_reports(&app.site.code).await.unwrap(),
        []
    );
}

async fn a_conflict_opens_one_query_and_a_correction_closes_it(app: TestApp) {
    let mut first = app.enrol().await;
    let mut second = app.enrol().await;
    let participant = Uuid::now_v7();
    let mut events = first.screen(participant);
    events.push(first.randomise(participant));
    events.push(first.event(participant, &il6_saved(600.0), RANDOMISED_MS + 60_000));
    assert_eq!(app.push(&first, &events).await.rejected, []);
    // The second tablet saves the same sample without having pulled the first's.
    let blind = second.event(participant, &il6_saved(700.0), RANDOMISED_MS + 120_000);
    assert_eq!(
        app.push(&second, std::slice::from_ref(&blind))
            .await
            .rejected,
        []
    );
    let open = app.store.open_query_reports(&app.site.code).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    let query = &open[0];
    assert_eq!(
        (query.participant_id, query.subject, query.field),
        (participant, Subject::Form(SAMPLE_T0), Field::Il6PgPerMl)
    );
    assert_eq!(query.study_number.as_deref(), Some("BJ-T1-001"));
    assert_eq!(query.shown, (blind.id(), second.label.clone()));
    assert_eq!(query.overridden, (events[3].id(), first.label.clone()));
    let report = admin::queries_report(&app.store, &app.site.code)
        .await
        .unwrap();
    assert!(
        report.contains("Open data queries at site BJ: 1"),
        "{report}"
    );
    assert!(report.contains("(BJ-T1-001): cytokine sample"), "{report}");
    assert!(
        report.contains("Allocation flags at site BJ: 0"),
        "{report}"
    );

    // The same push again opens nothing more.
    assert_eq!(
        app.push(&second, std::slice::from_ref(&blind))
            .await
            .rejected,
        []
    );
    assert_eq!(app.count_rows("data_queries").await, 1);
    // The first tablet corrects its value without having seen 700: its correction
    // closes the query, and is itself blind, so it opens another.
    let confirmed = il6_corrected(600.0, 620.0);
    let more = first.event(participant, &confirmed, RANDOMISED_MS + 180_000);
    assert_eq!(app.push(&first, &[more]).await.rejected, []);
    let open = app.store.open_query_reports(&app.site.code).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].shown.1, first.label);
    // The second tablet, having pulled everything, corrects what it sees.
    let correction = second.event(
        participant,
        &il6_corrected(620.0, 650.0),
        RANDOMISED_MS + 240_000,
    );
    assert_eq!(app.push(&second, &[correction]).await.rejected, []);
    assert_eq!(
        app.store.open_query_reports(&app.site.code).await.unwrap(),
        []
    );
    assert_eq!(app.count_rows("data_queries").await, 2);
}

async fn the_admin_command_prints_an_enrolment_code_beside_the_running_server(app: TestApp) {
    // The server's pool is open, and a push is under way while the command runs.
    let mut tablet = app.enrol().await;
    let events = tablet.record(50);
    let database = app.database_arg.clone();
    let command = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_hp-ecmo-server"))
            .args(["--database", &database, "enrolment-code"])
            .output()
    });
    let (output, pushed) = tokio::join!(command, app.push(&tablet, &events));
    let output = output.unwrap().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(pushed.acked_seq, 50);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let code = stdout.strip_suffix('\n').unwrap();
    assert_eq!(code.len(), 9, "only the code on stdout: {stdout:?}");
    let (status, body) = app.try_enrol(code, Uuid::now_v7()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}
