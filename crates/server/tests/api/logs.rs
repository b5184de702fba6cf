//! No patient data in the server's log: a patient screened with a distinctive
//! date of birth, height and weight and not enrolled with a distinctive reason
//! is synced (pushed, pulled by another tablet, pushed again as a retry, pushed
//! with a broken payload and as a malformed body, and pushed while the database
//! is down), and every line the server logs, at every level down to TRACE with
//! the fields of every span, is searched for those values: none is there.
//!
//! Also the capture the enrolment rate limit's test reads its warnings from.

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::filter::dynamic_filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::prelude::*;

use super::*;

on_both_engines!(no_patient_data_reaches_the_log);

thread_local! {
    /// Where this thread's log lines go while a [`Captured`] is alive on it.
    static CAPTURE: RefCell<Option<Arc<Mutex<Vec<u8>>>>> = const { RefCell::new(None) };
}

/// Installs, once for the test binary and before any test logs (`spawn_app`
/// calls it first), the one subscriber every capture reads: every level, the
/// fields of every span, written to the capturing thread's buffer; threads that
/// capture nothing write nothing.
///
/// One subscriber for the whole process, not one per test, and a filter asked at
/// every line: each place that logs asks the subscribers alive when it first
/// logs whether they want it and remembers the answer, so a per-test subscriber
/// (or a filter whose answer is remembered) misses what another test's thread
/// reached first.
pub(super) fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let lines = tracing_subscriber::fmt::layer()
            .with_writer(ThisThread)
            .with_span_events(FmtSpan::NEW)
            .with_ansi(false)
            .without_time()
            .with_filter(dynamic_filter_fn(|_, _| {
                CAPTURE.with(|capture| capture.borrow().is_some())
            }));
        tracing_subscriber::registry().with(lines).init();
    });
}

/// Every line the server logs on this thread while it is alive. The API tests
/// run on a single-threaded runtime, so the handlers and the store run where
/// the capture is.
pub(super) struct Captured {
    lines: Arc<Mutex<Vec<u8>>>,
}

/// Starts capturing this thread's lines.
pub(super) fn capture() -> Captured {
    install();
    let lines = Arc::new(Mutex::new(Vec::new()));
    CAPTURE.with(|capture| *capture.borrow_mut() = Some(Arc::clone(&lines)));
    Captured { lines }
}

impl Captured {
    /// Everything captured so far.
    pub(super) fn text(&self) -> String {
        String::from_utf8(self.lines.lock().unwrap().clone()).unwrap()
    }
}

impl Drop for Captured {
    fn drop(&mut self) {
        CAPTURE.with(|capture| *capture.borrow_mut() = None);
    }
}

/// Writes to the buffer of the thread that logs, if it captures.
struct ThisThread;

impl Write for ThisThread {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|capture| {
            if let Some(lines) = capture.borrow().as_ref() {
                lines.lock().unwrap().extend_from_slice(bytes);
            }
        });
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for ThisThread {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        Self
    }
}

/// Whether `number` occurs in `text` as a number of its own, not as part of a
/// longer one (a latency, a hash's digits).
fn occurs_as_number(text: &str, number: &str) -> bool {
    let part_of_number = |c: char| c.is_ascii_digit() || c == '.';
    text.match_indices(number).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + number.len()..].chars().next();
        !before.is_some_and(part_of_number) && !after.is_some_and(part_of_number)
    })
}

/// What identifies the patient, as the tablet entered it.
const DATE_OF_BIRTH: &str = "1937-11-23";
const HEIGHT: &str = "163.9";
const WEIGHT: &str = "83.7";
const REASON: &str = "Daughter Quokka-Maple declined by telephone at bed 4471";

async fn no_patient_data_reaches_the_log(app: TestApp) {
    let log = capture();
    let mut tablet = app.enrol().await;
    let reader = app.enrol().await;
    let participant = Uuid::now_v7();
    let Payload::ScreeningRecorded(mut screened) = screening(EcmoMode::Va) else {
        unreachable!("screening() is a screening");
    };
    screened.form.date_of_birth = Some(DATE_OF_BIRTH.parse().unwrap());
    screened.form.height_cm = Some(HEIGHT.parse().unwrap());
    screened.form.weight_kg = Some(WEIGHT.parse().unwrap());
    let not_enrolled = Payload::NotEnrolled(NotEnrolled {
        reason: NotEnrolledReason::ConsentRefused,
        details: REASON.to_owned(),
    });
    let events = vec![
        tablet.event(
            participant,
            &Payload::ScreeningRecorded(screened),
            SCREENED_MS,
        ),
        tablet.event(participant, &not_enrolled, CONSENTED_MS),
    ];
    for event in &events {
        let payload = event.payload();
        assert!(payload.contains(DATE_OF_BIRTH) || payload.contains(REASON));
    }
    let answer = app.push(&tablet, &events).await;
    assert_eq!((answer.acked_seq, answer.rejected.len()), (2, 0));
    // The retry, answered from what is stored.
    app.push(&tablet, &events).await;
    let pulled = app.pulled_ids(&reader).await;
    assert!(events.iter().all(|event| pulled.contains(&event.id())));

    // The same values in a payload the trial refuses: stored, rejected as data.
    let broken = format!(
        r#"{{"reason":"consent_refused","details":"{REASON}","date_of_birth":"{DATE_OF_BIRTH}","weight_kg":{WEIGHT}}}"#
    );
    let refused = tablet.event_as(
        tablet.user_id,
        participant,
        EventKind::NotEnrolled,
        &broken,
        NOW_MS,
    );
    let answer = app.push(&tablet, std::slice::from_ref(&refused)).await;
    assert_eq!(answer.rejected[0].code, RejectionCode::InvalidPayload);
    // And as a body that does not parse, whose error names the value.
    let mut malformed = serde_json::to_value(&refused).unwrap();
    malformed["device_seq"] = json!(REASON);
    let body = json!({ "events": [malformed] }).to_string();
    let (status, _) = app
        .send_json(Method::POST, "/api/push", Some(&tablet.token), body)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // And while the database is down: a 500, whose cause is logged.
    let next = tablet.event(participant, &not_enrolled, NOW_MS);
    app.store.close().await;
    let (status, _) = app.try_push(Some(&tablet.token), &[next]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);

    let text = log.text();
    // The capture saw the server at work, down to TRACE.
    for expected in [
        "tablet enrolled",
        "push",
        "request failed",
        "started processing request",
        &tablet.id.to_string(),
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} not in the log:\n{text}"
        );
    }
    for secret in [DATE_OF_BIRTH, REASON, "Quokka", SITE_ONLY[0], SITE_ONLY[1]] {
        assert!(!text.contains(secret), "{secret:?} is in the log:\n{text}");
    }
    for number in [HEIGHT, WEIGHT] {
        assert!(
            !occurs_as_number(&text, number),
            "{number} is in the log:\n{text}"
        );
    }
}

#[test]
fn a_number_occurs_only_as_a_number_of_its_own() {
    assert!(occurs_as_number("weight=83.7 kg", "83.7"));
    assert!(occurs_as_number("83.7", "83.7"));
    assert!(!occurs_as_number("latency=183.7ms", "83.7"));
    assert!(!occurs_as_number("183.71", "83.7"));
    assert!(!occurs_as_number("nothing here", "83.7"));
}
