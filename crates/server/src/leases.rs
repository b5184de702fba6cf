//! Allocation leases as the server issues them (DESIGN.md, "Randomisation").
//!
//! Each site has one secret, 32 random bytes made the first time the site needs a
//! lease and never changed; the seed of a lease is HMAC-SHA-256 of that secret over
//! the lease id's 16 bytes. So the server stores no seed, yet regenerates any
//! lease's list from its id to verify what a tablet reports, and a copy of the
//! leases table alone reveals no list (a copy of the whole database does: the
//! secret is in it, beside the data it protects, so backups need the same care).
//! A changed or lost secret would change every list, so the secret is append-only
//! in the database.
//!
//! A lease is [`trial::wire::LEASE_BLOCKS`] whole blocks of the standard
//! configuration, stratified by site and device. A device is given a new one when
//! fewer than [`trial::wire::LEASE_LOW_WATER`] of its slots are left unused, as the
//! server counts them from the randomisations the device pushed: past the highest
//! slot it reported from each lease, flagged or not, since the tablet used it.

use std::fmt;

use anyhow::{Context, Result};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use trial::randomisation::{Lease, LeaseId, RandomisationConfig, Seed, Stratum};
use trial::wire::{LEASE_BLOCKS, LEASE_LOW_WATER};
use uuid::Uuid;

use crate::secrets;

/// A site's secret, from which every seed of its leases is derived. `Debug` shows
/// nothing and there is no `Display`: it is as revealing as every list at once.
#[derive(Clone, PartialEq, Eq)]
pub struct SiteSecret([u8; 32]);

/// What issuing a lease needs that the caller must draw: a new id, and a secret
/// for the site should it have none yet (the store keeps the first one stored).
#[derive(Debug)]
pub struct FreshLease {
    /// The new lease's id.
    pub id: LeaseId,
    /// The site's secret if it has none yet.
    pub candidate_secret: SiteSecret,
}

/// A lease as the server records it: everything but the seed, which is derived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRecord {
    /// The lease's id.
    pub id: LeaseId,
    /// The site of its stratum.
    pub site_code: String,
    /// The device it was issued to.
    pub device_id: Uuid,
    /// The block sizes of its list.
    pub config: RandomisationConfig,
    /// How many slots it holds.
    pub n_slots: u32,
}

impl SiteSecret {
    /// A new secret from the operating system's generator.
    pub fn draw() -> Result<Self> {
        Ok(Self(secrets::random_bytes()?))
    }

    /// Reads a stored secret: 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self> {
        let mut bytes = [0; 32];
        // The error never quotes the text, which may be the secret.
        hex::decode_to_slice(text, &mut bytes)
            .map_err(|error| anyhow::anyhow!("{error}"))
            .context("a stored site secret is not 64 hex digits")?;
        Ok(Self(bytes))
    }

    /// The secret as stored.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The seed of the lease `id`: HMAC-SHA-256(secret, id's 16 bytes).
    pub fn seed(&self, id: LeaseId) -> Seed {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(id.as_uuid().as_bytes());
        Seed::from_bytes(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for SiteSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SiteSecret(<concealed>)")
    }
}

impl FreshLease {
    /// A new id (UUID v7, so leases sort by issue) and a candidate secret.
    pub fn draw() -> Result<Self> {
        Ok(Self {
            id: LeaseId::new(Uuid::now_v7()),
            candidate_secret: SiteSecret::draw()?,
        })
    }

    /// Issues the lease for `device_id` of `site_code` with the site's `secret`.
    pub fn issue(&self, secret: &SiteSecret, site_code: &str, device_id: Uuid) -> Result<Lease> {
        let stratum = Stratum::new(site_code, device_id)
            .with_context(|| format!("site {site_code} cannot name a stratum"))?;
        Lease::issue(
            self.id,
            stratum,
            secret.seed(self.id),
            RandomisationConfig::standard(),
            LEASE_BLOCKS,
        )
        .with_context(|| format!("cannot issue lease {}", self.id))
    }
}

impl LeaseRecord {
    /// What to record of an issued lease.
    pub fn of(lease: &Lease) -> Self {
        Self {
            id: lease.id(),
            site_code: lease.stratum().site().to_owned(),
            device_id: lease.stratum().device(),
            config: lease.config().clone(),
            n_slots: lease.n_slots(),
        }
    }

    /// The lease again, its list regenerated from the site's secret, with its next
    /// slot after `last_used` (the highest slot its device reported, if any). A
    /// reported slot past the end, which verification flags, leaves no slot.
    pub fn regenerate(&self, secret: &SiteSecret, last_used: Option<u32>) -> Result<Lease> {
        let stratum = Stratum::new(self.site_code.as_str(), self.device_id)
            .with_context(|| format!("lease {} names no valid stratum", self.id))?;
        let next_slot = last_used.map_or(0, |slot| slot.saturating_add(1).min(self.n_slots));
        Lease::resume(
            self.id,
            stratum,
            secret.seed(self.id),
            self.config.clone(),
            self.n_slots,
            next_slot,
        )
        .with_context(|| format!("stored lease {} does not match its list", self.id))
    }
}

/// Whether a device holding these leases should be given another: fewer than
/// [`LEASE_LOW_WATER`] slots left in all of them together.
pub fn needs_top_up(leases: &[Lease]) -> bool {
    let left: u32 = leases.iter().map(Lease::slots_left).sum();
    left < LEASE_LOW_WATER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Golden {
        site_secret_hex: String,
        lease_id: LeaseId,
        seed_hex: String,
    }

    #[test]
    fn the_seed_is_the_hmac_of_the_lease_id() {
        let golden: Golden =
            serde_json::from_str(include_str!("../tests/fixtures/sealed_seed.json")).unwrap();
        let secret = SiteSecret::from_hex(&golden.site_secret_hex).unwrap();
        assert_eq!(
            hex::encode(secret.seed(golden.lease_id).as_bytes()),
            golden.seed_hex
        );
        assert_eq!(secret.to_hex(), golden.site_secret_hex);
        assert_eq!(format!("{secret:?}"), "SiteSecret(<concealed>)");
        let error = SiteSecret::from_hex(&golden.seed_hex[..10]).unwrap_err();
        assert!(!format!("{error:#}").contains(&golden.seed_hex[..10]));
    }

    fn issued(secret: &SiteSecret) -> Lease {
        FreshLease {
            id: LeaseId::new(Uuid::from_u128(1)),
            candidate_secret: SiteSecret([0; 32]),
        }
        .issue(secret, "BJ", Uuid::from_u128(2))
        .unwrap()
    }

    #[test]
    fn a_recorded_lease_regenerates_its_list() {
        let secret = SiteSecret([9; 32]);
        let lease = issued(&secret);
        assert!(lease.n_slots() >= 2 * LEASE_BLOCKS && lease.n_slots() <= 6 * LEASE_BLOCKS);
        let record = LeaseRecord::of(&lease);
        assert_eq!(record.regenerate(&secret, None).unwrap(), lease);
        let n_slots = lease.n_slots();
        let resumed = |last| record.regenerate(&secret, last).unwrap().next_slot();
        assert_eq!(resumed(Some(0)), 1);
        assert_eq!(resumed(Some(n_slots - 1)), n_slots);
        assert_eq!(resumed(Some(n_slots + 5)), n_slots);
        assert_eq!(resumed(Some(u32::MAX)), n_slots);
        // Another site's secret gives another list, which no longer ends on the
        // recorded block boundary (or does, by chance, with other arms).
        match record.regenerate(&SiteSecret([8; 32]), None) {
            Ok(other) => assert_ne!(other.seed(), lease.seed()),
            Err(error) => assert!(format!("{error:#}").contains("inside a block"), "{error:#}"),
        }
    }

    #[test]
    fn top_up_below_the_low_water_mark() {
        let secret = SiteSecret([9; 32]);
        let lease = issued(&secret);
        let record = LeaseRecord::of(&lease);
        let n_slots = lease.n_slots();
        let with_left = |left: u32| {
            record
                .regenerate(&secret, (n_slots - left).checked_sub(1))
                .unwrap()
        };
        assert!(needs_top_up(&[]));
        assert!(!needs_top_up(&[with_left(n_slots)]));
        assert!(!needs_top_up(&[with_left(LEASE_LOW_WATER)]));
        assert!(needs_top_up(&[with_left(LEASE_LOW_WATER - 1)]));
        assert!(!needs_top_up(&[
            with_left(LEASE_LOW_WATER - 1),
            with_left(1)
        ]));
        assert!(needs_top_up(&[with_left(0), with_left(0)]));
    }
}
