//! `cargo xtask run`: build the app and start the server with it, on 127.0.0.1
//! (plain HTTP, which a browser on this machine counts as a secure origin). The
//! server prints each URL it serves; its output passes straight through.

use xshell::{Shell, cmd};

use crate::{Result, app, install, step};

const DEFAULT_PORT: u16 = 8080;

/// Installs what is missing, builds the app and serves it until interrupted,
/// from the server's release build: the one a ward runs (README), so what a user
/// tries is as fast as what a trial gets.
pub fn run(sh: &Shell, args: &[String]) -> Result {
    let port = parse_port(args)?;
    install::build_tools(sh)?;
    app::build_release(sh)?;
    step("starting the server");
    let (dist, listen) = (app::DIST, format!("127.0.0.1:{port}"));
    cmd!(
        sh,
        "cargo run --quiet --release --package server -- --dist {dist} --listen {listen}"
    )
    .run()?;
    Ok(())
}

fn parse_port(args: &[String]) -> Result<u16> {
    match args {
        [] => Ok(DEFAULT_PORT),
        [flag, port] if flag == "--port" => port
            .parse()
            .map_err(|_| format!("--port: {port:?} is not a port number (1–65535)").into()),
        _ => {
            Err(format!("unexpected arguments {args:?}; usage: cargo xtask run [--port N]").into())
        }
    }
}
