//! The dashboard's CONSORT flow: the rows the server counted exactly as
//! `consort.csv` has them, drawn as the CONSORT diagram (SVG, shown and
//! downloadable) and listed as a table a screen reader and a monitor can read.

use leptos::prelude::*;
use trial::console::{OverdueSample, SiteDashboard};
use trial::export::{ConsortRow, StratumBalance};
use trial::randomisation::Arm;

use super::api;
use super::pages::{Listing, failure_message, local_time};
use super::text::{Ct, consort_label, ct, exclusion_label};
use crate::i18n::{Lang, Text, arm_label, t, use_lang};

/// Every site's CONSORT flow.
#[component]
pub fn Dashboard() -> impl IntoView {
    let lang = use_lang();
    let change = super::site::use_change();
    let answer = LocalResource::new(move || {
        change.version.track();
        api::dashboard()
    });
    move || {
        answer.get().map(|answer| match answer {
            Err(failure) => view! {
                <p class="field-error" role="alert">{failure_message(lang.get(), &failure, Ct::SessionEnded)}</p>
            }
            .into_any(),
            Ok(dashboard) => dashboard
                .sites
                .into_iter()
                .map(|site| view! { <SiteFlow site=site/> })
                .collect_view()
                .into_any(),
        })
    }
}

#[component]
fn SiteFlow(site: SiteDashboard) -> impl IntoView {
    let lang = use_lang();
    let rows = site.consort.clone();
    let svg_rows = site.consort.clone();
    let image = Memo::new(move |_| svg_data_url(&diagram(lang.get(), &svg_rows)));
    view! {
        <section class="card" data-testid="console-dashboard">
            <h2>{move || ct(lang.get(), Ct::ConsortTitle)} " · " {site.code.clone()} " " {site.name.clone()}</h2>
            <img class="consort" data-testid="consort-diagram" src=move || image.get()
                alt=move || ct(lang.get(), Ct::ConsortTitle)/>
            <p>
                <a class="button secondary" download="consort.svg" href=move || image.get()
                    data-testid="consort-download">{move || ct(lang.get(), Ct::DownloadSvg)}</a>
            </p>
            <div class="table-scroll" tabindex="0">
                <table class="audit" data-testid="consort-table">
                    <thead><tr>
                        <th scope="col">{move || ct(lang.get(), Ct::Stage)}</th>
                        <th scope="col">{move || ct(lang.get(), Ct::Count)}</th>
                    </tr></thead>
                    <tbody>
                        {rows.into_iter().map(|row| {
                            let count = row.count;
                            view! {
                            <tr>
                                <td>{move || consort_label(lang.get(), &row)}</td>
                                <td class="count">{count}</td>
                            </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <Balance strata=site.balance/>
            <Overdue samples=site.overdue_samples/>
        </section>
    }
}

/// How many of each stratum's participants each arm holds.
#[component]
fn Balance(strata: Vec<StratumBalance>) -> impl IntoView {
    let rows = strata
        .into_iter()
        .map(|stratum| {
            view! {
                <tr>
                    <td>{stratum.tablet}</td>
                    <td class="count">{stratum.hemoperfusion}</td>
                    <td class="count">{stratum.standard_care}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    let headers: Vec<fn(Lang) -> &'static str> = vec![
        |lang| ct(lang, Ct::BalanceTablet),
        |lang| arm_label(lang, Arm::Hemoperfusion),
        |lang| arm_label(lang, Arm::StandardCare),
    ];
    view! {
        <Listing title=Ct::BalanceTitle empty=Ct::NoneRandomised testid="balance" headers rows/>
    }
}

/// The samples whose window closed with nothing recorded, oldest first.
#[component]
fn Overdue(samples: Vec<OverdueSample>) -> impl IntoView {
    let lang = use_lang();
    let rows = samples
        .into_iter()
        .map(|sample| {
            let closed = sample.window_closed_at_ms;
            view! {
                <tr>
                    <td>{sample.study_number}</td>
                    <td>{format!("{} h", sample.hours)}</td>
                    <td>{move || local_time(lang.get(), closed)}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    let headers: Vec<fn(Lang) -> &'static str> = vec![
        |lang| t(lang, Text::StudyNumber),
        |lang| t(lang, Text::TimePoint),
        |lang| ct(lang, Ct::WindowClosed),
    ];
    view! {
        <Listing title=Ct::OverdueTitle empty=Ct::NoneOverdue testid="overdue" headers rows/>
    }
}

/// The count of the row at `stage` (and `arm`, `reason`), 0 when absent.
fn count(rows: &[ConsortRow], stage: &str, arm: &str, reason: &str) -> u32 {
    rows.iter()
        .find(|row| row.stage == stage && row.arm == arm && row.reason == reason)
        .map_or(0, |row| row.count)
}

/// The CONSORT diagram as SVG: assessed, excluded with reasons, randomised, and
/// for each arm allocated, received, withdrawn, lost and analysed.
fn diagram(lang: Lang, rows: &[ConsortRow]) -> String {
    const WIDTH: i32 = 960;
    let excluded: Vec<String> = rows
        .iter()
        .filter(|row| row.stage == "excluded" || row.stage == "not_eligible_by_criterion")
        .map(|row| {
            let indent = if row.stage == "excluded" { "" } else { "   " };
            let reason = exclusion_label(lang, &row.reason);
            format!("{indent}{}", counted(lang, &reason, row.count))
        })
        .collect();
    let excluded_total: u32 = rows
        .iter()
        .filter(|row| row.stage == "excluded")
        .map(|row| row.count)
        .sum();
    let mut svg = String::new();
    let mut boxes = Vec::new();
    let mut text_box = |x: i32, y: i32, w: i32, lines: &[String]| {
        let h = 16 + 20 * lines.len() as i32;
        let mut out = format!(
            r##"<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="#fff" stroke="#0b4f6c" stroke-width="2"/>"##
        );
        for (index, line) in lines.iter().enumerate() {
            let ty = y + 24 + 20 * index as i32;
            out.push_str(&format!(
                r#"<text x="{}" y="{ty}" font-size="14" font-family="sans-serif">{}</text>"#,
                x + 10,
                escape(line)
            ));
        }
        boxes.push(out);
        h
    };
    let center = 300;
    let assessed = vec![total(
        lang,
        ct(lang, Ct::Assessed),
        count(rows, "assessed_for_eligibility", "", ""),
    )];
    let h1 = text_box(center - 180, 20, 360, &assessed);
    let mut excluded_lines = vec![total(lang, ct(lang, Ct::Excluded), excluded_total)];
    excluded_lines.extend(excluded);
    let excluded_y = 20 + h1 + 20;
    let h2 = text_box(center + 220, excluded_y, 400, &excluded_lines);
    let randomised_y = excluded_y + h2 + 20;
    let mut randomised = vec![total(
        lang,
        ct(lang, Ct::Randomised),
        count(rows, "randomised", "", ""),
    )];
    let unknown = count(rows, "allocated", "", "arm_unknown");
    if unknown > 0 {
        randomised.push(counted(lang, ct(lang, Ct::ArmUnknown), unknown));
    }
    let h3 = text_box(center - 180, randomised_y, 360, &randomised);
    let arms_y = randomised_y + h3 + 40;
    let mut arm_bottom = arms_y;
    for (index, (arm, name)) in [
        ("hemoperfusion", Ct::ArmHemoperfusion),
        ("standard_care", Ct::ArmStandardCare),
    ]
    .into_iter()
    .enumerate()
    {
        let x = 20 + index as i32 * 470;
        let lines: Vec<String> = [
            ("allocated", Ct::Allocated),
            ("received_allocated_intervention", Ct::ReceivedAllocated),
            ("withdrawn", Ct::Withdrawn),
            ("lost_to_follow_up", Ct::Lost),
            ("analysed_primary_outcome", Ct::Analysed),
        ]
        .into_iter()
        .map(|(stage, text)| counted(lang, ct(lang, text), count(rows, stage, arm, "")))
        .collect();
        let mut with_name = vec![ct(lang, name).to_owned()];
        with_name.extend(lines);
        let h = text_box(x, arms_y, 440, &with_name);
        arm_bottom = arm_bottom.max(arms_y + h);
    }
    let line = |x1: i32, y1: i32, x2: i32, y2: i32| {
        format!(
            r##"<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#0b4f6c" stroke-width="2"/>"##
        )
    };
    let height = arm_bottom + 20;
    svg.push_str(&format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">"#
    ));
    svg.push_str(&format!(
        r##"<rect width="{WIDTH}" height="{height}" fill="#fff"/>"##
    ));
    svg.push_str(&line(center, 20 + h1, center, randomised_y));
    svg.push_str(&line(
        center,
        excluded_y + h2 / 2,
        center + 220,
        excluded_y + h2 / 2,
    ));
    svg.push_str(&line(center, randomised_y + h3, center, arms_y - 20));
    svg.push_str(&line(240, arms_y - 20, 710, arms_y - 20));
    svg.push_str(&line(240, arms_y - 20, 240, arms_y));
    svg.push_str(&line(710, arms_y - 20, 710, arms_y));
    for part in boxes {
        svg.push_str(&part);
    }
    svg.push_str("</svg>");
    svg
}

/// "Withdrawn: 3", "退出研究：3": the colon of the language.
fn counted(lang: Lang, label: &str, count: u32) -> String {
    match lang {
        Lang::En => format!("{label}: {count}"),
        Lang::Zh => format!("{label}：{count}"),
    }
}

/// "Randomised (n = 40)", "随机分组（n = 40）": the brackets of the language.
fn total(lang: Lang, label: &str, count: u32) -> String {
    match lang {
        Lang::En => format!("{label} (n = {count})"),
        Lang::Zh => format!("{label}（n = {count}）"),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn svg_data_url(svg: &str) -> String {
    let encoded: String = js_sys::encode_uri_component(svg).into();
    format!("data:image/svg+xml;charset=utf-8,{encoded}")
}
