//! Browser tests, in headless Chromium: the trial core runs in wasm and gives the
//! same answers as natively, and the event log round-trips through real IndexedDB.
#![cfg(target_arch = "wasm32")]

use hp_ecmo::store::{Store, StoreError};

use trial::event::{AppendError, EventDraft, EventKind, verify_chain};
use trial::payload::{ScreeningNumber, ScreeningRecorded};
use trial::randomisation::{AllocationSequence, Arm, RandomisationConfig, Seed};
use trial::screening::ScreeningForm;
use trial::time::Moment;
use uuid::Uuid;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A database of its own per test, so tests neither see nor block each other.
async fn fresh_store() -> (String, Store) {
    let name = format!("test-{}", Uuid::now_v7());
    let store = Store::open(&name).await.expect("a new database opens");
    (name, store)
}

fn screening_draft(participant_id: Uuid, minute: i64) -> EventDraft {
    let screened_at = Moment::new(1_772_337_600_000 + minute * 60_000, 480).unwrap();
    EventDraft {
        id: Uuid::now_v7(),
        participant_id,
        user_id: Uuid::from_u128(7),
        recorded_at: screened_at,
        kind: EventKind::ScreeningRecorded,
        payload: serde_json::to_string(&ScreeningForm::blank(screened_at)).unwrap(),
        app_version: "test".into(),
        schema_version: 1,
    }
}

#[wasm_bindgen_test]
fn allocation_lists_in_wasm_equal_the_native_golden_vector() {
    // The same vector as `golden_vectors_never_change` in crates/trial: a list a
    // tablet derives must be the list the server derives.
    let arms: String =
        AllocationSequence::new(&Seed::from_bytes([0; 32]), &RandomisationConfig::standard())
            .take(24)
            .map(|arm| match arm {
                Arm::Hemoperfusion => 'H',
                Arm::StandardCare => 'S',
            })
            .collect();
    assert_eq!(arms, "SHHSSHHSSHSSHHSSSHHHSSHH");
}

#[wasm_bindgen_test]
async fn recorded_events_survive_reopening_and_form_a_valid_chain() {
    let (name, store) = fresh_store().await;
    let device_id = store.chain_head().await.unwrap().device_id();
    let participant = Uuid::now_v7();
    let mut recorded = Vec::new();
    for minute in 0..3 {
        recorded.push(
            store
                .record(screening_draft(participant, minute))
                .await
                .unwrap(),
        );
    }
    assert_eq!(store.events().await.unwrap(), recorded);
    store.close();

    let reopened = Store::open(&name).await.unwrap();
    let head = reopened.chain_head().await.unwrap();
    assert_eq!(
        head.device_id(),
        device_id,
        "the tablet keeps its device id"
    );
    assert_eq!(head.last_seq(), 3);
    let fourth = reopened
        .record(screening_draft(participant, 3))
        .await
        .unwrap();
    assert_eq!(fourth.device_seq(), 4);
    assert_eq!(fourth.prev_hash(), recorded[2].hash());

    let events = reopened.events().await.unwrap();
    assert_eq!(events.len(), 4);
    let verified = verify_chain(&events).expect("the stored chain verifies");
    assert_eq!(verified.last_hash(), fourth.hash());
    reopened.close();
    rexie::Rexie::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_refused_event_leaves_the_log_and_head_unchanged() {
    let (name, store) = fresh_store().await;
    let first = store
        .record(screening_draft(Uuid::now_v7(), 0))
        .await
        .unwrap();
    let mut broken = screening_draft(Uuid::now_v7(), 1);
    broken.payload = "{not json".into();

    let refused = store.record(broken).await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Append(AppendError::PayloadNotJson { .. }))
        ),
        "{refused:?}"
    );
    assert_eq!(store.events().await.unwrap(), std::slice::from_ref(&first));
    let head = store.chain_head().await.unwrap();
    assert_eq!((head.last_seq(), head.last_hash()), (1, first.hash()));
    store.close();
    rexie::Rexie::delete(&name).await.unwrap();
}

/// A new participant's screening as the store numbers it: the number goes into
/// the payload, which the hash then covers.
fn numbered_draft(number: &ScreeningNumber, minute: i64) -> EventDraft {
    let screened_at = Moment::new(1_772_337_600_000 + minute * 60_000, 480).unwrap();
    let body = ScreeningRecorded {
        screening_number: number.as_str().to_owned(),
        form: ScreeningForm::blank(screened_at),
    };
    EventDraft {
        payload: serde_json::to_string(&body).unwrap(),
        ..screening_draft(Uuid::now_v7(), minute)
    }
}

#[wasm_bindgen_test]
async fn two_tabs_screening_at_once_get_two_numbers() {
    let (name, first) = fresh_store().await;
    // The second tab: another connection to the same database.
    let second = Store::open(&name).await.unwrap();
    let (a, b) = futures::join!(
        first.record_screening("T1", |number| numbered_draft(number, 0)),
        second.record_screening("T1", |number| numbered_draft(number, 1)),
    );
    let (a, b) = (a.unwrap().1, b.unwrap().1);
    let mut numbers = [a.as_str().to_owned(), b.as_str().to_owned()];
    numbers.sort();
    assert_eq!(numbers, ["T1-0001", "T1-0002"]);
    // Both events are in the log, each with its own number.
    let events = first.events().await.unwrap();
    assert_eq!(events.len(), 2);
    let (_, third) = first
        .record_screening("T1", |number| numbered_draft(number, 2))
        .await
        .unwrap();
    assert_eq!(third.as_str(), "T1-0003");
    second.close();
    first.close();
    rexie::Rexie::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn numbering_carries_on_from_the_highest_number_in_the_log() {
    let (name, store) = fresh_store().await;
    // Screenings numbered before the count was kept: T1-0004 is the highest.
    for (minute, count) in [(0, 2), (1, 4)] {
        let number = ScreeningNumber::new("T1", count).unwrap();
        store.record(numbered_draft(&number, minute)).await.unwrap();
    }
    let (_, next) = store
        .record_screening("T1", |number| numbered_draft(number, 2))
        .await
        .unwrap();
    assert_eq!(next.as_str(), "T1-0005");
    store.close();
    rexie::Rexie::delete(&name).await.unwrap();
}
