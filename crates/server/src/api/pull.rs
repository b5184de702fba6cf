//! `GET /api/pull?after=CURSOR&limit=N`: the other devices' events of the site, in
//! the server's order, a page at a time.

use axum::extract::State;
use axum::response::Json;
use trial::wire::{MAX_PULL_EVENTS, PullQuery, PullResponse};

use crate::AppState;
use crate::auth::AuthenticatedDevice;
use crate::error::{ApiError, ApiQuery};

/// One page after `after`; `more` says whether another waits. The device's own
/// events and events refused as data are left out.
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
    // One more than asked for tells whether more wait.
    let mut events = state.store.pull(&device, query.after, limit + 1).await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next_cursor = events.last().map_or(query.after, |event| event.cursor);
    Ok(Json(PullResponse {
        events,
        next_cursor,
        more,
        server_time_ms: state.clock.now_ms(),
    }))
}
