//! Why an action did not complete, in the user's language. An expected refusal
//! (no slot left, not eligible any more) is a sentence of its own; an unforeseen
//! failure (the browser's storage or key store refusing) is a sentence that says
//! nothing was saved, with the technical detail after it for a support call: the
//! detail is the browser's or the trial core's English, so it comes last, marked
//! as such, and a Chinese user reads a whole Chinese sentence first.

use trial::event::{AppendError, LimitError};
use trial::payload::PayloadError;
use trial::projection::RandomiseRefusal;

use super::{Lang, Text, t};
use crate::actions::{ActionError, Refusal};
use crate::crypto::CryptoError;
use crate::store::{RandomiseError, StoreError};
use crate::sync::SyncError;

/// An action's failure as the user reads it.
pub fn action_error(lang: Lang, error: &ActionError) -> String {
    let text = match error {
        ActionError::NotRandomisable(Refusal::Rule(refusal)) => refusal_text(refusal),
        ActionError::NotRandomisable(Refusal::NoSlotLeft)
        | ActionError::Randomise(RandomiseError::LeaseExhausted | RandomiseError::NoLease) => {
            Text::BlockedNoSlot
        }
        ActionError::NotRandomisable(Refusal::SlotsBusy)
        | ActionError::Randomise(RandomiseError::SlotTaken { .. }) => Text::SlotsBusy,
        ActionError::NotRandomisable(Refusal::UnknownParticipant) => Text::UnknownParticipant,
        ActionError::Randomise(RandomiseError::AlreadyRandomised { .. }) => Text::AlreadyRandomised,
        ActionError::Randomise(RandomiseError::Store(error)) | ActionError::Store(error) => {
            return store_error(lang, error);
        }
        ActionError::Crypto(error) => return crypto_error(lang, error),
        // The form named each problem at its field already; this lists them again
        // for the one that got past it.
        ActionError::Refused(PayloadError::Invalid { errors, .. }) => {
            let problems: Vec<String> =
                errors.iter().map(|e| super::field_error(lang, e)).collect();
            let separator = if lang == Lang::Zh { "；" } else { "; " };
            return format!(
                "{} {}",
                t(lang, Text::CheckMarkedFields),
                problems.join(separator)
            );
        }
        ActionError::Refused(other) => return with_detail(lang, Text::FormNotBuilt, other),
    };
    t(lang, text).to_owned()
}

/// The words for the trial's reason not to randomise.
pub fn refusal_text(refusal: &RandomiseRefusal) -> Text {
    match refusal {
        RandomiseRefusal::NotEligible(_) => Text::BlockedNotEligible,
        RandomiseRefusal::NoConsent => Text::BlockedNoConsent,
        RandomiseRefusal::AlreadyRandomised => Text::AlreadyRandomised,
        RandomiseRefusal::ScreenedOnAnotherDevice => Text::BlockedOtherDevice,
        RandomiseRefusal::NotEnrolled => Text::BlockedNotEnrolled,
    }
}

/// A storage failure: nothing was saved, and the detail for support.
pub fn store_error(lang: Lang, error: &StoreError) -> String {
    let text = match error {
        StoreError::Database(_) => Text::StorageRefused,
        StoreError::Corrupt(_) => Text::StorageCorrupt,
        StoreError::Append(AppendError::Limit(LimitError::RecordedBeforeTheTrial { .. })) => {
            Text::ClockBeforeTrial
        }
        StoreError::Append(_) => Text::ChainRefused,
    };
    with_detail(lang, text, error)
}

/// A key-store failure: nothing was saved, and the detail for support.
pub fn crypto_error(lang: Lang, error: &CryptoError) -> String {
    match error {
        CryptoError::Store(error) => store_error(lang, error),
        CryptoError::Unavailable => t(lang, Text::CryptoUnavailable).to_owned(),
        CryptoError::Refused(_) => with_detail(lang, Text::CryptoRefused, error),
    }
}

/// `text` (a sentence without its full stop), then the technical detail for a
/// support call: "… (technical detail: …)." / "…（技术细节：…）。".
pub fn with_detail(lang: Lang, text: Text, detail: &dyn std::fmt::Display) -> String {
    sentence_with_detail(lang, t(lang, text), detail)
}

/// [`with_detail`] for a sentence of another module's texts.
pub fn sentence_with_detail(lang: Lang, sentence: &str, detail: &dyn std::fmt::Display) -> String {
    let detail = super::labelled(lang, t(lang, Text::TechnicalDetail), &detail.to_string());
    let sentence = super::parenthesised(lang, sentence, &detail);
    match lang {
        Lang::En => format!("{sentence}."),
        Lang::Zh => format!("{sentence}。"),
    }
}

/// Why a sync step did not complete, for the status line. Offline is no failure
/// and reads as such.
pub fn sync_error(lang: Lang, error: &SyncError) -> String {
    match error {
        SyncError::Offline => t(lang, Text::SyncOffline).to_owned(),
        SyncError::Unauthenticated(_) => t(lang, Text::SyncRevoked).to_owned(),
        SyncError::AlreadyEnrolled => t(lang, Text::AlreadyEnrolled).to_owned(),
        SyncError::Refused(_, detail) | SyncError::Unexpected(detail) => {
            with_detail(lang, Text::SyncFailed, detail)
        }
        SyncError::Store(error) => store_error(lang, error),
        SyncError::Crypto(error) => crypto_error(lang, error),
    }
}
