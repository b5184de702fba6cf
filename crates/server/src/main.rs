//! `hp-ecmo-server`: parses the command line, opens the database, and either serves
//! [`server::router`] on 127.0.0.1 until interrupted or does one coordinator task
//! (`add-user`, `set-pin`, `revoke-device`, `enrolment-code`, `queries`) and exits.
//! A task may run beside a serving server on the same SQLite file (write-ahead
//! log, and a busy connection waits up to 5 s). Logs go to stderr, so stdout holds
//! only what the task prints.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::admin;
use server::store::{DEFAULT_SQLITE_FILE, DatabaseUrl, Store, UserOutcome};
use server::{AppState, Clock};
use tracing_subscriber::EnvFilter;
use trial::pin::Pin;
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
    #[arg(long, global = true, default_value = DEFAULT_SQLITE_FILE, value_parser = DatabaseUrl::parse)]
    database: DatabaseUrl,
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
    /// Port to listen on, on 127.0.0.1 only [default: 8080].
    #[arg(long)]
    port: Option<u16>,
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
    AddUser {
        /// The name on the sign-in screen, unique within the site.
        #[arg(long)]
        name: String,
        /// investigator, research_nurse or coordinator.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// 4 to 8 digits.
        #[arg(long, value_parser = parse_pin)]
        pin: Pin,
    },
    /// Changes a user's PIN.
    SetPin {
        /// The user's name.
        #[arg(long)]
        name: String,
        /// 4 to 8 digits.
        #[arg(long, value_parser = parse_pin)]
        pin: Pin,
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
    /// Lists the site's open data queries and allocation flags.
    Queries,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
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

/// The port served when none is given.
const DEFAULT_PORT: u16 = 8080;

async fn run(args: Args) -> Result<(), String> {
    let serve_options = [
        args.serve.dist.is_some(),
        args.serve.port.is_some(),
        args.serve.site_name.is_some(),
        args.serve.time_zone.is_some(),
    ];
    if args.task.is_some() && serve_options.contains(&true) {
        return Err(
            "--dist, --port, --site-name and --time-zone are for serving; a task takes none of them"
                .to_owned(),
        );
    }
    let store = Store::connect(&args.database)
        .await
        .map_err(|error| format!("{error:#}"))?;
    let clock = Clock::system();
    let result = match args.task {
        None => serve(&store, clock, &args.site_code, args.serve).await,
        Some(task) => run_task(&store, &clock, &args.site_code, task).await,
    };
    store.close().await;
    result
}

async fn serve(
    store: &Store,
    clock: Clock,
    site_code: &str,
    args: ServeArgs,
) -> Result<(), String> {
    let dist = args.dist.unwrap_or_else(server::default_dist);
    let index = dist.join("index.html");
    if !index.is_file() {
        return Err(format!(
            "{} not found: build the app first (cargo xtask run does both)",
            index.display()
        ));
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
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port.unwrap_or(DEFAULT_PORT)));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on {address}: {error} (try --port)"))?;
    println!("HP-ECMO is running at http://{address}/  (Ctrl-C stops it)");
    println!(
        "Enrolment code for a new tablet: {}  (site {}, one tablet, valid 24 hours)",
        startup.enrolment_code, site.code
    );
    if let Some(pin) = &startup.first_user_pin {
        println!(
            "Site {} had no users, so user \"{}\" was created with PIN {pin}. It is shown \
             only now; change it before real use: hp-ecmo-server set-pin --name {} --pin <4-8 digits>",
            site.code,
            admin::FIRST_USER_NAME,
            admin::FIRST_USER_NAME
        );
    }
    let app = server::router(AppState::new(store.clone(), clock), &dist);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_requested())
        .await
        .map_err(|error| format!("server stopped: {error}"))
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
        Task::AddUser { name, role, pin } => {
            admin::check_name("user name", &name)?;
            let outcome = admin::add_user(store, site_code, &name, role, &pin, clock).await;
            report_user(outcome.map_err(failed)?, site_code, &name)?;
            println!("Created user \"{name}\" ({role}) at site {site_code}.");
        }
        Task::SetPin { name, pin } => {
            let outcome = admin::set_pin(store, site_code, &name, &pin).await;
            report_user(outcome.map_err(failed)?, site_code, &name)?;
            println!(
                "Changed the PIN of \"{name}\" at site {site_code}. Tablets take the new PIN at their next sync."
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

fn parse_role(text: &str) -> Result<Role, String> {
    match serde_json::from_value(text.into()) {
        Ok(Role::Other) | Err(_) => {
            Err("one of investigator, research_nurse, coordinator".to_owned())
        }
        Ok(role) => Ok(role),
    }
}

fn parse_pin(text: &str) -> Result<Pin, String> {
    Pin::parse(text).map_err(|error| error.to_string())
}
