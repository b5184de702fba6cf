//! The coordinator console's rules (DESIGN.md, "Coordinator console"): who may do
//! what, what a password must be, how long a session lives and how sign-in slows
//! a guesser down. The server enforces them on every request and the console
//! shows them (a button a role may not use is not offered), so both read them
//! here.
//!
//! The console is online only and its accounts are the server's, apart from the
//! tablets' users and their PINs (`wire::Role`): a console password never reaches
//! a tablet, and a lost tablet gives away no console account.
//!
//! Also here: the JSON of the console's API (`/api/console/…`). Unlike the sync
//! API's, no tablet in the field speaks it, only the console the same server
//! serves, so it follows the server's version; requests are strict all the same.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crf::cytokine::SampleDue;
use crate::export::Format;
use crate::projection::Participant;
use crate::time::Moment;

/// What a console account is for; the role decides every action it may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsoleRole {
    /// Runs the trial: users, devices, queries, allocation flags, exports, unlocking
    /// a signed casebook.
    Coordinator,
    /// The site's investigator: reviews casebooks, answers data queries and signs
    /// casebooks off.
    Investigator,
    /// Analyses the data: exports and reports, and nothing that changes data.
    Statistician,
}

/// Something a console account may be allowed to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConsoleAction {
    /// Read the dashboard: enrolment, balance, the CONSORT flow, devices.
    ReadDashboard,
    /// Download an export (CSV, ODM, audit trail, reports).
    Export,
    /// Download the site identification log: which patient, by initials and
    /// bed, each screening and study number stands for.
    ExportIdentificationLog,
    /// Read a participant's casebook and its history.
    ReviewCasebook,
    /// Answer or resolve a data query.
    ResolveQuery,
    /// Resolve an allocation flag, with a note.
    ResolveFlag,
    /// Read the allocation audit: every randomisation with its verification,
    /// every flag, each tablet's lease stock (`crate::audit`).
    ReadAllocationAudit,
    /// Sign a casebook as the investigator (21 CFR 11.50).
    SignCasebook,
    /// Unlock a signed casebook for a correction, with a reason.
    UnlockCasebook,
    /// Create console accounts (one-time links) and disable them; read the
    /// console's audit trail.
    ManageAccounts,
    /// Create, disable and re-PIN the tablets' users; enrol and revoke tablets.
    ManageSite,
    /// Import a tablet's backup file, sending the server what it lacks
    /// (`crate::backup`): the coordinator's, who answers for the site's tablets
    /// and their records.
    ImportBackup,
}

impl ConsoleRole {
    /// Every role, in the order the console lists them.
    pub const ALL: [Self; 3] = [Self::Coordinator, Self::Investigator, Self::Statistician];

    /// Whether this role may take `action`: the one table the server enforces and
    /// the console's screens follow.
    ///
    /// Signing is the investigator's alone: a signature states that the
    /// investigator reviewed the casebook, which no one else can state for them.
    /// The statistician changes nothing.
    ///
    /// The site identification log is the coordinator's alone. It is the one file
    /// that names patients (initials and bed beside the study number), and good
    /// clinical practice keeps it at the site, apart from the data: the
    /// statistician analyses pseudonymised tables and must never be able to undo
    /// the pseudonyms, and the investigator reviews casebooks in the console and
    /// has no use for a file to carry away. The coordinator keeps the site file
    /// (and already manages the people and tablets the log's numbers come from),
    /// so one role holds it, each download in the console's audit trail.
    ///
    /// The allocation audit is read by the coordinator and the investigator, who
    /// answer for the randomisation at their site and must see what went wrong
    /// with it; the statistician stays out of it, as the arms of single
    /// randomisations beside their tablets and times are the trial's operation,
    /// not its analysis (the allocation report in the export serves that).
    /// Resolving a flag is the coordinator's alone: the investigator is often
    /// the one who randomised at the bedside, and a flag is a deviation that
    /// someone other than its author must accept, as a data manager closes a
    /// query the site answered.
    pub fn may(self, action: ConsoleAction) -> bool {
        use ConsoleAction as A;
        match self {
            Self::Coordinator => !matches!(action, A::SignCasebook),
            Self::Investigator => matches!(
                action,
                A::ReadDashboard
                    | A::ReviewCasebook
                    | A::ResolveQuery
                    | A::SignCasebook
                    | A::ReadAllocationAudit
            ),
            Self::Statistician => matches!(action, A::ReadDashboard | A::Export),
        }
    }

    /// The role's name on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Coordinator => "coordinator",
            Self::Investigator => "investigator",
            Self::Statistician => "statistician",
        }
    }

    /// The role a stored name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == name)
    }
}

impl ConsoleAction {
    /// What downloading an export of `format` is: the identification log names
    /// patients, so it is an action of its own ([`ConsoleRole::may`] says why).
    pub fn export(format: Format) -> Self {
        match format {
            Format::Identification => Self::ExportIdentificationLog,
            Format::Csv | Format::Odm | Format::All => Self::Export,
        }
    }
}

impl fmt::Display for ConsoleRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fewest characters of a console password. Long rather than complex
/// (NIST SP 800-63B): a phrase a coordinator can type is better than a short
/// word with symbols.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The most characters of a console password: enough for any passphrase, short
/// of making each hash a denial of service.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// The most characters of a console account's name.
pub const MAX_ACCOUNT_NAME_CHARS: usize = 64;

/// A console password that meets the rule, as typed (never trimmed: every
/// character counts).
///
/// `Debug` prints `Password(<concealed>)` and there is no `Display`, so a
/// password never lands in a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// Why a password or an account name was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountError {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    PasswordTooShort,
    /// More than [`MAX_PASSWORD_CHARS`] characters.
    PasswordTooLong,
    /// The password contains the account's name, the first thing a guesser tries.
    PasswordHasName,
    /// A name empty or over [`MAX_ACCOUNT_NAME_CHARS`] characters once trimmed.
    NameLength,
}

impl Password {
    /// A password for the account `name`, checked against the rule.
    pub fn new(text: &str, name: &str) -> Result<Self, AccountError> {
        let length = text.chars().count();
        if length < MIN_PASSWORD_CHARS {
            return Err(AccountError::PasswordTooShort);
        }
        if length > MAX_PASSWORD_CHARS {
            return Err(AccountError::PasswordTooLong);
        }
        let name = name.trim().to_lowercase();
        if !name.is_empty() && text.to_lowercase().contains(&name) {
            return Err(AccountError::PasswordHasName);
        }
        Ok(Self(text.to_owned()))
    }

    /// The password's bytes, for the hash.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<concealed>)")
    }
}

/// A console account's name as people read it: trimmed, 1 to
/// [`MAX_ACCOUNT_NAME_CHARS`] characters.
pub fn account_name(text: &str) -> Result<&str, AccountError> {
    let name = text.trim();
    let length = name.chars().count();
    if length == 0 || length > MAX_ACCOUNT_NAME_CHARS {
        return Err(AccountError::NameLength);
    }
    Ok(name)
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PasswordTooShort => {
                write!(f, "at least {MIN_PASSWORD_CHARS} characters")
            }
            Self::PasswordTooLong => write!(f, "at most {MAX_PASSWORD_CHARS} characters"),
            Self::PasswordHasName => f.write_str("must not contain the account's name"),
            Self::NameLength => write!(f, "1 to {MAX_ACCOUNT_NAME_CHARS} characters"),
        }
    }
}

/// Failed sign-ins in a row that impose no wait: a mistyped password or two, and
/// a caps-lock key.
pub const FREE_SIGN_IN_FAILURES: u32 = 3;

/// The wait after the first failure past [`FREE_SIGN_IN_FAILURES`]; each further
/// failure doubles it, up to [`MAX_SIGN_IN_WAIT_MS`].
pub const FIRST_SIGN_IN_WAIT_MS: i64 = 2_000;

/// The longest wait: a quarter of an hour stops a guesser without locking a
/// coordinator out of the trial for a day.
pub const MAX_SIGN_IN_WAIT_MS: i64 = 15 * 60_000;

/// How long an account must wait before its next password is even checked, after
/// `failures` failed sign-ins in a row: none for the first
/// [`FREE_SIGN_IN_FAILURES`], then a growing delay.
pub fn sign_in_wait_ms(failures: u32) -> Option<i64> {
    let doublings = failures.checked_sub(FREE_SIGN_IN_FAILURES + 1)?;
    // Twenty doublings are far past the cap, and nowhere near overflowing.
    Some((FIRST_SIGN_IN_WAIT_MS << doublings.min(20)).min(MAX_SIGN_IN_WAIT_MS))
}

/// A session ends after this long without a request: a console left open on a
/// shared desk does not stay signed in.
pub const SESSION_IDLE_MS: i64 = 30 * 60_000;

/// A session ends this long after sign-in, however busy: a working day.
pub const SESSION_MAX_MS: i64 = 12 * 60 * 60_000;

/// When a session that began at `signed_in_ms` and was last used at
/// `last_used_ms` ends.
pub fn session_ends_ms(signed_in_ms: i64, last_used_ms: i64) -> i64 {
    (signed_in_ms + SESSION_MAX_MS).min(last_used_ms + SESSION_IDLE_MS)
}

/// How long a one-time link to set an account's password stays valid: a day, as
/// an enrolment code.
pub const INVITATION_TTL_MS: i64 = 24 * 60 * 60_000;

/// `POST /api/console/setup`: the holder of a one-time link names the account
/// and sets its password; the link's role becomes the account's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// The token of the one-time link (the part after `#`).
    pub token: String,
    /// The new account's name, unique on this server.
    pub name: String,
    /// The new password: [`MIN_PASSWORD_CHARS`] to [`MAX_PASSWORD_CHARS`]
    /// characters, not containing the name.
    pub password: String,
}

/// `POST /api/console/sign-in`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// The account's name.
    pub name: String,
    /// Its password.
    pub password: String,
}

/// The account a session is signed in as, and when the session ends unless used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionResponse {
    /// The account.
    pub account: Account,
    /// When the session ends if no request comes before, in UTC milliseconds.
    pub ends_at_ms: i64,
}

/// `POST /api/console/sign-out`: the session ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedOut {
    /// When, in UTC milliseconds.
    pub ended_at_ms: i64,
}

/// A console account as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: ConsoleRole,
}

/// `POST /api/console/invitations`: a one-time link for a new account of `role`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    /// The new account's role.
    pub role: ConsoleRole,
}

/// A one-time link, shown once to the coordinator who made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationResponse {
    /// The path to open on this server, the token after `#` (a fragment never
    /// reaches a server's or a proxy's log).
    pub path: String,
    /// The role the account gets.
    pub role: ConsoleRole,
    /// When the link stops working, in UTC milliseconds.
    pub expires_at_ms: i64,
}

/// `GET /api/console/sites`: every site with its tablets' users and its tablets,
/// for the coordinator's "users and devices" page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SitesResponse {
    /// By code.
    pub sites: Vec<SiteOverview>,
}

/// One site as the coordinator manages it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteOverview {
    /// Its code ("BJ").
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its users, disabled ones included, by name. Never a PIN hash.
    pub users: Vec<SiteUser>,
    /// Its tablets, revoked ones included, by label.
    pub tablets: Vec<SiteTablet>,
}

/// A user of a site's tablets, as the console shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteUser {
    /// The id every event they record names.
    pub id: Uuid,
    /// The name on the tablets' sign-in screen.
    pub name: String,
    /// What they may do at the bedside.
    pub role: crate::wire::Role,
    /// When a coordinator disabled them, if one did, in UTC milliseconds.
    pub disabled_at_ms: Option<i64>,
}

/// A tablet of a site, as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteTablet {
    /// Its label ("T1").
    pub label: String,
    /// When it enrolled, in UTC milliseconds.
    pub enrolled_at_ms: i64,
    /// When it last pushed events, if ever.
    pub last_push_at_ms: Option<i64>,
    /// Its app's version at enrolment.
    pub app_version: String,
    /// When a coordinator revoked it, if one did.
    pub revoked_at_ms: Option<i64>,
    /// Slots of its leases it may still use (the allocation audit's stock).
    pub slots_left: u32,
    /// What it said of itself at its last sync, if it ever reported.
    pub last_report: Option<DeviceReport>,
}

/// A tablet's last [`crate::wire::StatusReport`] as the coordinator reads it:
/// when it last made contact, how far its clock was off and how many of its
/// records the server still lacked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceReport {
    /// When the server received it, on the server's clock, in UTC milliseconds.
    pub reported_at_ms: i64,
    /// The tablet's clock minus the server's at that moment: positive when the
    /// tablet is ahead.
    pub clock_offset_ms: i64,
    /// The tablet's records the server does not hold: those it reported, less
    /// those stored since (a push or an imported backup).
    pub pending_events: u64,
    /// The app's version it ran.
    pub app_version: String,
}

impl DeviceReport {
    /// The report of a tablet that sent `report` at `received_at_ms`, the
    /// server now holding its events up to `stored_seq`.
    pub fn new(report: &crate::wire::StatusReport, received_at_ms: i64, stored_seq: u64) -> Self {
        Self {
            reported_at_ms: received_at_ms,
            clock_offset_ms: report.clock_ms.saturating_sub(received_at_ms),
            pending_events: report.head_seq.saturating_sub(stored_seq),
            app_version: report.app_version.clone(),
        }
    }

    /// Whether the tablet's clock was further off than a tablet's clock may be
    /// ([`crate::wire::MAX_CLOCK_OFFSET_MS`]), the limit the tablet itself warns at.
    pub fn clock_is_off(&self) -> bool {
        self.clock_offset_ms.unsigned_abs() > crate::wire::MAX_CLOCK_OFFSET_MS.unsigned_abs()
    }
}

/// `POST /api/console/users`: a new user of a site's tablets. The server makes
/// their first PIN and shows it once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSiteUser {
    /// The site's code.
    pub site: String,
    /// The name on the sign-in screen, unique within the site.
    pub name: String,
    /// investigator or research_nurse: only they sign in at the bedside.
    pub role: crate::wire::Role,
}

/// `POST /api/console/users/pin` and `/users/disable`: one user of a site, by
/// name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SiteUserRef {
    /// The site's code.
    pub site: String,
    /// The user's name.
    pub name: String,
}

/// A PIN the server made for a user, shown once to the coordinator, who hands
/// it over; tablets take it at their next sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPin {
    /// The user.
    pub user: SiteUser,
    /// Six digits.
    pub pin: String,
}

/// `POST /api/console/enrolment-codes`: the site a new tablet is to join.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SiteRef {
    /// The site's code.
    pub site: String,
}

/// `POST /api/console/devices/revoke`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TabletRef {
    /// The site's code.
    pub site: String,
    /// The tablet's label ("T1").
    pub label: String,
}

/// A one-time enrolment code, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewEnrolmentCode {
    /// The code as a person types it ("ABCD-EFGH").
    pub code: String,
    /// When it stops working, in UTC milliseconds.
    pub expires_at_ms: i64,
}

/// `GET /api/console/dashboard`: each site's CONSORT flow, counted as the CSV
/// export counts it (the same rows), so the dashboard and the exports agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DashboardResponse {
    /// By code.
    pub sites: Vec<SiteDashboard>,
    /// When it was counted, in UTC milliseconds: statuses (a window run out) are
    /// read at this moment.
    pub counted_at_ms: i64,
}

/// One site's numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteDashboard {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The rows of `consort.csv`, in its order.
    pub consort: Vec<crate::export::ConsortRow>,
    /// The arm balance of each stratum (a tablet's leases).
    pub balance: Vec<crate::export::StratumBalance>,
    /// The cytokine samples overdue now, by study number and time point.
    pub overdue_samples: Vec<OverdueSample>,
    /// The enrolment per arm, cumulative per day of the site's calendar: its
    /// last point is the CONSORT flow's allocated rows.
    pub enrolment: Vec<crate::export::EnrolmentPoint>,
}

/// A cytokine sample whose window has closed with nothing recorded for it: the
/// primary outcome is the IL-6 change, so the coordinator chases these first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OverdueSample {
    /// The participant's study number.
    pub study_number: String,
    /// The time point, in hours after T0.
    pub hours: i64,
    /// When its window closed, in UTC milliseconds.
    pub window_closed_at_ms: i64,
}

impl OverdueSample {
    /// The samples of `participant` overdue at `now`, earliest first: the ones
    /// the tablet lists as overdue (a randomised participant in follow-up, a
    /// window closed, no sample recorded), so the console and the bedside agree.
    pub fn of(participant: &Participant, now: Moment) -> Vec<Self> {
        let Some(study_number) = participant.study_number() else {
            return Vec::new();
        };
        participant
            .samples_to_take(now)
            .into_iter()
            .filter(|sample| sample.due == SampleDue::Overdue)
            .map(|sample| Self {
                study_number: study_number.to_string(),
                hours: sample.time_point.hours(),
                window_closed_at_ms: sample.window.latest().utc_ms(),
            })
            .collect()
    }
}

/// The query of `GET /api/console/exports/download?site=BJ&format=csv`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// The site's code.
    #[cfg_attr(feature = "openapi", param(example = "BJ"))]
    pub site: String,
    /// Which files: `csv` (the data dictionary and every table), `odm`, `all`
    /// (both) or `identification` (the site identification log alone,
    /// coordinators only).
    pub format: Format,
}

/// Who asked for an export run by `hp-ecmo-server export`, in the place of a
/// console account's name.
pub const COMMAND_LINE: &str = "command line";

/// One export written, as the `exports` table keeps it: who asked for what,
/// when, and how much it held; never a value from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportRecord {
    /// The export's id (UUID v7).
    pub id: Uuid,
    /// The site exported.
    pub site_code: String,
    /// Which files it held.
    pub format: Format,
    /// Who asked for it: a console account's name, or [`COMMAND_LINE`].
    pub requested_by: String,
    /// How many participants it holds.
    pub participants: u64,
    /// How many events it holds.
    pub events: u64,
    /// When it started, in UTC milliseconds: it holds what was stored before.
    pub started_at_ms: i64,
    /// When its last file was written.
    pub finished_at_ms: i64,
}

/// `GET /api/console/exports`: the sites to export, and the exports written,
/// newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportsResponse {
    /// Every site, by code.
    pub sites: Vec<SiteName>,
    /// At most the newest 100, of every site.
    pub exports: Vec<ExportRecord>,
}

/// A site as a list to choose from names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteName {
    /// Its code ("BJ").
    pub code: String,
    /// Its name.
    pub name: String,
}

/// What a console account did, as the console's audit trail records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsoleEvent {
    /// Set up an account from a one-time link.
    AccountCreated,
    /// Signed in.
    SignedIn,
    /// Gave a wrong password (the account named exists).
    SignInFailed,
    /// Tried while the account had to wait after failures.
    SignInDelayed,
    /// Signed out.
    SignedOut,
    /// Made a one-time link for a new account.
    InvitationCreated,
    /// Created a user of a site's tablets.
    UserCreated,
    /// Gave a user of a site's tablets a new PIN.
    PinReset,
    /// Disabled a user of a site's tablets.
    UserDisabled,
    /// Made a one-time enrolment code for a tablet.
    EnrolmentCodeIssued,
    /// Revoked a tablet.
    DeviceRevoked,
    /// Downloaded an export.
    ExportDownloaded,
    /// Commented on a data query.
    QueryCommented,
    /// Resolved a data query with a correction.
    QueryResolved,
    /// Resolved an allocation flag, with a note.
    FlagResolved,
    /// Imported one page of a tablet's backup that held events the server
    /// lacked.
    BackupImported,
    /// Signed a participant's casebook as the investigator.
    CasebookSigned,
    /// Unlocked a signed casebook, with a reason.
    CasebookUnlocked,
    /// Gave a wrong password when signing a casebook: counted as a failed
    /// sign-in.
    SignatureRefused,
}

impl ConsoleEvent {
    /// Every kind, for reading stored names back.
    pub const ALL: [Self; 19] = [
        Self::AccountCreated,
        Self::SignedIn,
        Self::SignInFailed,
        Self::SignInDelayed,
        Self::SignedOut,
        Self::InvitationCreated,
        Self::UserCreated,
        Self::PinReset,
        Self::UserDisabled,
        Self::EnrolmentCodeIssued,
        Self::DeviceRevoked,
        Self::ExportDownloaded,
        Self::QueryCommented,
        Self::QueryResolved,
        Self::FlagResolved,
        Self::BackupImported,
        Self::CasebookSigned,
        Self::CasebookUnlocked,
        Self::SignatureRefused,
    ];

    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountCreated => "account_created",
            Self::SignedIn => "signed_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SignInDelayed => "sign_in_delayed",
            Self::SignedOut => "signed_out",
            Self::InvitationCreated => "invitation_created",
            Self::UserCreated => "user_created",
            Self::PinReset => "pin_reset",
            Self::UserDisabled => "user_disabled",
            Self::EnrolmentCodeIssued => "enrolment_code_issued",
            Self::DeviceRevoked => "device_revoked",
            Self::ExportDownloaded => "export_downloaded",
            Self::QueryCommented => "query_commented",
            Self::QueryResolved => "query_resolved",
            Self::FlagResolved => "flag_resolved",
            Self::BackupImported => "backup_imported",
            Self::CasebookSigned => "casebook_signed",
            Self::CasebookUnlocked => "casebook_unlocked",
            Self::SignatureRefused => "signature_refused",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == name)
    }
}

/// One entry of the console's audit trail: who, what, when, from where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// When, in UTC milliseconds.
    pub at_ms: i64,
    /// The account, when one is known (a failed sign-in names the account tried).
    pub account: Option<String>,
    /// What happened.
    pub event: ConsoleEvent,
    /// What it concerned (the role of a link, the account created), never a
    /// password or a token.
    pub detail: String,
    /// The client's address (IPv4, or the /64 of IPv6).
    pub client: String,
}

/// `GET /api/console/audit`: the newest entries first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditResponse {
    /// At most the newest 500.
    pub entries: Vec<AuditEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_report_counts_what_the_server_still_lacks() {
        let sent = crate::wire::StatusReport {
            clock_ms: 1_000_000 + 301_000,
            head_seq: 40,
            app_version: "0.2.0".to_owned(),
        };
        let report = DeviceReport::new(&sent, 1_000_000, 25);
        assert_eq!(report.clock_offset_ms, 301_000, "the tablet is ahead");
        assert_eq!(report.pending_events, 15);
        assert!(report.clock_is_off(), "five minutes and a second ahead");
        assert_eq!(DeviceReport::new(&sent, 1_000_000, 40).pending_events, 0);
        assert_eq!(
            DeviceReport::new(&sent, 1_000_000, 52).pending_events,
            0,
            "pushed since"
        );
        let behind = |by_ms: i64| {
            let sent = crate::wire::StatusReport {
                clock_ms: 1_000_000 - by_ms,
                ..sent.clone()
            };
            DeviceReport::new(&sent, 1_000_000, 0)
        };
        assert_eq!(behind(300_000).clock_offset_ms, -300_000);
        assert!(
            !behind(300_000).clock_is_off(),
            "five minutes is within the limit"
        );
        assert!(behind(300_001).clock_is_off());
    }

    #[test]
    fn each_role_may_do_what_the_protocol_gives_it() {
        use ConsoleAction as A;
        let all = [
            A::ReadDashboard,
            A::Export,
            A::ExportIdentificationLog,
            A::ReviewCasebook,
            A::ResolveQuery,
            A::ResolveFlag,
            A::ReadAllocationAudit,
            A::SignCasebook,
            A::UnlockCasebook,
            A::ManageAccounts,
            A::ManageSite,
        ];
        let allowed = |role: ConsoleRole| -> Vec<A> {
            all.into_iter().filter(|&action| role.may(action)).collect()
        };
        assert_eq!(
            allowed(ConsoleRole::Coordinator),
            [
                A::ReadDashboard,
                A::Export,
                A::ExportIdentificationLog,
                A::ReviewCasebook,
                A::ResolveQuery,
                A::ResolveFlag,
                A::ReadAllocationAudit,
                A::UnlockCasebook,
                A::ManageAccounts,
                A::ManageSite,
            ]
        );
        assert_eq!(
            allowed(ConsoleRole::Investigator),
            [
                A::ReadDashboard,
                A::ReviewCasebook,
                A::ResolveQuery,
                A::ReadAllocationAudit,
                A::SignCasebook
            ]
        );
        assert_eq!(
            allowed(ConsoleRole::Statistician),
            [A::ReadDashboard, A::Export]
        );
    }

    #[test]
    fn only_the_identification_log_asks_for_more_than_an_export() {
        for format in Format::ALL {
            let action = ConsoleAction::export(format);
            assert_eq!(
                action == ConsoleAction::ExportIdentificationLog,
                format == Format::Identification,
                "{format}"
            );
            assert!(ConsoleRole::Coordinator.may(action), "{format}");
            assert_eq!(
                ConsoleRole::Statistician.may(action),
                format != Format::Identification
            );
            assert!(!ConsoleRole::Investigator.may(action), "{format}");
        }
    }

    #[test]
    fn role_and_event_names_are_the_stored_ones() {
        for role in ConsoleRole::ALL {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
            assert_eq!(ConsoleRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(ConsoleRole::parse("research_nurse"), None);
        for event in ConsoleEvent::ALL {
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(json, format!("\"{}\"", event.as_str()));
            assert_eq!(ConsoleEvent::parse(event.as_str()), Some(event));
        }
    }

    #[test]
    fn a_password_is_long_and_does_not_hold_the_name() {
        assert_eq!(
            Password::new("eleven char", "Li Na").unwrap_err(),
            AccountError::PasswordTooShort
        );
        assert!(Password::new("twelve chars", "Li Na").is_ok());
        // Characters, not bytes: twelve Chinese characters are enough.
        assert!(Password::new("体外膜肺氧合血液灌流试验协调", "Li Na").is_ok());
        assert!(Password::new(&"x".repeat(MAX_PASSWORD_CHARS), "Li Na").is_ok());
        assert_eq!(
            Password::new(&"x".repeat(MAX_PASSWORD_CHARS + 1), "Li Na").unwrap_err(),
            AccountError::PasswordTooLong
        );
        assert_eq!(
            Password::new("my name is LI NA, hello", " Li Na ").unwrap_err(),
            AccountError::PasswordHasName
        );
        assert_eq!(
            format!("{:?}", Password::new("a secret phrase", "x").unwrap()),
            "Password(<concealed>)"
        );
    }

    #[test]
    fn account_names_are_trimmed_and_bounded() {
        assert_eq!(account_name("  Li Na "), Ok("Li Na"));
        assert_eq!(account_name("   "), Err(AccountError::NameLength));
        let longest = "名".repeat(MAX_ACCOUNT_NAME_CHARS);
        assert_eq!(account_name(&longest), Ok(longest.as_str()));
        assert_eq!(
            account_name(&format!("{longest}x")),
            Err(AccountError::NameLength)
        );
    }

    #[test]
    fn sign_in_waits_grow_after_the_free_failures_and_stop_growing() {
        let waits: Vec<Option<i64>> = (0..=7).map(sign_in_wait_ms).collect();
        assert_eq!(
            waits,
            [
                None,
                None,
                None,
                None,
                Some(2_000),
                Some(4_000),
                Some(8_000),
                Some(16_000)
            ]
        );
        assert_eq!(sign_in_wait_ms(13), Some(MAX_SIGN_IN_WAIT_MS));
        assert_eq!(sign_in_wait_ms(u32::MAX), Some(MAX_SIGN_IN_WAIT_MS));
    }

    #[test]
    fn a_session_ends_when_idle_or_at_the_end_of_its_day() {
        let start = 1_000_000;
        assert_eq!(session_ends_ms(start, start), start + SESSION_IDLE_MS);
        let busy = start + SESSION_MAX_MS - 60_000;
        assert_eq!(session_ends_ms(start, busy), start + SESSION_MAX_MS);
    }
}
