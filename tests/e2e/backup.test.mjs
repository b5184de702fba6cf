// Backups of what never synced (issue 13 item 9), as a ward would use them: a
// tablet screens one patient online and one with the network gone, writes a
// backup (a short or mistyped passphrase refused in words first) and is then
// lost. The coordinator imports the file in the console: a wrong passphrase, a
// flipped byte and a cut copy are each named and import nothing; the file
// imports once, and again it says it was imported already. A new tablet of
// the site then receives both patients from the server, and the signature the
// investigator puts on one casebook meanwhile (a wrong password refused first).
// Both languages.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { TestServer } from "./support/server.mjs";
import { Home, LANDSCAPE, Screening, SignIn, assert, assertChinese, launch, screenshot, watchErrors } from "./support/pages.mjs";
import { Enrol, SyncStatus, waitForRows } from "./support/tablet.mjs";

const DESKTOP = { width: 1440, height: 900 };
const PASSPHRASE = "night shift ECMO 7";

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

async function tablet() {
  const context = await browser.newContext({ viewport: LANDSCAPE, locale: "en-GB", timezoneId: "Asia/Shanghai", acceptDownloads: true });
  const page = await context.newPage();
  return {
    context, page, errors: watchErrors(page), signIn: new SignIn(page), enrol: new Enrol(page),
    home: new Home(page), screening: new Screening(page), sync: new SyncStatus(page),
  };
}

async function text(page, testid) {
  return (await page.textContent(`[data-testid=${testid}]`)) ?? "";
}

/** Waits until `testid` holds text, and returns it. */
async function waitText(page, testid, timeout = 30_000) {
  await page.waitForFunction((id) => document.querySelector(`[data-testid=${id}]`)?.textContent?.trim(), testid, { timeout });
  return text(page, testid);
}

test("a tablet's unsynced records reach the server through its backup, once", async () => {
  const pin = server.firstUserPin();
  const a = await tablet();
  await a.page.goto(server.url);
  await a.page.waitForSelector("#enrolment-code");
  await a.enrol.enrol(server.enrolmentCode());
  await a.signIn.signIn("Investigator", pin);
  await a.home.newScreening();
  await a.screening.fillEligible();
  await a.screening.save();
  await a.home.open();
  await a.sync.waitAllSent();
  // The network goes; a second patient stays on the tablet alone.
  await a.context.setOffline(true);
  await a.home.newScreening();
  await a.screening.fillEligible({ born: "1961-02-03" });
  await a.screening.save();
  await a.home.open();
  assert.match(await a.sync.pending(), /^1 waiting to sync/);

  // The backup: the passphrase's rule and its repeat are checked first.
  await a.page.click("[data-testid=backup-link]");
  await a.page.fill("[data-testid=backup-passphrase]", "short");
  await a.page.fill("[data-testid=backup-passphrase-again]", "short");
  await a.page.click("[data-testid=backup-write]");
  assert.match(await waitText(a.page, "backup-error"), /at least 10 characters \(this one has 5\)/);
  await a.page.fill("[data-testid=backup-passphrase]", PASSPHRASE);
  await a.page.fill("[data-testid=backup-passphrase-again]", `${PASSPHRASE}!`);
  await a.page.click("[data-testid=backup-write]");
  assert.match(await waitText(a.page, "backup-error"), /differ/);
  await a.page.fill("[data-testid=backup-passphrase-again]", PASSPHRASE);
  const [download] = await Promise.all([
    a.page.waitForEvent("download"),
    a.page.click("[data-testid=backup-write]"),
  ]);
  const folder = mkdtempSync(join(tmpdir(), "hp-ecmo-backup-"));
  const file = join(folder, download.suggestedFilename());
  await download.saveAs(file);
  assert.match(download.suggestedFilename(), /^hp-ecmo-backup-[A-Z]+-T1-\d{8}-\d{4}Z\.hpbackup$/);
  assert.match(await waitText(a.page, "backup-written"), /Backup written: \d+ records/);
  await screenshot(a.page, "70-backup-written-en-landscape");
  // The tablet is lost here: it never comes online again.
  await a.context.close();

  // Damaged copies, for the import to refuse.
  const bytes = readFileSync(file);
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 30] ^= 0x01;
  const flippedFile = join(folder, "flipped.hpbackup");
  writeFileSync(flippedFile, flipped);
  const cutFile = join(folder, "cut.hpbackup");
  writeFileSync(cutFile, bytes.subarray(0, bytes.length - 200));

  const desk = await browser.newContext({ viewport: DESKTOP, locale: "en-GB" });
  const console_ = await desk.newPage();
  const consoleErrors = watchErrors(console_);
  await console_.goto(`${server.url}${server.consoleLink()}`);
  await console_.fill("#setup-name", "Chen Jie");
  await console_.fill("#setup-password", "correct horse battery staple");
  await console_.fill("#setup-again", "correct horse battery staple");
  await console_.click("[data-testid=console-setup-button]");
  await console_.waitForSelector("[data-testid=import-backup]");
  const importing = async (path, passphrase) => {
    await console_.setInputFiles("[data-testid=import-file]", path);
    await console_.fill("[data-testid=import-passphrase]", passphrase);
    // The click clears the last answer at once; the next one ends the import.
    await console_.click("[data-testid=import-button]");
    await console_.waitForFunction(() => !document.querySelector("[data-testid=import-button]").disabled
      && ["import-error", "import-result"].some((id) => document.querySelector(`[data-testid=${id}]`)?.textContent?.trim()),
    null, { timeout: 30_000 });
    return { error: await text(console_, "import-error"), result: await text(console_, "import-result") };
  };
  assert.match((await importing(file, "night shift ECMO 8")).error, /not the passphrase the backup was written with/);
  assert.match((await importing(flippedFile, PASSPHRASE)).error, /changed or damaged/);
  assert.match((await importing(cutFile, PASSPHRASE)).error, /incomplete: only \d+ of its \d+ bytes/);
  const first = await importing(file, PASSPHRASE);
  assert.equal(first.error, "");
  assert.match(first.result, /^Imported: 1 record the server lacked stored now; \d+ it held already/);
  assert.match(await text(console_, "import-header"), /Tablet T1 of site [A-Z]+: \d+ records, written/);
  await screenshot(console_, "71-console-backup-imported-en");
  const again = await importing(file, PASSPHRASE);
  assert.match(again.result, /imported already: the server holds all of its \d+ records\. Nothing was changed/);
  await console_.click("[data-testid=switch-language]");
  await console_.waitForFunction(() => /导入备份/.test(document.querySelector("[data-testid=import-backup]")?.textContent ?? ""));
  const zh = await importing(file, PASSPHRASE);
  assert.match(zh.result, /该备份已导入过/);
  await assertChinese(console_, "console backup import", { englishWords: false });
  await screenshot(console_, "72-console-backup-imported-zh");

  await console_.click("[data-testid=switch-language]");

  // The investigator signs the first patient's casebook: the meaning stated,
  // the password typed again (a wrong one refused).
  await console_.selectOption("#new-account-role", "investigator");
  await console_.click("[data-testid=console-make-link]");
  const invitation = await console_.inputValue("[data-testid=console-link]");
  const investigator = await (await browser.newContext({ viewport: DESKTOP, locale: "en-GB" })).newPage();
  await investigator.goto(invitation);
  await investigator.fill("#setup-name", "Dr Wang");
  await investigator.fill("#setup-password", "rounds at seven every day");
  await investigator.fill("#setup-again", "rounds at seven every day");
  await investigator.click("[data-testid=console-setup-button]");
  const casebook = await investigator.waitForSelector("[data-testid=console-casebooks] [data-testid^=casebook-T1-]");
  const number = (await casebook.textContent()).trim();
  await casebook.click();
  await investigator.waitForSelector("[data-testid=casebook-sign]");
  await investigator.check("[data-testid=sign-acknowledge]");
  await investigator.fill("[data-testid=sign-password]", "rounds at eight every day");
  await investigator.click("[data-testid=sign-casebook]");
  assert.match(await waitText(investigator, "sign-error"), /password/i);
  await investigator.fill("[data-testid=sign-password]", "rounds at seven every day");
  await investigator.click("[data-testid=sign-casebook]");
  assert.match(await waitText(investigator, "casebook-signature"), /Dr Wang/);
  // The list says so too.
  await investigator.waitForFunction((n) => [...document.querySelectorAll("[data-testid=console-casebooks] li")]
    .some((li) => li.textContent.includes(n) && /Signed/.test(li.textContent)), number);
  await screenshot(investigator, "73-console-casebook-signed-en");

  // A new tablet of the site has both patients, though the lost one never
  // synced the second, and the signature in the first one's timeline.
  const b = await tablet();
  await b.page.goto(server.url);
  await b.page.waitForSelector("#enrolment-code");
  await b.enrol.enrol(server.newEnrolmentCode());
  await b.signIn.signIn("Investigator", pin);
  await b.page.waitForSelector("[data-testid=sync-status]");
  const rows = await waitForRows(b.page, 2);
  const signed = rows.findIndex((row) => row.includes(number));
  assert.ok(signed >= 0, `${number} in ${rows.join("\n")}`);
  await b.page.locator("[data-testid=participant-row]").nth(signed).click();
  await b.page.waitForFunction(() => /Casebook signed by the investigator/.test(document.body.textContent));
  await screenshot(b.page, "74-tablet-casebook-signed-en-landscape");
  assert.deepEqual(b.errors, []);
  // The console asks for a session before anyone has one: that one 401 only.
  assert.ok(consoleErrors.filter((error) => !/401 \(Unauthorized\)/.test(error)).length === 0, consoleErrors.join("\n"));
});
