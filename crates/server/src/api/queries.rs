//! `/api/console/queries…` (issue 13 item 4): a site's data queries with both
//! changes (who, where, when), their comment threads, and their resolution. A
//! resolution is a correction event on the site's console device, stored by
//! the push's own path (`push::store_batch`: chain, payload rules, queries), so
//! the server's query closes in the same transaction and every tablet's at its
//! next pull. Only a role that may `ResolveQuery` gets past a handler's first
//! line.

use axum::extract::State;
use axum::response::Json;
use trial::console::{ConsoleAction, ConsoleEvent};
use trial::edits::Subject;
use trial::payload::{Payload, PayloadError};
use trial::query::{
    DataQuery, NewQueryComment, QueriesQuery, QueriesResponse, QueryRef, QueryResolution,
    QueryStatus,
};
use trial::wire::Problem;

use super::casebooks::casebook_in;
use super::openapi::{JsonBodyErrors, ServerFailure, SessionRefused};
use super::push::store_console_event;
use crate::AppState;
use crate::console::ConsoleSession;
use crate::error::{ApiError, ApiJson, ApiQuery};

/// The data queries of one site or every site, open, closed or both, oldest
/// first.
#[utoipa::path(
    get,
    path = "/console/queries",
    tag = "console",
    params(QueriesQuery),
    responses(
        (status = 200, description = "The site's data queries, each with both changes and its comments.", body = QueriesResponse),
        (status = 404, description = "No site has this code (`not_found`).", body = trial::wire::ApiErrorBody),
        (status = 422, description = "`status` missing or not one of open, closed, all, or an unknown parameter (`invalid_request`).", body = trial::wire::ApiErrorBody),
        SessionRefused,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn list_queries(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiQuery(query): ApiQuery<QueriesQuery>,
) -> Result<Json<QueriesResponse>, ApiError> {
    session.require(ConsoleAction::ResolveQuery)?;
    if let Some(site) = &query.site
        && state.store.site(site).await?.is_none()
    {
        return Err(ApiError::NotFound(format!(
            "there is no site {site:?}: the codes are on the dashboard"
        )));
    }
    Ok(Json(QueriesResponse {
        queries: state
            .store
            .data_queries(query.site.as_deref(), query.status, None)
            .await?,
    }))
}

/// Adds a comment to a query's thread.
#[utoipa::path(
    post,
    path = "/console/queries/comment",
    tag = "console",
    request_body(content = NewQueryComment, content_type = "application/json"),
    responses(
        (status = 200, description = "The query, with its thread.", body = DataQuery),
        (status = 404, description = "No such data query (`not_found`).", body = trial::wire::ApiErrorBody),
        SessionRefused,
        JsonBodyErrors,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn comment(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiJson(request): ApiJson<NewQueryComment>,
) -> Result<Json<DataQuery>, ApiError> {
    session.require(ConsoleAction::ResolveQuery)?;
    let site = query_site(&state, request.query).await?;
    let text = request
        .text()
        .map_err(|error| ApiError::invalid("text", error))?;
    state
        .store
        .add_query_comment(
            request.query,
            session.account.id,
            state.clock.now_ms(),
            text,
        )
        .await?;
    session
        .audit(
            &state,
            ConsoleEvent::QueryCommented,
            &describe(request.query, &site),
        )
        .await?;
    Ok(Json(the_query(&state, &site, request.query).await?))
}

/// Resolves an open query of a form's field with a correction (a reason
/// required): the entry of either change, or another.
#[utoipa::path(
    post,
    path = "/console/queries/resolve",
    tag = "console",
    request_body(content = QueryResolution, content_type = "application/json"),
    responses(
        (status = 200, description = "The query, closed by the correction, which the site's tablets pull at their next sync.", body = DataQuery),
        (status = 404, description = "No such data query (`not_found`).", body = trial::wire::ApiErrorBody),
        (status = 409, description = "The query is closed already, or is about the screening, which only a new screening on its tablet resolves, or the casebook is signed and locked (`conflict`). Nothing is written.", body = trial::wire::ApiErrorBody),
        SessionRefused,
        JsonBodyErrors,
        ServerFailure,
    ),
    security(("console_session" = [])),
)]
pub async fn resolve(
    State(state): State<AppState>,
    session: ConsoleSession,
    ApiJson(request): ApiJson<QueryResolution>,
) -> Result<Json<DataQuery>, ApiError> {
    session.require(ConsoleAction::ResolveQuery)?;
    let site = query_site(&state, request.query).await?;
    let query = the_query(&state, &site, request.query).await?;
    if query.closed_at_ms.is_some() {
        return Err(ApiError::Conflict(
            "this query is resolved already; its correction is in the participant's history"
                .to_owned(),
        ));
    }
    let Some(form) = query.form else {
        return Err(ApiError::Conflict(
            "a query about the screening is resolved by screening again on the tablet that \
             screened the patient"
                .to_owned(),
        ));
    };
    // The entry and reason are checked before anything is written; the entry
    // standing is read again under the console chain's lock below.
    request
        .correction(form, &query.shown.entry)
        .map_err(correction_problems)?;
    let now_ms = state.clock.now_ms();
    let device = state.store.console_device(&site, now_ms).await?;
    let mut push = state
        .store
        .begin_push(device.id, now_ms)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the console device of site {site} is revoked"))?;
    // A signed casebook takes no correction until the coordinator unlocks it.
    casebook_in(&state, &mut push, &site, query.participant_id)
        .await?
        .check_editable()
        .map_err(|refusal| ApiError::Conflict(refusal.to_string()))?;
    // The entry standing now, read under the console chain's lock.
    let subject = Subject::Form(form);
    let standing = push
        .subject_states([(query.participant_id, subject)].into_iter())
        .await?
        .remove(&(query.participant_id, subject))
        .and_then(|state| {
            state
                .head(request.query.field)
                .map(|head| head.value.clone())
        })
        .unwrap_or(serde_json::Value::Null);
    let correction = request
        .correction(form, &standing)
        .map_err(correction_problems)?;
    let payload = Payload::ValueCorrected(correction);
    let rejected = store_console_event(
        &state,
        push,
        &device,
        query.participant_id,
        session.account.id,
        &payload,
    )
    .await?;
    if let Some(rejection) = rejected {
        // The same rules refused it that refuse a tablet's: say which.
        return Err(ApiError::invalid("entry", &rejection.message));
    }
    session
        .audit(
            &state,
            ConsoleEvent::QueryResolved,
            &describe(request.query, &site),
        )
        .await?;
    Ok(Json(the_query(&state, &site, request.query).await?))
}

/// The site of the query `query` names, or 404.
async fn query_site(state: &AppState, query: QueryRef) -> Result<String, ApiError> {
    state.store.query_site(query).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "there is no data query of field {} on event {}",
            query.field.key(),
            query.shown_event_id
        ))
    })
}

/// The query as the console shows it.
async fn the_query(state: &AppState, site: &str, query: QueryRef) -> Result<DataQuery, ApiError> {
    state
        .store
        .data_queries(Some(site), QueryStatus::All, Some(query))
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a data query found is gone")))
}

/// What the audit trail says of a query: its ids, never a value.
fn describe(query: QueryRef, site: &str) -> String {
    format!(
        "query on field {} of event {} at site {site}",
        query.field.key(),
        query.shown_event_id
    )
}

/// A correction the shared rules refuse, as a 422 naming `reason` or `entry`.
fn correction_problems(error: PayloadError) -> ApiError {
    match error {
        PayloadError::Invalid { errors, .. } => ApiError::Invalid(
            errors
                .iter()
                .map(|error| Problem {
                    field: if error.field() == trial::field::Field::CorrectionReason {
                        "reason".to_owned()
                    } else {
                        "entry".to_owned()
                    },
                    message: error.to_string(),
                })
                .collect(),
        ),
        other => ApiError::invalid("entry", other),
    }
}
