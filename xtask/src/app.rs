//! The release build of the app, shared by `run`, `test` and `bench`.

use xshell::{Shell, cmd};

use crate::{Result, step};

/// Where Trunk writes the built app and the server serves it from.
pub const DIST: &str = "dist";

/// Builds the app with Trunk in release mode into [`DIST`].
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
    Ok(())
}
