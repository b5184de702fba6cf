//! The release build of the app, shared by `run`, `test` and `bench`.

use xshell::{Shell, cmd};

use crate::{Result, step};

/// Where Trunk writes the built app and the server serves it from.
pub const DIST: &str = "dist";

/// Where the coordinator console's own build goes: inside [`DIST`], built after
/// the tablet's (whose build replaces the folder), and served at `/console`.
pub const CONSOLE_DIST: &str = "dist/console";

/// Builds the app with Trunk in release mode into [`DIST`], then the console
/// (`console.html`, its own entry point) into [`CONSOLE_DIST`], and prints both
/// bundles' sizes.
///
/// Trunk would download wasm-bindgen and wasm-opt when it dislikes the installed
/// ones; offline mode makes that a clear failure instead of a hang on a network the
/// machines do not reach. Offline mode also passes `--offline` to cargo, so the
/// crates are fetched first.
pub fn build_release(sh: &Shell) -> Result {
    step("building the app (release, wasm32)");
    cmd!(sh, "cargo fetch --quiet").run()?;
    cmd!(sh, "trunk build --release")
        .env("TRUNK_OFFLINE", "true")
        .env("TRUNK_SKIP_VERSION_CHECK", "true")
        .run()?;
    step("building the coordinator console (release, wasm32, its own bundle)");
    cmd!(
        sh,
        "trunk build console.html --release --dist {CONSOLE_DIST} --public-url /console/"
    )
    .env("TRUNK_OFFLINE", "true")
    .env("TRUNK_SKIP_VERSION_CHECK", "true")
    .run()?;
    for (what, folder) in [("tablet", DIST), ("console", CONSOLE_DIST)] {
        println!("{what} bundle: {}", wasm_sizes(sh, folder)?);
    }
    Ok(())
}

/// The raw and brotli sizes of the one wasm file directly in `folder`.
fn wasm_sizes(sh: &Shell, folder: &str) -> Result<String> {
    let wasm = sh
        .read_dir(folder)?
        .into_iter()
        .find(|path| {
            path.extension()
                .is_some_and(|extension| extension == "wasm")
        })
        .ok_or_else(|| format!("no .wasm in {folder}"))?;
    let raw = std::fs::metadata(&wasm)?.len();
    let mut brotli_path = wasm.clone().into_os_string();
    brotli_path.push(".br");
    let brotli = std::fs::metadata(&brotli_path)?.len();
    Ok(format!("wasm {raw} B raw, {brotli} B brotli"))
}
