//! HTTP tests, in-process through `router` with no socket: the app shell and its
//! deep links, and the API's JSON answers.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A server over a throw-away `dist` folder holding a tiny app.
struct TestApp {
    _dist: tempfile::TempDir,
    router: axum::Router,
}

impl TestApp {
    fn spawn() -> Self {
        let dist = tempfile::tempdir().unwrap();
        std::fs::write(dist.path().join("index.html"), "<html>app shell</html>").unwrap();
        std::fs::write(dist.path().join("app-1a2b.wasm"), b"\0asm").unwrap();
        let router = server::router(server::AppState::new(), dist.path());
        Self {
            _dist: dist,
            router,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, Option<String>, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            content_type,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }
}

#[tokio::test]
async fn serves_the_app_shell_and_its_files() {
    let app = TestApp::spawn();
    let (status, _, body) = app.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "<html>app shell</html>");

    let (status, content_type, _) = app.get("/app-1a2b.wasm").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/wasm"));
}

#[tokio::test]
async fn a_deep_link_opens_the_app() {
    let app = TestApp::spawn();
    let (status, _, body) = app.get("/participants/42").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "<html>app shell</html>");
}

#[tokio::test]
async fn health_answers_in_json() {
    let app = TestApp::spawn();
    let (status, content_type, body) = app.get("/api/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn an_unknown_api_path_is_a_json_404_not_the_app() {
    let app = TestApp::spawn();
    let (status, content_type, body) = app.get("/api/no-such-thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert!(body.contains("not_found"), "{body}");
}
