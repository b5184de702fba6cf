//! The events devices pushed: stored once per `(device_id, device_seq)`, numbered in
//! the server's order, never updated or deleted; with them, the allocations their
//! randomisations report and the flags verification raised.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use anyhow::{Context, Result};
use sqlx::any::AnyRow;
use sqlx::{Any, FromRow, Row, Transaction};
use trial::allocation::{AllocationFlag, VERIFIED_AGAINST};
use trial::console::{ConsoleAction, ConsoleRole};
use trial::edits::Subject;
use trial::event::{ChainHead, Event, EventKind};
use trial::payload::{Randomised, StudyNumber};
use trial::randomisation::{Lease, LeaseId};
use trial::roster::Member;
use trial::wire::{PulledEvent, Rejection, RejectionCode};
use uuid::Uuid;

use super::leases::{lease_owner, own_leases, used_slots};
use super::{Device, ROWS_PER_STATEMENT, Store, from_db, placeholders, to_db, value_rows};

/// One device's push in progress: a transaction that holds the lock on the
/// device's chain head from [`Store::begin_push`] until [`PushTransaction::commit`]
/// (or until it is dropped, which rolls back).
pub struct PushTransaction {
    pub(super) tx: Transaction<'static, Any>,
    head: ChainHead,
    pub(super) site_code: String,
    /// Whether the device is the site's console device, whose events the console
    /// accounts that resolve data queries record.
    console: bool,
    pub(super) now_ms: i64,
}

/// A new event to store, with everything decided about it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// The event, which continues the device's chain.
    pub event: Event,
    /// Why it is refused as data, if it is (stored all the same).
    pub rejection: Option<Rejection>,
    /// Its body when it is a randomisation whose payload is valid: recorded as an
    /// allocation, flagged or not, so the lease's used slots are known.
    pub randomised: Option<Randomised>,
    /// What verification found wrong with the randomisation.
    pub flags: Vec<AllocationFlag>,
    /// The screening or form instance its valid body writes, if any: recorded
    /// when it is stored as valid data, for data queries.
    pub subject: Option<Subject>,
}

/// An event already stored, with the verdict it was stored with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// The event.
    pub event: Event,
    /// Why it was refused as data, if it was.
    pub rejection: Option<Rejection>,
}

/// What the server holds about a device's leases and the study numbers a batch
/// gives; the store's half of `sync::AllocationContext`.
#[derive(Debug, Default)]
pub struct AllocationHoldings {
    /// Every lease issued to the device, oldest first, with the slots it reported.
    pub own_leases: Vec<(Lease, Vec<u32>)>,
    /// The devices other named leases were issued to.
    pub lease_owners: BTreeMap<LeaseId, Uuid>,
    /// The randomisation that first gave each study number.
    pub study_number_holders: BTreeMap<StudyNumber, Uuid>,
}

/// What a committed push stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushOutcome {
    /// The device's chain head now.
    pub head: ChainHead,
    /// How many of the events given were stored: all of them, unless the event at
    /// this index has an id another stored event already has (nothing from it on
    /// was stored).
    pub stored: usize,
}

/// The columns of an event row, in [`EventRow`]'s order.
pub(super) const EVENT_COLUMNS: &str = "server_seq, id, device_id, device_seq, recorded_at_ms, \
     recorded_offset_minutes, user_id, participant_id, kind, payload, app_version, \
     schema_version, prev_hash, hash, received_at_ms, rejection_code, rejection_message";

impl Store {
    /// Starts a push for a device, locking its chain so that two pushes of the same
    /// device (a retry racing the original) run one after the other. `None` when
    /// the device was revoked in the meantime.
    pub async fn begin_push(
        &self,
        device_id: Uuid,
        now_ms: i64,
    ) -> Result<Option<PushTransaction>> {
        let locked = self
            .lock_chain(
                "UPDATE devices SET last_push_at_ms = $2 WHERE id = $1 AND revoked_at_ms IS NULL",
                device_id,
                Some(now_ms),
                now_ms,
            )
            .await?;
        Ok(locked.map(|(push, _)| push))
    }

    /// Starts storing a device's events read from a backup file (`api::backups`):
    /// its chain locked as a push locks it, revoked or not, since a revoked
    /// tablet's records reach the server this way; its last push left as it was,
    /// since the tablet itself did not sync. `None` when no device of this id was
    /// ever enrolled here.
    pub async fn begin_import(
        &self,
        device_id: Uuid,
        now_ms: i64,
    ) -> Result<Option<(PushTransaction, Device)>> {
        self.lock_chain(
            "UPDATE devices SET last_seq = last_seq WHERE id = $1",
            device_id,
            None,
            now_ms,
        )
        .await
    }

    /// Runs `update` (which binds the device as `$1` and `stamp`, if any, as
    /// `$2`) to lock the device's row, and opens the push on the chain head it
    /// holds.
    async fn lock_chain(
        &self,
        update: &str,
        device_id: Uuid,
        stamp: Option<i64>,
        now_ms: i64,
    ) -> Result<Option<(PushTransaction, Device)>> {
        let mut tx = self.pool.begin().await.context("cannot start a push")?;
        let sql = format!(
            "{update} RETURNING last_seq, last_hash, site_code, console, label, public_key"
        );
        let query = sqlx::query_as(&sql).bind(device_id.to_string());
        let query = match stamp {
            Some(stamp) => query.bind(stamp),
            None => query,
        };
        let head: Option<(i64, String, String, i64, String, Option<String>)> = query
            .fetch_optional(&mut *tx)
            .await
            .with_context(|| format!("cannot lock the chain of device {device_id}"))?;
        let Some((last_seq, last_hash, site_code, console, label, public_key)) = head else {
            return Ok(None);
        };
        let last_hash = last_hash.parse().with_context(|| {
            format!("the stored chain head of device {device_id} is not a hash")
        })?;
        let head = ChainHead::resume(device_id, from_db(last_seq)?, last_hash)
            .with_context(|| format!("the stored chain head of device {device_id} is invalid"))?;
        let device = Device {
            id: device_id,
            site_code: site_code.clone(),
            label,
            public_key,
        };
        let push = PushTransaction {
            tx,
            head,
            site_code,
            console: console == 1,
            now_ms,
        };
        Ok(Some((push, device)))
    }

    /// Up to `limit` accepted events of the other devices of `device`'s site, after
    /// `after`, in the server's order. Events refused as data are not served.
    pub async fn pull(&self, device: &Device, after: u64, limit: u32) -> Result<Vec<PulledEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE server_seq > $1 AND device_id <> $2 AND rejection_code IS NULL
               AND device_id IN (SELECT id FROM devices WHERE site_code = $3)
             ORDER BY server_seq LIMIT $4"
        );
        let rows: Vec<EventRow> = sqlx::query_as(&sql)
            .bind(to_db(after)?)
            .bind(device.id.to_string())
            .bind(&device.site_code)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .with_context(|| format!("cannot read events for device {}", device.id))?;
        rows.into_iter()
            .map(|row| {
                Ok(PulledEvent {
                    cursor: from_db(row.server_seq)?,
                    received_at_ms: row.received_at_ms,
                    event: row.event()?,
                })
            })
            .collect()
    }

    /// How many events of a device are stored, accepted or not.
    pub async fn count_events(&self, device_id: Uuid) -> Result<u64> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events WHERE device_id = $1")
            .bind(device_id.to_string())
            .fetch_one(&self.pool)
            .await
            .with_context(|| format!("cannot count the events of device {device_id}"))?;
        from_db(count)
    }
}

impl PushTransaction {
    /// The device's chain head as stored: its last stored event.
    pub fn head(&self) -> ChainHead {
        self.head
    }

    /// The server's clock when the push began: what it records as each event's
    /// receipt.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// The device's stored events with sequence numbers in `seqs`, in order.
    pub async fn stored(&mut self, seqs: RangeInclusive<u64>) -> Result<Vec<StoredEvent>> {
        let device_id = self.head.device_id();
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE device_id = $1 AND device_seq BETWEEN $2 AND $3 ORDER BY device_seq"
        );
        let rows: Vec<EventRow> = sqlx::query_as(&sql)
            .bind(device_id.to_string())
            .bind(to_db(*seqs.start())?)
            .bind(to_db(*seqs.end())?)
            .fetch_all(&mut *self.tx)
            .await
            .with_context(|| format!("cannot read the stored events of device {device_id}"))?;
        rows.into_iter()
            .map(|row| {
                Ok(StoredEvent {
                    rejection: row.rejection()?,
                    event: row.event()?,
                })
            })
            .collect()
    }

    /// Records the device's site as the site of each participant the server knows
    /// of no site for yet, and returns every one's site. The first device of any
    /// site to push about a participant settles it; two sites racing over one new
    /// id meet at the row's unique key, and the second reads the first's answer.
    pub async fn claim_participants(
        &mut self,
        participants: &BTreeSet<Uuid>,
    ) -> Result<BTreeMap<Uuid, String>> {
        let device_id = self.head.device_id().to_string();
        let ids: Vec<String> = participants.iter().map(Uuid::to_string).collect();
        let mut sites = BTreeMap::new();
        // In the ids' order, so two pushes claiming overlapping sets on
        // PostgreSQL take the row locks in one order and never deadlock.
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO participants (id, site_code, claimed_by_device, claimed_at_ms)
                 VALUES {} ON CONFLICT (id) DO NOTHING",
                value_rows(chunk.len(), 4)
            );
            let mut insert = sqlx::query(&sql);
            for id in chunk {
                insert = insert
                    .bind(id)
                    .bind(&self.site_code)
                    .bind(&device_id)
                    .bind(self.now_ms);
            }
            insert
                .execute(&mut *self.tx)
                .await
                .context("cannot record the sites of a push's participants")?;
            let sql = format!(
                "SELECT id, site_code FROM participants WHERE id IN ({})",
                placeholders(chunk.len())
            );
            let mut select = sqlx::query_as::<_, (String, String)>(&sql);
            for id in chunk {
                select = select.bind(id);
            }
            let rows = select
                .fetch_all(&mut *self.tx)
                .await
                .context("cannot read the sites of a push's participants")?;
            for (id, site_code) in rows {
                sites.insert(
                    id.parse().context("a participant id is not a uuid")?,
                    site_code,
                );
            }
        }
        Ok(sites)
    }

    /// Who may record on the device, with the span in which each may: the users
    /// of a tablet's site, or, on a console device, the console accounts whose
    /// role resolves data queries.
    pub async fn members(&mut self) -> Result<Vec<Member>> {
        let rows: Vec<(String, i64, Option<i64>)> = if self.console {
            let accounts: Vec<(String, i64, Option<i64>, String)> = sqlx::query_as(
                "SELECT id, created_at_ms, disabled_at_ms, role FROM console_accounts",
            )
            .fetch_all(&mut *self.tx)
            .await
            .context("cannot read the console accounts")?;
            accounts
                .into_iter()
                .filter(|(.., role)| {
                    ConsoleRole::parse(role)
                        .is_some_and(|role| role.may(ConsoleAction::ResolveQuery))
                })
                .map(|(id, created, disabled, _)| (id, created, disabled))
                .collect()
        } else {
            sqlx::query_as(
                "SELECT id, created_at_ms, disabled_at_ms FROM users WHERE site_code = $1",
            )
            .bind(&self.site_code)
            .fetch_all(&mut *self.tx)
            .await
            .with_context(|| format!("cannot read the users of site {}", self.site_code))?
        };
        rows.into_iter()
            .map(|(id, active_from_ms, disabled_at_ms)| {
                Ok(Member {
                    user_id: id.parse().context("a stored user id is not a uuid")?,
                    active_from_ms,
                    disabled_at_ms,
                })
            })
            .collect()
    }

    /// The role of each console account, on a console device (nothing on a
    /// tablet's): a signature and an unlock are accepted only from the role
    /// that takes the action (`trial::casebook::action_recorded`).
    pub async fn console_roles(&mut self) -> Result<BTreeMap<Uuid, ConsoleRole>> {
        if !self.console {
            return Ok(BTreeMap::new());
        }
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, role FROM console_accounts")
            .fetch_all(&mut *self.tx)
            .await
            .context("cannot read the console accounts' roles")?;
        rows.into_iter()
            .filter_map(|(id, role)| Some((id, ConsoleRole::parse(&role)?)))
            .map(|(id, role)| {
                Ok((
                    id.parse().context("a stored account id is not a uuid")?,
                    role,
                ))
            })
            .collect()
    }

    /// Every record of `participant` the site's devices stored and the server
    /// accepted as data, in the server's order: the casebook a signature covers
    /// and an unlock opens. Takes the lock every push takes to append first, so
    /// no record is stored between this read and the signature written after it.
    pub async fn casebook_log(&mut self, participant: Uuid) -> Result<Vec<Event>> {
        sqlx::query("UPDATE counters SET value = value WHERE name = 'event_server_seq'")
            .execute(&mut *self.tx)
            .await
            .context("cannot take the lock that orders pushes")?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE participant_id = $1
               AND rejection_code IS NULL
               AND device_id IN (SELECT id FROM devices WHERE site_code = $2)
             ORDER BY server_seq"
        );
        let rows: Vec<EventRow> = sqlx::query_as(&sql)
            .bind(participant.to_string())
            .bind(&self.site_code)
            .fetch_all(&mut *self.tx)
            .await
            .with_context(|| format!("cannot read the casebook of participant {participant}"))?;
        rows.iter().map(EventRow::event).collect()
    }

    /// The device's leases, their lists regenerated, each with the slots the
    /// device reported from it; the owners of the other leases in `named`; and
    /// the randomisation that first gave each of `study_numbers`.
    pub async fn allocation_holdings(
        &mut self,
        named: &BTreeSet<LeaseId>,
        study_numbers: &BTreeSet<StudyNumber>,
    ) -> Result<AllocationHoldings> {
        let device_id = self.head.device_id();
        let mut holdings = AllocationHoldings::default();
        for (record, secret) in own_leases(&mut self.tx, device_id).await? {
            let used = used_slots(&mut self.tx, record.id, device_id).await?;
            holdings
                .own_leases
                .push((record.regenerate(&secret, None)?, used));
        }
        for &id in named {
            if holdings
                .own_leases
                .iter()
                .any(|(lease, _)| lease.id() == id)
            {
                continue;
            }
            if let Some(owner) = lease_owner(&mut self.tx, id).await? {
                holdings.lease_owners.insert(id, owner);
            }
        }
        for number in study_numbers {
            let holder: Option<(String,)> = sqlx::query_as(
                "SELECT a.event_id FROM allocations a JOIN events e ON e.id = a.event_id
                 WHERE a.study_number = $1 ORDER BY e.server_seq LIMIT 1",
            )
            .bind(number.as_str())
            .fetch_optional(&mut *self.tx)
            .await
            .with_context(|| format!("cannot look up study number {number}"))?;
            if let Some((event_id,)) = holder {
                let event_id = event_id
                    .parse()
                    .context("a stored event id is not a uuid")?;
                holdings
                    .study_number_holders
                    .insert(number.clone(), event_id);
            }
        }
        Ok(holdings)
    }

    /// What each of these participants' randomisations is verified against: the
    /// events of the kinds the rule reads (`trial::allocation::VERIFIED_AGAINST`)
    /// that devices of the site stored, valid data and every randomisation
    /// (flagged or unreadable), in the server's order. Every id asked for has an
    /// entry.
    ///
    /// Takes the lock every push takes to append first, so two devices' pushes
    /// randomising one participant are verified one after the other, each seeing
    /// the other's randomisation once stored (PostgreSQL reads what is committed
    /// when each statement starts; SQLite holds one writer anyway).
    pub async fn participant_logs(
        &mut self,
        participants: &BTreeSet<Uuid>,
    ) -> Result<BTreeMap<Uuid, Vec<Event>>> {
        if participants.is_empty() {
            return Ok(BTreeMap::new());
        }
        sqlx::query("UPDATE counters SET value = value WHERE name = 'event_server_seq'")
            .execute(&mut *self.tx)
            .await
            .context("cannot take the lock that orders randomisations")?;
        let kinds: Vec<String> = VERIFIED_AGAINST
            .iter()
            .map(|kind| format!("'{}'", kind.as_str()))
            .collect();
        let randomised = EventKind::Randomised.as_str();
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE participant_id = $1
               AND kind IN ({kinds})
               AND (rejection_code IS NULL OR kind = '{randomised}')
               AND device_id IN (SELECT id FROM devices WHERE site_code = $2)
             ORDER BY server_seq",
            kinds = kinds.join(", ")
        );
        let mut logs = BTreeMap::new();
        for &participant in participants {
            let rows: Vec<EventRow> = sqlx::query_as(&sql)
                .bind(participant.to_string())
                .bind(&self.site_code)
                .fetch_all(&mut *self.tx)
                .await
                .with_context(|| format!("cannot read the events of participant {participant}"))?;
            let events = rows.iter().map(EventRow::event).collect::<Result<_>>()?;
            logs.insert(participant, events);
        }
        Ok(logs)
    }

    /// Appends events that continue the device's chain (the caller has verified
    /// that they do), each with its verdict, allocation, flags and subject. Stops before an
    /// event whose id is already taken, keeping what came before it.
    pub async fn append(&mut self, events: &[NewEvent]) -> Result<PushOutcome> {
        let device_id = self.head.device_id();
        let mut head = self.head;
        let mut stored = 0;
        if !events.is_empty() {
            let first_seq = self.reserve_server_seqs(events.len()).await?;
            for (new, server_seq) in events.iter().zip(first_seq..) {
                if !self.insert(new, server_seq).await? {
                    break;
                }
                head = ChainHead::after(&new.event);
                stored += 1;
            }
        }
        self.record_subjects(&events[..stored]).await?;
        if stored > 0 {
            sqlx::query("UPDATE devices SET last_seq = $1, last_hash = $2 WHERE id = $3")
                .bind(to_db(head.last_seq())?)
                .bind(head.last_hash().to_string())
                .bind(device_id.to_string())
                .execute(&mut *self.tx)
                .await
                .with_context(|| format!("cannot move the chain head of device {device_id}"))?;
        }
        self.head = head;
        Ok(PushOutcome { head, stored })
    }

    /// Commits everything the push stored.
    pub async fn commit(self) -> Result<()> {
        let device_id = self.head.device_id();
        self.tx
            .commit()
            .await
            .with_context(|| format!("cannot commit a push of device {device_id}"))
    }

    /// Reserves `count` consecutive server sequence numbers and returns the first.
    ///
    /// The counter row stays locked until this push commits, so pushes commit in
    /// the order of their numbers and a pull can never see number 11 before 10 has
    /// committed (with a plain sequence it could, on PostgreSQL, and skip 10 for
    /// good). Numbers of events not stored after all (an id clash) stay unused.
    async fn reserve_server_seqs(&mut self, count: usize) -> Result<i64> {
        let count = to_db(count as u64)?;
        let (last,): (i64,) = sqlx::query_as(
            "UPDATE counters SET value = value + $1 WHERE name = 'event_server_seq' RETURNING value",
        )
        .bind(count)
        .fetch_one(&mut *self.tx)
        .await
        .context("cannot reserve server sequence numbers")?;
        Ok(last - count + 1)
    }

    /// Inserts one event, and its allocation and flags; `false` (and nothing
    /// inserted) when its id is already taken.
    async fn insert(&mut self, new: &NewEvent, server_seq: i64) -> Result<bool> {
        let (event, rejection) = (&new.event, new.rejection.as_ref());
        let inserted = sqlx::query(
            "INSERT INTO events (server_seq, id, device_id, device_seq, recorded_at_ms,
                 recorded_offset_minutes, user_id, participant_id, kind, payload, app_version,
                 schema_version, prev_hash, hash, received_at_ms, rejection_code, rejection_message)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             ON CONFLICT DO NOTHING",
        )
        .bind(server_seq)
        .bind(event.id().to_string())
        .bind(event.device_id().to_string())
        .bind(to_db(event.device_seq())?)
        .bind(event.recorded_at().utc_ms())
        .bind(i64::from(event.recorded_at().offset_minutes()))
        .bind(event.user_id().to_string())
        .bind(event.participant_id().to_string())
        .bind(event.kind().as_str())
        .bind(event.payload())
        .bind(event.app_version())
        .bind(i64::from(event.schema_version()))
        .bind(event.prev_hash().to_string())
        .bind(event.hash().to_string())
        .bind(self.now_ms)
        .bind(rejection.map(|rejection| rejection.code.as_str()))
        .bind(rejection.map(|rejection| rejection.message.as_str()))
        .execute(&mut *self.tx)
        .await
        .with_context(|| format!("cannot store event {}", event.id()))?
        .rows_affected();
        if inserted != 1 {
            return Ok(false);
        }
        if let Some(randomised) = &new.randomised {
            self.insert_allocation(event, randomised).await?;
        }
        for flag in &new.flags {
            sqlx::query(
                "INSERT INTO allocation_flags (event_id, device_id, code, message, created_at_ms)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(event.id().to_string())
            .bind(event.device_id().to_string())
            .bind(flag.code())
            .bind(flag.to_string())
            .bind(self.now_ms)
            .execute(&mut *self.tx)
            .await
            .with_context(|| format!("cannot flag the randomisation of event {}", event.id()))?;
        }
        Ok(true)
    }

    async fn insert_allocation(&mut self, event: &Event, randomised: &Randomised) -> Result<()> {
        sqlx::query(
            "INSERT INTO allocations (event_id, device_id, participant_id, lease_id, slot, arm, study_number)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(event.id().to_string())
        .bind(event.device_id().to_string())
        .bind(event.participant_id().to_string())
        .bind(randomised.lease_id.to_string())
        .bind(i64::from(randomised.slot))
        .bind(randomised.arm.as_str())
        .bind(randomised.study_number.as_str())
        .execute(&mut *self.tx)
        .await
        .with_context(|| format!("cannot record the allocation of event {}", event.id()))?;
        Ok(())
    }
}

/// An event as stored.
pub(super) struct EventRow {
    server_seq: i64,
    id: String,
    device_id: String,
    device_seq: i64,
    recorded_at_ms: i64,
    recorded_offset_minutes: i64,
    user_id: String,
    participant_id: String,
    kind: String,
    payload: String,
    app_version: String,
    schema_version: i64,
    prev_hash: String,
    hash: String,
    received_at_ms: i64,
    rejection_code: Option<String>,
    rejection_message: Option<String>,
}

impl<'r> FromRow<'r, AnyRow> for EventRow {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            server_seq: row.try_get("server_seq")?,
            id: row.try_get("id")?,
            device_id: row.try_get("device_id")?,
            device_seq: row.try_get("device_seq")?,
            recorded_at_ms: row.try_get("recorded_at_ms")?,
            recorded_offset_minutes: row.try_get("recorded_offset_minutes")?,
            user_id: row.try_get("user_id")?,
            participant_id: row.try_get("participant_id")?,
            kind: row.try_get("kind")?,
            payload: row.try_get("payload")?,
            app_version: row.try_get("app_version")?,
            schema_version: row.try_get("schema_version")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
            received_at_ms: row.try_get("received_at_ms")?,
            rejection_code: row.try_get("rejection_code")?,
            rejection_message: row.try_get("rejection_message")?,
        })
    }
}

impl EventRow {
    /// The event, read back through its wire form: `Event` has no other way in,
    /// by design, and the caller verifies chains, not this.
    pub(super) fn event(&self) -> Result<Event> {
        let json = serde_json::json!({
            "id": self.id,
            "device_id": self.device_id,
            "device_seq": self.device_seq,
            "recorded_at": {
                "utc_ms": self.recorded_at_ms,
                "offset_minutes": self.recorded_offset_minutes,
            },
            "user_id": self.user_id,
            "participant_id": self.participant_id,
            "kind": self.kind,
            "payload": self.payload,
            "app_version": self.app_version,
            "schema_version": self.schema_version,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        });
        serde_json::from_value(json)
            .with_context(|| format!("stored event {} does not read back", self.id))
    }

    fn rejection(&self) -> Result<Option<Rejection>> {
        let Some(code) = &self.rejection_code else {
            return Ok(None);
        };
        let code: RejectionCode = serde_json::from_value(code.as_str().into())
            .with_context(|| format!("stored event {} has an unreadable rejection", self.id))?;
        Ok(Some(Rejection {
            device_seq: from_db(self.device_seq)?,
            event_id: self.id.parse().context("a stored event id is not a uuid")?,
            code,
            message: self.rejection_message.clone().unwrap_or_default(),
        }))
    }
}
