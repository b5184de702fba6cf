// A lost tablet cannot be tried PIN after PIN from its screen: after 5 wrong PINs
// in a row for a user the tablet waits 30 s before it checks another, then 60 s
// after the next wrong one, and a reload does not reset the count; a double tap
// on "Sign in" is one try. The right PIN after the wait signs in and clears the
// count. Each lockout reaches the coordinator at the next sync. The PIN hashes the
// server hands the tablet cost a million PBKDF2 rounds,
// which the tablet checks with the browser's own PBKDF2.
import { after, before, test } from "node:test";
import { TestServer } from "./support/server.mjs";
import { LANDSCAPE, SignIn, assert, launch, screenshot, watchErrors } from "./support/pages.mjs";
import { Enrol, SyncStatus } from "./support/tablet.mjs";

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

/** Waits until `holds()` is true, for at most 20 s. */
async function waitFor(holds) {
  for (let tries = 0; tries < 100; tries += 1) {
    if (holds()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail("not within 20 s");
}

test("five wrong PINs make the tablet wait, doubling, across a reload", async () => {
  const context = await browser.newContext({ viewport: LANDSCAPE, locale: "en-GB", timezoneId: "Asia/Shanghai" });
  const page = await context.newPage();
  const errors = watchErrors(page);
  // The page's clock is Playwright's, so the waits pass in an instant.
  await page.clock.install();
  await page.goto(server.url);
  await page.waitForSelector("#enrolment-code");
  await new Enrol(page).enrol(server.enrolmentCode());
  await page.waitForSelector("fieldset.users label");

  const pin = server.firstUserPin();
  const wrong = pin === "000000" ? "111111" : "000000";
  const message = () => page.textContent("form [role=alert]");
  /** Types `typed` for the first user and taps "Sign in" (`taps` times at once),
   *  then waits for the answer: a new message (each wrong PIN says how many tries
   *  are left, or how long to wait), or the home list. */
  const attempt = async (typed, taps = 1) => {
    const before = await message();
    await page.locator("fieldset.users label").first().click();
    await page.fill("#pin", typed);
    await page.$eval("[data-testid=sign-in]", (button, taps) => {
      for (let tap = 0; tap < taps; tap += 1) button.click();
    }, taps);
    await page.waitForFunction((before) => document.querySelector("[data-testid=sign-out]")
      || document.querySelector("form [role=alert]")?.textContent !== before, before);
    return (await page.locator("[data-testid=sign-out]").count()) ? "signed in" : message();
  };

  assert.equal(await attempt(wrong), "Wrong PIN: 4 tries left before a wait");
  assert.equal(await attempt(wrong), "Wrong PIN: 3 tries left before a wait");
  assert.equal(await attempt(wrong), "Wrong PIN: 2 tries left before a wait");
  assert.equal(await attempt(wrong, 2), "Wrong PIN: 1 try left before a wait", "a double tap is one try");
  assert.equal(await attempt(wrong), "Wrong PIN, 5 times in a row: try again in 30 s");
  await screenshot(page, "pin-lockout-en-landscape");
  // While it waits, not even the right PIN is checked; a reload changes nothing.
  assert.equal(await attempt(pin), "Too many wrong PINs: try again in 30 s");
  await page.clock.fastForward("00:10");
  await page.reload();
  await page.waitForSelector("fieldset.users label");
  assert.equal(await attempt(pin), "Too many wrong PINs: try again in 20 s", "after a reload");
  await page.clock.fastForward("00:21");
  assert.equal(await attempt(wrong), "Wrong PIN, 6 times in a row: try again in 60 s", "the sixth doubles it");
  await page.clock.fastForward("01:01");
  assert.equal(await attempt(pin), "signed in");

  // Each lockout is an audit record that syncs: the coordinator sees both.
  await new SyncStatus(page).syncNow();
  await waitFor(() => /PIN lockouts at site BJ: 2\n/.test(server.queries()));
  assert.match(server.queries(), /- tablet T1, Investigator: 5 wrong PINs in a row, a 30 s wait from [^\n]*\n- tablet T1, Investigator: 6 wrong PINs in a row, a 60 s wait/);

  // The right PIN cleared the count: a wrong PIN has its five tries again.
  await page.click("[data-testid=sign-out]");
  await page.waitForSelector("[data-testid=sign-in]");
  assert.equal(await attempt(wrong), "Wrong PIN: 4 tries left before a wait");

  // What a lost tablet holds: hashes of a million rounds, never a PIN.
  const users = await page.evaluate(() => new Promise((resolve, reject) => {
    const request = indexedDB.open("hp-ecmo");
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
      const all = request.result.transaction("users").objectStore("users").getAll();
      all.onsuccess = () => resolve(all.result);
    };
  }));
  assert.ok(users.length > 0);
  for (const user of users) {
    assert.deepEqual(Object.keys(user.pin).sort(), ["hash", "iterations", "salt"], user.name);
    assert.equal(user.pin.iterations, 1_000_000, user.name);
  }
  assert.deepEqual(errors.filter((error) => !/ERR_INTERNET_DISCONNECTED|status of 409/.test(error)), []);
  await context.close();
});

test("a PIN set before six digits were needed is replaced at the next sign-in", async () => {
  const legacy = await TestServer.start();
  try {
    legacy.setLegacyPin("Investigator", "2468");
    const context = await browser.newContext({ viewport: LANDSCAPE, locale: "en-GB", timezoneId: "Asia/Shanghai" });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(legacy.url);
    await page.waitForSelector("#enrolment-code");
    await new Enrol(page).enrol(legacy.enrolmentCode());
    const signIn = new SignIn(page);
    const changeScreen = async (pin) => {
      await page.locator("fieldset.users label").first().click();
      await page.fill("#pin", pin);
      await page.click("[data-testid=sign-in]");
      await page.waitForSelector("[data-testid=change-pin]");
    };
    // Offline, the change waits for the server: the old PIN signs in for now.
    await changeScreen("2468");
    await screenshot(page, "pin-change-en-landscape");
    await context.setOffline(true);
    await page.fill("#changed-pin", "135790");
    await page.fill("#changed-pin-again", "135790");
    await page.click("[data-testid=change-pin-button]");
    await page.click("[data-testid=change-pin-later]");
    await page.waitForSelector("[data-testid=sign-out]");
    await page.click("[data-testid=sign-out]");
    await context.setOffline(false);

    // Online: a new PIN must follow the rule, and then replaces the old one.
    await changeScreen("2468");
    await page.fill("#changed-pin", "13579");
    await page.fill("#changed-pin-again", "13579");
    await page.click("[data-testid=change-pin-button]");
    assert.equal(await page.textContent("[data-testid=change-pin-error]"), "New PIN: 6 to 8 digits (0–9), nothing else");
    await page.fill("#changed-pin", "135790");
    await page.fill("#changed-pin-again", "135790");
    await page.click("[data-testid=change-pin-button]");
    await page.waitForSelector("[data-testid=sign-out]");
    await page.click("[data-testid=sign-out]");
    await signIn.signIn("Investigator", "2468");
    assert.equal(await page.textContent("form [role=alert]"), "Wrong PIN: 4 tries left before a wait", "the old PIN is gone");
    await signIn.signIn("Investigator", "135790");
    await page.waitForSelector("[data-testid=sign-out]");
    assert.equal(await page.locator("[data-testid=change-pin]").count(), 0, "asked once");
    assert.deepEqual(errors.filter((error) => !/ERR_INTERNET_DISCONNECTED|status of 409|status of 422/.test(error)), []);
    await context.close();
  } finally {
    await legacy.stop();
  }
});
