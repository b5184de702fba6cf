//! Every event of the participant, newest first: when (on the site's clock),
//! who, what, and on which tablet. The "what" of a form or a correction comes from
//! the projection's history, so it shows the value each event actually replaced;
//! a re-screening lists the answers it changed; consent, withdrawal and the end of
//! participation say what was recorded; a signature names its signer and its
//! meaning, an unlock its reason.

use leptos::prelude::*;
use serde_json::Value;
use trial::crf::FormRef;
use trial::crf::end::EndStatus;
use trial::event::Event;
use trial::field::Field;
use trial::payload::Payload;
use trial::projection::{Change, Participant};

use super::{describe_entry, describe_value, device_label, title, user_name, wall_clock};
use crate::i18n::{Lang, Text, arm_label, event_kind_label, field_label, labelled, t, use_lang};
use crate::state::use_tablet;

/// The participant's timeline.
#[component]
pub fn Timeline(participant: Signal<Participant>) -> impl IntoView {
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
        // Told oldest first, so each re-screening is compared with the one
        // before it; shown newest first.
        events.sort_by_key(|event| (event.recorded_at(), event.id()));
        let mut last_screening = None;
        let mut entries: Vec<_> = participant.with(|participant| {
            events
                .iter()
                .map(|event| {
                    let (what, details) = describe(lang, participant, event, &mut last_screening);
                    entry(lang, tablet, event, what, details)
                })
                .collect()
        });
        entries.reverse();
        entries.collect_view()
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
    tablet: crate::state::Tablet,
    event: &Event,
    what: String,
    details: Vec<String>,
) -> impl IntoView + use<> {
    let when = wall_clock(event.recorded_at());
    let who = user_name(tablet, event.user_id());
    let device = format!(
        "{} {}",
        t(lang, Text::Tablet),
        device_label(tablet, event.device_id())
    );
    let device_id = event.device_id().to_string();
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

/// The event in words, and the lines that detail it. `last_screening` is the
/// screening form before this event (as JSON), for a re-screening to say what it
/// changed; a screening event replaces it.
fn describe(
    lang: Lang,
    participant: &Participant,
    event: &Event,
    last_screening: &mut Option<Value>,
) -> (String, Vec<String>) {
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
            (
                titled(lang, participant, kind, saved.form.form_ref()),
                lines,
            )
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
            (titled(lang, participant, kind, corrected.form), lines)
        }
        Ok(Payload::ScreeningRecorded(screening)) => {
            let form = serde_json::to_value(&screening.form)
                .expect("invariant: a screening form serialises to JSON");
            let lines = match last_screening.replace(form.clone()) {
                Some(before) => screening_changes(lang, &before, &form),
                None => Vec::new(),
            };
            (labelled(lang, kind, &screening.screening_number), lines)
        }
        Ok(Payload::ConsentRecorded(consent)) => {
            let line = |field: Field, value: Value| {
                labelled(
                    lang,
                    field_label(lang, field),
                    &describe_value(lang, field, &value),
                )
            };
            let lines = vec![
                line(Field::ConsentGivenBy, to_json(consent.given_by)),
                line(Field::ConsentedAt, to_json(consent.consented_at)),
                line(Field::ConsentFormVersion, to_json(&consent.form_version)),
            ];
            (kind.to_owned(), lines)
        }
        Ok(Payload::Withdrawn(withdrawal)) => {
            let by = describe_value(lang, Field::WithdrawnBy, &to_json(withdrawal.by));
            let lines = vec![
                labelled(lang, field_label(lang, Field::WithdrawnBy), &by),
                labelled(
                    lang,
                    field_label(lang, Field::WithdrawalReason),
                    &withdrawal.reason,
                ),
            ];
            (kind.to_owned(), lines)
        }
        Ok(Payload::EndOfParticipation(end)) => {
            let status = match end.status {
                EndStatus::Completed => Text::StatusCompleted,
                EndStatus::LostToFollowUp => Text::StatusLost,
            };
            (labelled(lang, kind, t(lang, status)), Vec::new())
        }
        Ok(Payload::NotEnrolled(not_enrolled)) => {
            let reason = describe_value(
                lang,
                Field::NotEnrolledReason,
                &to_json(not_enrolled.reason),
            );
            let lines = (!not_enrolled.details.trim().is_empty())
                .then(|| {
                    let label = field_label(lang, Field::NotEnrolledDetails);
                    labelled(lang, label, &not_enrolled.details)
                })
                .into_iter()
                .collect();
            (labelled(lang, kind, &reason), lines)
        }
        Ok(Payload::CasebookSigned(signature)) => {
            let signer = format!(
                "{} ({})",
                signature.signer_name,
                t(lang, Text::SignerInvestigator)
            );
            let meaning = match lang {
                Lang::En => signature.meaning.english(),
                Lang::Zh => signature.meaning.chinese(),
            };
            let lines = vec![labelled(lang, t(lang, Text::SignatureMeaning), meaning)];
            (labelled(lang, kind, &signer), lines)
        }
        Ok(Payload::CasebookUnlocked(unlock)) => (
            kind.to_owned(),
            vec![labelled(lang, t(lang, Text::Reason), &unlock.reason)],
        ),
        // Unreadable: the participant page lists it among the anomalies.
        Err(_) => (kind.to_owned(), Vec::new()),
    }
}

/// Each screening field that differs between two screening forms (as JSON):
/// "Height: 165 cm → 170 cm".
fn screening_changes(lang: Lang, before: &Value, after: &Value) -> Vec<String> {
    Field::ALL
        .into_iter()
        .filter_map(|field| {
            let (old, new) = (before.get(field.key())?, after.get(field.key())?);
            (old != new).then(|| {
                let change = format!(
                    "{} → {}",
                    describe_value(lang, field, old),
                    describe_value(lang, field, new)
                );
                labelled(lang, field_label(lang, field), &change)
            })
        })
        .collect()
}

/// "Form saved: Hemoperfusion session 2": the event, and the form it is about as
/// its own title names it.
fn titled(lang: Lang, participant: &Participant, kind: &str, form: FormRef) -> String {
    labelled(lang, kind, &title(lang, participant, form))
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

/// A recorded value as its core type serialises it, for the words that describe it.
fn to_json(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("invariant: a recorded value serialises to JSON")
}
