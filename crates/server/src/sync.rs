//! The push rule: which events of a batch are stored, which are refused, and why.
//!
//! A tablet pushes its events in order, usually after the last one the server
//! acknowledged; after a lost answer it may resend some that are stored already.
//! For each event, in order:
//!
//! 1. **Repeats** (a sequence number the server has stored) must be identical to
//!    the stored event; they are skipped, and a rejection stored with one is given
//!    again, so a retried batch gets the same answer. A *different* event under a
//!    stored number is refused (`seq_conflict`).
//! 2. **New events** must be recorded on the token's device (`wrong_device`), not
//!    more than [`MAX_CLOCK_LEAD_MS`] after the server's clock (`from_the_future`),
//!    and continue the hash chain from the server's last stored event, as
//!    `trial::event::verify_chain_from` checks it (`chain_broken`).
//! 3. The first event refused this way ends the batch: neither it nor anything
//!    after it is stored, and `acked_seq` stays at the last stored event. Nothing
//!    after a broken link can be trusted, and the tablet must not skip past it.
//! 4. An event that passes 2 but whose **payload** does not validate is stored
//!    anyway, acknowledged, marked rejected with its reason and kept out of pulls
//!    (`invalid_payload`): the audit trail stays gapless and the tablet is never
//!    stuck behind one bad record, while the coordinator sees it.
//!
//! The handler runs the whole batch in one database transaction; this module only
//! decides, so it is tested without a database.

use std::ops::RangeInclusive;

use trial::event::{ChainHead, Event, verify_chain_from};
use trial::payload::Payload;
use trial::wire::{Rejection, RejectionCode};

use crate::store::{PushOutcome, StoredEvent};

/// How far ahead of the server's clock an event may be timestamped: tablet clocks
/// drift, but an event from further in the future means a wrong clock or time zone,
/// and the data it dates (a randomisation, a sample) would be wrong.
pub const MAX_CLOCK_LEAD_MS: i64 = 5 * 60 * 1000;

/// What to do with a batch.
#[derive(Debug, Default)]
pub struct PushPlan {
    /// Events to append, in order, each with its verdict: `Some` when its payload
    /// was refused (stored all the same).
    pub new_events: Vec<(Event, Option<Rejection>)>,
    /// The stored rejections of repeated events, given again.
    pub repeated: Vec<Rejection>,
    /// The event that ended the batch, and why.
    pub refusal: Option<Rejection>,
}

/// The stored sequence numbers a batch repeats, if any: the store reads those
/// events back to compare them.
pub fn repeated_seqs(head: &ChainHead, batch: &[Event]) -> Option<RangeInclusive<u64>> {
    let first = batch.iter().map(Event::device_seq).min()?.max(1);
    (first <= head.last_seq()).then(|| first..=head.last_seq())
}

/// Applies the rule of the module doc to a batch, given the device's stored head
/// and the stored events it repeats.
pub fn plan_push(
    head: ChainHead,
    stored: &[StoredEvent],
    batch: Vec<Event>,
    now_ms: i64,
) -> PushPlan {
    let mut plan = PushPlan::default();
    let mut anchor = head;
    for event in batch {
        let refusal = if event.device_id() != head.device_id() {
            let message = format!(
                "event {} was recorded on device {}, not on this device ({})",
                event.device_seq(),
                event.device_id(),
                head.device_id()
            );
            rejection(&event, RejectionCode::WrongDevice, message)
        } else if (1..=head.last_seq()).contains(&event.device_seq()) && plan.new_events.is_empty()
        {
            match stored
                .iter()
                .find(|s| s.event.device_seq() == event.device_seq())
            {
                Some(same) if same.event == event => {
                    plan.repeated.extend(same.rejection.clone());
                    continue;
                }
                _ => {
                    let message = format!(
                        "a different event is already stored as event {} of this device",
                        event.device_seq()
                    );
                    rejection(&event, RejectionCode::SeqConflict, message)
                }
            }
        } else if event.recorded_at().utc_ms() - now_ms > MAX_CLOCK_LEAD_MS {
            let message = format!(
                "event {} is timestamped {} s after the server's clock; check the tablet's \
                 date, time and time zone",
                event.device_seq(),
                (event.recorded_at().utc_ms() - now_ms) / 1000
            );
            rejection(&event, RejectionCode::FromTheFuture, message)
        } else {
            match verify_chain_from(&anchor, std::slice::from_ref(&event)) {
                Ok(next) => {
                    anchor = next;
                    let verdict = check_payload(&event)
                        .err()
                        .map(|message| rejection(&event, RejectionCode::InvalidPayload, message));
                    plan.new_events.push((event, verdict));
                    continue;
                }
                Err(error) => rejection(&event, RejectionCode::ChainBroken, error.to_string()),
            }
        };
        plan.refusal = Some(refusal);
        break;
    }
    plan
}

impl PushPlan {
    /// The acknowledged sequence number and the rejections to answer with, once
    /// the store has appended what it could.
    pub fn answer(self, outcome: &PushOutcome) -> (u64, Vec<Rejection>) {
        let mut rejected = self.repeated;
        let stored = &self.new_events[..outcome.stored];
        rejected.extend(stored.iter().filter_map(|(_, verdict)| verdict.clone()));
        if let Some((clash, _)) = self.new_events.get(outcome.stored) {
            let message = format!("another stored event already has the id {}", clash.id());
            rejected.push(rejection(clash, RejectionCode::DuplicateEventId, message));
        } else {
            rejected.extend(self.refusal);
        }
        (outcome.head.last_seq(), rejected)
    }
}

/// Whether an event's payload is valid data for its kind and schema version, by
/// the same `trial` code the tablet validated it with before saving.
fn check_payload(event: &Event) -> Result<(), String> {
    Payload::parse(event.kind(), event.schema_version(), event.payload())
        .map(drop)
        .map_err(|error| error.to_string())
}

fn rejection(event: &Event, code: RejectionCode, message: String) -> Rejection {
    Rejection {
        device_seq: event.device_seq(),
        event_id: event.id(),
        code,
        message,
    }
}
