//! The console's words, `[English, Chinese]` side by side as in `i18n::strings`.
//! Apart from the tablet's table so the bedside bundle carries none of them.

use trial::console::{
    AccountError, ConsoleEvent, ConsoleRole, MAX_ACCOUNT_NAME_CHARS, MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
};

use trial::export::Format;
use trial::wire::Role;

use crate::i18n::Lang;

/// A text of the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // Each variant is the text of the same name; see `text`.
pub enum Ct {
    Title,
    SignInTitle,
    SetupTitle,
    SetupHelp,
    Name,
    Password,
    PasswordAgain,
    SignIn,
    SigningIn,
    SignOut,
    CreateAccount,
    WrongNameOrPassword,
    PasswordsDiffer,
    LinkInvalid,
    SessionEnded,
    NameTaken,
    Offline,
    SignedInAs,
    NewAccountTitle,
    NewAccountHelp,
    Role,
    MakeLink,
    LinkMade,
    LinkExpires,
    AuditTitle,
    AuditEmpty,
    When,
    Who,
    What,
    Detail,
    FromWhere,
    NotYours,
    Failed,
    SitesTitle,
    UsersTitle,
    TabletsTitle,
    AddUser,
    NewPinButton,
    Disable,
    Disabled,
    Active,
    PinShownOnce,
    Revoke,
    Revoked,
    NewCode,
    CodeHelp,
    ConfirmDisable,
    ConfirmRevoke,
    Enrolled,
    LastSync,
    ClockOffset,
    Pending,
    ClockInStep,
    NotReported,
    AppVersion,
    Status,
    Never,
    Actions,
    NoTablets,
    QrAlt,
    ConsortTitle,
    BalanceTitle,
    BalanceTablet,
    NoneRandomised,
    OverdueTitle,
    NoneOverdue,
    WindowClosed,
    DownloadSvg,
    Stage,
    Count,
    Assessed,
    Excluded,
    Randomised,
    ArmUnknown,
    ArmHemoperfusion,
    ArmStandardCare,
    Allocated,
    ReceivedAllocated,
    Withdrawn,
    Lost,
    Analysed,
    ExportsTitle,
    ExportsHelp,
    DownloadZip,
    ExportsMade,
    NoExports,
    Files,
    Events,
    CommandLine,
    QueriesTitle,
    QueriesHelp,
    QueryStatusLabel,
    QueriesOpen,
    QueriesClosed,
    QueriesAll,
    FilterStudyNumber,
    NoQueries,
    NotRandomisedYet,
    ScreeningForm,
    QueryOpenedAt,
    QueryResolvedAt,
    ShownValue,
    OverriddenValue,
    QueryThread,
    CommentLabel,
    AddComment,
    CommentBlank,
    CommentTooLong,
    ResolutionReason,
    KeepShown,
    TakeOverridden,
    ScreeningQueryHelp,
    AuditSectionTitle,
    AuditSectionHelp,
    RandomisationsTitle,
    NoRandomisations,
    StudyNumber,
    Tablet,
    LeaseSlot,
    ArmColumn,
    RecordedUtc,
    RecordedLocal,
    Verification,
    VerifiedOk,
    LeaseNotIssued,
    FlagsTitle,
    NoFlags,
    Flag,
    Raised,
    FlagOpen,
    FlagResolved,
    ResolutionNoteLabel,
    ResolveButton,
    NoteRequired,
    NoteTooLong,
    AlreadyResolvedText,
    ResolvedByOn,
    StockTitle,
    NoStock,
    Issued,
    Used,
    Left,
    CasebooksTitle,
    CasebooksHelp,
    CasebookOpen,
    CasebookSigned,
    CasebookChanged,
    CasebookForms,
    CasebookRecords,
    SignedBy,
    SignTitle,
    SignPassword,
    SignButton,
    WrongPasswordAgain,
    CasebookConflict,
    UnlockTitle,
    UnlockReason,
    UnlockButton,
    UnlockReasonBlank,
    UnlockReasonTooLong,
}

fn text(text: Ct) -> [&'static str; 2] {
    match text {
        Ct::Title => ["HP-ECMO console", "HP-ECMO 管理控制台"],
        Ct::SignInTitle => ["Sign in to the console", "登录管理控制台"],
        Ct::SetupTitle => ["Set up your console account", "设置控制台账号"],
        Ct::SetupHelp => [
            "This link works once. Choose the name you sign in with and a password only you know.",
            "此链接仅可使用一次。请设置登录用户名和仅您本人知道的密码。",
        ],
        Ct::Name => ["Name", "用户名"],
        Ct::Password => ["Password", "密码"],
        Ct::PasswordAgain => ["Password again", "再次输入密码"],
        Ct::SignIn => ["Sign in", "登录"],
        Ct::SigningIn => ["Signing in…", "正在登录…"],
        Ct::SignOut => ["Sign out", "退出登录"],
        Ct::CreateAccount => ["Create account", "创建账号"],
        Ct::WrongNameOrPassword => ["Wrong name or password.", "用户名或密码错误。"],
        Ct::PasswordsDiffer => [
            "Password again: the two passwords differ.",
            "再次输入密码：两次输入的密码不一致。",
        ],
        Ct::LinkInvalid => [
            "This link does not work: it was used, it expired (a link lasts 24 hours) or it was never issued. Ask a coordinator for a new one.",
            "此链接无效：已被使用、已过期（有效期 24 小时）或从未签发。请向协调员索取新链接。",
        ],
        Ct::SessionEnded => [
            "Your session ended (unused for a while, or signed out elsewhere): reload and sign in again.",
            "会话已结束（长时间未操作，或已在别处退出登录）：请重新加载页面并再次登录。",
        ],
        Ct::NameTaken => [
            "Name: another account has this name; choose another.",
            "用户名：已有账号使用此用户名，请另选。",
        ],
        Ct::Offline => [
            "The server cannot be reached. The console works only online.",
            "无法连接服务器。控制台仅可在线使用。",
        ],
        Ct::SignedInAs => ["Signed in as", "当前登录"],
        Ct::NewAccountTitle => ["New console account", "新建控制台账号"],
        Ct::NewAccountHelp => [
            "Make a one-time link and give it to the person in person or by a channel only they read. They choose their own name and password.",
            "生成一次性链接，当面或通过仅本人可见的渠道交给对方，由其自行设置用户名和密码。",
        ],
        Ct::Role => ["Role", "角色"],
        Ct::MakeLink => ["Make link", "生成链接"],
        Ct::LinkMade => [
            "One-time link (shown only now):",
            "一次性链接（仅显示这一次）：",
        ],
        Ct::LinkExpires => ["Works once, until", "仅可使用一次，有效期至"],
        Ct::AuditTitle => ["Console audit trail", "控制台稽查轨迹"],
        Ct::AuditEmpty => ["Nothing recorded yet.", "尚无记录。"],
        Ct::When => ["When", "时间"],
        Ct::Who => ["Who", "操作人"],
        Ct::What => ["What", "操作"],
        Ct::Detail => ["Detail", "详情"],
        Ct::FromWhere => ["From", "来源地址"],
        Ct::NotYours => [
            "Managing accounts, users and tablets is the coordinator's.",
            "账号、用户和平板由协调员管理。",
        ],
        Ct::SitesTitle => ["Site", "研究中心"],
        Ct::UsersTitle => ["Users of the tablets", "平板用户"],
        Ct::TabletsTitle => ["Tablets", "平板"],
        Ct::AddUser => ["Add user", "添加用户"],
        Ct::NewPinButton => ["New PIN", "重置 PIN"],
        Ct::Disable => ["Disable", "停用"],
        Ct::Disabled => ["Disabled", "已停用"],
        Ct::Active => ["Active", "在用"],
        Ct::PinShownOnce => [
            "Shown only now: hand it over in person. The tablets take it at their next sync.",
            "仅显示这一次，请当面交给本人。平板将在下次同步时更新。",
        ],
        Ct::Revoke => ["Revoke", "吊销"],
        Ct::Revoked => ["Revoked", "已吊销"],
        Ct::NewCode => ["New enrolment code", "生成注册码"],
        Ct::CodeHelp => [
            "For one tablet, valid 24 hours: type it on the tablet, or open the QR code with the tablet's camera.",
            "仅限一台平板使用，24 小时内有效：在平板上输入，或用平板相机扫描二维码。",
        ],
        Ct::ConfirmDisable => [
            "Disable this user? They can no longer sign in on any tablet once it syncs. Their records stay.",
            "确定停用该用户？平板同步后其将无法登录，已录入的记录保留。",
        ],
        Ct::ConfirmRevoke => [
            "Revoke this tablet? It can no longer sync; what it has not synced stays on it until a backup is imported.",
            "确定吊销该平板？其将无法再同步；尚未同步的记录保留在平板上，需通过导入备份上传。",
        ],
        Ct::Enrolled => ["Enrolled", "注册时间"],
        Ct::LastSync => ["Last sync", "最近同步"],
        Ct::ClockOffset => ["Clock offset", "时钟偏差"],
        Ct::Pending => ["Not synced (as last reported)", "未同步记录（按最近上报）"],
        Ct::ClockInStep => ["in step", "一致"],
        Ct::NotReported => ["not reported", "未上报"],
        Ct::AppVersion => ["App version", "应用版本"],
        Ct::Status => ["Status", "状态"],
        Ct::Never => ["never", "从未"],
        Ct::Actions => ["Actions", "操作"],
        Ct::NoTablets => ["No tablet has enrolled yet.", "尚无平板注册。"],
        Ct::QrAlt => ["QR code of the enrolment code", "注册码二维码"],
        Ct::ConsortTitle => ["CONSORT flow", "CONSORT 流程图"],
        Ct::BalanceTitle => ["Arm balance per stratum", "各分层组间平衡"],
        Ct::BalanceTablet => ["Stratum (randomising tablet)", "分层（随机分组平板）"],
        Ct::NoneRandomised => ["No participant is randomised yet.", "尚无受试者随机分组。"],
        Ct::OverdueTitle => ["Overdue cytokine samples", "已超窗未采的细胞因子样本"],
        Ct::NoneOverdue => ["No sample is overdue.", "无已超窗样本。"],
        Ct::WindowClosed => ["Window closed", "采样时间窗结束"],
        Ct::DownloadSvg => ["Download the diagram (SVG)", "下载流程图（SVG）"],
        Ct::Stage => ["Stage", "阶段"],
        Ct::Count => ["Participants", "例数"],
        Ct::Assessed => ["Assessed for eligibility", "评估是否符合标准"],
        Ct::Excluded => ["Not randomised", "未随机分组"],
        Ct::Randomised => ["Randomised", "随机分组"],
        Ct::ArmUnknown => ["arm not settled (flagged)", "分组未确定（已标记）"],
        Ct::ArmHemoperfusion => ["Hemoperfusion", "血液灌流组"],
        Ct::ArmStandardCare => ["Standard care", "标准治疗组"],
        Ct::Allocated => ["Allocated", "分配至该组"],
        Ct::ReceivedAllocated => ["Received the allocated intervention", "接受所分配的干预"],
        Ct::Withdrawn => ["Withdrawn", "退出研究"],
        Ct::Lost => ["Lost to follow-up", "失访"],
        Ct::Analysed => ["Analysed for the primary outcome", "主要结局分析例数"],
        Ct::ExportsTitle => ["Exports", "数据导出"],
        Ct::ExportsHelp => [
            "Each download is written from the server's data at that moment, recorded under your name, and arrives as one zip file.",
            "每次下载均按服务器当时的数据生成，并以您的名义记录，以一个 zip 文件下载。",
        ],
        Ct::DownloadZip => ["Download (zip)", "下载（zip）"],
        Ct::ExportsMade => ["Exports made", "导出记录"],
        Ct::NoExports => ["No export yet.", "尚无导出记录。"],
        Ct::Files => ["Files", "文件"],
        Ct::Events => ["Events", "事件数"],
        Ct::CommandLine => ["command line", "命令行"],
        Ct::QueriesTitle => ["Data queries", "数据质疑"],
        Ct::QueriesHelp => [
            "Two tablets changed the same field without seeing each other's value: the later value shows. Check which is right, then keep it or take the other, giving the reason. The correction reaches the tablets at their next sync.",
            "两台平板在互不知情的情况下修改了同一字段，当前显示较晚录入的值。请核实哪个值正确，选择保留或采用另一个值，并填写原因。更正将在平板下次同步时送达。",
        ],
        Ct::QueryStatusLabel => ["Show", "显示"],
        Ct::QueriesOpen => ["Open queries", "未解决的质疑"],
        Ct::QueriesClosed => ["Resolved queries", "已解决的质疑"],
        Ct::QueriesAll => ["All queries", "全部质疑"],
        Ct::FilterStudyNumber => ["Study number", "受试者编号"],
        Ct::NoQueries => ["No data query to show.", "无可显示的数据质疑。"],
        Ct::NotRandomisedYet => ["not randomised", "未随机分组"],
        Ct::ScreeningForm => ["Screening", "筛选"],
        Ct::QueryOpenedAt => ["Open since", "发起于"],
        Ct::QueryResolvedAt => ["Resolved", "已解决于"],
        Ct::ShownValue => ["Shows now (later)", "当前显示（较晚录入）"],
        Ct::OverriddenValue => ["Replaced unseen (earlier)", "被覆盖的值（较早录入）"],
        Ct::QueryThread => ["Comments", "讨论记录"],
        Ct::CommentLabel => ["Your comment", "您的意见"],
        Ct::AddComment => ["Add comment", "添加意见"],
        Ct::CommentBlank => ["Comment: write the comment first.", "意见：请先填写内容。"],
        Ct::CommentTooLong => ["Comment: too long.", "意见：内容过长。"],
        Ct::ResolutionReason => ["Reason for the resolution (required)", "解决原因（必填）"],
        Ct::KeepShown => ["Keep the value shown", "保留当前显示的值"],
        Ct::TakeOverridden => ["Take the replaced value", "采用被覆盖的值"],
        Ct::ScreeningQueryHelp => [
            "A query about the screening is resolved by screening again on the tablet that screened the patient.",
            "筛选表的质疑须在完成筛选的平板上重新筛选后解决。",
        ],
        Ct::Failed => [
            "The server could not do this; try again. If it keeps failing, tell the trial's IT contact:",
            "服务器未能完成此操作，请重试。如持续失败，请联系试验的 IT 负责人：",
        ],
        Ct::AuditSectionTitle => ["Allocation audit", "随机分组核查"],
        Ct::AuditSectionHelp => [
            "Every randomisation recorded, as the server verified it against the allocation table, and every flag it raised. Arms are shown only for randomisations already made; no slot not yet used is ever shown.",
            "列出已记录的全部随机分组及服务器依据随机分配表的核查结果，以及核查发现的全部问题。仅显示已随机分组者的组别，任何尚未使用的随机号均不显示。",
        ],
        Ct::RandomisationsTitle => ["Randomisations", "随机分组记录"],
        Ct::NoRandomisations => ["No randomisation recorded yet.", "尚无随机分组记录。"],
        Ct::StudyNumber => ["Study number", "受试者编号"],
        Ct::Tablet => ["Tablet", "平板"],
        Ct::LeaseSlot => ["Lease · slot", "分配批次 · 随机号"],
        Ct::ArmColumn => ["Arm", "组别"],
        Ct::RecordedUtc => ["Recorded (UTC)", "记录时间（UTC）"],
        Ct::RecordedLocal => ["Recorded (site time)", "记录时间（中心当地时间）"],
        Ct::Verification => ["Verification", "核查结果"],
        Ct::VerifiedOk => ["Verified", "核查无误"],
        Ct::LeaseNotIssued => ["not issued by the server", "非服务器发放"],
        Ct::FlagsTitle => ["Flags", "核查问题"],
        Ct::NoFlags => ["No flag raised.", "未发现问题。"],
        Ct::Flag => ["Flag", "问题"],
        Ct::Raised => ["Raised", "发现时间"],
        Ct::FlagOpen => ["Open", "待处理"],
        Ct::FlagResolved => ["Resolved", "已处理"],
        Ct::ResolutionNoteLabel => ["Resolution note (required)", "处理说明（必填）"],
        Ct::ResolveButton => ["Resolve", "确认处理"],
        Ct::NoteRequired => [
            "Write a note saying why the flag is resolved.",
            "请填写处理说明。",
        ],
        Ct::NoteTooLong => [
            "The note is too long: at most 2,000 characters.",
            "处理说明过长，最多 2000 字。",
        ],
        Ct::AlreadyResolvedText => [
            "Someone resolved this flag meanwhile; the list is read again.",
            "该问题已由他人处理，列表已刷新。",
        ],
        Ct::ResolvedByOn => ["by", "处理人："],
        Ct::StockTitle => ["Lease stock per tablet", "各平板随机号库存"],
        Ct::NoStock => ["No tablet enrolled yet.", "尚无已注册的平板。"],
        Ct::Issued => ["Slots issued", "已发放随机号"],
        Ct::Used => ["Slots used", "已使用随机号"],
        Ct::Left => ["Slots left", "剩余随机号"],
        Ct::CasebooksTitle => ["Casebooks and sign-off", "病例报告表与研究者签名"],
        Ct::CasebooksHelp => [
            "Review a participant's whole casebook. The investigator signs it with their password; a signed casebook is locked until the coordinator unlocks it with a reason, and then it needs a new signature.",
            "审阅受试者的全部病例报告表。研究者输入密码进行电子签名；签名后病例报告表即锁定，须由协调员填写原因后解锁，解锁后须重新签名。",
        ],
        Ct::CasebookOpen => ["Not signed", "未签名"],
        Ct::CasebookSigned => ["Signed and locked", "已签名，已锁定"],
        Ct::CasebookChanged => [
            "Changed after signing: to be signed again",
            "签名后有新记录，须重新签名",
        ],
        Ct::CasebookForms => ["Forms", "病例报告表内容"],
        Ct::CasebookRecords => ["Every record", "全部记录"],
        Ct::SignedBy => ["Signed by", "签名人"],
        Ct::SignTitle => ["Electronic signature", "电子签名"],
        Ct::SignPassword => ["Your password, again", "请再次输入您的密码"],
        Ct::SignButton => ["Sign the casebook", "签名"],
        Ct::WrongPasswordAgain => ["Wrong password: nothing was signed.", "密码错误，未签名。"],
        Ct::CasebookConflict => [
            "The casebook changed or is signed already: open it again.",
            "病例报告表已变更或已签名，请重新打开。",
        ],
        Ct::UnlockTitle => ["Unlock for a correction", "解锁以便更正"],
        Ct::UnlockReason => ["Reason for unlocking", "解锁原因"],
        Ct::UnlockButton => ["Unlock", "解锁"],
        Ct::UnlockReasonBlank => ["Give the reason for unlocking.", "请填写解锁原因。"],
        Ct::UnlockReasonTooLong => ["The reason is too long", "解锁原因过长"],
    }
}

/// `text` in `lang`.
pub fn ct(lang: Lang, text_of: Ct) -> &'static str {
    let [en, zh] = text(text_of);
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// A role's name in `lang`.
pub fn role_name(lang: Lang, role: ConsoleRole) -> &'static str {
    let [en, zh] = match role {
        ConsoleRole::Coordinator => ["Coordinator", "协调员"],
        ConsoleRole::Investigator => ["Investigator", "研究者"],
        ConsoleRole::Statistician => ["Statistician", "统计师"],
    };
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// A bedside role's name in `lang`.
pub fn bedside_role_name(lang: Lang, role: Role) -> &'static str {
    let [en, zh] = match role {
        Role::Investigator => ["Investigator", "研究者"],
        Role::ResearchNurse => ["Research nurse", "研究护士"],
        Role::Coordinator => ["Coordinator", "协调员"],
        Role::Other => ["Other", "其他"],
    };
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// What an audit entry records, in `lang`.
pub fn event_name(lang: Lang, event: ConsoleEvent) -> &'static str {
    let [en, zh] = match event {
        ConsoleEvent::AccountCreated => ["Account created", "创建账号"],
        ConsoleEvent::SignedIn => ["Signed in", "登录"],
        ConsoleEvent::SignInFailed => ["Sign-in failed", "登录失败"],
        ConsoleEvent::SignInDelayed => ["Sign-in refused: waiting", "登录被拒：等待中"],
        ConsoleEvent::SignedOut => ["Signed out", "退出登录"],
        ConsoleEvent::InvitationCreated => ["Link made", "生成链接"],
        ConsoleEvent::UserCreated => ["User added", "添加用户"],
        ConsoleEvent::PinReset => ["PIN reset", "重置 PIN"],
        ConsoleEvent::UserDisabled => ["User disabled", "停用用户"],
        ConsoleEvent::EnrolmentCodeIssued => ["Enrolment code made", "生成注册码"],
        ConsoleEvent::DeviceRevoked => ["Tablet revoked", "吊销平板"],
        ConsoleEvent::ExportDownloaded => ["Export downloaded", "下载导出数据"],
        ConsoleEvent::QueryCommented => ["Data query commented", "数据质疑添加意见"],
        ConsoleEvent::QueryResolved => ["Data query resolved", "数据质疑已解决"],
        ConsoleEvent::FlagResolved => ["Allocation flag resolved", "处理随机分组核查问题"],
        ConsoleEvent::BackupImported => ["Backup imported", "导入备份"],
        ConsoleEvent::CasebookSigned => ["Casebook signed", "研究者签名"],
        ConsoleEvent::CasebookUnlocked => ["Casebook unlocked", "病例报告表解锁"],
        ConsoleEvent::SignatureRefused => [
            "Signature refused: wrong password",
            "电子签名失败：密码错误",
        ],
    };
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// An export format's name and what its zip holds, in `lang`.
pub fn format_text(lang: Lang, format: Format) -> [&'static str; 2] {
    let [en, zh] = match format {
        Format::Csv => [
            [
                "CSV tables",
                "The data dictionary (form, field, type, unit, allowed range, choices, CRF version) and one table per form, with the IL-6 change from T0, the audit trail, the allocation report and the CONSORT counts. UTF-8; times in UTC and in the site's local time.",
            ],
            [
                "CSV 数据表",
                "数据字典（表单、字段、类型、单位、允许范围、选项、CRF 版本）及每个表单一个数据表，另含 IL-6 较 0 h 的变化、稽查轨迹、随机分组报告和 CONSORT 例数。UTF-8 编码；时间同时以 UTC 和研究中心当地时间表示。",
            ],
        ],
        Format::Odm => [
            [
                "CDISC ODM 1.3.2",
                "One transactional ODM file: the CRF's metadata for each version in use, the users and sites, and every value with its audit record.",
            ],
            [
                "CDISC ODM 1.3.2",
                "一个事务型 ODM 文件：所用各 CRF 版本的元数据、用户和研究中心，以及每个数值及其稽查记录。",
            ],
        ],
        Format::All => [
            ["CSV and ODM", "Both of the above, in one zip file."],
            ["CSV 与 ODM", "以上两项，合为一个 zip 文件。"],
        ],
        Format::Identification => [
            [
                "Site identification log",
                "Which patient each screening and study number stands for, by initials and bed: for the site's own file, never for analysis. Coordinators only.",
            ],
            [
                "受试者鉴认代码表",
                "各筛选号和受试者编号对应的患者姓名缩写及床号：仅供研究中心存档，不得用于分析。仅协调员可下载。",
            ],
        ],
    };
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// The password rule, in `lang`, from the core's numbers.
pub fn password_rule(lang: Lang) -> String {
    match lang {
        Lang::En => format!(
            "At least {MIN_PASSWORD_CHARS} characters; a phrase is easier to remember than \
             symbols. It must not contain your name."
        ),
        Lang::Zh => format!("至少 {MIN_PASSWORD_CHARS} 个字符，可使用易记的短语；不得包含用户名。"),
    }
}

/// Why a name or password was refused, naming the field and the rule.
pub fn account_error(lang: Lang, error: AccountError) -> String {
    match (lang, error) {
        (Lang::En, AccountError::PasswordTooShort) => {
            format!("Password: at least {MIN_PASSWORD_CHARS} characters.")
        }
        (Lang::Zh, AccountError::PasswordTooShort) => {
            format!("密码：至少 {MIN_PASSWORD_CHARS} 个字符。")
        }
        (Lang::En, AccountError::PasswordTooLong) => {
            format!("Password: at most {MAX_PASSWORD_CHARS} characters.")
        }
        (Lang::Zh, AccountError::PasswordTooLong) => {
            format!("密码：最多 {MAX_PASSWORD_CHARS} 个字符。")
        }
        (Lang::En, AccountError::PasswordHasName) => {
            "Password: must not contain your name.".to_owned()
        }
        (Lang::Zh, AccountError::PasswordHasName) => "密码：不得包含用户名。".to_owned(),
        (Lang::En, AccountError::NameLength) => {
            format!("Name: 1 to {MAX_ACCOUNT_NAME_CHARS} characters.")
        }
        (Lang::Zh, AccountError::NameLength) => {
            format!("用户名：1～{MAX_ACCOUNT_NAME_CHARS} 个字符。")
        }
    }
}

/// "Wait N s" after too many wrong passwords, in `lang`.
pub fn wait_message(lang: Lang, seconds: u64) -> String {
    match lang {
        Lang::En => format!(
            "Too many wrong passwords in a row for this account: wait {seconds} s, then try again."
        ),
        Lang::Zh => format!("该账号连续输错密码次数过多：请等待 {seconds} 秒后重试。"),
    }
}

/// A CONSORT row's stage, arm and reason as a reader names them, in `lang`.
pub fn consort_label(lang: Lang, row: &trial::export::ConsortRow) -> String {
    let stage = match row.stage.as_str() {
        "assessed_for_eligibility" => ct(lang, Ct::Assessed),
        "excluded" => ct(lang, Ct::Excluded),
        "not_eligible_by_criterion" => "",
        "randomised" => ct(lang, Ct::Randomised),
        "allocated" if row.reason == "arm_unknown" => ct(lang, Ct::ArmUnknown),
        "allocated" => ct(lang, Ct::Allocated),
        "received_allocated_intervention" => ct(lang, Ct::ReceivedAllocated),
        "withdrawn" => ct(lang, Ct::Withdrawn),
        "lost_to_follow_up" => ct(lang, Ct::Lost),
        "analysed_primary_outcome" => ct(lang, Ct::Analysed),
        other => other,
    };
    let arm = match row.arm.as_str() {
        "hemoperfusion" => ct(lang, Ct::ArmHemoperfusion),
        "standard_care" => ct(lang, Ct::ArmStandardCare),
        _ => "",
    };
    let reason = exclusion_label(lang, &row.reason);
    [stage, arm, reason.as_str()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Why a screened patient was not randomised, or the criterion they failed.
pub fn exclusion_label(lang: Lang, key: &str) -> String {
    let pair = match key {
        "" | "arm_unknown" => return String::new(),
        "not_eligible" => ["not eligible", "不符合标准"],
        "screening_incomplete" => ["screening incomplete", "筛选未完成"],
        "not_enrolled_ineligible" => ["not enrolled: not eligible", "未入组：不符合标准"],
        "not_enrolled_consent_refused" => [
            "not enrolled: consent refused",
            "未入组：拒绝签署知情同意书",
        ],
        "not_enrolled_missed_window" => [
            "not enrolled: past the 24-hour window",
            "未入组：已超出随机时间窗",
        ],
        "not_enrolled_other" => ["not enrolled: other reason", "未入组：其他原因"],
        "awaiting_randomisation" => ["eligible, awaiting randomisation", "符合标准，待随机分组"],
        code => {
            // A criterion's code: I1–I5, E1–E5, written 入选 n / 排除 n in Chinese.
            return match (lang, code.split_at_checked(1)) {
                (Lang::Zh, Some(("I", number))) => format!("入选 {number}"),
                (Lang::Zh, Some(("E", number))) => format!("排除 {number}"),
                (Lang::Zh, _) => code.to_owned(),
                (Lang::En, _) => format!("fails {code}"),
            };
        }
    };
    match lang {
        Lang::En => pair[0].to_owned(),
        Lang::Zh => pair[1].to_owned(),
    }
}

/// An allocation flag's code (`trial::allocation::AllocationFlag::code`) as a
/// coordinator names it, in `lang`; the server's message beside it gives the
/// details. A code this build does not know is shown as it is.
pub fn flag_name(lang: Lang, code: &str) -> String {
    let pair = match code {
        "unknown_lease" => ["Lease not issued by the server", "分配批次非服务器发放"],
        "lease_of_another_device" => ["Another tablet's lease", "使用了其他平板的分配批次"],
        "lease_out_of_order" => ["Leases used out of order", "未按顺序使用分配批次"],
        "slot_beyond_lease" => ["Slot beyond the lease", "随机号超出分配批次范围"],
        "slot_reused" => ["Slot reused", "随机号重复使用"],
        "slot_skipped" => ["Slots skipped", "跳号使用随机号"],
        "slot_out_of_order" => ["Slot used out of order", "未按顺序使用随机号"],
        "arm_mismatch" => [
            "Arm does not match the allocation table",
            "组别与随机分配表不符",
        ],
        "randomised_at_mismatch" => [
            "Randomisation time does not match",
            "随机分组时间与记录时间不符",
        ],
        "study_number_of_another_tablet" => {
            ["Another tablet's study number", "受试者编号不属于该平板"]
        }
        "duplicate_study_number" => ["Study number given twice", "受试者编号重复"],
        "already_randomised" => ["Participant randomised twice", "受试者重复随机分组"],
        "not_eligible" => [
            "Not eligible on the server's re-check",
            "服务器复核不符合入组标准",
        ],
        "no_consent" => ["No consent recorded before", "随机分组前无知情同意记录"],
        "screened_on_another_device" => ["Screened first on another tablet", "首次筛选在其他平板"],
        "not_enrolled" => [
            "Recorded as not enrolled before",
            "随机分组前已记录为未入组",
        ],
        "unreadable_randomisation" => ["Randomisation cannot be read", "随机分组记录无法读取"],
        "unknown_user" => ["Recorded by a user who may not", "记录人无权限"],
        "participant_of_another_site" => ["Participant of another site", "受试者属于其他中心"],
        other => return other.to_owned(),
    };
    match lang {
        Lang::En => pair[0].to_owned(),
        Lang::Zh => pair[1].to_owned(),
    }
}
