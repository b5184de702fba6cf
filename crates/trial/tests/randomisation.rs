//! Properties the allocation list must have for every seed and configuration:
//! balanced blocks, bounded imbalance, reproducibility, fair first arms and block
//! sizes, and leases that hand out exactly their slots in order.

use proptest::prelude::*;
use proptest::sample::subsequence;
use sha2::{Digest, Sha256};
use trial::randomisation::{
    AllocationSequence, Arm, Blocks, Lease, LeaseError, LeaseId, RandomisationConfig, Seed,
    Stratum, arm_at,
};
use uuid::Uuid;

/// Every valid configuration: a non-empty set of even sizes from 2 to 16.
fn any_config() -> impl Strategy<Value = RandomisationConfig> {
    subsequence(vec![2, 4, 6, 8, 10, 12, 14, 16], 1..=8)
        .prop_map(|sizes| RandomisationConfig::new(sizes).expect("even, distinct, 2 to 16"))
}

fn any_seed() -> impl Strategy<Value = Seed> {
    any::<[u8; 32]>().prop_map(Seed::from_bytes)
}

/// The `index`-th of a fixed family of seeds, with no OS randomness.
fn numbered_seed(index: u32) -> Seed {
    Seed::from_bytes(Sha256::digest(index.to_be_bytes()).into())
}

fn count(arms: &[Arm], arm: Arm) -> usize {
    arms.iter().filter(|&&other| other == arm).count()
}

fn lease(seed: Seed, config: RandomisationConfig, n_blocks: u32) -> Lease {
    Lease::issue(
        LeaseId::new(Uuid::from_u128(0x1ea5e)),
        Stratum::new("BJ01", Uuid::from_u128(0xde1ce)).unwrap(),
        seed,
        config,
        n_blocks,
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_block_is_balanced_and_of_a_configured_size(
        seed in any_seed(),
        config in any_config(),
    ) {
        for block in Blocks::new(&seed, &config).take(40) {
            let size = u32::try_from(block.len()).unwrap();
            prop_assert!(config.block_sizes().contains(&size), "block size {size}");
            prop_assert_eq!(
                count(&block, Arm::Hemoperfusion),
                count(&block, Arm::StandardCare)
            );
        }
    }

    #[test]
    fn arms_never_drift_apart_by_more_than_half_the_largest_block(
        seed in any_seed(),
        config in any_config(),
    ) {
        let max_imbalance = i64::from(config.largest_block() / 2);
        let mut imbalance = 0_i64;
        for (slot, arm) in AllocationSequence::new(&seed, &config).take(400).enumerate() {
            imbalance += match arm {
                Arm::Hemoperfusion => 1,
                Arm::StandardCare => -1,
            };
            prop_assert!(
                imbalance.abs() <= max_imbalance,
                "imbalance {imbalance} after slot {slot}"
            );
        }
    }

    #[test]
    fn the_same_seed_always_gives_the_same_list(
        seed_bytes in any::<[u8; 32]>(),
        config in any_config(),
        slot in 0_u32..200,
    ) {
        let first: Vec<Arm> =
            AllocationSequence::new(&Seed::from_bytes(seed_bytes), &config).take(200).collect();
        let second: Vec<Arm> =
            AllocationSequence::new(&Seed::from_bytes(seed_bytes), &config).take(200).collect();
        prop_assert_eq!(&first, &second);
        let flattened: Vec<Arm> =
            Blocks::new(&Seed::from_bytes(seed_bytes), &config).flatten().take(200).collect();
        prop_assert_eq!(&first, &flattened);
        prop_assert_eq!(arm_at(&Seed::from_bytes(seed_bytes), &config, slot), first[slot as usize]);
    }

    #[test]
    fn a_lease_hands_out_exactly_its_slots_in_list_order(
        seed in any_seed(),
        config in any_config(),
        n_blocks in 1_u32..=8,
        resume_fraction in 0.0..=1.0_f64,
    ) {
        let mut issued = lease(seed.clone(), config.clone(), n_blocks);
        let n_slots = issued.n_slots();
        let block_ends: u32 = Blocks::new(&seed, &config)
            .take(n_blocks as usize)
            .map(|block| u32::try_from(block.len()).unwrap())
            .sum();
        prop_assert_eq!(n_slots, block_ends);

        let list: Vec<Arm> = AllocationSequence::new(&seed, &config)
            .take(n_slots as usize)
            .collect();
        let mut allocated = Vec::new();
        while let Ok(allocation) = issued.allocate() {
            prop_assert_eq!(allocation.lease(), issued.id());
            prop_assert_eq!(allocation.slot(), u32::try_from(allocated.len()).unwrap());
            prop_assert_eq!(issued.verify(allocation.slot(), allocation.arm()), Ok(()));
            allocated.push(allocation.arm());
        }
        prop_assert_eq!(&allocated, &list);
        prop_assert_eq!(
            issued.allocate(),
            Err(LeaseError::Exhausted { lease: issued.id(), n_slots })
        );

        // A lease rebuilt from stored state at any point carries on identically.
        let next_slot = (f64::from(n_slots) * resume_fraction) as u32;
        let mut resumed = Lease::resume(
            issued.id(),
            issued.stratum().clone(),
            seed,
            config,
            n_slots,
            next_slot,
        )
        .unwrap();
        prop_assert_eq!(resumed.slots_left(), n_slots - next_slot);
        let continued: Vec<Arm> =
            std::iter::from_fn(|| resumed.allocate().ok().map(|allocation| allocation.arm()))
                .collect();
        prop_assert_eq!(&continued[..], &list[next_slot as usize..]);
    }
}

#[test]
fn the_first_allocation_is_hemoperfusion_half_the_time() {
    let config = RandomisationConfig::standard();
    let hemoperfusion_first = (0..10_000)
        .filter(|&index| arm_at(&numbered_seed(index), &config, 0) == Arm::Hemoperfusion)
        .count();
    // 5,000 expected, standard deviation 50: ±200 is four of them.
    assert!(
        (4_800..=5_200).contains(&hemoperfusion_first),
        "hemoperfusion first for {hemoperfusion_first} of 10,000 seeds"
    );
}

fn check_block_size_frequencies(block_sizes: Vec<u32>) {
    let config = RandomisationConfig::new(block_sizes).unwrap();
    let n_blocks = 30_000;
    let mut counts = vec![0_usize; config.block_sizes().len()];
    for index in 0..10 {
        for block in Blocks::new(&numbered_seed(index), &config).take(n_blocks / 10) {
            let size = u32::try_from(block.len()).unwrap();
            let size_idx = config
                .block_sizes()
                .iter()
                .position(|&s| s == size)
                .unwrap();
            counts[size_idx] += 1;
        }
    }
    let expected = 1.0 / counts.len() as f64;
    for (size, count) in config.block_sizes().iter().zip(counts) {
        let share = count as f64 / n_blocks as f64;
        assert!(
            (share - expected).abs() <= 0.02,
            "block size {size} made {share:.4} of blocks; {expected:.4} ± 0.02 expected"
        );
    }
}

#[test]
fn block_sizes_are_equally_likely() {
    check_block_size_frequencies(vec![2, 4, 6]);
    check_block_size_frequencies(vec![4, 8]);
    check_block_size_frequencies(vec![2, 4, 6, 8, 10]);
}
