//! The site identification log: which patient each screening and study number
//! stands for, by initials and bed. Good clinical practice keeps it at the site,
//! apart from the trial's data, so it is a file of its own that no other export
//! writes, and the statistician never receives it with the tables.

use std::io::Write;

use super::csv::with_bom;
use super::{ExportError, Record, Trial};

/// The name of the log's file.
pub const IDENTIFICATION_LOG_FILE: &str = "site_identification_log.csv";

/// The log's columns, in order.
const COLUMNS: [&str; 6] = [
    "site",
    "screening_number",
    "study_number",
    "screened_at_local",
    "patient_initials",
    "bed",
];

/// Writes the site identification log: one row per participant screened, from
/// their latest screening.
pub struct IdentificationLog<W: Write> {
    trial: Trial,
    writer: ::csv::Writer<W>,
}

impl<W: Write> IdentificationLog<W> {
    /// Starts the log of `trial` in `file`, UTF-8 with a byte-order mark (so a
    /// spreadsheet reads Chinese as written), with its header.
    pub fn new(trial: Trial, file: W) -> Result<Self, ExportError> {
        let mut writer = ::csv::Writer::from_writer(with_bom(file)?);
        writer.write_record(COLUMNS)?;
        Ok(Self { trial, writer })
    }

    /// Writes one participant's row, if they were screened.
    pub fn write(&mut self, record: &Record) -> Result<(), ExportError> {
        let Some(screening) = record.participant().screening() else {
            return Ok(());
        };
        let form = screening.value.form();
        self.writer.write_record([
            self.trial.site().code.as_str(),
            record.screening_number(),
            record.study_number(),
            &self.trial.local(form.screened_at),
            form.patient_initials.as_deref().unwrap_or_default(),
            form.bed.as_deref().unwrap_or_default(),
        ])?;
        Ok(())
    }

    /// Flushes the file and gives it back.
    pub fn finish(mut self) -> Result<W, ExportError> {
        self.writer.flush()?;
        self.writer
            .into_inner()
            .map_err(|error| ExportError::from(error.into_error()))
    }
}
