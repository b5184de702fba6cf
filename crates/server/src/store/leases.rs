//! Site secrets and the leases issued from them: recorded without their seeds,
//! which `crate::leases` derives again whenever a list is needed.

use anyhow::{Context, Result};
use sqlx::AnyConnection;
use trial::randomisation::{Lease, LeaseId, RandomisationConfig};
use uuid::Uuid;

use super::Store;
use crate::leases::{FreshLease, LeaseRecord, SiteSecret, needs_top_up};

/// A device's leases after asking for them.
#[derive(Clone, Debug)]
pub struct DeviceLeases {
    /// Every lease of the device with a slot it has not reported used, oldest
    /// first, the new one included.
    pub leases: Vec<Lease>,
    /// The lease issued by this request, if one was due.
    pub issued: Option<LeaseId>,
}

impl Store {
    /// The device's leases with unused slots, issuing `fresh` first when fewer
    /// than `LEASE_LOW_WATER` slots are left, in one transaction that holds the
    /// device's row: two requests at once issue one lease, and a push (which
    /// holds the row too) is counted wholly or not at all. `None` when the device
    /// was revoked.
    pub async fn leases(
        &self,
        device_id: Uuid,
        fresh: &FreshLease,
        now_ms: i64,
    ) -> Result<Option<DeviceLeases>> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("cannot start a lease request")?;
        let site: Option<(String,)> = sqlx::query_as(
            "UPDATE devices SET last_lease_request_at_ms = $1
             WHERE id = $2 AND revoked_at_ms IS NULL RETURNING site_code",
        )
        .bind(now_ms)
        .bind(device_id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .with_context(|| format!("cannot lock device {device_id} for its leases"))?;
        let Some((site_code,)) = site else {
            return Ok(None);
        };
        let secret = site_secret(&mut tx, &site_code, &fresh.candidate_secret, now_ms).await?;
        let mut leases = Vec::new();
        for (record, last_used) in device_leases(&mut tx, device_id).await? {
            let lease = record.regenerate(&secret, last_used)?;
            if lease.slots_left() > 0 {
                leases.push(lease);
            }
        }
        let issued = if needs_top_up(&leases) {
            let lease = fresh.issue(&secret, &site_code, device_id)?;
            insert_lease(&mut tx, &lease, now_ms).await?;
            leases.push(lease);
            Some(fresh.id)
        } else {
            None
        };
        tx.commit()
            .await
            .with_context(|| format!("cannot commit the leases of device {device_id}"))?;
        Ok(Some(DeviceLeases { leases, issued }))
    }
}

/// The site's secret, storing `candidate` first if the site has none: the first
/// secret stored stays, whoever stored it.
pub(super) async fn site_secret(
    conn: &mut AnyConnection,
    site_code: &str,
    candidate: &SiteSecret,
    now_ms: i64,
) -> Result<SiteSecret> {
    sqlx::query(
        "INSERT INTO site_secrets (site_code, secret, created_at_ms) VALUES ($1, $2, $3)
         ON CONFLICT (site_code) DO NOTHING",
    )
    .bind(site_code)
    .bind(candidate.to_hex())
    .bind(now_ms)
    .execute(&mut *conn)
    .await
    .with_context(|| format!("cannot store a secret for site {site_code}"))?;
    let (secret,): (String,) =
        sqlx::query_as("SELECT secret FROM site_secrets WHERE site_code = $1")
            .bind(site_code)
            .fetch_one(&mut *conn)
            .await
            .with_context(|| format!("cannot read the secret of site {site_code}"))?;
    SiteSecret::from_hex(&secret)
}

/// Records a lease just issued, as its device's next.
pub(super) async fn insert_lease(
    conn: &mut AnyConnection,
    lease: &Lease,
    now_ms: i64,
) -> Result<()> {
    let record = LeaseRecord::of(lease);
    let device_id = record.device_id.to_string();
    let block_sizes = serde_json::to_string(record.config.block_sizes())
        .context("block sizes always serialise")?;
    sqlx::query(
        "INSERT INTO leases (id, device_id, site_code, ordinal, block_sizes, n_slots, issued_at_ms)
         VALUES ($1, $2, $3,
                 (SELECT COALESCE(MAX(ordinal), 0) + 1 FROM leases WHERE device_id = $2),
                 $4, $5, $6)",
    )
    .bind(record.id.to_string())
    .bind(&device_id)
    .bind(&record.site_code)
    .bind(block_sizes)
    .bind(i64::from(record.n_slots))
    .bind(now_ms)
    .execute(&mut *conn)
    .await
    .with_context(|| format!("cannot record lease {} of device {device_id}", record.id))?;
    Ok(())
}

/// Every lease of a device, oldest first, with the highest slot the device
/// reported from it (a reported slot past its end uses nothing).
async fn device_leases(
    conn: &mut AnyConnection,
    device_id: Uuid,
) -> Result<Vec<(LeaseRecord, Option<u32>)>> {
    let rows: Vec<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT l.id, l.site_code, l.block_sizes, l.n_slots,
                (SELECT MAX(a.slot) FROM allocations a
                 WHERE a.lease_id = l.id AND a.device_id = l.device_id
                   AND a.slot < l.n_slots) AS last_slot
         FROM leases l WHERE l.device_id = $1 ORDER BY l.ordinal",
    )
    .bind(device_id.to_string())
    .fetch_all(&mut *conn)
    .await
    .with_context(|| format!("cannot read the leases of device {device_id}"))?;
    rows.into_iter()
        .map(|(id, site_code, block_sizes, n_slots, last_slot)| {
            let record = lease_record(&id, site_code, device_id, &block_sizes, n_slots)?;
            let last_used = last_slot.map(slot_from_db).transpose()?;
            Ok((record, last_used))
        })
        .collect()
}

/// Every lease issued to a device, oldest first, with its site's secret.
pub(super) async fn own_leases(
    conn: &mut AnyConnection,
    device_id: Uuid,
) -> Result<Vec<(LeaseRecord, SiteSecret)>> {
    let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(
        "SELECT l.id, l.site_code, l.block_sizes, l.n_slots, s.secret
         FROM leases l JOIN site_secrets s ON s.site_code = l.site_code
         WHERE l.device_id = $1 ORDER BY l.ordinal",
    )
    .bind(device_id.to_string())
    .fetch_all(&mut *conn)
    .await
    .with_context(|| format!("cannot read the leases of device {device_id}"))?;
    rows.into_iter()
        .map(|(id, site_code, block_sizes, n_slots, secret)| {
            let record = lease_record(&id, site_code, device_id, &block_sizes, n_slots)?;
            Ok((record, SiteSecret::from_hex(&secret)?))
        })
        .collect()
}

/// The device a lease was issued to, if the server issued it.
pub(super) async fn lease_owner(conn: &mut AnyConnection, id: LeaseId) -> Result<Option<Uuid>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT device_id FROM leases WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .with_context(|| format!("cannot read the owner of lease {id}"))?;
    row.map(|(device_id,)| {
        device_id
            .parse()
            .with_context(|| format!("the device of lease {id} is not a uuid"))
    })
    .transpose()
}

/// The slots of a lease a device reported, in the server's order.
pub(super) async fn used_slots(
    conn: &mut AnyConnection,
    lease: LeaseId,
    device_id: Uuid,
) -> Result<Vec<u32>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT a.slot FROM allocations a JOIN events e ON e.id = a.event_id
         WHERE a.lease_id = $1 AND a.device_id = $2 ORDER BY e.server_seq",
    )
    .bind(lease.to_string())
    .bind(device_id.to_string())
    .fetch_all(&mut *conn)
    .await
    .with_context(|| format!("cannot read the slots used of lease {lease}"))?;
    rows.into_iter().map(|(slot,)| slot_from_db(slot)).collect()
}

fn lease_record(
    id: &str,
    site_code: String,
    device_id: Uuid,
    block_sizes: &str,
    n_slots: i64,
) -> Result<LeaseRecord> {
    let sizes: Vec<u32> = serde_json::from_str(block_sizes)
        .with_context(|| format!("the block sizes of lease {id} do not read back"))?;
    Ok(LeaseRecord {
        id: LeaseId::new(id.parse().context("a stored lease id is not a uuid")?),
        site_code,
        device_id,
        config: RandomisationConfig::new(sizes)
            .with_context(|| format!("the block sizes of lease {id} are not valid"))?,
        n_slots: u32::try_from(n_slots)
            .with_context(|| format!("lease {id} claims {n_slots} slots"))?,
    })
}

/// A stored slot number as the lease's `u32`.
pub(super) fn slot_from_db(slot: i64) -> Result<u32> {
    u32::try_from(slot).with_context(|| format!("stored slot {slot} is out of range"))
}
