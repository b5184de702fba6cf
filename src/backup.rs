//! Writing and reading backup files (DESIGN.md, "Backup and recovery"): the
//! layout, limits and chain checks are `trial::backup`'s; this module draws the
//! salt and nonce, runs the key derivation and the cipher in WebCrypto, and
//! sends a verified backup on, page by page, the way the caller says (a tablet
//! with its token, the console with its session).

use std::future::Future;

use trial::backup::{
    BackupError, BackupFile, BackupHeader, DERIVED_LEN, DerivedKey, ITERATIONS, ImportTally,
    ImportedPage, NONCE_LEN, NewBackup, Passphrase, SALT_LEN, VerifiedBackup,
};
use trial::wire::MAX_PUSH_EVENTS;

use crate::crypto::{self, CryptoError};
use crate::store::{Enrolment, Store, StoreError};

/// Why a backup could not be written, read or sent.
#[derive(Clone, Debug)]
pub enum BackupFailure {
    /// The file, or the passphrase for it (`trial::backup`'s words).
    File(BackupError),
    /// WebCrypto refused or is missing.
    Crypto(CryptoError),
    /// The tablet's storage failed.
    Store(StoreError),
    /// The server refused a page, or could not be reached; its words.
    Send(String),
    /// The tablet is not enrolled: a backup names its site and tablet.
    NotEnrolled,
}

/// A backup written, ready to save.
pub struct Written {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The name to save it under: site, tablet and when.
    pub file_name: String,
    /// How many events it holds.
    pub events: usize,
}

/// Writes a backup of every event the tablet holds, its own and those it
/// pulled, encrypted under `passphrase`.
pub async fn write(
    store: &Store,
    enrolment: &Enrolment,
    passphrase: &Passphrase,
    now_ms: i64,
) -> Result<Written, BackupFailure> {
    let events = store.events().await.map_err(BackupFailure::Store)?;
    let mut salt = [0; SALT_LEN];
    let mut nonce = [0; NONCE_LEN];
    crypto::fill_random(&mut salt).map_err(BackupFailure::Crypto)?;
    crypto::fill_random(&mut nonce).map_err(BackupFailure::Crypto)?;
    let key = derive(passphrase.as_bytes(), &salt, ITERATIONS).await?;
    let head = store.chain_head().await.map_err(BackupFailure::Store)?;
    let new = NewBackup {
        site: enrolment.site.code.clone(),
        device_id: head.device_id(),
        device_label: enrolment.device_label.clone(),
        written_at_ms: now_ms,
        salt,
        nonce,
    };
    let sealing = BackupHeader::seal(new, &key, &events);
    let ciphertext =
        crypto::aes_gcm_raw(true, key.key(), &nonce, &sealing.prefix, &sealing.plaintext)
            .await
            .map_err(BackupFailure::Crypto)?;
    let mut bytes = sealing.prefix;
    bytes.extend_from_slice(&ciphertext);
    let stamp = jiff::Timestamp::from_millisecond(now_ms)
        .map(|at| at.strftime("%Y%m%d-%H%MZ").to_string())
        .unwrap_or_default();
    Ok(Written {
        bytes,
        file_name: format!(
            "hp-ecmo-backup-{}-{}-{stamp}.hpbackup",
            enrolment.site.code, enrolment.device_label
        ),
        events: events.len(),
    })
}

/// Reads a backup: checks the file, derives the key from `passphrase` (as
/// typed, whatever its length: a wrong one is told as such), decrypts and
/// verifies every chain. Nothing is stored or sent.
pub async fn read(
    bytes: &[u8],
    passphrase: &str,
) -> Result<(BackupHeader, VerifiedBackup), BackupFailure> {
    let file = BackupFile::parse(bytes).map_err(BackupFailure::File)?;
    let (Some(salt), Some(nonce)) = (file.header.salt(), file.header.nonce()) else {
        return Err(BackupFailure::File(BackupError::Altered));
    };
    let derived = derive(passphrase.as_bytes(), &salt, file.header.kdf.iterations).await?;
    let key = file.header.unlock(&derived).map_err(BackupFailure::File)?;
    // The check value matched, so a refused tag is damage, not the passphrase.
    let plaintext = crypto::aes_gcm_raw(false, key, &nonce, file.prefix, file.ciphertext)
        .await
        .map_err(|_| BackupFailure::File(BackupError::Altered))?;
    let verified = file.verify(&plaintext).map_err(BackupFailure::File)?;
    Ok((file.header, verified))
}

/// Sends a verified backup page by page through `send`, calling `progress`
/// with the events sent so far after each; stops at the first page the server
/// refuses outright, with what was counted until then.
pub async fn import<S, F>(
    backup: &VerifiedBackup,
    send: S,
    progress: impl Fn(usize),
) -> Result<ImportTally, BackupFailure>
where
    S: Fn(Vec<trial::event::Event>) -> F,
    F: Future<Output = Result<ImportedPage, String>>,
{
    let mut tally = ImportTally::default();
    let mut sent = 0;
    for page in backup.pages(MAX_PUSH_EVENTS) {
        let answer = send(page.to_vec()).await.map_err(BackupFailure::Send)?;
        sent += page.len();
        tally.add(answer);
        progress(sent);
    }
    Ok(tally)
}

async fn derive(secret: &[u8], salt: &[u8], iterations: u32) -> Result<DerivedKey, BackupFailure> {
    let bytes = crypto::derive_bits::<DERIVED_LEN>(secret, salt, iterations)
        .await
        .map_err(BackupFailure::Crypto)?;
    Ok(DerivedKey::from_derived(bytes))
}
