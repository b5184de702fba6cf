//! A participant's current state, folded from their events: what the home screen,
//! the forms and the coordinator's data queries show.
//!
//! Nothing is stored but the log (DESIGN.md, "Records"); every screen is a
//! projection of it, so any device holding the same events shows the same state.
//! To make that true whatever order events arrived in, [`project`] first sorts
//! them by `recorded_at` and then by event id, and folds them in that order.
//!
//! Two facts are decided by the order the holder *received* events in instead
//! (the order of the slice given to [`project`]: the server's order on the server,
//! the store's on a tablet), because device clocks can be set to anything: which
//! tablet screened the participant first, and which randomisation came first. A
//! participant's id is made by the tablet that screens them, and any other tablet
//! learns it only through the server, so the screening tablet's events always
//! reach the server first, whatever another tablet's clock says.
//!
//! The module is three parts: `model`, the state and what it records; `fold`, how
//! events change it; `policy`, the rules that read it (may this participant be
//! randomised, where do they stand, which sample is due). `summary` is the part of
//! the state a list of participants shows, and `stored` the state as a holder
//! keeps it beside its log.
//!
//! # Event by event
//!
//! The state is a pure function of the log, and it is kept up to date one event
//! at a time: [`Participant::apply`] folds the next event received into its
//! participant's state, touching nothing else, and the result is exactly what
//! [`project`] gives for the whole log (`tests/incremental.rs` proves it for
//! random logs). An event that belongs *before* events already folded (another
//! tablet's event recorded earlier, pulled later) cannot be folded on top: `apply`
//! says so ([`OutOfOrder`]), and the holder folds that one participant again from
//! their own events ([`Participant::refold`], which keeps what the order of
//! receipt decided), as `crate::edits::SubjectState::folds_after` does for one
//! subject on the server. A tablet, which does not record the order events arrived
//! in, takes the order they were recorded in as that order
//! ([`Participant::fold_in_recorded_order`]).
//!
//! # Rules
//!
//! - **Screening**: the latest screening form counts; the screening number is the
//!   first one given. A screening from another device than the one whose
//!   screening it replaces changes its answers blind (a screening carries no old
//!   values), so each answer it changes is a [`Conflict`], as for forms.
//! - **Randomisation is set once**, by the first `Randomised` event received. Any
//!   other never overwrites it; it is listed as an [`Anomaly`]. A randomisation
//!   that [`Participant::may_randomise`] would have refused at its moment, over
//!   the events recorded before it, is listed too, with the reasons: the rule the
//!   tablet applies before the tap is the rule its record is checked by. A
//!   randomisation whose payload cannot be read still counts as one: the patient
//!   may have been allocated, so nobody may randomise them again.
//! - **Forms** keep every value they ever held: each change records who, when, the
//!   old and new entry, and the reason for a correction.
//! - **Concurrent edits** are decided by `crate::edits`, one [`SubjectState`] per
//!   screening or form instance: a blind change still applies (the later event
//!   shows, as everywhere), and both values stay in the history, but a
//!   [`Conflict`] is listed for a person to resolve.
//! - **Checks against the ECMO start** (sample windows, outcome dates), which a
//!   payload cannot make on its own, are re-run here with the participant's
//!   screening; a failure is an [`Anomaly`], not a refusal, since the event is
//!   already in everyone's log.
//! - **Withdrawal and end**: the latest of each counts; the arm never changes.
//!
//! [`SubjectState`]: crate::edits::SubjectState

mod fold;
mod model;
mod policy;
mod stored;
mod summary;

pub use crate::edits::{Conflict, Subject};
pub use fold::{OutOfOrder, project};
pub use model::{
    Anomaly, Change, Deviation, FormRecord, NextSample, Participant, Provenance, RandomiseRefusal,
    Recorded, Status,
};
pub use stored::StoredError;
pub use summary::Summary;
