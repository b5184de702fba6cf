//! Keeping allocation seeds concealed on the tablet, with WebCrypto.
//!
//! The tablet holds two keys that WebCrypto generated as non-extractable: stored in
//! IndexedDB as `CryptoKey`s, usable by this origin's code, but their bytes can
//! never be read out. Training seeds, generated here, are sealed under an AES-GCM
//! device key; live seeds arrive sealed by the server to the tablet's ECDH P-256
//! key pair (the construction `trial::wire::SealedSeed` describes) and are stored
//! as they came. Either is opened only at the randomise step, so a look at
//! IndexedDB or the network never reveals a future arm. The limit, stated honestly
//! (DESIGN.md): this stops a curious user, not someone who scripts the app's own
//! origin.

use js_sys::{Array, Object, Reflect, Uint8Array};
use trial::pin::{HASH_LEN, ITERATIONS, Pin, PinHash, PinSalt, SALT_LEN};
use trial::randomisation::{LeaseId, Seed};
use trial::wire::{SEAL_INFO, SealedSeed};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AesGcmParams, AesKeyGenParams, CryptoKey, EcKeyGenParams, EcKeyImportParams,
    EcdhKeyDeriveParams, HkdfParams, Pbkdf2Params, SubtleCrypto,
};

use crate::store::{KeySlot, LeaseSeal, LocallySealed, Store, StoreError};

const AES_GCM: &str = "AES-GCM";
const ECDH: &str = "ECDH";
const P256: &str = "P-256";

/// Why a seed could not be sealed or opened.
#[derive(Clone, Debug)]
pub enum CryptoError {
    /// Occurs when the browser has no WebCrypto (an insecure context: not HTTPS and
    /// not localhost).
    Unavailable,
    /// Occurs when WebCrypto refuses an operation; for opening, a seed sealed under
    /// another key or altered in storage.
    Refused(String),
    /// Occurs when the device key cannot be stored or read.
    Store(StoreError),
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable => {
                f.write_str("WebCrypto is unavailable (open the app over HTTPS or localhost)")
            }
            Self::Refused(message) => write!(f, "WebCrypto refused: {message}"),
            Self::Store(error) => error.fmt(f),
        }
    }
}

impl From<StoreError> for CryptoError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Whether `pin` is the PIN of `hash`, checked with the browser's own PBKDF2:
/// the core's construction (`trial::pin`), run natively, several times faster
/// than wasm, so a tablet can afford the iterations a lost hash needs.
pub async fn pin_matches(hash: &PinHash, pin: &Pin) -> Result<bool, CryptoError> {
    let derived = pbkdf2(pin, &hash.salt(), hash.iterations()).await?;
    Ok(hash.matches(&derived))
}

/// A new PIN's hash, with a fresh random salt and the core's iteration count.
pub async fn hash_new_pin(pin: &Pin) -> Result<PinHash, CryptoError> {
    let mut salt = [0u8; SALT_LEN];
    fill_random(&mut salt)?;
    let salt = PinSalt::from_bytes(salt);
    let derived = pbkdf2(pin, &salt, ITERATIONS).await?;
    PinHash::from_derived(salt, ITERATIONS, derived)
        .map_err(|error| CryptoError::Refused(error.to_string()))
}

/// PBKDF2-HMAC-SHA256 of the PIN's digits, `HASH_LEN` bytes, by WebCrypto.
async fn pbkdf2(pin: &Pin, salt: &PinSalt, iterations: u32) -> Result<[u8; HASH_LEN], CryptoError> {
    derive_bits(pin.digits(), &salt.as_bytes()[..], iterations).await
}

/// PBKDF2-HMAC-SHA256 of `secret`, `N` bytes, by the browser's own PBKDF2: many
/// times faster than wasm, so the iterations a stolen hash or file needs stay
/// affordable on a tablet.
pub(crate) async fn derive_bits<const N: usize>(
    secret: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Result<[u8; N], CryptoError> {
    let subtle = subtle()?;
    let usages = Array::of1(&JsValue::from_str("deriveBits"));
    let secret = Uint8Array::from(secret);
    let promise = subtle
        .import_key_with_str("raw", &secret, "PBKDF2", false, &usages)
        .map_err(refused)?;
    let key: CryptoKey = JsFuture::from(promise)
        .await
        .map_err(refused)?
        .unchecked_into();
    let params =
        Pbkdf2Params::new_with_str("PBKDF2", "SHA-256", iterations, &Uint8Array::from(salt));
    let bits = u32::try_from(N * 8).expect("a key's bits fit in u32");
    let promise = subtle
        .derive_bits_with_object(&params, &key, bits)
        .map_err(refused)?;
    let derived = bytes_of(JsFuture::from(promise).await.map_err(refused)?);
    derived
        .try_into()
        .map_err(|_| CryptoError::Refused("PBKDF2 gave the wrong length".into()))
}

/// AES-256-GCM under a raw key that is used once and never stored (a backup's,
/// derived from its passphrase): encrypts `data` with `additional_data`
/// authenticated beside it, or (`encrypt` false) decrypts and checks the tag.
pub(crate) async fn aes_gcm_raw(
    encrypt: bool,
    key: &[u8],
    iv: &[u8],
    additional_data: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let subtle = subtle()?;
    let usage = if encrypt { "encrypt" } else { "decrypt" };
    let promise = subtle
        .import_key_with_str(
            "raw",
            &Uint8Array::from(key),
            AES_GCM,
            false,
            &Array::of1(&JsValue::from_str(usage)),
        )
        .map_err(refused)?;
    let key: CryptoKey = JsFuture::from(promise)
        .await
        .map_err(refused)?
        .unchecked_into();
    if !encrypt {
        return decrypt(&key, iv, Some(additional_data), data).await;
    }
    let params = gcm_params(iv);
    params.set_additional_data_u8_array(&Uint8Array::from(additional_data));
    let promise = subtle
        .encrypt_with_object_and_u8_array(&params, &key, data)
        .map_err(refused)?;
    Ok(bytes_of(JsFuture::from(promise).await.map_err(refused)?))
}

/// A fresh random seed from the browser's CSPRNG, for a training lease.
pub fn random_seed() -> Result<Seed, CryptoError> {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes)?;
    Ok(Seed::from_bytes(bytes))
}

/// Seals `seed` under the tablet's device key (creating the key the first time).
pub async fn seal(store: &Store, seed: &Seed) -> Result<LeaseSeal, CryptoError> {
    let key = device_key(store).await?;
    let mut iv = vec![0u8; 12];
    fill_random(&mut iv)?;
    let params = gcm_params(&iv);
    let promise = subtle()?
        .encrypt_with_object_and_u8_array(&params, &key, seed.as_bytes())
        .map_err(refused)?;
    let ciphertext = bytes_of(JsFuture::from(promise).await.map_err(refused)?);
    Ok(LeaseSeal::Device(LocallySealed { iv, ciphertext }))
}

/// Opens the seed of lease `lease_id`, at the randomise step only.
pub async fn open(store: &Store, lease_id: LeaseId, seal: &LeaseSeal) -> Result<Seed, CryptoError> {
    let plain = match seal {
        LeaseSeal::Device(sealed) => {
            let key = device_key(store).await?;
            decrypt(&key, &sealed.iv, None, &sealed.ciphertext).await?
        }
        LeaseSeal::Server(sealed) => open_from_server(store, lease_id, sealed).await?,
    };
    let bytes: [u8; 32] = plain
        .try_into()
        .map_err(|_| CryptoError::Refused("a sealed seed opened to the wrong length".into()))?;
    Ok(Seed::from_bytes(bytes))
}

/// The public half of the tablet's lease key pair, as enrolment sends it: hex of
/// the 65-byte uncompressed point. Creates the pair the first time.
pub async fn lease_public_key(store: &Store) -> Result<String, CryptoError> {
    let public = key_of(&lease_key_pair(store).await?, "publicKey")?;
    let promise = subtle()?.export_key("raw", &public).map_err(refused)?;
    let raw = bytes_of(JsFuture::from(promise).await.map_err(refused)?);
    Ok(hex::encode(raw))
}

/// Opens a seed the server sealed to this tablet (`trial::wire::SealedSeed`):
/// ECDH with the ephemeral key, HKDF-SHA-256 salted with the lease id, AES-GCM
/// with the lease id as additional data.
async fn open_from_server(
    store: &Store,
    lease_id: LeaseId,
    sealed: &SealedSeed,
) -> Result<Vec<u8>, CryptoError> {
    let subtle = subtle()?;
    let lease_bytes = lease_id.as_uuid().as_bytes().to_vec();
    let private = key_of(&lease_key_pair(store).await?, "privateKey")?;
    let ephemeral = JsFuture::from(
        subtle
            .import_key_with_object(
                "raw",
                &Uint8Array::from(parse_hex(&sealed.ephemeral_public_key)?.as_slice()),
                &p256_import_params(),
                true,
                &Array::new(),
            )
            .map_err(refused)?,
    )
    .await
    .map_err(refused)?
    .unchecked_into::<CryptoKey>();
    let shared = JsFuture::from(
        subtle
            .derive_bits_with_object(&EcdhKeyDeriveParams::new(ECDH, &ephemeral), &private, 256)
            .map_err(refused)?,
    )
    .await
    .map_err(refused)?;
    let hkdf_key = JsFuture::from(
        subtle
            .import_key_with_str(
                "raw",
                &Uint8Array::new(&shared),
                "HKDF",
                false,
                &Array::of1(&JsValue::from_str("deriveBits")),
            )
            .map_err(refused)?,
    )
    .await
    .map_err(refused)?
    .unchecked_into::<CryptoKey>();
    let hkdf = HkdfParams::new_with_str(
        "HKDF",
        "SHA-256",
        &Uint8Array::from(SEAL_INFO),
        &Uint8Array::from(lease_bytes.as_slice()),
    );
    let key_bytes = JsFuture::from(
        subtle
            .derive_bits_with_object(&hkdf, &hkdf_key, 256)
            .map_err(refused)?,
    )
    .await
    .map_err(refused)?;
    let aes_key = JsFuture::from(
        subtle
            .import_key_with_str(
                "raw",
                &Uint8Array::new(&key_bytes),
                AES_GCM,
                false,
                &Array::of1(&JsValue::from_str("decrypt")),
            )
            .map_err(refused)?,
    )
    .await
    .map_err(refused)?
    .unchecked_into::<CryptoKey>();
    decrypt(
        &aes_key,
        &parse_hex(&sealed.nonce)?,
        Some(&lease_bytes),
        &parse_hex(&sealed.ciphertext)?,
    )
    .await
}

/// AES-GCM decryption; a wrong key, nonce, additional data or an altered
/// ciphertext fails the tag check and is refused.
async fn decrypt(
    key: &CryptoKey,
    iv: &[u8],
    additional_data: Option<&[u8]>,
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let params = gcm_params(iv);
    if let Some(data) = additional_data {
        params.set_additional_data_u8_array(&Uint8Array::from(data));
    }
    let promise = subtle()?
        .decrypt_with_object_and_u8_array(&params, key, ciphertext)
        .map_err(refused)?;
    Ok(bytes_of(JsFuture::from(promise).await.map_err(refused)?))
}

/// The tablet's lease key pair: the stored one, or a new pair stored now, its
/// private key non-extractable.
async fn lease_key_pair(store: &Store) -> Result<JsValue, CryptoError> {
    if let Some(pair) = store.crypto_key(KeySlot::Lease).await? {
        return Ok(pair);
    }
    let params = EcKeyGenParams::new(ECDH, P256);
    let promise = subtle()?
        .generate_key_with_object(
            &params,
            false,
            &Array::of1(&JsValue::from_str("deriveBits")),
        )
        .map_err(refused)?;
    let pair = JsFuture::from(promise).await.map_err(refused)?;
    // Stored as a plain object: IndexedDB clones the two `CryptoKey`s inside.
    let record = Object::new();
    for half in ["privateKey", "publicKey"] {
        let key = Reflect::get(&pair, &JsValue::from_str(half)).map_err(refused)?;
        Reflect::set(&record, &JsValue::from_str(half), &key).map_err(refused)?;
    }
    Ok(store
        .keep_first_crypto_key(KeySlot::Lease, record.into())
        .await?)
}

fn key_of(pair: &JsValue, half: &str) -> Result<CryptoKey, CryptoError> {
    Reflect::get(pair, &JsValue::from_str(half))
        .map_err(refused)?
        .dyn_into()
        .map_err(|_| CryptoError::Refused(format!("the stored lease key has no {half}")))
}

/// The tablet's device key: the stored one, or a new non-extractable key stored now.
/// If two tabs create one at once, the store keeps the first and both use it.
async fn device_key(store: &Store) -> Result<CryptoKey, CryptoError> {
    if let Some(key) = store.crypto_key(KeySlot::Device).await? {
        return key
            .dyn_into()
            .map_err(|_| CryptoError::Refused("stored device key is not a CryptoKey".into()));
    }
    let usages = Array::of2(&JsValue::from_str("encrypt"), &JsValue::from_str("decrypt"));
    let params = AesKeyGenParams::new(AES_GCM, 256);
    let promise = subtle()?
        .generate_key_with_object(&params, false, &usages)
        .map_err(refused)?;
    let key = JsFuture::from(promise).await.map_err(refused)?;
    let kept = store.keep_first_crypto_key(KeySlot::Device, key).await?;
    kept.dyn_into()
        .map_err(|_| CryptoError::Refused("stored device key is not a CryptoKey".into()))
}

/// Import parameters for an ECDH P-256 public key.
fn p256_import_params() -> EcKeyImportParams {
    let params = EcKeyImportParams::new(ECDH);
    params.set_named_curve(P256);
    params
}

fn parse_hex(text: &str) -> Result<Vec<u8>, CryptoError> {
    hex::decode(text).map_err(|_| CryptoError::Refused("a sealed seed is not hex".into()))
}

/// AES-GCM parameters holding a JavaScript copy of the nonce. A view into wasm
/// memory (`new_with_u8_slice`) would be read only when WebCrypto runs, by which
/// time the memory may have been reused or grown, silently changing the nonce.
fn gcm_params(iv: &[u8]) -> AesGcmParams {
    AesGcmParams::new_with_u8_array(AES_GCM, &Uint8Array::from(iv))
}

fn subtle() -> Result<SubtleCrypto, CryptoError> {
    let crypto = web_sys::window()
        .and_then(|window| window.crypto().ok())
        .ok_or(CryptoError::Unavailable)?;
    Ok(crypto.subtle())
}

/// Fills `bytes` from the browser's CSPRNG (salts, nonces, seeds).
pub fn fill_random(bytes: &mut [u8]) -> Result<(), CryptoError> {
    let crypto = web_sys::window()
        .and_then(|window| window.crypto().ok())
        .ok_or(CryptoError::Unavailable)?;
    crypto
        .get_random_values_with_u8_array(bytes)
        .map_err(refused)?;
    Ok(())
}

fn bytes_of(buffer: JsValue) -> Vec<u8> {
    Uint8Array::new(&buffer).to_vec()
}

fn refused(error: JsValue) -> CryptoError {
    CryptoError::Refused(crate::store::js_words(&error))
}
