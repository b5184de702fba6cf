//! Browser tests, in headless Chromium with real IndexedDB and WebCrypto: a
//! backup written from the tablet's log reads back whole with its passphrase;
//! a wrong passphrase, a flipped byte in the header or the ciphertext, and a
//! cut file are each told apart, and none yields an event.
#![cfg(target_arch = "wasm32")]

use hp_ecmo::backup::{self, BackupFailure, Written};
use hp_ecmo::store::{Enrolment, Store};
use trial::backup::{BackupError, ImportOutcome, ImportedPage, Passphrase};
use trial::event::{EventDraft, EventKind};
use trial::screening::ScreeningForm;
use trial::time::Moment;
use trial::wire::Site;
use uuid::Uuid;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const PASSPHRASE: &str = "ECMO night shift 4";
const NOW_MS: i64 = 1_772_337_600_000;

fn enrolment() -> Enrolment {
    Enrolment {
        device_token: "token".into(),
        device_label: "T1".into(),
        site: Site {
            code: "BJ".into(),
            name: "Beijing Anzhen".into(),
            time_zone: "Asia/Shanghai".into(),
            time_zone_rules: String::new(),
        },
        enrolled_at_ms: NOW_MS,
        tablets: Vec::new(),
        authors: Vec::new(),
    }
}

/// A tablet that screened `count` patients, and its backup.
async fn written(count: i64) -> (Store, Written) {
    let store = Store::open(&format!("test-{}", Uuid::now_v7()))
        .await
        .expect("a new database opens");
    for minute in 0..count {
        let at = Moment::new(NOW_MS + minute * 60_000, 480).unwrap();
        store
            .record(EventDraft {
                id: Uuid::now_v7(),
                participant_id: Uuid::now_v7(),
                user_id: Uuid::from_u128(7),
                recorded_at: at,
                kind: EventKind::ScreeningRecorded,
                payload: serde_json::to_string(&ScreeningForm::blank(at)).unwrap(),
                app_version: "test".into(),
                schema_version: 1,
            })
            .await
            .unwrap();
    }
    let passphrase = Passphrase::new(PASSPHRASE).unwrap();
    let file = backup::write(&store, &enrolment(), &passphrase, NOW_MS)
        .await
        .unwrap();
    (store, file)
}

fn file_error(result: Result<impl Sized, BackupFailure>) -> BackupError {
    match result {
        Err(BackupFailure::File(error)) => error,
        Err(other) => panic!("not a file error: {other:?}"),
        Ok(_) => panic!("read"),
    }
}

#[wasm_bindgen_test]
async fn a_backup_reads_back_whole_with_its_passphrase() {
    let (store, file) = written(3).await;
    assert_eq!(file.events, 3);
    assert!(
        file.file_name.starts_with("hp-ecmo-backup-BJ-T1-")
            && file.file_name.ends_with(".hpbackup"),
        "{}",
        file.file_name
    );
    let (header, verified) = backup::read(&file.bytes, PASSPHRASE).await.unwrap();
    let device = store.chain_head().await.unwrap().device_id();
    assert_eq!((header.device_id, header.site.as_str()), (device, "BJ"));
    assert_eq!(verified.len(), 3);
    let held = store.events().await.unwrap();
    let read: Vec<_> = verified.pages(2).flatten().cloned().collect();
    assert!(read.iter().map(|e| e.id()).eq(held.iter().map(|e| e.id())));
    // The ciphertext holds no record in the clear.
    let text = String::from_utf8_lossy(&file.bytes);
    assert!(!text.contains(&held[0].id().to_string()));

    // Sent page by page; an answer that the server held every one says so.
    let pages = std::cell::RefCell::new(Vec::new());
    let progress = std::cell::RefCell::new(Vec::new());
    let tally = backup::import(
        &verified,
        |page| {
            pages.borrow_mut().push(page.len());
            let held = page.len() as u64;
            async move {
                Ok(ImportedPage {
                    device_id: device,
                    device_label: "T1".into(),
                    stored: 0,
                    held,
                    acked_seq: 3,
                    rejected: Vec::new(),
                })
            }
        },
        |sent| progress.borrow_mut().push(sent),
    )
    .await
    .unwrap();
    assert_eq!(pages.into_inner(), [3]);
    assert_eq!(progress.into_inner(), [3]);
    assert_eq!(tally.outcome(), ImportOutcome::AlreadyHeld { events: 3 });
}

#[wasm_bindgen_test]
async fn a_wrong_passphrase_is_told_apart_from_a_damaged_file() {
    let (_, file) = written(2).await;
    assert_eq!(
        file_error(backup::read(&file.bytes, "ECMO night shift 5").await),
        BackupError::WrongPassphrase
    );
    // A byte of the ciphertext flipped: the passphrase is right, the tag fails.
    let mut flipped = file.bytes.clone();
    let last = flipped.len() - 20;
    flipped[last] ^= 0x01;
    assert_eq!(
        file_error(backup::read(&flipped, PASSPHRASE).await),
        BackupError::Altered
    );
    // The header's tablet renamed: authenticated beside the ciphertext.
    let renamed = String::from_utf8_lossy(&file.bytes)
        .replacen("\"device_label\":\"T1\"", "\"device_label\":\"T9\"", 1)
        .into_bytes();
    let mut edited = renamed[..renamed.iter().position(|&b| b == b'\n').unwrap() + 1].to_vec();
    edited.extend_from_slice(&file.bytes[edited.len()..]);
    assert_eq!(
        file_error(backup::read(&edited, PASSPHRASE).await),
        BackupError::Altered
    );
    // Cut short, as a copy to a full USB stick would be.
    let cut = &file.bytes[..file.bytes.len() - 100];
    assert!(matches!(
        file_error(backup::read(cut, PASSPHRASE).await),
        BackupError::Truncated { .. }
    ));
}
