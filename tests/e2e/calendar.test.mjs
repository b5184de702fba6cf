// The site's calendar, end to end: a tablet whose browser runs in UTC at a site on
// Asia/Shanghai time screens at 2026-03-09 23:30 UTC (already 07:30 on 10 March in
// Shanghai) a patient born on 10 March 2008. The age is read in the site's zone,
// whose rules the tablet got at enrolment: 18, eligible. Read in the tablet's own
// zone it would be 17, not eligible. Times are the ward's too: the ECMO start is
// typed on Shanghai's clock (read on the tablet's, it would be hours in the
// future), and the list and the sample windows show Shanghai times. Randomised
// then, the daily assessments' study days are dates on Shanghai's calendar too:
// day 1 is 10 March, not 9.
import { after, before, test } from "node:test";
import { TestServer } from "./support/server.mjs";
import { FollowUp, Home, LANDSCAPE, Participant, Screening, SignIn, assert, launch, screenshot, watchErrors } from "./support/pages.mjs";
import { Enrol } from "./support/tablet.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("a UTC tablet at a Shanghai site reads the age in Shanghai's calendar", async () => {
  const server = await TestServer.start();
  try {
    const context = await browser.newContext({ viewport: LANDSCAPE, locale: "en-GB", timezoneId: "UTC" });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.clock.setFixedTime(new Date("2026-03-09T23:30:00Z"));
    await page.goto(server.url);
    await page.waitForSelector("#enrolment-code");
    await new Enrol(page).enrol(server.enrolmentCode());
    await new SignIn(page).signIn("Investigator", server.firstUserPin());
    const home = new Home(page);
    await home.newScreening();
    const screening = new Screening(page);
    await screening.fillEligible({ born: "2008-03-10", ecmoHoursAgo: 3, zone: "Asia/Shanghai" });
    assert.match(await page.inputValue("#ecmo_started_at"), /^2026-03-10[ T]04:30$/);
    assert.equal(await page.textContent("[data-testid=computed-age]"), "18");
    assert.equal(await screening.outcome(), "Eligible");
    await screenshot(page, "calendar-utc-tablet-shanghai-site");
    await screening.save();
    const participant = new Participant(page);
    await participant.recordConsent();
    await page.waitForSelector("[data-testid=randomise-button]:not([disabled])");
    await participant.randomiseWithDoubleTap();
    const followUp = new FollowUp(page);
    await followUp.section("samples");
    assert.match(await page.textContent("[data-testid=sample-H0]"), /03-10 06:30.08:30/);
    assert.match(await page.textContent("[data-testid=samples] .hint"), /site.s local time \(Asia\/Shanghai\)/);
    await screenshot(page, "calendar-sample-windows-shanghai-site");
    await followUp.section("daily");
    assert.equal(await page.textContent("[data-testid=daily-1] .row-detail"), "2026-03-10");
    assert.equal(await page.textContent("[data-testid=daily-7] .row-detail"), "2026-03-16");
    await screenshot(page, "calendar-daily-dates-shanghai-site");
    await page.click(".app-title");
    assert.match(await page.textContent("[data-testid=participant-row]"), /2026-03-10 07:30/);
    assert.deepEqual(errors.filter((error) => !/ERR_INTERNET_DISCONNECTED|status of 409/.test(error)), []);
    await context.close();
  } finally {
    await server.stop();
  }
});
