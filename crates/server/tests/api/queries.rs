//! Data queries in the console (issue 13 item 4): the list with both changes,
//! who made each, where and when; comment threads; and a resolution, which is a
//! correction event on the site's console device that closes the query on the
//! server and reaches the tablets at their next pull.

use trial::console::ConsoleRole;
use trial::query::{DataQuery, NewQueryComment, QueriesResponse, QueryRef, QueryResolution};

use super::console::{account, console_request, post_as};
use super::*;

on_both_engines!(
    a_query_is_discussed_and_resolved_from_the_console,
    a_resolution_that_keeps_the_standing_value_confirms_it,
    bad_comments_and_resolutions_change_nothing,
);

/// A participant whose T0 IL-6 was saved as 600 on one tablet and, blind, as
/// 700 on another: one open query. Returns the two tablets and the participant.
pub(super) async fn queried(app: &TestApp) -> (TestTablet, TestTablet, Uuid) {
    let mut first = app.enrol().await;
    let mut second = app.enrol().await;
    let participant = Uuid::now_v7();
    let mut events = first.screen(participant);
    events.push(first.event(participant, &il6_saved(600.0), RANDOMISED_MS + 60_000));
    assert_eq!(app.push(&first, &events).await.rejected, []);
    let blind = second.event(participant, &il6_saved(700.0), RANDOMISED_MS + 120_000);
    assert_eq!(app.push(&second, &[blind]).await.rejected, []);
    (first, second, participant)
}

async fn list(app: &TestApp, cookie: &str, status: &str) -> Vec<DataQuery> {
    let site = format!(
        "/api/console/queries?site={}&status={status}",
        app.site.code
    );
    let queries = list_at(app, cookie, &site).await;
    // Every site's list holds the same: the test's server has one site.
    let everywhere = format!("/api/console/queries?status={status}");
    assert_eq!(queries, list_at(app, cookie, &everywhere).await);
    assert!(queries.iter().all(|query| query.site == app.site.code));
    queries
}

async fn list_at(app: &TestApp, cookie: &str, path: &str) -> Vec<DataQuery> {
    let (code, _, body) = console_request(app, Method::GET, path, Some(cookie), None).await;
    assert_eq!(code, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    from_json::<QueriesResponse>(&body).queries
}

async fn a_query_is_discussed_and_resolved_from_the_console(app: TestApp) {
    let (first, second, participant) = queried(&app).await;
    let investigator = account(&app, ConsoleRole::Investigator, "Dr Wang").await;
    let open = list(&app, &investigator, "open").await;
    assert_eq!(open.len(), 1, "{open:?}");
    let query = &open[0];
    let nurse = app.store.sites_overview().await.unwrap()[0].users[0]
        .name
        .clone();
    assert_eq!(query.participant_id, participant);
    assert_eq!(query.form, Some(SAMPLE_T0));
    assert_eq!(query.query.field, Field::Il6PgPerMl);
    // Both changes, with who, where and when.
    let side = |change: &trial::query::QueryChange| {
        (
            change.entry.clone(),
            change.user.clone(),
            change.device.clone(),
            change.recorded_at_ms,
        )
    };
    assert_eq!(
        side(&query.shown),
        (
            json!({ "value": 700.0 }),
            nurse.clone(),
            second.label.clone(),
            RANDOMISED_MS + 120_000
        )
    );
    assert_eq!(
        side(&query.overridden),
        (
            json!({ "value": 600.0 }),
            nurse.clone(),
            first.label.clone(),
            RANDOMISED_MS + 60_000
        )
    );

    // A comment joins the thread, named and dated.
    let commented: DataQuery = post_as(
        &app,
        &investigator,
        "/api/console/queries/comment",
        &NewQueryComment {
            query: query.query,
            text: "  Which one is on the lab report?  ".to_owned(),
        },
    )
    .await;
    assert_eq!(commented.comments.len(), 1);
    assert_eq!(
        (
            commented.comments[0].author.as_str(),
            commented.comments[0].text.as_str()
        ),
        ("Dr Wang", "Which one is on the lab report?")
    );

    // Taking the first tablet's value: a correction on the console's chain.
    let resolved: DataQuery = post_as(
        &app,
        &investigator,
        "/api/console/queries/resolve",
        &QueryResolution {
            query: query.query,
            entry: json!({ "value": 600.0 }),
            reason: "lab report reads 600".to_owned(),
        },
    )
    .await;
    assert!(resolved.closed_at_ms.is_some(), "{resolved:?}");
    assert_eq!(list(&app, &investigator, "open").await, []);
    assert_eq!(list(&app, &investigator, "closed").await.len(), 1);
    assert_eq!(list(&app, &investigator, "all").await.len(), 1);

    // Both tablets pull it: a correction from 700 to 600 with the reason, by
    // the investigator's account, on the console device.
    for tablet in [&first, &second] {
        let pulled = app.pull(tablet, 0, None).await;
        let corrections: Vec<_> = pulled
            .events
            .iter()
            .filter(|pulled| pulled.event.kind() == EventKind::ValueCorrected)
            .collect();
        assert_eq!(corrections.len(), 1, "{:?}", tablet.label);
        let event = &corrections[0].event;
        let Payload::ValueCorrected(body) = Payload::of_event(event).unwrap() else {
            panic!("not a correction: {event:?}");
        };
        assert_eq!(
            (body.old, body.new, body.reason.as_str(), body.confirms),
            (
                json!({ "value": 700.0 }),
                json!({ "value": 600.0 }),
                "lab report reads 600",
                None
            )
        );
        assert_eq!(event.participant_id(), participant);
        // The tablets learn the console account's name with the site's users,
        // so the timeline names who resolved it.
        let (status, body) = app.get("/api/users", Some(&tablet.token)).await;
        assert_eq!(status, StatusCode::OK);
        let users: trial::wire::UsersResponse = from_json(&body);
        assert_eq!(
            users.authors,
            [trial::wire::Author {
                id: event.user_id(),
                name: "Dr Wang".to_owned()
            }]
        );
        assert!(users.users.iter().all(|user| user.id != event.user_id()));
    }
    // Resolving twice is refused and writes nothing.
    let before = app.row_counts().await;
    let (code, _, _) = console_request(
        &app,
        Method::POST,
        "/api/console/queries/resolve",
        Some(&investigator),
        Some(to_json(&QueryResolution {
            query: query.query,
            entry: json!({ "value": 650.0 }),
            reason: "again".to_owned(),
        })),
    )
    .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(app.row_counts().await, before);
}

async fn a_resolution_that_keeps_the_standing_value_confirms_it(app: TestApp) {
    let (first, _, _) = queried(&app).await;
    let coordinator = account(&app, ConsoleRole::Coordinator, "Li Na").await;
    let query = list(&app, &coordinator, "open").await.remove(0);
    let resolved: DataQuery = post_as(
        &app,
        &coordinator,
        "/api/console/queries/resolve",
        &QueryResolution {
            query: query.query,
            entry: json!({ "value": 700.0 }),
            reason: "700 was re-measured".to_owned(),
        },
    )
    .await;
    assert!(resolved.closed_at_ms.is_some());
    let pulled = app.pull(&first, 0, None).await;
    let confirmation = pulled
        .events
        .iter()
        .find_map(|pulled| match Payload::of_event(&pulled.event).unwrap() {
            Payload::ValueCorrected(body) => Some(body),
            _ => None,
        })
        .unwrap();
    assert_eq!(confirmation.confirms, Some(query.query.shown_event_id));
    assert_eq!(confirmation.new, json!({ "value": 700.0 }));
}

async fn bad_comments_and_resolutions_change_nothing(app: TestApp) {
    queried(&app).await;
    let coordinator = account(&app, ConsoleRole::Coordinator, "Li Na").await;
    let statistician = account(&app, ConsoleRole::Statistician, "Zhao Min").await;
    let query = list(&app, &coordinator, "open").await.remove(0).query;
    let unknown = QueryRef {
        shown_event_id: Uuid::now_v7(),
        field: Field::Il6PgPerMl,
    };
    let resolution = |query: QueryRef, entry: serde_json::Value, reason: &str| {
        to_json(&QueryResolution {
            query,
            entry,
            reason: reason.to_owned(),
        })
    };
    let comment = |query: QueryRef, text: &str| {
        to_json(&NewQueryComment {
            query,
            text: text.to_owned(),
        })
    };
    let counts = || async {
        (
            app.row_counts().await,
            app.count_rows("data_query_comments").await,
            app.count_rows("devices").await,
        )
    };
    let before = counts().await;
    for (who, path, body, status, names) in [
        (
            &coordinator,
            "resolve",
            resolution(query, json!({ "value": 650.0 }), " "),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason",
        ),
        (
            &coordinator,
            "resolve",
            resolution(query, json!({ "value": -5.0 }), "typo"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "entry",
        ),
        (
            &coordinator,
            "resolve",
            resolution(query, json!("high"), "typo"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "entry",
        ),
        (
            &coordinator,
            "resolve",
            resolution(unknown, json!({ "value": 650.0 }), "typo"),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            &coordinator,
            "comment",
            comment(query, "   "),
            StatusCode::UNPROCESSABLE_ENTITY,
            "text",
        ),
        (
            &coordinator,
            "comment",
            comment(unknown, "hello"),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            &statistician,
            "comment",
            comment(query, "hello"),
            StatusCode::FORBIDDEN,
            "",
        ),
        (
            &statistician,
            "resolve",
            resolution(query, json!({ "value": 650.0 }), "typo"),
            StatusCode::FORBIDDEN,
            "",
        ),
    ] {
        let path = format!("/api/console/queries/{path}");
        let (code, _, answer) =
            console_request(&app, Method::POST, &path, Some(who), Some(body.clone())).await;
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(code, status, "{path} {body}: {text}");
        assert!(
            text.contains(&format!("\"field\":\"{names}\"")) || names.is_empty(),
            "{path} {body}: {text}"
        );
    }
    let (code, _, _) = console_request(
        &app,
        Method::GET,
        &format!("/api/console/queries?site={}&status=open", app.site.code),
        Some(&statistician),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(counts().await, before);
    assert_eq!(list(&app, &coordinator, "open").await.len(), 1);
}
