//! `hp-ecmo-server`: parses the command line, binds 127.0.0.1 and serves
//! [`server::router`] until interrupted.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// The HP-ECMO server: serves the bedside app (and, later, the sync API).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Folder holding the built app (Trunk's output).
    #[arg(long, default_value_os_t = server::default_dist())]
    dist: PathBuf,
    /// Port to listen on, on 127.0.0.1 only.
    #[arg(long, default_value_t = 8080)]
    port: u16,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hp-ecmo-server: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let index = args.dist.join("index.html");
    if !index.is_file() {
        return Err(format!(
            "{} not found: build the app first (cargo xtask run does both)",
            index.display()
        ));
    }
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on {address}: {error} (try --port)"))?;
    println!("HP-ECMO is running at http://{address}/  (Ctrl-C stops it)");
    let app = server::router(server::AppState::new(), &args.dist);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await
        .map_err(|error| format!("server stopped: {error}"))
}
