// The bedside journey, end to end against the real server and the release build:
// set up the tablet, screen an ineligible and an eligible patient (with bad input on
// the way), consent, randomise with a double tap, lose the network, reload, sign in
// again and find everything; screenshots of each screen at both tablet sizes and in
// both languages.
import { after, before, test } from "node:test";
import { TestServer } from "./support/server.mjs";
import {
  Home, LANDSCAPE, PORTRAIT, Participant, Screening, SignIn, assert, launch, screenshot, watchErrors,
} from "./support/pages.mjs";

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
  await signIn.createFirstUser("Li Na", "2468");
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

  // An eligible patient: consent, training lease, randomise with a double tap.
  await home.open();
  await home.newScreening();
  await screening.fillEligible();
  assert.equal(await screening.outcome(), "Eligible");
  assert.match(await page.textContent("[data-testid=window]"), /closes in 2[01] h/);
  await screenshot(page, "04-screening-eligible-en-landscape");
  await screening.save();
  assert.equal(await participant.status(), "Eligible");
  assert.match(await page.textContent("[data-testid=randomise-blocked]"), /consent/i);
  await participant.recordConsent();
  await participant.startTraining();
  const allocation = await participant.randomiseWithDoubleTap();
  assert.match(allocation.arm, /^(Hemoperfusion|Standard care)$/);
  assert.match(allocation.studyNumber, /^TR-[0-9A-F]{4}-001$/);
  await screenshot(page, "05-allocation-en-landscape");

  await home.open();
  const rows = await home.rows();
  assert.equal(rows.length, 2, rows.join("\n"));
  assert.equal(rows.filter((row) => row.includes("Randomised")).length, 1, "randomised once");
  // Two screenings, a consent and one randomisation wait for the server.
  assert.equal(await home.pending(), "4 not synced");
  await screenshot(page, "06-home-en-landscape");

  // The network goes away; the app still starts, from the service worker.
  await page.evaluate(() => Promise.race([
    navigator.serviceWorker.ready,
    new Promise((_, reject) => setTimeout(() => reject(new Error("no service worker became ready")), 20000)),
  ]));
  await server.stop();
  await page.reload();
  await page.waitForSelector("[data-testid=sign-in]");
  await signIn.signIn("Li Na", "2468");
  await page.waitForSelector("[data-testid=participant-row]");
  const offlineRows = await home.rows();
  assert.deepEqual(offlineRows, rows, "the same participants after an offline reload");

  // Chinese, and both orientations.
  await page.click("[data-testid=switch-language]");
  assert.equal(await page.textContent("[data-testid=new-screening]"), "新建筛选");
  await screenshot(page, "07-home-zh-landscape");
  await page.setViewportSize(PORTRAIT);
  await screenshot(page, "08-home-zh-portrait");
  await home.newScreening();
  await screening.fillEligible();
  assert.equal(await screening.outcome(), "符合入组条件");
  await screenshot(page, "09-screening-eligible-zh-portrait");
  await page.click("[data-testid=switch-language]");
  await screenshot(page, "10-screening-eligible-en-portrait");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(overflow, 0, "no horizontal scrolling in portrait");

  assert.deepEqual(errors, []);
  await server.resume();
  await context.close();
});
