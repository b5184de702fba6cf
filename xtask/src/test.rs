//! `cargo xtask test`: every check and test the project has, in one command.
//!
//! Order: cheap checks first (formatting, lints), then the release build (it must
//! build, and its size is printed), then the native tests (the trial core, the
//! server, the tidy checks), then the browser tests in headless Chromium, so the
//! run ends on the test runners' summaries.

use xshell::{Shell, cmd};

use crate::install::{CHROMEDRIVER, everything};
use crate::{Result, app, bench, step};

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

    step("native tests: trial core, server, xtask checks");
    cmd!(sh, "cargo test").run()?;

    step("browser tests: wasm-bindgen-test in headless Chromium");
    cmd!(
        sh,
        "cargo test --package hp-ecmo --target wasm32-unknown-unknown"
    )
    .env("CHROMEDRIVER", CHROMEDRIVER)
    .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
    .run()?;
    Ok(())
}
