// Figures for `cargo xtask bench`, not a test: how long the release build takes to
// start (first visit, again with the service worker's cache, and with the server
// gone), and from the tap on "Yes, randomise" to the arm on screen on a tablet
// enrolled with the real server (its lease seed opened with WebCrypto, slot,
// event and outbox written in one IndexedDB transaction). Each is timed inside the
// page with performance.now(), repeated, and printed as median, min and max:
// machines here are shared and noisy, so nothing is asserted on time.
import { TestServer } from "../support/server.mjs";
import { Home, LANDSCAPE, Participant, Screening, SignIn, launch } from "../support/pages.mjs";
import { Enrol } from "../support/tablet.mjs";

const RUNS = Number(process.env.HP_ECMO_BENCH_RUNS || 7);

/** Records, from the page's own clock, when a sign-in or set-up screen first shows. */
const MARK_READY = () => {
  const mark = () => {
    if (window.__readyAt === undefined && document.querySelector("#user-name, [data-testid=sign-in], #enrolment-code")) {
      window.__readyAt = performance.now();
    }
  };
  new MutationObserver(mark).observe(document, { childList: true, subtree: true });
};

async function readyAfterNavigation(page, navigate) {
  await navigate();
  await page.waitForFunction(() => window.__readyAt !== undefined);
  return page.evaluate(() => window.__readyAt);
}

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], n: sorted.length };
}

function row(measure, values, unit = "ms") {
  const { median, min, max, n } = summary(values);
  const f = (x) => x.toFixed(1).padStart(9);
  console.log(`${measure.padEnd(44)}${f(median)}${f(min)}${f(max)}  ${unit} (n=${n})`);
}

const server = await TestServer.start();
const browser = await launch();
try {
  // Start-up: a first visit each time (fresh profile: no cache, no worker).
  const cold = [];
  for (let run = 0; run < RUNS; run += 1) {
    const context = await browser.newContext({ viewport: LANDSCAPE, locale: "en-GB" });
    await context.addInitScript(MARK_READY);
    const page = await context.newPage();
    cold.push(await readyAfterNavigation(page, () => page.goto(server.url)));
    await context.close();
  }

  // One tablet from here on: its service worker installed, then reloads.
  const context = await browser.newContext({ viewport: LANDSCAPE, locale: "en-GB", timezoneId: "Asia/Shanghai" });
  await context.addInitScript(MARK_READY);
  const page = await context.newPage();
  await page.goto(server.url);
  await page.waitForSelector("#enrolment-code");
  await page.evaluate(() => navigator.serviceWorker.ready);
  const warm = [];
  for (let run = 0; run < RUNS; run += 1) {
    warm.push(await readyAfterNavigation(page, () => page.reload()));
  }

  // Enrolled with the server: randomisation uses a live, sealed lease.
  await new Enrol(page).enrol(server.enrolmentCode());
  await new SignIn(page).signIn("Investigator", server.firstUserPin());
  await page.waitForSelector("[data-testid=new-screening]");
  const home = new Home(page);
  const screening = new Screening(page);
  const participant = new Participant(page);
  const tapToArm = [];
  for (let run = 0; run < RUNS; run += 1) {
    await home.open();
    await home.newScreening();
    await screening.fillEligible();
    await screening.save();
    await participant.recordConsent();
    await page.click("[data-testid=randomise-button]");
    await page.waitForSelector("[data-testid=confirm-randomise]");
    tapToArm.push(await page.evaluate(() => new Promise((resolve) => {
      const start = performance.now();
      const observer = new MutationObserver(() => {
        if (document.querySelector("[data-testid=allocated-arm]")) {
          observer.disconnect();
          resolve(performance.now() - start);
        }
      });
      observer.observe(document, { childList: true, subtree: true });
      document.querySelector("[data-testid=confirm-randomise]").click();
    })));
  }

  // With the server gone, the app starts from the service worker's cache.
  await server.stop();
  const offline = [];
  for (let run = 0; run < RUNS; run += 1) {
    offline.push(await readyAfterNavigation(page, () => page.reload()));
  }

  console.log(`${"measure".padEnd(44)}${"median".padStart(9)}${"min".padStart(9)}${"max".padStart(9)}`);
  row("start-up, first visit (to set-up screen)", cold);
  row("start-up, service worker warm, online", warm);
  row("start-up, server gone (offline)", offline);
  row("tap 'Yes, randomise' to arm shown (live lease)", tapToArm);
  await context.close();
} finally {
  await browser.close();
  await server.stop();
}
