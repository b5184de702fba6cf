// Page objects for what a tablet does with the server: enrol, and show where sync
// stands.
import { assert } from "./pages.mjs";

export class Enrol {
  constructor(page) { this.page = page; }
  /** Enrols with `code` from the sign-in screen, and waits for the site's users. */
  async enrol(code) {
    await this.page.fill("#enrolment-code", code);
    await this.page.click("[data-testid=enrol-button]");
    await this.page.waitForSelector("[data-testid=sign-in]");
  }
  async error() { return this.page.textContent("[data-testid=enrol-error]"); }
}

export class SyncStatus {
  constructor(page) { this.page = page; }
  async text() { return this.page.textContent("[data-testid=sync-status]"); }
  async pending() { return this.page.textContent("[data-testid=sync-pending]"); }
  /** Waits until the home screen says everything reached the server. */
  async waitAllSent(timeout = 20_000) {
    try {
      await this.page.waitForFunction(
        () => /All records are on the server|所有记录均已上传/.test(
          document.querySelector("[data-testid=sync-pending]")?.textContent ?? ""),
        null, { timeout },
      );
    } catch (error) {
      // Say where sync stood, so a failure can be understood from the log.
      const status = await this.page.textContent("[data-testid=sync-status]").catch(() => "(no status line)");
      throw new Error(`${error.message}\nsync status: ${status}`);
    }
  }
  /** Taps "Sync now" (also what the timer and the online event do on their own). */
  async syncNow() {
    await this.page.click("[data-testid=sync-now]");
  }
}

/** Waits until the home list shows `n` participants. */
export async function waitForRows(page, n, timeout = 20_000) {
  await page.waitForFunction(
    (expected) => document.querySelectorAll("[data-testid=participant-row]").length === expected,
    n, { timeout },
  );
  const rows = await page.locator("[data-testid=participant-row]").allTextContents();
  assert.equal(rows.length, n);
  return rows;
}
