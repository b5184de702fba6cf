//! `/api/console/exports…` (issue 13 item 8): the console downloads what
//! `hp-ecmo-server export` writes, as one zip, and lists the exports written.
//!
//! A download is the command line's export (`crate::export::archive`: the same
//! snapshot, writers and files, recorded in the `exports` table under the
//! account's name), zipped in a temporary file and streamed from it, so neither
//! the trial nor the archive sits in memory. Each download is an entry in the
//! console's audit trail: who, which site and format, how much; never a value.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};
use tokio_util::io::ReaderStream;
use trial::console::{ConsoleAction, ConsoleEvent, ExportQuery, ExportsResponse, SiteName};

use super::openapi::{ServerFailure, SessionRefused, ZipDownload};
use crate::AppState;
use crate::console::ConsoleSession;
use crate::error::{ApiError, ApiQuery};

/// How much of the zip is read per chunk sent: large enough that a big export
/// is not sent in thousands of tiny reads, small enough to hold per download.
const STREAM_CHUNK_BYTES: usize = 64 * 1024;

/// The most exports `GET /api/console/exports` lists.
const RECENT_EXPORTS: i64 = 100;

/// The exports written, by the console or the command line, newest first.
#[utoipa::path(
    get,
    path = "/console/exports",
    tag = "console",
    responses(
        (status = 200, description = "Every site, and the newest 100 exports of every site: who asked, when, how much.", body = ExportsResponse),
        SessionRefused,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn list_exports(
    State(state): State<AppState>,
    session: ConsoleSession,
) -> Result<Json<ExportsResponse>, ApiError> {
    session.require(ConsoleAction::Export)?;
    let sites = state.store.sites_overview().await?;
    Ok(Json(ExportsResponse {
        sites: sites
            .into_iter()
            .map(|site| SiteName {
                code: site.code,
                name: site.name,
            })
            .collect(),
        exports: state.store.recent_exports(RECENT_EXPORTS).await?,
    }))
}

/// A site's export as a zip of its files, written now. The identification log
/// names patients and is the coordinator's alone (`trial::console::ConsoleRole::may`
/// says why); every other format is for the roles that may export.
#[utoipa::path(
    get,
    path = "/console/exports/download",
    tag = "console",
    params(ExportQuery),
    responses(
        ZipDownload,
        (status = 404, description = "No site has this code (`not_found`). Nothing is written.", body = trial::wire::ApiErrorBody),
        (
            status = 422,
            description = "The query is wrong (`invalid_request`): `site` or `format` missing, \
                           a format none of csv, odm, all, identification, an unknown \
                           parameter; `problems` names it. Nothing is written.",
            body = trial::wire::ApiErrorBody,
        ),
        SessionRefused,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn download_export(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    session.require(ConsoleAction::export(query.format))?;
    if state.store.site(&query.site).await?.is_none() {
        return Err(ApiError::NotFound(format!(
            "there is no site {:?}: the codes are on the dashboard",
            query.site
        )));
    }
    let archive = crate::export::archive(
        &state.store,
        &query.site,
        query.format,
        &session.account.name,
        &state.clock,
    )
    .await?;
    let record = &archive.record;
    session
        .audit(
            &state,
            ConsoleEvent::ExportDownloaded,
            &format!(
                "{} export of site {}: {} participant(s), {} event(s), export {}",
                record.format, record.site_code, record.participants, record.events, record.id
            ),
        )
        .await?;
    let disposition = format!("attachment; filename=\"{}\"", archive.file_name);
    let file = tokio::fs::File::from_std(archive.file);
    let body = Body::from_stream(ReaderStream::with_capacity(file, STREAM_CHUNK_BYTES));
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_LENGTH, archive.bytes.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            // Patient data: no cache, the browser's or a proxy's, keeps a copy.
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}
