//! The security headers of every response: what a browser may load and run for the
//! app, and (over TLS only) that it must never come back over plain HTTP.
//!
//! The app is our own wasm, JavaScript and CSS from this origin, and nothing else:
//! no inline script or style (`cargo xtask post-build` moves Trunk's inline loader
//! into a file), no third party, no frames. A strict policy means injected markup
//! could not run even if a bug let some through, which matters on a tablet that
//! holds patient data and a sealed allocation seed.

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
};
use tower_http::set_header::SetResponseHeaderLayer;

/// Our own files only; `'wasm-unsafe-eval'` lets the page compile its WebAssembly,
/// nothing more.
const POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; \
     manifest-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; \
     form-action 'self'";

/// A year: browsers that saw it once open the site over HTTPS only, even when a
/// person types `http://`.
const HSTS: &str = "max-age=31536000";

/// `router` with the content security policy, `nosniff` and no referrer on every
/// response: the app's files, the API's JSON and the errors of either.
pub(crate) fn security(router: Router) -> Router {
    router
        .layer(SetResponseHeaderLayer::overriding(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

/// `router` with `Strict-Transport-Security`, for a listener that speaks TLS: sent
/// over plain HTTP it would mean nothing, and it must not pin a browser to HTTPS on
/// a server that has none.
pub(crate) fn strict_transport_security(router: Router) -> Router {
    router.layer(SetResponseHeaderLayer::overriding(
        STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(HSTS),
    ))
}
