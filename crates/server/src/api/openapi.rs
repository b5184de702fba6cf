//! `GET /api/openapi.json`: the OpenAPI 3.1 description of every `/api` route,
//! generated from the handlers' own types and annotations.
//!
//! The routes and their description come from one list (`api::routes`, an
//! `OpenApiRouter`), so a route cannot exist undescribed; `tests/api/openapi.rs`
//! walks the built router to prove it, both ways. The request and answer types
//! are `trial::wire`'s (their schemas behind the trial crate's `openapi` feature,
//! which only this server enables). Error answers are the one `ApiErrorBody`, at
//! the statuses they really occur with, each route listing its own; the unknown
//! path (404) and the wrong method (405) belong to no route, so they are
//! described once, under `components.responses`.
//!
//! The description is served as JSON only: no Swagger UI, whose build script
//! downloads it from the internet.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Extension;
use axum::http::header;
use axum::response::IntoResponse;
use trial::wire::{API_VERSION, ApiErrorBody};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Response,
    ResponseBuilder,
};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

/// The rendered description, made once per router and shared by its requests.
#[derive(Clone, Debug)]
pub struct Description(Arc<Bytes>);

impl Description {
    /// The whole document: `paths` (the API's routes, relative to `/api`) under
    /// `/api`, with the title, the security scheme and the shared error answers.
    pub fn new(paths: OpenApi) -> Self {
        let json = document(paths)
            .to_json()
            .expect("an OpenAPI document serialises");
        Self(Arc::new(Bytes::from(json)))
    }
}

/// The description of this API, as JSON.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses(
        (status = 200, description = "This description: OpenAPI 3.1, as JSON.", content_type = "application/json", body = Object),
    ),
)]
pub async fn openapi(Extension(description): Extension<Description>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        Bytes::clone(&description.0),
    )
}

fn document(paths: OpenApi) -> OpenApi {
    let base = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("HP-ECMO sync API")
                .version(API_VERSION.to_string())
                .description(Some(
                    "What the bedside tablets and the sync server say to each other \
                     (`trial::wire`, version 1). Requests are strict: an unknown field, a wrong \
                     type or a value the server does not accept is refused, naming the field. \
                     Answers are tolerant: a tablet ignores fields and codes it does not know. \
                     Instants are UTC milliseconds (`*_ms`).",
                ))
                .build(),
        )
        .components(Some(
            ComponentsBuilder::new()
                .schema(ApiErrorBody::name(), ApiErrorBody::schema())
                .schemas_from_iter(error_schemas())
                // The name every authenticated route's `security` names.
                .security_scheme(
                    "device_token",
                    SecurityScheme::Http(
                        Http::builder()
                            .scheme(HttpAuthScheme::Bearer)
                            .description(Some(
                                "The device token enrolment gave the tablet \
                                 (`EnrolResponse.device_token`), as `Authorization: Bearer <token>`. \
                                 A missing, malformed, unknown or revoked token is 401 before the \
                                 body is read.",
                            ))
                            .build(),
                    ),
                )
                // The name every console route's `security` names.
                .security_scheme(
                    "console_session",
                    SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                        crate::console::COOKIE,
                        "The session cookie `POST /api/console/sign-in` or `/setup` set                          (`HttpOnly; SameSite=Strict`, `Secure` over TLS). A missing, unknown,                          ended or lapsed session is 401 before the body is read.",
                    ))),
                )
                .response("NotFound", error(
                    "No such API endpoint (`not_found`): any path under /api that is not described here.",
                ))
                .response("MethodNotAllowed", error(
                    "The endpoint exists but not with this method (`method_not_allowed`); `Allow` names the methods it takes.",
                ))
                .build(),
        ))
        .build();
    base.nest("/api", paths)
}

/// The schemas `ApiErrorBody` refers to, which registering it alone leaves out.
fn error_schemas() -> Vec<(String, RefOr<utoipa::openapi::schema::Schema>)> {
    let mut schemas = Vec::new();
    ApiErrorBody::schemas(&mut schemas);
    schemas
}

/// An error answer: an `ApiErrorBody` as JSON.
fn error(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ApiErrorBody::name())))
                .build(),
        )
        .build()
}

/// The answers of a route that reads a JSON body, besides its own.
pub struct JsonBodyErrors;

impl IntoResponses for JsonBodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            (
                "400",
                "The body is not JSON, was cut off, or has something after the value \
                 (`malformed_json`); `problems` says where.",
            ),
            (
                "413",
                "The body is larger than the server accepts (`payload_too_large`).",
            ),
            (
                "415",
                "The body is not declared as JSON (`unsupported_media_type`).",
            ),
            (
                "422",
                "The body is JSON but wrong (`invalid_request`): not an object, an unknown or \
                 missing field, a wrong type, a repeated key, a value out of range; `problems` \
                 names every field.",
            ),
        ]
        .into_iter()
        .map(|(status, description)| (status.to_owned(), RefOr::T(error(description))))
        .collect()
    }
}

/// The answer of a route that needs a device token and did not get a good one.
pub struct TokenRefused;

impl IntoResponses for TokenRefused {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let description = "No device token, a malformed `Authorization` header, or a token \
                           this server never issued or has revoked (`unauthenticated`). \
                           Nothing is read or written.";
        BTreeMap::from([("401".to_owned(), RefOr::T(error(description)))])
    }
}

/// The answers of a console route that needs a session: none, or a role that may
/// not do this.
pub struct SessionRefused;

impl IntoResponses for SessionRefused {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            (
                "401".to_owned(),
                RefOr::T(error(
                    "No session cookie, or one whose session ended, lapsed or never existed \
                     (`unauthenticated`). Nothing is read or written.",
                )),
            ),
            (
                "403".to_owned(),
                RefOr::T(error(
                    "Signed in, but the account's role may not do this (`forbidden`). \
                     Nothing is written.",
                )),
            ),
        ])
    }
}

/// The answer of `GET /api/console/exports/download`: a zip of the export's
/// files, to be saved under the name `Content-Disposition` gives.
pub struct ZipDownload;

impl IntoResponses for ZipDownload {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let zip = ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/zip")
            .description(Some(
                "The export's files, deflated: `csv` holds `dictionary.csv` and one file \
                 per table (the audit trail, allocations and CONSORT counts among them), \
                 `odm` the ODM 1.3.2 file, `all` both, `identification` the site \
                 identification log alone.",
            ));
        let header = |description: &str| {
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .description(Some(description))
                .build()
        };
        let response = ResponseBuilder::new()
            .description(
                "The export, written now and recorded in the `exports` table under the \
                 account's name, as a zip.",
            )
            .content(
                "application/zip",
                ContentBuilder::new().schema(Some(zip)).build(),
            )
            .header(
                "Content-Disposition",
                header("`attachment; filename=\"hp-ecmo-<site>-<format>-<UTC start>.zip\"`."),
            )
            .header(
                "Cache-Control",
                header("`no-store`: patient data is kept by no cache."),
            )
            .build();
        BTreeMap::from([("200".to_owned(), RefOr::T(response))])
    }
}

/// The answer of a route when the server fails: no detail, the cause is logged.
pub struct ServerFailure;

impl IntoResponses for ServerFailure {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let description = "The server failed (`internal`); the request may be retried. The \
                           answer says nothing more: the cause is in the server's log.";
        BTreeMap::from([("500".to_owned(), RefOr::T(error(description)))])
    }
}
