//! `cargo xtask test`: every check and test the project has, in one command.
//!
//! Order: cheap checks first (formatting, lints), then the release build (it must
//! build, and its size is printed), then the native tests (the trial core, the
//! server, the tidy checks), then the browser tests in headless Chromium, then the
//! end-to-end journeys, so the run ends on the test runners' summaries.

use xshell::{Shell, cmd};

use crate::install::{CHROMEDRIVER, CHROMIUM, VENV, everything};
use crate::{Result, app, bench, postgres, step};

/// Runs everything; the first failure stops the run with a non-zero exit.
pub fn test(sh: &Shell) -> Result {
    everything(sh)?;

    step("formatting (cargo fmt --check)");
    cmd!(sh, "cargo fmt --all -- --check").run()?;

    step("lints (clippy, native and wasm32)");
    cmd!(sh, "cargo clippy --all-targets -- -D warnings").run()?;
    cmd!(
        sh,
        "cargo clippy --package hp-ecmo --target wasm32-unknown-unknown --all-targets -- -D warnings"
    )
    .run()?;

    app::build_release(sh)?;
    bench::print_bundle_size(sh)?;

    // The server's suite and the two-tablet journey run on SQLite and, through
    // this variable, on PostgreSQL; the cluster stops when `postgres` is dropped,
    // also when a test fails.
    // The server's export tests read their files back with pandas and validate
    // the ODM file with xmllint, in the virtual environment `install` made.
    let postgres = postgres::Postgres::start(sh)?;
    step("native tests: trial core, server (SQLite and PostgreSQL), xtask checks");
    cmd!(sh, "cargo test")
        .env("HP_ECMO_TEST_POSTGRES_URL", postgres.url())
        .env(
            "HP_ECMO_EXPORT_PYTHON",
            sh.current_dir().join(VENV).join("bin/python"),
        )
        .run()?;

    step("browser tests: wasm-bindgen-test in headless Chromium");
    cmd!(
        sh,
        "cargo test --package hp-ecmo --target wasm32-unknown-unknown"
    )
    .env("CHROMEDRIVER", CHROMEDRIVER)
    .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
    .run()?;

    end_to_end(sh, &postgres)
}

/// Playwright (playwright-core from npm) drives Debian's Chromium through the
/// user journeys against the real server and the release build; screenshots land
/// in `target/e2e-screenshots` to be looked at.
fn end_to_end(sh: &Shell, postgres: &postgres::Postgres) -> Result {
    step("end-to-end tests: Playwright, Chromium, the real server");
    cmd!(sh, "cargo build --quiet --package server").run()?;
    let root = sh.current_dir();
    let specs: Vec<_> = sh
        .read_dir("tests/e2e")?
        .into_iter()
        .filter(|path| path.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    cmd!(sh, "node --test --test-concurrency=1 {specs...}")
        .env(
            "HP_ECMO_SERVER_BIN",
            root.join("target/debug/hp-ecmo-server"),
        )
        .env("HP_ECMO_DIST", root.join(app::DIST))
        .env("HP_ECMO_SCREENSHOTS", root.join("target/e2e-screenshots"))
        .env("CHROMIUM", CHROMIUM)
        .env("HP_ECMO_TEST_POSTGRES_URL", postgres.url())
        .env("HP_ECMO_PSQL", postgres.psql())
        .run()?;
    Ok(())
}
