//! Keeping allocation seeds concealed on the tablet, with WebCrypto.
//!
//! The tablet holds one AES-GCM key that WebCrypto generated as non-extractable:
//! stored in IndexedDB as a `CryptoKey`, usable by this origin's code, but its bytes
//! can never be read out. Seeds are stored only sealed under it and opened at the
//! randomise step, so a look at IndexedDB or the network never reveals a future arm.
//! The limit, stated honestly (DESIGN.md): this stops a curious user, not someone
//! who scripts the app's own origin.

use js_sys::{Array, Uint8Array};
use trial::randomisation::Seed;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, AesKeyGenParams, CryptoKey, SubtleCrypto};

use crate::store::{SealedSeed, Store, StoreError};

const AES_GCM: &str = "AES-GCM";

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

/// A fresh random seed from the browser's CSPRNG, for a training lease.
pub fn random_seed() -> Result<Seed, CryptoError> {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes)?;
    Ok(Seed::from_bytes(bytes))
}

/// Seals `seed` under the tablet's device key (creating the key the first time).
pub async fn seal(store: &Store, seed: &Seed) -> Result<SealedSeed, CryptoError> {
    let key = device_key(store).await?;
    let mut iv = vec![0u8; 12];
    fill_random(&mut iv)?;
    let params = gcm_params(&iv);
    let promise = subtle()?
        .encrypt_with_object_and_u8_array(&params, &key, seed.as_bytes())
        .map_err(refused)?;
    let ciphertext = bytes_of(JsFuture::from(promise).await.map_err(refused)?);
    Ok(SealedSeed { iv, ciphertext })
}

/// Opens a sealed seed, at the randomise step only.
pub async fn open(store: &Store, sealed: &SealedSeed) -> Result<Seed, CryptoError> {
    let key = device_key(store).await?;
    let params = gcm_params(&sealed.iv);
    let promise = subtle()?
        .decrypt_with_object_and_u8_array(&params, &key, &sealed.ciphertext)
        .map_err(refused)?;
    let plain = bytes_of(JsFuture::from(promise).await.map_err(refused)?);
    let bytes: [u8; 32] = plain
        .try_into()
        .map_err(|_| CryptoError::Refused("a sealed seed opened to the wrong length".into()))?;
    Ok(Seed::from_bytes(bytes))
}

/// The tablet's device key: the stored one, or a new non-extractable key stored now.
/// If two tabs create one at once, the store keeps the first and both use it.
async fn device_key(store: &Store) -> Result<CryptoKey, CryptoError> {
    if let Some(key) = store.device_key().await? {
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
    let kept = store.keep_first_device_key(key).await?;
    kept.dyn_into()
        .map_err(|_| CryptoError::Refused("stored device key is not a CryptoKey".into()))
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
    CryptoError::Refused(format!("{error:?}"))
}
