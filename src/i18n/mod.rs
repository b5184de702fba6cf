//! Every word the app shows, in English and Simplified Chinese.
//!
//! Translations are exhaustive `match`es, so a text, field or criterion without a
//! translation in both languages does not compile. The language starts from the
//! browser's and is kept per tablet in `localStorage`.

pub mod backup;
mod errors;
pub mod options;
mod strings;

pub use errors::{
    action_error, crypto_error, refusal_text, sentence_with_detail, store_error, sync_error,
    with_detail,
};

use leptos::prelude::*;
use trial::crf::FormRef;
use trial::crf::cytokine::SampleDue;
use trial::eligibility::Criterion;
use trial::event::EventKind;
use trial::field::{Field, FieldError, Input, TimeLimit};
use trial::projection::NextSample;
use trial::randomisation::Arm;

use crate::clock::{DATE_EXAMPLE, DATE_TIME_EXAMPLE};

/// A language the app speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese (zh-CN).
    Zh,
}

const STORAGE_KEY: &str = "hp-ecmo.lang";

impl Lang {
    /// The language to start in: the tablet's saved choice, else the browser's.
    pub fn initial() -> Self {
        let window = web_sys::window().expect("the app runs in a window");
        let saved = window
            .local_storage()
            .ok()
            .flatten()
            .and_then(|storage| storage.get_item(STORAGE_KEY).ok().flatten());
        let preferred = saved.or_else(|| window.navigator().language());
        match preferred {
            Some(tag) if tag.to_ascii_lowercase().starts_with("zh") => Self::Zh,
            _ => Self::En,
        }
    }

    /// Remembers the choice on this tablet.
    pub fn save(self) {
        let storage = web_sys::window().and_then(|window| window.local_storage().ok().flatten());
        if let Some(storage) = storage {
            // Failing to remember only means the next start uses the browser's language.
            let _ = storage.set_item(STORAGE_KEY, self.tag());
        }
    }

    /// Shows the language in the document: `<html lang>`, and the web manifest in
    /// the same language (`index.html` links `public/manifest.webmanifest` by the
    /// id `manifest`; the Chinese one is `manifest.zh.webmanifest`), so an app
    /// installed by a Chinese user is named in Chinese.
    pub fn apply_to_document(self) {
        let document = document();
        if let Some(root) = document.document_element() {
            // Failing to set an attribute leaves the document as it was.
            let _ = root.set_attribute("lang", self.tag());
        }
        if let Some(link) = document.get_element_by_id("manifest") {
            let _ = link.set_attribute("href", self.manifest());
        }
    }

    /// The web manifest in this language.
    fn manifest(self) -> &'static str {
        match self {
            Self::En => "/manifest.webmanifest",
            Self::Zh => "/manifest.zh.webmanifest",
        }
    }

    /// The BCP 47 tag, for `<html lang>` and `Intl`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh-CN",
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Self {
        match self {
            Self::En => Self::Zh,
            Self::Zh => Self::En,
        }
    }
}

/// A text of the user interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // Each variant is the text of the same name; see `strings.rs`.
pub enum Text {
    UpdateReady,
    CrashNotice,
    ReloadNow,
    StorageKept,
    StorageNotKept,
    StorageUsed,
    AppTitle,
    SwitchLanguage,
    Participants,
    NewScreening,
    NoParticipants,
    Yes,
    No,
    Unknown,
    Cancel,
    NotFound,
    InsecureOrigin,
    InsecureOriginWhy,
    InsecureOriginHow,
    InsecureOriginNothingSaved,
    StorageFailed,
    EnrolTitle,
    EnrolHelp,
    EnrolCode,
    EnrolButton,
    Enrolling,
    EnrolTrainingWarning,
    EnrolConfirmDelete,
    EnrolConfirmRequired,
    EnrolCodeRequired,
    EnrolOffline,
    EnrolRefused,
    EnrolCodeUnknown,
    EnrolCodeUsed,
    EnrolLink,
    EnrolledHere,
    SyncTablet,
    SyncNever,
    SyncLast,
    SyncRunning,
    SyncOffline,
    SyncFailed,
    SyncRevoked,
    SyncWaiting,
    SyncAllSent,
    SyncNow,
    SyncReceiving,
    StatesRebuilding,
    FindParticipant,
    NoParticipantMatches,
    RejectedInvalid,
    RejectedFuture,
    RejectedChain,
    RejectedOtherSite,
    ClockBeforeTrial,
    RejectedUser,
    RejectedLimit,
    RejectedOther,
    ClockOff,
    Locked,
    Unlock,
    SwitchUser,
    NotSynced,
    TrainingRecords,
    TrainingBand,
    TrainingMode,
    SignIn,
    SignOut,
    FirstUserTitle,
    FirstUserHelp,
    UserName,
    Pin,
    PinAgain,
    CreateUser,
    NameRequired,
    PinRule,
    PinsDiffer,
    ChooseYourName,
    OnEcmo,
    StatusIncomplete,
    StatusNotEligible,
    StatusEligible,
    StatusRandomised,
    StatusWithdrawn,
    EndWithdrawn,
    StatusCompleted,
    StatusLost,
    Female,
    Male,
    EcmoVa,
    EcmoVv,
    Other,
    FixErrorsFirst,
    FormNotBuilt,
    CorrectionRefused,
    TechnicalDetail,
    SectionPatient,
    SectionShock,
    SectionEcmo,
    SectionExclusions,
    SaveScreening,
    OutcomeEligible,
    OutcomeIneligible,
    OutcomeIncomplete,
    DateTimeHint,
    DateHint,
    ReadAs,
    EligibilityWhy,
    ComputedAge,
    WindowClosesIn,
    WindowClosed,
    CriterionMet,
    CriterionNotMet,
    CriterionUnknown,
    ExclusionAbsent,
    ExclusionPresent,
    EditScreening,
    Consent,
    ConsentPatient,
    ConsentRepresentative,
    ConsentRecorded,
    RecordConsent,
    Randomise,
    BlockedNotEligible,
    BlockedNoConsent,
    /// Randomise is blocked: another tablet screened this participant.
    BlockedOtherDevice,
    BlockedNoSlot,
    BlockedTabletNotEnrolled,
    TrainingAllocation,
    NewPin,
    NewPinRule,
    ChangePinTitle,
    ChangePinHelp,
    ChangePin,
    PinChangeOffline,
    Later,
    TrainingExplained,
    StartTraining,
    RandomiseIrreversible,
    ConfirmRandomise,
    AllocatedArm,
    StudyNumber,
    AlreadyRandomised,
    Hemoperfusion,
    StandardCare,
    SampleDueNow,
    SampleOverdue,
    SampleNotYet,
    CytokineSamples,
    SamplesHelp,
    WindowsOnTabletClock,
    NoWindow,
    NotDone,
    NotDoneReason,
    Optional,
    ConfirmValue,
    Close,
    Correct,
    CorrectionHelp,
    SaveCorrection,
    CorrectionUnchanged,
    Il6ChangeTitle,
    Il6ChangeEmpty,
    TimePoint,
    ChangeAbsolute,
    ChangePercent,
    ChangeLog10,
    Timeline,
    Tablet,
    Reason,
    ConfirmedFields,
    CheckMarkedFields,
    ConfirmMarkedValues,
    CurrentEntry,
    EventScreeningRecorded,
    EventConsentRecorded,
    EventRandomised,
    EventFormSaved,
    EventValueCorrected,
    EventWithdrawn,
    EventEndOfParticipation,
    FormBaseline,
    FormCytokineSample,
    FormHemoperfusionSession,
    FormDailyAssessment,
    FormAdverseEvent,
    FormOutcomes,
    ShockAmi,
    ShockMyocarditis,
    ShockPostCardiotomy,
    ShockCardiomyopathy,
    CartridgeHa330,
    CartridgeHa380,
    CartridgeCytosorb,
    CircuitEcmo,
    CircuitCrrt,
    CircuitSeparate,
    StopCompleted,
    StopClotting,
    StopBleeding,
    StopHaemodynamic,
    SeverityMild,
    SeverityModerate,
    SeveritySevere,
    RelatedNot,
    RelatedUnlikely,
    RelatedPossible,
    RelatedProbable,
    RelatedDefinite,
    AeRecovered,
    AeRecovering,
    AeNotRecovered,
    AeRecoveredWithSequelae,
    AeFatal,
    Day28AliveInHospital,
    Day28AliveDischarged,
    Day28Dead,
    WithdrawnByParticipant,
    WithdrawnByRepresentative,
    WithdrawnByInvestigator,
    CaseReportForms,
    Saved,
    NotSaved,
    SectionSessions,
    SectionDaily,
    SectionAdverseEvents,
    SectionEnd,
    InFollowUp,
    DeviationHpInStandardCare,
    SessionsHelp,
    DailyHelp,
    BaselineHelp,
    OutcomesHelp,
    AddSession,
    AddAdverseEvent,
    Vis,
    VisNeedsDoses,
    SaveForm,
    FormSavedMeanwhile,
    DiscardUnsaved,
    NeedsReview,
    EndHow,
    ChooseEndStatus,
    RecordEnd,
    EndIrreversible,
    ConfirmEnd,
    ArmStays,
    UnitPoints,
    UnitUnits,
    UnitDays,
    UnitDay,
    UnitTherapeuticDoses,
    UnitPerMin,
    SlotsBusy,
    UnknownParticipant,
    StorageRefused,
    StorageCorrupt,
    ChainRefused,
    CryptoUnavailable,
    CryptoRefused,
    AlreadyEnrolled,
    DataQuery,
    DataQueryHelp,
    BlockedNotEnrolled,
    EventNotEnrolled,
    EventCasebookSigned,
    EventCasebookUnlocked,
    SignerInvestigator,
    SignatureMeaning,
    CasebookLocked,
    CasebookChangedAfterSigning,
    StatusNotEnrolled,
    NotEnrolledIneligible,
    NotEnrolledConsentRefused,
    NotEnrolledMissedWindow,
    NotEnrolledHelp,
    RecordNotEnrolled,
    ChooseNotEnrolledReason,
}

/// Translates a text.
pub fn t(lang: Lang, text: Text) -> &'static str {
    pick(lang, strings::text(text))
}

/// A field's label in `lang`.
pub fn field_label(lang: Lang, field: Field) -> &'static str {
    pick(lang, strings::field(field))
}

/// A criterion's label in `lang`, with the protocol's number: "I1 Age 18–75
/// years", "入选 1 年龄 18～75 岁".
pub fn criterion_label(lang: Lang, criterion: Criterion) -> String {
    format!(
        "{} {}",
        criterion_code(lang, criterion),
        pick(lang, strings::criterion(criterion))
    )
}

/// The protocol's number of a criterion: "I3.1" and "E1" in English, "入选 3.1" and
/// "排除 1" in Chinese.
fn criterion_code(lang: Lang, criterion: Criterion) -> String {
    let code = criterion.code();
    match lang {
        Lang::En => code.to_owned(),
        Lang::Zh => {
            let kind = if criterion.is_exclusion() {
                "排除"
            } else {
                "入选"
            };
            format!("{kind} {}", code.trim_start_matches(['I', 'E']))
        }
    }
}

/// An arm's name in `lang`.
pub fn arm_label(lang: Lang, arm: Arm) -> &'static str {
    match arm {
        Arm::Hemoperfusion => t(lang, Text::Hemoperfusion),
        Arm::StandardCare => t(lang, Text::StandardCare),
    }
}

/// "IL-6 6 h: due now" / "IL-6 6 h：待采样", for the home screen.
pub fn sample_due_label(lang: Lang, next: &NextSample) -> String {
    let due = match next.due {
        SampleDue::NotYet => Text::SampleNotYet,
        SampleDue::Due => Text::SampleDueNow,
        SampleDue::Overdue => Text::SampleOverdue,
    };
    let time_point = format!("IL-6 {} h", next.time_point.hours());
    labelled(lang, &time_point, t(lang, due))
}

/// An event kind in words, for the timeline.
pub fn event_kind_label(lang: Lang, kind: EventKind) -> &'static str {
    t(
        lang,
        match kind {
            EventKind::ScreeningRecorded => Text::EventScreeningRecorded,
            EventKind::ConsentRecorded => Text::EventConsentRecorded,
            EventKind::Randomised => Text::EventRandomised,
            EventKind::FormSaved => Text::EventFormSaved,
            EventKind::ValueCorrected => Text::EventValueCorrected,
            EventKind::Withdrawn => Text::EventWithdrawn,
            EventKind::EndOfParticipation => Text::EventEndOfParticipation,
            EventKind::NotEnrolled => Text::EventNotEnrolled,
            EventKind::CasebookSigned => Text::EventCasebookSigned,
            EventKind::CasebookUnlocked => Text::EventCasebookUnlocked,
        },
    )
}

/// A form instance in words: "Cytokine sample 6 h", "Daily assessment, day 3".
pub fn form_label(lang: Lang, form: FormRef) -> String {
    let zh = lang == Lang::Zh;
    match form {
        FormRef::Baseline => t(lang, Text::FormBaseline).into(),
        FormRef::CytokineSample { time_point } => {
            format!(
                "{} {} h",
                t(lang, Text::FormCytokineSample),
                time_point.hours()
            )
        }
        FormRef::HemoperfusionSession { .. } => t(lang, Text::FormHemoperfusionSession).into(),
        FormRef::DailyAssessment { study_day } if zh => {
            format!(
                "{}（第 {} 天）",
                t(lang, Text::FormDailyAssessment),
                study_day.get()
            )
        }
        FormRef::DailyAssessment { study_day } => {
            format!(
                "{}, day {}",
                t(lang, Text::FormDailyAssessment),
                study_day.get()
            )
        }
        FormRef::AdverseEvent { .. } => t(lang, Text::FormAdverseEvent).into(),
        FormRef::Outcomes => t(lang, Text::FormOutcomes).into(),
    }
}

/// A numbered instance of a form, `ordinal` from 1: "Hemoperfusion session 2" /
/// "第 2 次血液灌流", "Adverse event 3" / "不良事件 3".
pub fn numbered_form(lang: Lang, form: FormRef, ordinal: usize) -> String {
    match (lang, form) {
        (Lang::Zh, FormRef::HemoperfusionSession { .. }) => {
            format!("第 {ordinal} 次{}", t(lang, Text::FormHemoperfusionSession))
        }
        _ => format!("{} {ordinal}", form_label(lang, form)),
    }
}

/// How the sample list reads, and on whose clock its windows are: the site's
/// zone, by name ("Asia/Shanghai"), or this tablet's in training.
pub fn samples_help(lang: Lang, zone: Option<&str>) -> String {
    let clock = match (zone, lang) {
        (Some(zone), Lang::En) => format!("Windows are in the site's local time ({zone})."),
        (Some(zone), Lang::Zh) => format!("采样时间窗按研究中心当地时间（{zone}）显示。"),
        (None, _) => t(lang, Text::WindowsOnTabletClock).to_owned(),
    };
    match lang {
        Lang::En => format!("{} {clock}", t(lang, Text::SamplesHelp)),
        Lang::Zh => format!("{}{clock}", t(lang, Text::SamplesHelp)),
    }
}

/// Whether the browser keeps this tablet's data (`kept`: `StorageKept` or
/// `StorageNotKept`) and how much is stored: "… · 3.2 MB used" / "本平板已用
/// 3.2 MB 存储空间。…".
pub fn storage_line(lang: Lang, kept: Text, megabytes: f64) -> String {
    let used = t(lang, Text::StorageUsed);
    match lang {
        Lang::En => format!("{} · {megabytes:.1} MB {used}", t(lang, kept)),
        Lang::Zh => format!("本平板{used} {megabytes:.1} MB 存储空间。{}", t(lang, kept)),
    }
}

/// "The server refused record 42: why" / "服务器拒收第 42 条记录：why".
pub fn refused_record(lang: Lang, device_seq: u64, why: Text) -> String {
    match lang {
        Lang::En => format!("The server refused record {device_seq}: {}", t(lang, why)),
        Lang::Zh => format!("服务器拒收第 {device_seq} 条记录：{}", t(lang, why)),
    }
}

/// Two sentences, the first written without its full stop: "A. B" / "A。B".
pub fn sentences(lang: Lang, first: &str, second: &str) -> String {
    match lang {
        Lang::En => format!("{first}. {second}"),
        Lang::Zh => format!("{first}。{second}"),
    }
}

/// A percentage: "-50.0 %" / "-50.0%".
pub fn percent(lang: Lang, number: &str) -> String {
    match lang {
        Lang::En => format!("{number} %"),
        Lang::Zh => format!("{number}%"),
    }
}

/// A range, "0–24" / "0～24"; ends that hold a space (two date-times) or a minus
/// sign are joined by " – " / " 至 ", since "-35～17" and "03-01 23:00～03-02"
/// read badly in Chinese. A Chinese line may break on either side of "～", so word
/// joiners (U+2060, invisible) keep "0～24" on one line.
pub fn range(lang: Lang, from: &str, to: &str) -> String {
    let wide = from.contains(' ') || to.contains(' ');
    match lang {
        Lang::En if wide => format!("{from} – {to}"),
        Lang::En => format!("{from}–{to}"),
        Lang::Zh if wide || from.starts_with('-') => format!("{from} 至 {to}"),
        Lang::Zh => format!("{from}\u{2060}～\u{2060}{to}"),
    }
}

/// A dose entered per hour as it is stored: "= 0.0004762 U/kg/min (at 70 kg)",
/// "＝ 0.0004762 U/kg/min（按体重 70 kg 换算）".
pub fn converted_dose(lang: Lang, dose: &str, unit: &str, weight_kg: &str) -> String {
    let dose = quantity(lang, dose, unit);
    let weight = quantity(lang, weight_kg, "kg");
    match lang {
        Lang::En => format!("= {dose} (at {weight})"),
        Lang::Zh => format!("＝ {dose}（按体重 {weight} 换算）"),
    }
}

/// An incomplete screening's outcome: "Incomplete: 3 answers missing" /
/// "信息不完整：缺少 3 项".
pub fn incomplete_outcome(lang: Lang, n_missing: usize) -> String {
    match (lang, n_missing) {
        (Lang::En, 1) => "Incomplete: 1 answer missing".to_owned(),
        (Lang::En, n) => format!("Incomplete: {n} answers missing"),
        (Lang::Zh, n) => format!("信息不完整：缺少 {n} 项"),
    }
}

/// Where a patient lies, as a ward says it: "bed 12" / "12 床".
pub fn bed(lang: Lang, bed: &str) -> String {
    match lang {
        Lang::En => format!("bed {bed}"),
        Lang::Zh => format!("{bed} 床"),
    }
}

/// A wrong PIN, and how many more the tablet checks before it makes the user
/// wait: "Wrong PIN: 2 tries left before a wait" / "PIN 错误，还可再试 2 次".
pub fn wrong_pin(lang: Lang, tries_left: u32) -> String {
    match (lang, tries_left) {
        (Lang::En, 1) => "Wrong PIN: 1 try left before a wait".to_owned(),
        (Lang::En, n) => format!("Wrong PIN: {n} tries left before a wait"),
        (Lang::Zh, n) => format!("PIN 错误，还可再试 {n} 次"),
    }
}

/// A wrong PIN that starts a wait: "Wrong PIN, 5 times in a row: try again in
/// 30 s" / "PIN 连续错误 5 次，请 30 秒后再试".
pub fn pin_locked(lang: Lang, failures: u32, wait_ms: i64) -> String {
    let seconds = whole_seconds(wait_ms);
    match lang {
        Lang::En => format!("Wrong PIN, {failures} times in a row: try again in {seconds} s"),
        Lang::Zh => format!("PIN 连续错误 {failures} 次，请 {seconds} 秒后再试"),
    }
}

/// Why a PIN was not checked: "Too many wrong PINs: try again in 30 s" /
/// "PIN 错误次数过多，请 30 秒后再试".
pub fn pin_wait(lang: Lang, wait_ms: i64) -> String {
    let seconds = whole_seconds(wait_ms);
    match lang {
        Lang::En => format!("Too many wrong PINs: try again in {seconds} s"),
        Lang::Zh => format!("PIN 错误次数过多，请 {seconds} 秒后再试"),
    }
}

/// Whole seconds, rounded up, so a wait never reads as over while it lasts.
fn whole_seconds(ms: i64) -> i64 {
    (ms.max(0) + 999) / 1000
}

/// Which screening an outcome was judged on: "Judged on screening 0BCB-0002 of
/// 2026-03-01 12:00" / "依据 2026-03-01 12:00 的筛选（筛选号 0BCB-0002）判定".
pub fn judged_on(lang: Lang, screening_number: &str, screened_at: &str) -> String {
    match lang {
        Lang::En => format!("Judged on screening {screening_number} of {screened_at}"),
        Lang::Zh => format!("依据 {screened_at} 的筛选（筛选号 {screening_number}）判定"),
    }
}

/// "label: value", with the colon of `lang`.
pub fn labelled(lang: Lang, label: &str, value: &str) -> String {
    match lang {
        Lang::En => format!("{label}: {value}"),
        Lang::Zh => format!("{label}：{value}"),
    }
}

/// "not done: the reason" in `lang`.
pub fn not_done_label(lang: Lang, reason: &str) -> String {
    match lang {
        Lang::En => format!("not done: {reason}"),
        Lang::Zh => format!("未做：{reason}"),
    }
}

/// "text (note)", with the brackets of `lang`; in Chinese a text that ends in
/// brackets takes the note inside them: "体外心肺复苏（ECPR，选填）".
pub fn parenthesised(lang: Lang, text: &str, note: &str) -> String {
    match lang {
        Lang::En => format!("{text} ({note})"),
        Lang::Zh => match text.strip_suffix('）') {
            Some(open) => format!("{open}，{note}）"),
            None => format!("{text}（{note}）"),
        },
    }
}

/// A unit as the trial core writes it (`Limits::unit`) in `lang`: symbols stay as
/// they are, words are translated.
pub fn unit_label(lang: Lang, unit: &'static str) -> &'static str {
    let text = match unit {
        "points" => Text::UnitPoints,
        "units" => Text::UnitUnits,
        "days" => Text::UnitDays,
        "day" => Text::UnitDay,
        "therapeutic doses" => Text::UnitTherapeuticDoses,
        "/min" => Text::UnitPerMin,
        _ => return unit,
    };
    t(lang, text)
}

/// Chooses from an `[English, Chinese]` pair.
fn pick(lang: Lang, [en, zh]: [&'static str; 2]) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// A field error as a sentence in `lang`, naming the field and the allowed range.
pub fn field_error(lang: Lang, error: &FieldError) -> String {
    let field = field_label(lang, error.field());
    let unit = error
        .field()
        .limits()
        .map_or("", |limits| unit_label(lang, limits.unit));
    let zh = lang == Lang::Zh;
    let timed = error.field().input() == Input::DateTime;
    let with_unit = |number: f64| quantity(lang, &number.to_string(), unit);
    match error {
        FieldError::OutOfRange {
            value, min, max, ..
        } if zh => {
            let range = range(lang, &min.to_string(), &max.to_string());
            format!(
                "{field}：{}，超出允许范围（{}）",
                with_unit(*value),
                quantity(lang, &range, unit)
            )
        }
        FieldError::OutOfRange {
            value, min, max, ..
        } => {
            let range = range(lang, &min.to_string(), &max.to_string());
            format!(
                "{field}: {} is outside the allowed range {}",
                with_unit(*value),
                quantity(lang, &range, unit)
            )
        }
        FieldError::NotANumber { .. } if zh => format!("{field}：请输入数字"),
        FieldError::NotANumber { .. } => format!("{field}: enter a number"),
        FieldError::NotAWholeNumber { .. } if zh => format!("{field}：请输入整数"),
        FieldError::NotAWholeNumber { .. } => format!("{field}: enter a whole number"),
        FieldError::DateOfBirthOutOfRange {
            value,
            earliest,
            latest,
        } if zh => {
            format!("{field}：{value}，超出允许范围（{earliest} 至筛选日期 {latest}）")
        }
        FieldError::DateOfBirthOutOfRange {
            value,
            earliest,
            latest,
        } => format!(
            "{field}: {value} is outside the allowed range {earliest} to {latest} (the screening date)"
        ),
        FieldError::LaterThan { limit, .. } if zh => {
            format!("{field}：{}", spaced("不得晚于", time_limit(lang, *limit)))
        }
        FieldError::LaterThan { limit, .. } => {
            format!(
                "{field}: must not be later than {}",
                time_limit(lang, *limit)
            )
        }
        FieldError::EarlierThan { limit, .. } if zh => {
            format!("{field}：{}", spaced("不得早于", time_limit(lang, *limit)))
        }
        FieldError::EarlierThan { limit, .. } => {
            format!(
                "{field}: must not be earlier than {}",
                time_limit(lang, *limit)
            )
        }
        FieldError::NotAfter { limit, .. } if zh => {
            format!("{field}：{}", spaced("必须晚于", time_limit(lang, *limit)))
        }
        FieldError::NotAfter { limit, .. } => {
            format!("{field}: must be later than {}", time_limit(lang, *limit))
        }
        FieldError::Contradiction { other, .. } if zh => {
            format!("{field}：与“{}”矛盾", field_label(lang, *other))
        }
        FieldError::Contradiction { other, .. } => {
            format!("{field}: contradicts “{}”", field_label(lang, *other))
        }
        FieldError::NotInitials { .. } if zh => {
            format!("{field}：请填写 2～4 个字母 A～Z（姓名拼音首字母）")
        }
        FieldError::NotInitials { .. } => {
            format!("{field}: 2 to 4 letters A–Z (pinyin initials for a Chinese name)")
        }
        FieldError::NotDoneRefused { .. } if zh => format!("{field}：必须填写，不能记录为“未做”"),
        FieldError::NotDoneRefused { .. } => {
            format!("{field}: must be answered; it cannot be recorded as not done")
        }
        FieldError::Required { .. } if zh => format!("{field}：必填"),
        FieldError::Required { .. } => format!("{field}: required"),
        FieldError::Blank { .. } if zh => format!("{field}：不能为空"),
        FieldError::Blank { .. } => format!("{field}: must not be blank"),
        FieldError::BlankReason { .. } if zh => format!("{field}：记录“未做”时须填写原因"),
        FieldError::BlankReason { .. } => format!("{field}: “not done” needs a reason"),
        FieldError::TooLong { length, max, .. } if zh => {
            format!("{field}：{length} 个字符，最多 {max} 个")
        }
        FieldError::TooLong { length, max, .. } => {
            format!("{field}: {length} characters, at most {max} allowed")
        }
        FieldError::UnconfirmedWarning {
            value, warn_above, ..
        } if zh => format!(
            "{field}：{} 高于常见上限 {}，请核实后勾选确认",
            with_unit(*value),
            with_unit(*warn_above)
        ),
        FieldError::UnconfirmedWarning {
            value, warn_above, ..
        } => format!(
            "{field}: {value} {unit} is above {warn_above} {unit}, which is unusual; confirm it"
        ),
        FieldError::TooManyDecimals { decimals, .. } if zh => {
            format!("{field}：最多 {decimals} 位小数")
        }
        FieldError::TooManyDecimals { decimals, .. } => {
            format!("{field}: at most {decimals} decimal place(s)")
        }
        FieldError::NotADate { .. } if zh && timed => {
            format!("{field}：请按 {DATE_TIME_EXAMPLE} 的格式填写（24 小时制）")
        }
        FieldError::NotADate { .. } if timed => {
            format!("{field}: enter it as {DATE_TIME_EXAMPLE} (24-hour)")
        }
        FieldError::NotADate { .. } if zh => format!("{field}：请按 {DATE_EXAMPLE} 的格式填写"),
        FieldError::NotADate { .. } => format!("{field}: enter it as {DATE_EXAMPLE}"),
        FieldError::Unchanged { .. } if zh => {
            format!("{field}：{}", t(lang, Text::CorrectionUnchanged))
        }
        FieldError::Unchanged { .. } => format!("{field}: {}", t(lang, Text::CorrectionUnchanged)),
        FieldError::UnconfirmedSampleWindow {
            time_point,
            minutes_from_target,
            allowed_minutes,
        } if zh => format!(
            "{field}：{} h 样本比目标时间{} {} 分钟，超出 ±{allowed_minutes} 分钟采样时间窗，请核实后勾选确认",
            time_point.hours(),
            if *minutes_from_target < 0 {
                "早"
            } else {
                "晚"
            },
            minutes_from_target.unsigned_abs()
        ),
        FieldError::UnconfirmedSampleWindow {
            time_point,
            minutes_from_target,
            allowed_minutes,
        } => format!(
            "{field}: the {} h sample is {} min {} its target time, outside the ±{allowed_minutes} min window; confirm it",
            time_point.hours(),
            minutes_from_target.unsigned_abs(),
            if *minutes_from_target < 0 {
                "before"
            } else {
                "after"
            }
        ),
    }
}

/// A number (or a range) with its unit, when there is one: "0–24 points". In
/// Chinese the space is a no-break space, since a Chinese line breaks anywhere and
/// "（0～24" must not end a line with "分）" starting the next.
pub fn quantity(lang: Lang, number: &str, unit: &str) -> String {
    match (lang, unit) {
        (_, "") => number.to_owned(),
        (Lang::En, _) => format!("{number} {unit}"),
        (Lang::Zh, _) => format!("{number}\u{a0}{unit}"),
    }
}

/// Two pieces of Chinese text joined, with a space where Chinese meets a Latin
/// letter or digit: "不得晚于" and "ECMO 上机时间" make "不得晚于 ECMO 上机时间".
fn spaced(before: &str, after: &str) -> String {
    let is_latin = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let latin_meets_chinese = is_latin(before.chars().last()) || is_latin(after.chars().next());
    if latin_meets_chinese {
        format!("{before} {after}")
    } else {
        format!("{before}{after}")
    }
}

/// What a time must not pass, in `lang`.
fn time_limit(lang: Lang, limit: TimeLimit) -> &'static str {
    pick(
        lang,
        match limit {
            TimeLimit::ScreeningTime => ["the screening date-time", "筛选时间"],
            TimeLimit::EvaluationTime => ["now", "当前时间"],
            TimeLimit::EcmoStart => ["the ECMO start", "ECMO 上机时间"],
            TimeLimit::SessionStart => ["the session start", "治疗开始时间"],
            TimeLimit::IcuDischarge => ["the ICU discharge", "转出 ICU 日期"],
            TimeLimit::RecordingTime => [
                "now (it cannot have happened yet)",
                "当前时间（不能录入尚未发生的事件）",
            ],
        },
    )
}

/// Provides the language signal every component reads (`use_lang`), starting
/// from the saved or the browser's language; each change is saved and shown in
/// the document. Called once by each entry point's root.
pub fn provide_lang() -> RwSignal<Lang> {
    let lang = RwSignal::new(Lang::initial());
    provide_context(lang);
    Effect::new(move || {
        let lang = lang.get();
        lang.save();
        lang.apply_to_document();
    });
    lang
}

/// The language signal every component reads, provided once by the root.
pub fn use_lang() -> RwSignal<Lang> {
    expect_context::<RwSignal<Lang>>()
}
