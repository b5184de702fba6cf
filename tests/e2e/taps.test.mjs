// One tap, one record: every button that writes (set-up, screening, consent,
// randomise, a follow-up form, a correction, not enrolled, end of participation,
// enrolment, sign-in) is tapped twice and three times in one turn, faster than
// the page can disable it, or its form is sent with Enter again and again; the
// tablet's log then holds exactly one event of each, and nothing asks twice.
import { after, before, test } from "node:test";
import { TestServer } from "./support/server.mjs";
import { Home, LANDSCAPE, Participant, Screening, assert, launch, watchErrors } from "./support/pages.mjs";
import { eventKinds, participantIdOf, tapRepeatedly, userCount } from "./support/checks.mjs";

/** A plausible baseline (CRF.md §4), as bedside.test.mjs enters it. */
const BASELINE = {
  shock_cause: "acute_myocardial_infarction", cardiac_arrest: "no", sofa_score: 11, apache_ii_score: 25,
  save_score: -5, mean_arterial_pressure_mmhg: 62, heart_rate_per_min: 110, lactate_mmol_per_l: 6.5,
  ecmo_flow_l_per_min: 3.8, sweep_gas_l_per_min: 4, platelets_e9_per_l: 120, haemoglobin_g_per_l: 95,
  creatinine_umol_per_l: 140, bilirubin_umol_per_l: 30, dopamine_ug_per_kg_min: 5, dobutamine_ug_per_kg_min: 0,
  adrenaline_ug_per_kg_min: 0.05, noradrenaline_ug_per_kg_min: 0.1, milrinone_ug_per_kg_min: 0,
  vasopressin_u_per_kg_min: 0,
};

let server;
let browser;
before(async () => {
  server = await TestServer.start();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function fill(page, values) {
  for (const [field, value] of Object.entries(values)) {
    if (await page.locator(`#${field}`).count() > 0) await page.fill(`#${field}`, String(value));
    else await page.click(`label[for=${field}-${value}]`);
  }
}

/** Screens, consents, randomises and follows up one patient, tapping every
 *  button that writes `taps` times; returns the participant's events. */
async function patientWithTaps(page, taps, ending) {
  const home = new Home(page);
  const screening = new Screening(page);
  await home.open();
  await home.newScreening();
  await screening.fillEligible();
  await tapRepeatedly(page, "[data-testid=save-screening]", taps);
  await page.waitForSelector("[data-testid=participant-title]");
  const id = participantIdOf(page);

  await page.click("label[for=consent_given_by-patient]");
  await page.fill("#consent_form_version", "2.1");
  await tapRepeatedly(page, "[data-testid=save-consent]", taps);
  await page.waitForSelector("[data-testid=consent-recorded]");

  if (await page.locator("[data-testid=start-training]").count() > 0) {
    await new Participant(page).startTraining();
  }
  await page.click("[data-testid=randomise-button]");
  await tapRepeatedly(page, "[data-testid=confirm-randomise]", taps);
  await page.waitForSelector("[data-testid=allocated-arm]");

  // A follow-up form, then a correction of one of its values.
  await page.click("[data-testid=section-baseline]");
  await page.waitForSelector("[data-testid=form-editor]");
  await fill(page, BASELINE);
  await tapRepeatedly(page, "[data-testid=save-form]", taps);
  await page.waitForSelector("[data-testid=saved-form]");
  await page.click("[data-testid=correct-sofa_score]");
  await page.fill("#sofa_score", "12");
  await page.fill("[data-testid=correction-reason]", "transcription error");
  await tapRepeatedly(page, "[data-testid=save-correction]", taps);
  await page.waitForSelector("[data-testid=correction]", { state: "detached" });

  // The end of participation, after its confirmation.
  await page.click("[data-testid=section-end]");
  await page.click(`label[for=end_status-${ending}]`);
  if (ending === "withdrawn") {
    await page.click("label[for=withdrawn_by-participant]");
    await page.fill("#withdrawal_reason", "moved to another hospital");
  }
  await page.click("[data-testid=record-end]");
  await tapRepeatedly(page, "[data-testid=confirm-end]", taps);
  await page.waitForSelector("[data-testid=end-recorded]");
  return { id, kinds: await eventKinds(page, id) };
}

test("a double or triple tap, or Enter pressed again, records once", async () => {
  const context = await browser.newContext({ viewport: LANDSCAPE, locale: "en-GB", timezoneId: "Asia/Shanghai" });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(server.url);

  // Set-up: the first user, with "Create" tapped three times and Enter twice.
  await page.fill("#user-name", "Li Na");
  await page.fill("#new-pin", "246810");
  await page.fill("#new-pin-again", "246810");
  await tapRepeatedly(page, "[data-testid=create-user]", 3);
  await page.press("#new-pin-again", "Enter").catch(() => {});
  await page.waitForSelector("[data-testid=new-screening]");
  assert.equal(await userCount(page), 1, "one user from a triple tap");

  for (const [taps, ending] of [[2, "completed"], [3, "withdrawn"]]) {
    const { kinds } = await patientWithTaps(page, taps, ending);
    const last = ending === "completed" ? "end_of_participation" : "withdrawn";
    assert.deepEqual(
      kinds,
      ["screening_recorded", "consent_recorded", "randomised", "form_saved", "value_corrected", last],
      `${taps} taps on every button: one event each`,
    );
  }

  // Not enrolled, tapped twice and three times.
  for (const taps of [2, 3]) {
    const home = new Home(page);
    await home.open();
    await home.newScreening();
    await new Screening(page).fillEligible({ born: "1940-01-01" });
    await page.click("[data-testid=save-screening]");
    await page.waitForSelector("[data-testid=participant-title]");
    await page.click("label[for=not_enrolled_reason-ineligible]");
    await tapRepeatedly(page, "[data-testid=record-not-enrolled]", taps);
    await page.waitForSelector("[data-testid=not-enrolled-recorded]");
    assert.deepEqual(await eventKinds(page, participantIdOf(page)), ["screening_recorded", "not_enrolled"]);
  }

  const screenings = (await eventKinds(page)).filter((kind) => kind === "screening_recorded");
  assert.equal(screenings.length, 4, "one participant per screening saved, however often tapped");

  // Sign-in: Enter pressed three times.
  await page.click("[data-testid=sign-out]");
  await page.click('label:has-text("Li Na")');
  await page.fill("#pin", "246810");
  for (let press = 0; press < 3; press += 1) await page.press("#pin", "Enter").catch(() => {});
  // Signed in again, back on the page they left.
  await page.waitForSelector("[data-testid=signed-in-user]");
  assert.equal(await page.textContent("[data-testid=signed-in-user]"), "Li Na");
  assert.equal(await page.locator("text=Wrong PIN").count(), 0, "no wrong PIN from the repeated Enter");
  assert.equal(await userCount(page), 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test("enrolment sent three times at once enrols once, with no error", async () => {
  const context = await browser.newContext({ viewport: LANDSCAPE, locale: "en-GB", timezoneId: "Asia/Shanghai" });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(server.url);
  await page.fill("#enrolment-code", server.enrolmentCode());
  await tapRepeatedly(page, "[data-testid=enrol-button]", 3);
  await page.press("#enrolment-code", "Enter").catch(() => {});
  await page.waitForSelector("[data-testid=sign-in]");
  assert.equal(await page.locator("[data-testid=enrol]").count(), 0, "enrolled: the form is gone");
  assert.equal((await page.locator("[data-testid=enrol-error]").allTextContents()).join(""), "");
  assert.deepEqual(errors, []);
  await context.close();
});
