//! Which files an export holds: the one list the command line, the console's
//! download and its buttons share, so a format cannot mean one thing here and
//! another there.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which files an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The data dictionary and the CSV tables (the audit trail, the allocation
    /// report and the CONSORT counts among them).
    Csv,
    /// The CDISC ODM 1.3.2 file.
    Odm,
    /// Both.
    All,
    /// The site identification log alone: the patients' initials and beds by
    /// screening and study number, for the site's own file. Never part of `all`.
    Identification,
}

/// Occurs when a format's name is none of [`Format::ALL`]'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl Format {
    /// Every format, in the order the console offers them.
    pub const ALL: [Self; 4] = [Self::Csv, Self::Odm, Self::All, Self::Identification];

    /// Reads a format's name: `csv`, `odm`, `all` or `identification`.
    pub fn parse(text: &str) -> Result<Self, UnknownFormat> {
        Self::ALL
            .into_iter()
            .find(|format| format.as_str() == text)
            .ok_or_else(|| UnknownFormat(text.to_owned()))
    }

    /// The format's name, as the command line, the API and the `exports` table
    /// write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Odm => "odm",
            Self::All => "all",
            Self::Identification => "identification",
        }
    }

    /// Whether it holds the data dictionary and the CSV tables.
    pub fn writes_csv(self) -> bool {
        matches!(self, Self::Csv | Self::All)
    }

    /// Whether it holds the ODM file.
    pub fn writes_odm(self) -> bool {
        matches!(self, Self::Odm | Self::All)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: one of csv, odm, all, identification", self.0)
    }
}

impl std::error::Error for UnknownFormat {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_an_unknown_one_lists_the_known() {
        for format in Format::ALL {
            assert_eq!(Format::parse(format.as_str()), Ok(format));
            let json = serde_json::to_string(&format).unwrap();
            assert_eq!(json, format!("\"{format}\""));
        }
        assert_eq!(
            Format::parse("xls").unwrap_err().to_string(),
            "\"xls\": one of csv, odm, all, identification"
        );
        assert!(!Format::Identification.writes_csv() && !Format::Identification.writes_odm());
        assert!(Format::All.writes_csv() && Format::All.writes_odm());
    }
}
