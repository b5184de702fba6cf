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

/// Declares every [`Field`] once: its stable key, English label, input and limits,
/// and the field of an earlier version it replaces. Everything the rest of the
/// crate asks of a field is generated from this one line, so no table can miss a
/// field or disagree with another.
macro_rules! fields {
    ($(
        $(#[$attribute:meta])*
        $variant:ident: $key:literal, $label:literal, $input:expr, $limits:expr
            $(, replaces $old:ident)?;
    )*) => {
        /// A field of a case report form that a value or an error can belong to.
        ///
        /// The serialised names are stable keys: the app's translations and the
        /// server's error answers use them, so variants are appended, never renamed.
        /// Serialised as its key by hand ([`Field::key`], [`Field::from_key`]): the
        /// derived code for so many names was about 35 KB of the tablet's wasm.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Field {
            $(
                #[doc = $label]
                $(#[$attribute])*
                $variant,
            )*
        }

        /// Every field's key, in declaration order.
        const KEYS: &[&str] = &[$($key),*];

        impl Field {
            /// Every field, in declaration order: the screening form first, then the
            /// other forms in CRF.md order, then the fields added since. For exports
            /// and tests that must cover every key.
            pub const ALL: [Field; [$($key),*].len()] = [$(Self::$variant),*];

            /// The stable key of this field, as serialised: used for translations,
            /// test ids and the server's error answers.
            pub fn key(self) -> &'static str {
                match self {
                    $(Self::$variant => $key,)*
                }
            }

            /// The field whose key is `key`, if any.
            pub fn from_key(key: &str) -> Option<Self> {
                KEYS.iter().position(|known| *known == key).map(|at| Self::ALL[at])
            }

            /// The English label, for logs and server messages; the app translates
            /// the key.
            pub fn label(self) -> &'static str {
                match self {
                    $(Self::$variant => $label,)*
                }
            }

            /// How this field's value is entered and stored. Choice keys are the
            /// serialised names of the form's enum (`crf::baseline::ShockCause` and
            /// the like); a test checks that each one reads back as its field's type.
            pub fn input(self) -> Input {
                use Input::{Answer, Choice, Date, DateTime, Decimal, Integer, Text, YesNo};
                match self {
                    $(Self::$variant => $input,)*
                }
            }

            /// The plausibility limits of a measured field (CRF.md); `None` for
            /// fields that are not numbers.
            pub fn limits(self) -> Option<Limits> {
                match self {
                    $(Self::$variant => $limits,)*
                }
            }

            /// The field of an earlier version of the forms that this one records
            /// in its place (in other units): an old form keeps its old field, and
            /// keeps its meaning, for good.
            pub fn replaces(self) -> Option<Field> {
                match self {
                    $(Self::$variant => None $(.or(Some(Self::$old)))?,)*
                }
            }
        }
    };
}

impl Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key())
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let key = String::deserialize(deserializer)?;
        Self::from_key(&key).ok_or_else(|| serde::de::Error::unknown_variant(&key, KEYS))
    }
}

// CRF.md gives no range for the vasoactive doses, so those are ours: the upper
// limit is well beyond any dose given on purpose, the warning starts where a dose
// is still seen in refractory shock but a slipped decimal point is likelier.
fields! {
    ScreenedAt: "screened_at", "screening date-time", DateTime, None;
    DateOfBirth: "date_of_birth", "date of birth", Date, None;
    Sex: "sex", "sex", Choice(&["female", "male"]), None;
    HeightCm: "height_cm", "height", Decimal, range(100.0, 230.0, "cm");
    WeightKg: "weight_kg", "weight", Decimal, range(30.0, 250.0, "kg");
    AdmittedToIcu: "admitted_to_icu", "admitted to ICU", Answer, None;
    IcuAdmittedAt: "icu_admitted_at", "ICU admission date-time", DateTime, None;
    SbpBelow90For30Min: "sbp_below90_for30_min", "systolic BP < 90 mmHg for ≥ 30 min", Answer, None;
    MapBelow65For30Min: "map_below65_for30_min", "MAP < 65 mmHg for ≥ 30 min", Answer, None;
    VasopressorsToKeepSbp90: "vasopressors_to_keep_sbp90",
        "vasopressors needed to keep systolic BP ≥ 90 mmHg",
        Answer, None;
    PulmonaryCongestion: "pulmonary_congestion", "pulmonary congestion", Answer, None;
    ElevatedLvFillingPressure: "elevated_lv_filling_pressure", "elevated LV filling pressure",
        Answer, None;
    AlteredMentalStatus: "altered_mental_status", "altered mental status", Answer, None;
    ColdClammySkin: "cold_clammy_skin", "cold, clammy skin", Answer, None;
    Oliguria: "oliguria", "oliguria (< 30 mL/h)", Answer, None;
    LactateMmolPerL: "lactate_mmol_per_l", "serum lactate", Decimal, range(0.0, 30.0, "mmol/L");
    EcmoMode: "ecmo_mode", "ECMO mode", Choice(&["va", "vv", "other"]), None;
    EcmoCardiopulmonarySupport: "ecmo_cardiopulmonary_support",
        "ECMO supplies cardiopulmonary support",
        Answer, None;
    EcmoStartedAt: "ecmo_started_at", "ECMO start date-time", DateTime, None;
    ConsentRefused: "consent_refused", "consent refused", Answer, None;
    ActiveHaemorrhage: "active_haemorrhage", "active haemorrhage", Answer, None;
    ThrombocytopenicPurpura: "thrombocytopenic_purpura", "thrombocytopenic purpura", Answer, None;
    BridgeToVadOrTransplant: "bridge_to_vad_or_transplant",
        "ECMO as bridge to long-term VAD or transplant",
        Answer, None;
    Infection: "infection", "infection", Answer, None;
    // Record identifiers.
    ScreeningNumber: "screening_number", "screening number", Text, None;
    StudyNumber: "study_number", "study number", Text, None;
    // §2 Consent.
    ConsentGivenBy: "consent_given_by", "consent given by",
        Choice(&["patient", "legally_authorised_representative"]), None;
    ConsentedAt: "consented_at", "consent date-time", DateTime, None;
    ConsentFormVersion: "consent_form_version", "consent form version", Text, None;
    // §4 Baseline (with `LactateMmolPerL` from screening).
    ShockCause: "shock_cause", "cause of cardiogenic shock",
        Choice(&[
            "acute_myocardial_infarction", "fulminant_myocarditis", "post_cardiotomy",
            "cardiomyopathy_decompensation", "other",
        ]), None;
    CardiacArrest: "cardiac_arrest", "cardiac arrest before ECMO", YesNo, None;
    Ecpr: "ecpr", "ECPR", YesNo, None;
    SofaScore: "sofa_score", "SOFA score", Integer, range(0.0, 24.0, "points");
    ApacheIiScore: "apache_ii_score", "APACHE II score", Integer, range(0.0, 71.0, "points");
    SaveScore: "save_score", "SAVE score", Integer, range(-35.0, 17.0, "points");
    MeanArterialPressureMmhg: "mean_arterial_pressure_mmhg", "mean arterial pressure",
        Decimal, range(20.0, 200.0, "mmHg");
    HeartRatePerMin: "heart_rate_per_min", "heart rate", Decimal, range(0.0, 250.0, "/min");
    EcmoFlowLPerMin: "ecmo_flow_l_per_min", "ECMO blood flow", Decimal, range(0.0, 8.0, "L/min");
    SweepGasLPerMin: "sweep_gas_l_per_min", "sweep gas flow", Decimal, range(0.0, 15.0, "L/min");
    PlateletsE9PerL: "platelets_e9_per_l", "platelet count", Decimal, range(0.0, 1500.0, "×10⁹/L");
    HaemoglobinGPerL: "haemoglobin_g_per_l", "haemoglobin", Decimal, range(20.0, 250.0, "g/L");
    CreatinineUmolPerL: "creatinine_umol_per_l", "creatinine",
        Decimal, range(10.0, 2000.0, "µmol/L");
    BilirubinUmolPerL: "bilirubin_umol_per_l", "bilirubin", Decimal, range(0.0, 800.0, "µmol/L");
    DopamineUgPerKgMin: "dopamine_ug_per_kg_min", "dopamine dose",
        Decimal, warned(0.0, 50.0, "µg/kg/min", 20.0);
    DobutamineUgPerKgMin: "dobutamine_ug_per_kg_min", "dobutamine dose",
        Decimal, warned(0.0, 40.0, "µg/kg/min", 20.0);
    AdrenalineUgPerKgMin: "adrenaline_ug_per_kg_min", "adrenaline dose",
        Decimal, warned(0.0, 5.0, "µg/kg/min", 1.0);
    NoradrenalineUgPerKgMin: "noradrenaline_ug_per_kg_min", "noradrenaline dose",
        Decimal, warned(0.0, 5.0, "µg/kg/min", 1.0);
    MilrinoneUgPerKgMin: "milrinone_ug_per_kg_min", "milrinone dose",
        Decimal, warned(0.0, 2.0, "µg/kg/min", 0.75);
    VasopressinUPerKgMin: "vasopressin_u_per_kg_min", "vasopressin dose",
        Decimal, warned(0.0, 0.005, "U/kg/min", 0.001);
    // §5 Cytokine samples.
    SampledAt: "sampled_at", "sample date-time", DateTime, None;
    Il6PgPerMl: "il6_pg_per_ml", "IL-6", Decimal, warned(0.0, 100_000.0, "pg/mL", 10_000.0);
    Il8PgPerMl: "il8_pg_per_ml", "IL-8", Decimal, range(0.0, 100_000.0, "pg/mL");
    Il10PgPerMl: "il10_pg_per_ml", "IL-10", Decimal, range(0.0, 100_000.0, "pg/mL");
    TnfAlphaPgPerMl: "tnf_alpha_pg_per_ml", "TNF-α", Decimal, range(0.0, 100_000.0, "pg/mL");
    // §6 Hemoperfusion sessions.
    Cartridge: "cartridge", "hemoperfusion cartridge",
        Choice(&["ha330", "ha380", "cytosorb", "other"]), None;
    CartridgeLot: "cartridge_lot", "cartridge lot", Text, None;
    SessionStartedAt: "session_started_at", "session start date-time", DateTime, None;
    SessionStoppedAt: "session_stopped_at", "session stop date-time", DateTime, None;
    HpBloodFlowMlPerMin: "hp_blood_flow_ml_per_min", "hemoperfusion blood flow",
        Decimal, range(50.0, 400.0, "mL/min");
    CircuitPosition: "circuit_position", "position in the circuit",
        Choice(&["ecmo_circuit", "crrt_circuit", "separate_access"]), None;
    Anticoagulation: "anticoagulation", "anticoagulation", Text, None;
    SessionStopReason: "session_stop_reason", "reason stopped",
        Choice(&["completed", "clotting", "bleeding", "haemodynamic", "other"]), None;
    // §7 Daily assessment (with lactate, SOFA, doses, flow, platelets, haemoglobin).
    StudyDay: "study_day", "study day", Integer, range(1.0, 7.0, "day");
    // Transfusions as version 1 of the forms counted them, all in "units"; read in
    // old forms, replaced by `RedCellsU`, `PlateletDoses` and `PlasmaMl`.
    RbcUnits: "rbc_units", "red cell transfusion (units, version 1)",
        Integer, range(0.0, 50.0, "units");
    PlateletUnits: "platelet_units", "platelet transfusion (units, version 1)",
        Integer, range(0.0, 50.0, "units");
    PlasmaUnits: "plasma_units", "plasma transfusion (units, version 1)",
        Integer, range(0.0, 50.0, "units");
    BleedingEvent: "bleeding_event", "bleeding event", YesNo, None;
    RenalReplacementTherapy: "renal_replacement_therapy", "renal replacement therapy", YesNo, None;
    // §8 Adverse events.
    AeTerm: "ae_term", "adverse event term", Text, None;
    AeOnsetAt: "ae_onset_at", "onset date-time", DateTime, None;
    AeSeverity: "ae_severity", "severity", Choice(&["mild", "moderate", "severe"]), None;
    AeSerious: "ae_serious", "serious", YesNo, None;
    AeRelatedness: "ae_relatedness", "related to hemoperfusion",
        Choice(&["not_related", "unlikely", "possible", "probable", "definite"]), None;
    AeAction: "ae_action", "action taken", Text, None;
    AeOutcome: "ae_outcome", "outcome of the adverse event",
        Choice(&[
            "recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal",
        ]), None;
    // §9 Outcomes.
    EcmoWeaned: "ecmo_weaned", "ECMO weaned", YesNo, None;
    EcmoWeanedAt: "ecmo_weaned_at", "ECMO weaning date-time", DateTime, None;
    Died: "died", "death", YesNo, None;
    DiedAt: "died_at", "date-time of death", DateTime, None;
    Day28Status: "day28_status", "status at day 28",
        Choice(&["alive_in_hospital", "alive_discharged", "dead"]), None;
    IcuDischargedOn: "icu_discharged_on", "ICU discharge date", Date, None;
    HospitalDischargedOn: "hospital_discharged_on", "hospital discharge date", Date, None;
    RrtDays: "rrt_days", "days of renal replacement therapy", Integer, range(0.0, 365.0, "days");
    BridgedToVadOrTransplant: "bridged_to_vad_or_transplant",
        "bridged to VAD or transplant after enrolment",
        YesNo, None;
    // §10 End of participation, and corrections.
    WithdrawnBy: "withdrawn_by", "withdrawn by",
        Choice(&["participant", "legally_authorised_representative", "investigator"]), None;
    WithdrawalReason: "withdrawal_reason", "reason for withdrawal", Text, None;
    CorrectionReason: "correction_reason", "reason for the correction", Text, None;
    // §1 A screened patient not enrolled (appended after the rest).
    NotEnrolledReason: "not_enrolled_reason", "reason not enrolled",
        Choice(&["ineligible", "consent_refused", "missed_window", "other"]), None;
    NotEnrolledDetails: "not_enrolled_details", "details of why not enrolled", Text, None;
    // §7 Transfusions as Chinese blood banks count them (version 2 of the forms): red
    // cells in U of 200 mL whole blood, to one decimal (half a unit is given).
    RedCellsU: "red_cells_u", "red cell transfusion",
        Decimal, range(0.0, 50.0, "U"), replaces RbcUnits;
    PlateletDoses: "platelet_doses", "platelet transfusion",
        Integer, range(0.0, 10.0, "therapeutic doses"), replaces PlateletUnits;
    PlasmaMl: "plasma_ml", "plasma transfusion",
        Integer, range(0.0, 5000.0, "mL"), replaces PlasmaUnits;
    // §1 Who the patient is, for the site alone (version 3 of the forms): shown on
    // the site's tablets and console so two patients are never confused, never in
    // the trial's exports (`Field::SCREENING` leaves them out).
    Bed: "bed", "bed", Text, None;
    PatientInitials: "patient_initials", "patient's initials", Text, None;
}

/// Limits without a warning range.
const fn range(min: f64, max: f64, unit: &'static str) -> Option<Limits> {
    Some(Limits {
        min,
        max,
        unit,
        warn_above: None,
    })
}

/// Limits whose values above `warn_above` must be confirmed.
const fn warned(min: f64, max: f64, unit: &'static str, warn_above: f64) -> Option<Limits> {
    Some(Limits {
        min,
        max,
        unit,
        warn_above: Some(warn_above),
    })
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
    /// Whether a newer field records this one's item in its place
    /// ([`Field::replaces`]): forms of earlier versions hold it, new forms never do.
    pub fn is_retired(self) -> bool {
        Self::ALL.iter().any(|field| field.replaces() == Some(self))
    }

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

impl Field {
    /// Whether "not done" may stand in for this field's value (CRF.md allows it
    /// everywhere else). An adverse event is what its term, severity, seriousness
    /// and relatedness say: "serious: not done" tells a monitor nothing, so those
    /// are answered before the event is recorded.
    pub fn may_be_not_done(self) -> bool {
        !matches!(
            self,
            Self::AeTerm | Self::AeSeverity | Self::AeSerious | Self::AeRelatedness
        )
    }
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
    /// Occurs when a field that must be answered ([`Field::may_be_not_done`]) is
    /// recorded as not done.
    NotDoneRefused {
        /// The field recorded as not done.
        field: Field,
    },
    /// Occurs when the patient's initials are not 2 to 4 letters A–Z (a Chinese
    /// name's pinyin initials).
    NotInitials {
        /// The field the initials were entered in.
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
    /// Occurs when a date ([`Input::Date`]) or a date and time ([`Input::DateTime`])
    /// is not written in ISO order, 2026-03-10 or 2026-03-10 14:05 (24-hour), or
    /// names no such day or time: read any other way, 03/10 could be either month.
    NotADate {
        /// The field the text was typed in.
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
            | Self::NotDoneRefused { field }
            | Self::NotInitials { field }
            | Self::TooLong { field, .. }
            | Self::UnconfirmedWarning { field, .. }
            | Self::EarlierThan { field, .. }
            | Self::NotAfter { field, .. }
            | Self::TooManyDecimals { field, .. }
            | Self::Unchanged { field }
            | Self::NotADate { field } => *field,
            Self::DateOfBirthOutOfRange { .. } => Field::DateOfBirth,
            Self::UnconfirmedSampleWindow { .. } => Field::SampledAt,
        }
    }

    /// Whether this names an answer still to be given (a blank field, a blank
    /// text, "not done" without its reason) rather than a wrong one: a form shows
    /// a wrong value as soon as it is typed, and what is missing only once the
    /// user tries to save, so a form just opened is not covered in red.
    pub fn is_missing(&self) -> bool {
        matches!(
            self,
            Self::Required { .. } | Self::Blank { .. } | Self::BlankReason { .. }
        )
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
            Self::Required { field } if !field.may_be_not_done() => {
                write!(f, "{field}: required")
            }
            Self::Required { field } => write!(
                f,
                "{field}: required; enter a value or record it as not done with a reason"
            ),
            Self::Blank { field } => write!(f, "{field}: must not be blank"),
            Self::BlankReason { field } => {
                write!(f, "{field}: recorded as not done without a reason")
            }
            Self::NotInitials { field } => {
                write!(
                    f,
                    "{field}: 2 to 4 letters A–Z (pinyin initials for a Chinese name)"
                )
            }
            Self::NotDoneRefused { field } => {
                write!(
                    f,
                    "{field}: must be answered; it cannot be recorded as not done"
                )
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
            Self::NotADate { field } if field.input() == Input::DateTime => {
                write!(f, "{field}: not a date and time such as 2026-03-10 14:05")
            }
            Self::NotADate { field } => write!(f, "{field}: not a date such as 2026-03-10"),
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

/// Checks that a measurement has at most one decimal, the precision its form
/// records: a decision or a total must not rest on digits the screen does not show.
pub(crate) fn check_tenths(field: Field, value: f64) -> Result<f64, FieldError> {
    let tenths = value * 10.0;
    // A number typed with one decimal is within a hair of a whole number of tenths
    // once parsed as binary floating point; 102.36 is 0.4 tenths away.
    if (tenths - tenths.round()).abs() < 1e-6 {
        Ok(value)
    } else {
        Err(FieldError::TooManyDecimals { field, decimals: 1 })
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
            assert_eq!(serde_json::from_value::<Field>(serialised).unwrap(), field);
            assert_eq!(Field::from_key(field.key()), Some(field));
        }
    }

    #[test]
    fn an_unknown_key_is_named_with_the_keys_it_could_be() {
        let error = serde_json::from_str::<Field>("\"heigth_cm\"")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("unknown variant `heigth_cm`, expected one of `screened_at`"),
            "{error}"
        );
        assert_eq!(Field::from_key("heigth_cm"), None);
        // As a map key too, as the forms store their values.
        let values: std::collections::BTreeMap<Field, u32> =
            serde_json::from_str(r#"{"height_cm": 165}"#).unwrap();
        assert_eq!(values[&Field::HeightCm], 165);
    }

    #[test]
    fn all_lists_every_field_once_in_declaration_order() {
        for (index, field) in Field::ALL.into_iter().enumerate() {
            assert_eq!(field as usize, index, "{field:?}");
        }
        // `PatientInitials` is the last variant: a new field goes after it, and here.
        assert_eq!(Field::ALL.len(), Field::PatientInitials as usize + 1);
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
