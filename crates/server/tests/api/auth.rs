//! No way in without a token: every route of the router (walked as the OpenAPI
//! test walks it) but health, enrolment and the description, asked with a
//! request it would otherwise accept but no token, a revoked one, one this
//! server never issued, or a malformed `Authorization` header, answers 401 and
//! changes nothing in any table. And a tablet of another site reads and writes
//! nothing of this site's.

use axum::http::HeaderValue;

use super::*;

on_both_engines!(
    every_route_refuses_every_bad_token_and_writes_nothing,
    another_sites_tablet_reads_and_writes_nothing_of_this_site,
);

/// The routes that need no token.
const OPEN: [&str; 3] = ["/api/health", "/api/enrol", "/api/openapi.json"];

/// A request to `path` that the tablet's token makes succeed: the next events of
/// its chain for a push. A route added without a case here fails the test.
fn valid_request(tablet: &mut TestTablet, method: &Method, path: &str) -> Request<Body> {
    let (uri, body) = match (method.as_str(), path) {
        ("POST", "/api/push") => (
            path.to_owned(),
            to_json(&PushRequest {
                events: tablet.record(2),
            }),
        ),
        // A page of a backup: the tablet's own next events, as a backup of
        // itself imported on itself would send them.
        ("POST", "/api/backups/import") => (
            path.to_owned(),
            to_json(&PushRequest {
                events: tablet.record(2),
            }),
        ),
        ("POST", "/api/leases") => (path.to_owned(), to_json(&LeaseRequest {})),
        ("GET", "/api/pull") => (format!("{path}?after=0&limit=10"), String::new()),
        ("GET", "/api/users") => (path.to_owned(), String::new()),
        ("POST", "/api/pin") => (
            path.to_owned(),
            to_json(&PinChangeRequest {
                user_id: tablet.user_id,
                old_pin: PIN.to_owned(),
                new_pin: "246813".to_owned(),
            }),
        ),
        ("POST", "/api/status") => (
            path.to_owned(),
            to_json(&StatusReport {
                clock_ms: NOW_MS,
                // Past what the routes before it stored.
                head_seq: 1_000,
                app_version: "0.1.0".to_owned(),
            }),
        ),
        ("POST", "/api/lockouts") => (
            path.to_owned(),
            to_json(&LockoutsRequest {
                lockouts: vec![lockout_of(tablet.user_id, 5)],
            }),
        ),
        _ => panic!("{method} {path} is a new route: give it a request here"),
    };
    Request::builder()
        .method(method.clone())
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap()
}

/// A second server on the same engine, with its own database.
async fn another_server(app: &TestApp) -> TestApp {
    let engine = match app.database.engine() {
        server::store::Engine::Sqlite => Engine::Sqlite,
        server::store::Engine::Postgres => Engine::Postgres,
    };
    spawn_app(engine).await
}

fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}")).unwrap()
}

async fn every_route_refuses_every_bad_token_and_writes_nothing(app: TestApp) {
    let mut tablet = app.enrol().await;
    let revoked = app.enrol().await;
    assert!(
        app.store
            .revoke_device(&app.site.code, &revoked.label, NOW_MS)
            .await
            .unwrap()
    );
    let stranger = another_server(&app).await.enrol().await;
    let valid = tablet.token.clone();
    let made_up = sha256_hex("a token nobody issued");
    let not_text = HeaderValue::from_bytes(format!("Bearer {valid}\u{ff}").as_bytes()).unwrap();
    let attempts: Vec<(&str, Vec<HeaderValue>)> = vec![
        ("no token", vec![]),
        ("a revoked token", vec![bearer(&revoked.token)]),
        ("another server's token", vec![bearer(&stranger.token)]),
        ("a made-up token", vec![bearer(&made_up)]),
        (
            "Basic",
            vec![HeaderValue::from_static("Basic dXNlcjpwYXNz")],
        ),
        (
            "Basic with the token",
            vec![HeaderValue::from_str(&format!("Basic {valid}")).unwrap()],
        ),
        (
            "Bearer with nothing",
            vec![HeaderValue::from_static("Bearer")],
        ),
        (
            "Bearer and spaces",
            vec![HeaderValue::from_static("Bearer   ")],
        ),
        ("two tokens", vec![bearer(&format!("{valid} {made_up}"))]),
        ("the token twice", vec![bearer(&format!("{valid} {valid}"))]),
        (
            "two credentials",
            vec![bearer(&format!("{valid}, Bearer {made_up}"))],
        ),
        ("two headers", vec![bearer(&valid), bearer(&made_up)]),
        (
            "two headers, the same token",
            vec![bearer(&valid), bearer(&valid)],
        ),
        (
            "the token alone",
            vec![HeaderValue::from_str(&valid).unwrap()],
        ),
        (
            "no space",
            vec![HeaderValue::from_str(&format!("Bearer{valid}")).unwrap()],
        ),
        (
            "another scheme",
            vec![HeaderValue::from_str(&format!("Token {valid}")).unwrap()],
        ),
        ("not text", vec![not_text]),
        ("the token in capitals", vec![bearer(&valid.to_uppercase())]),
    ];
    let routes: Vec<(String, Method)> = super::openapi::routed_operations(&app)
        .await
        .into_iter()
        // The console's routes take a session cookie, not a token (`console.rs`).
        .filter(|(path, _)| !OPEN.contains(&path.as_str()) && !path.starts_with("/api/console/"))
        .collect();
    assert_eq!(routes.len(), 8, "{routes:?}");
    let before = app.all_row_counts().await;
    for (path, method) in &routes {
        for (what, headers) in &attempts {
            let mut request = valid_request(&mut tablet, method, path);
            for value in headers {
                request
                    .headers_mut()
                    .append(header::AUTHORIZATION, value.clone());
            }
            let (status, body) = app.send(request).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {what}: {}",
                String::from_utf8_lossy(&body)
            );
            error_body(
                status,
                &body,
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthenticated,
            );
        }
    }
    assert_eq!(app.all_row_counts().await, before);

    // The same requests with the token are answered: what was refused was the
    // token, not the request.
    let mut tablet = TestTablet {
        head: ChainHead::genesis(tablet.id),
        ..tablet
    };
    for (path, method) in &routes {
        let mut request = valid_request(&mut tablet, method, path);
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, bearer(&valid));
        let (status, body) = app.send(request).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{method} {path}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    // Two by the import, two by the push.
    assert_eq!(app.stored(&tablet).await, 4);
}

async fn another_sites_tablet_reads_and_writes_nothing_of_this_site(app: TestApp) {
    let mut here = app.enrol().await;
    let reader = app.enrol().await;
    app.add_site("SH").await;
    let mut there = app.enrol_at("SH").await;
    let participant = Uuid::now_v7();
    let screened = here.screen(participant);
    app.push(&here, &screened).await;
    assert_eq!(app.pulled_ids(&reader).await.len(), 2);

    // It reads nothing of this site's: no event, no user, no lease.
    assert!(app.pulled_ids(&there).await.is_empty());
    let (status, body) = app.get("/api/users", Some(&there.token)).await;
    assert_eq!(status, StatusCode::OK);
    let users: UsersResponse = from_json(&body);
    let names: Vec<&str> = users.users.iter().map(|user| user.name.as_str()).collect();
    assert_eq!(names, ["Wang Fang"]);
    let leases = app.leases(&mut there).await;
    assert!(
        leases
            .leases
            .iter()
            .all(|lease| (lease.site.as_str(), lease.device_id) == ("SH", there.id))
    );

    // What it writes about this site's participant is kept out of everyone's data.
    let consent = there.event(participant, &consent(), CONSENTED_MS);
    let answer = app.push(&there, std::slice::from_ref(&consent)).await;
    assert_eq!(answer.acked_seq, 1);
    assert_eq!(
        answer
            .rejected
            .iter()
            .map(|rejection| rejection.code)
            .collect::<Vec<_>>(),
        [RejectionCode::ParticipantOfAnotherSite]
    );
    assert!(!app.pulled_ids(&reader).await.contains(&consent.id()));
    let other_there = app.enrol_at("SH").await;
    assert!(app.pulled_ids(&other_there).await.is_empty());
}
