//! `GET /api/pull?after=CURSOR&limit=N`: the other devices' events of the site, in
//! the server's order, a page at a time.

use axum::extract::State;
use axum::response::Json;
use trial::wire::{MAX_PULL_BYTES, MAX_PULL_EVENTS, PullQuery, PullResponse, PulledEvent};

use super::openapi::{ServerFailure, TokenRefused};
use crate::AppState;
use crate::auth::AuthenticatedDevice;
use crate::error::{ApiError, ApiQuery};

/// One page after `after`, of at most `limit` events and about
/// [`MAX_PULL_BYTES`]; `more` says whether another waits. The device's own events
/// and events refused as data are left out.
#[utoipa::path(
    get,
    path = "/pull",
    tag = "sync",
    params(PullQuery),
    responses(
        (
            status = 200,
            description = "A page of the site's other devices' events after the cursor.",
            body = PullResponse,
        ),
        (
            status = 422,
            description = "The query is wrong (`invalid_request`): an unknown parameter, not a \
                number, `limit` outside 1 to 1000, `after` beyond every cursor; \
                `problems` names it.",
            body = trial::wire::ApiErrorBody,
        ),
        TokenRefused,
        ServerFailure,
    ),
    security(("device_token" = [])),
)]
pub async fn pull(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ApiQuery(query): ApiQuery<PullQuery>,
) -> Result<Json<PullResponse>, ApiError> {
    let limit = query.limit.unwrap_or(MAX_PULL_EVENTS);
    if !(1..=MAX_PULL_EVENTS).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("1 to {MAX_PULL_EVENTS}"),
        ));
    }
    // Cursors are the server's sequence numbers, which the database holds as
    // signed 64-bit integers: no cursor lies beyond.
    if i64::try_from(query.after).is_err() {
        return Err(ApiError::invalid("after", format!("0 to {}", i64::MAX)));
    }
    // One more than asked for tells whether more wait.
    let mut events = state.store.pull(&device, query.after, limit + 1).await?;
    let page = within_bytes(&events).min(limit as usize);
    let more = events.len() > page;
    events.truncate(page);
    let next_cursor = events.last().map_or(query.after, |event| event.cursor);
    Ok(Json(PullResponse {
        events,
        next_cursor,
        more,
        server_time_ms: state.clock.now_ms(),
    }))
}

/// How many of `events`, from the first, fit in [`MAX_PULL_BYTES`] as JSON; at
/// least one, so a page always moves the cursor.
fn within_bytes(events: &[PulledEvent]) -> usize {
    let mut bytes = 0;
    let fitting = events
        .iter()
        .take_while(|event| {
            let size = serde_json::to_vec(event).map_or(usize::MAX, |json| json.len());
            bytes = size.saturating_add(bytes);
            bytes <= MAX_PULL_BYTES
        })
        .count();
    fitting.max(1)
}
