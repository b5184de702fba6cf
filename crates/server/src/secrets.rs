//! The server's secrets: device tokens, enrolment codes, first PINs and PIN salts,
//! drawn from the operating system's generator (as are site secrets and sealing
//! keys, in `leases` and `seal`), and the hashes that stand in for
//! them in the database.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use trial::pin::{self, Pin, PinHash, PinSalt};
use trial::wire::{ENROLMENT_CODE_ALPHABET, ENROLMENT_CODE_LEN, EnrolmentCode};

/// The digits of a PIN the server makes up (for the first user).
const GENERATED_PIN_DIGITS: usize = 6;

/// A new device token: 256 random bits as 64 hex digits.
pub fn new_device_token() -> Result<String> {
    Ok(hex::encode(random_bytes::<32>()?))
}

/// SHA-256 as lowercase hex: how tokens and enrolment codes are stored. Both are
/// random, so a fast hash suffices (no salt, no stretching); it only keeps a copy of
/// the database from being a copy of the keys.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new one-time enrolment code: 8 characters from a 31-character alphabet,
/// about 40 bits, enough for a code that works once and expires within a day.
pub fn new_enrolment_code() -> Result<EnrolmentCode> {
    let alphabet = ENROLMENT_CODE_ALPHABET.as_bytes();
    let text: String = uniform_indices(alphabet.len(), ENROLMENT_CODE_LEN)?
        .into_iter()
        .map(|index| char::from(alphabet[index]))
        .collect();
    EnrolmentCode::parse(&text).context("a generated enrolment code does not parse")
}

/// A new PIN of six random digits, as text so it can be shown once.
pub fn new_pin_digits() -> Result<String> {
    Ok(uniform_indices(10, GENERATED_PIN_DIGITS)?
        .into_iter()
        .map(|digit| char::from(b'0' + digit as u8))
        .collect())
}

/// Hashes a PIN with a fresh random salt and the current iteration count.
pub fn hash_pin(pin: &Pin) -> Result<PinHash> {
    let salt = PinSalt::from_bytes(random_bytes()?);
    PinHash::new(pin, salt, pin::ITERATIONS).context("cannot hash a PIN")
}

/// `N` bytes from the operating system's generator: the entropy behind every
/// secret, site secret, ephemeral key and nonce of the server.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes)
        .map_err(|error| anyhow::anyhow!("{error}"))
        .context("the operating system's random number generator failed")?;
    Ok(bytes)
}

/// `count` uniform draws from `0..n` (n ≤ 256), by rejection: a byte is used only
/// below the largest multiple of `n`, so no value is likelier than another.
fn uniform_indices(n: usize, count: usize) -> Result<Vec<usize>> {
    let limit = 256 - 256 % n;
    let mut indices = Vec::with_capacity(count);
    while indices.len() < count {
        for byte in random_bytes::<32>()? {
            if usize::from(byte) < limit && indices.len() < count {
                indices.push(usize::from(byte) % n);
            }
        }
    }
    Ok(indices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_have_their_shapes() {
        let token = new_device_token().unwrap();
        assert_eq!(token.len(), 64);
        assert_ne!(token, new_device_token().unwrap());
        let code = new_enrolment_code().unwrap();
        assert_eq!(code.to_string().len(), 9);
        let digits = new_pin_digits().unwrap();
        assert_eq!(digits.len(), 6);
        assert!(Pin::parse(&digits).is_ok());
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn draws_cover_the_whole_alphabet() {
        let draws = uniform_indices(31, 31 * 200).unwrap();
        for index in 0..31 {
            assert!(draws.contains(&index), "{index} never drawn");
        }
        assert!(draws.iter().all(|&index| index < 31));
    }
}
