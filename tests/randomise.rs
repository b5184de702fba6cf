//! Browser tests of the randomise step against real IndexedDB and WebCrypto: a
//! double tap, two tabs and a race for one slot can never randomise a patient twice
//! or consume two slots, and the seed is stored only sealed.
#![cfg(target_arch = "wasm32")]

use futures::future::join;
use hp_ecmo::crypto;
use hp_ecmo::store::{KeySlot, LeaseMode, LeaseRecord, LeaseSeal, RandomiseError, Store};
use trial::event::{EventDraft, EventKind};
use trial::randomisation::{Lease, LeaseId, RandomisationConfig, Stratum};
use trial::time::Moment;
use uuid::Uuid;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

async fn fresh_store() -> (String, Store) {
    let name = format!("test-{}", Uuid::now_v7());
    let store = Store::open(&name).await.expect("a new database opens");
    (name, store)
}

/// A training lease of `n_blocks` blocks of two, sealed and stored.
async fn stored_lease(store: &Store, n_blocks: u32) -> LeaseRecord {
    let device = store.chain_head().await.unwrap().device_id();
    let config = RandomisationConfig::new(vec![2]).unwrap();
    let seed = crypto::random_seed().unwrap();
    let lease_id = LeaseId::new(Uuid::now_v7());
    let stratum = Stratum::new("TRAINING", device).unwrap();
    let lease = Lease::issue(lease_id, stratum, seed.clone(), config.clone(), n_blocks).unwrap();
    let record = LeaseRecord {
        lease_id,
        mode: LeaseMode::Training,
        site: "TRAINING".into(),
        device,
        block_sizes: config.block_sizes().to_vec(),
        n_slots: lease.n_slots(),
        next_slot: 0,
        sealed_seed: crypto::seal(store, &seed).await.unwrap(),
    };
    store.put_lease(&record).await.unwrap();
    record
}

fn randomised_draft(participant_id: Uuid) -> EventDraft {
    EventDraft {
        id: Uuid::now_v7(),
        participant_id,
        user_id: Uuid::from_u128(7),
        recorded_at: Moment::new(1_772_337_600_000, 480).unwrap(),
        kind: EventKind::Randomised,
        payload: "{}".into(),
        app_version: "test".into(),
        schema_version: 1,
    }
}

async fn finish(name: String, store: Store) {
    store.close();
    rexie::Rexie::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_double_tap_randomises_once_and_consumes_one_slot() {
    let (name, store) = fresh_store().await;
    let lease = stored_lease(&store, 5).await;
    let participant = Uuid::now_v7();
    let (first, second) = join(
        store.randomise(
            participant,
            lease.lease_id,
            0,
            randomised_draft(participant),
        ),
        store.randomise(
            participant,
            lease.lease_id,
            0,
            randomised_draft(participant),
        ),
    )
    .await;
    let outcomes = [first.is_ok(), second.is_ok()];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "{first:?} {second:?}"
    );
    let refused = if first.is_ok() { second } else { first };
    assert!(
        matches!(refused, Err(RandomiseError::AlreadyRandomised { slot: 0 })),
        "{refused:?}"
    );
    assert_eq!(store.active_lease().await.unwrap().unwrap().next_slot, 1);
    assert_eq!(store.events().await.unwrap().len(), 1);
    assert_eq!(store.pending().await.unwrap(), 1);
    assert_eq!(store.n_randomised().await.unwrap(), 1);
    finish(name, store).await;
}

#[wasm_bindgen_test]
async fn two_tabs_cannot_randomise_one_patient_twice() {
    let (name, first_tab) = fresh_store().await;
    let second_tab = Store::open(&name).await.unwrap();
    let lease = stored_lease(&first_tab, 5).await;
    let participant = Uuid::now_v7();
    let (first, second) = join(
        first_tab.randomise(
            participant,
            lease.lease_id,
            0,
            randomised_draft(participant),
        ),
        second_tab.randomise(
            participant,
            lease.lease_id,
            0,
            randomised_draft(participant),
        ),
    )
    .await;
    assert_eq!(
        [first.is_ok(), second.is_ok()]
            .iter()
            .filter(|ok| **ok)
            .count(),
        1,
        "{first:?} {second:?}"
    );
    assert_eq!(second_tab.events().await.unwrap().len(), 1);
    second_tab.close();
    finish(name, first_tab).await;
}

#[wasm_bindgen_test]
async fn two_patients_racing_for_one_slot_get_consecutive_slots() {
    let (name, store) = fresh_store().await;
    let lease = stored_lease(&store, 5).await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let (first, second) = join(
        store.randomise(alice, lease.lease_id, 0, randomised_draft(alice)),
        store.randomise(bob, lease.lease_id, 0, randomised_draft(bob)),
    )
    .await;
    assert!(first.is_ok(), "{first:?}");
    assert!(
        matches!(
            second,
            Err(RandomiseError::SlotTaken {
                expected: 0,
                next: 1
            })
        ),
        "{second:?}"
    );
    // The loser derives the arm of the new next slot and tries again.
    store
        .randomise(bob, lease.lease_id, 1, randomised_draft(bob))
        .await
        .unwrap();
    assert_eq!(store.n_randomised().await.unwrap(), 2);
    let events = store.events().await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|event| event.device_seq())
            .collect::<Vec<_>>(),
        [1, 2]
    );
    finish(name, store).await;
}

#[wasm_bindgen_test]
async fn an_exhausted_lease_refuses_and_writes_nothing() {
    let (name, store) = fresh_store().await;
    let lease = stored_lease(&store, 1).await;
    for slot in 0..2 {
        let participant = Uuid::now_v7();
        store
            .randomise(
                participant,
                lease.lease_id,
                slot,
                randomised_draft(participant),
            )
            .await
            .unwrap();
    }
    assert!(store.active_lease().await.unwrap().is_none());
    let participant = Uuid::now_v7();
    let refused = store
        .randomise(
            participant,
            lease.lease_id,
            2,
            randomised_draft(participant),
        )
        .await;
    assert!(
        matches!(refused, Err(RandomiseError::LeaseExhausted)),
        "{refused:?}"
    );
    assert_eq!(store.events().await.unwrap().len(), 2);
    assert_eq!(store.n_randomised().await.unwrap(), 2);
    finish(name, store).await;
}

#[wasm_bindgen_test]
async fn seeds_are_stored_sealed_under_a_key_that_cannot_be_exported() {
    let (name, store) = fresh_store().await;
    let seed = crypto::random_seed().unwrap();
    let lease_id = LeaseId::new(Uuid::now_v7());
    let seal = crypto::seal(&store, &seed).await.unwrap();
    let LeaseSeal::Device(sealed) = &seal else {
        panic!("a training seed is sealed under the device key");
    };
    assert_eq!(sealed.iv.len(), 12);
    assert_eq!(sealed.ciphertext.len(), 32 + 16, "seed plus the GCM tag");
    assert!(
        !sealed
            .ciphertext
            .windows(32)
            .any(|window| window == seed.as_bytes()),
        "the seed must not appear in the clear"
    );
    assert_eq!(
        crypto::open(&store, lease_id, &seal)
            .await
            .unwrap()
            .as_bytes(),
        seed.as_bytes()
    );

    let key: web_sys::CryptoKey = store
        .crypto_key(KeySlot::Device)
        .await
        .unwrap()
        .unwrap()
        .unchecked_into();
    assert!(!key.extractable(), "the device key must be non-extractable");

    let mut tampered = sealed.clone();
    tampered.ciphertext[0] ^= 1;
    let tampered = LeaseSeal::Device(tampered);
    assert!(matches!(
        crypto::open(&store, lease_id, &tampered).await,
        Err(crypto::CryptoError::Refused(_))
    ));
    finish(name, store).await;
}

#[wasm_bindgen_test]
async fn sealed_seeds_open_after_the_memory_has_moved() {
    // A nonce passed to WebCrypto as a view into wasm memory changed when the
    // memory was reused or grown before the call; the seed then never opened.
    let (name, store) = fresh_store().await;
    let mut sealed = Vec::new();
    for round in 0..8 {
        let seed = crypto::random_seed().unwrap();
        let ballast = vec![round as u8; 4 << 20];
        sealed.push((
            seed.as_bytes().to_vec(),
            crypto::seal(&store, &seed).await.unwrap(),
        ));
        drop(ballast);
    }
    for (seed, sealed) in &sealed {
        let _ballast = vec![0u8; 8 << 20];
        let lease_id = LeaseId::new(Uuid::now_v7());
        let opened = crypto::open(&store, lease_id, sealed).await.unwrap();
        assert_eq!(opened.as_bytes().as_slice(), seed.as_slice());
    }
    finish(name, store).await;
}
