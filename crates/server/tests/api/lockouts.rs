//! `POST /api/lockouts`: a tablet's PIN lockouts reach the coordinator, each once;
//! a report the rule could not have made, or about someone who does not sign in
//! on the site's tablets, is refused by field and keeps nothing.

use super::*;

on_both_engines!(a_tablets_pin_lockouts_are_kept_once_and_listed);

async fn a_tablets_pin_lockouts_are_kept_once_and_listed(app: TestApp) {
    let tablet = app.enrol().await;
    let post = |lockouts: Vec<PinLockout>| {
        app.send_json(
            Method::POST,
            "/api/lockouts",
            Some(&tablet.token),
            to_json(&LockoutsRequest { lockouts }),
        )
    };
    let fifth = lockout_of(tablet.user_id, 5);
    let sixth = lockout_of(tablet.user_id, 6);
    let (status, body) = post(vec![fifth.clone(), sixth.clone()]).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let answer: LockoutsResponse = from_json(&body);
    assert_eq!(answer.stored, 2);
    // Sent again (the answer was lost): kept once.
    let (status, body) = post(vec![sixth.clone()]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(from_json::<LockoutsResponse>(&body).stored, 0);

    // A wait the rule does not impose, and a user of no tablet of the site.
    let mut stretched = lockout_of(tablet.user_id, 6);
    stretched.wait_ms = 30_000;
    let (status, body) = post(vec![lockout_of(tablet.user_id, 7), stretched]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let error: ApiErrorBody = from_json(&body);
    assert_eq!(error.problems[0].field, "lockouts[1].wait_ms", "{error:?}");
    let (status, body) = post(vec![lockout_of(Uuid::now_v7(), 5)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let error: ApiErrorBody = from_json(&body);
    assert_eq!(error.problems[0].field, "lockouts[0].user_id", "{error:?}");

    let kept = app.store.lockouts(&app.site.code).await.unwrap();
    let kept: Vec<_> = kept.into_iter().map(|reported| reported.lockout).collect();
    assert_eq!(kept, [fifth, sixth], "nothing of a refused report");
    let report = admin::queries_report(&app.store, &app.site.code)
        .await
        .unwrap();
    assert!(
        report.contains("PIN lockouts at site BJ: 2\n- tablet T1, Li Na: 5 wrong PINs in a row, a 30 s wait from"),
        "{report}"
    );
}
