//! The list algorithm pinned by golden vectors (a change to any step changes
//! every list in the field), and the leases' rules.

use uuid::Uuid;

use super::*;

/// The list as letters, H for hemoperfusion and S for standard care.
fn letters(seed: &Seed, config: &RandomisationConfig, n_slots: usize) -> String {
    AllocationSequence::new(seed, config)
        .take(n_slots)
        .map(|arm| match arm {
            Arm::Hemoperfusion => 'H',
            Arm::StandardCare => 'S',
        })
        .collect()
}

fn counting_seed() -> Seed {
    let mut bytes = [0; 32];
    for (byte, value) in bytes.iter_mut().zip(1..=32) {
        *byte = value;
    }
    Seed::from_bytes(bytes)
}

fn check_golden(seed: &Seed, expected_arms: &str, expected_block_sizes: &[u32]) {
    let config = RandomisationConfig::standard();
    assert_eq!(letters(seed, &config, expected_arms.len()), expected_arms);
    let block_sizes: Vec<usize> = Blocks::new(seed, &config)
        .take(expected_block_sizes.len())
        .map(|block| block.len())
        .collect();
    let expected_block_sizes: Vec<usize> = expected_block_sizes
        .iter()
        .map(|&size| size as usize)
        .collect();
    assert_eq!(block_sizes, expected_block_sizes);
}

// GOLDEN VECTORS. These pin the algorithm in the module doc, ChaCha20 and the
// pinned `rand` release; an independent implementation of the documented
// algorithm over RFC 8439 ChaCha20 gave the same letters. If this test fails,
// every allocation list already in the field has changed and the server can no
// longer verify the tablets. Never update these strings to make the test pass:
// find what changed and undo it.
#[test]
fn golden_vectors_never_change() {
    check_golden(
        &Seed::from_bytes([0; 32]),
        "SHHSSHHSSHSSHHSSSHHHSSHH",
        &[2, 2, 6, 4, 6, 6],
    );
    check_golden(
        &counting_seed(),
        "SHHSHSHSHSHHSSHSHSHHSSSH",
        &[2, 6, 6, 2, 2, 4, 4],
    );
}

#[test]
fn generator_is_chacha20_with_a_zero_nonce() {
    // The first keystream words of ChaCha20 with an all-zero key, nonce and
    // counter (the test vector of the original ChaCha paper's reference code,
    // also used by rand_chacha): a change of generator fails here first.
    let mut rng = ChaCha20Rng::from_seed([0; 32]);
    let words: Vec<u32> = (0..4).map(|_| rng.next_u32()).collect();
    assert_eq!(words, [0xade0_b876, 0x903d_f1a0, 0xe56a_5d40, 0x28bd_8653]);
}

fn check_config(block_sizes: Vec<u32>, expected: Result<&[u32], ConfigError>) {
    let given = format!("{block_sizes:?}");
    let actual = RandomisationConfig::new(block_sizes);
    assert_eq!(
        actual.as_ref().map(RandomisationConfig::block_sizes),
        expected.as_ref().map(|sizes| *sizes),
        "block sizes {given}"
    );
}

#[test]
fn config_accepts_only_distinct_even_sizes_up_to_the_maximum() {
    check_config(vec![2, 4, 6], Ok(&[2, 4, 6]));
    check_config(vec![6, 2, 4], Ok(&[2, 4, 6]));
    check_config(vec![2], Ok(&[2]));
    check_config(vec![16], Ok(&[16]));
    check_config(vec![], Err(ConfigError::NoBlockSizes));
    let invalid = |block_size| ConfigError::InvalidBlockSize {
        block_size,
        max: 16,
    };
    check_config(vec![0], Err(invalid(0)));
    check_config(vec![2, 3], Err(invalid(3)));
    check_config(vec![18], Err(invalid(18)));
    check_config(
        vec![4, 2, 4],
        Err(ConfigError::DuplicateBlockSize { block_size: 4 }),
    );
}

#[test]
fn config_order_does_not_change_the_list() {
    let seed = counting_seed();
    let sorted = RandomisationConfig::new(vec![2, 4, 6]).unwrap();
    let shuffled = RandomisationConfig::new(vec![6, 2, 4]).unwrap();
    assert_eq!(letters(&seed, &sorted, 60), letters(&seed, &shuffled, 60));
    assert_eq!(sorted.largest_block(), 6);
}

#[test]
fn config_deserialising_validates() {
    let config: RandomisationConfig = serde_json::from_str(r#"{"block_sizes":[4,2]}"#).unwrap();
    assert_eq!(config.block_sizes(), [2, 4]);
    let odd = serde_json::from_str::<RandomisationConfig>(r#"{"block_sizes":[3]}"#);
    let error = odd.unwrap_err().to_string();
    assert!(error.contains("block size 3"), "{error}");
}

#[test]
fn seed_never_prints_its_bytes() {
    let seed = Seed::from_bytes([0xab; 32]);
    assert_eq!(format!("{seed:?}"), "Seed(<concealed>)");
    let lease = Lease::issue(
        LeaseId::new(Uuid::nil()),
        Stratum::new("BJ01", Uuid::nil()).unwrap(),
        seed,
        RandomisationConfig::standard(),
        1,
    )
    .unwrap();
    let debug = format!("{lease:?}");
    assert!(debug.contains("Seed(<concealed>)"), "{debug}");
    assert!(!debug.contains("ab") && !debug.contains("171"), "{debug}");
}

#[test]
fn seed_serialises_as_hex_and_back() {
    let seed = counting_seed();
    let json = serde_json::to_string(&seed).unwrap();
    assert_eq!(
        json,
        "\"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\""
    );
    assert_eq!(serde_json::from_str::<Seed>(&json).unwrap(), seed);
    let short = serde_json::from_str::<Seed>("\"0102\"").unwrap_err();
    assert!(short.to_string().contains("64 hex digits"), "{short}");
    let not_hex = serde_json::from_str::<Seed>(&json.replace('a', "x")).unwrap_err();
    assert!(not_hex.to_string().contains("64 hex digits"), "{not_hex}");
}

/// A generator that returns the words it is given, to test `below` exactly.
struct Scripted<'a>(std::iter::Copied<std::slice::Iter<'a, u32>>);

impl rand::TryRng for Scripted<'_> {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.0.next().expect("the script has enough words"))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        unreachable!("below draws 32-bit words only")
    }
    fn try_fill_bytes(&mut self, _dst: &mut [u8]) -> Result<(), Self::Error> {
        unreachable!("below draws 32-bit words only")
    }
}

fn check_below(n: u32, words: &[u32], expected: u32, words_used: usize) {
    let mut rng = Scripted(words.iter().copied());
    assert_eq!(below(&mut rng, n), expected, "n {n}, words {words:?}");
    assert_eq!(
        words.len() - rng.0.len(),
        words_used,
        "n {n}, words {words:?}"
    );
}

#[test]
fn below_rejects_only_the_biased_tail() {
    check_below(1, &[u32::MAX, 5], 0, 1);
    check_below(2, &[u32::MAX, 5], 1, 1);
    check_below(2, &[6, 5], 0, 1);
    // 2³² mod 3 = 1: only the very last word is rejected.
    check_below(3, &[u32::MAX, 7], 1, 2);
    check_below(3, &[u32::MAX - 1, 7], 2, 1);
    // 2³² mod 6 = 4: the last four words are rejected.
    check_below(6, &[u32::MAX - 3, u32::MAX, 11], 5, 3);
    check_below(6, &[u32::MAX - 4, 11], 5, 1);
}

#[test]
fn below_stays_in_range() {
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    for n in 1..=17 {
        for _ in 0..200 {
            assert!(below(&mut rng, n) < n);
        }
    }
}

fn lease(n_blocks: u32) -> Result<Lease, LeaseError> {
    Lease::issue(
        LeaseId::new(Uuid::from_u128(1)),
        Stratum::new("BJ01", Uuid::from_u128(2)).unwrap(),
        counting_seed(),
        RandomisationConfig::standard(),
        n_blocks,
    )
}

#[test]
fn lease_issue_rejects_block_counts_out_of_range() {
    let out_of_range = |n_blocks| LeaseError::BlockCountOutOfRange {
        n_blocks,
        max: 1_000,
    };
    assert_eq!(lease(0), Err(out_of_range(0)));
    assert_eq!(lease(1_001), Err(out_of_range(1_001)));
    assert!(lease(1_000).is_ok());
}

fn check_resume(n_slots: u32, next_slot: u32, expected: Result<u32, LeaseError>) {
    let resumed = Lease::resume(
        LeaseId::new(Uuid::from_u128(1)),
        Stratum::new("BJ01", Uuid::from_u128(2)).unwrap(),
        counting_seed(),
        RandomisationConfig::standard(),
        n_slots,
        next_slot,
    );
    assert_eq!(
        resumed.map(|lease| lease.slots_left()),
        expected,
        "n_slots {n_slots}, next_slot {next_slot}"
    );
}

#[test]
fn lease_resume_checks_the_stored_state() {
    let boundaries: Vec<u32> = Blocks::new(&counting_seed(), &RandomisationConfig::standard())
        .take(3)
        .scan(0, |end, block| {
            *end += block.len() as u32;
            Some(*end)
        })
        .collect();
    let [first, second, third] = boundaries[..] else {
        unreachable!("three blocks were taken")
    };
    check_resume(first, 0, Ok(first));
    check_resume(third, second, Ok(third - second));
    check_resume(third, third, Ok(0));
    check_resume(
        third,
        third + 1,
        Err(LeaseError::NextSlotBeyondEnd {
            next_slot: third + 1,
            n_slots: third,
        }),
    );
    check_resume(
        0,
        0,
        Err(LeaseError::SlotCountOutOfRange {
            n_slots: 0,
            max: 6_000,
        }),
    );
    check_resume(
        6_001,
        0,
        Err(LeaseError::SlotCountOutOfRange {
            n_slots: 6_001,
            max: 6_000,
        }),
    );
    if second - first > 1 {
        check_resume(
            first + 1,
            0,
            Err(LeaseError::NotOnBlockBoundary {
                n_slots: first + 1,
                previous_boundary: first,
                next_boundary: second,
            }),
        );
    }
}

#[test]
fn lease_allocates_in_order_then_refuses() {
    let mut lease = lease(2).unwrap();
    let n_slots = lease.n_slots();
    let expected: Vec<Arm> = AllocationSequence::new(lease.seed(), lease.config())
        .take(n_slots as usize)
        .collect();
    for (slot, arm) in (0..n_slots).zip(expected) {
        let allocation = lease.allocate().unwrap();
        assert_eq!((allocation.slot(), allocation.arm()), (slot, arm));
        assert_eq!(lease.verify(slot, arm), Ok(()));
    }
    assert_eq!(lease.slots_left(), 0);
    assert_eq!(
        lease.allocate(),
        Err(LeaseError::Exhausted {
            lease: LeaseId::new(Uuid::from_u128(1)),
            n_slots
        })
    );
}

#[test]
fn lease_verify_flags_wrong_arms_and_slots() {
    let lease = lease(1).unwrap();
    let expected = arm_at(lease.seed(), lease.config(), 0);
    let other = if expected == Arm::Hemoperfusion {
        Arm::StandardCare
    } else {
        Arm::Hemoperfusion
    };
    let id = lease.id();
    assert_eq!(
        lease.verify(0, other),
        Err(VerifyError::ArmMismatch {
            lease: id,
            slot: 0,
            expected,
            reported: other
        })
    );
    let n_slots = lease.n_slots();
    assert_eq!(
        lease.verify(n_slots, expected),
        Err(VerifyError::SlotBeyondLease {
            lease: id,
            slot: n_slots,
            n_slots
        })
    );
}

fn check_stratum(site: &str, expected: Result<&str, StratumError>) {
    let stratum = Stratum::new(site, Uuid::nil());
    assert_eq!(
        stratum.as_ref().map(Stratum::site),
        expected.as_ref().map(|s| *s)
    );
}

#[test]
fn stratum_needs_a_site() {
    check_stratum("BJ01", Ok("BJ01"));
    check_stratum("", Err(StratumError::EmptySite));
    check_stratum("  ", Err(StratumError::EmptySite));
    check_stratum(
        &"x".repeat(65),
        Err(StratumError::SiteTooLong {
            length: 65,
            max: 64,
        }),
    );
    let json = r#"{"site":"","device":"00000000-0000-0000-0000-000000000000"}"#;
    let error = serde_json::from_str::<Stratum>(json).unwrap_err();
    assert_eq!(error.to_string(), StratumError::EmptySite.to_string());
}

#[test]
fn arm_names_match_serde() {
    for arm in Arm::ALL {
        assert_eq!(serde_json::to_string(&arm).unwrap(), format!("\"{arm}\""));
    }
}
