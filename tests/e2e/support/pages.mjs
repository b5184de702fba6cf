// Page objects: one per screen, so the specs read as what a nurse does.
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const SCREENSHOTS = process.env.HP_ECMO_SCREENSHOTS || "target/e2e-screenshots";

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
      "--disable-component-update", "--no-first-run"],
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

/** A datetime-local value `msAgo` before now, on the browser's own wall clock. */
export async function localInput(page, msAgo) {
  return page.evaluate((ms) => {
    const d = new Date(Date.now() - ms);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  }, msAgo);
}

export class SignIn {
  constructor(page) { this.page = page; }
  async createFirstUser(name, pin) {
    await this.page.fill("#user-name", name);
    await this.page.fill("#new-pin", pin);
    await this.page.fill("#new-pin-again", pin);
    await this.page.click("[data-testid=create-user]");
  }
  async signIn(name, pin) {
    await this.page.click(`label:has-text("${name}")`);
    await this.page.fill("#pin", pin);
    await this.page.click("[data-testid=sign-in]");
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
  async fillEligible({ born = "1970-06-15", ecmoHoursAgo = 3 } = {}) {
    await this.page.fill("#date_of_birth", born);
    await this.answer("sex", "female");
    await this.page.fill("#height_cm", "165");
    await this.page.fill("#weight_kg", "70");
    for (const field of YES) await this.answer(field, "yes");
    for (const field of NO) await this.answer(field, "no");
    await this.page.fill("#lactate_mmol_per_l", "4.2");
    await this.answer("ecmo_mode", "va");
    await this.page.fill("#ecmo_started_at", await localInput(this.page, ecmoHoursAgo * 3600e3));
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

export { assert };
