// The bedside journey, end to end against the real server and the release build:
// set up the tablet, screen an ineligible and an eligible patient (with bad input on
// the way), consent, randomise with a double tap, lose the network, reload, sign in
// again and find everything; then follow-up offline: IL-6 at 0 h and (six hours
// later on the browser's clock) at 6 h, an out-of-range value refused, a correction
// with its reason, a baseline form, and all of it still there after another reload;
// screenshots of each screen and form at both tablet sizes and in both languages,
// and each Chinese screen read for ASCII punctuation next to Chinese and for terms
// the glossary retired.
import { after, before, test } from "node:test";
import { TestServer } from "./support/server.mjs";
import {
  FollowUp, Home, LANDSCAPE, PORTRAIT, Participant, Screening, SignIn, assert, assertChinese, launch, localInput,
  readable, screenshot, watchErrors,
} from "./support/pages.mjs";

/** The Chinese checks for a journey that typed English data (names, reasons). */
const typedInEnglish = { englishWords: false };

/** A plausible baseline (CRF.md §4): choices by their key, numbers as typed. The
 *  doses give a vasoactive-inotropic score of 5 + 100 × 0.05 + 100 × 0.1 = 20. */
const BASELINE = {
  shock_cause: "acute_myocardial_infarction", cardiac_arrest: "no", sofa_score: 11, apache_ii_score: 25,
  save_score: -5, mean_arterial_pressure_mmhg: 62, heart_rate_per_min: 110, lactate_mmol_per_l: 6.5,
  ecmo_flow_l_per_min: 3.8, sweep_gas_l_per_min: 4, platelets_e9_per_l: 120, haemoglobin_g_per_l: 95,
  creatinine_umol_per_l: 140, bilirubin_umol_per_l: 30, dopamine_ug_per_kg_min: 5, dobutamine_ug_per_kg_min: 0,
  adrenaline_ug_per_kg_min: 0.05, noradrenaline_ug_per_kg_min: 0.1, milrinone_ug_per_kg_min: 0,
  vasopressin_u_per_kg_min: 0,
};

/** Each follow-up section, and the row that opens its new (or saved) form. */
const FORMS = [
  ["baseline", null], ["samples", "sample-H12"], ["sessions", "add-hemoperfusion_session"],
  ["daily", "daily-1"], ["adverse-events", "add-adverse_event"], ["outcomes", null], ["end", null],
  ["timeline", null],
];

/** What is out of line on the screen: a "not done" beside a label instead of
 *  after its input, inputs side by side at different heights (a label that
 *  wraps pushing its input down), a word broken inside a section's tile, a
 *  status tag stretched wider than its words. */
async function untidy(page) {
  return page.evaluate(() => {
    const found = [];
    const box = (element) => element.getBoundingClientRect();
    for (const toggle of document.querySelectorAll("label.not-done")) {
      const field = toggle.closest(".entry-field");
      const label = field?.querySelector(".entry-head label, legend");
      if (label && box(toggle).top < box(label).bottom - 1) found.push(`"not done" beside the label of ${toggle.htmlFor}`);
    }
    for (const grid of document.querySelectorAll(".entry-grid")) {
      const inputs = [...grid.querySelectorAll(":scope > .entry-field:not(.choice) .entry-row input:not([type=checkbox])")]
        .filter((input) => input.offsetParent !== null);
      for (const [i, a] of inputs.entries()) {
        for (const b of inputs.slice(i + 1)) {
          const [ra, rb] = [box(a.closest(".entry-field")), box(b.closest(".entry-field"))];
          const sideBySide = Math.abs(ra.top - rb.top) < 1;
          if (sideBySide && Math.abs(box(a).top - box(b).top) >= 1) found.push(`${a.id} and ${b.id} at ${box(a).top} and ${box(b).top} px`);
        }
      }
    }
    // A section's name may wrap between words, never inside one
    // ("Hemoperfusio / n sessions").
    for (const name of document.querySelectorAll("button.section-tile .section-name")) {
      for (const text of [...name.childNodes].filter((node) => node.nodeType === Node.TEXT_NODE))
      for (const word of text.data.matchAll(/[A-Za-z]+/g)) {
        const range = document.createRange();
        range.setStart(text, word.index);
        range.setEnd(text, word.index + word[0].length);
        if (range.getClientRects().length > 1) found.push(`"${word[0]}" broken in its tile`);
      }
    }
    for (const tag of document.querySelectorAll(".form-row .state")) {
      const words = document.createRange();
      words.selectNodeContents(tag);
      if (box(tag).width > words.getBoundingClientRect().width + 40) found.push(`a status bar ${Math.round(box(tag).width)} px wide: "${tag.textContent}"`);
    }
    return found;
  });
}

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

test("a nurse screens, consents and randomises offline-capable, and nothing is lost", async () => {
  const context = await browser.newContext({ viewport: LANDSCAPE, locale: "en-GB", timezoneId: "Asia/Shanghai" });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const signIn = new SignIn(page);
  const home = new Home(page);
  const screening = new Screening(page);
  const participant = new Participant(page);

  await page.goto(server.url);
  await page.waitForSelector("#user-name");
  await screenshot(page, "01-setup-en-landscape");
  await signIn.createFirstUser("Li Na", "246810");
  await page.waitForSelector("[data-testid=new-screening]");
  assert.equal(await page.textContent("[data-testid=signed-in-user]"), "Li Na");

  // An ineligible patient, with bad input that is refused with the field and range.
  await home.newScreening();
  await screenshot(page, "02-screening-blank-en-landscape");
  await screening.fillEligible({ born: "1940-01-01" });
  await page.fill("#height_cm", "30");
  await page.fill("#weight_kg", "abc");
  assert.equal(await screening.fieldError("height_cm"), "Height: 30 cm is outside the allowed range 100–230 cm");
  assert.equal(await screening.fieldError("weight_kg"), "Weight: enter a number");
  await screenshot(page, "03-screening-bad-input-en-landscape");
  await page.fill("#height_cm", "165");
  await page.fill("#weight_kg", "70");
  assert.match(await screening.outcome(), /Not eligible/);
  assert.match(await screening.eligibilityText(), /I1 Age 18–75 years/);
  await screening.save();
  assert.equal(await participant.status(), "Not eligible");
  // Not enrolled, with the reason: "other" needs the details, so it is named.
  await page.click("label[for=not_enrolled_reason-other]");
  await page.click("[data-testid=record-not-enrolled]");
  assert.match(await page.textContent("[data-testid=not_enrolled_details-error]"), /^Details: /);
  await page.click("label[for=not_enrolled_reason-ineligible]");
  await page.click("[data-testid=record-not-enrolled]");
  await page.waitForSelector("[data-testid=not-enrolled-recorded]");
  assert.match(await page.textContent("[data-testid=not-enrolled-recorded]"), /Reason not enrolled: Not eligible/);
  assert.equal(await participant.status(), "Not enrolled");
  await screenshot(page, "03b-not-enrolled-en-landscape");

  // An eligible patient: consent, training lease, randomise with a double tap.
  await home.open();
  await home.newScreening();
  await screening.fillEligible({ initials: "lhm", bed: "ICU-2 7" });
  assert.equal(await screening.outcome(), "Eligible");
  assert.match(await page.textContent("[data-testid=window]"), /closes in 2[01] h/);
  await screenshot(page, "04-screening-eligible-en-landscape");
  await screening.save();
  assert.equal(await participant.status(), "Eligible");
  assert.match(await page.textContent("[data-testid=randomise-blocked]"), /consent/i);
  // A re-screening keeps the first in the timeline and says what it changed.
  await page.click("[data-testid=edit-screening]");
  await page.fill("#weight_kg", "72");
  await page.click("[data-testid=save-screening]");
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=timeline-entry]").length === 2);
  await participant.recordConsent();
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=timeline-entry]").length === 3);
  const screeningTimeline = await page.locator("[data-testid=timeline-entry]").allTextContents();
  assert.match(screeningTimeline[0], /Consent recorded[^]*Consent form version: 2\.1/);
  assert.match(screeningTimeline[1], /Screening recorded: [0-9A-F]{4}-0002[^]*Weight: 70 kg → 72 kg/);
  assert.doesNotMatch(screeningTimeline[1], /Height/, "only what changed");
  assert.match(screeningTimeline[2], /Screening recorded: [0-9A-F]{4}-0002/);
  // Consented and eligible on a tablet not enrolled: it says what it lacks (not
  // that a slot ran out), and offers training under a rule, apart from Randomise.
  assert.match(await page.textContent("[data-testid=randomise-blocked]"), /^This tablet is not enrolled with the trial server/);
  const gap = await page.evaluate(() => {
    const randomise = document.querySelector("[data-testid=randomise-button]").getBoundingClientRect();
    const training = document.querySelector("[data-testid=start-training]").getBoundingClientRect();
    return training.top - randomise.bottom;
  });
  assert.ok(gap >= 40, `"Start training mode" ${gap} px below "Randomise"`);
  await screenshot(page, "05a-randomise-not-enrolled-en-landscape");
  await participant.startTraining();
  const allocation = await participant.randomiseWithDoubleTap();
  assert.equal(allocation.training, "TRAINING — not a trial allocation", "said on the card itself");
  assert.match(allocation.arm, /^(Hemoperfusion|Standard care)$/);
  assert.match(allocation.studyNumber, /^TR-[0-9A-F]{4}-001$/);
  await screenshot(page, "05-allocation-en-landscape");

  await home.open();
  const rows = await home.rows();
  assert.equal(rows.length, 2, rows.join("\n"));
  assert.equal(rows.filter((row) => row.includes("Randomised")).length, 1, "randomised once");
  assert.equal(await page.locator("[data-testid=participant-unsynced]").count(), 0,
    "no row calls a training record 'not synced'");
  // Rows a nurse tells apart: initials and bed, the study number with the
  // screening number kept beside it, and when each was screened.
  const who = await page.locator("[data-testid=participant-who]").allTextContents();
  assert.deepEqual(who.sort(), ["LHM · bed ICU-2 7", "ZWL · bed 12"]);
  const randomisedRow = rows.find((row) => row.includes("Randomised"));
  assert.match(randomisedRow, /TR-[0-9A-F]{4}-001 · [0-9A-F]{4}-0002 · \d{4}-\d\d-\d\d \d\d:\d\d/);
  // Found by initials or bed as typed, in any case.
  for (const [typed, found] of [["lhm", "LHM · bed ICU-2 7"], ["bed 12", null], ["12", "ZWL · bed 12"]]) {
    await page.fill("[data-testid=find-participant]", typed);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=participant-row]").length < 2);
    const shown = await page.locator("[data-testid=participant-who]").allTextContents();
    assert.deepEqual(shown, found ? [found] : [], `typed ${typed}`);
  }
  await page.fill("[data-testid=find-participant]", "");
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=participant-row]").length === 2);
  await screenshot(page, "05b-home-rows-en-landscape");
  // Three screenings, a non-enrolment, a consent and one randomisation, kept as
  // training records (the tablet is not enrolled): never synced, and said so; a
  // band on every screen says what training is, and the zone dates are read in.
  assert.equal(await home.pending(), "6 training records, never synced");
  assert.match(await page.textContent("[data-testid=training-band]"), /this tablet's time zone: UTC\+08:00$/);
  await screenshot(page, "06-home-en-landscape");

  // The network goes away; the app still starts, from the service worker.
  await page.evaluate(() => Promise.race([
    navigator.serviceWorker.ready,
    new Promise((_, reject) => setTimeout(() => reject(new Error("no service worker became ready")), 20000)),
  ]));
  await server.stop();
  await page.reload();
  await page.waitForSelector("[data-testid=sign-in]");
  await signIn.signIn("Li Na", "246810");
  await page.waitForSelector("[data-testid=participant-row]");
  const offlineRows = await home.rows();
  assert.deepEqual(offlineRows, rows, "the same participants after an offline reload");

  // Follow-up, still offline: IL-6 at 0 h, with an out-of-range value refused first.
  const followUp = new FollowUp(page);
  const openRandomised = async () => {
    await page.click("[data-testid=participant-row]:has-text('Randomised')");
    await page.waitForSelector("[data-testid=section-samples]");
  };
  await openRandomised();
  await screenshot(page, "11-samples-en-landscape");
  await followUp.openRow("sample-H0");
  await screenshot(page, "12-sample-form-en-landscape");
  await followUp.fill("il6_pg_per_ml", "250000");
  await followUp.save();
  assert.equal(await followUp.fieldError("il6_pg_per_ml"),
    "IL-6: 250000 pg/mL is outside the allowed range 0–100000 pg/mL");
  assert.match(await followUp.problem(), /Not saved/);
  await screenshot(page, "13-sample-out-of-range-en-landscape");
  assert.equal(await home.pending(), "6 training records, never synced", "a refused form writes nothing");
  // A sample cannot be recorded before it is taken.
  await followUp.fill("sampled_at", await localInput(page, -2 * 3600e3));
  assert.equal(await followUp.fieldError("sampled_at"),
    "Sample date-time: must not be later than now (it cannot have happened yet)");
  await followUp.fill("sampled_at", await localInput(page, 0));
  await followUp.fill("il6_pg_per_ml", "120");
  await followUp.save();
  await followUp.saved();
  assert.equal(await followUp.rowState("sample-H0"), "IL-6 120 pg/mL");

  // Six hours later on the browser's clock, the 6 h sample is due and is taken now.
  await page.clock.install();
  await page.clock.fastForward("06:00:00");
  await followUp.openRow("sample-H6");
  await followUp.fill("sampled_at", await localInput(page, 0));
  await followUp.fill("il6_pg_per_ml", "60");
  await followUp.save();
  await followUp.saved();
  assert.equal(await followUp.rowState("sample-H6"), "IL-6 60 pg/mL");
  assert.match(await page.textContent("[data-testid=il6-change-H6]"), /-50\.0 %/);

  // A correction keeps the old value and the reason in the field's history.
  await followUp.openRow("sample-H0");
  await followUp.correct("il6_pg_per_ml", "125", "transcription error");
  assert.equal(await followUp.value("il6_pg_per_ml"), "125 pg/mL");
  assert.match(await followUp.history("il6_pg_per_ml"), /120 pg\/mL → 125 pg\/mL · Reason: transcription error · Li Na/);
  await screenshot(page, "14-sample-corrected-en-landscape");

  // The baseline form, in Chinese: an out-of-range score is named in Chinese, with
  // its range and unit; the vasoactive-inotropic score is computed from the doses.
  await page.click("[data-testid=switch-language]");
  await followUp.section("baseline");
  await followUp.fillAll(BASELINE);
  await followUp.fill("sofa_score", "30");
  await followUp.save();
  assert.equal(readable(await followUp.fieldError("sofa_score")), "SOFA 评分：30 分，超出允许范围（0～24 分）");
  await screenshot(page, "15-baseline-out-of-range-zh-landscape");
  await assertChinese(page, "baseline out of range", typedInEnglish);
  await followUp.fill("sofa_score", BASELINE.sofa_score);
  assert.equal(await page.textContent("[data-testid=vis]"), "血管活性-正性肌力药物评分（VIS，自动计算）：20");
  // Vasopressin (or pituitrin) as prescribed, in U/h: 2 U/h for the screening's
  // 72 kg is stored as 0.000463 U/kg/min, and both show (CRF.md §4); it adds
  // 10 000 × 0.000463 = 4.63 to the score.
  assert.equal(await page.textContent("#vasopressin_u_per_kg_min + .unit"), "U/h");
  await followUp.fill("vasopressin_u_per_kg_min", "2");
  assert.equal(
    readable(await page.textContent("[data-testid=vasopressin_u_per_kg_min-converted]")),
    "＝ 0.000463 U/kg/min（按体重 72 kg 换算）",
  );
  assert.equal(await page.textContent("[data-testid=vis]"), "血管活性-正性肌力药物评分（VIS，自动计算）：24.63");
  await followUp.save();
  await followUp.saved();
  assert.equal(await followUp.tileSummary("baseline"), "已录入");
  await page.click("[data-testid=switch-language]");
  assert.equal(await followUp.value("shock_cause"), "Acute myocardial infarction");
  assert.equal(readable(await followUp.value("vasopressin_u_per_kg_min")), "0.000463 U/kg/min (2 U/h)");
  await screenshot(page, "16-baseline-saved-en-landscape");

  // A hemoperfusion session. In a standard-care participant it is a protocol
  // deviation: the form still saves it, and the core's flag shows.
  await followUp.section("sessions");
  await followUp.openRow("add-hemoperfusion_session");
  await followUp.fillAll({
    cartridge: "ha330", cartridge_lot: "L2026-11", session_started_at: await localInput(page, 2 * 3600e3),
    hp_blood_flow_ml_per_min: 150, circuit_position: "ecmo_circuit", anticoagulation: "heparin",
  });
  await followUp.save();
  await followUp.saved();
  assert.equal(await page.locator("[data-testid=deviation]").count(), allocation.arm === "Standard care" ? 1 : 0);
  assert.equal(await followUp.tileSummary("sessions"), "Saved: 1");
  await screenshot(page, "17-session-saved-en-landscape");

  // Every screen and every new form, at both sizes and in both languages; leaving a
  // form with unsaved input asks first.
  let shot = 20;
  for (const lang of ["en", "zh"]) {
    for (const [orientation, size] of [["landscape", LANDSCAPE], ["portrait", PORTRAIT]]) {
      await page.setViewportSize(size);
      for (const [section, row] of FORMS) {
        await followUp.section(section);
        if (row) await followUp.openRow(row);
        if (section === "adverse-events") {
          // "Not done" only where it is an answer: never for the event's term,
          // severity, seriousness or relatedness.
          const toggles = await page.$$eval("[data-testid$=-not-done]", (all) => all.map((toggle) => toggle.id));
          assert.deepEqual(toggles, ["ae_onset_at-not-done", "ae_action-not-done", "ae_outcome-not-done"]);
        }
        await screenshot(page, `${shot++}-${section}-${lang}-${orientation}`);
        assert.deepEqual(await untidy(page), [], `every form lines up: ${section} ${lang} ${orientation}`);
        const clipped = await page.$$eval("button.section-tile", (tiles) =>
          tiles.filter((tile) => tile.scrollWidth > tile.clientWidth).map((tile) => tile.textContent));
        assert.deepEqual(clipped, [], `every section's name fits its tile: ${lang} ${orientation}`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.equal(overflow, 0, `no horizontal scrolling: ${section} ${lang} ${orientation}`);
        if (lang === "zh") await assertChinese(page, `${section} ${orientation}`, typedInEnglish);
      }
      await followUp.section("end");
      await followUp.choose("end_status", "withdrawn");
      await screenshot(page, `${shot++}-end-withdrawn-${lang}-${orientation}`);
      if (lang === "zh") await assertChinese(page, `end withdrawn ${orientation}`, typedInEnglish);
      const asked = page.waitForEvent("dialog").then((dialog) => dialog.accept());
      await page.click("[data-testid=section-samples]");
      await asked;
      await page.waitForSelector("[data-testid=section-samples][aria-pressed=true]");
    }
    if (lang === "en") await page.click("[data-testid=switch-language]");
  }
  await page.click("[data-testid=switch-language]");
  await page.setViewportSize(LANDSCAPE);
  await followUp.section("timeline");
  const timeline = (await followUp.timeline()).join("\n");
  assert.match(timeline, /Value corrected: Cytokine sample 0 h[^]*IL-6: 120 pg\/mL → 125 pg\/mL[^]*Reason: transcription error/);
  assert.match(timeline, /Form saved: Baseline \(T0\)[^]*SOFA score: 11 points/);
  assert.match(timeline, /Form saved: Cytokine sample 6 h[^]*IL-6: 60 pg\/mL/);

  // Another reload (still offline): everything is still there.
  await page.reload();
  await page.waitForSelector("[data-testid=sign-in]");
  await signIn.signIn("Li Na", "246810");
  // The reload keeps the address: signed in again, the participant is back.
  await page.waitForSelector("[data-testid=section-samples]");
  assert.equal(await followUp.rowState("sample-H0"), "IL-6 125 pg/mL");
  assert.equal(await followUp.rowState("sample-H6"), "IL-6 60 pg/mL");
  assert.equal(await followUp.tileSummary("baseline"), "Saved");
  await followUp.section("timeline");
  assert.deepEqual((await followUp.timeline()).join("\n"), timeline, "the same timeline after a reload");
  await followUp.section("samples");
  await followUp.openRow("sample-H0");
  assert.match(await followUp.history("il6_pg_per_ml"), /Reason: transcription error/);
  await home.open();

  // Chinese, and both orientations.
  await page.click("[data-testid=switch-language]");
  assert.equal(await page.textContent("[data-testid=new-screening]"), "新建筛选");
  await screenshot(page, "07-home-zh-landscape");
  await assertChinese(page, "home", typedInEnglish);
  await page.setViewportSize(PORTRAIT);
  await screenshot(page, "08-home-zh-portrait");
  await home.newScreening();
  await screening.fillEligible();
  assert.equal(await screening.outcome(), "符合入组条件");
  await screenshot(page, "09-screening-eligible-zh-portrait");
  await assertChinese(page, "screening eligible", typedInEnglish);
  await page.click("[data-testid=switch-language]");
  await screenshot(page, "10-screening-eligible-en-portrait");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(overflow, 0, "no horizontal scrolling in portrait");

  assert.deepEqual(errors, []);
  await server.resume();
  await context.close();
});
