// The Chinese screens, end to end: a nurse whose browser speaks Chinese sets up the
// tablet, screens a patient who is not eligible and records why they are not
// enrolled, screens one who is, records consent given by the guardian, randomises
// in training mode, records follow-up (an unusual IL-6 to confirm, a sample outside
// its window, a correction, a session, a withdrawal asked by the guardian), reads
// the timeline, enrols the tablet, and is locked out after idling. Each
// screen is looked at in Chinese at both tablet sizes: a screenshot, no horizontal
// scrolling, no ASCII colon, full stop or bracket next to Chinese, no term the
// glossary (src/i18n/GLOSSARY.md) retired, and no English word left to read. The
// web manifest follows the language, and the service worker keeps both.
import { after, before, test } from "node:test";
import { TestServer } from "./support/server.mjs";
import {
  FollowUp, Home, LANDSCAPE, PORTRAIT, Participant, Screening, SignIn, assert, assertChinese, chineseTextProblems,
  launch, localInput, readable, screenshot, watchErrors,
} from "./support/pages.mjs";
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

test("the checks find what the review found", () => {
  const problems = (text) => chineseTextProblems(text);
  assert.equal(problems("服务器拒绝了记录 42: 其数据未通过校验").length, 1);
  assert.equal(problems("当前值：120 mmHg. 原值将保留").length, 1);
  assert.equal(problems("变化量 (pg/mL)").length, 1);
  assert.match(problems("结束参与")[0], /retired term "结束参与"/);
  assert.match(problems("法定代理人")[0], /retired term "法定代理人"/);
  assert.match(problems("Δ log10 IL-6")[0], /retired term "Δ log10"/);
  assert.match(problems("Hemoperfusion")[0], /English word "Hemoperfusion"/);
  assert.deepEqual(problems("监护人（法定代理人） · 已用 3.2 MB · 14:05 · https://127.0.0.1 · 退出登录"), []);
});

test("a Chinese nurse reads every screen in Chinese", async () => {
  const context = await browser.newContext({ viewport: LANDSCAPE, locale: "zh-CN", timezoneId: "Asia/Shanghai" });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const signIn = new SignIn(page);
  const home = new Home(page);
  const screening = new Screening(page);
  const participant = new Participant(page);
  const followUp = new FollowUp(page);
  let shot = 0;
  /** Looks at the screen as it is, at both tablet sizes. */
  const look = async (name) => {
    for (const [orientation, size] of [["landscape", LANDSCAPE], ["portrait", PORTRAIT]]) {
      await page.setViewportSize(size);
      await screenshot(page, `zh-${String(++shot).padStart(2, "0")}-${name}-${orientation}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(overflow, 0, `no horizontal scrolling: ${name} ${orientation}`);
    }
    await page.setViewportSize(LANDSCAPE);
    await assertChinese(page, name);
  };
  const text = (testid) => page.textContent(`[data-testid=${testid}]`);

  // First start: the browser's language, the Chinese manifest.
  await page.goto(server.url);
  await page.waitForSelector("#user-name");
  assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
  assert.equal(await page.getAttribute("#manifest", "href"), "/manifest.zh.webmanifest");
  const manifest = await page.evaluate(async () => {
    const response = await fetch(document.getElementById("manifest").href);
    return { type: response.headers.get("content-type"), body: await response.json() };
  });
  assert.equal(manifest.type, "application/manifest+json");
  assert.equal(manifest.body.lang, "zh-CN");
  assert.equal(manifest.body.name, "HP-ECMO 床旁端");
  await look("setup");
  await signIn.createFirstUser("李娜", "246810");
  await page.waitForSelector("[data-testid=new-screening]");
  await look("home-empty");

  // A patient with bad input, then not eligible, then not enrolled with the reason.
  await home.newScreening();
  await look("screening-blank");
  await page.fill("#height_cm", "30");
  await page.fill("#weight_kg", "abc");
  assert.equal(readable(await screening.fieldError("height_cm")), "身高：30 cm，超出允许范围（100～230 cm）");
  assert.equal(await screening.fieldError("weight_kg"), "体重：请输入数字");
  await look("screening-bad-input");
  await screening.fillEligible({ born: "1940-01-01" });
  assert.equal(await screening.outcome(), "不符合入组条件：");
  assert.match(await screening.eligibilityText(), /入选 1 年龄 18～75 岁/);
  assert.match(await screening.eligibilityText(), /排除 1 拒绝签署知情同意书无/);
  await look("screening-not-eligible");
  await screening.save();
  assert.equal(await participant.status(), "不符合入组条件");
  assert.equal(await text("randomise-blocked"),
    "当前不符合入组条件。须符合全部入选标准、不符合任何排除标准，且 ECMO 运行不足 24 小时，方可随机分组。");
  await look("participant-not-eligible");
  await page.click("label[for=not_enrolled_reason-ineligible]");
  await page.click("[data-testid=record-not-enrolled]");
  await page.waitForSelector("[data-testid=not-enrolled-recorded]");
  assert.match(await text("not-enrolled-recorded"), /未入组原因：不符合入组条件/);
  await look("not-enrolled");

  // An eligible patient: consent given by the guardian, training, randomisation.
  await home.open();
  await home.newScreening();
  await screening.fillEligible();
  assert.equal(await screening.outcome(), "符合入组条件");
  assert.match(await text("window"), /^随机时间窗剩余 2[01] 小时 \d+ 分钟$/);
  await look("screening-eligible");
  await screening.save();
  assert.equal(await text("randomise-blocked"), "请先记录知情同意。");
  await look("consent");
  await page.click("label[for=consent_given_by-representative]");
  await page.fill("#consent_form_version", "2.1");
  await page.click("[data-testid=save-consent]");
  await page.waitForSelector("[data-testid=consent-recorded]");
  await page.waitForFunction(() => /知情同意书签署人：监护人（法定代理人）/.test(
    document.querySelector("[data-testid=timeline]")?.textContent ?? ""));
  // A tablet not enrolled has no slot to run out of: it says what it lacks.
  assert.equal(await text("randomise-blocked"),
    "本平板尚未注册到试验服务器，不能随机分组：请用试验协调员提供的注册码注册本平板，或在下方开启培训模式练习。");
  await look("randomise-training");
  await participant.startTraining();
  await page.click("[data-testid=randomise-button]");
  await look("randomise-confirm");
  await page.click("[data-testid=confirm-randomise]");
  await page.waitForSelector("[data-testid=allocated-arm]");
  const arm = await text("allocated-arm");
  assert.match(arm, /^(血液灌流组|标准治疗组)$/);
  await look("allocation");

  await home.open();
  const rows = await home.rows();
  assert.ok(rows.some((row) => row.includes(`已随机分组：${arm}`) && row.includes("IL-6 0 h：待采样")), rows.join("\n"));
  assert.equal(await page.textContent("h1"), "患者");
  await look("home");

  // Follow-up: an unusual IL-6 is confirmed, a sample outside its window too.
  await page.click(`[data-testid=participant-row]:has-text('已随机分组')`);
  await page.waitForSelector("[data-testid=section-samples]");
  await look("samples");
  await followUp.openRow("sample-H0");
  await look("sample-form");
  await followUp.fill("il6_pg_per_ml", "12000");
  await followUp.save();
  assert.equal(readable(await followUp.fieldError("il6_pg_per_ml")), "IL-6：12000 pg/mL 高于常见上限 10000 pg/mL，请核实后勾选确认");
  assert.equal(await followUp.problem(), "未保存：请核实上方标出的数值后勾选确认，或予以更正。");
  await look("sample-unusual");
  await page.click("label[for=confirm-il6_pg_per_ml]");
  await followUp.save();
  await followUp.saved();
  assert.equal(await followUp.rowState("sample-H0"), "IL-6 12000 pg/mL");

  // A correction: the current entry, and where the old one stays.
  await page.click("[data-testid=correct-il6_pg_per_ml]");
  await page.waitForSelector("[data-testid=correction]");
  assert.equal(await page.textContent("[data-testid=correction] .hint"), "当前值：12000 pg/mL。原值将保留在稽查轨迹中；请说明更正原因。");
  await followUp.fill("il6_pg_per_ml", "1200");
  await page.fill("[data-testid=correction-reason]", "转录错误");
  await look("correction");
  await page.click("[data-testid=save-correction]");
  await page.waitForSelector("[data-testid=correction]", { state: "detached" });
  assert.match(await followUp.history("il6_pg_per_ml"), /^12000 pg\/mL → 1200 pg\/mL · 原因：转录错误 · 李娜 · /);

  await followUp.openRow("sample-H6");
  await followUp.fill("il6_pg_per_ml", "600");
  await followUp.save();
  assert.match(await followUp.fieldError("sampled_at"),
    /^采样时间：6 h 样本比目标时间早 3\d\d 分钟，超出 ±60 分钟采样时间窗，请核实后勾选确认$/);
  await look("sample-outside-window");
  await page.click("label[for=confirm-sampled_at]");
  await followUp.save();
  await followUp.saved();
  assert.match(await page.textContent("[data-testid=il6-changes] thead"), /IL-6（pg\/mL）[^]*变化量（pg\/mL）[^]*IL-6 对数变化（Δlog₁₀）/);
  assert.match(await page.textContent("[data-testid=il6-change-H6]"), /-50\.0%/);
  await look("il6-change");

  // The baseline, typed wrong: each problem in Chinese, with its range.
  await followUp.section("baseline");
  await followUp.fill("sofa_score", "30");
  await followUp.fill("save_score", "-40");
  await followUp.save();
  assert.equal(readable(await followUp.fieldError("sofa_score")), "SOFA 评分：30 分，超出允许范围（0～24 分）");
  assert.equal(readable(await followUp.fieldError("save_score")), "SAVE 评分：-40 分，超出允许范围（-35 至 17 分）");
  assert.equal(await text("vis"), "血管活性-正性肌力药物评分（VIS，自动计算）：录入全部六种药物剂量后计算（未使用的药物填 0）");
  await look("baseline-problems");

  // A hemoperfusion session, numbered as Chinese CRFs number them.
  const leave = async () => {
    const asked = page.waitForEvent("dialog").then((dialog) => dialog.accept());
    await page.click("[data-testid=section-sessions]");
    await asked;
    await page.waitForSelector("[data-testid=section-sessions][aria-pressed=true]");
  };
  await leave();
  await followUp.openRow("add-hemoperfusion_session");
  assert.equal(await page.textContent("[data-testid=form-editor] h3"), "第 1 次血液灌流");
  await followUp.fillAll({
    cartridge: "ha330", cartridge_lot: "L2026-11", session_started_at: await localInput(page, 0),
    hp_blood_flow_ml_per_min: 150, circuit_position: "ecmo_circuit", anticoagulation: "肝素",
  });
  await look("session-form");
  await followUp.save();
  await followUp.saved();
  await look("session-saved");

  for (const [section, row] of [["daily", "daily-1"], ["adverse-events", "add-adverse_event"], ["outcomes", null]]) {
    await followUp.section(section);
    if (row) await followUp.openRow(row);
    await look(section);
  }

  // A withdrawal asked by the guardian; the arm stays.
  await followUp.section("end");
  await followUp.choose("end_status", "withdrawn");
  await followUp.choose("withdrawn_by", "legally_authorised_representative");
  await page.fill("#withdrawal_reason", "家属要求");
  await page.click("[data-testid=record-end]");
  await look("end-confirm");
  await page.click("[data-testid=confirm-end]");
  await page.waitForSelector("[data-testid=end-recorded]");
  assert.match(await text("end-recorded"), /已退出研究[^]*退出提出方：监护人要求[^]*退出原因：家属要求/);
  await look("end-recorded");
  await followUp.section("timeline");
  const timeline = (await followUp.timeline()).join("\n");
  assert.match(timeline, /更正数值：细胞因子样本 0 h[^]*IL-6：12000 pg\/mL → 1200 pg\/mL[^]*原因：转录错误/);
  assert.match(timeline, /保存表单：第 1 次血液灌流/);
  assert.match(timeline, /退出研究[^]*退出提出方：监护人要求/);
  await look("timeline");

  // The service worker keeps both manifests, for a start with no network.
  const cached = await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    return Promise.all(["/manifest.webmanifest", "/manifest.zh.webmanifest"].map(async (url) => !!(await caches.match(url))));
  });
  assert.deepEqual(cached, [true, true]);

  // Enrolment with the trial server: the training records go, the site's users
  // come, and sync speaks Chinese.
  server.addUser("王芳", "135790");
  await home.open();
  await page.click("[data-testid=enrol-link]");
  await page.waitForSelector("#enrolment-code");
  await page.fill("#enrolment-code", "ABC");
  await page.click("[data-testid=enrol-button]");
  assert.equal(await new Enrol(page).error(), "请输入注册码（8 位字母和数字，例如 ABCD-2345）。");
  await look("enrol");
  await page.click("label[for=enrol-confirm]");
  await new Enrol(page).enrol(server.enrolmentCode());
  await signIn.signIn("王芳", "135790");
  await home.open();
  const sync = new SyncStatus(page);
  await sync.waitAllSent();
  assert.equal(await page.locator("[data-testid=sign-out]").textContent(), "退出登录");
  assert.match(await sync.text(), /^平板：T\d+ · Beijing Anzhen Hospital · 上次同步：[^]*所有记录均已上传服务器。/);
  assert.match(await text("storage-status"), /^本平板已用 \d+\.\d MB 存储空间。存储/);
  await look("home-enrolled");

  // Idle for 5 minutes: locked, in Chinese (the page's clock is Playwright's from
  // the reload on, so the lock's timer is too).
  await page.clock.install();
  await page.reload();
  await page.waitForSelector("[data-testid=sign-in]");
  await look("sign-in");
  await signIn.signIn("王芳", "135790");
  await page.waitForSelector("[data-testid=new-screening]");
  await page.clock.fastForward("05:30");
  await page.waitForSelector("[data-testid=lock-screen]");
  await page.fill("#unlock-pin", "9999");
  await page.click("[data-testid=unlock]");
  await page.waitForFunction(() => document.querySelector("[data-testid=lock-screen] [role=alert]")?.textContent);
  assert.equal(await page.textContent("[data-testid=lock-screen] [role=alert]"), "PIN 错误，还可再试 4 次");
  await look("locked");
  await page.fill("#unlock-pin", "135790");
  await page.click("[data-testid=unlock]");
  await page.waitForSelector("[data-testid=new-screening]");

  // Back to English: the English manifest.
  await page.click("[data-testid=switch-language]");
  assert.equal(await page.getAttribute("html", "lang"), "en");
  assert.equal(await page.getAttribute("#manifest", "href"), "/manifest.webmanifest");

  assert.deepEqual(errors, []);
  await context.close();
});
