//! Installs what the build and tests need, and nothing that is already there.
//!
//! Every tool comes from a package registry (crates.io, npm, PyPI, Debian), because
//! the machines reach nothing else. Versions are pinned where the build depends on
//! them: Trunk 0.21.14 (0.22 needs a newer rustc), wasm-bindgen-cli equal to the
//! `wasm-bindgen` in Cargo.lock (the CLI refuses any other), wasm-opt from npm's
//! binaryen (Debian's is too old for today's rustc output), pandas and odmlib
//! exactly as the export checks were written against, and the API tester,
//! schemathesis, since a new release may test differently.

use std::path::{Path, PathBuf};

use xshell::{Shell, cmd};

use crate::{Result, step};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const TRUNK_VERSION: &str = "0.21.14";
/// Debian's packages put both here; the browser tests point at them explicitly.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The driver matching [`CHROMIUM`], from Debian's `chromium-driver`.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Puts cargo's and npm's tool folders first on PATH for every command this shell
/// runs, so freshly installed tools are found without a new login.
pub fn put_tools_on_path(sh: &Shell) -> Result {
    let mut paths = vec![sh.current_dir().join("node_modules/.bin"), cargo_bin()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    sh.set_var("PATH", std::env::join_paths(paths)?);
    Ok(())
}

/// What building the app needs: the wasm target, Trunk, wasm-bindgen-cli, wasm-opt.
pub fn build_tools(sh: &Shell) -> Result {
    wasm_target(sh)?;
    trunk(sh)?;
    wasm_bindgen_cli(sh)?;
    npm_tools(sh)
}

/// Everything: the build tools, the browser the tests drive, the checkers of the
/// exports and the API tester.
pub fn everything(sh: &Shell) -> Result {
    build_tools(sh)?;
    chromium(sh)?;
    python_tools(sh)
}

/// The Python virtual environment the export checks and the API tester run in,
/// made once and reused.
pub const VENV: &str = "target/venv";

/// What [`VENV`] holds, exactly as `pip freeze` names it: pandas reads the CSV
/// files back with the dictionary's types, and odmlib ships the CDISC ODM 1.3.2
/// schema files the ODM file is validated against; schemathesis tests the API,
/// and cryptography makes the P-256 key the tablet it tests with enrols with.
const PYTHON_TOOLS: [&str; 4] = [
    "pandas==3.1.1",
    "odmlib==0.2.1",
    "schemathesis==4.32.5",
    "cryptography==50.0.2",
];

/// Debian's `libxml2-utils` puts the schema validator here.
pub const XMLLINT: &str = "/usr/bin/xmllint";

fn python_tools(sh: &Shell) -> Result {
    if !Path::new(XMLLINT).exists() {
        step("installing xmllint from Debian (libxml2-utils)");
        apt_get_install(sh, &["libxml2-utils"])?;
    }
    let python = format!("{VENV}/bin/python");
    if !sh.path_exists(&python) {
        step("creating a Python virtual environment for the export checks and the API tester");
        if cmd!(sh, "python3 -m venv {VENV}").run().is_err() {
            // Debian keeps `venv` (with the pip it installs) in a package of its own.
            apt_get_install(sh, &["python3", "python3-venv"])?;
            cmd!(sh, "python3 -m venv {VENV}").run()?;
        }
    }
    let installed = cmd!(sh, "{python} -m pip freeze --disable-pip-version-check")
        .quiet()
        .read()?;
    if PYTHON_TOOLS
        .iter()
        .all(|tool| installed.lines().any(|line| line.trim() == *tool))
    {
        return Ok(());
    }
    step("installing the export checkers and the API tester from PyPI");
    cmd!(
        sh,
        "{python} -m pip install --quiet --disable-pip-version-check {PYTHON_TOOLS...}"
    )
    .run()?;
    Ok(())
}

fn cargo_bin() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .unwrap_or_default();
    cargo_home.join("bin")
}

fn wasm_target(sh: &Shell) -> Result {
    let installed = cmd!(sh, "rustup target list --installed").read()?;
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        return Ok(());
    }
    step("installing the wasm32 target");
    cmd!(sh, "rustup target add {WASM_TARGET}").run()?;
    Ok(())
}

fn trunk(sh: &Shell) -> Result {
    if tool_version(sh, "trunk").as_deref() == Some(TRUNK_VERSION) {
        return Ok(());
    }
    step("installing Trunk (takes about 7 minutes on 2 cores, once)");
    cmd!(sh, "cargo install --locked trunk --version {TRUNK_VERSION}").run()?;
    Ok(())
}

fn wasm_bindgen_cli(sh: &Shell) -> Result {
    let wanted = locked_version(sh, "wasm-bindgen")?;
    if tool_version(sh, "wasm-bindgen").as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    step(&format!(
        "installing wasm-bindgen-cli {wanted} (the version in Cargo.lock)"
    ));
    let exact = format!("={wanted}");
    // Some releases' own lockfiles name crates the registry no longer serves; the
    // unlocked install then resolves current compatible versions instead.
    if cmd!(
        sh,
        "cargo install --locked wasm-bindgen-cli --version {exact}"
    )
    .run()
    .is_err()
    {
        println!("retrying without --locked");
        cmd!(sh, "cargo install wasm-bindgen-cli --version {exact}").run()?;
    }
    Ok(())
}

/// What `npm ci` puts in place; a missing one means the npm tools must be
/// (re)installed, for example after package.json gained a tool.
const NPM_TOOLS: [&str; 3] = [
    "node_modules/.bin/wasm-opt",
    "node_modules/playwright-core/package.json",
    "node_modules/axe-core/axe.min.js",
];

fn npm_tools(sh: &Shell) -> Result {
    if NPM_TOOLS.iter().all(|tool| sh.path_exists(tool)) {
        return Ok(());
    }
    if cmd!(sh, "npm --version").quiet().read().is_err() {
        step("installing Node.js and npm from Debian");
        apt_get_install(sh, &["nodejs", "npm"])?;
    }
    step("installing npm tools (wasm-opt from binaryen, playwright-core, axe-core)");
    cmd!(sh, "npm ci --no-audit --no-fund").run()?;
    Ok(())
}

/// Debian's Noto CJK fonts: without them Chinese renders as boxes in the headless
/// browser's screenshots (tablets have their own fonts).
const CJK_FONT: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

fn chromium(sh: &Shell) -> Result {
    if [CHROMIUM, CHROMEDRIVER, CJK_FONT]
        .iter()
        .all(|path| Path::new(path).exists())
    {
        return Ok(());
    }
    step("installing Chromium, ChromeDriver and CJK fonts from Debian");
    apt_get_install(sh, &["chromium", "chromium-driver", "fonts-noto-cjk"])
}

/// Installs Debian packages, through sudo unless already root.
pub fn apt_get_install(sh: &Shell, packages: &[&str]) -> Result {
    let is_root = cmd!(sh, "id -u").read()? == "0";
    let apt_get = |args: &[&str]| {
        let command = if is_root {
            cmd!(sh, "apt-get {args...}")
        } else {
            cmd!(sh, "sudo apt-get {args...}")
        };
        command.env("DEBIAN_FRONTEND", "noninteractive").run()
    };
    apt_get(&["update"])?;
    apt_get(&[&["install", "-y"], packages].concat())?;
    Ok(())
}

/// The version a tool reports as "name 1.2.3 …", or `None` when it is missing.
fn tool_version(sh: &Shell, tool: &str) -> Option<String> {
    let output = cmd!(sh, "{tool} --version")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()?;
    output.split_whitespace().nth(1).map(str::to_owned)
}

/// The version of `package` that Cargo.lock resolved.
fn locked_version(sh: &Shell, package: &str) -> Result<String> {
    let lock = sh.read_file("Cargo.lock")?;
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == name_line {
            let version = lines
                .next()
                .and_then(|line| line.strip_prefix("version = \""));
            if let Some(version) = version.and_then(|v| v.strip_suffix('"')) {
                return Ok(version.to_owned());
            }
        }
    }
    Err(format!("Cargo.lock names no {package}").into())
}
