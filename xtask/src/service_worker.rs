//! `cargo xtask post-build`: run by Trunk after a build (a `post_build` hook in
//! Trunk.toml), moves Trunk's inline loader into a file (`loader`), writes `sw.js`
//! into the build with the build's own file list, and precompresses the build
//! (`compress`).
//!
//! Trunk hashes file names, so a hand-written precache list would break with every
//! build. This lists what Trunk staged, and versions the cache by a hash of the
//! files' names and contents: a new build is a new cache, an identical one is not.
//! Only release builds get a service worker; `trunk serve` stays uncached.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{Result, compress, loader};

const TEMPLATE: &str = "public/sw.js";
const VERSION_LINE: &str = "const VERSION = \"dev\";";
const PRECACHE_LINE: &str = "const PRECACHE = [];";

/// `cargo xtask post-build`, which Trunk runs after each build (release builds
/// only, the ones the server serves): moves the inline loader into a file the
/// server's Content-Security-Policy allows, writes `sw.js` into Trunk's staging
/// folder, then a compressed copy of each file beside it, which the worker's list
/// leaves out.
pub fn post_build(root: &Path) -> Result {
    if std::env::var("TRUNK_PROFILE").as_deref() != Ok("release") {
        println!("post-build: not a release build, no service worker");
        return Ok(());
    }
    let staging = std::env::var_os("TRUNK_STAGING_DIR")
        .map(PathBuf::from)
        .ok_or("post-build: TRUNK_STAGING_DIR is not set; Trunk runs this after a build")?;
    let public_url = std::env::var("TRUNK_PUBLIC_URL").unwrap_or_else(|_| "/".to_owned());
    let moved = loader::move_inline_scripts(&staging, &public_url)?;
    println!("post-build: {moved} inline script(s) moved into files, for the CSP");
    // The console is online only: no service worker, so the tablet's offline
    // shell (whose worker precaches its own build) never holds the console.
    let html = std::env::var("TRUNK_HTML_FILE").unwrap_or_default();
    if Path::new(&html)
        .file_name()
        .is_some_and(|name| name == "console.html")
    {
        println!("post-build: the console, no service worker");
    } else {
        write(root, &staging)?;
    }
    let compressed = compress::precompress(&staging)?;
    println!("post-build: {compressed} files precompressed (brotli, gzip)");
    Ok(())
}

/// Writes `sw.js` into `staging` with the list of what is in it.
fn write(root: &Path, staging: &Path) -> Result {
    let mut files = Vec::new();
    collect(staging, staging, &mut files)?;
    let template = std::fs::read_to_string(root.join(TEMPLATE))?;
    let worker = render(&template, &files)?;
    std::fs::write(staging.join("sw.js"), worker)?;
    println!("service-worker: {} files precached", files.len());
    Ok(())
}

/// The service worker for `files` (path from the build's root, contents).
fn render(template: &str, files: &[(String, Vec<u8>)]) -> Result<String> {
    let mut hasher = Sha256::new();
    for (path, contents) in files {
        hasher.update((path.len() as u64).to_be_bytes());
        hasher.update(path.as_bytes());
        hasher.update((contents.len() as u64).to_be_bytes());
        hasher.update(contents);
    }
    let version = hex(&hasher.finalize()[..8]);
    let list: Vec<String> = files.iter().map(|(path, _)| format!("{path:?}")).collect();
    if !template.contains(VERSION_LINE) || !template.contains(PRECACHE_LINE) {
        return Err(format!("{TEMPLATE} lost its VERSION or PRECACHE line").into());
    }
    Ok(template
        .replace(VERSION_LINE, &format!("const VERSION = \"{version}\";"))
        .replace(
            PRECACHE_LINE,
            &format!("const PRECACHE = [{}];", list.join(", ")),
        ))
}

/// Every file under `dir`, as "/relative/path", sorted, except the worker itself.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) -> Result {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|entry| entry.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files)?;
            continue;
        }
        let relative = path
            .strip_prefix(root)?
            .to_string_lossy()
            .replace('\\', "/");
        if relative != "sw.js" {
            files.push((format!("/{relative}"), std::fs::read(&path)?));
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(wasm: &[u8]) -> Vec<(String, Vec<u8>)> {
        vec![
            ("/index.html".into(), b"<html>".to_vec()),
            ("/app-1a2b_bg.wasm".into(), wasm.to_vec()),
        ]
    }

    #[test]
    fn lists_the_build_and_versions_it_by_content() {
        let template = std::fs::read_to_string(crate::project_root().join(TEMPLATE)).unwrap();
        let worker = render(&template, &files(b"\0asm-1")).unwrap();
        assert!(
            worker.contains(r#"const PRECACHE = ["/index.html", "/app-1a2b_bg.wasm"];"#),
            "{worker}"
        );
        assert!(!worker.contains(VERSION_LINE), "the version is replaced");
        assert_eq!(
            worker,
            render(&template, &files(b"\0asm-1")).unwrap(),
            "same build, same worker"
        );
        assert_ne!(
            worker,
            render(&template, &files(b"\0asm-2")).unwrap(),
            "new contents, new cache"
        );
    }

    #[test]
    fn a_template_without_its_markers_is_an_error() {
        let error = render("self.addEventListener()", &files(b"")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("lost its VERSION or PRECACHE line"),
            "{error}"
        );
    }
}
