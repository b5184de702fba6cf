//! Browser tests of the texts the app assembles (`hp_ecmo::i18n`), in both
//! languages: what ZH-REVIEW.md asked for, sentence by sentence, including the
//! ones no journey reaches (a record the server refused, a storage failure's
//! technical detail). The string tables themselves are checked natively against
//! the glossary (`xtask/src/tidy/chinese.rs`).
#![cfg(target_arch = "wasm32")]

use hp_ecmo::i18n::{
    Lang, Text, criterion_label, field_error, field_label, numbered_form, parenthesised, percent,
    range, refused_record, sample_due_label, sentences, storage_line, t, with_detail,
};
use trial::crf::FormRef;
use trial::crf::cytokine::{SampleDue, TimePoint};
use trial::eligibility::Criterion;
use trial::field::{Field, FieldError, TimeLimit};
use trial::projection::NextSample;
use trial::time::Moment;
use uuid::Uuid;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A no-break space and a word joiner, which keep "0～24 分" on one line.
const NBSP: char = '\u{a0}';
const WJ: char = '\u{2060}';

fn check(produced: String, expected: &str) {
    assert_eq!(produced, expected);
}

#[wasm_bindgen_test]
fn the_misleading_texts_say_what_they_mean() {
    check(
        field_label(Lang::Zh, Field::IcuDischargedOn).into(),
        "转出 ICU 日期",
    );
    check(
        t(Lang::Zh, Text::BlockedNotEligible).into(),
        "当前不符合入组条件。须符合全部入选标准、不符合任何排除标准，且 ECMO 运行不足 24 小时，方可随机分组。",
    );
}

#[wasm_bindgen_test]
fn criterion_codes_are_words_in_chinese() {
    check(
        criterion_label(Lang::Zh, Criterion::ShockCongestion),
        "入选 3.2 肺淤血或左心室充盈压升高",
    );
    check(
        criterion_label(Lang::Zh, Criterion::ConsentRefused),
        "排除 1 拒绝签署知情同意书",
    );
    check(
        criterion_label(Lang::En, Criterion::ConsentRefused),
        "E1 Consent refused",
    );
}

#[wasm_bindgen_test]
fn ranges_and_units_are_written_the_chinese_way() {
    let out_of_range = |field, value, min, max| FieldError::OutOfRange {
        field,
        value,
        min,
        max,
    };
    check(
        field_error(Lang::Zh, &out_of_range(Field::SofaScore, 30.0, 0.0, 24.0)),
        &format!("SOFA 评分：30{NBSP}分，超出允许范围（0{WJ}～{WJ}24{NBSP}分）"),
    );
    check(
        field_error(
            Lang::Zh,
            &out_of_range(Field::SaveScore, -40.0, -35.0, 17.0),
        ),
        &format!("SAVE 评分：-40{NBSP}分，超出允许范围（-35 至 17{NBSP}分）"),
    );
    check(
        field_error(Lang::En, &out_of_range(Field::SofaScore, 30.0, 0.0, 24.0)),
        "SOFA score: 30 points is outside the allowed range 0–24 points",
    );
    check(
        field_error(
            Lang::Zh,
            &FieldError::UnconfirmedWarning {
                field: Field::Il6PgPerMl,
                value: 12_000.0,
                warn_above: 10_000.0,
            },
        ),
        &format!("IL-6：12000{NBSP}pg/mL 高于常见上限 10000{NBSP}pg/mL，请核实后勾选确认"),
    );
    check(
        range(Lang::Zh, "11:00", "13:00"),
        &format!("11:00{WJ}～{WJ}13:00"),
    );
    check(
        range(Lang::Zh, "03-01 23:00", "03-02 01:00"),
        "03-01 23:00 至 03-02 01:00",
    );
}

#[wasm_bindgen_test]
fn chinese_meets_latin_with_a_space() {
    let later_than = |limit| FieldError::LaterThan {
        field: Field::SampledAt,
        limit,
    };
    check(
        field_error(Lang::Zh, &later_than(TimeLimit::EcmoStart)),
        "采样时间：不得晚于 ECMO 上机时间",
    );
    check(
        field_error(Lang::Zh, &later_than(TimeLimit::RecordingTime)),
        "采样时间：不得晚于当前时间（不能录入尚未发生的事件）",
    );
}

#[wasm_bindgen_test]
fn assembled_sentences_use_chinese_punctuation() {
    let t0 = Moment::new(1_772_337_600_000, 480).unwrap();
    let next = NextSample {
        time_point: TimePoint::H6,
        window: TimePoint::H6.window(t0).unwrap(),
        due: SampleDue::Due,
    };
    check(sample_due_label(Lang::Zh, &next), "IL-6 6 h：待采样");
    check(sample_due_label(Lang::En, &next), "IL-6 6 h: due now");
    check(
        refused_record(Lang::Zh, 42, Text::RejectedInvalid),
        "服务器拒收第 42 条记录：其数据未通过服务器校验；记录已保留，协调员将发起数据质疑。",
    );
    check(
        sentences(
            Lang::Zh,
            "当前值：120 mmHg",
            t(Lang::Zh, Text::CorrectionHelp),
        ),
        "当前值：120 mmHg。原值将保留在稽查轨迹中；请说明更正原因。",
    );
    check(
        parenthesised(Lang::Zh, t(Lang::Zh, Text::ChangeAbsolute), "pg/mL"),
        "变化量（pg/mL）",
    );
    check(
        parenthesised(Lang::Zh, field_label(Lang::Zh, Field::Ecpr), "选填"),
        "体外心肺复苏（ECPR，选填）",
    );
    check(percent(Lang::Zh, "+12.5"), "+12.5%");
    check(
        storage_line(Lang::Zh, Text::StorageNotKept, 3.2),
        "本平板已用 3.2 MB 存储空间。存储未获持久保存保证，空间不足时浏览器可能将其清除，请经常同步。",
    );
    let session = FormRef::HemoperfusionSession {
        session_id: Uuid::from_u128(1),
    };
    check(numbered_form(Lang::Zh, session, 2), "第 2 次血液灌流");
    check(
        numbered_form(Lang::En, session, 2),
        "Hemoperfusion session 2",
    );
}

#[wasm_bindgen_test]
fn no_english_is_left_for_a_chinese_user() {
    check(
        t(Lang::Zh, Text::ChangeLog10).into(),
        "IL-6 对数变化（Δlog₁₀）",
    );
    check(
        t(Lang::Zh, Text::VisNeedsDoses).into(),
        "录入全部六种药物剂量后计算（未使用的药物填 0）",
    );
    // A technical detail comes after a whole Chinese sentence, marked as such.
    check(
        with_detail(Lang::Zh, Text::StorageRefused, &"QuotaExceededError"),
        "未保存：平板存储拒绝写入，未做任何更改。请重试；如再次发生，请告知试验协调员（技术细节：QuotaExceededError）。",
    );
    check(
        with_detail(Lang::Zh, Text::FormNotBuilt, &"missing field `sofa_score`"),
        "未保存：无法根据录入内容生成表单，未做任何更改。请告知试验协调员（技术细节：missing field `sofa_score`）。",
    );
}
