//! The HP-ECMO server: one process that serves the bedside app to tablets and the
//! sync API every tablet of every site shares (DESIGN.md, "Sync").
//!
//! A tablet enrols once with a one-time code and its public key, and gets a device
//! token and its first allocation lease, sealed to that key (`leases`, `seal`);
//! then it pushes its hash-chained events, pulls the other tablets' events and
//! asks for more leases as it uses them up. The decisions (is this chain intact,
//! is this payload valid, does this allocation verify, which edits conflict) are
//! `crates/trial`'s; this crate moves data, stores it (`store`, the only code that
//! knows SQL), records the allocation flags and data queries those decisions raise
//! (`sync`, `queries`) and answers in the JSON of `trial::wire`.
//!
//! `main.rs` is a thin shell over [`router`], so tests drive the whole HTTP surface
//! in-process with `tower::ServiceExt::oneshot`, without a socket; [`serve`] puts
//! it on sockets (plain HTTP or TLS from [`tls`], with timeouts).

pub mod admin;
mod api;
mod auth;
pub mod calendar;
pub mod console;
mod error;
pub mod export;
mod headers;
mod leases;
mod queries;
mod seal;
mod secrets;
pub mod serve;
pub mod store;
mod sync;
pub mod tls;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::Request;
use tower_http::CompressionLevel;
use tower_http::compression::predicate::{NotForContentType, Predicate};
use tower_http::compression::{CompressionLayer, DefaultPredicate};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

pub use api::MAX_BODY_BYTES;
pub use store::Store;

/// What every handler may read. Cheap to clone: axum clones it per request.
#[derive(Clone, Debug)]
pub struct AppState {
    store: Store,
    clock: Clock,
    version: &'static str,
}

/// The server's clock, in UTC milliseconds. A value, so tests can stop time.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl AppState {
    /// The state of a server of this build over `store`.
    pub fn new(store: Store, clock: Clock) -> Self {
        Self {
            store,
            clock,
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    /// The store the server uses.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

impl Clock {
    /// The operating system's clock.
    pub fn system() -> Self {
        Self(Arc::new(|| {
            let since_epoch = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("the system clock is after 1970");
            i64::try_from(since_epoch.as_millis()).expect("milliseconds since 1970 fit in i64")
        }))
    }

    /// A clock that always reads `utc_ms`.
    pub fn fixed(utc_ms: i64) -> Self {
        Self(Arc::new(move || utc_ms))
    }

    /// Now, in UTC milliseconds since 1970.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock({} ms)", self.now_ms())
    }
}

/// The whole HTTP surface: the API under `/api`, the coordinator console under
/// `/console` (from `dist/console`), and the built app (from `dist`) everywhere
/// else.
///
/// Any path outside `/api` that is not a file answers with `index.html`, so a deep
/// link or a reload on a client-side route opens the app. Unknown API paths answer
/// 404 in JSON instead, so a client never mistakes the app shell for data.
///
/// Each request gets a span with its method, path and (once authenticated) device
/// id: never a body or a query value, which could hold patient data. Every
/// response carries the content security policy and its companions (`headers`).
pub fn router(state: AppState, dist: &Path) -> Router {
    // The build holds a brotli and a gzip copy of each file (`cargo xtask
    // post-build`): sent as they are, so no request waits for compression.
    let index = ServeFile::new(dist.join("index.html"))
        .precompressed_br()
        .precompressed_gzip();
    let app_shell = ServeDir::new(dist)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(index);
    // The coordinator console: its own build, in `dist/console`, with its own
    // shell for its deep links (`/console/setup#…`).
    let console_dist = dist.join("console");
    let console_shell = ServeFile::new(console_dist.join("index.html"))
        .precompressed_br()
        .precompressed_gzip();
    let console = ServeDir::new(console_dist)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(console_shell);
    let router = Router::new()
        .nest("/api", api::router(state))
        .nest_service("/console", console)
        .fallback_service(app_shell)
        .layer(axum::middleware::from_fn(error::log_internal_errors))
        // The app's files go out precompressed at brotli's best (`cargo xtask
        // post-build`, served by `ServeDir`); what is compressed here is each
        // API answer as it is made. The encoders' default is brotli's best
        // (quality 11), about a megabyte a second: a tablet pulling a site's log
        // waited on it at every page. Brotli at 4 still took 2.5 s of the
        // server's time for 50,000 events (41 MB of JSON), gzip at 4 a tenth of
        // that, for answers a few times smaller than the JSON all the same. A
        // zip is compressed already: gzip over it costs time and saves nothing.
        .layer(
            CompressionLayer::new()
                .no_br()
                .quality(CompressionLevel::Precise(4))
                .compress_when(
                    DefaultPredicate::new().and(NotForContentType::const_new("application/zip")),
                ),
        )
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    device_id = tracing::field::Empty,
                )
            }),
        );
    headers::security(router)
}

/// Where the built app is expected when no other folder is given.
pub fn default_dist() -> PathBuf {
    PathBuf::from("dist")
}
