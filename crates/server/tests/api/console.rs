//! The console's accounts: the first coordinator's one-time link, sign-in with a
//! growing wait after failures that tells no one which names exist, sessions
//! that end (idle, at the end of the day, at sign-out), roles the server
//! enforces, and every action in the console's audit trail.

use axum::http::HeaderMap;
use server::console;
use trial::console::{
    AuditResponse, ConsoleEvent, ConsoleRole, FIRST_SIGN_IN_WAIT_MS, FREE_SIGN_IN_FAILURES,
    InvitationRequest, InvitationResponse, NewEnrolmentCode, NewPin, NewSiteUser, SESSION_IDLE_MS,
    SESSION_MAX_MS, SessionResponse, SetupRequest, SignInRequest, SiteRef, SiteTablet, SiteUser,
    SiteUserRef, SitesResponse, TabletRef,
};

use trial::query::{NewQueryComment, QueryRef, QueryResolution, QueryStatus};

use super::*;

on_both_engines!(
    the_first_coordinator_sets_up_the_console_from_the_newest_link,
    setup_refuses_a_bad_name_or_password_and_changes_nothing,
    sign_in_slows_a_guesser_and_tells_no_one_which_names_exist,
    sessions_end_when_idle_at_the_end_of_the_day_and_at_sign_out,
    a_statistician_cannot_take_a_coordinators_actions,
    every_console_route_refuses_without_a_live_session,
    a_coordinator_manages_the_sites_users_and_tablets,
    only_a_coordinator_manages_the_site,
);

pub(super) const PASSWORD: &str = "correct horse battery staple";

/// Sends `body` (or nothing) to `path` with `cookie`; returns status, headers
/// and body.
pub(super) async fn console_request(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    body: Option<String>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body)),
        None => request.body(Body::empty()),
    };
    let response = app.router.clone().oneshot(request.unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}

/// The `name=value` of the answer's session cookie, as a browser sends it back.
fn cookie_of(headers: &HeaderMap) -> String {
    let set = headers
        .get(header::SET_COOKIE)
        .expect("a session cookie is set")
        .to_str()
        .unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// The token of a one-time link's path.
fn token_of(path: &str) -> String {
    let (page, token) = path.split_once('#').unwrap();
    assert_eq!(page, console::SETUP_PATH);
    token.to_owned()
}

async fn set_up(
    app: &TestApp,
    token: &str,
    name: &str,
    password: &str,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let body = to_json(&SetupRequest {
        token: token.to_owned(),
        name: name.to_owned(),
        password: password.to_owned(),
    });
    console_request(app, Method::POST, "/api/console/setup", None, Some(body)).await
}

async fn sign_in(app: &TestApp, name: &str, password: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let body = to_json(&SignInRequest {
        name: name.to_owned(),
        password: password.to_owned(),
    });
    console_request(app, Method::POST, "/api/console/sign-in", None, Some(body)).await
}

/// An account of `role` named `name`, set up from a fresh link; its cookie.
pub(super) async fn account(app: &TestApp, role: ConsoleRole, name: &str) -> String {
    let path = console::invite(&app.store, role, None, app.now_ms)
        .await
        .unwrap();
    let (status, headers, body) = set_up(app, &token_of(&path), name, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    cookie_of(&headers)
}

async fn session_of(app: &TestApp, cookie: &str) -> StatusCode {
    console_request(app, Method::GET, "/api/console/session", Some(cookie), None)
        .await
        .0
}

pub(super) async fn audit_events(
    app: &TestApp,
    cookie: &str,
) -> Vec<(Option<String>, ConsoleEvent, String)> {
    let (status, _, body) =
        console_request(app, Method::GET, "/api/console/audit", Some(cookie), None).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let audit: AuditResponse = from_json(&body);
    audit
        .entries
        .into_iter()
        .map(|entry| (entry.account, entry.event, entry.detail))
        .collect()
}

async fn the_first_coordinator_sets_up_the_console_from_the_newest_link(app: TestApp) {
    let clock = Clock::fixed(app.now_ms);
    let first = console::first_coordinator_link(&app.store, &clock)
        .await
        .unwrap()
        .expect("no account yet: a link");
    // A second start prints a new link; the first stops working.
    let newest = console::first_coordinator_link(&app.store, &clock)
        .await
        .unwrap()
        .unwrap();
    let (status, _, body) = set_up(&app, &token_of(&first), "Li Na", PASSWORD).await;
    error_body(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    );

    let (status, headers, body) = set_up(&app, &token_of(&newest), "Li Na", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let session: SessionResponse = from_json(&body);
    assert_eq!(session.account.name, "Li Na");
    assert_eq!(session.account.role, ConsoleRole::Coordinator);
    assert_eq!(session.ends_at_ms, app.now_ms + SESSION_IDLE_MS);
    let set_cookie = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set_cookie.contains("; Path=/api/console; HttpOnly; SameSite=Strict"),
        "{set_cookie}"
    );
    // Served in-process, not over TLS: a `Secure` cookie would never come back.
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    let cookie = cookie_of(&headers);
    assert_eq!(session_of(&app, &cookie).await, StatusCode::OK);

    // The link is spent, and with an account there is no new one.
    let (status, _, body) = set_up(&app, &token_of(&newest), "Zhang Wei", PASSWORD).await;
    error_body(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    );
    assert_eq!(
        console::first_coordinator_link(&app.store, &clock)
            .await
            .unwrap(),
        None
    );
    let events = audit_events(&app, &cookie).await;
    assert_eq!(
        events,
        [(
            Some("Li Na".to_owned()),
            ConsoleEvent::AccountCreated,
            "coordinator account \"Li Na\"".to_owned()
        )]
    );
}

async fn setup_refuses_a_bad_name_or_password_and_changes_nothing(app: TestApp) {
    let path = console::invite(&app.store, ConsoleRole::Investigator, None, app.now_ms)
        .await
        .unwrap();
    let token = token_of(&path);
    let before = app.all_row_counts().await;
    for (name, password, field) in [
        ("Li Na", "short pass", "password"),
        ("Li Na", "my name is li na ok", "password"),
        ("   ", PASSWORD, "name"),
    ] {
        let (status, _, body) = set_up(&app, &token, name, password).await;
        let error = error_body(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidRequest,
        );
        assert_eq!(error.problems[0].field, field, "{error:?}");
    }
    assert_eq!(app.all_row_counts().await, before);

    // The link still works, and a name already taken (in any case) is refused
    // without spending a second link.
    let (status, _, _) = set_up(&app, &token, "Li Na", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let second = console::invite(&app.store, ConsoleRole::Statistician, None, app.now_ms)
        .await
        .unwrap();
    let (status, _, body) = set_up(&app, &token_of(&second), " li na ", PASSWORD).await;
    error_body(status, &body, StatusCode::CONFLICT, ErrorCode::Conflict);
    let (status, _, _) = set_up(&app, &token_of(&second), "Chen Jie", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

async fn sign_in_slows_a_guesser_and_tells_no_one_which_names_exist(mut app: TestApp) {
    let coordinator = account(&app, ConsoleRole::Coordinator, "Li Na").await;
    let (_, _, unknown) = sign_in(&app, "Nobody", PASSWORD).await;
    let (status, _, wrong) = sign_in(&app, "Li Na", "not the password at all").await;
    error_body(
        status,
        &wrong,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    );
    assert_eq!(
        unknown, wrong,
        "an unknown name answers as a wrong password"
    );

    for _ in 1..FREE_SIGN_IN_FAILURES {
        let (status, _, _) = sign_in(&app, "li na", "not the password at all").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The free failures are used up: the next failure makes the account wait.
    let (status, _, _) = sign_in(&app, "Li Na", "not the password at all").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, headers, body) = sign_in(&app, "Li Na", PASSWORD).await;
    let error = error_body(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooManyRequests,
    );
    assert!(error.message.contains("wait 2 s"), "{error:?}");
    assert_eq!(headers[header::RETRY_AFTER], "2");

    // Once the wait is over the right password signs in, and the count restarts.
    app.set_clock(app.now_ms + FIRST_SIGN_IN_WAIT_MS);
    let (status, _, body) = sign_in(&app, " Li Na ", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) = sign_in(&app, "Li Na", "not the password at all").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = sign_in(&app, "Li Na", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);

    let events = audit_events(&app, &coordinator).await;
    let failed = |account: Option<&str>| {
        events
            .iter()
            .filter(|(who, event, _)| {
                who.as_deref() == account && *event == ConsoleEvent::SignInFailed
            })
            .count()
    };
    assert_eq!(failed(Some("Li Na")), FREE_SIGN_IN_FAILURES as usize + 2);
    assert_eq!(failed(None), 1);
    assert!(events.iter().any(|(_, event, detail)| {
        *event == ConsoleEvent::SignInDelayed && detail == "4 failed sign-ins in a row"
    }));
    assert!(
        events.iter().all(
            |(_, _, detail)| !detail.contains(PASSWORD) && !detail.contains("not the password")
        ),
        "{events:?}"
    );
}

async fn sessions_end_when_idle_at_the_end_of_the_day_and_at_sign_out(mut app: TestApp) {
    let start = app.now_ms;
    let cookie = account(&app, ConsoleRole::Coordinator, "Li Na").await;
    // Used every 25 minutes, it lives until the end of its day.
    let mut now = start;
    while now + 25 * 60_000 < start + SESSION_MAX_MS {
        now += 25 * 60_000;
        app.set_clock(now);
        assert_eq!(session_of(&app, &cookie).await, StatusCode::OK, "at {now}");
    }
    app.set_clock(start + SESSION_MAX_MS);
    assert_eq!(session_of(&app, &cookie).await, StatusCode::UNAUTHORIZED);

    // Idle for the idle limit, it ends.
    let (_, headers, _) = sign_in(&app, "Li Na", PASSWORD).await;
    let idle = cookie_of(&headers);
    app.set_clock(start + SESSION_MAX_MS + SESSION_IDLE_MS - 1);
    assert_eq!(session_of(&app, &idle).await, StatusCode::OK);
    app.set_clock(start + SESSION_MAX_MS + 2 * SESSION_IDLE_MS);
    assert_eq!(session_of(&app, &idle).await, StatusCode::UNAUTHORIZED);

    // Signed out, its cookie is removed and worth nothing even if kept.
    let (_, headers, _) = sign_in(&app, "Li Na", PASSWORD).await;
    let kept = cookie_of(&headers);
    let (status, headers, _) = console_request(
        &app,
        Method::POST,
        "/api/console/sign-out",
        Some(&kept),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let cleared = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("hp_ecmo_console=;") && cleared.contains("Max-Age=0"));
    assert_eq!(session_of(&app, &kept).await, StatusCode::UNAUTHORIZED);
}

async fn a_statistician_cannot_take_a_coordinators_actions(app: TestApp) {
    let coordinator = account(&app, ConsoleRole::Coordinator, "Li Na").await;
    let invite = to_json(&InvitationRequest {
        role: ConsoleRole::Statistician,
    });
    let (status, _, body) = console_request(
        &app,
        Method::POST,
        "/api/console/invitations",
        Some(&coordinator),
        Some(invite.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let link: InvitationResponse = from_json(&body);
    assert_eq!(link.role, ConsoleRole::Statistician);
    assert_eq!(
        link.expires_at_ms,
        app.now_ms + trial::console::INVITATION_TTL_MS
    );
    let (status, headers, _) = set_up(&app, &token_of(&link.path), "Chen Jie", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let statistician = cookie_of(&headers);

    let before = app.all_row_counts().await;
    for (method, path, body) in [
        (
            Method::POST,
            "/api/console/invitations",
            Some(invite.clone()),
        ),
        (Method::GET, "/api/console/audit", None),
    ] {
        let (status, _, answer) =
            console_request(&app, method, path, Some(&statistician), body).await;
        let error = error_body(status, &answer, StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert!(error.message.contains("statistician"), "{error:?}");
    }
    assert_eq!(app.all_row_counts().await, before);
    let (status, _, body) = console_request(
        &app,
        Method::GET,
        "/api/console/session",
        Some(&statistician),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        from_json::<SessionResponse>(&body).account.role,
        ConsoleRole::Statistician
    );

    let events = audit_events(&app, &coordinator).await;
    assert_eq!(
        events,
        [
            (
                Some("Chen Jie".to_owned()),
                ConsoleEvent::AccountCreated,
                "statistician account \"Chen Jie\"".to_owned()
            ),
            (
                Some("Li Na".to_owned()),
                ConsoleEvent::InvitationCreated,
                "link for a statistician account".to_owned()
            ),
            (
                Some("Li Na".to_owned()),
                ConsoleEvent::AccountCreated,
                "coordinator account \"Li Na\"".to_owned()
            ),
        ]
    );
}

async fn every_console_route_refuses_without_a_live_session(app: TestApp) {
    let cookie = account(&app, ConsoleRole::Coordinator, "Li Na").await;
    let (_, headers, _) = sign_in(&app, "Li Na", PASSWORD).await;
    let ended = cookie_of(&headers);
    let (status, _, _) = console_request(
        &app,
        Method::POST,
        "/api/console/sign-out",
        Some(&ended),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut tablet = app.enrol().await;
    // A randomisation with a forged arm: a flag for the resolution to name.
    let participant = Uuid::now_v7();
    let mut events = tablet.screen(participant);
    let allocation = tablet.leases[0].allocate().unwrap();
    let forged = other_arm(allocation.arm());
    events.push(tablet.randomised_as(participant, allocation.lease(), allocation.slot(), forged));
    let flagged = events[2].id();
    app.push(&tablet, &events).await;
    let routes: Vec<(String, Method)> = super::openapi::routed_operations(&app)
        .await
        .into_iter()
        .filter(|(path, _)| {
            path.starts_with("/api/console/")
                && !["/api/console/setup", "/api/console/sign-in"].contains(&path.as_str())
        })
        .collect();
    assert_eq!(routes.len(), 23, "{routes:?}");
    let revoked = app.enrol().await;
    super::queries::queried(&app).await;
    let query = app
        .store
        .data_queries(Some(&app.site.code), QueryStatus::Open, None)
        .await
        .unwrap()[0]
        .query;
    let body_of = |path: &str| {
        valid_body(
            &app,
            path,
            &revoked.label,
            query,
            flagged,
            participant,
            &events,
        )
    };
    let made_up = format!("{}={}", console::COOKIE, "0".repeat(64));
    let twice = format!("{cookie}; {cookie}");
    let attempts: [(&str, Option<&str>); 5] = [
        ("no cookie", None),
        ("a made-up session", Some(&made_up)),
        ("an ended session", Some(&ended)),
        ("the cookie twice", Some(&twice)),
        ("another cookie's name", Some("hp_ecmo=abc")),
    ];
    let before = app.all_row_counts().await;
    for (path, method) in &routes {
        for (what, sent) in attempts {
            let (status, _, body) =
                console_request(&app, method.clone(), path, sent, body_of(path)).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {what}"
            );
            error_body(
                status,
                &body,
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthenticated,
            );
        }
        // A tablet's token is no console session.
        let request = Request::builder()
            .method(method.clone())
            .uri(path.as_str())
            .header(header::AUTHORIZATION, format!("Bearer {}", tablet.token));
        let request = match body_of(path) {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body)),
            None => request.body(Body::empty()),
        };
        let (status, _) = app.send(request.unwrap()).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a device token"
        );
    }
    assert_eq!(app.all_row_counts().await, before);

    // The same requests with the session are answered (sign-out last).
    let mut routes = routes;
    routes.sort_by_key(|(path, _)| path.ends_with("sign-out"));
    for (path, method) in &routes {
        let target = valid_target(&app, path, participant);
        let (status, _, body) =
            console_request(&app, method.clone(), &target, Some(&cookie), body_of(path)).await;
        // Signing is the investigator's alone, and no one signed this casebook
        // for the coordinator to unlock (`casebooks` walks both through).
        let expected = match path.as_str() {
            "/api/console/casebooks/sign" => StatusCode::FORBIDDEN,
            "/api/console/casebooks/unlock" => StatusCode::CONFLICT,
            _ => StatusCode::OK,
        };
        assert_eq!(
            status,
            expected,
            "{method} {path}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}

/// `path` with the query it needs from a coordinator, if any.
fn valid_target(app: &TestApp, path: &str, participant: Uuid) -> String {
    match path {
        "/api/console/casebooks" => format!("{path}?site={}", app.site.code),
        "/api/console/casebook" => format!("{path}?participant={participant}"),
        "/api/console/exports/download" => format!("{path}?site={}&format=odm", app.site.code),
        "/api/console/queries" => format!("{path}?site={}&status=all", app.site.code),
        "/api/console/allocation-audit" => format!("{path}?site={}", app.site.code),
        _ => path.to_owned(),
    }
}

/// A body `path` accepts from a coordinator (for `devices/revoke`, revoking
/// `label`; for the query routes, about `query`; for a flag's resolution, the
/// `arm_mismatch` of randomisation `flagged`; for a backup's import, the
/// stored `page`); a route added without a case here fails the walk.
fn valid_body(
    app: &TestApp,
    path: &str,
    label: &str,
    query: QueryRef,
    flagged: Uuid,
    participant: Uuid,
    page: &[Event],
) -> Option<String> {
    let site = app.site.code.clone();
    match path {
        "/api/console/session"
        | "/api/console/audit"
        | "/api/console/sites"
        | "/api/console/dashboard"
        | "/api/console/exports"
        | "/api/console/exports/download"
        | "/api/console/queries"
        | "/api/console/allocation-audit"
        | "/api/console/casebooks"
        | "/api/console/casebook"
        | "/api/console/sign-out" => None,
        "/api/console/casebooks/sign" => Some(to_json(&trial::casebook::SignRequest {
            participant_id: participant,
            password: PASSWORD.to_owned(),
            meaning: trial::casebook::SignatureMeaning::CURRENT,
            digest: trial::event::Hash::GENESIS,
        })),
        "/api/console/casebooks/unlock" => Some(to_json(&trial::casebook::UnlockRequest {
            participant_id: participant,
            reason: "a correction".to_owned(),
        })),
        "/api/console/queries/comment" => Some(to_json(&NewQueryComment {
            query,
            text: "Which one is on the lab report?".to_owned(),
        })),
        "/api/console/queries/resolve" => Some(to_json(&QueryResolution {
            query,
            entry: json!({ "value": 600.0 }),
            reason: "lab report reads 600".to_owned(),
        })),
        "/api/console/allocation-flags/resolve" => {
            Some(to_json(&trial::audit::ResolveFlagRequest {
                event_id: flagged,
                code: "arm_mismatch".to_owned(),
                note: "checked".to_owned(),
            }))
        }
        "/api/console/invitations" => Some(to_json(&InvitationRequest {
            role: ConsoleRole::Investigator,
        })),
        "/api/console/users" => Some(to_json(&NewSiteUser {
            site,
            name: "Zhou Min".to_owned(),
            role: Role::ResearchNurse,
        })),
        "/api/console/users/pin" | "/api/console/users/disable" => Some(to_json(&SiteUserRef {
            site,
            name: "Li Na".to_owned(),
        })),
        "/api/console/enrolment-codes" => Some(to_json(&SiteRef { site })),
        "/api/console/backups/import" => Some(to_json(&PushRequest {
            events: page.to_vec(),
        })),
        "/api/console/devices/revoke" => Some(to_json(&TabletRef {
            site,
            label: label.to_owned(),
        })),
        _ => panic!("{path} is a new console route: give it a body here"),
    }
}

pub(super) async fn post_as<T: serde::de::DeserializeOwned>(
    app: &TestApp,
    cookie: &str,
    path: &str,
    body: &impl Serialize,
) -> T {
    let (status, _, answer) =
        console_request(app, Method::POST, path, Some(cookie), Some(to_json(body))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&answer)
    );
    from_json(&answer)
}

/// The users a tablet of the site is sent, by name, with whether `pin` opens
/// each.
async fn tablet_users(app: &TestApp, tablet: &TestTablet, pin: &str) -> Vec<(String, bool)> {
    let (status, body) = app.get("/api/users", Some(&tablet.token)).await;
    assert_eq!(status, StatusCode::OK);
    let users: UsersResponse = from_json(&body);
    let pin = Pin::parse(pin).unwrap();
    users
        .users
        .into_iter()
        .map(|user| (user.name, user.pin.verify(&pin)))
        .collect()
}

async fn a_coordinator_manages_the_sites_users_and_tablets(app: TestApp) {
    let cookie = account(&app, ConsoleRole::Coordinator, "Chen Jie").await;
    let tablet = app.enrol().await;
    let site = app.site.code.clone();

    let created: NewPin = post_as(
        &app,
        &cookie,
        "/api/console/users",
        &NewSiteUser {
            site: site.clone(),
            name: " Zhou Min ".to_owned(),
            role: Role::ResearchNurse,
        },
    )
    .await;
    assert_eq!(created.user.name, "Zhou Min");
    assert_eq!(created.pin.len(), 6);
    // The tablet gets the new user at its next sync, and the PIN shown opens it.
    assert_eq!(
        tablet_users(&app, &tablet, &created.pin).await,
        [("Li Na".to_owned(), false), ("Zhou Min".to_owned(), true)]
    );
    for (body, status) in [
        (
            NewSiteUser {
                site: site.clone(),
                name: "Zhou Min".to_owned(),
                role: Role::Investigator,
            },
            StatusCode::CONFLICT,
        ),
        (
            NewSiteUser {
                site: site.clone(),
                name: "Wu Lei".to_owned(),
                role: Role::Coordinator,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            NewSiteUser {
                site: "XX".to_owned(),
                name: "Wu Lei".to_owned(),
                role: Role::Investigator,
            },
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (answer, _, body) = console_request(
            &app,
            Method::POST,
            "/api/console/users",
            Some(&cookie),
            Some(to_json(&body)),
        )
        .await;
        assert_eq!(answer, status, "{}", String::from_utf8_lossy(&body));
    }

    let reset: NewPin = post_as(
        &app,
        &cookie,
        "/api/console/users/pin",
        &SiteUserRef {
            site: site.clone(),
            name: "Zhou Min".to_owned(),
        },
    )
    .await;
    assert_ne!(reset.pin, created.pin);
    assert_eq!(
        tablet_users(&app, &tablet, &reset.pin).await,
        [("Li Na".to_owned(), false), ("Zhou Min".to_owned(), true)]
    );

    let disabled: SiteUser = post_as(
        &app,
        &cookie,
        "/api/console/users/disable",
        &SiteUserRef {
            site: site.clone(),
            name: "Zhou Min".to_owned(),
        },
    )
    .await;
    assert_eq!(disabled.disabled_at_ms, Some(app.now_ms));
    assert_eq!(
        tablet_users(&app, &tablet, &reset.pin).await,
        [("Li Na".to_owned(), false)]
    );

    let code: NewEnrolmentCode = post_as(
        &app,
        &cookie,
        "/api/console/enrolment-codes",
        &SiteRef { site: site.clone() },
    )
    .await;
    assert_eq!(
        code.expires_at_ms,
        app.now_ms + admin::ENROLMENT_CODE_TTL_MS
    );
    let (status, body) = app.try_enrol(&code.code, Uuid::now_v7()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));

    let revoked: SiteTablet = post_as(
        &app,
        &cookie,
        "/api/console/devices/revoke",
        &TabletRef {
            site: site.clone(),
            label: tablet.label.clone(),
        },
    )
    .await;
    assert_eq!(revoked.revoked_at_ms, Some(app.now_ms));
    let (status, _) = app.get("/api/users", Some(&tablet.token)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked tablet's token stops working"
    );
    let (status, _, _) = console_request(
        &app,
        Method::POST,
        "/api/console/devices/revoke",
        Some(&cookie),
        Some(to_json(&TabletRef {
            site: site.clone(),
            label: tablet.label.clone(),
        })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _, body) =
        console_request(&app, Method::GET, "/api/console/sites", Some(&cookie), None).await;
    assert_eq!(status, StatusCode::OK);
    let sites: SitesResponse = from_json(&body);
    let [bj] = sites.sites.as_slice() else {
        panic!("{sites:?}")
    };
    let users: Vec<(&str, bool)> = bj
        .users
        .iter()
        .map(|user| (user.name.as_str(), user.disabled_at_ms.is_some()))
        .collect();
    assert_eq!(users, [("Li Na", false), ("Zhou Min", true)]);
    assert_eq!(bj.tablets.len(), 2);
    assert_eq!(
        bj.tablets
            .iter()
            .filter(|tablet| tablet.revoked_at_ms.is_some())
            .count(),
        1
    );
    assert!(
        !String::from_utf8_lossy(&body).contains("pin"),
        "no PIN hash reaches the console"
    );

    let events = audit_events(&app, &cookie).await;
    let kinds: Vec<ConsoleEvent> = events.iter().map(|(_, event, _)| *event).collect();
    assert_eq!(
        kinds,
        [
            ConsoleEvent::DeviceRevoked,
            ConsoleEvent::EnrolmentCodeIssued,
            ConsoleEvent::UserDisabled,
            ConsoleEvent::PinReset,
            ConsoleEvent::UserCreated,
            ConsoleEvent::AccountCreated,
        ]
    );
    for (_, _, detail) in &events {
        assert!(
            !detail.contains(&created.pin)
                && !detail.contains(&reset.pin)
                && !detail.contains(&code.code),
            "a secret in the audit trail: {detail}"
        );
    }
}

async fn only_a_coordinator_manages_the_site(app: TestApp) {
    let tablet = app.enrol().await;
    for role in [ConsoleRole::Investigator, ConsoleRole::Statistician] {
        let cookie = account(&app, role, &format!("{role} account")).await;
        let before = app.all_row_counts().await;
        for path in [
            "/api/console/sites",
            "/api/console/users",
            "/api/console/users/pin",
            "/api/console/users/disable",
            "/api/console/enrolment-codes",
            "/api/console/devices/revoke",
            "/api/console/backups/import",
        ] {
            let no_query = QueryRef {
                shown_event_id: Uuid::nil(),
                field: Field::Il6PgPerMl,
            };
            let body = valid_body(
                &app,
                path,
                &tablet.label,
                no_query,
                Uuid::nil(),
                Uuid::nil(),
                &[],
            );
            let method = if body.is_some() {
                Method::POST
            } else {
                Method::GET
            };
            let (status, _, answer) =
                console_request(&app, method, path, Some(&cookie), body).await;
            error_body(status, &answer, StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        }
        assert_eq!(app.all_row_counts().await, before, "{role}");
    }
    let (status, _) = app.get("/api/users", Some(&tablet.token)).await;
    assert_eq!(status, StatusCode::OK, "the tablet is not revoked");
}
