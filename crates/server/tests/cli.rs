//! The coordinator's commands as a coordinator runs them, through the binary: a
//! PIN is read from standard input (or asked for on a terminal), never taken from
//! the command line, where it would stay in the shell's history and show in `ps`;
//! and a new PIN has at least six digits.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Starts the server once on `dir`'s database, so its site and first user exist,
/// and stops it.
fn start_once(dir: &Path) {
    std::fs::write(dir.join("index.html"), "<!doctype html>").unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_hp-ecmo-server"))
        .arg("--database")
        .arg(dir.join("server.sqlite"))
        .arg("--dist")
        .arg(dir)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    assert!(first_line.contains("serving"), "{first_line:?}");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Runs a task on `dir`'s database with `stdin` as its standard input.
fn task(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hp-ecmo-server"))
        .arg("--database")
        .arg(dir.join("server.sqlite"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_pin_is_read_from_standard_input_and_has_six_digits_at_least() {
    let dir = tempfile::tempdir().unwrap();
    start_once(dir.path());
    let add = ["add-user", "--name", "Li Na", "--role", "research_nurse"];

    let short = task(dir.path(), &add, "1234\n");
    assert!(!short.status.success());
    assert!(
        stderr(&short).contains("a new PIN is 6 to 8 digits; this one has 4"),
        "{}",
        stderr(&short)
    );

    let added = task(dir.path(), &add, "246813\n");
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(String::from_utf8_lossy(&added.stdout).contains("Created user \"Li Na\""));

    let set = task(dir.path(), &["set-pin", "--name", "Li Na"], "13579\n");
    assert!(stderr(&set).contains("this one has 5"), "{}", stderr(&set));
    let set = task(dir.path(), &["set-pin", "--name", "Li Na"], "1357924\r\n");
    assert!(set.status.success(), "{}", stderr(&set));
}

#[test]
fn a_pin_on_the_command_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    start_once(dir.path());
    for args in [
        &[
            "add-user",
            "--name",
            "Li Na",
            "--role",
            "research_nurse",
            "--pin",
            "246813",
        ][..],
        &["set-pin", "--name", "Coordinator", "--pin", "246813"][..],
    ] {
        let refused = task(dir.path(), args, "");
        assert!(!refused.status.success(), "{args:?}");
        assert!(
            stderr(&refused).contains("unexpected argument '--pin'"),
            "{}",
            stderr(&refused)
        );
    }
}
