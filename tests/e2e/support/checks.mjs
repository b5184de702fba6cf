// What a spec reads beside the screen: the tablet's own event log (to count what
// a tap wrote) and axe-core's accessibility verdict on the page as it stands.
import { readFileSync } from "node:fs";

const AXE = readFileSync(new URL("../../../node_modules/axe-core/axe.min.js", import.meta.url), "utf8");

/** The kinds of the events the tablet holds, in the order they are stored,
 *  read from its IndexedDB log ("consent_recorded", …), optionally only those
 *  about one participant. */
export async function eventKinds(page, participantId) {
  return page.evaluate((participant) => new Promise((resolve, reject) => {
    const open = indexedDB.open("hp-ecmo");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const request = db.transaction("events", "readonly").objectStore("events").getAll();
      request.onerror = () => reject(request.error);
      request.onsuccess = () => {
        db.close();
        resolve(request.result
          .filter((event) => !participant || event.participant_id === participant)
          .map((event) => event.kind));
      };
    };
  }), participantId ?? null);
}

/** How many users the tablet holds. */
export async function userCount(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open("hp-ecmo");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const request = db.transaction("users", "readonly").objectStore("users").count();
      request.onerror = () => reject(request.error);
      request.onsuccess = () => { db.close(); resolve(request.result); };
    };
  }));
}

/** Taps `selector` `times` times in one turn of the page's event loop, as fast
 *  as a double or triple tap can land: before the page can re-render, so the
 *  button cannot yet show itself disabled and only the app's own guard stands
 *  between the taps and a second record. */
export async function tapRepeatedly(page, selector, times) {
  await page.waitForSelector(`${selector}:not([disabled])`);
  await page.$eval(selector, (button, n) => {
    for (let tap = 0; tap < n; tap += 1) button.click();
  }, times);
}

/** axe-core's violations on the page as it stands, one line each ("rule: the
 *  elements"); the strict Content-Security-Policy is no obstacle, since the
 *  script is evaluated by the test driver, not loaded by the page. */
export async function axeViolations(page) {
  const loaded = await page.evaluate(() => typeof window.axe !== "undefined");
  if (!loaded) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((violation) =>
      `${violation.id}: ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`);
  });
  return violations;
}

/** The participant id of the page shown, from its address. */
export function participantIdOf(page) {
  return new URL(page.url()).pathname.split("/").pop();
}
