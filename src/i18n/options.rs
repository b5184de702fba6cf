//! The answers of choice and yes / no fields, and their words. The trial core names
//! each answer by its key ([`Input::Choice`]); reading the key back as the form's
//! own enum and matching that exhaustively means a new answer in the core cannot
//! reach the screen without its translation.

use serde::Serialize;
use serde::de::DeserializeOwned;
use trial::crf::adverse_event::{AeOutcome, Relatedness, Severity};
use trial::crf::baseline::ShockCause;
use trial::crf::consent::ConsentGivenBy;
use trial::crf::end::{NotEnrolledReason, WithdrawnBy};
use trial::crf::hemoperfusion::{Cartridge, CircuitPosition, StopReason};
use trial::crf::outcomes::Day28Status;
use trial::field::{Field, Input};
use trial::screening::{Answer, EcmoMode, Sex};

use super::{Lang, Text, t};

/// What "yes" and "no" are typed as; a yes / no field stores a boolean.
pub const YES: &str = "yes";
/// See [`YES`].
pub const NO: &str = "no";

/// The keys of the answers of a choice or yes / no field, in the order shown;
/// `None` for a field typed rather than chosen.
pub fn keys(field: Field) -> Option<&'static [&'static str]> {
    match field.input() {
        Input::YesNo => Some(&[YES, NO]),
        Input::Choice(keys) => Some(keys),
        _ => None,
    }
}

/// The answer `key` of `field` in `lang`; the key itself for a key the app does not
/// know, which the core's tests rule out.
pub fn label(lang: Lang, field: Field, key: &str) -> String {
    text(field, key).map_or_else(|| key.to_owned(), |text| t(lang, text).to_owned())
}

/// The answer `value` of `field` (a form's enum, as stored) in `lang`.
pub fn label_of(lang: Lang, field: Field, value: &impl Serialize) -> String {
    let key = serde_json::to_value(value)
        .ok()
        .and_then(|key| key.as_str().map(str::to_owned))
        .unwrap_or_default();
    label(lang, field, &key)
}

/// The text of the answer `key` of `field`.
fn text(field: Field, key: &str) -> Option<Text> {
    match field.input() {
        Input::YesNo => {
            return match key {
                YES => Some(Text::Yes),
                NO => Some(Text::No),
                _ => None,
            };
        }
        Input::Answer => {
            return Some(match read(key)? {
                Answer::Yes => Text::Yes,
                Answer::No => Text::No,
                Answer::Unknown => Text::Unknown,
            });
        }
        _ => {}
    }
    Some(match field {
        Field::Sex => match read(key)? {
            Sex::Female => Text::Female,
            Sex::Male => Text::Male,
        },
        Field::EcmoMode => match read(key)? {
            EcmoMode::Va => Text::EcmoVa,
            EcmoMode::Vv => Text::EcmoVv,
            EcmoMode::Other => Text::Other,
        },
        Field::ConsentGivenBy => match read(key)? {
            ConsentGivenBy::Patient => Text::ConsentPatient,
            ConsentGivenBy::LegallyAuthorisedRepresentative => Text::ConsentRepresentative,
        },
        Field::ShockCause => match read(key)? {
            ShockCause::AcuteMyocardialInfarction => Text::ShockAmi,
            ShockCause::FulminantMyocarditis => Text::ShockMyocarditis,
            ShockCause::PostCardiotomy => Text::ShockPostCardiotomy,
            ShockCause::CardiomyopathyDecompensation => Text::ShockCardiomyopathy,
            ShockCause::Other => Text::Other,
        },
        Field::Cartridge => match read(key)? {
            Cartridge::Ha330 => Text::CartridgeHa330,
            Cartridge::Ha380 => Text::CartridgeHa380,
            Cartridge::Cytosorb => Text::CartridgeCytosorb,
            Cartridge::Other => Text::Other,
        },
        Field::CircuitPosition => match read(key)? {
            CircuitPosition::EcmoCircuit => Text::CircuitEcmo,
            CircuitPosition::CrrtCircuit => Text::CircuitCrrt,
            CircuitPosition::SeparateAccess => Text::CircuitSeparate,
        },
        Field::SessionStopReason => match read(key)? {
            StopReason::Completed => Text::StopCompleted,
            StopReason::Clotting => Text::StopClotting,
            StopReason::Bleeding => Text::StopBleeding,
            StopReason::Haemodynamic => Text::StopHaemodynamic,
            StopReason::Other => Text::Other,
        },
        Field::AeSeverity => match read(key)? {
            Severity::Mild => Text::SeverityMild,
            Severity::Moderate => Text::SeverityModerate,
            Severity::Severe => Text::SeveritySevere,
        },
        Field::AeRelatedness => match read(key)? {
            Relatedness::NotRelated => Text::RelatedNot,
            Relatedness::Unlikely => Text::RelatedUnlikely,
            Relatedness::Possible => Text::RelatedPossible,
            Relatedness::Probable => Text::RelatedProbable,
            Relatedness::Definite => Text::RelatedDefinite,
        },
        Field::AeOutcome => match read(key)? {
            AeOutcome::Recovered => Text::AeRecovered,
            AeOutcome::Recovering => Text::AeRecovering,
            AeOutcome::NotRecovered => Text::AeNotRecovered,
            AeOutcome::RecoveredWithSequelae => Text::AeRecoveredWithSequelae,
            AeOutcome::Fatal => Text::AeFatal,
        },
        Field::Day28Status => match read(key)? {
            Day28Status::AliveInHospital => Text::Day28AliveInHospital,
            Day28Status::AliveDischarged => Text::Day28AliveDischarged,
            Day28Status::Dead => Text::Day28Dead,
        },
        Field::NotEnrolledReason => match read(key)? {
            NotEnrolledReason::Ineligible => Text::NotEnrolledIneligible,
            NotEnrolledReason::ConsentRefused => Text::NotEnrolledConsentRefused,
            NotEnrolledReason::MissedWindow => Text::NotEnrolledMissedWindow,
            NotEnrolledReason::Other => Text::Other,
        },
        Field::WithdrawnBy => match read(key)? {
            WithdrawnBy::Participant => Text::WithdrawnByParticipant,
            WithdrawnBy::LegallyAuthorisedRepresentative => Text::WithdrawnByRepresentative,
            WithdrawnBy::Investigator => Text::WithdrawnByInvestigator,
        },
        _ => return None,
    })
}

/// `key` read as the answer type `T`, as the form stores it.
pub fn read<T: DeserializeOwned>(key: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(key.to_owned())).ok()
}
