//! Investigator sign-off (issue 13 item 7): the investigator reviews a casebook
//! and signs it with the password again; the casebook is then locked against
//! the console's corrections until the coordinator unlocks it with a reason; a
//! record a tablet made offline is kept and voids the signature; only the
//! roles that may sign or unlock do, and never a tablet.

use trial::casebook::{
    CasebookReview, CasebookStatus, SignRequest, SignatureMeaning, UnlockRequest,
};
use trial::console::{ConsoleEvent, ConsoleRole};
use trial::query::{QueryRef, QueryResolution};

use super::console::{PASSWORD, account, audit_events, console_request, post_as};
use super::*;

on_both_engines!(
    a_signed_casebook_is_locked_until_unlocked_with_a_reason_and_signed_again,
    only_an_investigator_signs_and_only_a_coordinator_unlocks,
    a_record_pushed_after_signing_is_kept_and_voids_the_signature,
    a_tablet_cannot_sign_a_casebook,
    signatures_and_unlocks_are_in_the_odm_file_and_the_audit_trail,
);

async fn review(app: &TestApp, cookie: &str, participant: Uuid) -> CasebookReview {
    let path = format!("/api/console/casebook?participant={participant}");
    let (status, _, body) = console_request(app, Method::GET, &path, Some(cookie), None).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    from_json(&body)
}

fn sign_request(review: &CasebookReview, password: &str) -> String {
    to_json(&SignRequest {
        participant_id: review.participant_id,
        password: password.to_owned(),
        meaning: SignatureMeaning::CURRENT,
        digest: review.digest,
    })
}

async fn post(app: &TestApp, cookie: &str, path: &str, body: String) -> (StatusCode, Vec<u8>) {
    let (status, _, body) =
        console_request(app, Method::POST, path, Some(cookie), Some(body)).await;
    (status, body)
}

fn unlock_request(participant: Uuid, reason: &str) -> String {
    to_json(&UnlockRequest {
        participant_id: participant,
        reason: reason.to_owned(),
    })
}

/// The field named by a 422's only problem.
fn problem_field(status: StatusCode, body: &[u8]) -> String {
    let error = error_body(
        status,
        body,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidRequest,
    );
    assert_eq!(error.problems.len(), 1, "{error:?}");
    error.problems[0].field.clone()
}

async fn a_signed_casebook_is_locked_until_unlocked_with_a_reason_and_signed_again(app: TestApp) {
    let (first, _, participant) = super::queries::queried(&app).await;
    let investigator = account(&app, ConsoleRole::Investigator, "Dr Wang").await;
    let coordinator = account(&app, ConsoleRole::Coordinator, "Li Na").await;
    let open = review(&app, &investigator, participant).await;
    assert_eq!(open.status, CasebookStatus::Open);
    assert_eq!(open.records, 4, "screening, consent, two saves");
    assert_eq!(open.forms.len(), 1);
    assert_eq!(open.forms[0].history.len(), 3, "{:?}", open.forms[0]);

    // A wrong password signs nothing and counts as a failed sign-in.
    let before = app.row_counts().await;
    let (status, body) = post(
        &app,
        &investigator,
        "/api/console/casebooks/sign",
        sign_request(&open, "not the password at all"),
    )
    .await;
    assert_eq!(problem_field(status, &body), "password");
    assert_eq!(app.row_counts().await, before);
    let audit = audit_events(&app, &coordinator).await;
    assert!(
        audit
            .iter()
            .any(|(who, event, detail)| who.as_deref() == Some("Dr Wang")
                && *event == ConsoleEvent::SignatureRefused
                && detail == "wrong password, 1 in a row"),
        "{audit:?}"
    );

    let signed: CasebookReview = post_as(
        &app,
        &investigator,
        "/api/console/casebooks/sign",
        &serde_json::from_str::<serde_json::Value>(&sign_request(&open, PASSWORD)).unwrap(),
    )
    .await;
    assert_eq!(signed.status, CasebookStatus::Signed);
    let signature = signed.signature.clone().unwrap();
    assert_eq!(
        (
            signature.signer_name.as_str(),
            signature.signer_role,
            signature.records,
            signature.signed_at_ms
        ),
        ("Dr Wang", ConsoleRole::Investigator, 4, app.now_ms)
    );
    assert_eq!(signature.meaning_en, SignatureMeaning::CURRENT.english());
    assert_eq!(
        signed.timeline.last().map(|entry| entry.kind.as_str()),
        Some("casebook_signed")
    );
    // Signing again is refused while the signature stands.
    let (status, body) = post(
        &app,
        &investigator,
        "/api/console/casebooks/sign",
        sign_request(&signed, PASSWORD),
    )
    .await;
    error_body(status, &body, StatusCode::CONFLICT, ErrorCode::Conflict);

    // The tablet pulls the signature and learns the signer's name.
    let pulled = app.pull(&first, 0, None).await;
    assert!(
        pulled
            .events
            .iter()
            .any(|pulled| pulled.event.kind() == EventKind::CasebookSigned)
    );
    let (_, body) = app.get("/api/users", Some(&first.token)).await;
    let users: trial::wire::UsersResponse = from_json(&body);
    assert!(users.authors.iter().any(|author| author.name == "Dr Wang"));

    // The query cannot be resolved into the locked casebook.
    let query: QueryRef = app
        .store
        .data_queries(Some(&app.site.code), trial::query::QueryStatus::Open, None)
        .await
        .unwrap()[0]
        .query;
    let resolution = to_json(&QueryResolution {
        query,
        entry: json!({ "value": 600.0 }),
        reason: "lab report reads 600".to_owned(),
    });
    let before = app.row_counts().await;
    let (status, body) = post(
        &app,
        &coordinator,
        "/api/console/queries/resolve",
        resolution.clone(),
    )
    .await;
    error_body(status, &body, StatusCode::CONFLICT, ErrorCode::Conflict);

    // An unlock needs a reason.
    let (status, body) = post(
        &app,
        &coordinator,
        "/api/console/casebooks/unlock",
        unlock_request(participant, "   "),
    )
    .await;
    assert_eq!(problem_field(status, &body), "reason");
    assert_eq!(app.row_counts().await, before);
    let unlocked: CasebookReview = post_as(
        &app,
        &coordinator,
        "/api/console/casebooks/unlock",
        &UnlockRequest {
            participant_id: participant,
            reason: "the T0 IL-6 query must be resolved".to_owned(),
        },
    )
    .await;
    assert_eq!(unlocked.status, CasebookStatus::Open);
    assert_eq!(unlocked.signature, None);
    assert_eq!(
        unlocked
            .timeline
            .last()
            .and_then(|entry| entry.reason.as_deref()),
        Some("the T0 IL-6 query must be resolved")
    );
    let (status, body) = post(
        &app,
        &coordinator,
        "/api/console/queries/resolve",
        resolution,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));

    // The review before the correction no longer signs: the casebook changed.
    let (status, body) = post(
        &app,
        &investigator,
        "/api/console/casebooks/sign",
        sign_request(&unlocked, PASSWORD),
    )
    .await;
    error_body(status, &body, StatusCode::CONFLICT, ErrorCode::Conflict);
    let corrected = review(&app, &investigator, participant).await;
    assert_eq!(corrected.records, 5);
    let (status, body) = post(
        &app,
        &investigator,
        "/api/console/casebooks/sign",
        sign_request(&corrected, PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        from_json::<CasebookReview>(&body).status,
        CasebookStatus::Signed
    );
    let kinds: Vec<ConsoleEvent> = audit_events(&app, &coordinator)
        .await
        .into_iter()
        .map(|(_, event, _)| event)
        .filter(|event| {
            matches!(
                event,
                ConsoleEvent::CasebookSigned | ConsoleEvent::CasebookUnlocked
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ConsoleEvent::CasebookSigned,
            ConsoleEvent::CasebookUnlocked,
            ConsoleEvent::CasebookSigned
        ],
        "newest first"
    );
}

async fn only_an_investigator_signs_and_only_a_coordinator_unlocks(app: TestApp) {
    let (_, _, participant) = super::queries::queried(&app).await;
    let investigator = account(&app, ConsoleRole::Investigator, "Dr Wang").await;
    let coordinator = account(&app, ConsoleRole::Coordinator, "Li Na").await;
    let statistician = account(&app, ConsoleRole::Statistician, "Chen Jie").await;
    let open = review(&app, &coordinator, participant).await;
    let before = app.row_counts().await;
    for cookie in [&coordinator, &statistician] {
        let (status, body) = post(
            &app,
            cookie,
            "/api/console/casebooks/sign",
            sign_request(&open, PASSWORD),
        )
        .await;
        error_body(status, &body, StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    }
    let path = format!("/api/console/casebook?participant={participant}");
    let (status, _, body) =
        console_request(&app, Method::GET, &path, Some(&statistician), None).await;
    error_body(status, &body, StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    // Nothing to unlock yet.
    let (status, body) = post(
        &app,
        &coordinator,
        "/api/console/casebooks/unlock",
        unlock_request(participant, "a correction"),
    )
    .await;
    error_body(status, &body, StatusCode::CONFLICT, ErrorCode::Conflict);
    // No such participant.
    let unknown = review_of_unknown(&open);
    let (status, body) = post(
        &app,
        &investigator,
        "/api/console/casebooks/sign",
        sign_request(&unknown, PASSWORD),
    )
    .await;
    error_body(status, &body, StatusCode::NOT_FOUND, ErrorCode::NotFound);
    assert_eq!(app.row_counts().await, before);

    let (status, body) = post(
        &app,
        &investigator,
        "/api/console/casebooks/sign",
        sign_request(&open, PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    for cookie in [&investigator, &statistician] {
        let (status, body) = post(
            &app,
            cookie,
            "/api/console/casebooks/unlock",
            unlock_request(participant, "a correction"),
        )
        .await;
        error_body(status, &body, StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    }
    assert_eq!(
        review(&app, &coordinator, participant).await.status,
        CasebookStatus::Signed
    );
}

/// `review` of a participant the server never heard of.
fn review_of_unknown(review: &CasebookReview) -> CasebookReview {
    CasebookReview {
        participant_id: Uuid::now_v7(),
        ..review.clone()
    }
}

async fn a_record_pushed_after_signing_is_kept_and_voids_the_signature(app: TestApp) {
    let (mut first, _, participant) = super::queries::queried(&app).await;
    let investigator = account(&app, ConsoleRole::Investigator, "Dr Wang").await;
    let open = review(&app, &investigator, participant).await;
    let (status, body) = post(
        &app,
        &investigator,
        "/api/console/casebooks/sign",
        sign_request(&open, PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    // Recorded offline before the tablet pulled the signature: kept.
    let offline = first.event(participant, &il6_saved(650.0), RANDOMISED_MS + 180_000);
    assert_eq!(app.push(&first, &[offline]).await.rejected, []);
    let changed = review(&app, &investigator, participant).await;
    assert_eq!(changed.status, CasebookStatus::ChangedAfterSigning);
    assert_eq!(changed.records, 5);
    assert!(
        changed.signature.is_some(),
        "the old signature is still shown"
    );
    let (status, body) = post(
        &app,
        &investigator,
        "/api/console/casebooks/sign",
        sign_request(&changed, PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        from_json::<CasebookReview>(&body).status,
        CasebookStatus::Signed
    );
}

async fn a_tablet_cannot_sign_a_casebook(app: TestApp) {
    let (mut first, _, participant) = super::queries::queried(&app).await;
    let investigator = account(&app, ConsoleRole::Investigator, "Dr Wang").await;
    let open = review(&app, &investigator, participant).await;
    let forged = Payload::CasebookSigned(trial::casebook::CasebookSigned {
        signer_name: "Dr Wang".to_owned(),
        signer_role: ConsoleRole::Investigator,
        meaning: SignatureMeaning::CURRENT,
        records: open.records,
        digest: open.digest,
    });
    let event = first.event(participant, &forged, RANDOMISED_MS + 180_000);
    let rejected = app.push(&first, &[event]).await.rejected;
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].code, trial::wire::RejectionCode::UnknownUser);
    assert_eq!(
        review(&app, &investigator, participant).await.status,
        CasebookStatus::Open
    );
}

/// A casebook signed, unlocked with a reason and signed again, exported whole.
async fn signed_and_exported(app: &TestApp) -> tempfile::TempDir {
    let (_, _, participant) = super::queries::queried(app).await;
    let investigator = account(app, ConsoleRole::Investigator, "Dr Wang").await;
    let coordinator = account(app, ConsoleRole::Coordinator, "Li Na").await;
    for step in 0..3 {
        let (path, body) = if step == 1 {
            (
                "/api/console/casebooks/unlock",
                unlock_request(participant, "the T0 IL-6 query"),
            )
        } else {
            let open = review(app, &investigator, participant).await;
            ("/api/console/casebooks/sign", sign_request(&open, PASSWORD))
        };
        let cookie = if step == 1 {
            &coordinator
        } else {
            &investigator
        };
        let (status, answer) = post(app, cookie, path, body).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    let folder = tempfile::tempdir().unwrap();
    server::export::export(
        &app.store,
        &app.site.code,
        server::export::Format::All,
        folder.path(),
        "test",
        &Clock::fixed(app.now_ms),
    )
    .await
    .unwrap();
    folder
}

async fn signatures_and_unlocks_are_in_the_odm_file_and_the_audit_trail(app: TestApp) {
    let folder = signed_and_exported(&app).await;
    let odm = std::fs::read_to_string(folder.path().join(trial::export::ODM_FILE)).unwrap();
    assert_eq!(odm.matches("<SignatureDef ").count(), 1, "{odm}");
    assert_eq!(odm.matches("<Signature>").count(), 2, "{odm}");
    assert_eq!(
        odm.matches("<SignatureRef SignatureOID=\"SD.REVIEWED_AND_CONFIRMED\"/>")
            .count(),
        2
    );
    assert!(
        odm.contains("<ReasonForChange>casebook unlocked: the T0 IL-6 query</ReasonForChange>")
    );
    let audit = std::fs::read_to_string(folder.path().join("audit_trail.csv")).unwrap();
    let rows = |kind: &str| {
        audit
            .lines()
            .filter(|line| line.contains(&format!(",{kind},")))
            .collect::<Vec<_>>()
    };
    let signed = rows("casebook_signed");
    assert_eq!(signed.len(), 2, "{audit}");
    assert!(
        signed
            .iter()
            .all(|row| row.contains("signed by Dr Wang (investigator): I have reviewed")),
        "{signed:?}"
    );
    let unlocked = rows("casebook_unlocked");
    assert_eq!(unlocked.len(), 1, "{audit}");
    assert!(unlocked[0].contains(",unlock,") && unlocked[0].contains("the T0 IL-6 query"));
}

/// The signed casebook's export read back by pandas and xmllint against the ODM
/// 1.3.2 schema (`tests/export/check_export.py`), as the seeded trial's is.
#[tokio::test]
#[cfg_attr(not(export_checks), ignore = "HP_ECMO_EXPORT_PYTHON is not set")]
async fn the_signed_casebooks_odm_file_is_valid_odm_1_3_2() {
    let app = spawn_app(Engine::Sqlite).await;
    let folder = signed_and_exported(&app).await;
    let python = std::env::var("HP_ECMO_EXPORT_PYTHON")
        .expect("CI runs the export checks: set HP_ECMO_EXPORT_PYTHON");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/export/check_export.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(folder.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
