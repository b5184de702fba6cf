//! Checks that must always hold, run as tests so `cargo xtask test` gates them:
//! every Rust file opens with a `//!` line saying what it is for, no file keeps a
//! debugging leftover or a skipped test, each language has its web manifest, and
//! the Chinese texts keep to their glossary and punctuation (`chinese`).

mod chinese;

use std::path::{Path, PathBuf};

use crate::project_root;

/// Every `.rs` file of the project (not dependencies, not build output).
fn rust_files() -> Vec<PathBuf> {
    let root = project_root();
    let mut files = Vec::new();
    for dir in ["src", "tests", "crates", "xtask"] {
        collect(&root.join(dir), &mut files);
    }
    assert!(files.len() > 10, "found only {files:?}");
    files
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && path.file_name().is_some_and(|name| name != "target") {
            collect(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_rust_file_says_what_it_is_for() {
    let undocumented: Vec<_> = rust_files()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            !text.starts_with("//!")
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "no `//!` first line: {undocumented:?}"
    );
}

#[test]
fn no_leftovers() {
    // Spelled in two halves so this file does not match itself.
    let banned = [
        concat!("db", "g!("),
        concat!("#[ign", "ore"),
        concat!("to", "do!("),
        concat!("unimpl", "emented!("),
    ];
    let mut found = Vec::new();
    for path in rust_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (line_no, line) in text.lines().enumerate() {
            if let Some(pattern) = banned.iter().find(|pattern| line.contains(**pattern)) {
                found.push(format!("{}:{}: {pattern}", path.display(), line_no + 1));
            }
        }
    }
    assert!(found.is_empty(), "leftovers:\n{}", found.join("\n"));
}

#[test]
fn the_app_shows_no_debug_text_and_no_asserting_without_the_error() {
    // A user never reads Rust's `Debug` output (ARCHITECTURE.md, "Errors"), and a
    // test that expects an error says which one. Spelled in halves, as above.
    let debug = concat!(":", "?}");
    let bare = concat!(".is_", "err())");
    let mut found = Vec::new();
    for path in rust_files() {
        let in_app = path.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("../src"));
        let text = std::fs::read_to_string(&path).unwrap();
        for (line_no, line) in text.lines().enumerate() {
            let debug_in_app = in_app && line.contains(debug);
            let bare_assert = line.contains("assert!(") && line.contains(bare);
            if debug_in_app || bare_assert {
                found.push(format!(
                    "{}:{}: {}",
                    path.display(),
                    line_no + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(found.is_empty(), "found:\n{}", found.join("\n"));
}

#[test]
fn each_language_has_its_web_manifest_in_the_build() {
    // The app switches `<link id="manifest">` to the manifest of its language
    // (`Lang::apply_to_document`); Trunk copies each one into the build, where the
    // service worker precaches every file and the server serves it.
    let root = project_root();
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap();
    let (index, i18n) = (read("index.html"), read("src/i18n/mod.rs"));
    let (en, zh) = (
        read("public/manifest.webmanifest"),
        read("public/manifest.zh.webmanifest"),
    );
    assert!(index.contains(r#"<link rel="manifest" id="manifest" href="/manifest.webmanifest">"#));
    for name in ["manifest.webmanifest", "manifest.zh.webmanifest"] {
        let copied = format!(r#"<link data-trunk rel="copy-file" href="public/{name}">"#);
        assert!(index.contains(&copied), "index.html does not copy {name}");
        assert!(
            i18n.contains(&format!(r#""/{name}""#)),
            "src/i18n names no {name}"
        );
    }
    assert!(en.contains(r#""lang": "en","#) && zh.contains(r#""lang": "zh-CN","#));
    // Only the words differ: the same app, icons and colours in both.
    let words = ["\"name\"", "\"description\"", "\"lang\""];
    let rest = |manifest: &str| -> Vec<String> {
        manifest
            .lines()
            .filter(|line| !words.iter().any(|key| line.trim_start().starts_with(key)))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(rest(&en), rest(&zh));
    assert_ne!(en, zh);
}
