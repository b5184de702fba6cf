//! The server's log written to a file, as a service manager or `2> server.log`
//! keeps it: plain text, without the terminal colour codes (ESC [ … m) that a
//! terminal turns into colour and a file keeps as noise.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

#[test]
fn log_lines_written_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
    let log_path = dir.path().join("server.log");
    let mut server = Command::new(env!("CARGO_BIN_EXE_hp-ecmo-server"))
        .arg("--database")
        .arg(dir.path().join("server.sqlite"))
        .arg("--dist")
        .arg(dir.path())
        .arg("--listen")
        .arg("127.0.0.1:0")
        // Every request is logged at debug level.
        .env("RUST_LOG", "debug")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    // Kept open until the server stops: it prints more than its first line.
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut first_line = String::new();
    stdout.read_line(&mut first_line).unwrap();
    // "HP-ECMO is serving http://127.0.0.1:PORT/ (this machine only)"
    let address = first_line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {first_line:?}"))
        .to_owned();
    let mut connection = TcpStream::connect(&address).unwrap();
    write!(
        connection,
        "GET /api/users HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    // The answer comes once the request is logged; how the connection ends
    // does not matter here.
    let mut answer = Vec::new();
    let _ = connection.read_to_end(&mut answer);
    server.kill().unwrap();
    server.wait().unwrap();
    drop(stdout);

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("/api/users"),
        "the request was not logged: {log:?}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log written to a file: {log:?}"
    );
}
