//! Every event of the participant, newest first: when (on this tablet's clock),
//! who, what, and on which tablet. The "what" of a form or a correction comes from
//! the projection's history, so it shows the value each event actually replaced.

use std::cmp::Reverse;

use leptos::prelude::*;
use trial::crf::FormRef;
use trial::event::Event;
use trial::field::Field;
use trial::payload::Payload;
use trial::projection::{Change, Participant};

use super::{describe_entry, device_label, user_name, wall_clock};
use crate::i18n::{
    Lang, Text, arm_label, event_kind_label, field_label, form_label, labelled, t, use_lang,
};
use crate::state::use_tablet;
use crate::store::UserRecord;

/// The participant's timeline.
#[component]
pub(super) fn Timeline(participant: Signal<Participant>) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let entries = move || {
        let lang = lang.get();
        let participant_id = participant.with(Participant::id);
        let mut events: Vec<Event> = tablet.events.with(|events| {
            events
                .iter()
                .filter(|event| event.participant_id() == participant_id)
                .cloned()
                .collect()
        });
        events.sort_by_key(|event| Reverse((event.recorded_at(), event.id())));
        participant.with(|participant| {
            tablet.users.with(|users| {
                events
                    .iter()
                    .map(|event| entry(lang, participant, users, event))
                    .collect_view()
            })
        })
    };
    view! {
        <section class="card follow-up">
            <h2>{move || t(lang.get(), Text::Timeline)}</h2>
            <ol class="timeline" data-testid="timeline">{entries}</ol>
        </section>
    }
}

fn entry(
    lang: Lang,
    participant: &Participant,
    users: &[UserRecord],
    event: &Event,
) -> impl IntoView + use<> {
    let when = wall_clock(event.recorded_at());
    let who = user_name(users, event.user_id());
    let device = format!(
        "{} {}",
        t(lang, Text::Tablet),
        device_label(event.device_id())
    );
    let device_id = event.device_id().to_string();
    let (what, details) = describe(lang, participant, event);
    view! {
        <li data-testid="timeline-entry">
            <div class="meta">
                <span class="when">{when}</span>
                <span class="who">{who}</span>
                <span class="device" title=device_id>{device}</span>
            </div>
            <p class="what">{what}</p>
            <ul class="changes">
                {details.into_iter().map(|detail| view! { <li>{detail}</li> }).collect_view()}
            </ul>
        </li>
    }
}

/// The event in words, and the lines that detail it.
fn describe(lang: Lang, participant: &Participant, event: &Event) -> (String, Vec<String>) {
    let kind = event_kind_label(lang, event.kind());
    let changes: Vec<&Change> = participant
        .forms()
        .flat_map(|record| record.history())
        .filter(|change| change.by.event_id == event.id())
        .collect();
    let change_lines = || {
        changes
            .iter()
            .map(|change| change_line(lang, change))
            .collect()
    };
    match Payload::parse(event.kind(), event.schema_version(), event.payload()) {
        Ok(Payload::Randomised(randomised)) => (
            labelled(
                lang,
                kind,
                &format!(
                    "{} · {}",
                    arm_label(lang, randomised.arm),
                    randomised.study_number.as_str()
                ),
            ),
            Vec::new(),
        ),
        Ok(Payload::FormSaved(saved)) => {
            let mut lines: Vec<String> = change_lines();
            if !saved.confirmed.is_empty() {
                let fields: Vec<&str> = saved
                    .confirmed
                    .iter()
                    .map(|field| field_label(lang, *field))
                    .collect();
                let fields = fields.join(if lang == Lang::Zh { "、" } else { ", " });
                lines.push(labelled(lang, t(lang, Text::ConfirmedFields), &fields));
            }
            (titled(lang, kind, saved.form.form_ref()), lines)
        }
        Ok(Payload::ValueCorrected(corrected)) => {
            // The projection's change names the value the correction replaced; the
            // payload's `old` (what the user saw) is the fallback for a correction
            // the projection left out.
            let mut lines: Vec<String> = change_lines();
            if lines.is_empty() {
                lines.push(entry_line(
                    lang,
                    corrected.field,
                    Some(&corrected.old),
                    &corrected.new,
                ));
            }
            lines.push(labelled(lang, t(lang, Text::Reason), &corrected.reason));
            (titled(lang, kind, corrected.form), lines)
        }
        _ => (kind.to_owned(), Vec::new()),
    }
}

fn titled(lang: Lang, kind: &str, form: FormRef) -> String {
    labelled(lang, kind, &form_label(lang, form))
}

fn change_line(lang: Lang, change: &Change) -> String {
    entry_line(lang, change.field, change.old.as_ref(), &change.new)
}

/// "IL-6: 12000 pg/mL → 9000 pg/mL", or "IL-6: 85 pg/mL" for a first entry.
fn entry_line(
    lang: Lang,
    field: Field,
    old: Option<&serde_json::Value>,
    new: &serde_json::Value,
) -> String {
    let new = describe_entry(lang, field, new);
    let value = match old {
        Some(old) => format!("{} → {new}", describe_entry(lang, field, old)),
        None => new,
    };
    labelled(lang, field_label(lang, field), &value)
}
