// The bedside journey on a ward network: the server serves HTTPS under a ward-like
// name (ward.hp-ecmo.test, which this browser resolves to 127.0.0.1) with the
// certificate of its own local CA (`--self-signed`), which the browser trusts by
// the served certificate's key pin (Chromium pins keys of the chain the server
// presents), as a tablet trusts it once the CA is installed. The service worker
// installs, the tablet enrols, screens, randomises, loses the network, reloads
// from the service worker, comes back and syncs. The same name over plain HTTP
// gets the page that says to open it over HTTPS, and nothing is stored there.
import { after, before, test } from "node:test";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { TestServer } from "./support/server.mjs";
import {
  Home, LANDSCAPE, PORTRAIT, Participant, Screening, SignIn, assert, assertChinese, launch, screenshot, watchErrors,
} from "./support/pages.mjs";
import { Enrol, SyncStatus, waitForRows } from "./support/tablet.mjs";

const WARD = "ward.hp-ecmo.test";

let secure;
let plain;
let browser;
before(async () => {
  secure = await TestServer.start({ selfSigned: WARD });
  plain = await TestServer.start();
  // The server certificate the local CA issued, beside the CA's in the data folder.
  const served = new X509Certificate(readFileSync(join(dirname(secure.caCertificatePath()), "server.crt")));
  const pin = createHash("sha256").update(served.publicKey.export({ type: "spki", format: "der" })).digest("base64");
  browser = await launch([`--host-resolver-rules=MAP ${WARD} 127.0.0.1`, `--ignore-certificate-errors-spki-list=${pin}`]);
});
after(async () => {
  await browser?.close();
  await secure?.stop();
  await plain?.stop();
});

test("over HTTPS under the ward's name, the tablet installs, works offline and syncs", async () => {
  const context = await browser.newContext({ viewport: LANDSCAPE, locale: "en-GB", timezoneId: "Asia/Shanghai" });
  const page = await context.newPage();
  const errors = watchErrors(page);
  // Every Content-Security-Policy violation any page of the journey reports.
  const violations = [];
  await context.exposeFunction("reportViolation", (text) => violations.push(text));
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) =>
      window.reportViolation(`${event.violatedDirective}: ${event.blockedURI}`));
  });
  const enrol = new Enrol(page);
  const signIn = new SignIn(page);
  const home = new Home(page);
  const screening = new Screening(page);
  const participant = new Participant(page);
  const sync = new SyncStatus(page);

  assert.match(secure.output, new RegExp(`Server certificate for ${WARD.replaceAll(".", "\\.")}`));
  const first = await page.goto(`${secure.url}/`);
  // The app runs under the strict policy: no inline script, no eval but wasm's.
  const policy = first.headers()["content-security-policy"] ?? "";
  for (const directive of ["script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'"]) {
    assert.ok(policy.includes(directive), `${directive} in ${policy}`);
  }
  await page.waitForSelector("#enrolment-code");
  assert.equal(await page.evaluate(() => window.isSecureContext), true);
  // The service worker installs and takes the page over.
  await page.evaluate(async () => { await navigator.serviceWorker.ready; });
  await page.reload();
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);

  await enrol.enrol(secure.enrolmentCode());
  await signIn.signIn("Investigator", secure.firstUserPin());
  await page.waitForSelector("[data-testid=sync-status]");
  await home.newScreening();
  await screening.fillEligible();
  await screening.save();
  await participant.recordConsent();
  const allocated = await participant.randomiseWithDoubleTap();
  assert.match(allocated.studyNumber, /-T1-001$/);
  await home.open();
  await sync.waitAllSent();

  // The network goes: the app reloads from the service worker, and a screening
  // recorded meanwhile waits on the tablet.
  await context.setOffline(true);
  await page.reload();
  await signIn.signIn("Investigator", secure.firstUserPin());
  await waitForRows(page, 1);
  await home.newScreening();
  await screening.fillEligible({ born: "1961-02-03" });
  await screening.save();
  await home.open();
  await page.waitForSelector("[data-testid=sync-phase]:has-text('Offline')");
  assert.match(await sync.pending(), /^1 waiting to sync/);
  await screenshot(page, "60-ward-offline-en-landscape");

  // Back on the network, it syncs on its own.
  await context.setOffline(false);
  await sync.waitAllSent();
  await waitForRows(page, 2);
  const expected = /ERR_INTERNET_DISCONNECTED/;
  assert.deepEqual(errors.filter((error) => !expected.test(error)), []);
  // The listener hears what the policy blocks (an inline script), and heard
  // nothing else on the whole journey.
  await page.evaluate(() => document.body.append(Object.assign(document.createElement("script"), { textContent: "1" })));
  await page.waitForTimeout(200);
  assert.deepEqual(violations, ["script-src-elem: inline"], "no policy violation but the test's own");
  await context.close();
});

test("over plain HTTP under the ward's name, the app says to open it over HTTPS", async () => {
  for (const [locale, viewport, orientation] of [["en-GB", LANDSCAPE, "landscape"], ["zh-CN", PORTRAIT, "portrait"]]) {
    const context = await browser.newContext({ viewport, locale });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`http://${WARD}:${plain.port}/`);
    await page.waitForSelector("[data-testid=insecure-origin]");
    assert.equal(await page.evaluate(() => window.isSecureContext), false);
    const text = await page.textContent("[data-testid=insecure-origin]");
    const zh = locale.startsWith("zh");
    assert.match(text, zh ? /请通过 HTTPS 打开 HP-ECMO/ : /Open HP-ECMO over HTTPS/);
    assert.equal(await page.textContent("[data-testid=secure-address]"), `https://${WARD}/`);
    // Nothing starts here: no enrolment, no sign-in, no database.
    assert.equal(await page.locator("#enrolment-code, [data-testid=sign-in]").count(), 0);
    assert.deepEqual(await page.evaluate(async () => (await indexedDB.databases()).map((db) => db.name)), []);
    // The address and the protocol's name are Latin by nature.
    if (zh) await assertChinese(page, "insecure origin", { englishWords: false });
    await screenshot(page, `61-insecure-origin-${zh ? "zh" : "en"}-${orientation}`);
    assert.deepEqual(errors, []);
    await context.close();
  }
});
