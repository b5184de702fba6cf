//! The screening form (CRF.md §1): every change re-evaluates eligibility with the
//! trial core, which the panel beside the form shows criterion by criterion. Age,
//! BMI and time on ECMO are computed, never typed; the 24-hour window counts down.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use trial::crf::FormContext;
use trial::eligibility::{Assessment, assess, times_after_evaluation};
use trial::field::{Field, FieldError};
use trial::payload::{Payload, PayloadError, ScreeningRecorded};
use trial::screening::{Answer, EcmoMode, Screening, ScreeningForm, Sex};
use trial::time::{Calendar, Moment};
use uuid::Uuid;

use crate::actions::{self, SaveOnce};
use crate::clock;
use crate::components::dirty::use_dirty;
use crate::components::{
    AnswerField, ChoiceField, DateField, DateTimeField, NumberField, TextField,
};
use crate::i18n::{Text, action_error, field_error, t, use_lang};
use crate::pages::home::ticking_clock;
use crate::state::{use_session, use_tablet};

mod eligibility;

use eligibility::EligibilityPanel;
pub use eligibility::ParticipantEligibility;
pub use eligibility::window_line;

/// A new screening: a new participant on this tablet.
#[component]
pub fn NewScreening() -> impl IntoView {
    let lang = use_lang();
    view! {
        <section>
            <h1>{move || t(lang.get(), Text::NewScreening)}</h1>
            <ScreeningEditor initial=ScreeningForm::blank(clock::now()) participant=None/>
        </section>
    }
}

/// Every input of the form, as typed.
#[derive(Clone, Copy)]
struct Inputs {
    initials: RwSignal<String>,
    bed: RwSignal<String>,
    screened_at: RwSignal<String>,
    date_of_birth: RwSignal<String>,
    sex: RwSignal<Option<&'static str>>,
    height: RwSignal<String>,
    weight: RwSignal<String>,
    admitted_to_icu: RwSignal<Answer>,
    icu_admitted_at: RwSignal<String>,
    sbp: RwSignal<Answer>,
    map: RwSignal<Answer>,
    vasopressors: RwSignal<Answer>,
    congestion: RwSignal<Answer>,
    lv_pressure: RwSignal<Answer>,
    mental_status: RwSignal<Answer>,
    cold_skin: RwSignal<Answer>,
    oliguria: RwSignal<Answer>,
    lactate: RwSignal<String>,
    ecmo_mode: RwSignal<Option<&'static str>>,
    ecmo_support: RwSignal<Answer>,
    ecmo_started_at: RwSignal<String>,
    consent_refused: RwSignal<Answer>,
    haemorrhage: RwSignal<Answer>,
    purpura: RwSignal<Answer>,
    bridge: RwSignal<Answer>,
    infection: RwSignal<Answer>,
}

const SEXES: [(&str, Sex, Text); 2] = [
    ("female", Sex::Female, Text::Female),
    ("male", Sex::Male, Text::Male),
];
const MODES: [(&str, EcmoMode, Text); 3] = [
    ("va", EcmoMode::Va, Text::EcmoVa),
    ("vv", EcmoMode::Vv, Text::EcmoVv),
    ("other", EcmoMode::Other, Text::Other),
];

impl Inputs {
    fn from_form(form: &ScreeningForm) -> Self {
        let number =
            |value: Option<f64>| RwSignal::new(value.map(|v| v.to_string()).unwrap_or_default());
        let moment = |value: Option<Moment>| {
            RwSignal::new(value.map(clock::to_local_input).unwrap_or_default())
        };
        let text = |value: &Option<String>| RwSignal::new(value.clone().unwrap_or_default());
        Self {
            initials: text(&form.patient_initials),
            bed: text(&form.bed),
            screened_at: moment(Some(form.screened_at)),
            date_of_birth: RwSignal::new(
                form.date_of_birth
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            ),
            sex: RwSignal::new(
                SEXES
                    .iter()
                    .find(|(_, sex, _)| Some(*sex) == form.sex)
                    .map(|(key, ..)| *key),
            ),
            height: number(form.height_cm),
            weight: number(form.weight_kg),
            admitted_to_icu: RwSignal::new(form.admitted_to_icu),
            icu_admitted_at: moment(form.icu_admitted_at),
            sbp: RwSignal::new(form.sbp_below90_for30_min),
            map: RwSignal::new(form.map_below65_for30_min),
            vasopressors: RwSignal::new(form.vasopressors_to_keep_sbp90),
            congestion: RwSignal::new(form.pulmonary_congestion),
            lv_pressure: RwSignal::new(form.elevated_lv_filling_pressure),
            mental_status: RwSignal::new(form.altered_mental_status),
            cold_skin: RwSignal::new(form.cold_clammy_skin),
            oliguria: RwSignal::new(form.oliguria),
            lactate: number(form.lactate_mmol_per_l),
            ecmo_mode: RwSignal::new(
                MODES
                    .iter()
                    .find(|(_, mode, _)| Some(*mode) == form.ecmo_mode)
                    .map(|(key, ..)| *key),
            ),
            ecmo_support: RwSignal::new(form.ecmo_cardiopulmonary_support),
            ecmo_started_at: moment(form.ecmo_started_at),
            consent_refused: RwSignal::new(form.consent_refused),
            haemorrhage: RwSignal::new(form.active_haemorrhage),
            purpura: RwSignal::new(form.thrombocytopenic_purpura),
            bridge: RwSignal::new(form.bridge_to_vad_or_transplant),
            infection: RwSignal::new(form.infection),
        }
    }

    /// The form the inputs describe, and every input that is not even a value (a
    /// number that is not a number, left out of the form); plausibility is the
    /// trial core's to judge.
    fn to_form(self) -> (ScreeningForm, Vec<FieldError>) {
        let mut errors = Vec::new();
        let mut number = |field, text: RwSignal<String>| {
            let text = text.get();
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            text.replace(['，', ','], ".")
                .parse::<f64>()
                .map_err(|_| errors.push(FieldError::NotANumber { field }))
                .ok()
        };
        let height_cm = number(Field::HeightCm, self.height);
        let weight_kg = number(Field::WeightKg, self.weight);
        let lactate_mmol_per_l = number(Field::LactateMmolPerL, self.lactate);
        let mut moment = |field, text: RwSignal<String>| {
            clock::read_local_input(&text.get())
                .map_err(|_| errors.push(FieldError::NotADate { field }))
                .ok()
                .flatten()
        };
        let icu_admitted_at = moment(Field::IcuAdmittedAt, self.icu_admitted_at);
        let ecmo_started_at = moment(Field::EcmoStartedAt, self.ecmo_started_at);
        // A screening is dated by what the nurse typed, never by a guess: a blank
        // time is named, and the form is judged at now meanwhile.
        let screened_at = moment(Field::ScreenedAt, self.screened_at);
        if screened_at.is_none() && self.screened_at.with(|text| text.trim().is_empty()) {
            errors.push(FieldError::Required {
                field: Field::ScreenedAt,
            });
        }
        let date_of_birth = clock::read_date_input(&self.date_of_birth.get())
            .map_err(|_| {
                errors.push(FieldError::NotADate {
                    field: Field::DateOfBirth,
                })
            })
            .ok()
            .flatten();
        let form = ScreeningForm {
            screened_at: screened_at.unwrap_or_else(clock::now),
            date_of_birth,
            sex: SEXES
                .iter()
                .find(|(key, ..)| Some(*key) == self.sex.get())
                .map(|(_, sex, _)| *sex),
            height_cm,
            weight_kg,
            admitted_to_icu: self.admitted_to_icu.get(),
            icu_admitted_at,
            sbp_below90_for30_min: self.sbp.get(),
            map_below65_for30_min: self.map.get(),
            vasopressors_to_keep_sbp90: self.vasopressors.get(),
            pulmonary_congestion: self.congestion.get(),
            elevated_lv_filling_pressure: self.lv_pressure.get(),
            altered_mental_status: self.mental_status.get(),
            cold_clammy_skin: self.cold_skin.get(),
            oliguria: self.oliguria.get(),
            lactate_mmol_per_l,
            ecmo_mode: MODES
                .iter()
                .find(|(key, ..)| Some(*key) == self.ecmo_mode.get())
                .map(|(_, mode, _)| *mode),
            ecmo_cardiopulmonary_support: self.ecmo_support.get(),
            ecmo_started_at,
            consent_refused: self.consent_refused.get(),
            active_haemorrhage: self.haemorrhage.get(),
            thrombocytopenic_purpura: self.purpura.get(),
            bridge_to_vad_or_transplant: self.bridge.get(),
            infection: self.infection.get(),
            // Initials are kept in capitals, however they were typed; what is
            // left blank is left out.
            patient_initials: Some(self.initials.get().trim().to_uppercase())
                .filter(|initials| !initials.is_empty()),
            bed: Some(self.bed.get().trim().to_owned()).filter(|bed| !bed.is_empty()),
        };
        (form, errors)
    }
}

/// The form as it stands at a moment: everything that stops it being saved, and
/// the trial core's assessment when its values can be assessed at all.
#[derive(Clone, Debug, PartialEq)]
struct Verdict {
    form: ScreeningForm,
    /// Every problem at once, each shown at its field.
    problems: Vec<FieldError>,
    /// `None` while a value is wrong (not merely missing): an outcome computed
    /// around a wrong value would mislead.
    assessment: Option<Assessment>,
}

impl Verdict {
    /// The problems that are wrong values, not answers still missing.
    fn wrong_values(&self) -> impl Iterator<Item = &FieldError> {
        self.problems.iter().filter(|problem| !problem.is_missing())
    }
}

/// Every problem at once: what is not a value, what the trial core's check
/// before saving finds (ranges, order of times, nothing after now, what a
/// screening needs to be recorded), and the times the assessment refuses.
fn judge(inputs: Inputs, now: Moment, calendar: &Calendar, screening_number: &str) -> Verdict {
    let (form, mut problems) = inputs.to_form();
    let payload = Payload::ScreeningRecorded(ScreeningRecorded {
        screening_number: screening_number.to_owned(),
        form: form.clone(),
    });
    if let Err(PayloadError::Invalid { errors, .. }) = payload.check(now, FormContext::NONE) {
        problems.extend(errors);
    }
    let at = now.max(form.screened_at);
    for problem in times_after_evaluation(&form, at) {
        if !problems
            .iter()
            .any(|known| known.field() == problem.field())
        {
            problems.push(problem);
        }
    }
    let mut verdict = Verdict {
        form,
        problems,
        assessment: None,
    };
    if verdict.wrong_values().next().is_none() {
        verdict.assessment = Screening::parse(&verdict.form)
            .ok()
            .and_then(|screening| assess(&screening, at, calendar).ok());
    }
    verdict
}

/// The number a screening is checked with before its participant has one: the
/// tablet gives the real number as it saves.
const NUMBER_TO_BE_GIVEN: &str = "…";

/// The screening form for a new participant (`participant` is `None`) or to
/// re-screen an existing one; saving records a screening event either way.
#[component]
pub fn ScreeningEditor(
    /// The form to start from.
    initial: ScreeningForm,
    /// The participant's id and screening number, when editing.
    participant: Option<(Uuid, String)>,
) -> impl IntoView {
    let lang = use_lang();
    let tablet = use_tablet();
    let session = use_session();
    let navigate = use_navigate();
    let inputs = Inputs::from_form(&initial);
    let now = ticking_clock();
    let number_to_check = participant.as_ref().map_or_else(
        || NUMBER_TO_BE_GIVEN.to_owned(),
        |(_, number)| number.clone(),
    );
    let verdict = Memo::new(move |_| {
        tablet
            .calendar
            .with(|calendar| judge(inputs, now.get(), calendar, &number_to_check))
    });
    // Set by the first tap on "Save": from then on, answers the form still needs
    // are named at their fields too, not only wrong values.
    let attempted = RwSignal::new(false);
    let error_of = move |field: Field| {
        Signal::derive(move || {
            let attempted = attempted.get();
            verdict.with(|verdict| {
                verdict
                    .problems
                    .iter()
                    .filter(|e| attempted || !e.is_missing())
                    .find(|e| e.field() == field)
                    .map(|e| field_error(lang.get(), e))
            })
        })
    };
    // Above "Save", after a tap on it: exactly the problems there are now.
    let summary = move || {
        let lang = lang.get();
        let problems: Vec<String> = verdict.with(|verdict| {
            verdict
                .problems
                .iter()
                .map(|problem| field_error(lang, problem))
                .collect()
        });
        (attempted.get() && !problems.is_empty()).then(|| {
            view! {
                <div class="problems-summary" data-testid="screening-problems">
                    <p>{t(lang, Text::FixErrorsFirst)}</p>
                    <ul class="problems">
                        {problems.into_iter().map(|problem| view! { <li>{problem}</li> }).collect_view()}
                    </ul>
                </div>
            }
        })
    };
    // Why the last save did not go through, when storing it failed.
    let save_error = RwSignal::new(None::<String>);
    let once = SaveOnce::ready();
    // What the inputs are compared with to tell unsaved input: the form as opened
    // (read back through the inputs, which keep date-times to the minute), then
    // as last saved (re-screening keeps the editor open).
    let unchanged = StoredValue::new(untrack(|| inputs.to_form().0));
    use_dirty().register(Signal::derive(move || {
        let (form, not_values) = inputs.to_form();
        !not_values.is_empty() || unchanged.with_value(|unchanged| *unchanged != form)
    }));
    let save = move |_| {
        attempted.set(true);
        save_error.set(None);
        let lang = lang.get_untracked();
        let verdict = verdict.get_untracked();
        if !verdict.problems.is_empty() {
            return;
        }
        let form = verdict.form;
        // A screening saved again unchanged would be a second record of nothing.
        let unchanged_since_saved =
            participant.is_some() && unchanged.with_value(|unchanged| *unchanged == form);
        let Some(user) = session.user.get_untracked() else {
            return;
        };
        if unchanged_since_saved || !once.start() {
            return;
        }
        let participant = participant.clone();
        let rescreening = participant.is_some();
        let navigate = navigate.clone();
        spawn_local(async move {
            let result = async {
                let participant_id = match participant {
                    // Screened again: the number it was given stays.
                    Some((participant_id, screening_number)) => {
                        let payload = Payload::ScreeningRecorded(ScreeningRecorded {
                            screening_number,
                            form: form.clone(),
                        });
                        actions::record(participant_id, user.id, &payload).await?;
                        participant_id
                    }
                    // A new patient: the store gives the next number as it saves.
                    None => {
                        let participant_id = Uuid::now_v7();
                        actions::record_screening(participant_id, user.id, form.clone()).await?;
                        participant_id
                    }
                };
                Ok::<_, actions::ActionError>(participant_id)
            }
            .await;
            match result {
                Ok(participant_id) => {
                    unchanged.try_set_value(form);
                    tablet.refresh();
                    // A re-screening's editor stays open for the next change (a
                    // save unchanged writes nothing); a new screening's gives way
                    // to the participant's page.
                    if rescreening {
                        once.reopen();
                    } else {
                        once.saved();
                    }
                    navigate(
                        &format!("/participants/{participant_id}"),
                        Default::default(),
                    );
                }
                Err(error) => {
                    save_error.try_set(Some(action_error(lang, &error)));
                    once.reopen();
                }
            }
        });
    };
    let sex_options = SEXES
        .iter()
        .map(|(key, _, text)| (*key, *text))
        .collect::<Vec<_>>();
    let mode_options = MODES
        .iter()
        .map(|(key, _, text)| (*key, *text))
        .collect::<Vec<_>>();
    view! {
        <div class="screening-layout">
            <form class="screening-form" on:submit=|event| event.prevent_default()>
                <h2>{move || t(lang.get(), Text::SectionPatient)}</h2>
                <div class="pair">
                    <TextField field=Field::PatientInitials value=inputs.initials error=error_of(Field::PatientInitials)/>
                    <TextField field=Field::Bed value=inputs.bed error=error_of(Field::Bed)/>
                </div>
                <DateTimeField field=Field::ScreenedAt value=inputs.screened_at error=error_of(Field::ScreenedAt)/>
                <DateField field=Field::DateOfBirth value=inputs.date_of_birth error=error_of(Field::DateOfBirth)/>
                <ChoiceField field=Field::Sex options=sex_options value=inputs.sex/>
                <div class="pair">
                    <NumberField field=Field::HeightCm value=inputs.height error=error_of(Field::HeightCm)/>
                    <NumberField field=Field::WeightKg value=inputs.weight error=error_of(Field::WeightKg)/>
                </div>
                <AnswerField field=Field::AdmittedToIcu value=inputs.admitted_to_icu/>
                <DateTimeField field=Field::IcuAdmittedAt value=inputs.icu_admitted_at error=error_of(Field::IcuAdmittedAt)/>
                <h2>{move || t(lang.get(), Text::SectionShock)}</h2>
                <AnswerField field=Field::SbpBelow90For30Min value=inputs.sbp/>
                <AnswerField field=Field::MapBelow65For30Min value=inputs.map/>
                <AnswerField field=Field::VasopressorsToKeepSbp90 value=inputs.vasopressors/>
                <AnswerField field=Field::PulmonaryCongestion value=inputs.congestion/>
                <AnswerField field=Field::ElevatedLvFillingPressure value=inputs.lv_pressure/>
                <AnswerField field=Field::AlteredMentalStatus value=inputs.mental_status/>
                <AnswerField field=Field::ColdClammySkin value=inputs.cold_skin/>
                <AnswerField field=Field::Oliguria value=inputs.oliguria/>
                <NumberField field=Field::LactateMmolPerL value=inputs.lactate error=error_of(Field::LactateMmolPerL)/>
                <h2>{move || t(lang.get(), Text::SectionEcmo)}</h2>
                <ChoiceField field=Field::EcmoMode options=mode_options value=inputs.ecmo_mode/>
                <AnswerField field=Field::EcmoCardiopulmonarySupport value=inputs.ecmo_support/>
                <p class="field-error">{error_of(Field::EcmoCardiopulmonarySupport)}</p>
                <DateTimeField field=Field::EcmoStartedAt value=inputs.ecmo_started_at error=error_of(Field::EcmoStartedAt)/>
                <h2>{move || t(lang.get(), Text::SectionExclusions)}</h2>
                <AnswerField field=Field::ConsentRefused value=inputs.consent_refused/>
                <AnswerField field=Field::ActiveHaemorrhage value=inputs.haemorrhage/>
                <AnswerField field=Field::ThrombocytopenicPurpura value=inputs.purpura/>
                <AnswerField field=Field::BridgeToVadOrTransplant value=inputs.bridge/>
                <AnswerField field=Field::Infection value=inputs.infection/>
                {summary}
                <p class="field-error" role="alert" data-testid="screening-save-error">{move || save_error.get()}</p>
                <button type="button" on:click=save prop:disabled=move || once.is_busy() data-testid="save-screening">
                    {move || t(lang.get(), Text::SaveScreening)}
                </button>
            </form>
            <EligibilityPanel verdict now/>
        </div>
    }
}
