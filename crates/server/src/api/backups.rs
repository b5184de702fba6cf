//! Importing a tablet's backup (issue 13 item 9; DESIGN.md, "Backup and
//! recovery"): the browser decrypts the file and verifies its chains
//! (`trial::backup`), then sends it here one device's page at a time, from an
//! enrolled tablet of the site or from the coordinator's console. Each page is
//! stored by the push's own path (`push::store_batch`: chain, payload rules,
//! origin, allocation verification, queries), on the chain of the tablet that
//! wrote the events, revoked or not; what the server holds already is
//! acknowledged and changes nothing, so an import can be repeated.

use axum::extract::State;
use axum::response::Json;
use trial::backup::{ImportedPage, held_in_page};
use trial::console::{ConsoleAction, ConsoleEvent};
use trial::wire::{MAX_PUSH_EVENTS, PushRequest};

use super::openapi::{JsonBodyErrors, ServerFailure, SessionRefused, TokenRefused};
use super::push::store_batch;
use crate::AppState;
use crate::auth::AuthenticatedDevice;
use crate::console::ConsoleSession;
use crate::error::{ApiError, ApiJson};

/// Stores one page of a backup of a tablet of the importing tablet's own site.
#[utoipa::path(
    post,
    path = "/backups/import",
    tag = "sync",
    request_body(content = PushRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "What the server stored now, what it held already, and every event refused.", body = ImportedPage),
        (status = 403, description = "The backup's tablet belongs to another site (`forbidden`).", body = trial::wire::ApiErrorBody),
        (status = 404, description = "No tablet of this id was ever enrolled on this server (`not_found`).", body = trial::wire::ApiErrorBody),
        JsonBodyErrors,
        TokenRefused,
        ServerFailure,
    ),
    security(("device_token" = [])),
)]
pub async fn import_from_tablet(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ApiJson(request): ApiJson<PushRequest>,
) -> Result<Json<ImportedPage>, ApiError> {
    Ok(Json(
        import_page(&state, Some(&device.site_code), request).await?,
    ))
}

/// Stores one page of a backup of any site's tablet, for the coordinator.
#[utoipa::path(
    post,
    path = "/console/backups/import",
    tag = "console",
    request_body(content = PushRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "What the server stored now, what it held already, and every event refused.", body = ImportedPage),
        (status = 404, description = "No tablet of this id was ever enrolled on this server (`not_found`).", body = trial::wire::ApiErrorBody),
        SessionRefused,
        JsonBodyErrors,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn import_from_console(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiJson(request): ApiJson<PushRequest>,
) -> Result<Json<ImportedPage>, ApiError> {
    session.require(ConsoleAction::ImportBackup)?;
    let page = import_page(&state, None, request).await?;
    if page.stored > 0 {
        let detail = format!(
            "tablet {} ({}): {} events stored, {} held already, {} refused",
            page.device_label,
            page.device_id,
            page.stored,
            page.held,
            page.rejected.len()
        );
        session
            .audit(&state, ConsoleEvent::BackupImported, &detail)
            .await?;
    }
    Ok(Json(page))
}

/// Stores one device's page on that device's chain; `site`, when given, is the
/// only site whose tablets' records may come this way.
async fn import_page(
    state: &AppState,
    site: Option<&str>,
    request: PushRequest,
) -> Result<ImportedPage, ApiError> {
    let events = request.events;
    let Some(first) = events.first() else {
        return Err(ApiError::invalid(
            "events",
            "a page of a backup holds at least one event",
        ));
    };
    if events.len() > MAX_PUSH_EVENTS {
        let message = format!(
            "at most {MAX_PUSH_EVENTS} events per page; this one has {}",
            events.len()
        );
        return Err(ApiError::invalid("events", message));
    }
    let device_id = first.device_id();
    if events.iter().any(|event| event.device_id() != device_id) {
        return Err(ApiError::invalid(
            "events",
            "a page of a backup holds the events of one tablet only",
        ));
    }
    let now_ms = state.clock.now_ms();
    let (push, device) = state
        .store
        .begin_import(device_id, now_ms)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no tablet {device_id} was ever enrolled on this server: the backup comes from \
                 another server"
            ))
        })?;
    if let Some(site) = site
        && device.site_code != site
    {
        return Err(ApiError::Forbidden(format!(
            "this backup's tablet {} belongs to site {}: import it on a tablet of that site or \
             in the console",
            device.label, device.site_code
        )));
    }
    let before = push.head().last_seq();
    let (acked_seq, rejected) = store_batch(state, push, &device, events.clone()).await?;
    Ok(ImportedPage {
        device_id,
        device_label: device.label,
        stored: acked_seq.saturating_sub(before),
        held: held_in_page(&events, before, &rejected),
        acked_seq,
        rejected,
    })
}
