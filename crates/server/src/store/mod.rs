//! Storage: the only place that knows SQL. One [`Store`] over SQLite (a file, the
//! default) or PostgreSQL (a `postgres://` URL), chosen at start by the URL.
//!
//! Why one implementation for two engines: everything is stored in types both
//! engines and sqlx's `Any` driver share (uuids, hashes and codes as TEXT, instants
//! as BIGINT milliseconds, no booleans), so every query is the same text on both,
//! with `$1` placeholders, which the SQLite driver accepts too. What differs lives
//! in two places only: the migrations (`migrations/sqlite`, `migrations/postgres`,
//! embedded and run at start) and the SQLite connection settings below. The same
//! API test suite runs on both engines.
//!
//! Concurrency, on both engines: every write transaction starts by writing (an
//! `UPDATE` of the row it is about), so it holds that row's lock — or, on SQLite,
//! the database's write lock — before it reads anything it will decide on.
//!
//! Every call carries `.context(…)` naming what failed; the error reaches the log,
//! never the client.

mod attempts;
mod audit;
mod console;
mod devices;
mod events;
mod export;
mod leases;
mod lockouts;
mod queries;
mod subjects;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, ConnectOptions};

pub use attempts::{Admission, AttemptId};
pub use audit::{AllocationAudit, Resolution};
pub use console::{NewAuditEntry, SetupOutcome, StoredAccount, StoredSession};
pub use devices::{Device, EnrolOutcome, Enrolment, NewEnrolment, NewUser, UserOutcome};
pub use events::{AllocationHoldings, NewEvent, PushOutcome, PushTransaction, StoredEvent};
pub use export::ExportRecord;
pub use leases::DeviceLeases;
pub use lockouts::ReportedLockout;
pub use queries::{FlagReport, QueryReport};

/// The database a server uses when none is named, relative to its working folder.
pub const DEFAULT_SQLITE_FILE: &str = ".hp-ecmo/server.sqlite";

/// Which engine a [`DatabaseUrl`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// One file, embedded: the default for a single site.
    Sqlite,
    /// A PostgreSQL server: for a deployment every site shares.
    Postgres,
}

/// Where the data lives: a SQLite file or a PostgreSQL URL.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    engine: Engine,
    /// The URL sqlx connects to.
    url: String,
    /// The SQLite file, whose folder is created before connecting.
    sqlite_file: Option<PathBuf>,
}

/// The data of the server: a pool of connections to one database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
}

impl DatabaseUrl {
    /// Reads `--database`: `postgres://…` or `postgresql://…` for PostgreSQL,
    /// `sqlite:PATH`, or a plain file path for SQLite.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self {
                engine: Engine::Postgres,
                url: text.to_owned(),
                sqlite_file: None,
            });
        }
        let path = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
            .unwrap_or(text);
        if path == ":memory:" {
            return Err(
                "an in-memory database would lose every event at exit: name a file".to_owned(),
            );
        }
        if path.is_empty() || path.contains("://") {
            return Err(format!(
                "{text:?} is neither a postgres:// URL nor a SQLite file path"
            ));
        }
        Ok(Self::sqlite_file(Path::new(path)))
    }

    /// A SQLite database in `path`, created when missing.
    pub fn sqlite_file(path: &Path) -> Self {
        // Percent-encoded, because the driver splits the URL at `?` and `#`.
        let encoded: String = path
            .to_string_lossy()
            .chars()
            .map(|c| match c {
                '%' | '?' | '#' => format!("%{:02X}", c as u32),
                _ => c.to_string(),
            })
            .collect();
        Self {
            engine: Engine::Sqlite,
            url: format!("sqlite://{encoded}?mode=rwc"),
            sqlite_file: Some(path.to_owned()),
        }
    }

    /// The engine it names.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The URL sqlx connects to. It may hold a password: show the `Display` form
    /// instead.
    pub fn as_url(&self) -> &str {
        &self.url
    }
}

impl Default for DatabaseUrl {
    fn default() -> Self {
        Self::sqlite_file(Path::new(DEFAULT_SQLITE_FILE))
    }
}

/// Shows where the data is without any password a PostgreSQL URL may hold.
impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.sqlite_file, url_without_password(&self.url)) {
            (Some(file), _) => write!(f, "SQLite file {}", file.display()),
            (None, Some(url)) => write!(f, "PostgreSQL at {url}"),
            (None, None) => f.write_str("PostgreSQL"),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

fn url_without_password(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host_and_path = host_and_path.split('?').next().unwrap_or_default();
    Some(format!("{scheme}://{host_and_path}"))
}

impl Store {
    /// Connects, creating a SQLite file (and its folder) when missing, and brings
    /// the schema up to date.
    pub async fn connect(database: &DatabaseUrl) -> Result<Self> {
        sqlx::any::install_default_drivers();
        if let Some(folder) = database.sqlite_file.as_deref().and_then(Path::parent)
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create the folder {}", folder.display()))?;
        }
        let options = AnyConnectOptions::from_str(&database.url)
            .with_context(|| format!("cannot read the database URL for {database}"))?
            .disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open the {database}"))?;
        let store = Self {
            pool,
            engine: database.engine,
        };
        if store.engine == Engine::Sqlite {
            store.use_write_ahead_log().await?;
        }
        store.migrate().await?;
        store.record_missing_subjects().await?;
        store.record_missing_states().await?;
        Ok(store)
    }

    /// The engine behind this store.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Closes every connection; the store is unusable afterwards.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// WAL lets readers (pulls) run while a push writes. The mode is a property of
    /// the file, so setting it once at start holds for every later connection.
    /// (Foreign keys are on and a busy connection waits 5 s: the driver's defaults.)
    async fn use_write_ahead_log(&self) -> Result<()> {
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode = WAL")
            .fetch_one(&self.pool)
            .await
            .context("cannot switch SQLite to write-ahead logging")?;
        if mode != "wal" {
            bail!("SQLite refused write-ahead logging (journal mode stays {mode:?})");
        }
        Ok(())
    }

    async fn migrate(&self) -> Result<()> {
        let source = EmbeddedMigrations(match self.engine {
            Engine::Sqlite => SQLITE_MIGRATIONS,
            Engine::Postgres => POSTGRES_MIGRATIONS,
        });
        let migrator = Migrator::new(source)
            .await
            .context("cannot read the embedded migrations")?;
        migrator
            .run(&self.pool)
            .await
            .context("cannot bring the database schema up to date")
    }
}

/// One migration: version, description, SQL.
type EmbeddedMigration = (i64, &'static str, &'static str);

/// The migrations of each engine, compiled into the binary so the server needs no
/// files beside it. Append; never edit one that has shipped (sqlx refuses a
/// changed checksum).
const SQLITE_MIGRATIONS: &[EmbeddedMigration] = &[
    (
        1,
        "sync",
        include_str!("../../migrations/sqlite/0001_sync.sql"),
    ),
    (
        2,
        "leases flags queries",
        include_str!("../../migrations/sqlite/0002_leases_flags_queries.sql"),
    ),
    (
        3,
        "participant sites users",
        include_str!("../../migrations/sqlite/0003_participant_sites_users.sql"),
    ),
    (
        4,
        "exports",
        include_str!("../../migrations/sqlite/0004_exports.sql"),
    ),
    (
        5,
        "enrolment attempts",
        include_str!("../../migrations/sqlite/0005_enrolment_attempts.sql"),
    ),
    (
        6,
        "pin lockouts",
        include_str!("../../migrations/sqlite/0006_pin_lockouts.sql"),
    ),
    (
        7,
        "console",
        include_str!("../../migrations/sqlite/0007_console.sql"),
    ),
    (
        8,
        "query threads",
        include_str!("../../migrations/sqlite/0008_query_threads.sql"),
    ),
    (
        9,
        "flag resolutions",
        include_str!("../../migrations/sqlite/0009_flag_resolutions.sql"),
    ),
    (
        10,
        "device status",
        include_str!("../../migrations/sqlite/0010_device_status.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[EmbeddedMigration] = &[
    (
        1,
        "sync",
        include_str!("../../migrations/postgres/0001_sync.sql"),
    ),
    (
        2,
        "leases flags queries",
        include_str!("../../migrations/postgres/0002_leases_flags_queries.sql"),
    ),
    (
        3,
        "participant sites users",
        include_str!("../../migrations/postgres/0003_participant_sites_users.sql"),
    ),
    (
        4,
        "exports",
        include_str!("../../migrations/postgres/0004_exports.sql"),
    ),
    (
        5,
        "enrolment attempts",
        include_str!("../../migrations/postgres/0005_enrolment_attempts.sql"),
    ),
    (
        6,
        "pin lockouts",
        include_str!("../../migrations/postgres/0006_pin_lockouts.sql"),
    ),
    (
        7,
        "console",
        include_str!("../../migrations/postgres/0007_console.sql"),
    ),
    (
        8,
        "query threads",
        include_str!("../../migrations/postgres/0008_query_threads.sql"),
    ),
    (
        9,
        "flag resolutions",
        include_str!("../../migrations/postgres/0009_flag_resolutions.sql"),
    ),
    (
        10,
        "device status",
        include_str!("../../migrations/postgres/0010_device_status.sql"),
    ),
];

/// What [`MigrationSource::resolve`] answers.
type MigrationsOrError = std::result::Result<Vec<Migration>, sqlx::error::BoxDynError>;

/// Hands the embedded migrations to sqlx's migrator (what `sqlx::migrate!` does,
/// without the macro crate, which would compile both database drivers twice).
#[derive(Debug)]
struct EmbeddedMigrations(&'static [EmbeddedMigration]);

impl MigrationSource<'static> for EmbeddedMigrations {
    fn resolve(self) -> Pin<Box<dyn Future<Output = MigrationsOrError> + Send + 'static>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(std::future::ready(Ok(migrations)))
    }
}

/// `($1, $2), ($3, $4), …`: the placeholders of `rows` rows of `columns` values.
fn value_rows(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let values: Vec<String> = (1..=columns)
                .map(|column| format!("${}", row * columns + column))
                .collect();
            format!("({})", values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$1, $2, …, $n`: the placeholders of an `IN` list.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many rows one multi-row statement writes or names at most: well inside
/// both engines' limits on bound values, and one round trip instead of hundreds.
const ROWS_PER_STATEMENT: usize = 200;

/// A u64 from the API as the BIGINT the database stores.
fn to_db(value: u64) -> Result<i64> {
    i64::try_from(value).with_context(|| format!("{value} does not fit a BIGINT"))
}

/// A stored BIGINT as the u64 the API speaks.
fn from_db(value: i64) -> Result<u64> {
    u64::try_from(value).with_context(|| format!("stored value {value} is negative"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(Engine, &str), &str>) {
        let actual = DatabaseUrl::parse(text).map(|url| (url.engine, url.to_string()));
        let expected = expected
            .map(|(engine, shown)| (engine, shown.to_owned()))
            .map_err(str::to_owned);
        assert_eq!(actual, expected, "{text:?}");
    }

    #[test]
    fn database_urls() {
        check(
            "postgres://hp:secret@127.0.0.1:5432/hp?sslmode=disable",
            Ok((
                Engine::Postgres,
                "PostgreSQL at postgres://127.0.0.1:5432/hp",
            )),
        );
        check(
            "postgresql://127.0.0.1/hp",
            Ok((Engine::Postgres, "PostgreSQL at postgresql://127.0.0.1/hp")),
        );
        check(
            "data/site.sqlite",
            Ok((Engine::Sqlite, "SQLite file data/site.sqlite")),
        );
        check(
            "sqlite:data/site.sqlite",
            Ok((Engine::Sqlite, "SQLite file data/site.sqlite")),
        );
        check(
            "sqlite:///var/hp.sqlite",
            Ok((Engine::Sqlite, "SQLite file /var/hp.sqlite")),
        );
        check(
            "mysql://127.0.0.1/hp",
            Err("\"mysql://127.0.0.1/hp\" is neither a postgres:// URL nor a SQLite file path"),
        );
        check(
            "sqlite::memory:",
            Err("an in-memory database would lose every event at exit: name a file"),
        );
        assert_eq!(
            DatabaseUrl::sqlite_file(Path::new("a?b#c%d.sqlite")).url,
            "sqlite://a%3Fb%23c%25d.sqlite?mode=rwc"
        );
    }
}
