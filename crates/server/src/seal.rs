//! Sealing a lease's seed to one tablet, as `trial::wire::SealedSeed` specifies:
//! ECDH P-256 with a fresh ephemeral key, HKDF-SHA-256 (salt: the lease id's 16
//! bytes, info: `SEAL_INFO`), AES-256-GCM with a random nonce and the lease id as
//! additional data.
//!
//! The tablet opens the seed with WebCrypto and a private key it cannot export, so
//! neither its storage nor the network ever holds a list in the clear (DESIGN.md,
//! "Randomisation"). The construction is a wire promise:
//! `tests/fixtures/sealed_seed.json` is a golden vector made independently of this
//! code, which the tests here reproduce byte for byte and which the app's browser
//! test opens with WebCrypto.

use std::fmt;

use aes_gcm::aead::Nonce;
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use anyhow::Result;
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;
use trial::randomisation::{Lease, LeaseId, Seed};
use trial::wire::{SEAL_INFO, SealedLease, SealedSeed};

use crate::secrets;

/// The length of a WebCrypto raw P-256 public key: `0x04`, then x and y.
const UNCOMPRESSED_POINT_BYTES: usize = 65;

/// A tablet's ECDH P-256 public key, as it sent it at enrolment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TabletKey(PublicKey);

/// Occurs when an enrolment's public key is not one a seed can be sealed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TabletKeyError {
    /// Occurs when the text is not hex.
    NotHex,
    /// Occurs when the key is not 65 bytes starting with `0x04`, the uncompressed
    /// form WebCrypto's `exportKey("raw")` gives.
    WrongForm {
        /// How many bytes the hex held.
        length: usize,
    },
    /// Occurs when the coordinates are not a point of P-256 (or are its identity).
    OffCurve,
}

/// What one sealing needs that must be fresh each time: an ephemeral key pair and
/// a nonce. Drawn before the seed exists, so that an enrolment cannot fail for want
/// of randomness after its transaction committed.
pub struct Sealing {
    ephemeral: SecretKey,
    nonce: [u8; 12],
}

impl TabletKey {
    /// Reads the lowercase (or uppercase) hex of an uncompressed P-256 point.
    pub fn parse(text: &str) -> Result<Self, TabletKeyError> {
        let bytes = hex::decode(text).map_err(|_| TabletKeyError::NotHex)?;
        if bytes.len() != UNCOMPRESSED_POINT_BYTES || bytes[0] != 0x04 {
            return Err(TabletKeyError::WrongForm {
                length: bytes.len(),
            });
        }
        PublicKey::from_sec1_bytes(&bytes)
            .map(Self)
            .map_err(|_| TabletKeyError::OffCurve)
    }

    /// The key as stored: lowercase hex of the uncompressed point.
    pub fn to_hex(self) -> String {
        hex::encode(self.0.to_uncompressed_point())
    }
}

impl fmt::Display for TabletKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expected = "an ECDH P-256 public key as WebCrypto exports it raw: 130 hex digits \
                        (65 bytes, uncompressed, starting 04)";
        match self {
            Self::NotHex => write!(f, "not hex; expected {expected}"),
            Self::WrongForm { length } => {
                write!(f, "{length} bytes; expected {expected}")
            }
            Self::OffCurve => write!(f, "not a point of the P-256 curve; expected {expected}"),
        }
    }
}

impl Sealing {
    /// A new ephemeral key and nonce from the operating system's generator.
    pub fn draw() -> Result<Self> {
        // A random 256-bit string is a valid P-256 scalar unless it is zero or
        // above the group order: about one draw in 2³², so the loop all but never
        // repeats.
        let ephemeral = loop {
            if let Ok(key) = SecretKey::from_slice(&secrets::random_bytes::<32>()?) {
                break key;
            }
        };
        Ok(Self {
            ephemeral,
            nonce: secrets::random_bytes()?,
        })
    }

    /// Seals a seed for the lease `lease_id` to `tablet`, step by step as
    /// `trial::wire::SealedSeed` says.
    pub fn seal(self, seed: &Seed, lease_id: LeaseId, tablet: &TabletKey) -> SealedSeed {
        let salt = lease_id.as_uuid().into_bytes();
        let shared = self.ephemeral.diffie_hellman(&tablet.0);
        let mut key = [0; 32];
        Hkdf::<Sha256>::new(Some(&salt), shared.raw_secret_bytes())
            .expand(SEAL_INFO, &mut key)
            .expect("32 bytes are within HKDF-SHA-256's output limit");
        let mut sealed = [0; 48];
        let (text, tag) = sealed.split_at_mut(32);
        text.copy_from_slice(seed.as_bytes());
        let computed = Aes256Gcm::new(&key.into())
            .encrypt_inout_detached(&Nonce::<Aes256Gcm>::from(self.nonce), &salt, text.into())
            .expect("32 bytes are within AES-GCM's message limit");
        tag.copy_from_slice(&computed);
        SealedSeed {
            ephemeral_public_key: hex::encode(self.ephemeral.public_key().to_uncompressed_point()),
            nonce: hex::encode(self.nonce),
            ciphertext: hex::encode(sealed),
        }
    }

    /// The lease as its tablet receives it: everything in the clear but the seed.
    pub fn seal_lease(self, lease: &Lease, tablet: &TabletKey) -> SealedLease {
        SealedLease {
            lease_id: lease.id(),
            site: lease.stratum().site().to_owned(),
            device_id: lease.stratum().device(),
            block_sizes: lease.config().block_sizes().to_vec(),
            n_slots: lease.n_slots(),
            seed: self.seal(lease.seed(), lease.id(), tablet),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The golden vector's fields this side needs.
    #[derive(serde::Deserialize)]
    struct Golden {
        tablet_public_key_hex: String,
        lease_id: LeaseId,
        seed_hex: String,
        ephemeral_private_key_hex: String,
        sealed_seed: SealedSeed,
    }

    fn golden() -> Golden {
        serde_json::from_str(include_str!("../tests/fixtures/sealed_seed.json")).unwrap()
    }

    #[test]
    fn sealing_reproduces_the_golden_vector() {
        let golden = golden();
        let sealing = Sealing {
            ephemeral: SecretKey::from_slice(
                &hex::decode(&golden.ephemeral_private_key_hex).unwrap(),
            )
            .unwrap(),
            nonce: hex::decode(&golden.sealed_seed.nonce)
                .unwrap()
                .try_into()
                .unwrap(),
        };
        let seed = Seed::from_bytes(hex::decode(&golden.seed_hex).unwrap().try_into().unwrap());
        let tablet = TabletKey::parse(&golden.tablet_public_key_hex).unwrap();
        assert_eq!(
            sealing.seal(&seed, golden.lease_id, &tablet),
            golden.sealed_seed
        );
    }

    #[test]
    fn every_sealing_is_fresh() {
        let golden = golden();
        let seed = Seed::from_bytes([7; 32]);
        let tablet = TabletKey::parse(&golden.tablet_public_key_hex).unwrap();
        let first = Sealing::draw()
            .unwrap()
            .seal(&seed, golden.lease_id, &tablet);
        let second = Sealing::draw()
            .unwrap()
            .seal(&seed, golden.lease_id, &tablet);
        assert_ne!(first.ephemeral_public_key, second.ephemeral_public_key);
        assert_ne!(first.nonce, second.nonce);
        assert_ne!(first.ciphertext, second.ciphertext);
        assert_eq!(
            (
                first.ephemeral_public_key.len(),
                first.nonce.len(),
                first.ciphertext.len()
            ),
            (130, 24, 96)
        );
    }

    fn check_key(text: &str, expected: Result<(), TabletKeyError>) {
        assert_eq!(TabletKey::parse(text).map(drop), expected, "{text:?}");
    }

    #[test]
    fn tablet_keys_are_uncompressed_points_of_the_curve() {
        let golden = golden().tablet_public_key_hex;
        check_key(&golden, Ok(()));
        check_key(&golden.to_uppercase(), Ok(()));
        assert_eq!(
            TabletKey::parse(&golden.to_uppercase()).unwrap().to_hex(),
            golden
        );
        check_key("", Err(TabletKeyError::WrongForm { length: 0 }));
        check_key("zz", Err(TabletKeyError::NotHex));
        check_key(&golden[..66], Err(TabletKeyError::WrongForm { length: 33 }));
        // The same x with the compressed form's prefix.
        let compressed = format!("02{}", &golden[2..66]);
        check_key(&compressed, Err(TabletKeyError::WrongForm { length: 33 }));
        // y changed: no longer on the curve.
        let last = if golden.ends_with('0') { "1" } else { "0" };
        let off_curve = format!("{}{last}", &golden[..129]);
        check_key(&off_curve, Err(TabletKeyError::OffCurve));
        check_key(
            &format!("04{}", "0".repeat(128)),
            Err(TabletKeyError::OffCurve),
        );
    }
}
