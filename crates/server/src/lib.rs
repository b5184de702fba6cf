//! The HP-ECMO server: one process that serves the bedside app to tablets and, in
//! later work, the sync API every tablet shares (DESIGN.md, "Sync").
//!
//! `main.rs` is a thin shell over [`router`], so tests drive the whole HTTP surface
//! in-process with `tower::ServiceExt::oneshot`, without a socket.

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use axum::{Router, extract::State};
use serde::Serialize;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

/// What every handler may read. Cheap to clone: axum clones it per request.
#[derive(Clone, Debug)]
pub struct AppState {
    version: &'static str,
}

impl AppState {
    /// The state of a server of this build.
    pub fn new() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}

/// The whole HTTP surface: the API under `/api`, and the built app (from `dist`)
/// everywhere else.
///
/// Any path outside `/api` that is not a file answers with `index.html`, so a deep
/// link or a reload on a client-side route opens the app. Unknown API paths answer
/// 404 in JSON instead, so a client never mistakes the app shell for data.
pub fn router(state: AppState, dist: &Path) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .fallback(api_not_found)
        .with_state(state);
    let app_shell = ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html")));
    Router::new()
        .nest("/api", api)
        .fallback_service(app_shell)
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
}

/// Where the built app is expected when no other folder is given.
pub fn default_dist() -> PathBuf {
    PathBuf::from("dist")
}

/// The answer of `GET /api/health`: lets a tablet tell "server reachable" from
/// "network up", and shows which build is running.
#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: state.version,
    })
}

async fn api_not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": "not_found", "message": "no such API endpoint" })),
    )
}
