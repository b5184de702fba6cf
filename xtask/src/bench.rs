//! `cargo xtask bench`: figures, not pass/fail. Timed assertions would flake on the
//! shared machines, so performance is printed and compared by people: the bundle's
//! size, the app's start-up and tap-to-allocation times in Chromium, what a
//! tablet's work costs as its log grows (2,000 to 50,000 events, normally and at
//! 4× CPU throttling), and the sync server's push and pull throughput.

use std::path::PathBuf;

use xshell::{Shell, cmd};

use crate::{Result, app, compress, install, postgres, step};

/// Builds the release app and prints its size, how fast it starts and
/// randomises in Chromium, and the sync server's throughput.
pub fn bench(sh: &Shell) -> Result {
    install::everything(sh)?;
    app::build_release(sh)?;
    print_bundle_size(sh)?;
    print_app_timings(sh)?;
    print_log_timings(sh)?;
    print_sync_throughput(sh)
}

/// Start-up and tap-to-allocation times of the release build in headless
/// Chromium, against the server as `cargo xtask run` builds it (release) (see
/// `tests/e2e/bench/app.mjs`).
fn print_app_timings(sh: &Shell) -> Result {
    step("app timings (Chromium, release build, median of 7)");
    let server = release_server(sh)?;
    let root = sh.current_dir();
    cmd!(sh, "node tests/e2e/bench/app.mjs")
        .env("HP_ECMO_SERVER_BIN", server)
        .env("HP_ECMO_DIST", root.join(app::DIST))
        .env("CHROMIUM", install::CHROMIUM)
        .run()?;
    Ok(())
}

/// A tablet filled with a site's log through the real server and sync, at 2,000,
/// 10,000 and 50,000 events (`HP_ECMO_BENCH_SIZES` may name others): sync-in,
/// saving a correction, randomising, signing in, opening a participant, filtering
/// the home list, the longest task of the 30 s timer and of an empty sync, and wasm
/// memory, normally and at 4× CPU throttling, each against its target (see
/// `tests/e2e/bench/log.mjs`). The log comes from `crates/trial/examples/bench_log.rs`,
/// built optimised: it seals and checks every event as the server does.
fn print_log_timings(sh: &Shell) -> Result {
    step("a tablet's log at 2,000, 10,000 and 50,000 events (Chromium, release build)");
    let server = release_server(sh)?;
    cmd!(
        sh,
        "cargo build --quiet --release --package trial --example bench_log"
    )
    .run()?;
    let root = sh.current_dir();
    cmd!(sh, "node tests/e2e/bench/log.mjs")
        .env("HP_ECMO_SERVER_BIN", server)
        .env(
            "HP_ECMO_BENCH_GENERATOR",
            release_dir(sh).join("examples/bench_log"),
        )
        .env("HP_ECMO_DIST", root.join(app::DIST))
        .env("CHROMIUM", install::CHROMIUM)
        .run()?;
    Ok(())
}

/// Builds the server as `cargo xtask run` starts it (release) and says where.
fn release_server(sh: &Shell) -> Result<PathBuf> {
    cmd!(sh, "cargo build --quiet --release --package server").run()?;
    Ok(release_dir(sh).join("hp-ecmo-server"))
}

/// Where cargo puts release builds.
fn release_dir(sh: &Shell) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| sh.current_dir().join("target"), PathBuf::from)
        .join("release")
}

/// The sync server's push, retry and pull throughput, in-process, on SQLite and on
/// a throw-away PostgreSQL (see `crates/server/benches/sync.rs`).
fn print_sync_throughput(sh: &Shell) -> Result {
    let postgres = postgres::Postgres::start(sh)?;
    step("sync throughput (server in-process, median of 5 runs)");
    cmd!(sh, "cargo bench --quiet --package server --bench sync")
        .env("HP_ECMO_TEST_POSTGRES_URL", postgres.url())
        .run()?;
    Ok(())
}

/// Prints the size of each code file of the built app: raw, gzip -9 and brotli 11,
/// since the server and the service worker serve compressed bytes.
pub fn print_bundle_size(sh: &Shell) -> Result {
    step("bundle size (release)");
    let mut files: Vec<_> = sh
        .read_dir(app::DIST)?
        .into_iter()
        .filter(|path| {
            let ext = path.extension().and_then(|ext| ext.to_str());
            matches!(ext, Some("wasm" | "js" | "css" | "html"))
        })
        .collect();
    files.sort();
    println!(
        "{:<40} {:>10} {:>10} {:>10}",
        "file", "raw B", "gzip B", "brotli B"
    );
    let mut totals = [0; 3];
    for path in files {
        let bytes = sh.read_binary_file(&path)?;
        let sizes = [
            bytes.len(),
            compress::gzip(&bytes)?.len(),
            compress::brotli(&bytes)?.len(),
        ];
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        println!(
            "{name:<40} {:>10} {:>10} {:>10}",
            sizes[0], sizes[1], sizes[2]
        );
        for (total, size) in totals.iter_mut().zip(sizes) {
            *total += size;
        }
    }
    println!(
        "{:<40} {:>10} {:>10} {:>10}",
        "total", totals[0], totals[1], totals[2]
    );
    Ok(())
}
