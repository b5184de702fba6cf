// What a screening says and why, in English and in Chinese, at both tablet sizes:
// a blank screening is not saved (it needs the date of birth) and an incomplete
// one says how many answers are missing, never "not eligible"; every problem of
// the form shows at its field as it is typed, and the summary above "Save" holds
// exactly the problems there are now; BMI is shown with the decimals its
// decision needs (39.96 is not 40.0); an ineligible or not-enrolled participant's
// page names the failed criteria and the screening they were judged on; dates
// and times are typed and shown as 2026-03-10 14:05 whatever the browser's
// language (twelve digits typed alone say what they read as). Every screen is looked at (screenshots), read by axe-core with no
// violation, and never scrolls sideways.
import { after, before, test } from "node:test";
import { TestServer } from "./support/server.mjs";
import {
  Home, LANDSCAPE, PORTRAIT, Participant, SCREENSHOTS, Screening, SignIn, assert, assertChinese, launch, localInput,
  readable, screenshot, watchErrors,
} from "./support/pages.mjs";
import { axeViolations, eventKinds } from "./support/checks.mjs";

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

/** The words each language's screens are checked for. */
const WORDS = {
  en: {
    locale: "en-GB",
    incomplete: /^Incomplete: \d+ answers missing$/,
    dobRequired: "Date of birth: required",
    fixFirst: "Correct these first:",
    notEligible: "Not eligible:",
    e3: "E3 BMI ≥ 40 kg/m²",
    judgedOn: /^Judged on screening [0-9A-F]{4}-\d{4} of \d{4}-\d\d-\d\d \d\d:\d\d$/,
    icuUnreadable: "ICU admission date-time: enter it as 2026-03-10 14:05 (24-hour)",
    readAs: "Read as",
    initialsRequired: "Patient's initials: required",
    notInitials: "Patient's initials: 2 to 4 letters A–Z (pinyin initials for a Chinese name)",
  },
  zh: {
    locale: "zh-CN",
    incomplete: /^信息不完整：缺少 \d+ 项$/,
    dobRequired: "出生日期：必填",
    fixFirst: "请先更正以下内容：",
    notEligible: "不符合入组条件：",
    e3: "排除 3",
    judgedOn: /^依据 \d{4}-\d\d-\d\d \d\d:\d\d 的筛选（筛选号 [0-9A-F]{4}-\d{4}）判定$/,
    icuUnreadable: "入住 ICU 时间：请按 2026-03-10 14:05 的格式填写（24 小时制）",
    readAs: "识别为",
    initialsRequired: "患者姓名缩写：必填",
    notInitials: "患者姓名缩写：请填写 2～4 个字母 A～Z（姓名拼音首字母）",
  },
};

for (const lang of ["en", "zh"]) {
  test(`a screening says what it needs and why (${lang})`, async () => {
    const words = WORDS[lang];
    const context = await browser.newContext({ viewport: LANDSCAPE, locale: words.locale, timezoneId: "Asia/Shanghai" });
    const page = await context.newPage();
    const errors = watchErrors(page);
    const home = new Home(page);
    const screening = new Screening(page);
    const text = async (testid) => readable(await page.textContent(`[data-testid=${testid}]`));
    /** Looks at the screen at both sizes: a screenshot, no sideways scrolling,
     *  nothing for axe-core, and Chinese read as Chinese. */
    const look = async (name) => {
      for (const [orientation, size] of [["landscape", LANDSCAPE], ["portrait", PORTRAIT]]) {
        await page.setViewportSize(size);
        await screenshot(page, `verdict-${name}-${lang}-${orientation}`);
        // And the screen as the tablet shows it, from the top.
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({ path: `${SCREENSHOTS}/verdict-${name}-${lang}-${orientation}-screen.png` });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.equal(overflow, 0, `no horizontal scrolling: ${name} ${orientation}`);
        assert.deepEqual(await axeViolations(page), [], `axe-core: ${name} ${orientation}`);
      }
      await page.setViewportSize(LANDSCAPE);
      if (lang === "zh") await assertChinese(page, name, { englishWords: false });
    };

    await page.goto(server.url);
    await page.waitForSelector("#user-name");
    await look("setup");
    await new SignIn(page).createFirstUser("Li Na", "246810");
    await page.waitForSelector("[data-testid=new-screening]");

    // A blank screening is not saved: it needs the date of birth and the
    // patient's initials, and says what it lacks as missing answers, not as "not
    // eligible".
    await home.newScreening();
    assert.match(await text("outcome"), words.incomplete);
    await page.click("[data-testid=save-screening]");
    assert.equal(await text("date_of_birth-error"), words.dobRequired);
    assert.equal(await text("patient_initials-error"), words.initialsRequired);
    assert.match(await text("screening-problems"), new RegExp(words.dobRequired));
    assert.deepEqual(await eventKinds(page), [], "nothing recorded, no screening number used");
    await look("screening-blank-saved");
    await page.fill("#patient_initials", "Z1");
    assert.equal(await text("patient_initials-error"), words.notInitials);

    // With a date of birth and initials only, it is saved, as incomplete.
    await page.fill("#patient_initials", "zw");
    await page.fill("#date_of_birth", "1970-06-15");
    assert.equal((await page.locator("[data-testid=screening-problems]").count()), 0, "no stale summary");
    await screening.save();
    assert.match(await text("outcome"), words.incomplete);
    assert.match(await text("randomise-blocked"), words.incomplete);
    assert.match(await text("judged-on"), words.judgedOn);
    await look("participant-incomplete");

    // Every problem at once, at its field, as typed; the summary holds exactly
    // the problems there are now.
    await home.open();
    await home.newScreening();
    await screening.fillEligible();
    await page.fill("#height_cm", "30");
    await page.fill("#ecmo_started_at", await localInput(page, -3 * 60e3));
    assert.match(await text("height_cm-error"), /30/);
    assert.match(await text("ecmo_started_at-error"), /./, "a future ECMO start is named with the other problem");
    await page.click("[data-testid=save-screening]");
    const summary = () => page.locator("[data-testid=screening-problems] li").allTextContents();
    assert.equal((await summary()).length, 2, (await summary()).join("\n"));
    await look("screening-problems");
    await page.fill("#height_cm", "150");
    assert.equal((await summary()).length, 1, (await summary()).join("\n"));
    await page.fill("#ecmo_started_at", await localInput(page, 3 * 3600e3));
    assert.equal(await page.locator("[data-testid=screening-problems]").count(), 0, "no empty summary");
    assert.equal(await page.locator(`text=${words.fixFirst}`).count(), 0);

    // Dates and times in ISO order, 24-hour, whatever the browser's language;
    // twelve digits are read and shown in that form, anything else is named.
    await page.fill("#icu_admitted_at", "03/10/2026 2:05 PM");
    assert.equal(await text("icu_admitted_at-error"), words.icuUnreadable);
    const iso = (await localInput(page, 3600e3)).replace("T", " ");
    await page.fill("#icu_admitted_at", iso.replace(/[- :]/g, ""));
    assert.equal(await text("icu_admitted_at-read-as"), `${words.readAs} ${iso}`);
    await page.fill("#icu_admitted_at", iso);
    assert.equal(await page.locator("[data-testid=icu_admitted_at-read-as]").count(), 0, "typed as shown");
    assert.match(await page.inputValue("#screened_at"), /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    assert.equal(await page.getAttribute("#screened_at", "type"), "text");

    // BMI as the E3 decision reads it.
    await page.fill("#weight_kg", "89.9");
    assert.equal(await text("computed-bmi"), "39.96 kg/m²");
    assert.match(await text("criterion-E3"), lang === "en" ? /absent/ : /无/);
    assert.equal(await text("outcome"), lang === "en" ? "Eligible" : "符合入组条件");
    // Beside the form on a landscape tablet, the whole verdict shows, E4 and E5
    // included: nothing to scroll to.
    await page.setViewportSize(LANDSCAPE);
    const hidden = await page.$eval("[data-testid=eligibility]", (panel) => panel.scrollHeight - panel.clientHeight);
    assert.equal(hidden, 0, "the eligibility panel fits a landscape screen");
    await look("screening-bmi-39.96");
    await page.fill("#weight_kg", "90");
    assert.equal(await text("computed-bmi"), "40.0 kg/m²");
    assert.equal(await text("outcome"), words.notEligible);
    assert.match(await text("outcome-details"), new RegExp(words.e3));

    // Saved not eligible: the page says which criterion and which screening;
    // still so once the patient is recorded as not enrolled.
    await screening.save();
    assert.match(await text("participant-eligibility"), new RegExp(words.e3));
    assert.match(await text("judged-on"), words.judgedOn);
    await page.click("label[for=not_enrolled_reason-ineligible]");
    await page.click("[data-testid=record-not-enrolled]");
    await page.waitForSelector("[data-testid=not-enrolled-recorded]");
    assert.match(await text("participant-eligibility"), new RegExp(words.e3));
    await look("participant-not-enrolled");

    // Consent's date-time, as typed, and a follow-up form's, after randomising.
    await home.open();
    await home.newScreening();
    await screening.fillEligible();
    await screening.save();
    await page.fill("#consented_at", "tomorrow");
    assert.match(await text("consented_at-error"), /2026-03-10 14:05/);
    await look("participant-consent-problem");
    await page.fill("#consented_at", (await localInput(page, 60e3)).replace("T", " "));
    await new Participant(page).recordConsent();
    await new Participant(page).startTraining();
    await page.click("[data-testid=randomise-button]");
    await page.click("[data-testid=confirm-randomise]");
    await page.waitForSelector("[data-testid=allocated-arm]");
    await page.click("[data-testid=sample-H0]");
    await page.waitForSelector("[data-testid=form-editor]");
    assert.match(await page.inputValue("#sampled_at"), /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    await look("sample-form");

    assert.deepEqual(errors, []);
    await context.close();
  });
}
