//! Importing a tablet's backup (issue 13 item 9): a revoked tablet's records
//! reach the server through another tablet of the site or the coordinator's
//! console, by the push's own verification, once; what the server holds
//! already changes nothing; a page of another site, of a tablet this server
//! never enrolled, or of several tablets is refused with nothing written.

use trial::backup::ImportedPage;
use trial::console::{AuditResponse, ConsoleEvent, ConsoleRole};
use trial::event::ChainHead;

use super::console::{account, console_request};
use super::*;

on_both_engines!(
    a_revoked_tablets_records_reach_the_server_once_through_another_tablet,
    the_coordinator_imports_in_the_console_and_the_trail_says_so,
    pages_the_server_cannot_take_are_refused_and_change_nothing,
    a_page_that_contradicts_what_is_held_is_refused_from_there,
);

const FROM_TABLET: &str = "/api/backups/import";
const FROM_CONSOLE: &str = "/api/console/backups/import";

impl TestApp {
    /// Sends a page of a backup from `tablet`; returns the status and body.
    async fn try_import(&self, tablet: &TestTablet, page: &[Event]) -> (StatusCode, Vec<u8>) {
        let body = to_json(&PushRequest {
            events: page.to_vec(),
        });
        self.send_json(Method::POST, FROM_TABLET, Some(&tablet.token), body)
            .await
    }

    /// Sends a page of a backup from `tablet`, expecting 200.
    async fn import(&self, tablet: &TestTablet, page: &[Event]) -> ImportedPage {
        let (status, body) = self.try_import(tablet, page).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        from_json(&body)
    }
}

/// A tablet that synced its screening, then saved a T0 IL-6 offline, and was
/// revoked before it synced again: its whole log and the part the server lacks.
async fn lost_tablet(app: &TestApp) -> (TestTablet, Vec<Event>) {
    let mut lost = app.enrol().await;
    let participant = Uuid::now_v7();
    let mut log = lost.screen(participant);
    assert_eq!(app.push(&lost, &log).await.rejected, []);
    log.push(lost.event(participant, &il6_saved(600.0), RANDOMISED_MS + 60_000));
    log.push(lost.event(
        participant,
        &il6_corrected(600.0, 650.0),
        RANDOMISED_MS + 90_000,
    ));
    assert!(
        app.store
            .revoke_device(&app.site.code, &lost.label, NOW_MS)
            .await
            .unwrap()
    );
    (lost, log)
}

async fn a_revoked_tablets_records_reach_the_server_once_through_another_tablet(app: TestApp) {
    let (lost, log) = lost_tablet(&app).await;
    let importer = app.enrol().await;
    assert_eq!(app.stored(&lost).await, 2);
    let page = app.import(&importer, &log).await;
    assert_eq!(
        (page.device_id, page.device_label.as_str()),
        (lost.id, lost.label.as_str())
    );
    assert_eq!((page.stored, page.held, page.acked_seq), (2, 2, 4));
    assert_eq!(page.rejected, []);
    assert_eq!(app.stored(&lost).await, 4);
    // On the revoked tablet's own chain, so every other tablet pulls them.
    let pulled = app.pulled_ids(&importer).await;
    assert!(log.iter().all(|event| pulled.contains(&event.id())));

    // The same file again, or from a third tablet: nothing changes.
    let before = app.all_row_counts().await;
    let again = app.import(&importer, &log).await;
    assert_eq!((again.stored, again.held, again.acked_seq), (0, 4, 4));
    let third = app.enrol().await;
    let before_third = app.all_row_counts().await;
    assert_eq!(app.import(&third, &log[2..]).await.held, 2);
    assert_eq!(app.all_row_counts().await, before_third);
    assert_ne!(
        before, before_third,
        "the third tablet's enrolment is a row"
    );
    // Still revoked: the lost tablet's own token stays refused.
    assert_eq!(
        app.try_push(Some(&lost.token), &log).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn the_coordinator_imports_in_the_console_and_the_trail_says_so(app: TestApp) {
    let (lost, log) = lost_tablet(&app).await;
    let body = to_json(&PushRequest {
        events: log.clone(),
    });
    for role in [ConsoleRole::Investigator, ConsoleRole::Statistician] {
        let cookie = account(&app, role, &format!("{role} account")).await;
        let (status, _, answer) = console_request(
            &app,
            Method::POST,
            FROM_CONSOLE,
            Some(&cookie),
            Some(body.clone()),
        )
        .await;
        error_body(status, &answer, StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    }
    assert_eq!(app.stored(&lost).await, 2);
    let coordinator = account(&app, ConsoleRole::Coordinator, "Chen Jie").await;
    let import = || async {
        let (status, _, answer) = console_request(
            &app,
            Method::POST,
            FROM_CONSOLE,
            Some(&coordinator),
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&answer)
        );
        from_json::<ImportedPage>(&answer)
    };
    assert_eq!(import().await.stored, 2);
    assert_eq!(import().await.stored, 0);
    let (_, _, trail) = console_request(
        &app,
        Method::GET,
        "/api/console/audit",
        Some(&coordinator),
        None,
    )
    .await;
    let imports: Vec<_> = from_json::<AuditResponse>(&trail)
        .entries
        .into_iter()
        .filter(|entry| entry.event == ConsoleEvent::BackupImported)
        .collect();
    // One entry: the repeat stored nothing.
    assert_eq!(imports.len(), 1, "{imports:?}");
    assert_eq!(imports[0].account.as_deref(), Some("Chen Jie"));
    assert!(
        imports[0].detail.contains(&lost.label) && imports[0].detail.contains("2 events stored"),
        "{}",
        imports[0].detail
    );
}

async fn pages_the_server_cannot_take_are_refused_and_change_nothing(app: TestApp) {
    let (_, log) = lost_tablet(&app).await;
    app.add_site("SH").await;
    let elsewhere = app.enrol_at("SH").await;
    let importer = app.enrol().await;
    let mut stranger = ChainHead::genesis(Uuid::now_v7());
    let unknown = stranger
        .append(EventDraft {
            id: Uuid::now_v7(),
            participant_id: Uuid::now_v7(),
            user_id: importer.user_id,
            recorded_at: beijing(SCREENED_MS),
            kind: EventKind::ConsentRecorded,
            payload: consent().to_json(),
            app_version: "1".to_owned(),
            schema_version: trial::payload::SCHEMA_VERSION,
        })
        .unwrap();
    let mut mixed = log.clone();
    mixed.push(unknown.clone());
    let before = app.all_row_counts().await;
    let cases: [(&TestTablet, Vec<Event>, StatusCode, ErrorCode); 4] = [
        (
            &elsewhere,
            log.clone(),
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
        ),
        (
            &importer,
            vec![unknown],
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
        ),
        (
            &importer,
            mixed,
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidRequest,
        ),
        (
            &importer,
            Vec::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidRequest,
        ),
    ];
    for (tablet, page, status, code) in cases {
        let (found, body) = app.try_import(tablet, &page).await;
        let error = error_body(found, &body, status, code);
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            assert_eq!(error.problems[0].field, "events", "{error:?}");
        }
    }
    assert_eq!(app.all_row_counts().await, before);
    // A token is needed.
    let (status, _) = app
        .send_json(
            Method::POST,
            FROM_TABLET,
            None,
            to_json(&PushRequest { events: log }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.all_row_counts().await, before);
}

async fn a_page_that_contradicts_what_is_held_is_refused_from_there(app: TestApp) {
    let (lost, log) = lost_tablet(&app).await;
    let importer = app.enrol().await;
    // The consent dated a second later and the chain re-hashed from there by
    // other software: the file's chain holds, but the server has another
    // event 2.
    let mut head = ChainHead::genesis(lost.id);
    let rechained: Vec<Event> = log
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let recorded_at = match index {
                1 => beijing(CONSENTED_MS + 1_000),
                _ => event.recorded_at(),
            };
            head.append(EventDraft {
                id: event.id(),
                participant_id: event.participant_id(),
                user_id: event.user_id(),
                recorded_at,
                kind: event.kind(),
                payload: event.payload().to_owned(),
                app_version: event.app_version().to_owned(),
                schema_version: event.schema_version(),
            })
            .unwrap()
        })
        .collect();
    let before = app.all_row_counts().await;
    let page = app.import(&importer, &rechained).await;
    assert_eq!((page.stored, page.held, page.acked_seq), (0, 1, 2));
    assert_eq!(page.rejected.len(), 1, "{:?}", page.rejected);
    assert_eq!(page.rejected[0].device_seq, 2);
    assert_eq!(page.rejected[0].code, RejectionCode::SeqConflict);
    assert_eq!(app.all_row_counts().await, before);
}
