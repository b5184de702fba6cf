//! `/api/console/allocation-…` (issue 13 item 5): the allocation audit of a site
//! (every randomisation with what its verification found, every flag with its
//! resolution, each tablet's lease stock) and the resolution of a flag with a
//! note. The roles are `trial::console::ConsoleRole::may`'s
//! (`ReadAllocationAudit`, `ResolveFlag`); the answer's shapes and the note's
//! rule are `trial::audit`'s.
//!
//! No answer holds a future slot: the arms listed are the ones tablets reported
//! for randomisations made, the stock is counts, and no seed is read.

use anyhow::Context;
use axum::extract::State;
use axum::response::Json;
use trial::audit::{
    AllocationAuditQuery, AllocationAuditResponse, AuditedFlag, AuditedRandomisation,
    FlagResolution, ResolutionNote, ResolveFlagRequest,
};
use trial::console::{ConsoleAction, ConsoleEvent};
use trial::export::{local_time, utc};
use trial::time::Moment;

use super::openapi::{JsonBodyErrors, ServerFailure, SessionRefused};
use crate::AppState;
use crate::calendar::site_calendar;
use crate::console::ConsoleSession;
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::store::Resolution;

/// A site's randomisations with their verification, its flags with their
/// resolutions, and its tablets' lease stock.
#[utoipa::path(
    get,
    path = "/console/allocation-audit",
    tag = "console",
    params(AllocationAuditQuery),
    responses(
        (status = 200, description = "The site's randomisations (arms reported for randomisations made, never a future slot's), flags and lease stock (counts only).", body = AllocationAuditResponse),
        (status = 404, description = "No site has this code (`not_found`).", body = trial::wire::ApiErrorBody),
        (
            status = 422,
            description = "The query is wrong (`invalid_request`): `site` missing or an \
                           unknown parameter; `problems` names it.",
            body = trial::wire::ApiErrorBody,
        ),
        SessionRefused,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn allocation_audit(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiQuery(query): ApiQuery<AllocationAuditQuery>,
) -> Result<Json<AllocationAuditResponse>, ApiError> {
    session.require(ConsoleAction::ReadAllocationAudit)?;
    let Some(site) = state.store.site(&query.site).await? else {
        return Err(ApiError::NotFound(format!(
            "there is no site {:?}: the codes are on the dashboard",
            query.site
        )));
    };
    let calendar = site_calendar(&site.time_zone)?;
    let mut stored = state.store.allocation_audit(&site.code).await?;
    let reports = state.store.allocation_flag_reports(&site.code).await?;
    let mut randomisations = Vec::with_capacity(stored.randomisations.len());
    for randomisation in stored.randomisations {
        let (utc_ms, offset_minutes) = randomisation.recorded_at;
        let moment = Moment::new(utc_ms, offset_minutes).context("a stored moment is invalid")?;
        randomisations.push(AuditedRandomisation {
            event_id: randomisation.event_id,
            study_number: randomisation.study_number,
            tablet: randomisation.tablet,
            lease_id: randomisation.lease_id,
            lease_ordinal: randomisation.lease_ordinal,
            slot: randomisation.slot,
            arm: randomisation.arm,
            recorded_at_ms: utc_ms,
            recorded_at_utc: utc(utc_ms),
            recorded_at_local: local_time(&calendar, moment),
            flags: reports
                .iter()
                .filter(|flag| flag.event_id == randomisation.event_id)
                .map(|flag| flag.code.clone())
                .collect(),
        });
    }
    let flags = reports
        .into_iter()
        .map(|flag| AuditedFlag {
            resolution: stored
                .resolutions
                .remove(&(flag.event_id, flag.code.clone())),
            event_id: flag.event_id,
            code: flag.code,
            message: flag.message,
            tablet: flag.device_label,
            study_number: flag.study_number,
            raised_at_ms: flag.created_at_ms,
        })
        .collect();
    Ok(Json(AllocationAuditResponse {
        site: site.code,
        time_zone: site.time_zone,
        randomisations,
        flags,
        stock: stored.stock,
    }))
}

/// Resolves an allocation flag with a note: once, and only by a role that may
/// (`trial::console::ConsoleRole::may` says why the coordinator's alone).
#[utoipa::path(
    post,
    path = "/console/allocation-flags/resolve",
    tag = "console",
    request_body(content = ResolveFlagRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The flag is resolved: the note, who and when.", body = FlagResolution),
        (status = 404, description = "No flag has this randomisation and code (`not_found`). Nothing is stored.", body = trial::wire::ApiErrorBody),
        (status = 409, description = "The flag was resolved before (`conflict`); the message says by whom and when. Nothing is stored.", body = trial::wire::ApiErrorBody),
        SessionRefused,
        JsonBodyErrors,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn resolve_flag(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiJson(request): ApiJson<ResolveFlagRequest>,
) -> Result<Json<FlagResolution>, ApiError> {
    session.require(ConsoleAction::ResolveFlag)?;
    let note =
        ResolutionNote::parse(&request.note).map_err(|error| ApiError::invalid("note", error))?;
    let (event_id, code) = (request.event_id, request.code.as_str());
    let outcome = state
        .store
        .resolve_allocation_flag(
            event_id,
            code,
            &note,
            session.account.id,
            state.clock.now_ms(),
        )
        .await?;
    match outcome {
        Resolution::Resolved(resolution) => {
            // Which flag and how long the note is; never the note, which may
            // name a patient, nor a participant id.
            let detail = format!(
                "flag {code} on randomisation {event_id}: note of {} characters",
                note.as_str().chars().count()
            );
            session
                .audit(&state, ConsoleEvent::FlagResolved, &detail)
                .await?;
            Ok(Json(resolution))
        }
        Resolution::NoSuchFlag => Err(ApiError::NotFound(format!(
            "randomisation {event_id} has no flag {code:?}: the flags are in the allocation audit"
        ))),
        Resolution::AlreadyResolved(first) => Err(ApiError::Conflict(format!(
            "flag {code} on randomisation {event_id} was resolved already by {} at {}; \
             a resolution is never changed",
            first.resolved_by,
            utc(first.resolved_at_ms)
        ))),
    }
}
