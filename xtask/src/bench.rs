//! `cargo xtask bench`: figures, not pass/fail. Timed assertions would flake on the
//! shared machines, so performance is printed and compared by people.

use std::io::Write;

use xshell::Shell;

use crate::{Result, app, install, step};

/// Builds the release app and prints its size.
pub fn bench(sh: &Shell) -> Result {
    install::build_tools(sh)?;
    app::build_release(sh)?;
    print_bundle_size(sh)
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
        let sizes = [bytes.len(), gzip_len(&bytes)?, brotli_len(&bytes)?];
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

fn gzip_len(bytes: &[u8]) -> Result<usize> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

fn brotli_len(bytes: &[u8]) -> Result<usize> {
    let mut compressed = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut compressed, &params)?;
    Ok(compressed.len())
}
