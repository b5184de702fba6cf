//! The allocation audit on the seeded trial of `export.rs` (40 participants on 3
//! tablets, one randomisation flagged for a forged arm): every randomisation the
//! export lists, with what its verification found; the flag resolved once, with
//! a note, by the role that may; each tablet's stock in counts; and no answer
//! holding the arm of a slot not yet used.

use std::collections::BTreeSet;

use server::export::{Format, export};
use trial::audit::{AllocationAuditResponse, FlagResolution, MAX_NOTE_CHARS, ResolveFlagRequest};
use trial::console::{AuditResponse, ConsoleEvent, ConsoleRole};

use super::console::{account, console_request};
use super::export::{read_table, seed};
use super::*;

on_both_engines!(
    the_audit_lists_every_randomisation_the_export_does_with_its_flags,
    a_flag_is_resolved_once_with_a_note_by_the_coordinator,
    only_the_roles_that_may_read_the_audit_and_bad_queries_are_named,
    flag_resolutions_cannot_be_changed_or_deleted,
);

const NOTE: &str = "Phoned the site: the tablet's arm was given; protocol deviation filed.";

/// The site's allocation audit, read with `cookie`: the status and the body.
async fn read_audit(app: &TestApp, cookie: Option<&str>, query: &str) -> (StatusCode, Vec<u8>) {
    let path = format!("/api/console/allocation-audit?{query}");
    let (status, _, body) = console_request(app, Method::GET, &path, cookie, None).await;
    (status, body)
}

/// The seeded site's audit, as the coordinator reads it.
async fn audit_of(app: &TestApp, cookie: &str) -> AllocationAuditResponse {
    let (status, body) = read_audit(app, Some(cookie), "site=BJ").await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    from_json(&body)
}

/// Resolves `code` on `event_id` with `note`; the status and the body.
async fn resolve(
    app: &TestApp,
    cookie: Option<&str>,
    event_id: Uuid,
    code: &str,
    note: &str,
) -> (StatusCode, Vec<u8>) {
    let request = ResolveFlagRequest {
        event_id,
        code: code.to_owned(),
        note: note.to_owned(),
    };
    let body = serde_json::to_string(&request).unwrap();
    let path = "/api/console/allocation-flags/resolve";
    let (status, _, body) = console_request(app, Method::POST, path, cookie, Some(body)).await;
    (status, body)
}

/// Every `(lease id, slot)` an object with an `arm` names, anywhere in `json`.
fn armed_slots(json: &serde_json::Value, found: &mut Vec<(String, u64)>) {
    match json {
        serde_json::Value::Object(object) => {
            if object.contains_key("arm") {
                let lease = object["lease_id"].as_str().expect("an arm names its lease");
                let slot = object["slot"].as_u64().expect("an arm names its slot");
                found.push((lease.to_owned(), slot));
            }
            object.values().for_each(|value| armed_slots(value, found));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| armed_slots(item, found)),
        _ => {}
    }
}

async fn the_audit_lists_every_randomisation_the_export_does_with_its_flags(mut app: TestApp) {
    let seeded = seed(&mut app).await;
    let folder = tempfile::tempdir().unwrap();
    let clock = Clock::fixed(app.now_ms);
    export(&app.store, "BJ", Format::Csv, folder.path(), "test", &clock)
        .await
        .unwrap();
    let exported = read_table(folder.path(), "allocations.csv");
    let coordinator = account(&app, ConsoleRole::Coordinator, "Li Na").await;
    let (status, body) = read_audit(&app, Some(&coordinator), "site=BJ").await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let audit: AllocationAuditResponse = from_json(&body);
    assert_eq!(
        (audit.site.as_str(), audit.time_zone.as_str()),
        ("BJ", "Asia/Shanghai")
    );

    // Every randomisation of allocations.csv, with its study number, tablet,
    // lease, slot and arm, and no other.
    assert_eq!(audit.randomisations.len(), exported.len());
    let listed: BTreeSet<[String; 6]> = audit
        .randomisations
        .iter()
        .map(|row| {
            [
                row.event_id.to_string(),
                row.study_number.clone(),
                row.tablet.clone(),
                row.lease_id.to_string(),
                row.slot.to_string(),
                serde_json::to_value(row.arm)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ]
        })
        .collect();
    let columns = [
        "event_id",
        "study_number",
        "device_label",
        "lease_id",
        "slot",
        "arm",
    ];
    let expected: BTreeSet<[String; 6]> = exported
        .iter()
        .map(|row| columns.map(|column| row[column].clone()))
        .collect();
    assert_eq!(listed, expected);
    // Each is recorded in UTC and at the site (Beijing, UTC+8), on a lease the
    // server issued to its tablet.
    for row in &audit.randomisations {
        assert!(row.recorded_at_utc.ends_with('Z'), "{row:?}");
        assert!(row.recorded_at_local.ends_with("+08:00"), "{row:?}");
        assert_eq!(row.lease_ordinal, Some(1), "{row:?}");
    }

    // The forged one shows its flag, open; every other verified.
    let (flagged, verified): (Vec<_>, Vec<_>) = audit
        .randomisations
        .iter()
        .partition(|row| !row.flags.is_empty());
    let [forged] = flagged.as_slice() else {
        panic!("{flagged:?}")
    };
    assert_eq!(forged.event_id, seeded.forged_event);
    assert_eq!(forged.flags, ["arm_mismatch"]);
    assert_eq!(verified.len(), exported.len() - 1);
    let [flag] = audit.flags.as_slice() else {
        panic!("{:?}", audit.flags)
    };
    assert_eq!(
        (flag.event_id, flag.code.as_str()),
        (seeded.forged_event, "arm_mismatch")
    );
    assert_eq!(
        flag.study_number.as_deref(),
        Some(forged.study_number.as_str())
    );
    assert!(
        flag.message
            .contains("is not the arm of the allocation list"),
        "{flag:?}"
    );
    assert_eq!(flag.resolution, None);

    // Stock: counts per tablet, issued = used + left, used = its randomisations.
    let tablets: BTreeSet<&str> = exported
        .iter()
        .map(|row| row["device_label"].as_str())
        .collect();
    assert_eq!(
        audit
            .stock
            .iter()
            .map(|stock| stock.tablet.as_str())
            .collect::<BTreeSet<_>>(),
        tablets
    );
    for stock in &audit.stock {
        let randomised = exported
            .iter()
            .filter(|row| row["device_label"] == stock.tablet)
            .count();
        assert_eq!(stock.used as usize, randomised, "{stock:?}");
        assert_eq!(stock.issued, stock.used + stock.left, "{stock:?}");
        assert!(stock.left > 0, "{stock:?}");
    }

    // No arm of a slot not used: every arm in the answer is a randomisation's,
    // and nothing in it is a seed or a list.
    let json: serde_json::Value = from_json(&body);
    let mut armed = Vec::new();
    armed_slots(&json, &mut armed);
    let used: BTreeSet<(String, u64)> = exported
        .iter()
        .map(|row| (row["lease_id"].clone(), row["slot"].parse().unwrap()))
        .collect();
    assert_eq!(armed.len(), exported.len());
    assert!(armed.iter().all(|slot| used.contains(slot)), "{armed:?}");
    let text = String::from_utf8_lossy(&body);
    for concealed in ["seed", "secret", "\"list\"", "next_arm", "next_slot"] {
        assert!(!text.contains(concealed), "{concealed}");
    }
}

async fn a_flag_is_resolved_once_with_a_note_by_the_coordinator(mut app: TestApp) {
    let seeded = seed(&mut app).await;
    let coordinator = account(&app, ConsoleRole::Coordinator, "Li Na").await;
    let investigator = account(&app, ConsoleRole::Investigator, "Wu Lei").await;
    let forged = seeded.forged_event;

    // Without a note, or with one too long, nothing is stored; the field is named.
    let before = app.all_row_counts().await;
    for note in ["", "   \n ", &"x".repeat(MAX_NOTE_CHARS + 1)] {
        let (status, body) = resolve(&app, Some(&coordinator), forged, "arm_mismatch", note).await;
        let error = error_body(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidRequest,
        );
        assert_eq!(error.problems[0].field, "note", "{error:?}");
    }
    // The investigator reads the audit but may not resolve (trial::console says why).
    let (status, body) = resolve(&app, Some(&investigator), forged, "arm_mismatch", NOTE).await;
    error_body(status, &body, StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    // A flag the randomisation did not raise, or an event with none.
    for (event_id, code) in [
        (forged, "slot_reused"),
        (seeded.participants[0], "arm_mismatch"),
    ] {
        let (status, body) = resolve(&app, Some(&coordinator), event_id, code, NOTE).await;
        error_body(status, &body, StatusCode::NOT_FOUND, ErrorCode::NotFound);
    }
    assert_eq!(app.all_row_counts().await, before, "nothing stored");

    // Resolved: the note, trimmed, with who and when.
    let (status, body) = resolve(
        &app,
        Some(&coordinator),
        forged,
        "arm_mismatch",
        &format!("  {NOTE}\n"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let resolution: FlagResolution = from_json(&body);
    let expected = FlagResolution {
        note: NOTE.to_owned(),
        resolved_by: "Li Na".to_owned(),
        resolved_at_ms: app.now_ms,
    };
    assert_eq!(resolution, expected);
    let audit = audit_of(&app, &investigator).await;
    assert_eq!(audit.flags[0].resolution.as_ref(), Some(&expected));

    // Twice: 409 saying who resolved it, and nothing changes.
    let after = app.all_row_counts().await;
    let (status, body) = resolve(&app, Some(&coordinator), forged, "arm_mismatch", "again").await;
    let error = error_body(status, &body, StatusCode::CONFLICT, ErrorCode::Conflict);
    assert!(
        error.message.contains("resolved already by Li Na"),
        "{error:?}"
    );
    assert_eq!(app.all_row_counts().await, after, "nothing changed");
    assert_eq!(
        audit_of(&app, &coordinator).await.flags[0].resolution,
        Some(expected)
    );

    // One console audit entry: who, the flag, never the note.
    let (status, _, body) = console_request(
        &app,
        Method::GET,
        "/api/console/audit",
        Some(&coordinator),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let trail: AuditResponse = from_json(&body);
    let resolved: Vec<_> = trail
        .entries
        .iter()
        .filter(|entry| entry.event == ConsoleEvent::FlagResolved)
        .collect();
    let [entry] = resolved.as_slice() else {
        panic!("{resolved:?}")
    };
    assert_eq!(entry.account.as_deref(), Some("Li Na"));
    assert_eq!(entry.at_ms, app.now_ms);
    assert!(!entry.client.is_empty());
    assert!(entry.detail.contains(&forged.to_string()), "{entry:?}");
    assert!(entry.detail.contains("arm_mismatch"), "{entry:?}");
    assert!(!entry.detail.contains("Phoned"), "{entry:?}");
    for participant in &seeded.participants {
        assert!(
            !entry.detail.contains(&participant.to_string()),
            "{entry:?}"
        );
    }
}

async fn only_the_roles_that_may_read_the_audit_and_bad_queries_are_named(app: TestApp) {
    let statistician = account(&app, ConsoleRole::Statistician, "Chen Jie").await;
    let coordinator = account(&app, ConsoleRole::Coordinator, "Li Na").await;
    let before = app.all_row_counts().await;
    let (status, body) = read_audit(&app, Some(&statistician), "site=BJ").await;
    let error = error_body(status, &body, StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    assert!(error.message.contains("statistician"), "{error:?}");
    let (status, body) = resolve(
        &app,
        Some(&statistician),
        Uuid::now_v7(),
        "arm_mismatch",
        NOTE,
    )
    .await;
    error_body(status, &body, StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    let (status, body) = read_audit(&app, None, "site=BJ").await;
    error_body(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    );
    let (status, body) = resolve(&app, None, Uuid::now_v7(), "arm_mismatch", NOTE).await;
    error_body(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
    );
    for (query, expected, says) in [
        ("", StatusCode::UNPROCESSABLE_ENTITY, "missing field `site`"),
        (
            "site=BJ&arm=next",
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field `arm`",
        ),
        ("site=SH", StatusCode::NOT_FOUND, "there is no site \"SH\""),
    ] {
        let (status, body) = read_audit(&app, Some(&coordinator), query).await;
        assert_eq!(
            status,
            expected,
            "{query}: {}",
            String::from_utf8_lossy(&body)
        );
        let error: ApiErrorBody = from_json(&body);
        let text = format!("{} {:?}", error.message, error.problems);
        assert!(text.contains(says), "{query}: {text}");
    }
    assert_eq!(app.all_row_counts().await, before, "nothing written");
    // A site with no tablet yet: nothing to list, and no stock.
    let audit = audit_of(&app, &coordinator).await;
    assert_eq!(
        (
            audit.randomisations.len(),
            audit.flags.len(),
            audit.stock.len()
        ),
        (0, 0, 0)
    );
}

async fn flag_resolutions_cannot_be_changed_or_deleted(mut app: TestApp) {
    let seeded = seed(&mut app).await;
    let coordinator = account(&app, ConsoleRole::Coordinator, "Li Na").await;
    let (status, _) = resolve(
        &app,
        Some(&coordinator),
        seeded.forged_event,
        "arm_mismatch",
        NOTE,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(app.database.as_url())
        .await
        .unwrap();
    for sql in [
        "UPDATE allocation_flag_resolutions SET note = 'changed'",
        "DELETE FROM allocation_flag_resolutions",
    ] {
        let error = sqlx::query(sql).execute(&mut connection).await.unwrap_err();
        assert!(error.to_string().contains("append-only"), "{sql}: {error}");
    }
    connection.close().await.unwrap();
    let audit = audit_of(&app, &coordinator).await;
    assert_eq!(audit.flags[0].resolution.as_ref().unwrap().note, NOTE);
}
