//! The app's multi-step actions: each gathers what the trial core needs, asks it,
//! and writes the answer through the store in one transaction. Decisions stay in
//! `trial`; this module only orders the steps.

use leptos::prelude::*;
use trial::crf::FormContext;
use trial::event::EventDraft;
use trial::payload::{
    Payload, PayloadError, Randomised, SCHEMA_VERSION, ScreeningNumber, ScreeningRecorded,
    StudyNumber,
};
use trial::projection::RandomiseRefusal;
use trial::randomisation::{Lease, LeaseId, RandomisationConfig, Stratum};
use trial::screening::ScreeningForm;
use uuid::Uuid;

use crate::clock;
use crate::crypto::{self, CryptoError};
use crate::state::DATABASE;
use crate::store::{LeaseMode, LeaseRecord, RandomiseError, Store, StoreError};

/// The site code of training-mode study numbers and strata.
pub const TRAINING_SITE: &str = "TR";
/// How many blocks a training lease holds.
const TRAINING_BLOCKS: u32 = 20;
/// How often a randomisation that lost its slot to another tab is retried.
const SLOT_RETRIES: u32 = 3;

/// The app's version, carried by every event.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why an action did not complete. Nothing was written unless it says so; the
/// user reads it through `i18n::action_error`.
#[derive(Clone, Debug)]
pub enum ActionError {
    /// Occurs when storage fails.
    Store(StoreError),
    /// Occurs when sealing or opening a seed fails.
    Crypto(CryptoError),
    /// Occurs when the randomise step refuses (already randomised, no slot…).
    Randomise(RandomiseError),
    /// Occurs when the participant may not be randomised at the moment of the tap.
    NotRandomisable(Refusal),
    /// Occurs when the trial core refuses the record (`Payload::check`); the
    /// form should have said so at its fields first.
    Refused(PayloadError),
}

/// Why a participant may not be randomised now, checked again at the tap.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// Occurs when no such participant is on this tablet.
    UnknownParticipant,
    /// Occurs when the trial's rule refuses (`Participant::may_randomise`).
    Rule(RandomiseRefusal),
    /// Occurs when the tablet holds no lease with a slot left.
    NoSlotLeft,
    /// Occurs when other tabs took the next slot every time this one tried.
    SlotsBusy,
}

impl From<StoreError> for ActionError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<CryptoError> for ActionError {
    fn from(error: CryptoError) -> Self {
        Self::Crypto(error)
    }
}

/// One write per form, however often its button is tapped or Enter is pressed:
/// a form holds one of these from its first tap to the answer, and afterwards
/// too when the write went through, until the page shows what was written
/// (the form gives way to its record, or the page moves on). Taps land one
/// after another in the same turn, before the button can show it is disabled,
/// so the check is made here, at the tap, not left to the button.
#[derive(Clone, Copy)]
pub struct SaveOnce(RwSignal<SaveState>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum SaveState {
    Ready,
    Saving,
    Saved,
}

impl SaveOnce {
    /// A form with nothing saved yet.
    pub fn ready() -> Self {
        Self(RwSignal::new(SaveState::Ready))
    }

    /// Whether this tap may write: nothing under way and nothing written yet.
    /// Marks the save as under way when it may.
    pub fn start(self) -> bool {
        if self.0.try_get_untracked() != Some(SaveState::Ready) {
            return false;
        }
        self.0.set(SaveState::Saving);
        true
    }

    /// The write went through: no further tap writes again.
    pub fn saved(self) {
        self.0.try_set(SaveState::Saved);
    }

    /// Lets the form write again: after a write that failed (nothing was
    /// written), or after one that went through on a form that stays open for
    /// the next (a screening edited once more).
    pub fn reopen(self) {
        self.0.try_set(SaveState::Ready);
    }

    /// Whether the button should show as disabled; a reactive read.
    pub fn is_busy(self) -> bool {
        self.0.try_get() != Some(SaveState::Ready)
    }
}

/// Records `payload` about `participant_id` as `user_id`, now: only once the
/// trial core's check before saving passes (`Payload::check`), the check the
/// server makes of the pushed event, so no form can save what the server would
/// refuse, whatever the form itself checked.
pub async fn record(
    participant_id: Uuid,
    user_id: Uuid,
    payload: &Payload,
) -> Result<(), ActionError> {
    let draft = draft(participant_id, user_id, payload);
    payload
        .check(draft.recorded_at, FormContext::NONE)
        .map_err(ActionError::Refused)?;
    let store = Store::open(DATABASE).await?;
    let result = store.record(draft).await;
    store.close();
    result.map(drop).map_err(ActionError::from)
}

/// Records the screening of a new participant, `participant_id`, as `user_id`,
/// now, under this tablet's next screening number, which the store takes in the
/// same transaction as the event (so two tabs never give one twice). The trial
/// core's check before saving comes first, as for every record.
pub async fn record_screening(
    participant_id: Uuid,
    user_id: Uuid,
    form: ScreeningForm,
) -> Result<ScreeningNumber, ActionError> {
    let store = Store::open(DATABASE).await?;
    let result = async {
        let label = device_label(&store).await?;
        let body = |number: &ScreeningNumber| {
            Payload::ScreeningRecorded(ScreeningRecorded {
                screening_number: number.as_str().to_owned(),
                form: form.clone(),
            })
        };
        // Any number of the tablet's checks as the one it will get.
        let first = ScreeningNumber::new(&label, 1)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        body(&first)
            .check(clock::now(), FormContext::NONE)
            .map_err(ActionError::Refused)?;
        let (_, number) = store
            .record_screening(&label, |number| {
                draft(participant_id, user_id, &body(number))
            })
            .await?;
        Ok(number)
    }
    .await;
    store.close();
    result
}

/// The tablet's short label in study numbers: the one enrolment gave it ("T1"),
/// or before enrolment the end of its device id ([`short_id`]).
pub async fn device_label(store: &Store) -> Result<String, StoreError> {
    if let Some(enrolment) = store.enrolment().await? {
        return Ok(enrolment.device_label);
    }
    let device = store.chain_head().await?.device_id();
    Ok(short_id(device, 4))
}

/// The last `digits` hex digits of `id`, in capitals: a short name for a device or
/// user the tablet has no name for. The end, because a UUID v7 starts with its
/// timestamp, which ids made around the same time share.
pub fn short_id(id: Uuid, digits: usize) -> String {
    let hex = id.simple().to_string();
    hex[hex.len() - digits.min(hex.len())..].to_ascii_uppercase()
}

/// Gives an unenrolled tablet a training lease, generated here and marked as such.
pub async fn start_training() -> Result<(), ActionError> {
    let store = Store::open(DATABASE).await?;
    let result = start_training_in(&store).await;
    store.close();
    result
}

async fn start_training_in(store: &Store) -> Result<(), ActionError> {
    if store.enrolment().await?.is_some() {
        // An enrolled tablet randomises only from the server's leases.
        return Err(ActionError::NotRandomisable(Refusal::NoSlotLeft));
    }
    let device = store.chain_head().await?.device_id();
    let config = RandomisationConfig::standard();
    let seed = crypto::random_seed()?;
    let lease_id = LeaseId::new(Uuid::now_v7());
    let stratum = Stratum::new(TRAINING_SITE, device).expect("the training site code is valid");
    let lease = Lease::issue(
        lease_id,
        stratum,
        seed.clone(),
        config.clone(),
        TRAINING_BLOCKS,
    )
    .expect("a training lease of 20 blocks is within the limits");
    let record = LeaseRecord {
        lease_id,
        mode: LeaseMode::Training,
        site: TRAINING_SITE.into(),
        device,
        block_sizes: config.block_sizes().to_vec(),
        n_slots: lease.n_slots(),
        next_slot: 0,
        sealed_seed: crypto::seal(store, &seed).await?,
    };
    store.put_lease(&record).await?;
    Ok(())
}

/// Randomises `participant_id`, re-checking everything at the moment of the tap:
/// eligible now (the 24-hour window included), consented, not yet randomised, a slot
/// left. Opens the seed, derives the arm of the lease's next slot, and stores slot,
/// allocation and event in one transaction; if another tab took the slot meanwhile,
/// derives the next one and tries again.
pub async fn randomise(participant_id: Uuid, user_id: Uuid) -> Result<Randomised, ActionError> {
    let store = Store::open(DATABASE).await?;
    let result = randomise_in(&store, participant_id, user_id).await;
    store.close();
    result
}

async fn randomise_in(
    store: &Store,
    participant_id: Uuid,
    user_id: Uuid,
) -> Result<Randomised, ActionError> {
    for _ in 0..SLOT_RETRIES {
        let now = clock::now();
        check_randomisable(store, participant_id, now).await?;
        let lease = store
            .active_lease()
            .await?
            .ok_or(ActionError::NotRandomisable(Refusal::NoSlotLeft))?;
        let seed = crypto::open(store, lease.lease_id, &lease.sealed_seed).await?;
        let config = RandomisationConfig::new(lease.block_sizes.clone())
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let stratum = Stratum::new(lease.site.clone(), lease.device)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let mut derived = Lease::resume(
            lease.lease_id,
            stratum,
            seed,
            config,
            lease.n_slots,
            lease.next_slot,
        )
        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let allocation = derived
            .allocate()
            .map_err(|_| ActionError::NotRandomisable(Refusal::NoSlotLeft))?;
        let label = device_label(store).await?;
        let study_number = StudyNumber::new(&lease.site, &label, store.n_randomised().await? + 1)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let randomised = Randomised {
            lease_id: lease.lease_id,
            slot: allocation.slot(),
            arm: allocation.arm(),
            study_number,
            randomised_at: now,
        };
        let payload = Payload::Randomised(randomised.clone());
        let draft = draft(participant_id, user_id, &payload);
        match store
            .randomise(participant_id, lease.lease_id, allocation.slot(), draft)
            .await
        {
            Ok(_) => return Ok(randomised),
            Err(RandomiseError::SlotTaken { .. }) => continue,
            Err(error) => return Err(ActionError::Randomise(error)),
        }
    }
    Err(ActionError::NotRandomisable(Refusal::SlotsBusy))
}

async fn check_randomisable(
    store: &Store,
    participant_id: Uuid,
    now: trial::time::Moment,
) -> Result<(), ActionError> {
    let device = store.chain_head().await?.device_id();
    let context = store.state_context().await?;
    let (participant, _) = store
        .participant(participant_id, &context)
        .await?
        .ok_or(ActionError::NotRandomisable(Refusal::UnknownParticipant))?;
    participant
        .may_randomise(now, device)
        .map_err(|refusal| ActionError::NotRandomisable(Refusal::Rule(refusal)))
}

fn draft(participant_id: Uuid, user_id: Uuid, payload: &Payload) -> EventDraft {
    EventDraft {
        id: Uuid::now_v7(),
        participant_id,
        user_id,
        recorded_at: clock::now(),
        kind: payload.kind(),
        payload: payload.to_json(),
        app_version: APP_VERSION.into(),
        schema_version: SCHEMA_VERSION,
    }
}
