//! The allocation audit's storage (issue 13 item 5, `trial::audit`): a site's
//! randomisations as stored, the resolutions of its flags, each tablet's leases
//! and the slots it reported, and the one write, a flag's resolution.
//!
//! Nothing here reads a site secret or a seed: the audit shows the arms tablets
//! reported and counts slots, and never regenerates a list.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use trial::audit::{FlagResolution, IssuedSlots, LeaseStock, ResolutionNote};
use trial::randomisation::Arm;
use uuid::Uuid;

use super::Store;

/// A site's allocation audit as stored: what `trial::audit`'s answer is made
/// of, before times are read in the site's calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocationAudit {
    /// Every randomisation whose payload reads, in the order the server received
    /// them.
    pub randomisations: Vec<StoredRandomisation>,
    /// The resolutions of the site's flags, by randomisation and code.
    pub resolutions: BTreeMap<(Uuid, String), FlagResolution>,
    /// Each tablet's lease stock, by label.
    pub stock: Vec<LeaseStock>,
}

/// One row of `allocations`, with its tablet, its lease's ordinal and when it
/// was recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRandomisation {
    /// The `Randomised` event.
    pub event_id: Uuid,
    /// The study number it gave.
    pub study_number: String,
    /// The tablet's label.
    pub tablet: String,
    /// The lease it names.
    pub lease_id: Uuid,
    /// The lease's ordinal, when the server issued it to this tablet.
    pub lease_ordinal: Option<u32>,
    /// The slot it used.
    pub slot: u32,
    /// The arm the tablet reported.
    pub arm: Arm,
    /// When it was recorded, in UTC milliseconds, and the tablet's offset then.
    pub recorded_at: (i64, i16),
}

/// What resolving a flag did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The resolution is stored.
    Resolved(FlagResolution),
    /// No flag has this randomisation and code: nothing changed.
    NoSuchFlag,
    /// The flag was resolved before, as this says: nothing changed.
    AlreadyResolved(FlagResolution),
}

/// A row of the randomisations' query, in its column order.
type RandomisationRow = (
    String,
    String,
    String,
    String,
    Option<i64>,
    i64,
    String,
    i64,
    i64,
);

/// A row of the resolutions' query, in its column order.
type ResolutionRow = (String, String, String, String, i64);

/// A row of the stock's query: label, lease id, its slots, one reported slot.
type StockRow = (String, Option<String>, Option<i64>, Option<i64>);

impl Store {
    /// The site's randomisations, its flags' resolutions and its tablets' stock.
    pub async fn allocation_audit(&self, site_code: &str) -> Result<AllocationAudit> {
        Ok(AllocationAudit {
            randomisations: self.site_randomisations(site_code).await?,
            resolutions: self.flag_resolutions(site_code).await?,
            stock: self.lease_stock(site_code).await?,
        })
    }

    /// Stores `note` as the resolution of the flag `code` on the randomisation
    /// `event_id`, by `account_id`, unless there is no such flag or it was
    /// resolved before.
    pub async fn resolve_allocation_flag(
        &self,
        event_id: Uuid,
        code: &str,
        note: &ResolutionNote,
        account_id: Uuid,
        now_ms: i64,
    ) -> Result<Resolution> {
        let flag: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM allocation_flags WHERE event_id = $1 AND code = $2")
                .bind(event_id.to_string())
                .bind(code)
                .fetch_optional(&self.pool)
                .await
                .with_context(|| format!("cannot read flag {code} of event {event_id}"))?;
        if flag.is_none() {
            return Ok(Resolution::NoSuchFlag);
        }
        // The primary key decides a race between two coordinators: one insert
        // stores, the other stores nothing and reads the first one's.
        let stored = sqlx::query(
            "INSERT INTO allocation_flag_resolutions (event_id, code, note, account_id,
                 resolved_at_ms)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(event_id.to_string())
        .bind(code)
        .bind(note.as_str())
        .bind(account_id.to_string())
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot resolve flag {code} of event {event_id}"))?
        .rows_affected();
        let resolution = self
            .flag_resolution(event_id, code)
            .await?
            .context("a flag's resolution was stored but does not read back")?;
        Ok(if stored == 1 {
            Resolution::Resolved(resolution)
        } else {
            Resolution::AlreadyResolved(resolution)
        })
    }

    async fn site_randomisations(&self, site_code: &str) -> Result<Vec<StoredRandomisation>> {
        let rows: Vec<RandomisationRow> = sqlx::query_as(
            "SELECT a.event_id, a.study_number, d.label, a.lease_id, l.ordinal, a.slot, a.arm,
                    e.recorded_at_ms, e.recorded_offset_minutes
             FROM allocations a
             JOIN events e ON e.id = a.event_id
             JOIN devices d ON d.id = a.device_id
             LEFT JOIN leases l ON l.id = a.lease_id AND l.device_id = a.device_id
             WHERE d.site_code = $1
             ORDER BY e.server_seq",
        )
        .bind(site_code)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the randomisations of site {site_code}"))?;
        rows.into_iter()
            .map(
                |(event, study_number, tablet, lease, ordinal, slot, arm, at_ms, offset)| {
                    Ok(StoredRandomisation {
                        event_id: event.parse().context("an event id is not a uuid")?,
                        study_number,
                        tablet,
                        lease_id: lease.parse().context("a lease id is not a uuid")?,
                        lease_ordinal: ordinal
                            .map(u32::try_from)
                            .transpose()
                            .context("a lease ordinal is out of range")?,
                        slot: u32::try_from(slot).context("a slot is out of range")?,
                        arm: serde_json::from_value(arm.clone().into())
                            .with_context(|| format!("stored arm {arm} does not read back"))?,
                        recorded_at: (
                            at_ms,
                            i16::try_from(offset).context("an offset is out of range")?,
                        ),
                    })
                },
            )
            .collect()
    }

    async fn flag_resolutions(
        &self,
        site_code: &str,
    ) -> Result<BTreeMap<(Uuid, String), FlagResolution>> {
        let rows: Vec<ResolutionRow> = sqlx::query_as(
            "SELECT r.event_id, r.code, r.note, c.name, r.resolved_at_ms
             FROM allocation_flag_resolutions r
             JOIN allocation_flags f ON f.event_id = r.event_id AND f.code = r.code
             JOIN devices d ON d.id = f.device_id
             JOIN console_accounts c ON c.id = r.account_id
             WHERE d.site_code = $1",
        )
        .bind(site_code)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the flag resolutions of site {site_code}"))?;
        rows.into_iter()
            .map(|(event, code, note, resolved_by, resolved_at_ms)| {
                let event_id = event.parse().context("an event id is not a uuid")?;
                let resolution = FlagResolution {
                    note,
                    resolved_by,
                    resolved_at_ms,
                };
                Ok(((event_id, code), resolution))
            })
            .collect()
    }

    async fn flag_resolution(&self, event_id: Uuid, code: &str) -> Result<Option<FlagResolution>> {
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT r.note, c.name, r.resolved_at_ms
             FROM allocation_flag_resolutions r
             JOIN console_accounts c ON c.id = r.account_id
             WHERE r.event_id = $1 AND r.code = $2",
        )
        .bind(event_id.to_string())
        .bind(code)
        .fetch_optional(&self.pool)
        .await
        .with_context(|| format!("cannot read the resolution of flag {code} of {event_id}"))?;
        Ok(
            row.map(|(note, resolved_by, resolved_at_ms)| FlagResolution {
                note,
                resolved_by,
                resolved_at_ms,
            }),
        )
    }

    /// Every tablet of the site, revoked ones included, with its leases' slots
    /// and the slots it reported from each, counted by the core's rule.
    pub(super) async fn lease_stock(&self, site_code: &str) -> Result<Vec<LeaseStock>> {
        let rows: Vec<StockRow> = sqlx::query_as(
            "SELECT d.label, l.id, l.n_slots, a.slot
             FROM devices d
             LEFT JOIN leases l ON l.device_id = d.id
             LEFT JOIN allocations a ON a.lease_id = l.id AND a.device_id = l.device_id
             WHERE d.site_code = $1
             ORDER BY d.label, l.ordinal, a.slot",
        )
        .bind(site_code)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the lease stock of site {site_code}"))?;
        // Tablet → lease → (its slots, the slots reported), in the query's order.
        let mut tablets: BTreeMap<String, BTreeMap<String, (u32, Vec<u32>)>> = BTreeMap::new();
        for (label, lease, n_slots, slot) in rows {
            let leases = tablets.entry(label).or_default();
            let (Some(lease), Some(n_slots)) = (lease, n_slots) else {
                continue;
            };
            let n_slots = u32::try_from(n_slots).context("a lease's size is out of range")?;
            let (_, used) = leases.entry(lease).or_insert((n_slots, Vec::new()));
            if let Some(slot) = slot {
                used.push(u32::try_from(slot).context("a slot is out of range")?);
            }
        }
        Ok(tablets
            .iter()
            .map(|(label, leases)| {
                LeaseStock::count(
                    label,
                    leases.values().map(|(n_slots, used_slots)| IssuedSlots {
                        n_slots: *n_slots,
                        used_slots,
                    }),
                )
            })
            .collect())
    }
}
