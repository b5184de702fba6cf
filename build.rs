//! Names the code that folds the participants' states the tablet keeps beside its
//! log (`src/store/states.rs`): a hash of the trial core's sources and of the
//! store's, as `HP_ECMO_STATE_CODE`. A build whose rules or stored shapes differ
//! in any way gets another name, and so folds the states again from the log
//! instead of reading those an older build wrote; the version number alone would
//! not change between two builds of the same release.

use std::path::{Path, PathBuf};

/// The sources whose change can change a state or how it is stored.
const SOURCES: [&str; 2] = ["crates/trial/src", "src/store"];

fn main() {
    let mut files = Vec::new();
    for source in SOURCES {
        println!("cargo::rerun-if-changed={source}");
        collect(Path::new(source), &mut files);
    }
    files.sort();
    // FNV-1a, 64 bits: enough to tell two builds apart, with no dependency.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let contents = std::fs::read(&file).expect("a source file reads");
        for byte in file.to_string_lossy().bytes().chain(contents) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo::rustc-env=HP_ECMO_STATE_CODE={hash:016x}");
}

/// Every `.rs` file under `folder`.
fn collect(folder: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(folder).expect("a source folder reads");
    for entry in entries {
        let path = entry.expect("a folder entry reads").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}
