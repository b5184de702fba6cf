//! A throw-away PostgreSQL cluster for the server's tests: `cargo xtask test` starts
//! one, runs the server's suite on it as well as on SQLite, and stops it again.
//!
//! Debian's `postgresql` package is installed when `initdb` is missing. `initdb`
//! refuses to run as root, so as root every PostgreSQL command runs as the
//! `postgres` user (`runuser`) on a data folder that user owns; as anyone else, as
//! that user. The cluster listens on 127.0.0.1 only, on a free port, trusts local
//! connections (nothing but the tests can reach it) and skips fsync (its data is
//! thrown away).

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;

use xshell::{Shell, cmd};

use crate::{Result, install, step};

/// Where Debian puts each major version's binaries.
const DEBIAN_POSTGRES_ROOT: &str = "/usr/lib/postgresql";
/// The account that owns the cluster when xtask runs as root.
const POSTGRES_USER: &str = "postgres";

/// A running cluster; dropping it stops the server and deletes its data, also when
/// the tests failed.
pub struct Postgres<'a> {
    sh: &'a Shell,
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_root: bool,
}

impl<'a> Postgres<'a> {
    /// Installs PostgreSQL if needed and starts a new, empty cluster.
    pub fn start(sh: &'a Shell) -> Result<Self> {
        let bin = match newest_bin_dir() {
            Some(bin) => bin,
            None => {
                step("installing PostgreSQL from Debian (for the server's tests and benchmarks)");
                install::apt_get_install(sh, &["postgresql"])?;
                newest_bin_dir().ok_or("the postgresql package installed no initdb")?
            }
        };
        step("starting a throw-away PostgreSQL for the server's tests and benchmarks");
        let as_root = cmd!(sh, "id -u").read()? == "0";
        let data = data_folder(sh, as_root)?;
        let port = free_port()?;
        let postgres = Self {
            sh,
            bin,
            data,
            port,
            as_root,
        };
        postgres.run(
            "initdb",
            &[
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
                "-D",
            ],
        )?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=200",
            postgres.data.display()
        );
        let log = postgres.data.join("server.log");
        let log = log.to_str().ok_or("the data folder's path is not UTF-8")?;
        postgres.run("pg_ctl", &["-w", "-l", log, "-o", &options, "start", "-D"])?;
        Ok(postgres)
    }

    /// The cluster's own `psql`, for tests that create databases in it.
    pub fn psql(&self) -> PathBuf {
        self.bin.join("psql")
    }

    /// A URL the tests connect with; they create one database per test.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs a PostgreSQL program with `args` and then the data folder.
    fn run(&self, program: &str, args: &[&str]) -> Result {
        let program = self.bin.join(program);
        let data = &self.data;
        let command = if self.as_root {
            cmd!(
                self.sh,
                "runuser -u {POSTGRES_USER} -- {program} {args...} {data}"
            )
        } else {
            cmd!(self.sh, "{program} {args...} {data}")
        };
        command.quiet().ignore_stdout().run()?;
        Ok(())
    }
}

impl Drop for Postgres<'_> {
    fn drop(&mut self) {
        if let Err(error) = self.run("pg_ctl", &["-m", "immediate", "-w", "stop", "-D"]) {
            eprintln!("xtask: could not stop the test PostgreSQL: {error}");
        }
        std::fs::remove_dir_all(&self.data).ok();
    }
}

/// The `bin` folder of the newest PostgreSQL Debian installed, if any.
fn newest_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_POSTGRES_ROOT)
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// An empty data folder the cluster's owner can write: under `target/` when that
/// user can reach it, else in the system's temporary folder (a checkout under
/// `/root` is closed to other users).
fn data_folder(sh: &Shell, as_root: bool) -> Result<PathBuf> {
    let name = format!("hp-ecmo-test-postgres-{}", std::process::id());
    let in_target = sh.current_dir().join("target").join(&name);
    for folder in [in_target, std::env::temp_dir().join(&name)] {
        std::fs::create_dir_all(&folder)?;
        if !as_root {
            return Ok(folder);
        }
        cmd!(sh, "chown {POSTGRES_USER}: {folder}").quiet().run()?;
        let reachable = cmd!(sh, "runuser -u {POSTGRES_USER} -- test -w {folder}")
            .quiet()
            .run()
            .is_ok();
        if reachable {
            return Ok(folder);
        }
        std::fs::remove_dir_all(&folder).ok();
    }
    Err("no folder the postgres user can write for the test cluster".into())
}

/// A port nothing listens on now (the OS picks it; the cluster takes it a moment
/// later).
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}
