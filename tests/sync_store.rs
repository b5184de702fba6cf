//! Browser tests, in headless Chromium against real IndexedDB: what the sync
//! client stores. Acknowledgements remove exactly the acknowledged outbox entries,
//! pulled events are stored once with their cursor, enrolment replaces training
//! records all at once, and a seed the server sealed opens with WebCrypto.
#![cfg(target_arch = "wasm32")]

use hp_ecmo::crypto;
use hp_ecmo::store::{
    Enrolment, KeySlot, LeaseMode, LeaseRecord, LeaseSeal, NewEnrolment, Store, UserRecord,
};
use serde::Deserialize;
use trial::event::{ChainHead, Event, EventDraft, EventKind};
use trial::pin::{MIN_ITERATIONS, Pin, PinHash, PinSalt};
use trial::projection::Participant;
use trial::randomisation::{LeaseId, Seed};
use trial::screening::ScreeningForm;
use trial::time::Moment;
use trial::wire::{Author, Rejection, RejectionCode, SealedSeed, Site, Tablet};
use uuid::Uuid;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

async fn fresh_store() -> Store {
    Store::open(&format!("test-{}", Uuid::now_v7()))
        .await
        .expect("a new database opens")
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

/// Events of another device, chained as that device would have recorded them.
fn other_device_events(n: i64) -> Vec<Event> {
    let mut head = ChainHead::genesis(Uuid::now_v7());
    (0..n)
        .map(|minute| {
            head.append(screening_draft(Uuid::now_v7(), minute))
                .unwrap()
        })
        .collect()
}

fn live_lease(device: Uuid, seal: LeaseSeal) -> LeaseRecord {
    LeaseRecord {
        lease_id: LeaseId::new(Uuid::now_v7()),
        mode: LeaseMode::Live,
        site: "BJ".into(),
        device,
        block_sizes: vec![2, 4, 6],
        n_slots: 24,
        next_slot: 0,
        sealed_seed: seal,
    }
}

fn dummy_seal() -> LeaseSeal {
    LeaseSeal::Server(SealedSeed {
        ephemeral_public_key: "04".repeat(65),
        nonce: "00".repeat(12),
        ciphertext: "00".repeat(48),
    })
}

#[wasm_bindgen_test]
async fn an_acknowledgement_removes_exactly_the_acknowledged_outbox_entries() {
    let store = fresh_store().await;
    for minute in 0..5 {
        store
            .record(screening_draft(Uuid::now_v7(), minute))
            .await
            .unwrap();
    }
    let batch = store.outbox_batch(3).await.unwrap();
    let seqs: Vec<u64> = batch.iter().map(Event::device_seq).collect();
    assert_eq!(seqs, [1, 2, 3], "the oldest first, at most the limit");

    let refused = Rejection {
        device_seq: 4,
        event_id: Uuid::now_v7(),
        code: RejectionCode::FromTheFuture,
        message: "dated after the server's clock".into(),
    };
    store
        .acknowledge(3, vec![refused.clone()], -1_000)
        .await
        .unwrap();
    assert_eq!(store.pending().await.unwrap(), 2);
    let rest: Vec<u64> = store
        .outbox_batch(10)
        .await
        .unwrap()
        .iter()
        .map(Event::device_seq)
        .collect();
    assert_eq!(rest, [4, 5]);
    let state = store.sync_state().await.unwrap();
    assert_eq!(state.rejections, std::slice::from_ref(&refused));
    assert_eq!(state.clock_offset_ms, Some(-1_000));
    // The events themselves stay in the log: only the outbox forgets them.
    assert_eq!(store.events().await.unwrap().len(), 5);

    // The next answer stores 4 but flags it, and stores 5: a refusal of an event
    // the server stored stays listed through later answers, while the outright
    // refusal of 4 is gone once 4 is stored.
    let flagged = Rejection {
        device_seq: 4,
        code: RejectionCode::InvalidPayload,
        ..refused
    };
    store
        .acknowledge(5, vec![flagged.clone()], 0)
        .await
        .unwrap();
    store.acknowledge(5, Vec::new(), 0).await.unwrap();
    assert_eq!(store.sync_state().await.unwrap().rejections, [flagged]);
    assert_eq!(store.pending().await.unwrap(), 0);
}

#[wasm_bindgen_test]
async fn pulled_events_are_stored_once_with_their_cursor() {
    let store = fresh_store().await;
    let pulled = other_device_events(3);
    store.store_pulled(&pulled[..2], 17).await.unwrap();
    // A page pulled again after a lost answer overlaps the first.
    store.store_pulled(&pulled, 18).await.unwrap();
    assert_eq!(store.events().await.unwrap(), pulled);
    assert_eq!(store.sync_state().await.unwrap().pull_cursor, 18);
    assert_eq!(
        store.pending().await.unwrap(),
        0,
        "other devices' events are never pushed back"
    );
}

#[wasm_bindgen_test]
async fn a_page_repeating_a_held_event_folds_it_once() {
    let store = fresh_store().await;
    let participant = Uuid::now_v7();
    let mut head = ChainHead::genesis(Uuid::now_v7());
    let pulled: Vec<Event> = (0..3)
        .map(|minute| head.append(screening_draft(participant, minute)).unwrap())
        .collect();
    store.store_pulled(&pulled[..2], 2).await.unwrap();
    // The second page holds an event already stored (as after reading a backup).
    store.store_pulled(&pulled[1..], 3).await.unwrap();
    let context = store.state_context().await.unwrap();
    let (state, events) = store
        .participant(participant, &context)
        .await
        .unwrap()
        .expect("the participant is stored");
    assert_eq!(events, pulled);
    assert_eq!(state.events_folded(), 3, "each event folded once");
    assert_eq!(
        state,
        Participant::fold_in_recorded_order(participant, &pulled, &context.calendar)
    );
}

#[wasm_bindgen_test]
async fn enrolment_replaces_training_records_at_once() {
    let store = fresh_store().await;
    let training_device = store.chain_head().await.unwrap().device_id();
    store
        .record(screening_draft(Uuid::now_v7(), 0))
        .await
        .unwrap();
    store
        .put_lease(&live_lease(training_device, dummy_seal()))
        .await
        .unwrap();
    assert!(store.has_training_records().await.unwrap());

    let device_id = Uuid::now_v7();
    let user = UserRecord {
        id: Uuid::now_v7(),
        name: "Li Na".into(),
        pin: PinHash::new(
            &Pin::parse("2468").unwrap(),
            PinSalt::from_bytes([3; 16]),
            MIN_ITERATIONS,
        )
        .unwrap(),
    };
    let lease = live_lease(device_id, dummy_seal());
    let enrolment = Enrolment {
        device_token: "token".into(),
        device_label: "T1".into(),
        site: Site {
            code: "BJ".into(),
            name: "Beijing Anzhen".into(),
            time_zone: "Asia/Shanghai".into(),
            time_zone_rules: String::new(),
        },
        enrolled_at_ms: 1_772_337_600_000,
        tablets: Vec::new(),
        authors: Vec::new(),
    };
    store
        .enrol(NewEnrolment {
            device_id,
            enrolment: enrolment.clone(),
            users: vec![user.clone()],
            lease: lease.clone(),
        })
        .await
        .unwrap();

    assert_eq!(store.enrolment().await.unwrap(), Some(enrolment.clone()));
    assert!(store.events().await.unwrap().is_empty());
    assert_eq!(store.pending().await.unwrap(), 0);
    assert_eq!(store.users().await.unwrap(), std::slice::from_ref(&user));
    assert_eq!(store.active_lease().await.unwrap(), Some(lease.clone()));
    let head = store.chain_head().await.unwrap();
    assert_eq!((head.device_id(), head.last_seq()), (device_id, 0));

    // A lease the server sends again is not reset: its progress is the tablet's.
    let mut progressed = lease.clone();
    progressed.next_slot = 5;
    store.put_lease(&progressed).await.unwrap();
    store.add_new_leases(&[lease]).await.unwrap();
    assert_eq!(store.active_lease().await.unwrap().unwrap().next_slot, 5);

    // A sync replaces the users, the site's time-zone rules, its tablets' labels
    // and the console accounts its records name, together.
    let mut site = enrolment.site.clone();
    site.time_zone_rules = "545a6966".into();
    let tablets = [Tablet {
        id: Uuid::from_u128(0x72),
        label: "T2".into(),
    }];
    let authors = [Author {
        id: Uuid::from_u128(0xc0),
        name: "Li Na".into(),
    }];
    store
        .replace_users(std::slice::from_ref(&user), Some(&site), &tablets, &authors)
        .await
        .unwrap();
    let stored = store.enrolment().await.unwrap().unwrap();
    assert_eq!(stored.site, site);
    assert_eq!(stored.tablets, tablets);
    assert_eq!(stored.authors, authors);
    assert_eq!(stored.device_token, enrolment.device_token);
}

/// `crates/server/tests/fixtures/sealed_seed.json`: a seed the server's code
/// sealed to a fixed tablet key pair.
#[derive(Deserialize)]
struct SealedFixture {
    tablet_private_key_pkcs8_hex: String,
    lease_id: Uuid,
    sealed_seed: SealedSeed,
    seed_hex: String,
}

#[wasm_bindgen_test]
async fn a_seed_sealed_by_the_server_opens_with_webcrypto() {
    let fixture: SealedFixture = serde_json::from_str(include_str!(
        "../crates/server/tests/fixtures/sealed_seed.json"
    ))
    .unwrap();
    let store = fresh_store().await;
    keep_lease_key(
        &store,
        &hex::decode(&fixture.tablet_private_key_pkcs8_hex).unwrap(),
    )
    .await;
    let lease_id = LeaseId::new(fixture.lease_id);
    let seal = LeaseSeal::Server(fixture.sealed_seed.clone());
    let seed = crypto::open(&store, lease_id, &seal).await.unwrap();
    let expected: [u8; 32] = hex::decode(&fixture.seed_hex).unwrap().try_into().unwrap();
    assert_eq!(seed, Seed::from_bytes(expected));

    // Moved to another lease, or altered, it does not open.
    let other_lease = LeaseId::new(Uuid::now_v7());
    assert!(matches!(
        crypto::open(&store, other_lease, &seal).await,
        Err(crypto::CryptoError::Refused(_))
    ));
    let mut altered = fixture.sealed_seed;
    let flipped = if altered.ciphertext.starts_with("00") {
        "01"
    } else {
        "00"
    };
    altered.ciphertext.replace_range(0..2, flipped);
    assert!(matches!(
        crypto::open(&store, lease_id, &LeaseSeal::Server(altered)).await,
        Err(crypto::CryptoError::Refused(_))
    ));
}

/// Stores the fixture's private key as this tablet's lease key, the way the app
/// stores the pair it generates (non-extractable, in the lease key slot).
async fn keep_lease_key(store: &Store, pkcs8: &[u8]) {
    let subtle = web_sys::window().unwrap().crypto().unwrap().subtle();
    let params = web_sys::EcKeyImportParams::new("ECDH");
    params.set_named_curve("P-256");
    let usages = js_sys::Array::of1(&"deriveBits".into());
    let promise = subtle
        .import_key_with_object(
            "pkcs8",
            &js_sys::Uint8Array::from(pkcs8),
            &params,
            false,
            &usages,
        )
        .unwrap();
    let private = wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
    let pair = js_sys::Object::new();
    js_sys::Reflect::set(&pair, &"privateKey".into(), &private).unwrap();
    store
        .keep_first_crypto_key(KeySlot::Lease, pair.into())
        .await
        .unwrap();
}
