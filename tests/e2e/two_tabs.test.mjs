// Two tabs of one tablet at the randomise button: both confirm at the same moment,
// one allocation is made and shown, the other tab is told the first allocation
// stands, and only one slot is used. The second tab's sign-in chooser, the
// confirmation and the refusal are screenshotted (the refusal in Chinese).
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

test("two tabs confirming randomisation at once allocate one arm, once", async () => {
  const context = await browser.newContext({ viewport: LANDSCAPE, locale: "en-GB", timezoneId: "Asia/Shanghai" });
  const first = await context.newPage();
  const errors = watchErrors(first);
  await first.goto(server.url);
  await first.waitForSelector("#user-name");
  await new SignIn(first).createFirstUser("Chen Jing", "482610");
  await new Home(first).newScreening();
  await new Screening(first).fillEligible();
  await new Screening(first).save();
  const participant = new Participant(first);
  await participant.recordConsent();
  await participant.startTraining();
  const address = first.url();

  // The same tablet, a second tab: the same records, its own sign-in.
  const second = await context.newPage();
  const secondErrors = watchErrors(second);
  await second.setViewportSize(PORTRAIT);
  await second.goto(address);
  await second.waitForSelector("[data-testid=sign-in]");
  await screenshot(second, "60-sign-in-choose-en-portrait");
  await new SignIn(second).signIn("Chen Jing", "482610");
  await second.waitForSelector("[data-testid=randomise-button]:not([disabled])");
  await second.click("[data-testid=switch-language]");

  for (const page of [first, second]) await page.click("[data-testid=randomise-button]");
  await screenshot(first, "61-randomise-confirm-en-landscape");
  // Both taps leave in one turn of the test's event loop, without Playwright's
  // waits for the button to settle: on a loaded machine those let the first tab's
  // allocation reach the second tab, whose button is then gone before its tap,
  // and the race the store must decide never happens.
  await Promise.all([first, second].map((page) => page.$eval(
    "[data-testid=confirm-randomise]", (button) => button.click())));

  // Exactly one tab shows an allocation; the other says the first one stands.
  await Promise.all([first, second].map((page) => page.waitForSelector(
    "[data-testid=allocated-arm], [data-testid=randomise-problem]:not(:empty), [data-testid=section-samples]")));
  const shown = [];
  for (const page of [first, second]) {
    if (await page.locator("[data-testid=allocated-arm]").count() > 0) shown.push(page);
  }
  assert.equal(shown.length, 1, "one tab shows the allocation");
  const refused = shown[0] === first ? second : first;
  // The losing tab says why, or (when the other tab's write reached it first) its
  // status already reads randomised; its empty problem line is no answer.
  const refusal = await refused.evaluate(() =>
    document.querySelector("[data-testid=randomise-problem]")?.textContent
    || document.querySelector("[data-testid=participant-status]")?.textContent);
  assert.match(refusal, /already randomised|^Randomised: |已随机/);
  await screenshot(second, "62-two-tabs-second-zh-portrait");

  // One randomisation on record: one Randomised row, one event in the timeline.
  const home = new Home(first);
  await home.open();
  const rows = await home.rows();
  assert.equal(rows.length, 1);
  assert.match(rows[0], /Randomised/);
  // The screening, the consent and one randomisation, as training records (this
  // tablet is not enrolled): never synced, and not called so.
  assert.equal(await home.pending(), "3 training records, never synced");
  await first.click("[data-testid=participant-row]");
  await first.click("[data-testid=section-timeline]");
  const timeline = await first.locator("[data-testid=timeline-entry]").allTextContents();
  assert.equal(timeline.filter((entry) => /Randomised:/.test(entry)).length, 1, timeline.join("\n"));
  assert.match(timeline.find((entry) => /Randomised:/.test(entry)), /TR-[0-9A-F]{4}-001/, "the lease's first slot");

  assert.deepEqual(errors, []);
  assert.deepEqual(secondErrors, []);
  await context.close();
});
