//! The allocation audit (issue 13 item 5, DESIGN.md "Randomisation"): every
//! randomisation the server stored with what its verification found, every flag
//! with the note that resolves it, and each tablet's lease stock, as the
//! coordinator's console shows them.
//!
//! What it never holds is a future slot: no seed, no list, no arm of a slot not
//! yet used. The arms it shows are those tablets reported for randomisations
//! already made, which the exports carry too; the stock is counts only, so nobody
//! can read from it which arm comes next.
//!
//! Who may read and resolve is `console::ConsoleRole::may`'s table
//! (`ReadAllocationAudit`, `ResolveFlag`); the note a resolution needs is
//! [`ResolutionNote`]. Also here: the JSON of `/api/console/allocation-audit` and
//! `/api/console/allocation-flags/resolve`.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::allocation::slots_consumed;
use crate::randomisation::Arm;

/// The most characters of a resolution note: room for what was found and done
/// (a phone call, a corrected record, the sponsor told), short of a document.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// What a coordinator wrote to resolve a flag: trimmed, 1 to
/// [`MAX_NOTE_CHARS`] characters. A flag is never resolved silently: GCP asks
/// that a reader of the audit later learns why a deviation was accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolutionNote(String);

/// Why a resolution note was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteError {
    /// Occurs when the note is empty once trimmed.
    Empty,
    /// Occurs when the trimmed note has more than [`MAX_NOTE_CHARS`] characters.
    TooLong,
}

impl ResolutionNote {
    /// The note `text` stands for, trimmed, or why it cannot resolve a flag.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let note = text.trim();
        if note.is_empty() {
            return Err(NoteError::Empty);
        }
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(NoteError::TooLong);
        }
        Ok(Self(note.to_owned()))
    }

    /// The note as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("a note saying why the flag is resolved is required"),
            Self::TooLong => write!(f, "at most {MAX_NOTE_CHARS} characters"),
        }
    }
}

/// The query of `GET /api/console/allocation-audit?site=BJ`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AllocationAuditQuery {
    /// The site's code.
    #[cfg_attr(feature = "openapi", param(example = "BJ"))]
    pub site: String,
}

/// `GET /api/console/allocation-audit`: one site's randomisations, flags and
/// lease stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AllocationAuditResponse {
    /// The site's code.
    pub site: String,
    /// The site's time zone, which `*_local` times are read in.
    pub time_zone: String,
    /// Every randomisation stored whose payload reads, in the order the server
    /// received them.
    pub randomisations: Vec<AuditedRandomisation>,
    /// Every flag raised on the site's randomisations (unreadable ones included),
    /// in the order they were raised.
    pub flags: Vec<AuditedFlag>,
    /// Each tablet's lease stock, by label.
    pub stock: Vec<LeaseStock>,
}

/// A randomisation and what its verification found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditedRandomisation {
    /// The `Randomised` event.
    pub event_id: Uuid,
    /// The study number it gave.
    pub study_number: String,
    /// The label of the tablet that made it.
    pub tablet: String,
    /// The lease it names.
    pub lease_id: Uuid,
    /// That lease's place among the tablet's (1, 2, …); none when the server
    /// never issued it to this tablet.
    pub lease_ordinal: Option<u32>,
    /// The slot of the lease it used (0 is the first).
    pub slot: u32,
    /// The arm the tablet reported: a randomisation already made.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "hemoperfusion"))]
    pub arm: Arm,
    /// When it was recorded, in UTC milliseconds.
    pub recorded_at_ms: i64,
    /// The same instant in ISO 8601 UTC.
    pub recorded_at_utc: String,
    /// The same instant in the site's local time, with its offset.
    pub recorded_at_local: String,
    /// The codes of the flags it raised (`allocation::AllocationFlag::code`);
    /// empty when it verified.
    pub flags: Vec<String>,
}

/// A flag raised on a randomisation, resolved or open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditedFlag {
    /// The randomisation event it was raised on.
    pub event_id: Uuid,
    /// `allocation::AllocationFlag::code`.
    pub code: String,
    /// What is wrong, in plain words.
    pub message: String,
    /// The label of the tablet that reported the randomisation.
    pub tablet: String,
    /// The study number it gave, unless its payload cannot be read.
    pub study_number: Option<String>,
    /// When the server raised it, in UTC milliseconds.
    pub raised_at_ms: i64,
    /// How it was resolved; none while it is open.
    pub resolution: Option<FlagResolution>,
}

/// How a flag was resolved: the note, who wrote it and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlagResolution {
    /// The note.
    pub note: String,
    /// The console account's name.
    pub resolved_by: String,
    /// When, in UTC milliseconds.
    pub resolved_at_ms: i64,
}

/// A tablet's lease stock: counts only, never which arm is next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaseStock {
    /// The tablet's label.
    pub tablet: String,
    /// Slots of every lease issued to it.
    pub issued: u32,
    /// Slots it has used (or passed).
    pub used: u32,
    /// Slots it may still use: `issued - used`.
    pub left: u32,
}

/// `POST /api/console/allocation-flags/resolve`: one flag, by its randomisation
/// and code, and the note that resolves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResolveFlagRequest {
    /// The randomisation event the flag was raised on.
    pub event_id: Uuid,
    /// The flag's code.
    pub code: String,
    /// Why it is resolved: 1 to [`MAX_NOTE_CHARS`] characters once trimmed.
    pub note: String,
}

/// One lease issued to a tablet, as its stock is counted: how many slots it
/// holds and which of them the tablet reported.
#[derive(Clone, Copy, Debug)]
pub struct IssuedSlots<'a> {
    /// How many slots the lease holds.
    pub n_slots: u32,
    /// Every slot of it the tablet reported, in any order.
    pub used_slots: &'a [u32],
}

impl LeaseStock {
    /// A tablet's stock over the leases it was issued. A slot counts as used
    /// once the tablet has passed it: the slots behind the next one
    /// (`allocation::slots_consumed`, the rule verification applies), so a
    /// skipped slot is used up too, as it can never be taken in order; a slot
    /// reported past a lease's end uses nothing.
    pub fn count<'a>(tablet: &str, leases: impl IntoIterator<Item = IssuedSlots<'a>>) -> Self {
        let (issued, used) = leases.into_iter().fold((0, 0), |(issued, used), lease| {
            (
                issued + lease.n_slots,
                used + slots_consumed(lease.n_slots, lease.used_slots),
            )
        });
        Self {
            tablet: tablet.to_owned(),
            issued,
            used,
            left: issued - used,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_trimmed_and_bounded() {
        let check = |text: &str, expected: Result<&str, NoteError>| {
            let parsed = ResolutionNote::parse(text);
            assert_eq!(
                parsed
                    .as_ref()
                    .map(ResolutionNote::as_str)
                    .map_err(|error| *error),
                expected,
                "{text:?}"
            );
        };
        check(
            "  phoned the site; arm confirmed  ",
            Ok("phoned the site; arm confirmed"),
        );
        check("", Err(NoteError::Empty));
        check(" \n\t ", Err(NoteError::Empty));
        // Characters, not bytes: a Chinese note as long as the rule allows.
        let longest = "核".repeat(MAX_NOTE_CHARS);
        check(&format!(" {longest} "), Ok(&longest));
        check(&format!("{longest}x"), Err(NoteError::TooLong));
    }

    #[test]
    fn stock_counts_issued_used_and_left_never_an_arm() {
        let check = |leases: &[(u32, &[u32])], expected: [u32; 3]| {
            let stock = LeaseStock::count(
                "T1",
                leases.iter().map(|&(n_slots, used_slots)| IssuedSlots {
                    n_slots,
                    used_slots,
                }),
            );
            assert_eq!(
                [stock.issued, stock.used, stock.left],
                expected,
                "{leases:?}"
            );
            assert_eq!(stock.issued, stock.used + stock.left);
        };
        check(&[], [0, 0, 0]);
        check(&[(8, &[])], [8, 0, 8]);
        check(&[(8, &[0, 1, 2])], [8, 3, 5]);
        // A full lease and a fresh one.
        check(&[(4, &[0, 1, 2, 3]), (6, &[0])], [10, 5, 5]);
        // A skipped slot is used up; a reused one uses nothing more.
        check(&[(8, &[0, 3])], [8, 4, 4]);
        check(&[(8, &[0, 0])], [8, 1, 7]);
        // A slot past the end uses nothing.
        check(&[(4, &[0, 9])], [4, 1, 3]);
    }

    #[test]
    fn the_stock_on_the_wire_is_counts_only() {
        let stock = LeaseStock::count(
            "T1",
            [IssuedSlots {
                n_slots: 6,
                used_slots: &[0, 1],
            }],
        );
        let json = serde_json::to_value(&stock).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "tablet": "T1", "issued": 6, "used": 2, "left": 4 })
        );
    }
}
