//! Named form fields, their units and plausibility limits, and the errors that name
//! them.
//!
//! A value outside its limits is refused with a message that names the field and its
//! allowed range (CRF.md). Errors carry the [`Field`] rather than text, so the app can
//! say the same thing in Chinese or English and put it beside the right input; the
//! `Display` impls are the English wording for logs and the server's answers.

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::crf::cytokine::TimePoint;

/// A field of a case report form that a value or an error can belong to.
///
/// The serialised names are stable keys: the app's translations and the server's
/// error answers use them, so variants are appended, never renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // Each variant is the CRF.md field of the same name.
pub enum Field {
    ScreenedAt,
    DateOfBirth,
    Sex,
    HeightCm,
    WeightKg,
    AdmittedToIcu,
    IcuAdmittedAt,
    SbpBelow90For30Min,
    MapBelow65For30Min,
    VasopressorsToKeepSbp90,
    PulmonaryCongestion,
    ElevatedLvFillingPressure,
    AlteredMentalStatus,
    ColdClammySkin,
    Oliguria,
    LactateMmolPerL,
    EcmoMode,
    EcmoCardiopulmonarySupport,
    EcmoStartedAt,
    ConsentRefused,
    ActiveHaemorrhage,
    ThrombocytopenicPurpura,
    BridgeToVadOrTransplant,
    Infection,
    // Record identifiers.
    ScreeningNumber,
    StudyNumber,
    // §2 Consent.
    ConsentGivenBy,
    ConsentedAt,
    ConsentFormVersion,
    // §4 Baseline (with `LactateMmolPerL` from screening).
    ShockCause,
    CardiacArrest,
    Ecpr,
    SofaScore,
    ApacheIiScore,
    SaveScore,
    MeanArterialPressureMmhg,
    HeartRatePerMin,
    EcmoFlowLPerMin,
    SweepGasLPerMin,
    PlateletsE9PerL,
    HaemoglobinGPerL,
    CreatinineUmolPerL,
    BilirubinUmolPerL,
    DopamineUgPerKgMin,
    DobutamineUgPerKgMin,
    AdrenalineUgPerKgMin,
    NoradrenalineUgPerKgMin,
    MilrinoneUgPerKgMin,
    VasopressinUPerKgMin,
    // §5 Cytokine samples.
    SampledAt,
    Il6PgPerMl,
    Il8PgPerMl,
    Il10PgPerMl,
    TnfAlphaPgPerMl,
    // §6 Hemoperfusion sessions.
    Cartridge,
    CartridgeLot,
    SessionStartedAt,
    SessionStoppedAt,
    HpBloodFlowMlPerMin,
    CircuitPosition,
    Anticoagulation,
    SessionStopReason,
    // §7 Daily assessment (with lactate, SOFA, doses, flow, platelets, haemoglobin).
    StudyDay,
    RbcUnits,
    PlateletUnits,
    PlasmaUnits,
    BleedingEvent,
    RenalReplacementTherapy,
    // §8 Adverse events.
    AeTerm,
    AeOnsetAt,
    AeSeverity,
    AeSerious,
    AeRelatedness,
    AeAction,
    AeOutcome,
    // §9 Outcomes.
    EcmoWeaned,
    EcmoWeanedAt,
    Died,
    DiedAt,
    Day28Status,
    IcuDischargedOn,
    HospitalDischargedOn,
    RrtDays,
    BridgedToVadOrTransplant,
    // §10 End of participation, and corrections.
    WithdrawnBy,
    WithdrawalReason,
    CorrectionReason,
    // §1 A screened patient not enrolled (appended after the rest).
    NotEnrolledReason,
    NotEnrolledDetails,
}

/// The inclusive range a measured value must lie in, its fixed unit, and the part of
/// it that is plausible but unusual enough to need confirming.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// The smallest plausible value.
    pub min: f64,
    /// The largest plausible value.
    pub max: f64,
    /// The unit shown beside the field; values are never converted.
    pub unit: &'static str,
    /// A value above this (and within `max`) is accepted only once the user confirms
    /// it (CRF.md: "a value inside but unusual is accepted with a warning that must
    /// be confirmed"), because it is more often a slipped digit than a real finding.
    pub warn_above: Option<f64>,
}

/// How a field's value is entered, which is also the type its form stores: the
/// screen picks its input from this, so one generic editor serves every form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A measured number that may have decimals, within [`Field::limits`].
    Decimal,
    /// A whole number (a score, a count), within [`Field::limits`]; stored as an
    /// integer, so "12.5" is refused rather than rounded.
    Integer,
    /// A date and time, stored as a [`crate::time::Moment`].
    DateTime,
    /// A calendar date ("2026-03-01").
    Date,
    /// Yes or no, stored as a boolean.
    YesNo,
    /// Yes, no or not known yet (the screening's criteria).
    Answer,
    /// One of a fixed list of answers, each named by its serialised key (the
    /// translations and the stored value use the same key).
    Choice(&'static [&'static str]),
    /// Free text, at most [`crate::crf::MAX_TEXT_CHARS`] characters.
    Text,
}

impl Field {
    /// The screening form's fields (CRF.md §1), in the order the form shows them.
    pub const SCREENING: [Field; 24] = [
        Self::ScreenedAt,
        Self::DateOfBirth,
        Self::Sex,
        Self::HeightCm,
        Self::WeightKg,
        Self::AdmittedToIcu,
        Self::IcuAdmittedAt,
        Self::SbpBelow90For30Min,
        Self::MapBelow65For30Min,
        Self::VasopressorsToKeepSbp90,
        Self::PulmonaryCongestion,
        Self::ElevatedLvFillingPressure,
        Self::AlteredMentalStatus,
        Self::ColdClammySkin,
        Self::Oliguria,
        Self::LactateMmolPerL,
        Self::EcmoMode,
        Self::EcmoCardiopulmonarySupport,
        Self::EcmoStartedAt,
        Self::ConsentRefused,
        Self::ActiveHaemorrhage,
        Self::ThrombocytopenicPurpura,
        Self::BridgeToVadOrTransplant,
        Self::Infection,
    ];

    /// Every field, in declaration order: the screening form first, then the other
    /// forms in CRF.md order. For exports and tests that must cover every key.
    pub const ALL: [Field; 89] = [
        Self::ScreenedAt,
        Self::DateOfBirth,
        Self::Sex,
        Self::HeightCm,
        Self::WeightKg,
        Self::AdmittedToIcu,
        Self::IcuAdmittedAt,
        Self::SbpBelow90For30Min,
        Self::MapBelow65For30Min,
        Self::VasopressorsToKeepSbp90,
        Self::PulmonaryCongestion,
        Self::ElevatedLvFillingPressure,
        Self::AlteredMentalStatus,
        Self::ColdClammySkin,
        Self::Oliguria,
        Self::LactateMmolPerL,
        Self::EcmoMode,
        Self::EcmoCardiopulmonarySupport,
        Self::EcmoStartedAt,
        Self::ConsentRefused,
        Self::ActiveHaemorrhage,
        Self::ThrombocytopenicPurpura,
        Self::BridgeToVadOrTransplant,
        Self::Infection,
        Self::ScreeningNumber,
        Self::StudyNumber,
        Self::ConsentGivenBy,
        Self::ConsentedAt,
        Self::ConsentFormVersion,
        Self::ShockCause,
        Self::CardiacArrest,
        Self::Ecpr,
        Self::SofaScore,
        Self::ApacheIiScore,
        Self::SaveScore,
        Self::MeanArterialPressureMmhg,
        Self::HeartRatePerMin,
        Self::EcmoFlowLPerMin,
        Self::SweepGasLPerMin,
        Self::PlateletsE9PerL,
        Self::HaemoglobinGPerL,
        Self::CreatinineUmolPerL,
        Self::BilirubinUmolPerL,
        Self::DopamineUgPerKgMin,
        Self::DobutamineUgPerKgMin,
        Self::AdrenalineUgPerKgMin,
        Self::NoradrenalineUgPerKgMin,
        Self::MilrinoneUgPerKgMin,
        Self::VasopressinUPerKgMin,
        Self::SampledAt,
        Self::Il6PgPerMl,
        Self::Il8PgPerMl,
        Self::Il10PgPerMl,
        Self::TnfAlphaPgPerMl,
        Self::Cartridge,
        Self::CartridgeLot,
        Self::SessionStartedAt,
        Self::SessionStoppedAt,
        Self::HpBloodFlowMlPerMin,
        Self::CircuitPosition,
        Self::Anticoagulation,
        Self::SessionStopReason,
        Self::StudyDay,
        Self::RbcUnits,
        Self::PlateletUnits,
        Self::PlasmaUnits,
        Self::BleedingEvent,
        Self::RenalReplacementTherapy,
        Self::AeTerm,
        Self::AeOnsetAt,
        Self::AeSeverity,
        Self::AeSerious,
        Self::AeRelatedness,
        Self::AeAction,
        Self::AeOutcome,
        Self::EcmoWeaned,
        Self::EcmoWeanedAt,
        Self::Died,
        Self::DiedAt,
        Self::Day28Status,
        Self::IcuDischargedOn,
        Self::HospitalDischargedOn,
        Self::RrtDays,
        Self::BridgedToVadOrTransplant,
        Self::WithdrawnBy,
        Self::WithdrawalReason,
        Self::CorrectionReason,
        Self::NotEnrolledReason,
        Self::NotEnrolledDetails,
    ];

    /// The stable key of this field, as serialised: used for translations, test ids
    /// and the server's error answers.
    pub fn key(self) -> &'static str {
        match self {
            Self::ScreenedAt => "screened_at",
            Self::DateOfBirth => "date_of_birth",
            Self::Sex => "sex",
            Self::HeightCm => "height_cm",
            Self::WeightKg => "weight_kg",
            Self::AdmittedToIcu => "admitted_to_icu",
            Self::IcuAdmittedAt => "icu_admitted_at",
            Self::SbpBelow90For30Min => "sbp_below90_for30_min",
            Self::MapBelow65For30Min => "map_below65_for30_min",
            Self::VasopressorsToKeepSbp90 => "vasopressors_to_keep_sbp90",
            Self::PulmonaryCongestion => "pulmonary_congestion",
            Self::ElevatedLvFillingPressure => "elevated_lv_filling_pressure",
            Self::AlteredMentalStatus => "altered_mental_status",
            Self::ColdClammySkin => "cold_clammy_skin",
            Self::Oliguria => "oliguria",
            Self::LactateMmolPerL => "lactate_mmol_per_l",
            Self::EcmoMode => "ecmo_mode",
            Self::EcmoCardiopulmonarySupport => "ecmo_cardiopulmonary_support",
            Self::EcmoStartedAt => "ecmo_started_at",
            Self::ConsentRefused => "consent_refused",
            Self::ActiveHaemorrhage => "active_haemorrhage",
            Self::ThrombocytopenicPurpura => "thrombocytopenic_purpura",
            Self::BridgeToVadOrTransplant => "bridge_to_vad_or_transplant",
            Self::Infection => "infection",
            Self::ScreeningNumber => "screening_number",
            Self::StudyNumber => "study_number",
            Self::ConsentGivenBy => "consent_given_by",
            Self::ConsentedAt => "consented_at",
            Self::ConsentFormVersion => "consent_form_version",
            Self::ShockCause => "shock_cause",
            Self::CardiacArrest => "cardiac_arrest",
            Self::Ecpr => "ecpr",
            Self::SofaScore => "sofa_score",
            Self::ApacheIiScore => "apache_ii_score",
            Self::SaveScore => "save_score",
            Self::MeanArterialPressureMmhg => "mean_arterial_pressure_mmhg",
            Self::HeartRatePerMin => "heart_rate_per_min",
            Self::EcmoFlowLPerMin => "ecmo_flow_l_per_min",
            Self::SweepGasLPerMin => "sweep_gas_l_per_min",
            Self::PlateletsE9PerL => "platelets_e9_per_l",
            Self::HaemoglobinGPerL => "haemoglobin_g_per_l",
            Self::CreatinineUmolPerL => "creatinine_umol_per_l",
            Self::BilirubinUmolPerL => "bilirubin_umol_per_l",
            Self::DopamineUgPerKgMin => "dopamine_ug_per_kg_min",
            Self::DobutamineUgPerKgMin => "dobutamine_ug_per_kg_min",
            Self::AdrenalineUgPerKgMin => "adrenaline_ug_per_kg_min",
            Self::NoradrenalineUgPerKgMin => "noradrenaline_ug_per_kg_min",
            Self::MilrinoneUgPerKgMin => "milrinone_ug_per_kg_min",
            Self::VasopressinUPerKgMin => "vasopressin_u_per_kg_min",
            Self::SampledAt => "sampled_at",
            Self::Il6PgPerMl => "il6_pg_per_ml",
            Self::Il8PgPerMl => "il8_pg_per_ml",
            Self::Il10PgPerMl => "il10_pg_per_ml",
            Self::TnfAlphaPgPerMl => "tnf_alpha_pg_per_ml",
            Self::Cartridge => "cartridge",
            Self::CartridgeLot => "cartridge_lot",
            Self::SessionStartedAt => "session_started_at",
            Self::SessionStoppedAt => "session_stopped_at",
            Self::HpBloodFlowMlPerMin => "hp_blood_flow_ml_per_min",
            Self::CircuitPosition => "circuit_position",
            Self::Anticoagulation => "anticoagulation",
            Self::SessionStopReason => "session_stop_reason",
            Self::StudyDay => "study_day",
            Self::RbcUnits => "rbc_units",
            Self::PlateletUnits => "platelet_units",
            Self::PlasmaUnits => "plasma_units",
            Self::BleedingEvent => "bleeding_event",
            Self::RenalReplacementTherapy => "renal_replacement_therapy",
            Self::AeTerm => "ae_term",
            Self::AeOnsetAt => "ae_onset_at",
            Self::AeSeverity => "ae_severity",
            Self::AeSerious => "ae_serious",
            Self::AeRelatedness => "ae_relatedness",
            Self::AeAction => "ae_action",
            Self::AeOutcome => "ae_outcome",
            Self::EcmoWeaned => "ecmo_weaned",
            Self::EcmoWeanedAt => "ecmo_weaned_at",
            Self::Died => "died",
            Self::DiedAt => "died_at",
            Self::Day28Status => "day28_status",
            Self::IcuDischargedOn => "icu_discharged_on",
            Self::HospitalDischargedOn => "hospital_discharged_on",
            Self::RrtDays => "rrt_days",
            Self::BridgedToVadOrTransplant => "bridged_to_vad_or_transplant",
            Self::WithdrawnBy => "withdrawn_by",
            Self::WithdrawalReason => "withdrawal_reason",
            Self::CorrectionReason => "correction_reason",
            Self::NotEnrolledReason => "not_enrolled_reason",
            Self::NotEnrolledDetails => "not_enrolled_details",
        }
    }

    /// The English label, for logs and server messages; the app translates the key.
    pub fn label(self) -> &'static str {
        match self {
            Self::ScreenedAt => "screening date-time",
            Self::DateOfBirth => "date of birth",
            Self::Sex => "sex",
            Self::HeightCm => "height",
            Self::WeightKg => "weight",
            Self::AdmittedToIcu => "admitted to ICU",
            Self::IcuAdmittedAt => "ICU admission date-time",
            Self::SbpBelow90For30Min => "systolic BP < 90 mmHg for ≥ 30 min",
            Self::MapBelow65For30Min => "MAP < 65 mmHg for ≥ 30 min",
            Self::VasopressorsToKeepSbp90 => "vasopressors needed to keep systolic BP ≥ 90 mmHg",
            Self::PulmonaryCongestion => "pulmonary congestion",
            Self::ElevatedLvFillingPressure => "elevated LV filling pressure",
            Self::AlteredMentalStatus => "altered mental status",
            Self::ColdClammySkin => "cold, clammy skin",
            Self::Oliguria => "oliguria (< 30 mL/h)",
            Self::LactateMmolPerL => "serum lactate",
            Self::EcmoMode => "ECMO mode",
            Self::EcmoCardiopulmonarySupport => "ECMO supplies cardiopulmonary support",
            Self::EcmoStartedAt => "ECMO start date-time",
            Self::ConsentRefused => "consent refused",
            Self::ActiveHaemorrhage => "active haemorrhage",
            Self::ThrombocytopenicPurpura => "thrombocytopenic purpura",
            Self::BridgeToVadOrTransplant => "ECMO as bridge to long-term VAD or transplant",
            Self::Infection => "infection",
            Self::ScreeningNumber => "screening number",
            Self::StudyNumber => "study number",
            Self::ConsentGivenBy => "consent given by",
            Self::ConsentedAt => "consent date-time",
            Self::ConsentFormVersion => "consent form version",
            Self::ShockCause => "cause of cardiogenic shock",
            Self::CardiacArrest => "cardiac arrest before ECMO",
            Self::Ecpr => "ECPR",
            Self::SofaScore => "SOFA score",
            Self::ApacheIiScore => "APACHE II score",
            Self::SaveScore => "SAVE score",
            Self::MeanArterialPressureMmhg => "mean arterial pressure",
            Self::HeartRatePerMin => "heart rate",
            Self::EcmoFlowLPerMin => "ECMO blood flow",
            Self::SweepGasLPerMin => "sweep gas flow",
            Self::PlateletsE9PerL => "platelet count",
            Self::HaemoglobinGPerL => "haemoglobin",
            Self::CreatinineUmolPerL => "creatinine",
            Self::BilirubinUmolPerL => "bilirubin",
            Self::DopamineUgPerKgMin => "dopamine dose",
            Self::DobutamineUgPerKgMin => "dobutamine dose",
            Self::AdrenalineUgPerKgMin => "adrenaline dose",
            Self::NoradrenalineUgPerKgMin => "noradrenaline dose",
            Self::MilrinoneUgPerKgMin => "milrinone dose",
            Self::VasopressinUPerKgMin => "vasopressin dose",
            Self::SampledAt => "sample date-time",
            Self::Il6PgPerMl => "IL-6",
            Self::Il8PgPerMl => "IL-8",
            Self::Il10PgPerMl => "IL-10",
            Self::TnfAlphaPgPerMl => "TNF-α",
            Self::Cartridge => "hemoperfusion cartridge",
            Self::CartridgeLot => "cartridge lot",
            Self::SessionStartedAt => "session start date-time",
            Self::SessionStoppedAt => "session stop date-time",
            Self::HpBloodFlowMlPerMin => "hemoperfusion blood flow",
            Self::CircuitPosition => "position in the circuit",
            Self::Anticoagulation => "anticoagulation",
            Self::SessionStopReason => "reason stopped",
            Self::StudyDay => "study day",
            Self::RbcUnits => "RBC transfusion",
            Self::PlateletUnits => "platelet transfusion",
            Self::PlasmaUnits => "plasma transfusion",
            Self::BleedingEvent => "bleeding event",
            Self::RenalReplacementTherapy => "renal replacement therapy",
            Self::AeTerm => "adverse event term",
            Self::AeOnsetAt => "onset date-time",
            Self::AeSeverity => "severity",
            Self::AeSerious => "serious",
            Self::AeRelatedness => "related to hemoperfusion",
            Self::AeAction => "action taken",
            Self::AeOutcome => "outcome of the adverse event",
            Self::EcmoWeaned => "ECMO weaned",
            Self::EcmoWeanedAt => "ECMO weaning date-time",
            Self::Died => "death",
            Self::DiedAt => "date-time of death",
            Self::Day28Status => "status at day 28",
            Self::IcuDischargedOn => "ICU discharge date",
            Self::HospitalDischargedOn => "hospital discharge date",
            Self::RrtDays => "days of renal replacement therapy",
            Self::BridgedToVadOrTransplant => "bridged to VAD or transplant after enrolment",
            Self::WithdrawnBy => "withdrawn by",
            Self::WithdrawalReason => "reason for withdrawal",
            Self::CorrectionReason => "reason for the correction",
            Self::NotEnrolledReason => "reason not enrolled",
            Self::NotEnrolledDetails => "details of why not enrolled",
        }
    }

    /// How this field's value is entered and stored. Choice keys are the serialised
    /// names of the form's enum (`crf::baseline::ShockCause` and the like); a test
    /// checks that each one reads back as its field's type.
    pub fn input(self) -> Input {
        match self {
            Self::ScreenedAt
            | Self::IcuAdmittedAt
            | Self::EcmoStartedAt
            | Self::ConsentedAt
            | Self::SampledAt
            | Self::SessionStartedAt
            | Self::SessionStoppedAt
            | Self::AeOnsetAt
            | Self::EcmoWeanedAt
            | Self::DiedAt => Input::DateTime,
            Self::DateOfBirth | Self::IcuDischargedOn | Self::HospitalDischargedOn => Input::Date,
            Self::Sex => Input::Choice(&["female", "male"]),
            Self::EcmoMode => Input::Choice(&["va", "vv", "other"]),
            Self::ConsentGivenBy => {
                Input::Choice(&["patient", "legally_authorised_representative"])
            }
            Self::ShockCause => Input::Choice(&[
                "acute_myocardial_infarction",
                "fulminant_myocarditis",
                "post_cardiotomy",
                "cardiomyopathy_decompensation",
                "other",
            ]),
            Self::Cartridge => Input::Choice(&["ha330", "ha380", "cytosorb", "other"]),
            Self::CircuitPosition => {
                Input::Choice(&["ecmo_circuit", "crrt_circuit", "separate_access"])
            }
            Self::SessionStopReason => {
                Input::Choice(&["completed", "clotting", "bleeding", "haemodynamic", "other"])
            }
            Self::AeSeverity => Input::Choice(&["mild", "moderate", "severe"]),
            Self::AeRelatedness => Input::Choice(&[
                "not_related",
                "unlikely",
                "possible",
                "probable",
                "definite",
            ]),
            Self::AeOutcome => Input::Choice(&[
                "recovered",
                "recovering",
                "not_recovered",
                "recovered_with_sequelae",
                "fatal",
            ]),
            Self::Day28Status => Input::Choice(&["alive_in_hospital", "alive_discharged", "dead"]),
            Self::WithdrawnBy => Input::Choice(&[
                "participant",
                "legally_authorised_representative",
                "investigator",
            ]),
            Self::AdmittedToIcu
            | Self::SbpBelow90For30Min
            | Self::MapBelow65For30Min
            | Self::VasopressorsToKeepSbp90
            | Self::PulmonaryCongestion
            | Self::ElevatedLvFillingPressure
            | Self::AlteredMentalStatus
            | Self::ColdClammySkin
            | Self::Oliguria
            | Self::EcmoCardiopulmonarySupport
            | Self::ConsentRefused
            | Self::ActiveHaemorrhage
            | Self::ThrombocytopenicPurpura
            | Self::BridgeToVadOrTransplant
            | Self::Infection => Input::Answer,
            Self::CardiacArrest
            | Self::Ecpr
            | Self::BleedingEvent
            | Self::RenalReplacementTherapy
            | Self::AeSerious
            | Self::EcmoWeaned
            | Self::Died
            | Self::BridgedToVadOrTransplant => Input::YesNo,
            Self::SofaScore
            | Self::ApacheIiScore
            | Self::SaveScore
            | Self::StudyDay
            | Self::RbcUnits
            | Self::PlateletUnits
            | Self::PlasmaUnits
            | Self::RrtDays => Input::Integer,
            Self::HeightCm
            | Self::WeightKg
            | Self::LactateMmolPerL
            | Self::MeanArterialPressureMmhg
            | Self::HeartRatePerMin
            | Self::EcmoFlowLPerMin
            | Self::SweepGasLPerMin
            | Self::PlateletsE9PerL
            | Self::HaemoglobinGPerL
            | Self::CreatinineUmolPerL
            | Self::BilirubinUmolPerL
            | Self::DopamineUgPerKgMin
            | Self::DobutamineUgPerKgMin
            | Self::AdrenalineUgPerKgMin
            | Self::NoradrenalineUgPerKgMin
            | Self::MilrinoneUgPerKgMin
            | Self::VasopressinUPerKgMin
            | Self::Il6PgPerMl
            | Self::Il8PgPerMl
            | Self::Il10PgPerMl
            | Self::TnfAlphaPgPerMl
            | Self::HpBloodFlowMlPerMin => Input::Decimal,
            Self::ScreeningNumber
            | Self::StudyNumber
            | Self::ConsentFormVersion
            | Self::CartridgeLot
            | Self::Anticoagulation
            | Self::AeTerm
            | Self::AeAction
            | Self::WithdrawalReason
            | Self::CorrectionReason
            | Self::NotEnrolledDetails => Input::Text,
            Self::NotEnrolledReason => {
                Input::Choice(&["ineligible", "consent_refused", "missed_window", "other"])
            }
        }
    }

    /// The plausibility limits of a measured field (CRF.md); `None` for fields that
    /// are not numbers.
    ///
    /// CRF.md gives no range for the vasoactive doses, so these are ours: the upper
    /// limit is well beyond any dose given on purpose, the warning starts where a
    /// dose is still seen in refractory shock but a slipped decimal point is likelier.
    pub fn limits(self) -> Option<Limits> {
        let limits = |min, max, unit| {
            Some(Limits {
                min,
                max,
                unit,
                warn_above: None,
            })
        };
        let warned = |min, max, unit, warn_above| {
            Some(Limits {
                min,
                max,
                unit,
                warn_above: Some(warn_above),
            })
        };
        match self {
            Self::HeightCm => limits(100.0, 230.0, "cm"),
            Self::WeightKg => limits(30.0, 250.0, "kg"),
            Self::LactateMmolPerL => limits(0.0, 30.0, "mmol/L"),
            Self::SofaScore => limits(0.0, 24.0, "points"),
            Self::ApacheIiScore => limits(0.0, 71.0, "points"),
            Self::SaveScore => limits(-35.0, 17.0, "points"),
            Self::MeanArterialPressureMmhg => limits(20.0, 200.0, "mmHg"),
            Self::HeartRatePerMin => limits(0.0, 250.0, "/min"),
            Self::EcmoFlowLPerMin => limits(0.0, 8.0, "L/min"),
            Self::SweepGasLPerMin => limits(0.0, 15.0, "L/min"),
            Self::PlateletsE9PerL => limits(0.0, 1500.0, "×10⁹/L"),
            Self::HaemoglobinGPerL => limits(20.0, 250.0, "g/L"),
            Self::CreatinineUmolPerL => limits(10.0, 2000.0, "µmol/L"),
            Self::BilirubinUmolPerL => limits(0.0, 800.0, "µmol/L"),
            Self::DopamineUgPerKgMin => warned(0.0, 50.0, "µg/kg/min", 20.0),
            Self::DobutamineUgPerKgMin => warned(0.0, 40.0, "µg/kg/min", 20.0),
            Self::AdrenalineUgPerKgMin => warned(0.0, 5.0, "µg/kg/min", 1.0),
            Self::NoradrenalineUgPerKgMin => warned(0.0, 5.0, "µg/kg/min", 1.0),
            Self::MilrinoneUgPerKgMin => warned(0.0, 2.0, "µg/kg/min", 0.75),
            Self::VasopressinUPerKgMin => warned(0.0, 0.005, "U/kg/min", 0.001),
            Self::Il6PgPerMl => warned(0.0, 100_000.0, "pg/mL", 10_000.0),
            Self::Il8PgPerMl | Self::Il10PgPerMl | Self::TnfAlphaPgPerMl => {
                limits(0.0, 100_000.0, "pg/mL")
            }
            Self::HpBloodFlowMlPerMin => limits(50.0, 400.0, "mL/min"),
            Self::StudyDay => limits(1.0, 7.0, "day"),
            Self::RbcUnits | Self::PlateletUnits | Self::PlasmaUnits => limits(0.0, 50.0, "units"),
            Self::RrtDays => limits(0.0, 365.0, "days"),
            _ => None,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What a time field is compared with when it must not come later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeLimit {
    /// The screening date-time of the same form.
    ScreeningTime,
    /// The moment the eligibility is evaluated (screening, or the randomise tap).
    EvaluationTime,
    /// The ECMO start date-time of the participant's screening form.
    EcmoStart,
    /// The start date-time of the same hemoperfusion session.
    SessionStart,
    /// The ICU discharge date of the same outcomes form.
    IcuDischarge,
    /// The moment the value is recorded: nothing is entered before it happened.
    RecordingTime,
}

/// A problem with one field of a form. A whole-form check returns every problem at
/// once, so the screen can show them all.
///
/// Two variants are not mistakes but warnings ([`FieldError::needs_confirmation`]):
/// the value is plausible but unusual, and the form saves once the user confirms
/// that field. The confirmed fields travel with the saved form, so the server
/// re-checks the same rule instead of trusting the tablet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum FieldError {
    /// Occurs when a number lies outside the field's plausibility limits.
    OutOfRange {
        /// The field the value was entered in.
        field: Field,
        /// The value that was entered.
        value: f64,
        /// The smallest value allowed.
        min: f64,
        /// The largest value allowed.
        max: f64,
    },
    /// Occurs when a number is NaN or infinite, which no input should produce.
    NotANumber {
        /// The field the value was entered in.
        field: Field,
    },
    /// Occurs when a field that counts or scores ([`Input::Integer`]) is given a
    /// number with a fraction, which would otherwise have to be rounded silently.
    NotAWholeNumber {
        /// The field the value was entered in.
        field: Field,
    },
    /// Occurs when the date of birth is after the screening date or more than
    /// [`crate::screening::MAX_AGE_YEARS`] years before it.
    DateOfBirthOutOfRange {
        /// The date that was entered.
        value: Date,
        /// The earliest date allowed.
        earliest: Date,
        /// The latest date allowed: the screening date.
        latest: Date,
    },
    /// Occurs when a time is later than the moment it must precede.
    LaterThan {
        /// The time field that is too late.
        field: Field,
        /// What it must not come after.
        limit: TimeLimit,
    },
    /// Occurs when two answers contradict each other, such as veno-venous ECMO said
    /// to supply cardiac support.
    Contradiction {
        /// The field the message is shown beside.
        field: Field,
        /// The field it contradicts.
        other: Field,
    },
    /// Occurs when a field the form needs was left blank: every field holds a value
    /// or is recorded as not done with a reason.
    Required {
        /// The blank field.
        field: Field,
    },
    /// Occurs when a text value is empty or only white space.
    Blank {
        /// The field the text was entered in.
        field: Field,
    },
    /// Occurs when a field is recorded as not done without saying why.
    BlankReason {
        /// The field recorded as not done.
        field: Field,
    },
    /// Occurs when a text (a value or a not-done reason) is longer than allowed.
    TooLong {
        /// The field the text belongs to.
        field: Field,
        /// Its length in characters.
        length: usize,
        /// The most characters allowed.
        max: usize,
    },
    /// Occurs when a value lies in the field's unusual range ([`Limits::warn_above`])
    /// and the user has not confirmed it.
    UnconfirmedWarning {
        /// The field the value was entered in.
        field: Field,
        /// The value that was entered.
        value: f64,
        /// The value above which confirmation is needed.
        warn_above: f64,
    },
    /// Occurs when a cytokine sample was taken outside its time point's window and
    /// the user has not confirmed it; the sample still counts once confirmed.
    UnconfirmedSampleWindow {
        /// The time point the sample is recorded for.
        time_point: TimePoint,
        /// Minutes from the time point's target (ECMO start + its hours) to the
        /// sample; negative when early.
        minutes_from_target: i64,
        /// The half-width of the window, in minutes.
        allowed_minutes: i64,
    },
    /// Occurs when a time or date is earlier than the moment it must not precede,
    /// such as a death recorded before ECMO started.
    EarlierThan {
        /// The time field that is too early.
        field: Field,
        /// What it must not come before.
        limit: TimeLimit,
    },
    /// Occurs when a time must come strictly after another and does not, such as a
    /// hemoperfusion session stopping at or before its start.
    NotAfter {
        /// The time field that is too early.
        field: Field,
        /// What it must come after.
        limit: TimeLimit,
    },
    /// Occurs when a measurement has more decimals than the form records (height
    /// and weight, to the tenth): the decision would rest on a number the screen
    /// does not show.
    TooManyDecimals {
        /// The field the value was entered in.
        field: Field,
        /// The most decimals allowed.
        decimals: u32,
    },
    /// Occurs when a correction gives the entry it corrects (numerically: 12 and
    /// 12.0 are one value): it would record a change that changes nothing.
    Unchanged {
        /// The field corrected.
        field: Field,
    },
}

impl FieldError {
    /// The field this problem is shown beside.
    pub fn field(&self) -> Field {
        match self {
            Self::OutOfRange { field, .. }
            | Self::NotANumber { field }
            | Self::NotAWholeNumber { field }
            | Self::LaterThan { field, .. }
            | Self::Contradiction { field, .. }
            | Self::Required { field }
            | Self::Blank { field }
            | Self::BlankReason { field }
            | Self::TooLong { field, .. }
            | Self::UnconfirmedWarning { field, .. }
            | Self::EarlierThan { field, .. }
            | Self::NotAfter { field, .. }
            | Self::TooManyDecimals { field, .. }
            | Self::Unchanged { field } => *field,
            Self::DateOfBirthOutOfRange { .. } => Field::DateOfBirth,
            Self::UnconfirmedSampleWindow { .. } => Field::SampledAt,
        }
    }

    /// Whether this is a warning that confirming the field clears, rather than a
    /// mistake that only a different value clears: the screen offers "confirm".
    pub fn needs_confirmation(&self) -> bool {
        matches!(
            self,
            Self::UnconfirmedWarning { .. } | Self::UnconfirmedSampleWindow { .. }
        )
    }
}

impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ScreeningTime => "the screening date-time",
            Self::EvaluationTime => "the time of evaluation",
            Self::EcmoStart => "the ECMO start date-time",
            Self::SessionStart => "the session start date-time",
            Self::IcuDischarge => "the ICU discharge date",
            Self::RecordingTime => "the time it was recorded",
        })
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit_of = |field: &Field| field.limits().map_or("", |limits| limits.unit);
        match self {
            Self::OutOfRange {
                field,
                value,
                min,
                max,
            } => {
                let unit = unit_of(field);
                write!(
                    f,
                    "{field}: {value} {unit} is outside the allowed range {min}–{max} {unit}"
                )
            }
            Self::NotANumber { field } => write!(f, "{field}: not a number"),
            Self::NotAWholeNumber { field } => write!(f, "{field}: not a whole number"),
            Self::DateOfBirthOutOfRange {
                value,
                earliest,
                latest,
            } => write!(
                f,
                "date of birth: {value} is outside the allowed range {earliest} to {latest} (the screening date)"
            ),
            Self::LaterThan { field, limit } => {
                write!(f, "{field}: must not be later than {limit}")
            }
            Self::Contradiction { field, other } => {
                write!(f, "{field}: contradicts the answer to {other}")
            }
            Self::Required { field } => write!(
                f,
                "{field}: required; enter a value or record it as not done with a reason"
            ),
            Self::Blank { field } => write!(f, "{field}: must not be blank"),
            Self::BlankReason { field } => {
                write!(f, "{field}: recorded as not done without a reason")
            }
            Self::TooLong { field, length, max } => write!(
                f,
                "{field}: {length} characters is more than the {max} allowed"
            ),
            Self::UnconfirmedWarning {
                field,
                value,
                warn_above,
            } => {
                let unit = unit_of(field);
                write!(
                    f,
                    "{field}: {value} {unit} is above {warn_above} {unit}, which is unusual; confirm it to save"
                )
            }
            Self::UnconfirmedSampleWindow {
                time_point,
                minutes_from_target,
                allowed_minutes,
            } => {
                let side = if *minutes_from_target < 0 {
                    "before"
                } else {
                    "after"
                };
                write!(
                    f,
                    "sample date-time: the {time_point} sample was taken {} min {side} its target time, \
                     outside its window of ± {allowed_minutes} min; confirm it to save",
                    minutes_from_target.unsigned_abs()
                )
            }
            Self::EarlierThan { field, limit } => {
                write!(f, "{field}: must not be earlier than {limit}")
            }
            Self::NotAfter { field, limit } => write!(f, "{field}: must be later than {limit}"),
            Self::TooManyDecimals { field, decimals } => {
                write!(f, "{field}: at most {decimals} decimal(s)")
            }
            Self::Unchanged { field } => {
                write!(f, "{field}: the new entry is the one it corrects")
            }
        }
    }
}

impl std::error::Error for FieldError {}

/// Checks a measured value against its field's limits. Used by every form, so each
/// refuses out-of-range values with the same message shape; public so a screen can
/// name a whole number outside its range before it is stored as a type (a count is
/// unsigned) that could not even hold it.
///
/// # Panics
/// When `field` has no [`Field::limits`].
pub fn check_limits(field: Field, value: f64) -> Result<f64, FieldError> {
    if !value.is_finite() {
        return Err(FieldError::NotANumber { field });
    }
    let limits = field
        .limits()
        .expect("check_limits is only called for measured fields");
    if (limits.min..=limits.max).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::OutOfRange {
            field,
            value,
            min: limits.min,
            max: limits.max,
        })
    }
}

/// Checks a measured value against its limits and then its warning range, which
/// only a confirmation of that field lets through.
pub(crate) fn check_measured(
    field: Field,
    value: f64,
    confirmed: &[Field],
) -> Result<f64, FieldError> {
    let value = check_limits(field, value)?;
    match field.limits().and_then(|limits| limits.warn_above) {
        Some(warn_above) if value > warn_above && !confirmed.contains(&field) => {
            Err(FieldError::UnconfirmedWarning {
                field,
                value,
                warn_above,
            })
        }
        _ => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_serialised_names() {
        for field in Field::ALL {
            let serialised = serde_json::to_value(field).unwrap();
            assert_eq!(serialised, field.key(), "{field:?}");
        }
    }

    #[test]
    fn all_lists_every_field_once_in_declaration_order() {
        for (index, field) in Field::ALL.into_iter().enumerate() {
            assert_eq!(field as usize, index, "{field:?}");
        }
        // `NotEnrolledDetails` is the last variant: a new field goes after it, and here.
        assert_eq!(Field::ALL.len(), Field::NotEnrolledDetails as usize + 1);
        assert_eq!(Field::SCREENING[..], Field::ALL[..Field::SCREENING.len()]);
    }

    #[test]
    fn warnings_need_confirming_and_limits_still_hold() {
        assert_eq!(
            check_measured(Field::Il6PgPerMl, 10_000.0, &[]),
            Ok(10_000.0)
        );
        assert_eq!(
            check_measured(Field::Il6PgPerMl, 10_001.0, &[]),
            Err(FieldError::UnconfirmedWarning {
                field: Field::Il6PgPerMl,
                value: 10_001.0,
                warn_above: 10_000.0
            })
        );
        let confirmed = [Field::Il6PgPerMl];
        assert_eq!(
            check_measured(Field::Il6PgPerMl, 10_001.0, &confirmed),
            Ok(10_001.0)
        );
        assert_eq!(
            check_measured(Field::Il6PgPerMl, 100_001.0, &confirmed),
            Err(FieldError::OutOfRange {
                field: Field::Il6PgPerMl,
                value: 100_001.0,
                min: 0.0,
                max: 100_000.0
            })
        );
    }

    #[test]
    fn limits_are_inclusive_and_named_in_the_error() {
        assert_eq!(check_limits(Field::HeightCm, 100.0), Ok(100.0));
        assert_eq!(check_limits(Field::HeightCm, 230.0), Ok(230.0));
        let error = check_limits(Field::HeightCm, 30.0).unwrap_err();
        assert_eq!(
            error.to_string(),
            "height: 30 cm is outside the allowed range 100–230 cm"
        );
        assert_eq!(
            check_limits(Field::WeightKg, f64::NAN),
            Err(FieldError::NotANumber {
                field: Field::WeightKg
            })
        );
    }
}
