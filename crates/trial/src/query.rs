//! Data queries as the console lists, discusses and resolves them (issue 13 item
//! 4). Which changes conflict is `edits`' rule; this module is what a person
//! sees of a conflict (both changes, with who made each, where and when) and
//! the one rule for resolving it: a correction of the field, with a reason,
//! written like any other event so that every tablet's projection closes the
//! query at its next sync, exactly as the server's does.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::crf::{FormRef, MAX_TEXT_CHARS};
use crate::edits::same_json;
use crate::field::Field;
use crate::payload::{PayloadError, ValueCorrected};

/// What names a data query: the change that shows and its field (the event
/// names the participant and the form instance).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QueryRef {
    /// The event whose change shows.
    pub shown_event_id: Uuid,
    /// The field's key.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub field: Field,
}

/// One side of a conflict: a change of the field and who made it, where and
/// when, so the person resolving it can ask the right nurse.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueryChange {
    /// The event that made the change.
    pub event_id: Uuid,
    /// The field's entry it wrote, as the form stores it.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub entry: Value,
    /// Who recorded it, by name.
    pub user: String,
    /// On which tablet, by label.
    pub device: String,
    /// When it was recorded, in UTC milliseconds.
    pub recorded_at_ms: i64,
}

/// A comment in a query's thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueryComment {
    /// The console account's name.
    pub author: String,
    /// When, in UTC milliseconds.
    pub at_ms: i64,
    /// What they wrote.
    pub text: String,
}

/// A data query as the console shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DataQuery {
    /// What names it.
    pub query: QueryRef,
    /// The participant's site.
    pub site: String,
    /// The participant.
    pub participant_id: Uuid,
    /// The participant's study number, once randomised.
    pub study_number: Option<String>,
    /// The form instance; none for the screening, which only a new screening on
    /// the tablet that screened resolves.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub form: Option<FormRef>,
    /// The change that shows.
    pub shown: QueryChange,
    /// The change it replaced without its user seeing it.
    pub overridden: QueryChange,
    /// When the server opened it, in UTC milliseconds.
    pub opened_at_ms: i64,
    /// When a correction closed it, if one has.
    pub closed_at_ms: Option<i64>,
    /// Its thread, oldest first.
    pub comments: Vec<QueryComment>,
}

/// Which of a site's data queries to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum QueryStatus {
    /// The ones still to resolve.
    Open,
    /// The ones a correction resolved.
    Closed,
    /// Both.
    All,
}

/// The query of `GET /api/console/queries?status=open&site=BJ`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct QueriesQuery {
    /// One site's code; every site's queries without it.
    #[cfg_attr(feature = "openapi", param(example = "BJ"))]
    #[serde(default)]
    pub site: Option<String>,
    /// `open`, `closed` or `all`.
    #[cfg_attr(feature = "openapi", param(inline))]
    pub status: QueryStatus,
}

/// `GET /api/console/queries`: data queries, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueriesResponse {
    /// The queries.
    pub queries: Vec<DataQuery>,
}

/// `POST /api/console/queries/comment`: a comment on a query's thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewQueryComment {
    /// The query.
    pub query: QueryRef,
    /// The comment: 1 to [`MAX_TEXT_CHARS`] characters once trimmed.
    pub text: String,
}

/// Occurs when a comment cannot be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentError {
    /// Occurs when nothing but spaces was written.
    Blank,
    /// Occurs when it is longer than [`MAX_TEXT_CHARS`].
    TooLong {
        /// Its length in characters.
        length: usize,
    },
}

impl std::fmt::Display for CommentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Blank => f.write_str("text: write the comment"),
            Self::TooLong { length } => write!(
                f,
                "text: {length} characters; at most {MAX_TEXT_CHARS} are kept"
            ),
        }
    }
}

impl NewQueryComment {
    /// The comment as it is kept (trimmed), or why it cannot be.
    pub fn text(&self) -> Result<&str, CommentError> {
        let text = self.text.trim();
        let length = text.chars().count();
        if text.is_empty() {
            Err(CommentError::Blank)
        } else if length > MAX_TEXT_CHARS {
            Err(CommentError::TooLong { length })
        } else {
            Ok(text)
        }
    }
}

/// `POST /api/console/queries/resolve`: the entry the field should hold, and
/// why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QueryResolution {
    /// The query.
    pub query: QueryRef,
    /// The entry, as a form stores it: the overridden change's, the shown one's
    /// (to confirm it), or another.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub entry: Value,
    /// Why, in the resolver's words; required.
    pub reason: String,
}

impl QueryResolution {
    /// The correction that resolves the query of `form`, whose field now holds
    /// `standing`, checked as every correction is. An entry equal to the one
    /// standing confirms it: the correction names the change it confirms, so it
    /// is no mistaken "correction" that changes nothing, and it still closes the
    /// query on every device (`edits`: the next correction of the field
    /// resolves it, and one whose `old` is the standing entry is not blind).
    pub fn correction(
        &self,
        form: FormRef,
        standing: &Value,
    ) -> Result<ValueCorrected, PayloadError> {
        let correction = ValueCorrected {
            form,
            field: self.query.field,
            old: standing.clone(),
            new: self.entry.clone(),
            reason: self.reason.trim().to_owned(),
            confirms: same_json(standing, &self.entry).then_some(self.query.shown_event_id),
        };
        correction.validate()?;
        Ok(correction)
    }
}
