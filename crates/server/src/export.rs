//! `hp-ecmo-server export`: writes a site's exports into a folder, reading the
//! database one participant at a time and handing each to the trial core's
//! writers (`trial::export`), which decide everything the files say. So the
//! memory an export needs does not grow with the trial.
//!
//! An export is a snapshot: it holds the events stored before it started
//! ([`Store::export_cut`]), so one taken beside a running server is consistent,
//! and what arrives meanwhile goes in the next. Each export is recorded in the
//! `exports` table and in the log: its id, the format, who asked, how many
//! participants and events, where it ends; never a value from it.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use trial::console::OverdueSample;
pub use trial::export::Format;
use trial::export::{
    Balance, Consort, CsvExport, DICTIONARY_FILE, Enrolment, EnrolmentPoint,
    IDENTIFICATION_LOG_FILE, IdentificationLog, ODM_FILE, OdmExport, Record, Site, StratumBalance,
    Table, Trial,
};
use trial::time::Moment;
use uuid::Uuid;

use crate::Clock;
use crate::store::{ExportRecord, Store};

/// What an export wrote.
#[derive(Debug)]
pub struct Written {
    /// What the `exports` table recorded.
    pub record: ExportRecord,
    /// Every file written, in the order written.
    pub files: Vec<PathBuf>,
    /// The CONSORT counts, when the CSV tables were written.
    pub consort: Option<Consort>,
}

/// Writes the exports of `site_code` in `format` into `folder` (created when
/// missing; files of the same names are replaced), as asked by `requested_by`,
/// and records it.
pub async fn export(
    store: &Store,
    site_code: &str,
    format: Format,
    folder: &Path,
    requested_by: &str,
    clock: &Clock,
) -> Result<Written> {
    let started_at_ms = clock.now_ms();
    let snapshot = Snapshot::take(store, site_code, started_at_ms).await?;
    let trial = snapshot.trial.clone();
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create the folder {}", folder.display()))?;
    let create = |name: &str| File::create(folder.join(name)).map(BufWriter::new);
    let mut files = Vec::new();
    let mut csv = None;
    if format.writes_csv() {
        csv = Some(CsvExport::new(trial.clone(), create).context("cannot start the CSV export")?);
        files.push(folder.join(DICTIONARY_FILE));
        files.extend(
            Table::all()
                .iter()
                .map(|table| folder.join(table.file_name())),
        );
    }
    let mut odm = None;
    if format.writes_odm() {
        let file = create(ODM_FILE).with_context(|| format!("cannot create {ODM_FILE}"))?;
        odm = Some(OdmExport::new(trial.clone(), file).context("cannot start the ODM export")?);
        files.push(folder.join(ODM_FILE));
    }
    let mut identification = None;
    if format == Format::Identification {
        let file = create(IDENTIFICATION_LOG_FILE)
            .with_context(|| format!("cannot create {IDENTIFICATION_LOG_FILE}"))?;
        identification = Some(
            IdentificationLog::new(trial.clone(), file)
                .context("cannot start the site identification log")?,
        );
        files.push(folder.join(IDENTIFICATION_LOG_FILE));
    }
    let (participants, events) = snapshot
        .each_record(store, |record| {
            if let Some(csv) = &mut csv {
                csv.write(record)
                    .context("cannot write a participant as CSV")?;
            }
            if let Some(odm) = &mut odm {
                odm.write(record)
                    .context("cannot write a participant as ODM")?;
            }
            if let Some(log) = &mut identification {
                log.write(record)
                    .context("cannot write a participant in the identification log")?;
            }
            Ok(())
        })
        .await?;
    let consort = match csv {
        Some(csv) => Some(csv.finish().context("cannot finish the CSV export")?),
        None => None,
    };
    if let Some(odm) = odm {
        odm.finish()
            .context("cannot finish the ODM export")?
            .into_inner()
            .map_err(|error| error.into_error())
            .context("cannot write the ODM file")?;
    }
    if let Some(log) = identification {
        log.finish()
            .context("cannot finish the site identification log")?
            .into_inner()
            .map_err(|error| error.into_error())
            .context("cannot write the site identification log")?;
    }
    let record = ExportRecord {
        id: Uuid::now_v7(),
        site_code: site_code.to_owned(),
        format,
        requested_by: requested_by.to_owned(),
        participants,
        events,
        started_at_ms,
        finished_at_ms: clock.now_ms(),
    };
    store.record_export(&record).await?;
    tracing::info!(
        export_id = %record.id,
        site = site_code,
        format = format.as_str(),
        participants,
        events,
        up_to_server_seq = snapshot.cut,
        "export written"
    );
    Ok(Written {
        record,
        files,
        consort,
    })
}

/// An export zipped into an unnamed temporary file, ready to be sent.
#[derive(Debug)]
pub struct Archive {
    /// What the `exports` table recorded.
    pub record: ExportRecord,
    /// The zip, read from its start; the system removes it once closed.
    pub file: File,
    /// Its size.
    pub bytes: u64,
    /// What to call it: `hp-ecmo-<site>-<format>-<UTC start>.zip`.
    pub file_name: String,
}

/// Writes the export of `site_code` in `format` (as [`export`] does, and
/// recorded as it records it) into a temporary folder, then zips its files, in
/// the order written, into a temporary file, each deflated and dated by the
/// export's start.
///
/// Disk, not memory, holds both, so the size of the trial does not matter to
/// the server's memory; the temporary files go where `TMPDIR` says (`/tmp`
/// unless set: where that is a RAM disk, point `TMPDIR` at a disk). The export
/// itself writes between its reads of the database, one participant at a time;
/// the zip, one long pass over every file, runs on a blocking thread.
pub async fn archive(
    store: &Store,
    site_code: &str,
    format: Format,
    requested_by: &str,
    clock: &Clock,
) -> Result<Archive> {
    let folder = tempfile::tempdir().context("cannot make a temporary folder for the export")?;
    let written = export(store, site_code, format, folder.path(), requested_by, clock).await?;
    let started = jiff::Timestamp::from_millisecond(written.record.started_at_ms)
        .context("the export's start is outside jiff's range")?;
    let file_name = format!(
        "hp-ecmo-{site_code}-{format}-{}.zip",
        started.strftime("%Y%m%dT%H%M%SZ")
    );
    let files = written.files;
    let (file, bytes) = tokio::task::spawn_blocking(move || {
        let zipped = zip_files(&files, started);
        // Removed now, whatever happened, and a failure to remove is said.
        folder
            .close()
            .context("cannot remove the export's temporary folder")?;
        zipped
    })
    .await
    .context("the export's zip failed")??;
    Ok(Archive {
        record: written.record,
        file,
        bytes,
        file_name,
    })
}

/// `files` deflated into a zip in an unnamed temporary file, by their names,
/// each dated `modified` (UTC); the file is rewound, with its size.
fn zip_files(files: &[PathBuf], modified: jiff::Timestamp) -> Result<(File, u64)> {
    let utc = modified.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let narrow = |part: i8| u8::try_from(part).unwrap_or_default();
    let modified = zip::DateTime::from_date_and_time(
        u16::try_from(utc.year()).unwrap_or_default(),
        narrow(utc.month()),
        narrow(utc.day()),
        narrow(utc.hour()),
        narrow(utc.minute()),
        narrow(utc.second()),
    )
    .context("the export's start cannot be a zip entry's date (1980 to 2107)")?;
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(modified);
    let temporary = tempfile::tempfile().context("cannot make a temporary file for the zip")?;
    let mut zip = zip::ZipWriter::new(temporary);
    for path in files {
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .with_context(|| format!("{} has no file name", path.display()))?;
        zip.start_file(name, options)
            .with_context(|| format!("cannot add {name} to the zip"))?;
        let mut source =
            File::open(path).with_context(|| format!("cannot read back {}", path.display()))?;
        std::io::copy(&mut source, &mut zip)
            .with_context(|| format!("cannot zip {}", path.display()))?;
    }
    let mut file = zip.finish().context("cannot finish the zip")?;
    let bytes = file
        .seek(SeekFrom::End(0))
        .context("cannot measure the zip")?;
    file.rewind().context("cannot rewind the zip")?;
    Ok((file, bytes))
}

/// A site's numbers on the console's dashboard.
pub struct Dashboard {
    /// The CONSORT counts.
    pub consort: Consort,
    /// The arm balance per stratum.
    pub balance: Vec<StratumBalance>,
    /// The cytokine samples overdue, oldest first.
    pub overdue_samples: Vec<OverdueSample>,
    /// The enrolment per arm, cumulative per local day.
    pub enrolment: Vec<EnrolmentPoint>,
}

/// The dashboard's numbers of `site_code` now, counted as the CSV export counts
/// them (the same snapshot, the same records, the same core counts), so the
/// console says what the export would.
pub async fn dashboard(store: &Store, site_code: &str, clock: &Clock) -> Result<Dashboard> {
    let snapshot = Snapshot::take(store, site_code, clock.now_ms()).await?;
    let now = snapshot.now;
    let trial = snapshot.trial.clone();
    let mut consort = Consort::default();
    let mut balance = Balance::default();
    let mut overdue_samples = Vec::new();
    let mut enrolment = Enrolment::default();
    snapshot
        .each_record(store, |record| {
            consort.count(record, now);
            balance.count(&trial, record);
            enrolment.count(record, &trial.site().calendar);
            overdue_samples.extend(OverdueSample::of(record.participant(), now));
            Ok(())
        })
        .await?;
    overdue_samples.sort_by(|a, b| {
        (a.window_closed_at_ms, &a.study_number).cmp(&(b.window_closed_at_ms, &b.study_number))
    });
    Ok(Dashboard {
        consort,
        balance: balance.rows(),
        overdue_samples,
        enrolment: enrolment.points(),
    })
}

/// What an export reads: the site as the core sees it, and the last event stored
/// before it started.
struct Snapshot {
    site_code: String,
    trial: Trial,
    /// The moment statuses are read at.
    now: Moment,
    cut: i64,
}

impl Snapshot {
    /// The site's state at `now_ms`: what a push stores later goes in the next.
    async fn take(store: &Store, site_code: &str, now_ms: i64) -> Result<Self> {
        let Some(site) = store.site(site_code).await? else {
            bail!(
                "there is no site {site_code}: start the server with --site-code {site_code} once"
            );
        };
        let calendar = crate::calendar::site_calendar(&site.time_zone)?;
        let now = Moment::new(now_ms, 0).context("the server's clock is outside 1900 to 2200")?;
        let cut = store.export_cut().await?;
        let (versions, _) = store.export_versions(site_code, cut).await?;
        let trial = Trial::new(
            Site {
                code: site.code.clone(),
                name: site.name.clone(),
                calendar,
            },
            store.export_people(site_code).await?,
            store.site_tablets(site_code).await?,
            versions,
            now,
        );
        Ok(Self {
            site_code: site_code.to_owned(),
            trial,
            now,
            cut,
        })
    }

    /// Hands each participant's record to `write`, one at a time, so memory does
    /// not grow with the trial; returns how many participants and events.
    async fn each_record(
        &self,
        store: &Store,
        mut write: impl FnMut(&Record) -> Result<()>,
    ) -> Result<(u64, u64)> {
        let (mut participants, mut events) = (0, 0);
        for participant in store.export_participants(&self.site_code).await? {
            let log = store
                .export_log(&self.site_code, participant, self.cut)
                .await?;
            if log.events.is_empty() {
                // First heard of after the cut.
                continue;
            }
            let record = Record::of(&self.trial, &log);
            write(&record).with_context(|| format!("participant {participant}"))?;
            participants += 1;
            events += log.events.len() as u64;
        }
        Ok((participants, events))
    }
}
