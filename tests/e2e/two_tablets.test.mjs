// Two tablets and a server, end to end: both enrol with one-time codes, one works
// offline while the other randomises from its server-issued (sealed) lease, the
// server is killed (no graceful shutdown) while a sync is under way and restarted,
// and once both are online they converge: each sees the other's participants (and a
// user the coordinator added meanwhile can sign in), the
// second tablet may not randomise a patient the first one screened but continues
// the first one's follow-up, and when both record the same sample unseen, a data
// query shows on both until the coordinator resolves it in the console.
import { after, before, test } from "node:test";
import { POSTGRES_URL, TestServer } from "./support/server.mjs";
import {
  FollowUp, Home, LANDSCAPE, PORTRAIT, Participant, Screening, SignIn, assert, assertChinese, launch, screenshot,
  watchErrors,
} from "./support/pages.mjs";
import { Enrol, SyncStatus, waitForRows } from "./support/tablet.mjs";

const DESKTOP = { width: 1440, height: 900 };

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function tablet(viewport) {
  const context = await browser.newContext({ viewport, locale: "en-GB", timezoneId: "Asia/Shanghai" });
  const page = await context.newPage();
  return {
    context,
    page,
    errors: watchErrors(page),
    signIn: new SignIn(page),
    enrol: new Enrol(page),
    home: new Home(page),
    screening: new Screening(page),
    participant: new Participant(page),
    followUp: new FollowUp(page),
    sync: new SyncStatus(page),
  };
}

test("two tablets work apart, offline, and converge through the server (SQLite)", async () => {
  await converge(await TestServer.start(), screenshot);
});

test("the same on PostgreSQL", { skip: !POSTGRES_URL && "no PostgreSQL cluster (cargo xtask test starts one)" }, async () => {
  await converge(await TestServer.start({ postgresUrl: POSTGRES_URL }), async () => {});
});

/** The journey against `server`, which it stops at the end; `shoot` takes the
 *  screenshots (once is enough: the screens do not depend on the engine). */
async function converge(server, shoot) {
  try {
    await journey(server, shoot);
  } finally {
    await server.stop();
  }
}

async function journey(server, shoot) {
  const firstCode = server.enrolmentCode();
  const pin = server.firstUserPin();
  assert.ok(firstCode && pin, `the server printed a code and a PIN:\n${server.output}`);
  const a = await tablet(LANDSCAPE);
  const b = await tablet(PORTRAIT);

  // Tablet A enrols; a malformed code is refused in words first.
  await a.page.goto(server.url);
  await a.page.waitForSelector("#enrolment-code");
  await a.page.fill("#enrolment-code", "ABC");
  await a.page.click("[data-testid=enrol-button]");
  assert.match(await a.enrol.error(), /8 letters and digits/);
  await shoot(a.page, "20-enrol-en-landscape");
  await a.enrol.enrol(firstCode);
  await a.signIn.signIn("Investigator", pin);
  await a.page.waitForSelector("[data-testid=sync-status]");
  assert.equal(await a.page.locator("[data-testid=training-badge], [data-testid=training-band]").count(), 0,
    "an enrolled tablet is not in training");

  // Tablet B cannot reuse A's code, and enrols with a new one.
  await b.page.goto(server.url);
  await b.page.waitForSelector("#enrolment-code");
  await b.page.fill("#enrolment-code", firstCode);
  await b.page.click("[data-testid=enrol-button]");
  await b.page.waitForFunction(() => document.querySelector("[data-testid=enrol-error]")?.textContent);
  assert.match(await b.enrol.error(), /already been used/);
  await b.enrol.enrol(server.newEnrolmentCode());
  await b.signIn.signIn("Investigator", pin);
  await b.page.waitForSelector("[data-testid=sync-status]");

  // B loses the network; A screens, consents and randomises from its sealed lease.
  await b.context.setOffline(true);
  await a.home.newScreening();
  await a.screening.fillEligible();
  await a.screening.save();
  await a.participant.recordConsent();
  const allocated = await a.participant.randomiseWithDoubleTap();
  assert.match(allocated.studyNumber, /-T1-001$/);
  assert.equal(allocated.training, null, "an enrolled tablet's allocation is the trial's");
  await a.home.open();
  await a.sync.waitAllSent();
  await shoot(a.page, "21-home-synced-en-landscape");

  // B, offline, screens its own patient: it stays on the tablet, and B says so
  // calmly.
  await b.home.newScreening();
  await b.screening.fillEligible({ born: "1961-02-03" });
  await b.screening.save();
  await b.home.open();
  await b.page.waitForSelector("[data-testid=sync-phase]:has-text('Offline')");
  assert.match(await b.sync.pending(), /^1 waiting to sync/);
  await shoot(b.page, "22-home-offline-en-portrait");

  // The server is killed while the push A's save starts is in flight (the request
  // has left the tablet, its answer has not come back), and comes back.
  await a.home.newScreening();
  await a.screening.fillEligible({ born: "1955-09-09" });
  const pushLeft = a.page.waitForRequest((request) => request.url().includes("/api/push"));
  await a.screening.save();
  await pushLeft;
  await server.kill();
  await server.resume();
  await a.home.open();
  await a.sync.syncNow();
  await a.sync.waitAllSent();

  // B is back online: it pushes its patient and pulls A's two, on its own.
  await b.context.setOffline(false);
  await b.sync.waitAllSent();
  const rowsOnB = await waitForRows(b.page, 3);
  assert.ok(rowsOnB.some((row) => row.includes(allocated.studyNumber)), rowsOnB.join("\n"));
  await shoot(b.page, "23-home-converged-en-portrait");

  // A sees B's patient at its next sync, and a nurse the coordinator added on the
  // server meanwhile can sign in on A.
  server.addUser("Zhang Wei", "864213");
  await a.sync.syncNow();
  await waitForRows(a.page, 3);
  await a.page.click("[data-testid=sign-out]");
  await a.signIn.signIn("Zhang Wei", "864213");
  await a.page.waitForSelector("[data-testid=new-screening]");
  assert.equal(await a.page.textContent("[data-testid=signed-in-user]"), "Zhang Wei");

  // B opens A's eligible, unrandomised patient: only A may randomise them.
  const screenedOnA = b.page.locator("[data-testid=participant-row]")
    .filter({ hasText: "T1-" }).filter({ hasText: "Eligible" });
  await screenedOnA.click();
  await b.page.waitForSelector("[data-testid=participant-title]");
  assert.match(await b.page.textContent("main"), /only that tablet can randomise/);
  // B names A's records' tablet as the home screen and the server do: "T1", not
  // the end of its id.
  const devices = await b.page.locator("[data-testid=timeline-entry] .device").allTextContents();
  assert.ok(devices.length > 0 && devices.every((device) => device === "Tablet T1"), devices.join(", "));

  // B continues A's randomised patient's follow-up: the 0 h sample. A, offline
  // meanwhile, records the same sample without seeing B's.
  const openAllocated = async (t) => {
    await t.home.open();
    await t.page.locator("[data-testid=participant-row]").filter({ hasText: allocated.studyNumber }).click();
    await t.page.waitForSelector("[data-testid=section-samples]");
  };
  await a.context.setOffline(true);
  await openAllocated(b);
  await b.followUp.openRow("sample-H0");
  await b.followUp.fill("il6_pg_per_ml", "100");
  await b.followUp.save();
  await b.followUp.saved();
  await openAllocated(a);
  await a.followUp.openRow("sample-H0");
  await a.followUp.fill("il6_pg_per_ml", "130");
  await a.followUp.save();
  await a.followUp.saved();

  // Online again, both converge on the later value, with a data query beside it.
  await a.context.setOffline(false);
  for (const t of [b, a, b]) {
    await t.home.open();
    await t.sync.syncNow();
    await t.sync.waitAllSent();
  }
  for (const t of [a, b]) {
    await openAllocated(t);
    await t.page.waitForSelector("[data-testid=section-samples].flagged");
    await t.followUp.openRow("sample-H0");
    assert.equal(await t.followUp.value("il6_pg_per_ml"), "130 pg/mL");
    const query = await t.page.textContent("[data-testid=query-il6_pg_per_ml]");
    assert.match(query, /Data query:[^]*130 pg\/mL[^]*100 pg\/mL/);
  }
  await shoot(b.page, "24-data-query-en-portrait");

  // The coordinator resolves it in the console: both values with who and where,
  // a comment, a resolution refused without a reason, then the replaced value
  // taken. The correction reaches both tablets at their next sync.
  const desk = await browser.newContext({ viewport: DESKTOP, locale: "en-GB", timezoneId: "Asia/Shanghai" });
  const console_ = await desk.newPage();
  const consoleErrors = watchErrors(console_);
  await console_.goto(`${server.url}${server.consoleLink()}`);
  await console_.fill("#setup-name", "Li Na");
  await console_.fill("#setup-password", "correct horse battery staple");
  await console_.fill("#setup-again", "correct horse battery staple");
  await console_.click("[data-testid=console-setup-button]");
  const card = console_.locator("article.console-query[data-open=true]");
  await card.waitFor();
  assert.equal(await card.count(), 1);
  assert.match(await card.locator("h3").textContent(), /Cytokine sample[^]*IL-6/);
  assert.match(await card.locator("[data-testid=query-shown]").textContent(), /130 pg\/mL[^]*[^·]+ · T1/);
  assert.match(await card.locator("[data-testid=query-overridden]").textContent(), /100 pg\/mL[^]*[^·]+ · T2/);
  await card.locator("[data-testid=query-comment]").fill("Ward: the lab report reads 100.");
  await card.locator("[data-testid=query-add-comment]").click();
  await console_.waitForFunction(() => /lab report reads 100/.test(
    document.querySelector("article.console-query [data-testid=query-thread]")?.textContent ?? ""));
  await console_.click("article.console-query [data-testid=query-take]");
  assert.match(await console_.textContent("article.console-query [data-testid=query-error]"), /Reason/);
  await screenshot(console_, "60-console-data-query-en");
  await console_.click("[data-testid=switch-language]");
  await console_.waitForFunction(() => /数据质疑/.test(document.querySelector("[data-testid=console-queries]")?.textContent ?? ""));
  // The names, the comment and the download format are as typed.
  await assertChinese(console_, "console data queries", { englishWords: false });
  await screenshot(console_, "61-console-data-query-zh");
  await console_.click("[data-testid=switch-language]");
  await console_.fill("article.console-query [data-testid=query-reason]", "checked against the lab report");
  await console_.click("article.console-query [data-testid=query-take]");
  await console_.waitForSelector("[data-testid=queries-none]");
  await console_.selectOption("[data-testid=query-status]", "closed");
  await console_.waitForSelector("article.console-query[data-open=false]");
  for (const t of [a, b]) {
    await t.home.open();
    await t.sync.syncNow();
    await t.sync.waitAllSent();
    await openAllocated(t);
    await t.followUp.openRow("sample-H0");
    await t.page.waitForFunction(() => /100 pg\/mL/.test(
      document.querySelector("[data-testid=value-il6_pg_per_ml]")?.textContent ?? ""));
    assert.equal(await t.page.locator("[data-testid=query-il6_pg_per_ml]").count(), 0);
  }
  await shoot(a.page, "25-query-resolved-in-console-en-landscape");
  // The console asks for a session before anyone has one: that one 401 only.
  assert.deepEqual(consoleErrors.filter((error) => !/401 \(Unauthorized\)/.test(error)), []);
  assert.ok(consoleErrors.length <= 1, consoleErrors.join("\n"));
  await desk.close();

  // The browser logs each request that found no network or no server (or lost
  // it to the kill), and B's refused reuse of A's code; nothing else may appear.
  const expected = /ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET/;
  assert.deepEqual(a.errors.filter((error) => !expected.test(error)), []);
  assert.deepEqual(b.errors.filter((error) => !expected.test(error) && !/409 \(Conflict\)/.test(error)), []);
  await a.context.close();
  await b.context.close();
}
