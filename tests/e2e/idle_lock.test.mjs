// A tablet left alone locks after 5 minutes, and the nurse who comes back finds
// her half-typed form exactly as she left it; a wrong PIN does not unlock it, and
// nothing on the locked screen leads away. Unlocked, leaving the form asks first.
import { after, before, test } from "node:test";
import { TestServer } from "./support/server.mjs";
import { Home, LANDSCAPE, SignIn, assert, launch, screenshot, watchErrors } from "./support/pages.mjs";

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

test("the screen locks after 5 idle minutes without losing the open form", async () => {
  const context = await browser.newContext({ viewport: LANDSCAPE, locale: "en-GB", timezoneId: "Asia/Shanghai" });
  const page = await context.newPage();
  const errors = watchErrors(page);
  // The page's clock is Playwright's, so five minutes pass in an instant.
  await page.clock.install();
  await page.goto(server.url);
  await page.waitForSelector("#user-name");
  await new SignIn(page).createFirstUser("Wang Fang", "135702");
  const home = new Home(page);
  await home.newScreening();
  await page.fill("#height_cm", "172");

  await page.clock.fastForward("04:00");
  assert.equal(await page.locator("[data-testid=lock-screen]").count(), 0, "not locked after 4 minutes");
  await page.clock.fastForward("01:30");
  await page.waitForSelector("[data-testid=lock-screen]");
  assert.equal(await page.isVisible("#height_cm"), false, "the form is hidden while locked");
  await screenshot(page, "30-locked-en-landscape");

  // Nothing on the locked screen leads away from the hidden form.
  assert.equal(await page.locator("[data-testid=sign-out]").count(), 0, "no sign-out while locked");
  await page.click(".app-title");
  assert.match(page.url(), /\/screening\/new$/, "the title goes nowhere while locked");

  await page.fill("#unlock-pin", "9999");
  await page.click("[data-testid=unlock]");
  await page.waitForFunction(() => document.querySelector("[data-testid=lock-screen] [role=alert]")?.textContent);
  assert.equal(await page.textContent("[data-testid=lock-screen] [role=alert]"), "Wrong PIN: 4 tries left before a wait");
  await page.fill("#unlock-pin", "135702");
  await page.click("[data-testid=unlock]");
  await page.waitForSelector("#height_cm");
  assert.equal(await page.inputValue("#height_cm"), "172", "the typed value survived the lock");

  // Leaving the half-typed form asks first; saying no keeps it.
  const declined = page.waitForEvent("dialog").then((dialog) => dialog.dismiss());
  await page.click(".app-title");
  await declined;
  assert.equal(await page.inputValue("#height_cm"), "172", "declining keeps the form");
  const accepted = page.waitForEvent("dialog").then((dialog) => dialog.accept());
  await page.click("[data-testid=sign-out]");
  await accepted;
  await page.waitForSelector("[data-testid=sign-in]");
  assert.deepEqual(errors, []);
});
