//! Follow-up of a randomised participant: the cytokine samples of CRF.md §5 with
//! their windows, corrections of saved values with a reason, the change in IL-6
//! from T0, and the participant's timeline (who recorded what, when, where).
//!
//! Everything shown is the trial core's answer: the projection gives the saved
//! forms, their history and the IL-6 changes; `Form::validate` and
//! `Payload::validate` judge what is typed before anything is written.

mod entry;
mod il6;
mod samples;
mod saved;
mod timeline;

use leptos::prelude::*;
use serde_json::Value;
use trial::crf::cytokine::SampleWindow;
use trial::crf::{Entry, FormContext};
use trial::field::Field;
use trial::projection::Participant;
use trial::time::Moment;
use uuid::Uuid;

use crate::clock;
use crate::i18n::{Lang, not_done_label};
use crate::store::UserRecord;

/// The styles of this folder's components. They sit beside the components while
/// follow-up is new; `style/main.css` is the place for them once it settles.
const STYLE: &str = include_str!("follow_up.css");

/// Everything after randomisation, shown on the participant page below the status.
#[component]
pub fn FollowUp(
    /// The participant, randomised.
    participant: Signal<Participant>,
) -> impl IntoView {
    view! {
        <style>{STYLE}</style>
        <samples::Samples participant/>
        <il6::Il6Changes participant/>
        <timeline::Timeline participant/>
    }
}

/// The anchors the form checks are measured from: ECMO start and T0.
fn form_context(participant: &Participant) -> FormContext {
    FormContext {
        ecmo_started_at: participant.ecmo_started_at(),
        randomised_at: participant
            .randomisation()
            .map(|randomised| randomised.value.randomised_at),
    }
}

/// `moment` on the tablet's wall clock: "2026-03-01 12:00".
fn wall_clock(moment: Moment) -> String {
    clock::to_local_input(moment).replacen('T', " ", 1)
}

/// A sample window on the tablet's wall clock, the date written once when both
/// ends fall on the same day: "03-01 11:00–13:00".
fn window_text(window: &SampleWindow) -> String {
    let earliest = wall_clock(window.earliest());
    let latest = wall_clock(window.latest());
    let split = |text: &str| -> (String, String) {
        let (date, time) = text.split_once(' ').unwrap_or((text, ""));
        // "2026-03-01" → "03-01": the year never changes within 72 hours that matter.
        (date.get(5..).unwrap_or(date).to_owned(), time.to_owned())
    };
    let ((earliest_date, earliest_time), (latest_date, latest_time)) =
        (split(&earliest), split(&latest));
    if earliest_date == latest_date {
        format!("{earliest_date} {earliest_time}–{latest_time}")
    } else {
        format!("{earliest_date} {earliest_time} – {latest_date} {latest_time}")
    }
}

/// One field's entry, as its JSON is kept in forms and history, in words: a
/// date-time on the wall clock, a number with its unit, "not done: why", or "—"
/// when blank.
fn describe_entry(lang: Lang, field: Field, value: &Value) -> String {
    if value.is_null() {
        return "—".into();
    }
    let not_done = |reason: &str| not_done_label(lang, reason);
    if let Ok(entry) = serde_json::from_value::<Entry<Moment>>(value.clone()) {
        return match entry {
            Entry::Value(moment) => wall_clock(moment),
            Entry::NotDone { reason } => not_done(&reason),
        };
    }
    if let Ok(entry) = serde_json::from_value::<Entry<f64>>(value.clone()) {
        let unit = field.limits().map_or("", |limits| limits.unit);
        return match entry {
            Entry::Value(number) => format!("{number} {unit}").trim_end().to_owned(),
            Entry::NotDone { reason } => not_done(&reason),
        };
    }
    match serde_json::from_value::<Entry<Value>>(value.clone()) {
        Ok(Entry::Value(Value::String(text))) => text,
        Ok(Entry::Value(other)) => other.to_string(),
        Ok(Entry::NotDone { reason }) => not_done(&reason),
        Err(_) => value.to_string(),
    }
}

/// The name of the user `id` on this tablet, else the id's first 8 hex digits.
fn user_name(users: &[UserRecord], id: Uuid) -> String {
    users
        .iter()
        .find(|user| user.id == id)
        .map(|user| user.name.clone())
        .unwrap_or_else(|| id.simple().to_string()[..8].to_owned())
}

/// A device's short label, as study numbers write it: its id's first four hex
/// digits (see `actions::device_label`).
fn device_label(device_id: Uuid) -> String {
    device_id.simple().to_string()[..4].to_ascii_uppercase()
}
