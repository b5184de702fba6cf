//! `hp-ecmo-server`: parses the command line, opens the database, and either serves
//! [`server::router`] (through [`server::serve`], on 127.0.0.1:8080 unless
//! `--listen` says otherwise, over TLS with `--tls-cert` or `--self-signed`) until
//! interrupted or does one coordinator task
//! (`add-user`, `set-pin`, `disable-user`, `revoke-device`, `enrolment-code`,
//! `queries`, `export`) and exits.
//! A task may run beside a serving server on the same SQLite file (write-ahead
//! log, and a busy connection waits up to 5 s). Logs go to stderr, so stdout holds
//! only what the task prints.

use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Parser, Subcommand};
use server::admin;
use server::export::Format;
use server::serve::{Listener, Timeouts};
use server::store::{DEFAULT_SQLITE_FILE, DatabaseUrl, Engine, Store, UserOutcome};
use server::tls::{self, CertName, Tls};
use server::{AppState, Clock};
use tracing_subscriber::EnvFilter;
use trial::pin::{MAX_DIGITS, MIN_NEW_DIGITS, Pin};
use trial::wire::Role;

// `--database` and `--site-code` go before or after a task's name, the serving
// options only without a task: checked in `run`, since clap's
// `args_conflicts_with_subcommands` would refuse `--database` before a task too.
/// The HP-ECMO server: serves the bedside app and the sync API the tablets share.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Where the data lives: a SQLite file (created when missing) or a
    /// postgres:// URL.
    #[arg(long, global = true, default_value = DEFAULT_SQLITE_FILE, value_parser = parse_database)]
    database: Database,
    /// The site this server (or this task) is for.
    #[arg(long, global = true, default_value = "BJ")]
    site_code: String,
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    task: Option<Task>,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Folder holding the built app (Trunk's output) [default: dist].
    #[arg(long)]
    dist: Option<PathBuf>,
    /// Address and port to listen on, such as 0.0.0.0:8443 (all interfaces) or
    /// 10.1.2.3:8443 (IPv6 in brackets); may be given more than once [default:
    /// 127.0.0.1:8080].
    #[arg(long, value_name = "ADDRESS:PORT", value_parser = parse_listen)]
    listen: Vec<SocketAddr>,
    /// Serve HTTPS with this PEM certificate chain (the server's certificate first),
    /// such as the one hospital IT issues.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate for these DNS names or IP addresses, from a
    /// local certificate authority made once and kept in the data folder's tls/
    /// (for a trial run without a certificate from hospital IT).
    #[arg(long, value_name = "NAME[,NAME...]", value_delimiter = ',', value_parser = CertName::parse)]
    self_signed: Vec<CertName>,
    /// The site's name, as people read it [default: as stored, or "Beijing Anzhen
    /// Hospital" for a new site].
    #[arg(long)]
    site_name: Option<String>,
    /// The IANA time zone the site's calendar questions are answered in [default:
    /// as stored, or Asia/Shanghai for a new site].
    #[arg(long)]
    time_zone: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Creates a user who can sign in on the site's tablets.
    ///
    /// The PIN (6 to 8 digits) is asked for on the terminal, or read as one line
    /// from standard input: never given on the command line, where it would stay
    /// in the shell's history and show in `ps`.
    AddUser {
        /// The name on the sign-in screen, unique within the site.
        #[arg(long)]
        name: String,
        /// investigator, research_nurse or coordinator.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Changes a user's PIN, asked for as `add-user` asks for it.
    SetPin {
        /// The user's name.
        #[arg(long)]
        name: String,
    },
    /// Disables a user: tablets drop them at their next sync, and events they
    /// record from now on are refused as data; their earlier events stay.
    DisableUser {
        /// The user's name.
        #[arg(long)]
        name: String,
    },
    /// Revokes a tablet: its token stops working at once; its events stay.
    RevokeDevice {
        /// The tablet's label, such as T1.
        #[arg(long)]
        label: String,
    },
    /// Prints a new one-time enrolment code for the site, and nothing else, on
    /// stdout (what it is for goes to stderr), so a script can read it.
    EnrolmentCode,
    /// Lists the site's open data queries, allocation flags and PIN lockouts.
    Queries,
    /// Writes the site's exports into a folder: the CSV tables with their data
    /// dictionary and the CDISC ODM 1.3.2 file, or, alone, the site
    /// identification log (initials and beds, for the site's own file). Each
    /// export is recorded.
    Export {
        /// The folder to write into (created when missing; files of the same
        /// names are replaced).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// csv, odm, all (csv and odm) or identification (the site
        /// identification log alone, never part of all).
        #[arg(long, default_value = "all", value_parser = Format::parse)]
        format: Format,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    // Colour codes only where a person reads them as colour: on a terminal. In a
    // file or a journal they are noise around every level and field name.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hp-ecmo-server: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The address served when no `--listen` is given: this machine only.
const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// `--database`, and the folder beside the data where `--self-signed` keeps its
/// certificates.
#[derive(Clone, Debug)]
struct Database {
    url: DatabaseUrl,
    folder: PathBuf,
}

async fn run(args: Args) -> Result<(), String> {
    let serve_options = [
        args.serve.dist.is_some(),
        !args.serve.listen.is_empty(),
        args.serve.tls_cert.is_some(),
        !args.serve.self_signed.is_empty(),
        args.serve.site_name.is_some(),
        args.serve.time_zone.is_some(),
    ];
    if args.task.is_some() && serve_options.contains(&true) {
        return Err(
            "--dist, --listen, --tls-cert, --tls-key, --self-signed, --site-name and --time-zone \
             are for serving; a task takes none of them"
                .to_owned(),
        );
    }
    let store = Store::connect(&args.database.url)
        .await
        .map_err(|error| format!("{error:#}"))?;
    let clock = Clock::system();
    let result = match args.task {
        None => {
            serve(
                &store,
                clock,
                &args.site_code,
                &args.database.folder,
                args.serve,
            )
            .await
        }
        Some(task) => run_task(&store, &clock, &args.site_code, task).await,
    };
    store.close().await;
    result
}

async fn serve(
    store: &Store,
    clock: Clock,
    site_code: &str,
    data_folder: &Path,
    args: ServeArgs,
) -> Result<(), String> {
    let failed = |error: anyhow::Error| format!("{error:#}");
    let dist = args.dist.unwrap_or_else(server::default_dist);
    let index = dist.join("index.html");
    if !index.is_file() {
        return Err(format!(
            "{} not found: build the app first (cargo xtask run does both)",
            index.display()
        ));
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(certificate), Some(key)) => {
            Some(Tls::from_pem_files(certificate, key).map_err(failed)?)
        }
        _ if args.self_signed.is_empty() => None,
        _ => {
            let folder = data_folder.join("tls");
            let made =
                tls::self_signed(&folder, &args.self_signed, SystemTime::now()).map_err(failed)?;
            print!("{}", made.report());
            Some(made.tls)
        }
    };
    let addresses = match args.listen.as_slice() {
        [] => vec![DEFAULT_LISTEN],
        given => given.to_vec(),
    };
    let mut listeners = Vec::new();
    for address in addresses {
        let listener = match &tls {
            Some(tls) => Listener::tls(address, tls.clone()).await,
            None => Listener::plain(address).await,
        };
        listeners.push(listener.map_err(|error| format!("{error:#} (try another --listen)"))?);
    }
    let stored = store
        .site(site_code)
        .await
        .map_err(|error| format!("{error:#}"))?;
    let site = admin::site_to_serve(
        stored,
        site_code,
        args.site_name.as_deref(),
        args.time_zone.as_deref(),
    )?;
    let startup = admin::start(store, &site, &clock)
        .await
        .map_err(|error| format!("{error:#}"))?;
    for listener in &listeners {
        println!("HP-ECMO is serving {}", listener.describe());
    }
    println!("(Ctrl-C stops it)");
    println!(
        "Enrolment code for a new tablet: {}  (site {}, one tablet, valid 24 hours)",
        startup.enrolment_code, site.code
    );
    if let Some(pin) = &startup.first_user_pin {
        println!(
            "Site {} had no users, so user \"{}\" was created with PIN {pin}. It is shown \
             only now; change it before real use: hp-ecmo-server set-pin --name {}",
            site.code,
            admin::FIRST_USER_NAME,
            admin::FIRST_USER_NAME
        );
    }
    if let Some(link) = server::console::first_coordinator_link(store, &clock)
        .await
        .map_err(|error| format!("{error:#}"))?
    {
        let base = listeners[0].url();
        println!(
            "The console has no account yet. The first coordinator sets one up at \
             {}{} (one use, valid 24 hours; a new link is printed at each start until then).",
            base.trim_end_matches('/'),
            link
        );
    }
    let app = server::router(AppState::new(store.clone(), clock), &dist);
    server::serve::serve(listeners, app, Timeouts::STANDARD, shutdown_requested()).await;
    Ok(())
}

/// Ctrl-C, or SIGTERM from a service manager: requests in flight finish first, so
/// no push is cut off by a planned stop.
async fn shutdown_requested() {
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => drop(terminate.recv().await),
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

async fn run_task(store: &Store, clock: &Clock, site_code: &str, task: Task) -> Result<(), String> {
    let failed = |error: anyhow::Error| format!("{error:#}");
    match task {
        Task::AddUser { name, role } => {
            admin::check_name("user name", &name)?;
            let pin = read_new_pin(&name)?;
            let outcome = admin::add_user(store, site_code, &name, role, &pin, clock).await;
            report_user(outcome.map_err(failed)?, site_code, &name)?;
            println!("Created user \"{name}\" ({role}) at site {site_code}.");
        }
        Task::SetPin { name } => {
            let pin = read_new_pin(&name)?;
            let outcome = admin::set_pin(store, site_code, &name, &pin).await;
            report_user(outcome.map_err(failed)?, site_code, &name)?;
            println!(
                "Changed the PIN of \"{name}\" at site {site_code}. Tablets take the new PIN at their next sync."
            );
        }
        Task::DisableUser { name } => {
            let outcome = store
                .disable_user(site_code, name.trim(), clock.now_ms())
                .await;
            report_user(outcome.map_err(failed)?, site_code, &name)?;
            println!(
                "Disabled \"{name}\" at site {site_code}. Tablets drop the user at their next sync."
            );
        }
        Task::RevokeDevice { label } => {
            if !store
                .revoke_device(site_code, &label, clock.now_ms())
                .await
                .map_err(failed)?
            {
                return Err(format!(
                    "site {site_code} has no enrolled, unrevoked tablet {label}"
                ));
            }
            println!("Revoked tablet {label} of site {site_code}.");
        }
        Task::EnrolmentCode => {
            if store.site(site_code).await.map_err(failed)?.is_none() {
                return Err(format!(
                    "there is no site {site_code}: start the server with --site-code {site_code} once"
                ));
            }
            let code = admin::issue_enrolment_code(store, site_code, clock)
                .await
                .map_err(failed)?;
            eprintln!(
                "Enrolment code for a new tablet of site {site_code} (one tablet, valid 24 hours):"
            );
            println!("{code}");
        }
        Task::Queries => {
            let report = admin::queries_report(store, site_code).await;
            print!("{}", report.map_err(failed)?);
        }
        Task::Export { out, format } => {
            let written = server::export::export(
                store,
                site_code,
                format,
                &out,
                trial::console::COMMAND_LINE,
                clock,
            )
            .await
            .map_err(failed)?;
            for file in &written.files {
                println!("{}", file.display());
            }
            eprintln!(
                "Exported site {site_code}: {} participant(s), {} event(s) (export {}).",
                written.record.participants, written.record.events, written.record.id
            );
        }
    }
    Ok(())
}

fn report_user(outcome: UserOutcome, site_code: &str, name: &str) -> Result<(), String> {
    match outcome {
        UserOutcome::Done => Ok(()),
        UserOutcome::NoSuchSite => Err(format!(
            "there is no site {site_code}: start the server with --site-code {site_code} once"
        )),
        UserOutcome::NameTaken => Err(format!("site {site_code} already has a user \"{name}\"")),
        UserOutcome::NoSuchUser => Err(format!("site {site_code} has no user \"{name}\"")),
    }
}

fn parse_database(text: &str) -> Result<Database, String> {
    let url = DatabaseUrl::parse(text)?;
    let file = match url.engine() {
        // As `DatabaseUrl::parse` reads a SQLite path.
        Engine::Sqlite => text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
            .unwrap_or(text),
        Engine::Postgres => DEFAULT_SQLITE_FILE,
    };
    let folder = match Path::new(file).parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder.to_owned(),
        _ => PathBuf::from("."),
    };
    Ok(Database { url, folder })
}

fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        format!("{text:?} is not ADDRESS:PORT, such as 127.0.0.1:8080, 0.0.0.0:8443 or [::]:8443")
    })
}

fn parse_role(text: &str) -> Result<Role, String> {
    match serde_json::from_value(text.into()) {
        Ok(Role::Other) | Err(_) => {
            Err("one of investigator, research_nurse, coordinator".to_owned())
        }
        Ok(role) => Ok(role),
    }
}

/// A new PIN for `name`: typed twice without echo on a terminal (a typo would
/// lock the user out), else the first line of standard input, as a script or
/// `echo 123456 | hp-ecmo-server add-user …` gives it.
fn read_new_pin(name: &str) -> Result<Pin, String> {
    let unreadable = |error: std::io::Error| format!("cannot read the PIN: {error}");
    let text = if std::io::stdin().is_terminal() {
        let prompt = format!("New PIN for \"{name}\" ({MIN_NEW_DIGITS} to {MAX_DIGITS} digits): ");
        let first = rpassword::prompt_password(prompt).map_err(unreadable)?;
        let again = rpassword::prompt_password("The same PIN again: ").map_err(unreadable)?;
        if first != again {
            return Err("the two PINs differ; nothing was changed".to_owned());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(unreadable)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    Pin::parse_new(&text).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(command_line: &[&str]) -> ServeArgs {
        let args = Args::try_parse_from(["hp-ecmo-server"].iter().chain(command_line))
            .unwrap_or_else(|error| panic!("{command_line:?}: {error}"));
        args.serve
    }

    fn refused(command_line: &[&str]) -> String {
        Args::try_parse_from(["hp-ecmo-server"].iter().chain(command_line))
            .map(|_| ())
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn listen_may_be_given_several_times() {
        let args = serve_args(&[
            "--listen",
            "127.0.0.1:8080",
            "--listen",
            "0.0.0.0:8443",
            "--listen",
            "[::]:9443",
        ]);
        let expected: Vec<SocketAddr> = ["127.0.0.1:8080", "0.0.0.0:8443", "[::]:9443"]
            .iter()
            .map(|text| text.parse().unwrap())
            .collect();
        assert_eq!(args.listen, expected);
        assert!(
            serve_args(&[]).listen.is_empty(),
            "the default is applied when serving"
        );
        assert!(refused(&["--listen", "8080"]).contains("is not ADDRESS:PORT"));
    }

    #[test]
    fn self_signed_takes_a_list_of_names() {
        let args = serve_args(&["--self-signed", "ward.example.org,10.1.2.3"]);
        assert_eq!(
            args.self_signed,
            [
                CertName::Dns("ward.example.org".into()),
                CertName::Ip("10.1.2.3".parse().unwrap())
            ]
        );
    }

    #[test]
    fn certificate_files_go_together_and_exclude_self_signed() {
        let cert = ["--tls-cert", "c.pem", "--tls-key", "k.pem"];
        assert_eq!(
            serve_args(&cert).tls_key.as_deref(),
            Some(Path::new("k.pem"))
        );
        assert!(refused(&["--tls-cert", "c.pem"]).contains("--tls-key"));
        assert!(refused(&["--tls-key", "k.pem"]).contains("--tls-cert"));
        let both = [&cert[..], &["--self-signed", "ward"]].concat();
        assert!(refused(&both).contains("cannot be used with"));
    }

    #[test]
    fn export_takes_a_folder_and_a_format() {
        let task = |command_line: &[&str]| {
            let args = Args::try_parse_from(["hp-ecmo-server"].iter().chain(command_line))
                .unwrap_or_else(|error| panic!("{command_line:?}: {error}"));
            match args.task {
                Some(Task::Export { out, format }) => (out, format),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            task(&["export", "--out", "exports"]),
            (PathBuf::from("exports"), Format::All)
        );
        assert_eq!(
            task(&["export", "--out", "x", "--format", "odm"]).1,
            Format::Odm
        );
        assert!(
            refused(&["export", "--out", "x", "--format", "xls"])
                .contains("one of csv, odm, all, identification")
        );
        assert!(refused(&["export"]).contains("--out"));
    }

    #[test]
    fn certificates_live_beside_the_data() {
        let folder = |text: &str| parse_database(text).unwrap().folder;
        assert_eq!(folder(DEFAULT_SQLITE_FILE), Path::new(".hp-ecmo"));
        assert_eq!(
            folder("sqlite:///var/lib/hp-ecmo/site.sqlite"),
            Path::new("/var/lib/hp-ecmo")
        );
        assert_eq!(folder("site.sqlite"), Path::new("."));
        assert_eq!(folder("postgres://db/hp"), Path::new(".hp-ecmo"));
    }
}
