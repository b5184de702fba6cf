//! Gzip and brotli at their strongest, once per build: the server sends the `.br`
//! or `.gz` sibling of a file as it is (`ServeDir::precompressed_*`), so no request
//! waits for a 1.8 MB wasm file to be compressed, and the bench reports the sizes
//! a tablet downloads.

use std::io::Write;
use std::path::Path;

use crate::Result;

/// The kinds of file worth compressing: text and wasm, not PNG icons.
const COMPRESSIBLE: [&str; 6] = ["wasm", "js", "css", "html", "webmanifest", "json"];

/// `bytes` gzipped at the best level.
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

/// `bytes` compressed with brotli at quality 11.
pub fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut compressed = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut compressed, &params)?;
    Ok(compressed)
}

/// Writes `NAME.br` and `NAME.gz` beside every compressible file under `dir`.
pub fn precompress(dir: &Path) -> Result<usize> {
    let mut written = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            written += precompress(&path)?;
            continue;
        }
        let compressible = path
            .extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| COMPRESSIBLE.contains(&ext));
        if !compressible {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        std::fs::write(path.with_file_name(format!("{name}.br")), brotli(&bytes)?)?;
        std::fs::write(path.with_file_name(format!("{name}.gz")), gzip(&bytes)?)?;
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn siblings_decompress_to_the_original_and_icons_are_left_alone() {
        let dir = std::env::temp_dir().join(format!("xtask-compress-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("icons")).unwrap();
        let wasm = b"\0asm".repeat(1000);
        std::fs::write(dir.join("app_bg.wasm"), &wasm).unwrap();
        std::fs::write(dir.join("icons/icon.png"), b"png").unwrap();

        assert_eq!(precompress(&dir).unwrap(), 1);
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&std::fs::read(dir.join("app_bg.wasm.gz")).unwrap()[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, wasm);
        let mut unbrotlied = Vec::new();
        brotli::BrotliDecompress(
            &mut &std::fs::read(dir.join("app_bg.wasm.br")).unwrap()[..],
            &mut unbrotlied,
        )
        .unwrap();
        assert_eq!(unbrotlied, wasm);
        assert!(!dir.join("icons/icon.png.br").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
