//! The people who may sign in on this tablet, with their PIN hashes.
//!
//! PINs are verified offline against the stored PBKDF2 hash (`trial::pin`); the PIN
//! itself is never stored. Until the tablet is enrolled, the first-run set-up
//! creates the first user here; enrolment brings the site's users, and every sync
//! their current list.

use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
use trial::pin::PinHash;
use uuid::Uuid;

use trial::wire::{Author, Site, Tablet};
use wasm_bindgen::JsValue;

use super::sync::ENROLMENT;
use super::{Enrolment, META, Store, StoreError, USERS, database, decode, encode};

/// A person who may sign in and whose name every event they record carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The id events name in `user_id`.
    pub id: Uuid,
    /// The name shown at sign-in and in the timeline.
    pub name: String,
    /// The PIN's salted hash.
    pub pin: PinHash,
}

impl Store {
    /// Everyone who may sign in on this tablet, by name.
    pub async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let tx = self
            .db
            .transaction(&[USERS], TransactionMode::ReadOnly)
            .map_err(database)?;
        let users = tx.store(USERS).map_err(database)?;
        let values = users.get_all(None, None).await.map_err(database)?;
        let mut users: Vec<UserRecord> =
            values.into_iter().map(decode).collect::<Result<_, _>>()?;
        users.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(users)
    }

    /// Adds or replaces a user.
    pub async fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[USERS], TransactionMode::ReadWrite)
            .map_err(database)?;
        let users = tx.store(USERS).map_err(database)?;
        users.put(&encode(user)?, None).await.map_err(database)?;
        tx.done().await.map_err(database)?;
        Ok(())
    }

    /// Replaces the user list with the server's, in one transaction: a user added
    /// there can sign in here, a changed PIN takes effect, and someone removed
    /// there can no longer sign in. With the site as the server now describes it
    /// (its time zone's rules among it), its tablets' labels and the console
    /// accounts its records name, the enrolment's copies are replaced too.
    pub async fn replace_users(
        &self,
        new: &[UserRecord],
        site: Option<&Site>,
        tablets: &[Tablet],
        authors: &[Author],
    ) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[USERS, META], TransactionMode::ReadWrite)
            .map_err(database)?;
        let result = async {
            let users = tx.store(USERS).map_err(database)?;
            users.clear().await.map_err(database)?;
            for user in new {
                users.put(&encode(user)?, None).await.map_err(database)?;
            }
            let meta = tx.store(META).map_err(database)?;
            let key = JsValue::from_str(ENROLMENT);
            let stored = meta.get(key.clone()).await.map_err(database)?;
            if let Some(stored) = stored.filter(|value| !value.is_undefined()) {
                let mut enrolment: Enrolment = decode(stored)?;
                if let Some(site) = site {
                    enrolment.site = site.clone();
                }
                enrolment.tablets = tablets.to_vec();
                enrolment.authors = authors.to_vec();
                meta.put(&encode(&enrolment)?, Some(&key))
                    .await
                    .map_err(database)?;
            }
            Ok(())
        }
        .await;
        super::finish(tx, result).await
    }
}
