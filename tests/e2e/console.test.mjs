// The coordinator console at 1440×900, as its people first meet it: the first
// coordinator opens the link the server printed, sets up an account (the core's
// password rule named at once), makes a link for a statistician, and reads the
// audit trail; the statistician signs in and is offered nothing of the
// coordinator's but downloads the CSV export as a zip (the coordinator the
// identification log too); a wrong password is refused and the account then waits; the
// tablet's offline shell neither serves nor caches the console. Both languages.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { TestServer } from "./support/server.mjs";
import { Home, SCREENSHOTS, Screening, SignIn, assert, assertChinese, chineseTextProblems, launch, screenshot, watchErrors } from "./support/pages.mjs";
import { SyncStatus } from "./support/tablet.mjs";
import { axeViolations } from "./support/checks.mjs";

const DESKTOP = { width: 1440, height: 900 };
const PASSWORD = "a ward round at seven";

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

/** The CSV export's files, in the zip's order. */
const CSV_FILES = [
  "dictionary.csv", "participants.csv", "screening.csv", "consent.csv", "baseline.csv",
  "cytokine_sample.csv", "hemoperfusion_session.csv", "daily_assessment.csv", "adverse_event.csv",
  "outcomes.csv", "il6_change.csv", "audit_trail.csv", "allocations.csv", "consort.csv",
];

/** Clicks the download of `format` and reads the zip the browser saved with
 *  Python's zipfile (every entry's CRC checked): its name, its entries in order,
 *  and its consort.csv if it has one. */
async function downloadedZip(page, format) {
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click(`[data-testid=download-${format}]`),
  ]);
  const path = join(mkdtempSync(join(tmpdir(), "hp-ecmo-download-")), download.suggestedFilename());
  await download.saveAs(path);
  const read = [
    "import json, sys, zipfile",
    "archive = zipfile.ZipFile(sys.argv[1])",
    "assert archive.testzip() is None, 'a damaged entry'",
    "names = archive.namelist()",
    "consort = archive.read('consort.csv').decode('utf-8-sig') if 'consort.csv' in names else None",
    "print(json.dumps({'entries': names, 'consort': consort}))",
  ].join("\n");
  const found = JSON.parse(execFileSync("python3", ["-c", read, path], { encoding: "utf8" }));
  return { name: download.suggestedFilename(), ...found };
}

/** Signs in and waits for the server's answer and the page's word on it. */
async function signIn(page, name, password) {
  await page.fill("#console-name", name);
  await page.fill("#console-password", password);
  const answered = page.waitForResponse((response) => response.url().endsWith("/api/console/sign-in"));
  await page.click("[data-testid=console-sign-in-button]");
  const response = await answered;
  await page.waitForFunction(() => !document.querySelector("[data-testid=console-sign-in-button]")?.disabled);
  return response.status();
}

test("the first coordinator sets up the console, invites a statistician, and roles hold", async () => {
  const context = await browser.newContext({ viewport: DESKTOP, locale: "en-GB", timezoneId: "Asia/Shanghai" });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const link = server.consoleLink();
  assert.ok(link, `the server printed no console link:\n${server.output}`);

  await page.goto(`${server.url}${link}`);
  await page.waitForSelector("[data-testid=console-setup]");
  // The core's rule, said before any request: the field and the rule.
  await page.fill("#setup-name", "Li Na");
  await page.fill("#setup-password", "short one");
  await page.fill("#setup-again", "short one");
  await page.click("[data-testid=console-setup-button]");
  assert.equal(await page.textContent("[data-testid=console-error]"), "Password: at least 12 characters.");
  await page.fill("#setup-password", PASSWORD);
  await page.fill("#setup-again", `${PASSWORD}!`);
  await page.click("[data-testid=console-setup-button]");
  assert.match(await page.textContent("[data-testid=console-error]"), /two passwords differ/);
  await page.fill("#setup-again", PASSWORD);
  await page.click("[data-testid=console-setup-button]");
  await page.waitForSelector("[data-testid=console-home]");
  assert.equal(await page.textContent("[data-testid=console-account]"), "Li Na");
  assert.equal(new URL(page.url()).hash, "", "the spent token leaves the address bar");
  const cookies = await context.cookies();
  const session = cookies.find((cookie) => cookie.name === "hp_ecmo_console");
  assert.ok(session?.httpOnly && session.sameSite === "Strict", JSON.stringify(cookies));
  assert.equal(await page.evaluate(() => document.cookie), "", "the page cannot read the session");

  // A link for a statistician, shown once as text.
  await page.selectOption("#new-account-role", "statistician");
  await page.click("[data-testid=console-make-link]");
  const invitation = await page.inputValue("[data-testid=console-link]");
  assert.match(invitation, /\/console\/setup#[0-9a-f]{64}$/);
  await page.reload();
  await page.waitForSelector("[data-testid=console-audit] table");
  const audit = await page.textContent("[data-testid=console-audit]");
  assert.match(audit, /Link made/);
  assert.match(audit, /link for a statistician account/);
  assert.deepEqual(await axeViolations(page), []);
  await screenshot(page, "60-console-home-en-desktop");

  // The site's users and tablets: a new research nurse gets a PIN shown once.
  await page.waitForSelector("[data-testid=site-users]");
  await page.fill("#new-user-name", "Zhou Min");
  await page.click("[data-testid=add-user]");
  await page.waitForSelector("[data-testid=shown-pin]");
  const pin = await page.textContent("[data-testid=pin]");
  assert.match(pin, /^\d{6}$/);
  await page.waitForFunction(() => document.querySelector("[data-testid=site-users]").textContent.includes("Zhou Min"));
  // The audit trail on the same page reads again after the change.
  await page.waitForFunction(() => document.querySelector("[data-testid=console-audit]").textContent.includes("User added"));
  // An enrolment code, as text and as a QR code that opens the tablet's enrolment.
  await page.click("[data-testid=new-enrolment-code]");
  await page.waitForSelector("[data-testid=code-qr]");
  const code = await page.textContent("[data-testid=code]");
  assert.match(code, /^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
  assert.deepEqual(await axeViolations(page), []);
  await screenshot(page, "64-console-site-en-desktop");
  const tabletContext = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-GB" });
  const tablet = await tabletContext.newPage();
  await tablet.goto(`${server.url}/enrol#${code}`);
  await tablet.waitForSelector("#enrolment-code");
  assert.equal(await tablet.inputValue("#enrolment-code"), code, "the QR code's address fills the code in");
  await tablet.click("[data-testid=enrol-button]");
  await tablet.waitForSelector("[data-testid=sign-in]");
  // The new user signs in on it with the PIN the console showed.
  await new SignIn(tablet).signIn("Zhou Min", pin);
  // Still at /enrol, the enrolled tablet says it needs no code, and leads home.
  await tablet.waitForSelector("[data-testid=already-enrolled]");
  assert.equal(await tablet.locator("#enrolment-code").count(), 0, "no second enrolment is offered");
  await screenshot(tablet, "65-enrolled-tablet-at-enrol-en-landscape");
  await tablet.click("[data-testid=already-enrolled] a");
  await tablet.waitForSelector("[data-testid=new-screening]");
  // It screens a patient who is eligible, and syncs.
  await new Home(tablet).newScreening();
  await new Screening(tablet).fillEligible();
  await new Screening(tablet).save();
  await tablet.click(".app-title");
  await new SyncStatus(tablet).waitAllSent();
  await tabletContext.close();
  // The dashboard counts the screening as the export does: assessed 1, awaiting.
  await page.reload();
  await page.waitForSelector("[data-testid=consort-table]");
  const consort = await page.textContent("[data-testid=consort-table]");
  assert.match(consort, /Assessed for eligibility1/);
  assert.match(consort, /Not randomised · eligible, awaiting randomisation1/);
  assert.match(await page.getAttribute("[data-testid=consort-diagram]", "src"), /^data:image\/svg\+xml/);
  // Screened, not randomised: no stratum holds anyone, no sample is overdue.
  assert.equal(await page.textContent("[data-testid=balance-none]"), "No participant is randomised yet.");
  assert.equal(await page.textContent("[data-testid=overdue-none]"), "No sample is overdue.");
  await screenshot(page, "66-console-dashboard-en-desktop");
  // The coordinator is offered every export, the identification log too.
  await page.waitForSelector("[data-testid=console-exports] [data-testid=download-identification]");
  const identification = await downloadedZip(page, "identification");
  assert.deepEqual(identification.entries, ["site_identification_log.csv"]);
  await page.reload();
  await page.waitForSelector("[data-testid=past-export]");
  assert.match(await page.textContent("[data-testid=past-exports]"), /Site identification log/);
  await page.locator("[data-testid=console-exports]").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SCREENSHOTS, "67-console-exports-en-desktop.png") });
  // The coordinator revokes the tablet; the table says so.
  await page.reload();
  await page.waitForSelector("[data-testid=site-tablet]");
  // It reported at its sync: its clock is the server's, nothing waits on it, and
  // its first lease is unused.
  assert.equal(await page.textContent("[data-testid=tablet-clock]"), "in step");
  assert.equal(await page.textContent("[data-testid=tablet-pending]"), "0");
  assert.ok(Number(await page.textContent("[data-testid=tablet-slots]")) > 0);
  await page.locator("[data-testid=site-tablets]").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SCREENSHOTS, "75-console-devices-en-desktop.png") });
  page.once("dialog", (dialog) => dialog.accept());
  await page.click("[data-testid=revoke-tablet]");
  await page.waitForFunction(() => document.querySelector("[data-testid=site-tablets]").textContent.includes("Revoked"));

  // The spent first link no longer works.
  const reuse = await context.newPage();
  await reuse.goto(`${server.url}${link}`);
  await reuse.fill("#setup-name", "Someone Else");
  await reuse.fill("#setup-password", PASSWORD);
  await reuse.fill("#setup-again", PASSWORD);
  await reuse.click("[data-testid=console-setup-button]");
  await reuse.waitForFunction(() => document.querySelector("[data-testid=console-error]").textContent.length > 0);
  assert.match(await reuse.textContent("[data-testid=console-error]"), /This link does not work/);
  await reuse.close();

  await page.click("[data-testid=console-sign-out]");
  await page.waitForSelector("[data-testid=console-sign-in]");
  assert.equal((await context.cookies()).some((cookie) => cookie.name === "hp_ecmo_console"), false);

  // The statistician sets up from the link, in another browser, in Chinese.
  const other = await browser.newContext({ viewport: DESKTOP, locale: "zh-CN", timezoneId: "Asia/Shanghai" });
  const statistician = await other.newPage();
  const statisticianErrors = watchErrors(statistician);
  await statistician.goto(invitation);
  await statistician.waitForSelector("[data-testid=console-setup]");
  await assertChinese(statistician, "console setup");
  await screenshot(statistician, "61-console-setup-zh-desktop");
  await statistician.fill("#setup-name", "Chen Jie");
  await statistician.fill("#setup-password", PASSWORD);
  await statistician.fill("#setup-again", PASSWORD);
  await statistician.click("[data-testid=console-setup-button]");
  await statistician.waitForSelector("[data-testid=console-home]");
  assert.equal(await statistician.locator("[data-testid=console-new-account]").count(), 0);
  assert.equal(await statistician.locator("[data-testid=console-site]").count(), 0);
  await statistician.waitForSelector("[data-testid=consort-table]");
  assert.match(await statistician.textContent("[data-testid=consort-table]"), /评估是否符合标准1/);
  // The diagram's own words read as Chinese too (full-width colons and brackets).
  const diagram = decodeURIComponent((await statistician.getAttribute("[data-testid=consort-diagram]", "src")).split(",")[1]);
  const diagramText = diagram.replace(/<[^>]+>/g, "\n");
  assert.match(diagramText, /评估是否符合标准（n = 1）/);
  assert.deepEqual(chineseTextProblems(diagramText, { englishWords: false }), []);
  assert.equal(await statistician.locator("[data-testid=console-audit]").count(), 0);
  // The statistician downloads the CSV tables as a zip; the identification log,
  // which names patients, is not offered to them.
  await statistician.waitForSelector("[data-testid=console-exports] [data-testid=download-csv]");
  assert.equal(await statistician.locator("[data-testid=download-identification]").count(), 0);
  const csv = await downloadedZip(statistician, "csv");
  assert.match(csv.name, /^hp-ecmo-BJ-csv-\d{8}T\d{6}Z\.zip$/);
  assert.deepEqual(csv.entries, CSV_FILES);
  // Its CONSORT counts are the dashboard's: one assessed, awaiting randomisation.
  assert.match(csv.consort, /^stage,arm,reason,count\r?\nassessed_for_eligibility,,,1\r?\n/);
  // The list of exports reads again after the download, and names who took it.
  await statistician.waitForFunction(() => document.querySelector("[data-testid=past-exports]")?.textContent.includes("Chen Jie"));
  const listed = await statistician.locator("[data-testid=past-export]").first().textContent();
  assert.match(listed, /BJCSV 数据表Chen Jie1\d+$/);
  // Asked directly, the server refuses the coordinator's actions too.
  const refused = await statistician.evaluate(async () => {
    const invite = await fetch("/api/console/invitations", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ role: "coordinator" }),
    });
    const audit = await fetch("/api/console/audit");
    return [invite.status, audit.status];
  });
  assert.deepEqual(refused, [403, 403]);
  await assertChinese(statistician, "console home", { englishWords: false });
  assert.deepEqual(await axeViolations(statistician), []);
  await screenshot(statistician, "62-console-statistician-zh-desktop");
  await statistician.locator("[data-testid=console-exports]").scrollIntoViewIfNeeded();
  await statistician.screenshot({ path: join(SCREENSHOTS, "68-console-exports-zh-desktop.png") });
  await other.close();

  // Wrong passwords: refused alike, then the account waits, said in words.
  for (let attempt = 0; attempt < 4; attempt += 1) {
    assert.equal(await signIn(page, "Li Na", "not my password at all"), 401);
    assert.equal(await page.textContent("[data-testid=console-error]"), "Wrong name or password.");
    assert.equal(await page.inputValue("#console-password"), "", "a refused password is cleared");
  }
  assert.equal(await signIn(page, "Li Na", PASSWORD), 429);
  assert.match(await page.textContent("[data-testid=console-error]"), /wait 2 s/);
  await screenshot(page, "63-console-wait-en-desktop");
  await page.waitForTimeout(2_100);
  assert.equal(await signIn(page, "Li Na", PASSWORD), 200);
  await page.waitForSelector("[data-testid=console-home]");

  assert.deepEqual(errors.filter((error) => !/401|403|429/.test(error)), []);
  assert.deepEqual(statisticianErrors.filter((error) => !/401|403/.test(error)), []);
  await context.close();
});

test("the tablet's offline shell neither serves nor caches the console", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-GB" });
  const page = await context.newPage();
  await page.goto(server.url);
  await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active !== null);
  const cached = await page.evaluate(async () => {
    const names = await caches.keys();
    const urls = [];
    for (const name of names) {
      for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
    }
    return urls;
  });
  assert.ok(cached.length > 5, `the tablet precached its shell: ${cached}`);
  assert.deepEqual(cached.filter((path) => path.startsWith("/console")), []);
  // With the tablet's worker in charge, /console is still the console.
  await page.goto(`${server.url}/console/`);
  await page.waitForSelector("[data-testid=console-sign-in]");
  const scripts = await page.evaluate(() => [...document.scripts].map((script) => script.src));
  assert.ok(scripts.some((src) => src.includes("/console/")), scripts.join(" "));
  await context.close();
});
