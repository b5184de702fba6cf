//! The OpenAPI description (`GET /api/openapi.json`) against the router it
//! describes: every route the router has is described with exactly its methods
//! and nothing else is; the routes described as needing the device token are
//! exactly those that answer 401 without one; every error answer is described as
//! an `ApiErrorBody`; every reference points at something the description holds.

use super::*;

on_both_engines!(
    the_description_is_openapi_3_1_and_needs_no_token,
    every_route_is_described_and_nothing_else,
    the_routes_described_as_needing_a_token_are_those_that_need_one,
    every_error_answer_is_an_api_error_body,
    every_reference_resolves,
);

/// Every method a route could take but HEAD, which axum answers on every GET
/// route and OpenAPI counts as part of GET (checked separately below).
const METHODS: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::OPTIONS,
    Method::TRACE,
];

impl TestApp {
    /// The description the server serves, without a token.
    async fn description(&self) -> serde_json::Value {
        let (status, body) = self.get("/api/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        from_json(&body)
    }

    /// Sends `method` to `path` with no token and no body.
    async fn probe(&self, method: &Method, path: &str) -> StatusCode {
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .body(Body::empty())
            .unwrap();
        self.send(request).await.0
    }
}

/// The paths of the router's routes under `/api`, read from its routing table
/// (axum has no public way to list routes; its `Debug` form prints the table).
/// This reads the router itself, not anything the description was made from.
fn routed_api_paths(router: &axum::Router) -> BTreeSet<String> {
    let table = format!("{router:?}");
    let paths: BTreeSet<String> = table
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|quoted| quoted.starts_with("/api/") && !quoted.contains("__private__axum"))
        .map(str::to_owned)
        .collect();
    // Should axum print its table differently one day, this fails rather than
    // finding no routes to check.
    assert!(paths.contains("/api/health"), "{table}");
    paths
}

/// Every (path, method) the router answers, HEAD aside: its routes' paths, each
/// asked with every method, taking those it does not answer 405.
pub(super) async fn routed_operations(app: &TestApp) -> BTreeSet<(String, Method)> {
    let mut routed = BTreeSet::new();
    for path in routed_api_paths(&app.router) {
        for method in &METHODS {
            if app.probe(method, &path).await != StatusCode::METHOD_NOT_ALLOWED {
                routed.insert((path.clone(), method.clone()));
            }
        }
    }
    routed
}

/// Every (path, method) the description has an operation for.
fn described_operations(description: &serde_json::Value) -> BTreeSet<(String, Method)> {
    let mut operations = BTreeSet::new();
    for (path, item) in description["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            operations.insert((path.clone(), method));
        }
    }
    operations
}

fn method_order(method: &Method) -> usize {
    METHODS.iter().position(|known| known == method).unwrap()
}

async fn the_description_is_openapi_3_1_and_needs_no_token(app: TestApp) {
    let description = app.description().await;
    assert_eq!(description["openapi"], "3.1.0");
    assert_eq!(description["info"]["version"], "1");
    let scheme = &description["components"]["securitySchemes"]["device_token"];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"]),
        (&json!("http"), &json!("bearer"))
    );
    let push = &description["components"]["schemas"]["PushRequest"]["properties"]["events"];
    assert_eq!(push["maxItems"], trial::wire::MAX_PUSH_EVENTS);
    let limit = &description["paths"]["/api/pull"]["get"]["parameters"][1];
    assert_eq!(
        (&limit["name"], &limit["schema"]["maximum"]),
        (&json!("limit"), &json!(trial::wire::MAX_PULL_EVENTS))
    );
}

async fn every_route_is_described_and_nothing_else(app: TestApp) {
    let description = app.description().await;
    let described = described_operations(&description);
    let described_paths: BTreeSet<String> =
        described.iter().map(|(path, _)| path.clone()).collect();
    let routed_paths = routed_api_paths(&app.router);
    assert_eq!(routed_paths, described_paths);

    let routed = routed_operations(&app).await;
    for path in &routed_paths {
        let takes_get = routed.contains(&(path.clone(), Method::GET));
        let head = app.probe(&Method::HEAD, path).await;
        assert_eq!(
            head != StatusCode::METHOD_NOT_ALLOWED,
            takes_get,
            "HEAD {path}"
        );
    }
    let sorted = |operations: &BTreeSet<(String, Method)>| {
        let mut list: Vec<_> = operations
            .iter()
            .map(|(path, method)| (path.clone(), method_order(method), method.to_string()))
            .collect();
        list.sort();
        list
    };
    assert_eq!(sorted(&routed), sorted(&described));

    // A path beside the described ones is no route at all. (`/api/` is not
    // either, but it falls through to the app shell, outside the API's router.)
    for path in ["/api", "/api/openapi", "/api/push/1", "/api/Health"] {
        let (status, body) = app.get(path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        error_body(status, &body, StatusCode::NOT_FOUND, ErrorCode::NotFound);
    }
}

async fn the_routes_described_as_needing_a_token_are_those_that_need_one(app: TestApp) {
    let description = app.description().await;
    let mut secured = BTreeSet::new();
    for (path, method) in described_operations(&description) {
        let operation = &description["paths"][&path][method.as_str().to_lowercase()];
        let scheme = if path.starts_with("/api/console/") {
            "console_session"
        } else {
            "device_token"
        };
        let needs_token = operation["security"] == json!([{ scheme: [] }]);
        if needs_token {
            secured.insert(path.clone());
        } else {
            assert!(operation.get("security").is_none(), "{method} {path}");
        }
        let answer = app.probe(&method, &path).await;
        assert_eq!(
            answer == StatusCode::UNAUTHORIZED,
            needs_token,
            "{method} {path} answered {answer} without a token"
        );
    }
    let open: BTreeSet<&str> = [
        "/api/health",
        "/api/enrol",
        "/api/openapi.json",
        "/api/console/setup",
        "/api/console/sign-in",
    ]
    .into();
    let all: BTreeSet<String> = described_operations(&description)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    let expected: BTreeSet<String> = all
        .into_iter()
        .filter(|path| !open.contains(path.as_str()))
        .collect();
    assert_eq!(secured, expected);
}

async fn every_error_answer_is_an_api_error_body(app: TestApp) {
    let description = app.description().await;
    let error_body = json!({ "$ref": "#/components/schemas/ApiErrorBody" });
    for (path, method) in described_operations(&description) {
        let operation = &description["paths"][&path][method.as_str().to_lowercase()];
        let responses = operation["responses"].as_object().unwrap();
        assert!(responses.contains_key("200"), "{method} {path}");
        for (status, response) in responses {
            let schema = &response["content"]["application/json"]["schema"];
            if status.starts_with('2') {
                // JSON, but for the export's zip, described as a string of its type.
                let zip = &response["content"]["application/zip"]["schema"];
                let described = schema.is_object()
                    || (path == "/api/console/exports/download"
                        && zip["contentMediaType"] == "application/zip");
                assert!(described, "{method} {path} {status}");
            } else {
                assert_eq!(schema, &error_body, "{method} {path} {status}");
            }
        }
        // Every route that touches the database can fail; the others cannot.
        let static_answer = ["/api/health", "/api/openapi.json"].contains(&path.as_str());
        assert_eq!(
            responses.contains_key("500"),
            !static_answer,
            "{method} {path}"
        );
    }
    for shared in ["NotFound", "MethodNotAllowed"] {
        let response = &description["components"]["responses"][shared];
        assert_eq!(
            response["content"]["application/json"]["schema"], error_body,
            "{shared}"
        );
    }
}

/// A `$ref` to a component nobody registered (a query parameter's enum, say)
/// makes the description unusable to every client generator and to schemathesis.
async fn every_reference_resolves(app: TestApp) {
    fn references<'a>(value: &'a serde_json::Value, found: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(fields) => {
                for (key, field) in fields {
                    match field.as_str() {
                        Some(target) if key == "$ref" => found.push(target),
                        _ => references(field, found),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|item| references(item, found))
            }
            _ => {}
        }
    }
    let description = app.description().await;
    let mut found = Vec::new();
    references(&description, &mut found);
    assert!(found.len() > 10, "{found:?}");
    for target in found {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{target}"));
        assert!(
            description.pointer(pointer).is_some(),
            "{target} resolves to nothing"
        );
    }
}
