// Page objects: one per screen, so the specs read as what a nurse does.
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const SCREENSHOTS = process.env.HP_ECMO_SCREENSHOTS || "target/e2e-screenshots";

export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
      "--disable-component-update", "--no-first-run", ...extraArgs],
  });
}

export const LANDSCAPE = { width: 1280, height: 800 };
export const PORTRAIT = { width: 800, height: 1280 };

/** Collects script errors and console errors of the page; the spec asserts there
 *  are none, and a failing step prints them. */
export function watchErrors(page) {
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  process.on("exit", () => {
    if (errors.length > 0) console.error(`page errors:\n${errors.join("\n")}`);
  });
  return errors;
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** A date-time as typed, `msAgo` before now, on the clock of `timeZone` (the
 *  browser's own zone when not given). */
export async function localInput(page, msAgo, timeZone) {
  return page.evaluate(([ms, timeZone]) => {
    const format = new Intl.DateTimeFormat("en-CA", {
      timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
    const part = Object.fromEntries(format.formatToParts(new Date(Date.now() - ms)).map(({ type, value }) => [type, value]));
    return `${part.year}-${part.month}-${part.day}T${part.hour}:${part.minute}`;
  }, [msAgo, timeZone]);
}

export class SignIn {
  constructor(page) { this.page = page; }
  async createFirstUser(name, pin) {
    await this.page.fill("#user-name", name);
    await this.page.fill("#new-pin", pin);
    await this.page.fill("#new-pin-again", pin);
    await this.page.click("[data-testid=create-user]");
  }
  /** Signs in, and waits for the answer: the PIN is checked asynchronously
   *  (WebCrypto), so the next step must not race it. */
  async signIn(name, pin) {
    await this.page.click(`label:has-text("${name}")`);
    await this.page.fill("#pin", pin);
    await this.page.click("[data-testid=sign-in]");
    await this.page.waitForFunction(() => document.querySelector("[data-testid=sign-out]")
      || document.querySelector("form [role=alert]")?.textContent);
  }
}

export class Home {
  constructor(page) { this.page = page; }
  async open() { await this.page.click(".app-title"); await this.page.waitForSelector("[data-testid=new-screening]"); }
  async newScreening() { await this.page.click("[data-testid=new-screening]"); await this.page.waitForSelector("[data-testid=eligibility]"); }
  async rows() { return this.page.locator("[data-testid=participant-row]").allTextContents(); }
  async pending() { return this.page.textContent("[data-testid=pending-count]"); }
}

const YES = ["admitted_to_icu", "sbp_below90_for30_min", "pulmonary_congestion", "altered_mental_status",
  "ecmo_cardiopulmonary_support"];
const NO = ["map_below65_for30_min", "vasopressors_to_keep_sbp90", "elevated_lv_filling_pressure", "cold_clammy_skin",
  "oliguria", "consent_refused", "active_haemorrhage", "thrombocytopenic_purpura", "bridge_to_vad_or_transplant",
  "infection"];

export class Screening {
  constructor(page) { this.page = page; }
  async answer(field, answer) { await this.page.click(`label[for=${field}-${answer}]`); }
  async fillEligible({ born = "1970-06-15", ecmoHoursAgo = 3, initials = "zwl", bed = "12", zone } = {}) {
    await this.page.fill("#patient_initials", initials);
    await this.page.fill("#bed", bed);
    await this.page.fill("#date_of_birth", born);
    await this.answer("sex", "female");
    await this.page.fill("#height_cm", "165");
    await this.page.fill("#weight_kg", "70");
    for (const field of YES) await this.answer(field, "yes");
    for (const field of NO) await this.answer(field, "no");
    await this.page.fill("#lactate_mmol_per_l", "4.2");
    await this.answer("ecmo_mode", "va");
    await this.page.fill("#ecmo_started_at", await localInput(this.page, ecmoHoursAgo * 3600e3, zone));
  }
  async outcome() { return this.page.textContent("[data-testid=outcome]"); }
  async eligibilityText() { return this.page.textContent("[data-testid=eligibility]"); }
  async fieldError(field) { return this.page.textContent(`[data-testid=${field}-error]`); }
  async save() {
    await this.page.click("[data-testid=save-screening]");
    await this.page.waitForSelector("[data-testid=participant-title]");
  }
}

export class Participant {
  constructor(page) { this.page = page; }
  async status() { return this.page.textContent("[data-testid=participant-status]"); }
  async recordConsent(version = "2.1") {
    await this.page.click("label[for=consent_given_by-patient]");
    await this.page.fill("#consent_form_version", version);
    await this.page.click("[data-testid=save-consent]");
    await this.page.waitForSelector("[data-testid=consent-recorded]");
  }
  async startTraining() {
    await this.page.click("[data-testid=start-training]");
    await this.page.waitForSelector("[data-testid=training-badge]");
  }
  /** Randomises, tapping the confirmation twice before the button can react: both
   *  taps reach the app, and only the store stands between them and a second slot. */
  async randomiseWithDoubleTap() {
    await this.page.click("[data-testid=randomise-button]");
    await this.page.$eval("[data-testid=confirm-randomise]", (button) => { button.click(); button.click(); });
    await this.page.waitForSelector("[data-testid=allocated-arm]");
    return {
      arm: await this.page.textContent("[data-testid=allocated-arm]"),
      studyNumber: await this.page.textContent("[data-testid=study-number]"),
      /** What the card says before the arm when the allocation is training's. */
      training: await this.page.$eval("[data-testid=allocation]",
        (card) => card.querySelector("[data-testid=allocation-training]")?.textContent ?? null),
    };
  }
}

/** A randomised participant's follow-up: section tiles, one form open at a time,
 *  inputs named by their field's key. */
export class FollowUp {
  constructor(page) { this.page = page; }
  async section(key) {
    await this.page.click(`[data-testid=section-${key}]`);
    await this.page.waitForSelector(`[data-testid=section-${key}][aria-pressed=true]`);
  }
  async tileSummary(key) { return this.page.textContent(`[data-testid=section-${key}] .section-summary`); }
  /** Taps a row (a time point, a day) or "Add", and waits for its form or saved values. */
  async openRow(testid) {
    await this.page.click(`[data-testid=${testid}]`);
    await this.page.waitForSelector("[data-testid=form-editor], [data-testid=saved-form]");
  }
  async rowState(testid) { return this.page.textContent(`[data-testid=${testid}] .state`); }
  async fill(field, value) { await this.page.fill(`#${field}`, String(value)); }
  async choose(field, option) { await this.page.click(`label[for=${field}-${option}]`); }
  /** Types each value into its field's input, or taps it among the field's buttons. */
  async fillAll(values) {
    for (const [field, value] of Object.entries(values)) {
      if (await this.page.locator(`#${field}`).count() > 0) await this.fill(field, value);
      else await this.choose(field, value);
    }
  }
  /** Taps "Save"; the saved values replace the form when the save went through. */
  async save() { await this.page.click("[data-testid=save-form]"); }
  async saved() { await this.page.waitForSelector("[data-testid=saved-form]"); }
  async problem() { return this.page.textContent("[data-testid=form-problem]"); }
  async fieldError(field) { return this.page.textContent(`[data-testid=${field}-error]`); }
  async value(field) { return this.page.textContent(`[data-testid=value-${field}]`); }
  async history(field) { return this.page.textContent(`[data-testid=history-${field}]`); }
  async correct(field, value, reason) {
    await this.page.click(`[data-testid=correct-${field}]`);
    await this.page.waitForSelector("[data-testid=correction]");
    await this.fill(field, value);
    await this.page.fill("[data-testid=correction-reason]", reason);
    await this.page.click("[data-testid=save-correction]");
    await this.page.waitForSelector("[data-testid=correction]", { state: "detached" });
  }
  async timeline() { return this.page.locator("[data-testid=timeline-entry]").allTextContents(); }
}

/** The glossary of Chinese terms (src/i18n/GLOSSARY.md): the chosen terms, and
 *  the retired ones that may appear only inside a chosen term. */
const GLOSSARY = (() => {
  const markdown = readFileSync(new URL("../../../src/i18n/GLOSSARY.md", import.meta.url), "utf8");
  const terms = (cell) => cell.split("`").filter((_, index) => index % 2 === 1);
  const rows = markdown.split("\n").filter((line) => line.startsWith("|") && !line.startsWith("|---")).slice(1);
  const cells = rows.map((row) => row.replace(/^\||\|$/g, "").split("|"));
  return { chosen: cells.flatMap((row) => terms(row[1])), retired: cells.flatMap((row) => terms(row[2])) };
})();

const CHINESE = /[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]/;

/** Latin words a Chinese screen may show: names of drugs, scores, devices and
 *  units as Chinese ICUs write them, and the data of the test (user and site
 *  names). Anything else is English left untranslated. */
const LATIN_WORDS = new Set([
  "HP", "ECMO", "IL", "TNF", "PIN", "VA", "VV", "SOFA", "APACHE", "II", "SAVE", "BMI", "ICU", "ECPR", "CRRT",
  "HA", "CytoSorb", "VIS", "SAE", "CONSORT", "TR", "LV", "VAD", "log",
  "cm", "kg", "mmol", "mmHg", "min", "mL", "pg", "mol", "MB", "https", "localhost",
  "English", "Investigator", "Beijing", "Anzhen", "Hospital",
  // A UTC offset is written "UTC+08:00" in Chinese text as well (the training band).
  "UTC",
]);

/** What is wrong with the Chinese text of a screen (its `document.body.innerText`):
 *  an ASCII colon, full stop or bracket next to Chinese (a decimal like 3.2, a time
 *  like 14:05 and an address's "://" are fine), a retired term of the glossary, or,
 *  unless `englishWords` is false (a journey that typed English data), an English
 *  word. */
export function chineseTextProblems(text, { englishWords = true } = {}) {
  const problems = [];
  const context = (index) => JSON.stringify(text.slice(Math.max(0, index - 12), index + 12));
  for (const match of text.matchAll(/[:.()]/g)) {
    const index = match.index;
    const [before, after] = [text[index - 1] ?? "", text[index + 1] ?? ""];
    if (/[.:]/.test(match[0]) && /\d/.test(before) && /\d/.test(after)) continue;
    if (match[0] === ":" && text.startsWith("//", index + 1)) continue;
    // The nearest neighbours on the same line, spaces skipped.
    let left = index - 1;
    while (text[left] === " " || text[left] === "\u00a0") left -= 1;
    let right = index + 1;
    while (text[right] === " " || text[right] === "\u00a0") right += 1;
    if (CHINESE.test(text[left] ?? "") || CHINESE.test(text[right] ?? "")) {
      problems.push(`ASCII "${match[0]}" next to Chinese: ${context(index)}`);
    }
  }
  const inside = GLOSSARY.chosen.flatMap((term) => [...text.matchAll(new RegExp(escape(term), "g"))]
    .map((found) => [found.index, found.index + term.length]));
  for (const term of GLOSSARY.retired) {
    for (const found of text.matchAll(new RegExp(escape(term), "g"))) {
      const [from, to] = [found.index, found.index + term.length];
      if (!inside.some(([start, end]) => start <= from && to <= end)) {
        problems.push(`retired term "${term}": ${context(from)}`);
      }
    }
  }
  // Hexadecimal device and study numbers (66BB, TR-66BB-001) are not words, nor
  // are a patient's initials (ZWL: a Chinese name's pinyin initials).
  const words = englishWords ? text.replace(/\b[0-9A-F]{4}\b|\b[A-Z]{2,4}\b/g, " ").match(/[A-Za-z]{2,}/g) ?? [] : [];
  for (const word of words.filter((word) => !LATIN_WORDS.has(word))) {
    problems.push(`English word "${word}"`);
  }
  return problems;
}

function escape(term) {
  return term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A text as a reader sees it: the no-break spaces and word joiners (U+2060) that
 *  keep Chinese "0～24 分" on one line read as a space and as nothing. */
export function readable(text) {
  return text.replaceAll("\u2060", "").replaceAll("\u00a0", " ");
}

/** Asserts that the page, in Chinese, reads as Chinese (`chineseTextProblems`). */
export async function assertChinese(page, where, options = {}) {
  const text = await page.evaluate(() => document.body.innerText);
  const problems = chineseTextProblems(text, options);
  assert.deepEqual(problems, [], `${where}: the Chinese screen reads wrong:\n${problems.join("\n")}`);
}

export { assert };
