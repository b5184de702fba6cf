//! The rate limit on enrolment: 10 failed attempts per client address per 15
//! minutes, then 429 with `Retry-After` until the oldest leaves the window; a
//! success or a malformed request does not count, IPv6 counts per /64, every
//! failed attempt is logged with the address and never with the code, and on a
//! real socket the address is the peer's.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use server::serve::{Listener, Timeouts, serve};

use super::*;

on_both_engines!(
    ten_failed_attempts_then_429_until_the_oldest_leaves_the_window,
    successes_and_malformed_requests_do_not_count,
    ipv6_counts_per_64_and_mapped_ipv4_as_ipv4,
    every_failed_attempt_is_logged_with_the_address_never_the_code,
    on_a_socket_the_limit_counts_the_peer_address,
);

/// The attempts the limit allows, and its window.
const ATTEMPTS: usize = 10;
const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Well-formed, and not a code the server issued.
const UNKNOWN_CODE: &str = "ABCD-EFGH";

/// An enrolment answer with its headers.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl TestApp {
    /// Enrols a new device with `code` and a good key, as `address` would.
    async fn enrol_from(&self, address: &str, code: &str) -> Answer {
        let request = EnrolRequest {
            code: code.to_owned(),
            device_id: Uuid::now_v7(),
            app_version: "0.1.0".to_owned(),
            public_key: public_hex(&new_tablet_key()),
        };
        self.enrol_body_from(address, to_json(&request)).await
    }

    async fn enrol_body_from(&self, address: &str, body: String) -> Answer {
        let peer = SocketAddr::new(address.parse::<IpAddr>().unwrap(), 50_000);
        let mut request = Request::post("/api/enrol")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: body.to_vec(),
        }
    }

    /// Fails `n` attempts from `address`, each answered 401.
    async fn fail_from(&self, address: &str, n: usize) {
        for _ in 0..n {
            let answer = self.enrol_from(address, UNKNOWN_CODE).await;
            error_body(
                answer.status,
                &answer.body,
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthenticated,
            );
        }
    }

    async fn attempts_recorded(&self) -> i64 {
        self.count_rows("enrolment_attempts").await
    }
}

/// Checks that `answer` is the limit's refusal, asking to wait `seconds`.
fn check_limited(answer: &Answer, seconds: u64) {
    let error = error_body(
        answer.status,
        &answer.body,
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooManyRequests,
    );
    assert_eq!(answer.headers[header::RETRY_AFTER], seconds.to_string());
    assert!(
        error.message.contains("too many failed enrolment attempts"),
        "{error:?}"
    );
}

async fn ten_failed_attempts_then_429_until_the_oldest_leaves_the_window(mut app: TestApp) {
    app.fail_from("10.0.0.1", ATTEMPTS).await;
    check_limited(&app.enrol_from("10.0.0.1", UNKNOWN_CODE).await, 900);
    // The right code is refused too, and stays unused.
    let code = app.new_code().await;
    let answer = app.enrol_from("10.0.0.1", &code).await;
    check_limited(&answer, 900);
    let error: ApiErrorBody = from_json(&answer.body);
    assert_eq!(
        error.message,
        "too many failed enrolment attempts from this address: try again in 15 minutes, with the code the coordinator gave"
    );
    // Refused attempts are not kept: knocking on does not push the wait out.
    assert_eq!(app.attempts_recorded().await, ATTEMPTS as i64);
    // Another address is not limited.
    let answer = app.enrol_from("10.0.0.2", &code).await;
    assert_eq!(answer.status, StatusCode::OK);

    app.set_clock(NOW_MS + WINDOW_MS - 1);
    check_limited(&app.enrol_from("10.0.0.1", UNKNOWN_CODE).await, 1);
    app.set_clock(NOW_MS + WINDOW_MS);
    let code = app.new_code().await;
    assert_eq!(
        app.enrol_from("10.0.0.1", &code).await.status,
        StatusCode::OK
    );
    // Attempts that left the window are gone.
    assert_eq!(app.attempts_recorded().await, 0);
}

async fn successes_and_malformed_requests_do_not_count(app: TestApp) {
    for _ in 0..2 * ATTEMPTS {
        let answer = app.enrol_from("10.0.0.3", "0OIL-1234").await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        let answer = app.enrol_body_from("10.0.0.3", "{\"code\":".into()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(app.attempts_recorded().await, 0);
    app.fail_from("10.0.0.3", ATTEMPTS - 1).await;
    let code = app.new_code().await;
    assert_eq!(
        app.enrol_from("10.0.0.3", &code).await.status,
        StatusCode::OK
    );
    // A used code is a failed attempt, the tenth.
    let answer = app.enrol_from("10.0.0.3", &code).await;
    error_body(
        answer.status,
        &answer.body,
        StatusCode::CONFLICT,
        ErrorCode::Conflict,
    );
    check_limited(&app.enrol_from("10.0.0.3", UNKNOWN_CODE).await, 900);
}

async fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4(app: TestApp) {
    for host in 1..=ATTEMPTS {
        app.fail_from(&format!("2001:db8:1:2::{host:x}"), 1).await;
    }
    check_limited(
        &app.enrol_from("2001:db8:1:2:ffff:ffff:ffff:ffff", UNKNOWN_CODE)
            .await,
        900,
    );
    app.fail_from("2001:db8:1:3::1", 1).await;

    app.fail_from("::ffff:10.0.0.4", ATTEMPTS).await;
    check_limited(&app.enrol_from("10.0.0.4", UNKNOWN_CODE).await, 900);
}

async fn every_failed_attempt_is_logged_with_the_address_never_the_code(app: TestApp) {
    let log = super::logs::capture();
    let code = app.new_code().await;
    let device_id = Uuid::now_v7();
    let mut good = EnrolRequest {
        code: code.clone(),
        device_id,
        app_version: "0.1.0".to_owned(),
        public_key: public_hex(&new_tablet_key()),
    };
    assert_eq!(
        app.enrol_body_from("10.0.0.5", to_json(&good)).await.status,
        StatusCode::OK
    );
    // Used, then for a device already enrolled (with a fresh code), unknown,
    // malformed, and with a key that is no key; then over the limit.
    let used = app.enrol_body_from("10.0.0.5", to_json(&good)).await;
    let fresh = app.new_code().await;
    good.code.clone_from(&fresh);
    let again = app.enrol_body_from("10.0.0.5", to_json(&good)).await;
    let typed = "qrst wxyz";
    let unknown = app.enrol_from("10.0.0.5", typed).await;
    let malformed = app.enrol_from("10.0.0.5", "QRST-WXY0").await;
    let mut no_key = good.clone();
    no_key.public_key = "04".repeat(65);
    let keyless = app.enrol_body_from("10.0.0.5", to_json(&no_key)).await;
    let statuses = [&used, &again, &unknown, &malformed, &keyless].map(|answer| answer.status);
    assert_eq!(
        statuses,
        [
            StatusCode::CONFLICT,
            StatusCode::CONFLICT,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::UNPROCESSABLE_ENTITY,
        ]
    );
    app.fail_from("10.0.0.5", ATTEMPTS - 3).await;
    check_limited(&app.enrol_from("10.0.0.5", UNKNOWN_CODE).await, 900);

    let text = log.text();
    let refusals: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("enrolment refused"))
        .collect();
    assert_eq!(refusals.len(), 5 + (ATTEMPTS - 3) + 1, "{text}");
    for line in &refusals {
        assert!(line.contains("WARN"), "{line}");
        assert!(line.contains("client=10.0.0.5"), "{line}");
    }
    for reason in [
        "used code",
        "device already enrolled",
        "unknown code",
        "not an enrolment code",
        "not a public key",
        "too many failed attempts from this address",
    ] {
        assert!(
            refusals.iter().any(|line| line.contains(reason)),
            "{reason}: {text}"
        );
    }
    for typed in [
        code.as_str(),
        &code.replace('-', ""),
        fresh.as_str(),
        &fresh.replace('-', ""),
        typed,
        "QRST",
        "WXY",
        "ABCD",
        "EFGH",
    ] {
        assert!(!text.contains(typed), "{typed:?} is in the log:\n{text}");
    }
}

async fn on_a_socket_the_limit_counts_the_peer_address(app: TestApp) {
    let listener = Listener::plain("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("{}api/enrol", listener.url());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(serve(
        vec![listener],
        app.router.clone(),
        Timeouts::STANDARD,
        async {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..=ATTEMPTS {
        let request = EnrolRequest {
            code: UNKNOWN_CODE.to_owned(),
            device_id: Uuid::now_v7(),
            app_version: "0.1.0".to_owned(),
            public_key: public_hex(&new_tablet_key()),
        };
        let response = client
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(to_json(&request))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    let mut expected = vec![401; ATTEMPTS];
    expected.push(429);
    assert_eq!(statuses, expected);
    // Counted under the socket's address, not with the requests from inside
    // the process, which carry none.
    let (status, _) = app.try_enrol(UNKNOWN_CODE, Uuid::now_v7()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let counted: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT client FROM enrolment_attempts")
        .fetch_all(
            &mut sqlx::AnyConnection::connect(app.database.as_url())
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(counted.len(), 2, "{counted:?}");
    assert!(counted.contains(&("127.0.0.1".to_owned(),)), "{counted:?}");
    stop.send(()).unwrap();
    served.await.unwrap();
}
