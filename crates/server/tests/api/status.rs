//! `POST /api/status`: what a tablet says of itself at each sync reaches the
//! console's devices table, with the records it holds that the server lacks
//! counted against the chain the server stores; a report no tablet could send
//! is refused by field and keeps nothing.

use trial::console::SiteTablet;

use super::*;

on_both_engines!(a_tablets_report_reaches_the_devices_table);

async fn a_tablets_report_reaches_the_devices_table(app: TestApp) {
    let mut tablet = app.enrol().await;
    let events = tablet.record(5);
    app.push(&tablet, &events[..3]).await;
    let report = |clock_ms, head_seq| StatusReport {
        clock_ms,
        head_seq,
        app_version: "0.3.1".to_owned(),
    };
    assert_eq!(
        reported(&app, &tablet.label).await.last_report,
        None,
        "it never reported"
    );

    // Six and a half minutes ahead, two records the server lacks.
    let (status, body) = send(&app, report(NOW_MS + 390_000, 5), Some(&tablet.token)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(from_json::<StatusResponse>(&body).server_time_ms, NOW_MS);
    let row = reported(&app, &tablet.label).await;
    let last = row.last_report.clone().unwrap();
    assert_eq!(
        (
            last.reported_at_ms,
            last.clock_offset_ms,
            last.pending_events
        ),
        (NOW_MS, 390_000, 2)
    );
    assert_eq!(last.app_version, "0.3.1");
    assert!(last.clock_is_off());
    let stock = app
        .store
        .allocation_audit(&app.site.code)
        .await
        .unwrap()
        .stock;
    assert_eq!(stock.len(), 1);
    assert_eq!(row.slots_left, stock[0].left);
    assert!(row.slots_left > 0, "its first lease is unused");

    // The rest pushed: nothing waits any more, though it has not reported since.
    app.push(&tablet, &events[3..]).await;
    assert_eq!(
        reported(&app, &tablet.label)
            .await
            .last_report
            .unwrap()
            .pending_events,
        0
    );

    // Fewer records than the server holds, a clock past 2200, no token: refused,
    // and the report kept is the last good one.
    let (status, body) = send(&app, report(NOW_MS, 4), Some(&tablet.token)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let error: ApiErrorBody = from_json(&body);
    assert_eq!(error.problems[0].field, "head_seq", "{error:?}");
    let (status, body) = send(&app, report(i64::MAX, 5), Some(&tablet.token)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        from_json::<ApiErrorBody>(&body).problems[0].field,
        "clock_ms"
    );
    let (status, _) = send(&app, report(NOW_MS, 5), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reported(&app, &tablet.label)
            .await
            .last_report
            .unwrap()
            .clock_offset_ms,
        390_000
    );
}

async fn send(app: &TestApp, report: StatusReport, token: Option<&str>) -> (StatusCode, Vec<u8>) {
    app.send_json(Method::POST, "/api/status", token, to_json(&report))
        .await
}

/// The devices table's row of the tablet `label`.
async fn reported(app: &TestApp, label: &str) -> SiteTablet {
    let sites = app.store.sites_overview().await.unwrap();
    sites[0]
        .tablets
        .iter()
        .find(|row| row.label == label)
        .cloned()
        .unwrap()
}
