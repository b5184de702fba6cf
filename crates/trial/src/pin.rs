//! The PIN a user signs in with on a tablet, and the salted hash that lets the
//! tablet check it with no network.
//!
//! The server hashes a PIN when a coordinator creates the user and hands the hash to
//! every tablet it enrols (DESIGN.md, "Sync": "users sign in on the tablet with a PIN
//! that works offline"). Both sides call this module, so a hash made on the server
//! verifies on the tablet, in wasm32, byte for byte.
//!
//! # The hash (a wire promise)
//!
//! PBKDF2 with HMAC-SHA256 (RFC 8018) over the PIN's ASCII digits, with a random salt
//! of [`SALT_LEN`] bytes chosen per user and the iteration count stored beside the
//! hash, giving [`HASH_LEN`] bytes. Salt and hash cross the wire as lowercase hex.
//! Storing the count lets a later release raise it for new PINs while old hashes
//! still verify.
//!
//! # What it protects, honestly
//!
//! A PIN of 4 to 8 digits has at most 10⁸ values, so anyone who copies a hash can
//! find the PIN by trying them all, however many iterations are used. The cost per
//! try ([`MIN_ITERATIONS`] rounds, tens of milliseconds in a browser) slows that down
//! and keeps PINs out of plain sight in IndexedDB and in the network traffic; it is
//! not a secret vault. The tablet's own protection is its screen lock.
//!
//! The salt is an argument, never drawn here: this crate takes no entropy.

use std::fmt;

use pbkdf2::pbkdf2_hmac;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The fewest digits a PIN may have: PINs set before [`MIN_NEW_DIGITS`] applied
/// still sign in.
pub const MIN_DIGITS: usize = 4;
/// The fewest digits a new PIN may have: 10⁶ values, a hundred times the search a
/// copied hash of a 4-digit PIN takes.
pub const MIN_NEW_DIGITS: usize = 6;
/// The most digits a PIN may have.
pub const MAX_DIGITS: usize = 8;
/// The salt's length in bytes (128 bits, as NIST SP 800-132 asks).
pub const SALT_LEN: usize = 16;
/// The hash's length in bytes: one SHA-256 block of output.
pub const HASH_LEN: usize = 32;
/// The fewest PBKDF2 iterations a hash may use: what PINs were first hashed with.
/// Fewer would make a copied hash cheaper to try against every PIN.
pub const MIN_ITERATIONS: u32 = 100_000;
/// The iteration count new PINs are hashed with: the most a tablet-class CPU
/// checks in under half a second. The tablet checks with the browser's own
/// PBKDF2 (WebCrypto), which Chromium runs in 0.11 s at this count on the
/// machines here; four times that, a tablet-class CPU, is 0.43 s. (DevTools' CPU
/// throttling slows script and wasm, not WebCrypto, so it cannot measure this.)
/// Hashes made with fewer still verify: each stores its count, and a new PIN
/// gets this one.
pub const ITERATIONS: u32 = 1_000_000;
/// The most iterations a stored hash may ask for, so that a corrupted or hostile
/// record cannot make a tablet spin for minutes at sign-in.
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// Wrong PINs in a row a user may type before the tablet makes them wait.
pub const FREE_ATTEMPTS: u32 = 5;
/// The first wait, after [`FREE_ATTEMPTS`] wrong PINs; each further wrong PIN
/// doubles it.
pub const FIRST_WAIT_MS: i64 = 30_000;
/// The most doublings: 30 s × 2¹² is 34 hours, long enough to stop anyone trying
/// every PIN, short of overflowing.
const MAX_DOUBLINGS: u32 = 12;

/// One user's wrong PINs on one tablet, and the wait they impose, kept across
/// reloads so a reload does not reset the count. Trying every 6-digit PIN takes
/// 10⁶ tries: at 5 free and then doubling waits, a lost tablet gives up a PIN to
/// no one who has only its screen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinAttempts {
    /// Wrong PINs since the last right one.
    failures: u32,
    /// When the current wait began, in UTC milliseconds, and how long it is.
    waiting: Option<(i64, i64)>,
}

/// A wait that a wrong PIN has just imposed: what the tablet records and says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lockout {
    /// Wrong PINs in a row, this one included.
    pub failures: u32,
    /// How long the user must wait before the next try, in milliseconds.
    pub wait_ms: i64,
}

impl PinAttempts {
    /// Wrong PINs since the last right one.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// How long the user must still wait at `now_ms` before a PIN is even checked;
    /// `None` when they may try. A clock turned back never makes a wait longer
    /// than it was.
    pub fn wait_ms(&self, now_ms: i64) -> Option<i64> {
        let (since, length) = self.waiting?;
        let left = since.saturating_add(length).saturating_sub(now_ms);
        (left > 0).then(|| left.min(length))
    }

    /// The attempts after a wrong PIN at `now_ms`, and the wait it imposes, if
    /// any: none for the first [`FREE_ATTEMPTS`] - 1, then [`FIRST_WAIT_MS`],
    /// doubling with each further one.
    pub fn failed(self, now_ms: i64) -> (Self, Option<Lockout>) {
        let failures = self.failures.saturating_add(1);
        let lockout = Lockout::after(failures);
        let attempts = Self {
            failures,
            waiting: lockout.map(|lockout| (now_ms, lockout.wait_ms)),
        };
        (attempts, lockout)
    }
}

impl Lockout {
    /// The wait `failures` wrong PINs in a row impose, if any: the rule the
    /// tablet applies and the server checks a reported lockout against.
    pub fn after(failures: u32) -> Option<Self> {
        let doublings = failures.checked_sub(FREE_ATTEMPTS)?;
        Some(Self {
            failures,
            wait_ms: FIRST_WAIT_MS << doublings.min(MAX_DOUBLINGS),
        })
    }
}

/// A PIN as typed: 4 to 8 ASCII digits.
///
/// `Debug` prints `Pin(<concealed>)` and there is no `Display`, so a PIN never lands
/// in a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

/// The random per-user salt a PIN is hashed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinSalt([u8; SALT_LEN]);

/// A PIN's stored form: salt, iteration count and PBKDF2 output.
///
/// On the wire: `{"salt": "<32 hex>", "iterations": 100000, "hash": "<64 hex>"}`.
/// Deserialising checks the lengths and the iteration range, so a tablet never holds
/// a hash it cannot verify.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PinHashRepr", into = "PinHashRepr")]
pub struct PinHash {
    salt: PinSalt,
    iterations: u32,
    hash: [u8; HASH_LEN],
}

/// Occurs when typed text is not a PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinError {
    /// Occurs when the PIN has fewer than [`MIN_DIGITS`] or more than [`MAX_DIGITS`]
    /// characters.
    WrongLength {
        /// How many characters were typed.
        length: usize,
    },
    /// Occurs when a character is not one of the ASCII digits 0–9.
    NotADigit {
        /// Its position, counting from 0.
        index: usize,
    },
    /// Occurs when a new PIN has fewer than [`MIN_NEW_DIGITS`] digits.
    TooShortForNew {
        /// How many digits were typed.
        length: usize,
    },
}

/// Occurs when a stored PIN hash cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinHashError {
    /// Occurs when the iteration count is below [`MIN_ITERATIONS`] or above
    /// [`MAX_ITERATIONS`].
    IterationsOutOfRange {
        /// The count that was given.
        iterations: u32,
    },
    /// Occurs when the salt or the hash is not hex of the right length.
    BadHex {
        /// Which part: `"salt"` or `"hash"`.
        part: &'static str,
        /// The number of bytes expected.
        expected_bytes: usize,
    },
}

/// How a [`PinHash`] crosses the wire and sits in storage.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinHashRepr {
    salt: String,
    iterations: u32,
    hash: String,
}

impl Pin {
    /// Accepts 4 to 8 ASCII digits, nothing else (no spaces, no other scripts'
    /// digits: the keypad types ASCII).
    pub fn parse(text: &str) -> Result<Self, PinError> {
        let length = text.chars().count();
        if let Some(index) = text.chars().position(|c| !c.is_ascii_digit()) {
            return Err(PinError::NotADigit { index });
        }
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&length) {
            return Err(PinError::WrongLength { length });
        }
        Ok(Self(text.to_owned()))
    }

    /// Accepts a PIN being set now: [`MIN_NEW_DIGITS`] to [`MAX_DIGITS`] digits.
    pub fn parse_new(text: &str) -> Result<Self, PinError> {
        let pin = Self::parse(text)?;
        match pin.0.len() {
            length if length < MIN_NEW_DIGITS => Err(PinError::TooShortForNew { length }),
            _ => Ok(pin),
        }
    }

    /// The digits, for a hash function only: this module's PBKDF2, or the
    /// browser's (WebCrypto) on the tablet, the same function run natively.
    pub fn digits(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<concealed>)")
    }
}

impl PinSalt {
    /// Wraps random bytes the caller drew (the server from the OS, the tablet from
    /// WebCrypto).
    pub fn from_bytes(bytes: [u8; SALT_LEN]) -> Self {
        Self(bytes)
    }

    /// The salt's bytes.
    pub fn as_bytes(&self) -> &[u8; SALT_LEN] {
        &self.0
    }
}

impl PinHash {
    /// Hashes `pin` with `salt` and `iterations` rounds.
    pub fn new(pin: &Pin, salt: PinSalt, iterations: u32) -> Result<Self, PinHashError> {
        check_iterations(iterations)?;
        Ok(Self {
            salt,
            iterations,
            hash: derive(pin, &salt, iterations),
        })
    }

    /// A hash whose PBKDF2 output was computed elsewhere, with this module's
    /// construction: the tablet's WebCrypto, for a PIN set on the tablet.
    pub fn from_derived(
        salt: PinSalt,
        iterations: u32,
        hash: [u8; HASH_LEN],
    ) -> Result<Self, PinHashError> {
        check_iterations(iterations)?;
        Ok(Self {
            salt,
            iterations,
            hash,
        })
    }

    /// Whether `pin` is the PIN this hash was made from. The comparison takes the
    /// same time wherever the hashes differ.
    pub fn verify(&self, pin: &Pin) -> bool {
        self.matches(&derive(pin, &self.salt, self.iterations))
    }

    /// Whether `derived`, PBKDF2 of a typed PIN with this hash's salt and
    /// iterations computed elsewhere (the tablet's WebCrypto), is this hash. The
    /// comparison takes the same time wherever they differ.
    pub fn matches(&self, derived: &[u8]) -> bool {
        bool::from(derived.ct_eq(&self.hash[..]))
    }

    /// The salt it was made with.
    pub fn salt(&self) -> PinSalt {
        self.salt
    }

    /// The number of PBKDF2 rounds.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The PBKDF2 output.
    pub fn hash(&self) -> &[u8; HASH_LEN] {
        &self.hash
    }
}

/// Shows the parameters but not the hash itself, which is enough to brute-force the
/// PIN.
impl fmt::Debug for PinHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinHash")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

fn derive(pin: &Pin, salt: &PinSalt, iterations: u32) -> [u8; HASH_LEN] {
    let mut hash = [0; HASH_LEN];
    pbkdf2_hmac::<Sha256>(pin.digits(), &salt.0, iterations, &mut hash);
    hash
}

fn check_iterations(iterations: u32) -> Result<(), PinHashError> {
    if (MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        Ok(())
    } else {
        Err(PinHashError::IterationsOutOfRange { iterations })
    }
}

fn decode_hex<const N: usize>(text: &str, part: &'static str) -> Result<[u8; N], PinHashError> {
    let mut bytes = [0; N];
    hex::decode_to_slice(text, &mut bytes).map_err(|_| PinHashError::BadHex {
        part,
        expected_bytes: N,
    })?;
    Ok(bytes)
}

impl TryFrom<PinHashRepr> for PinHash {
    type Error = PinHashError;
    fn try_from(repr: PinHashRepr) -> Result<Self, Self::Error> {
        check_iterations(repr.iterations)?;
        Ok(Self {
            salt: PinSalt(decode_hex(&repr.salt, "salt")?),
            iterations: repr.iterations,
            hash: decode_hex(&repr.hash, "hash")?,
        })
    }
}

impl From<PinHash> for PinHashRepr {
    fn from(pin_hash: PinHash) -> Self {
        Self {
            salt: hex::encode(pin_hash.salt.0),
            iterations: pin_hash.iterations,
            hash: hex::encode(pin_hash.hash),
        }
    }
}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongLength { length } => write!(
                f,
                "a PIN is {MIN_DIGITS} to {MAX_DIGITS} digits; this one has {length}"
            ),
            Self::NotADigit { index } => write!(
                f,
                "a PIN is {MIN_DIGITS} to {MAX_DIGITS} digits; character {} is not a digit",
                index + 1
            ),
            Self::TooShortForNew { length } => write!(
                f,
                "a new PIN is {MIN_NEW_DIGITS} to {MAX_DIGITS} digits; this one has {length}"
            ),
        }
    }
}

impl std::error::Error for PinError {}

impl fmt::Display for PinHashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IterationsOutOfRange { iterations } => write!(
                f,
                "a PIN hash uses {MIN_ITERATIONS} to {MAX_ITERATIONS} iterations; \
                 this one asks for {iterations}"
            ),
            Self::BadHex {
                part,
                expected_bytes,
            } => write!(
                f,
                "a PIN hash's {part} is {} hex digits",
                expected_bytes * 2
            ),
        }
    }
}

impl std::error::Error for PinHashError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_parse(text: &str, expected: Result<(), PinError>) {
        assert_eq!(Pin::parse(text).map(drop), expected, "{text:?}");
    }

    #[test]
    fn a_pin_is_four_to_eight_ascii_digits() {
        check_parse("1234", Ok(()));
        check_parse("0000", Ok(()));
        check_parse("12345678", Ok(()));
        check_parse("", Err(PinError::WrongLength { length: 0 }));
        check_parse("123", Err(PinError::WrongLength { length: 3 }));
        check_parse("123456789", Err(PinError::WrongLength { length: 9 }));
        check_parse("12a4", Err(PinError::NotADigit { index: 2 }));
        check_parse(" 1234", Err(PinError::NotADigit { index: 0 }));
        check_parse("1234 ", Err(PinError::NotADigit { index: 4 }));
        // Full-width and Arabic-Indic digits are digits, but not the keypad's.
        check_parse("１２３４", Err(PinError::NotADigit { index: 0 }));
        check_parse("١٢٣٤", Err(PinError::NotADigit { index: 0 }));
    }

    #[test]
    fn a_new_pin_is_six_to_eight_digits_and_an_old_short_one_still_reads() {
        assert_eq!(
            Pin::parse_new("12345").map(drop),
            Err(PinError::TooShortForNew { length: 5 })
        );
        assert_eq!(Pin::parse_new("123456").map(drop), Ok(()));
        assert_eq!(
            Pin::parse_new("123456789").map(drop),
            Err(PinError::WrongLength { length: 9 })
        );
        assert_eq!(
            Pin::parse_new("12a456").map(drop),
            Err(PinError::NotADigit { index: 2 })
        );
        // A PIN set before the rule still signs in.
        assert_eq!(Pin::parse("1234").map(drop), Ok(()));
        assert_eq!(
            PinError::TooShortForNew { length: 4 }.to_string(),
            "a new PIN is 6 to 8 digits; this one has 4"
        );
    }

    #[test]
    fn errors_name_the_rule() {
        assert_eq!(
            PinError::WrongLength { length: 3 }.to_string(),
            "a PIN is 4 to 8 digits; this one has 3"
        );
        assert_eq!(
            PinError::NotADigit { index: 2 }.to_string(),
            "a PIN is 4 to 8 digits; character 3 is not a digit"
        );
    }

    #[test]
    fn five_wrong_pins_then_a_wait_that_doubles() {
        let mut attempts = PinAttempts::default();
        for n in 1..FREE_ATTEMPTS {
            let (next, lockout) = attempts.failed(1_000 * i64::from(n));
            assert_eq!((next.failures(), lockout), (n, None));
            assert_eq!(next.wait_ms(1_000 * i64::from(n)), None, "free try {n}");
            attempts = next;
        }
        let now = 10_000;
        let (fifth, lockout) = attempts.failed(now);
        assert_eq!(
            lockout,
            Some(Lockout {
                failures: 5,
                wait_ms: 30_000
            })
        );
        assert_eq!(fifth.wait_ms(now), Some(30_000));
        assert_eq!(fifth.wait_ms(now + 29_999), Some(1));
        assert_eq!(fifth.wait_ms(now + 30_000), None);
        // A clock turned back does not stretch the wait.
        assert_eq!(fifth.wait_ms(now - 3_600_000), Some(30_000));
        let (sixth, lockout) = fifth.failed(now + 30_000);
        assert_eq!(lockout.map(|l| l.wait_ms), Some(60_000));
        let (seventh, lockout) = sixth.failed(now + 90_000);
        assert_eq!(lockout.map(|l| l.wait_ms), Some(120_000));
        assert_eq!(seventh.failures(), 7);
        // It survives a reload as JSON, and stops doubling before it overflows.
        let json = serde_json::to_string(&seventh).unwrap();
        assert_eq!(serde_json::from_str::<PinAttempts>(&json).unwrap(), seventh);
        let mut many = seventh;
        for _ in 0..100 {
            many = many.failed(now).0;
        }
        assert_eq!(many.failed(now).1.map(|l| l.wait_ms), Some(30_000 << 12));
    }

    #[test]
    fn a_hash_derived_elsewhere_is_checked_like_one_made_here() {
        let salt = PinSalt::from_bytes([9; SALT_LEN]);
        let made = hash_of_2468();
        let derived = PinHash::from_derived(salt, ITERATIONS, *made.hash()).unwrap();
        assert_eq!(&derived, made);
        assert!(made.matches(made.hash()));
        let mut other = *made.hash();
        other[31] ^= 1;
        assert!(!made.matches(&other));
        assert!(
            !made.matches(&made.hash()[..31]),
            "a short output never matches"
        );
        assert_eq!(
            PinHash::from_derived(salt, MIN_ITERATIONS - 1, other),
            Err(PinHashError::IterationsOutOfRange {
                iterations: MIN_ITERATIONS - 1
            })
        );
    }

    /// Hashing takes seconds in a debug build, so the tests share one hash.
    fn hash_of_2468() -> &'static PinHash {
        static HASH: std::sync::OnceLock<PinHash> = std::sync::OnceLock::new();
        HASH.get_or_init(|| {
            let pin = Pin::parse("2468").unwrap();
            PinHash::new(&pin, PinSalt::from_bytes([9; SALT_LEN]), ITERATIONS).unwrap()
        })
    }

    #[test]
    fn debug_output_conceals_the_pin_and_the_hash() {
        assert_eq!(
            format!("{:?}", Pin::parse("4321").unwrap()),
            "Pin(<concealed>)"
        );
        let debug = format!("{:?}", hash_of_2468());
        assert_eq!(debug, "PinHash { iterations: 1000000, .. }");
    }

    #[test]
    fn verifies_the_right_pin_only() {
        assert!(hash_of_2468().verify(&Pin::parse("2468").unwrap()));
        assert!(!hash_of_2468().verify(&Pin::parse("2469").unwrap()));
    }

    #[test]
    fn the_salt_changes_the_hash() {
        let pin = Pin::parse("2468").unwrap();
        let other = PinHash::new(&pin, PinSalt::from_bytes([2; SALT_LEN]), ITERATIONS).unwrap();
        assert_ne!(other.hash(), hash_of_2468().hash());
    }

    /// Pins the construction: computed independently with Python's
    /// `hashlib.pbkdf2_hmac("sha256", b"1234", bytes(range(16)), 100000)`.
    #[test]
    fn golden_vector() {
        let salt: [u8; SALT_LEN] = std::array::from_fn(|index| index as u8);
        let hash = PinHash::new(
            &Pin::parse("1234").unwrap(),
            PinSalt::from_bytes(salt),
            100_000,
        )
        .unwrap();
        assert_eq!(hex::encode(hash.hash()), GOLDEN_1234);
        let json = serde_json::to_value(&hash).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "salt": "000102030405060708090a0b0c0d0e0f",
                "iterations": 100_000,
                "hash": GOLDEN_1234,
            })
        );
        assert_eq!(serde_json::from_value::<PinHash>(json).unwrap(), hash);
    }

    const GOLDEN_1234: &str = "869e6c8350c5beb0acc399fbaac3b60d220433896b26a647734d0d8f1586e1fa";

    #[test]
    fn iteration_count_is_bounded() {
        let pin = Pin::parse("1234").unwrap();
        let salt = PinSalt::from_bytes([0; SALT_LEN]);
        assert_eq!(
            PinHash::new(&pin, salt, 99_999),
            Err(PinHashError::IterationsOutOfRange { iterations: 99_999 })
        );
        assert_eq!(
            PinHash::new(&pin, salt, MAX_ITERATIONS + 1),
            Err(PinHashError::IterationsOutOfRange {
                iterations: MAX_ITERATIONS + 1
            })
        );
    }

    fn check_deserialise(json: serde_json::Value, expected_error: &str) {
        let error = serde_json::from_value::<PinHash>(json.clone()).unwrap_err();
        assert!(
            error.to_string().contains(expected_error),
            "{json}: {error}"
        );
    }

    #[test]
    fn deserialising_refuses_hashes_that_cannot_verify() {
        let salt = "00".repeat(SALT_LEN);
        let hash = "00".repeat(HASH_LEN);
        check_deserialise(
            serde_json::json!({"salt": salt, "iterations": 1000, "hash": hash}),
            "100000 to 10000000 iterations; this one asks for 1000",
        );
        check_deserialise(
            serde_json::json!({"salt": "00", "iterations": 100_000, "hash": hash}),
            "salt is 32 hex digits",
        );
        check_deserialise(
            serde_json::json!({"salt": salt, "iterations": 100_000, "hash": "zz"}),
            "hash is 64 hex digits",
        );
        check_deserialise(
            serde_json::json!({"salt": salt, "iterations": 100_000, "hash": hash, "pin": "1234"}),
            "unknown field `pin`",
        );
    }
}
