//! `cargo xtask`: the project's commands, in Rust so they run wherever cargo does.
//!
//! `run` and `test` are the two commands of the README. Each first installs what is
//! missing (see `install`) and skips what is present, so a second run starts fast.

mod app;
mod bench;
mod compress;
mod install;
mod loader;
mod postgres;
mod run;
mod service_worker;
mod test;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};

use xshell::Shell;

/// What every task returns: failures carry a sentence for the person at the terminal.
type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "\
usage: cargo xtask <task>

  run [--port N]   install what is missing, build the app, start the server
                   on http://127.0.0.1:N (default 8080)
  test             install what is missing, run every check and test
  bench            print benchmark figures (bundle size, start-up, tap to
                   allocation, sync throughput)
  install          install the build and test tools only
  post-build       (run by Trunk after a build) move the inline loader into a
                   file, write sw.js with the build's files, and precompress
                   them";

fn main() {
    if let Err(error) = dispatch() {
        eprintln!("xtask: {error}");
        std::process::exit(1);
    }
}

fn dispatch() -> Result {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sh = Shell::new()?;
    sh.change_dir(project_root());
    install::put_tools_on_path(&sh)?;
    match args.first().map(String::as_str) {
        Some("run") => run::run(&sh, &args[1..]),
        Some("test") => test::test(&sh),
        Some("bench") => bench::bench(&sh),
        Some("install") => install::everything(&sh),
        Some("post-build") => service_worker::post_build(&project_root()),
        _ => {
            println!("{USAGE}");
            Ok(())
        }
    }
}

/// The workspace root: xtask's manifest sits one level below it.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Prints a step header, so a long run says where it is.
fn step(name: &str) {
    println!("\n==> {name}");
}
