//! Random input at the decoder: random bytes, random JSON and mutations of valid
//! requests (bytes replaced, inserted, deleted, cut off or repeated; a field
//! replaced by any JSON, removed or joined by another), sent with a valid token
//! as push, lease and enrolment bodies and as pull query strings, under the
//! right and wrong content types. Whatever comes in: no panic and no 5xx; every
//! refusal an `ApiErrorBody`, naming the field when the input was at fault;
//! every table's row count as it was after a refusal (enrolment's count of
//! failed attempts aside, which a refused code is meant to raise by one), and
//! after a push that stored nothing new. Also, case by case, what the decoder
//! was found to refuse wrongly or answer in the wrong words.

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::sample::Index;

use super::*;

on_both_engines!(the_decoder_takes_what_the_description_allows_and_no_more);

/// What schemathesis and the cases below found, case by case: a whole number
/// written as a float is the number, as JSON Schema reads it; a body that is
/// JSON but not an object is 422, not 400 and not a request; an unknown key
/// that is the empty string is named as the body.
async fn the_decoder_takes_what_the_description_allows_and_no_more(app: TestApp) {
    let mut tablet = app.enrol().await;
    let reader = app.enrol().await;
    let events = tablet.record(2);
    let mut written = serde_json::to_value(PushRequest {
        events: events.clone(),
    })
    .unwrap();
    written["events"][0]["device_seq"] = json!(1.0);
    written["events"][1]["recorded_at"]["offset_minutes"] = json!(480.0);
    written["events"][1]["schema_version"] = json!(f64::from(SCHEMA_VERSION));
    let (status, body) = app
        .send_json(
            Method::POST,
            "/api/push",
            Some(&tablet.token),
            written.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let answer: PushResponse = from_json(&body);
    assert_eq!((answer.acked_seq, answer.rejected.len()), (2, 0));
    let pulled = pull_all(&app, &reader, 0, 10).await;
    let pulled: Vec<Event> = pulled.into_iter().map(|pulled| pulled.event).collect();
    assert_eq!(pulled, events);

    let mut fractional = serde_json::to_value(&tablet.record(1)[0]).unwrap();
    fractional["device_seq"] = json!(3.5);
    let fractional = json!({ "events": [fractional] }).to_string();
    let check = async |path: &str, body: &str, status: StatusCode, field: &str, words: &str| {
        let (actual, answer) = app
            .send_json(Method::POST, path, Some(&tablet.token), body.to_owned())
            .await;
        let code = if status == StatusCode::BAD_REQUEST {
            ErrorCode::MalformedJson
        } else {
            ErrorCode::InvalidRequest
        };
        let error = error_body(actual, &answer, status, code);
        assert_eq!(error.problems.len(), 1, "{body}: {error:?}");
        assert_eq!(error.problems[0].field, field, "{body}: {error:?}");
        assert!(
            error.problems[0].message.contains(words),
            "{body}: {error:?}"
        );
    };
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    check(
        "/api/push",
        &fractional,
        unprocessable,
        "events[0]",
        "floating point",
    )
    .await;
    let not_object = "a request body is a JSON object";
    check("/api/push", "[[]]", unprocessable, "body", not_object).await;
    check("/api/leases", "[]", unprocessable, "body", not_object).await;
    check("/api/leases", "[[]]", unprocessable, "body", not_object).await;
    check("/api/leases", "\"{}\"", unprocessable, "body", not_object).await;
    check(
        "/api/leases",
        r#"{"": 1}"#,
        unprocessable,
        "body",
        "unknown field ``",
    )
    .await;
    check("/api/leases", "[", StatusCode::BAD_REQUEST, "body", "EOF").await;
    assert_eq!(app.stored(&tablet).await, 2);
}

#[test]
fn random_and_mutated_requests_on_sqlite() {
    fuzz(Engine::Sqlite);
}

#[test]
#[cfg_attr(not(postgres_tests), ignore = "HP_ECMO_TEST_POSTGRES_URL is not set")]
fn random_and_mutated_requests_on_postgres() {
    fuzz(Engine::Postgres);
}

/// Where a case goes.
#[derive(Clone, Copy, Debug)]
enum Target {
    Enrol,
    Push,
    Leases,
    Pull,
}

/// What a case sends: made from nothing, or from the target's valid request.
#[derive(Clone, Debug)]
enum Input {
    Bytes(Vec<u8>),
    Json(serde_json::Value),
    ByteEdit(Index, ByteEdit),
    JsonEdit(Index, JsonEdit),
}

#[derive(Clone, Debug)]
enum ByteEdit {
    Replace(u8),
    Insert(Vec<u8>),
    Delete(usize),
    CutOff,
    Repeat(usize),
}

#[derive(Clone, Debug)]
enum JsonEdit {
    Replace(serde_json::Value),
    Remove,
    Add(String, serde_json::Value),
}

#[derive(Clone, Debug)]
struct Case {
    target: Target,
    input: Input,
    content_type: Option<&'static str>,
}

/// The names the API's requests use, so random objects often look like them.
const FIELDS: [&str; 20] = [
    "events",
    "code",
    "device_id",
    "app_version",
    "public_key",
    "id",
    "device_seq",
    "recorded_at",
    "utc_ms",
    "offset_minutes",
    "user_id",
    "participant_id",
    "kind",
    "payload",
    "schema_version",
    "prev_hash",
    "hash",
    "after",
    "limit",
    "status",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(&FIELDS[..]).prop_map(str::to_owned),
        1 => "[a-z_]{0,12}",
    ]
}

fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(json!(u64::MAX)),
        Just(json!(i64::MAX as u64 + 1)),
        Just(json!(-1)),
        Just(json!(1.0)),
        "\\PC{0,24}".prop_map(Value::from),
        "[0-9a-f]{64}".prop_map(Value::from),
        Just(json!(Uuid::now_v7())),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

fn cases() -> impl Strategy<Value = Case> {
    let target = prop_oneof![
        Just(Target::Enrol),
        Just(Target::Push),
        Just(Target::Leases),
        Just(Target::Pull),
    ];
    let byte_edit = prop_oneof![
        any::<u8>().prop_map(ByteEdit::Replace),
        prop::collection::vec(any::<u8>(), 1..8).prop_map(ByteEdit::Insert),
        (1..64_usize).prop_map(ByteEdit::Delete),
        Just(ByteEdit::CutOff),
        (1..64_usize).prop_map(ByteEdit::Repeat),
    ];
    let json_edit = prop_oneof![
        json().prop_map(JsonEdit::Replace),
        Just(JsonEdit::Remove),
        (key(), json()).prop_map(|(key, value)| JsonEdit::Add(key, value)),
    ];
    let input = prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Input::Bytes),
        2 => json().prop_map(Input::Json),
        3 => (any::<Index>(), byte_edit).prop_map(|(at, edit)| Input::ByteEdit(at, edit)),
        4 => (any::<Index>(), json_edit).prop_map(|(at, edit)| Input::JsonEdit(at, edit)),
    ];
    let content_type = prop_oneof![
        8 => Just(Some("application/json")),
        1 => Just(Some("application/json; charset=utf-8")),
        1 => Just(Some("text/plain")),
        1 => Just(None),
    ];
    (target, input, content_type).prop_map(|(target, input, content_type)| Case {
        target,
        input,
        content_type,
    })
}

/// The valid request of each target, as JSON: the pull's query as an object of
/// its parameters.
struct Valid {
    enrol: serde_json::Value,
    push: serde_json::Value,
    pull: serde_json::Value,
}

impl Valid {
    fn of(&self, target: Target) -> serde_json::Value {
        match target {
            Target::Enrol => self.enrol.clone(),
            Target::Push => self.push.clone(),
            Target::Leases => json!({}),
            Target::Pull => self.pull.clone(),
        }
    }
}

/// Every value inside `value` (itself included), depth first, as a path of keys
/// and indices.
fn paths(value: &serde_json::Value) -> Vec<Vec<String>> {
    let mut found = vec![Vec::new()];
    let children: Vec<(String, &serde_json::Value)> = match value {
        serde_json::Value::Object(fields) => fields.iter().map(|(k, v)| (k.clone(), v)).collect(),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    for (step, child) in children {
        for mut path in paths(child) {
            path.insert(0, step.clone());
            found.push(path);
        }
    }
    found
}

fn at_path<'a>(value: &'a mut serde_json::Value, path: &[String]) -> &'a mut serde_json::Value {
    path.iter().fold(value, |value, step| match value {
        serde_json::Value::Object(fields) => fields.get_mut(step).unwrap(),
        serde_json::Value::Array(items) => &mut items[step.parse::<usize>().unwrap()],
        _ => unreachable!("paths() leads through objects and arrays only"),
    })
}

fn edit_json(mut value: serde_json::Value, at: Index, edit: &JsonEdit) -> serde_json::Value {
    let all = paths(&value);
    let path = at.get(&all).clone();
    match (edit, path.split_last()) {
        (JsonEdit::Replace(new), _) => *at_path(&mut value, &path) = new.clone(),
        (JsonEdit::Remove, Some((last, parent))) => match at_path(&mut value, parent) {
            serde_json::Value::Object(fields) => drop(fields.remove(last)),
            serde_json::Value::Array(items) => drop(items.remove(last.parse::<usize>().unwrap())),
            _ => unreachable!("a parent holds its child"),
        },
        (JsonEdit::Remove, None) => value = serde_json::Value::Null,
        (JsonEdit::Add(key, new), _) => match at_path(&mut value, &path) {
            serde_json::Value::Object(fields) => drop(fields.insert(key.clone(), new.clone())),
            serde_json::Value::Array(items) => items.push(new.clone()),
            other => *other = json!({ key.clone(): new.clone() }),
        },
    }
    value
}

fn edit_bytes(mut bytes: Vec<u8>, at: Index, edit: &ByteEdit) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    let i = at.index(bytes.len());
    match edit {
        ByteEdit::Replace(byte) => bytes[i] = *byte,
        ByteEdit::Insert(new) => drop(bytes.splice(i..i, new.iter().copied())),
        ByteEdit::Delete(n) => drop(bytes.drain(i..(i + n).min(bytes.len()))),
        ByteEdit::CutOff => bytes.truncate(i),
        ByteEdit::Repeat(n) => {
            let copy = bytes[i..(i + n).min(bytes.len())].to_vec();
            bytes.splice(i..i, copy);
        }
    }
    bytes
}

/// A pull query from a JSON object of its parameters (anything else as one
/// parameter's value), every byte outside the unreserved ones percent-encoded.
fn query_of(value: &serde_json::Value) -> Vec<u8> {
    let text = |value: &serde_json::Value| match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let pairs: Vec<String> = match value {
        serde_json::Value::Object(fields) => fields
            .iter()
            .map(|(key, value)| format!("{key}={}", text(value)))
            .collect(),
        other => vec![text(other)],
    };
    pairs.join("&").into_bytes()
}

fn percent_encoded(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'=' | b'&' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The request a case makes, with `token`.
fn request_of(case: &Case, valid: &Valid, token: &str) -> Request<Body> {
    let original = valid.of(case.target);
    let encode = |value: &serde_json::Value| match case.target {
        Target::Pull => query_of(value),
        _ => serde_json::to_vec(value).unwrap(),
    };
    let bytes = match &case.input {
        Input::Bytes(bytes) => bytes.clone(),
        Input::Json(value) => encode(value),
        Input::ByteEdit(at, edit) => edit_bytes(encode(&original), *at, edit),
        Input::JsonEdit(at, edit) => encode(&edit_json(original, *at, edit)),
    };
    let (method, uri, body) = match case.target {
        Target::Pull => (
            Method::GET,
            format!("/api/pull?{}", percent_encoded(&bytes)),
            Vec::new(),
        ),
        Target::Enrol => (Method::POST, "/api/enrol".to_owned(), bytes),
        Target::Push => (Method::POST, "/api/push".to_owned(), bytes),
        Target::Leases => (Method::POST, "/api/leases".to_owned(), bytes),
    };
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(content_type) = case.content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    request.body(Body::from(body)).unwrap()
}

fn fuzz(engine: Engine) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(spawn_app(engine));
    let mut tablet = runtime.block_on(app.enrol());
    let stranger = Uuid::now_v7();
    let valid = Valid {
        enrol: serde_json::to_value(EnrolRequest {
            // Well-formed, and not a code the server issued: no case enrols.
            code: "ABCD-EFGH".to_owned(),
            device_id: Uuid::now_v7(),
            app_version: "0.1.0".to_owned(),
            public_key: public_hex(&new_tablet_key()),
        })
        .unwrap(),
        push: serde_json::to_value(PushRequest {
            events: tablet.screen(stranger),
        })
        .unwrap(),
        pull: json!({ "after": "0", "limit": "5" }),
    };
    let counts = RefCell::new(runtime.block_on(app.all_row_counts()));
    let seen = RefCell::new(BTreeSet::new());
    let config = ProptestConfig::with_cases(256);
    proptest!(config, |(case in cases())| {
        let request = request_of(&case, &valid, &tablet.token);
        let (status, body) = runtime.block_on(app.send(request));
        seen.borrow_mut().insert(status.as_u16());
        let text = String::from_utf8_lossy(&body);
        prop_assert!(!status.is_server_error(), "{status}: {text}");
        let after = runtime.block_on(app.all_row_counts());
        let mut before = counts.replace(after.clone());
        if status.is_success() {
            // Only a push stores anything, and only what it acknowledges anew.
            if let Target::Push = case.target {
                let answer: PushResponse = serde_json::from_slice(&body).unwrap();
                let stored = runtime.block_on(app.stored(&tablet));
                prop_assert_eq!(answer.acked_seq, stored);
                if before["events"] == after["events"] {
                    prop_assert_eq!(&before, &after);
                }
            } else if let Target::Leases = case.target {
                // Asking again issues nothing.
                prop_assert_eq!(&before, &after);
            } else {
                prop_assert_eq!(&before, &after);
            }
            return Ok(());
        }
        let error: ApiErrorBody = serde_json::from_slice(&body)
            .map_err(|error| TestCaseError::fail(format!("{status} {error}: {text}")))?;
        prop_assert!(!error.message.is_empty(), "{text}");
        match status {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                prop_assert!(!error.problems.is_empty(), "{text}");
                for problem in &error.problems {
                    prop_assert!(!problem.field.is_empty() && !problem.message.is_empty(), "{text}");
                }
            }
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => {}
            // The code, well-formed, was unknown; or too many were.
            StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS => {
                prop_assert!(matches!(case.target, Target::Enrol), "{status}: {text}");
            }
            other => prop_assert!(false, "{other}: {text}"),
        }
        if matches!(case.target, Target::Enrol) && status == StatusCode::UNAUTHORIZED {
            *before.get_mut("enrolment_attempts").unwrap() += 1;
        }
        prop_assert_eq!(&before, &after, "{}: {}", status, text);
    });
    // The cases reached every kind of answer, not one refusal over and over.
    let seen = seen.into_inner();
    for status in [200, 400, 415, 422] {
        assert!(seen.contains(&status), "no {status} among {seen:?}");
    }
}
