//! The Chinese texts hold to `src/i18n/GLOSSARY.md`: one term per concept (no
//! retired term in any Chinese string literal under `src/`), full-width
//! punctuation next to Chinese, ranges written `0～24`, and a space between Chinese
//! and Latin letters or digits.
//!
//! The app crate compiles only for wasm32, so these checks read its source: every
//! string literal that holds a Chinese character is one text, or the Chinese part
//! of a format string (whose `{…}` placeholders are left unjudged). What the page
//! code assembles at run time is checked on the rendered screens by the Chinese
//! end-to-end journey (`tests/e2e/chinese.test.mjs`).

use crate::project_root;

/// One concept of the glossary: the terms chosen for it and the ones retired.
#[derive(Debug)]
struct Concept {
    name: String,
    chosen: Vec<String>,
    retired: Vec<String>,
}

/// A string literal of the app's source that holds Chinese.
#[derive(Debug)]
struct Literal {
    /// "src/i18n/strings.rs:12".
    place: String,
    text: String,
}

/// What placeholders (`{field}`, `{}`) become while a text is judged: neither
/// Chinese nor Latin, since the text they stand for is not known here.
const PLACEHOLDER: char = '\u{fffc}';

/// ASCII punctuation that has a full-width form to use next to Chinese.
const ASCII_PUNCTUATION: [char; 8] = [':', '.', ',', ';', '?', '!', '(', ')'];

/// Parses the glossary's table: one row per concept, terms between backticks.
fn glossary(markdown: &str) -> Vec<Concept> {
    markdown
        .lines()
        .filter(|line| line.starts_with('|') && !line.starts_with("|---"))
        .skip(1) // the header
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split('|').collect();
            assert_eq!(cells.len(), 3, "GLOSSARY.md: a row has 3 cells: {row}");
            Concept {
                name: cells[0].trim().to_owned(),
                chosen: terms(cells[1]),
                retired: terms(cells[2]),
            }
        })
        .collect()
}

/// The terms of a cell: what stands between backticks.
fn terms(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn the_glossary() -> Vec<Concept> {
    let path = project_root().join("src/i18n/GLOSSARY.md");
    let concepts = glossary(&std::fs::read_to_string(path).unwrap());
    assert!(concepts.len() > 20, "GLOSSARY.md: {concepts:?}");
    concepts
}

/// Every string literal under `src/` that holds a Chinese character.
fn chinese_literals() -> Vec<Literal> {
    let root = project_root();
    let mut files = Vec::new();
    super::collect(&root.join("src"), &mut files);
    files.sort();
    let mut literals = Vec::new();
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap();
        let relative = path.strip_prefix(&root).unwrap_or(&path).display();
        for (line, text) in string_literals(&source) {
            if text.chars().any(is_han) {
                literals.push(Literal {
                    place: format!("{relative}:{line}"),
                    text,
                });
            }
        }
    }
    assert!(
        literals.len() > 300,
        "found only {} Chinese texts",
        literals.len()
    );
    literals
}

/// The string literals of Rust `source`, each with the line it starts on, their
/// escapes resolved; comments, characters and lifetimes are skipped.
fn string_literals(source: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = source.chars().collect();
    let at = |index: usize| chars.get(index).copied().unwrap_or('\0');
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut literals = Vec::new();
    let (mut index, mut line) = (0, 1);
    while index < chars.len() {
        let c = chars[index];
        match c {
            '\n' => {
                line += 1;
                index += 1;
            }
            '/' if at(index + 1) == '/' => {
                while index < chars.len() && chars[index] != '\n' {
                    index += 1;
                }
            }
            '/' if at(index + 1) == '*' => {
                index += 2;
                while index < chars.len() && !(chars[index] == '*' && at(index + 1) == '/') {
                    line += usize::from(chars[index] == '\n');
                    index += 1;
                }
                index += 2;
            }
            'r' if !is_ident(at(index.wrapping_sub(1))) || at(index.wrapping_sub(1)) == 'b' => {
                let hashes = (index + 1..chars.len())
                    .take_while(|&i| chars[i] == '#')
                    .count();
                if at(index + 1 + hashes) != '"' {
                    index += 1;
                    continue;
                }
                let start = index + 2 + hashes;
                let closing: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let mut end = start;
                while end < chars.len() && !chars[end..].starts_with(&closing) {
                    end += 1;
                }
                let text: String = chars[start..end.min(chars.len())].iter().collect();
                literals.push((line, text.clone()));
                line += text.matches('\n').count();
                index = end + closing.len();
            }
            '"' => {
                let start_line = line;
                let mut text = String::new();
                index += 1;
                while index < chars.len() && chars[index] != '"' {
                    match chars[index] {
                        '\\' => {
                            index += 1;
                            match at(index) {
                                'n' => text.push('\n'),
                                't' => text.push('\t'),
                                '\n' => {
                                    // A line continuation: the next line's
                                    // leading whitespace is not part of the text.
                                    line += 1;
                                    while at(index + 1).is_whitespace() {
                                        line += usize::from(at(index + 1) == '\n');
                                        index += 1;
                                    }
                                }
                                'u' => {
                                    let close = (index..chars.len())
                                        .find(|&i| chars[i] == '}')
                                        .unwrap_or(index);
                                    let hex: String = chars[index + 2..close].iter().collect();
                                    text.extend(
                                        u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32),
                                    );
                                    index = close;
                                }
                                other => text.push(other),
                            }
                        }
                        '\n' => {
                            line += 1;
                            text.push('\n');
                        }
                        other => text.push(other),
                    }
                    index += 1;
                }
                literals.push((start_line, text));
                index += 1;
            }
            '\'' if at(index + 1) == '\\' => {
                // A character like '\n', '\'' or '\u{3000}'.
                index += 3;
                while index < chars.len() && chars[index] != '\'' {
                    index += 1;
                }
                index += 1;
            }
            '\'' if at(index + 2) == '\'' => index += 3,
            _ => index += 1,
        }
    }
    literals
}

/// A Chinese character (CJK unified ideographs and extension A).
fn is_han(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}')
}

/// Chinese text: a character, or CJK or full-width punctuation.
fn is_chinese(c: char) -> bool {
    is_han(c) || matches!(c, '\u{3000}'..='\u{303f}' | '\u{ff00}'..='\u{ffef}' | '…' | '—')
}

/// `text` with each `{…}` placeholder as one [`PLACEHOLDER`], and `{{` / `}}` as
/// the braces they print.
fn without_placeholders(text: &str) -> Vec<char> {
    let mut chars = text.chars().peekable();
    let mut out = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                for inner in chars.by_ref() {
                    if inner == '}' {
                        break;
                    }
                }
                out.push(PLACEHOLDER);
            }
            other => out.push(other),
        }
    }
    out
}

/// What is wrong with the layout of the Chinese text `text`, in words.
fn layout_problems(text: &str) -> Vec<String> {
    let chars = without_placeholders(text);
    let at = |index: usize| chars.get(index).copied().unwrap_or(' ');
    // The nearest character that is not a space, going `step` from `index`.
    let neighbour = |index: usize, step: isize| {
        let mut i = index as isize + step;
        while i >= 0 && (i as usize) < chars.len() && chars[i as usize] == ' ' {
            i += step;
        }
        if i >= 0 {
            chars.get(i as usize).copied()
        } else {
            None
        }
    };
    let mut problems = Vec::new();
    for (index, &c) in chars.iter().enumerate() {
        let (before, after) = (at(index.wrapping_sub(1)), at(index + 1));
        let digits_around = before.is_ascii_digit() && after.is_ascii_digit();
        if ASCII_PUNCTUATION.contains(&c) {
            let between_digits = matches!(c, '.' | ':') && digits_around;
            let address = c == ':' && chars.get(index + 1..index + 3) == Some(&['/', '/']);
            let next_to_chinese = [neighbour(index, -1), neighbour(index, 1)]
                .into_iter()
                .flatten()
                .any(is_chinese);
            if next_to_chinese && !between_digits && !address {
                problems.push(format!(
                    "ASCII `{c}` next to Chinese: use its full-width form"
                ));
            }
        }
        if matches!(c, '-' | '–' | '—' | '~') && digits_around {
            problems.push(format!(
                "range written with `{c}`: write 0～24 (or -35 至 17)"
            ));
        }
        if is_han(c) && (before.is_ascii_alphanumeric() || after.is_ascii_alphanumeric()) {
            problems.push(format!(
                "no space between Chinese and Latin around `{c}`: write `ECMO 上机时间`"
            ));
        }
    }
    problems
}

/// The retired terms in the Chinese text `text`: each occurrence that does not lie
/// inside an occurrence of a chosen term.
fn retired_terms<'a>(text: &str, concepts: &'a [Concept]) -> Vec<&'a str> {
    let chosen: Vec<(usize, usize)> = concepts
        .iter()
        .flat_map(|concept| &concept.chosen)
        .flat_map(|term| {
            text.match_indices(term.as_str())
                .map(|(at, term)| (at, at + term.len()))
        })
        .collect();
    concepts
        .iter()
        .flat_map(|concept| &concept.retired)
        .filter(|term| {
            text.match_indices(term.as_str()).any(|(at, found)| {
                let end = at + found.len();
                !chosen.iter().any(|&(from, to)| from <= at && end <= to)
            })
        })
        .map(String::as_str)
        .collect()
}

/// The problems of every Chinese text under `src/`, one line each.
fn report(check: impl Fn(&str) -> Vec<String>) -> Vec<String> {
    chinese_literals()
        .iter()
        .flat_map(|literal| {
            check(&literal.text)
                .into_iter()
                .map(move |problem| format!("{}: {:?}: {problem}", literal.place, literal.text))
        })
        .collect()
}

#[test]
fn no_retired_term_in_any_chinese_text() {
    let concepts = the_glossary();
    let found = report(|text| {
        retired_terms(text, &concepts)
            .into_iter()
            .map(|term| {
                let concept = concepts
                    .iter()
                    .find(|c| c.retired.iter().any(|r| r == term));
                let concept = concept.expect("a retired term belongs to a concept");
                format!(
                    "retired `{term}`: use {:?} ({})",
                    concept.chosen, concept.name
                )
            })
            .collect()
    });
    assert!(
        found.is_empty(),
        "see src/i18n/GLOSSARY.md\n{}",
        found.join("\n")
    );
}

#[test]
fn chinese_texts_use_chinese_punctuation_and_spacing() {
    let found = report(layout_problems);
    assert!(
        found.is_empty(),
        "see src/i18n/GLOSSARY.md\n{}",
        found.join("\n")
    );
}

#[test]
fn every_chosen_term_is_in_use() {
    // A term no text uses any more is a glossary gone stale.
    let texts: Vec<String> = chinese_literals().into_iter().map(|l| l.text).collect();
    let concepts = the_glossary();
    let unused: Vec<&str> = concepts
        .iter()
        .flat_map(|concept| &concept.chosen)
        .filter(|term| !texts.iter().any(|text| text.contains(term.as_str())))
        .map(String::as_str)
        .collect();
    assert!(unused.is_empty(), "chosen but unused: {unused:?}");
}

#[test]
fn no_chosen_term_is_also_retired() {
    let concepts = the_glossary();
    let chosen: Vec<&String> = concepts.iter().flat_map(|c| &c.chosen).collect();
    for concept in &concepts {
        for term in &concept.retired {
            assert!(!chosen.contains(&term), "`{term}` is chosen and retired");
        }
    }
}

mod checks {
    //! The checkers themselves, on texts written for them.
    use super::*;

    fn retired(text: &str) -> Vec<String> {
        let concepts = the_glossary();
        retired_terms(text, &concepts)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_retired_term_is_found_unless_inside_a_chosen_one() {
        assert_eq!(retired("拒绝知情同意"), ["拒绝知情同意"]);
        assert_eq!(retired("随机窗口剩余"), ["随机", "窗口"]);
        assert_eq!(retired("法定代理人"), ["法定代理人"]);
        assert!(retired("监护人（法定代理人）").is_empty());
        assert_eq!(retired("结束参与"), ["结束参与"]);
        assert_eq!(retired("退出"), ["退出"]);
        assert!(retired("退出登录").is_empty());
        assert!(retired("已退出研究").is_empty());
        assert_eq!(retired("记录已保留在审计链中"), ["审计链"]);
        assert_eq!(retired("原值将保留在修改记录中"), ["修改记录"]);
        assert_eq!(retired("胆红素"), ["胆红素"]);
        assert!(retired("总胆红素").is_empty());
        assert_eq!(retired("本平板尚未在试验服务器登记"), ["登记"]);
        assert_eq!(retired("已随机"), ["随机"]);
        assert!(retired("已随机分组").is_empty());
    }

    #[test]
    fn layout_problems_are_found() {
        let check = |text: &str, expected: usize| {
            assert_eq!(
                layout_problems(text).len(),
                expected,
                "{text}: {:?}",
                layout_problems(text)
            );
        };
        check("服务器拒收第 42 条记录：其数据未通过校验。", 0);
        check("服务器拒绝了记录 42: 其数据", 1);
        check("当前值：120 mmHg. 原值", 1);
        check("变化量 (pg/mL)", 1);
        check("变化量（pg/mL）", 0);
        check("已用 3.2 MB，版本 2.1，14:05", 0);
        check("请通过 https:// 地址打开", 0);
        check("超出允许范围 0–24 分", 1);
        check("超出允许范围（0～24 分）", 0);
        check("SAVE 评分：-35 至 17 分", 0);
        check("不得晚于ECMO上机时间", 2);
        check("{field}：不得晚于{}", 0);
        check("{n} 条待同步", 0);
    }

    #[test]
    fn literals_are_read_as_rust_reads_them() {
        let source = r###"
            // "注释" is a comment
            let a = "甲\"乙";
            /* "块" */ let b = 'x'; let c = '\''; fn f<'a>() {}
            let d = r#"原"始"#;
            let e = "续\
                     行";
        "###;
        let texts: Vec<String> = string_literals(source)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(texts, ["甲\"乙", "原\"始", "续行"]);
        assert_eq!(
            string_literals(source)[0].0,
            3,
            "the line of the first literal"
        );
    }

    #[test]
    fn the_glossary_parses() {
        let concepts = glossary(
            "| Concept | Chosen | Retired |\n|---|---|---|\n| sign out | `退出登录` | `退出` (outside) |\n",
        );
        assert_eq!(concepts.len(), 1);
        assert_eq!(concepts[0].chosen, ["退出登录"]);
        assert_eq!(concepts[0].retired, ["退出"]);
    }
}
