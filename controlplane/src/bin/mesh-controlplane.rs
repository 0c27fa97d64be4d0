//! `mesh-controlplane`: the control plane binary (config push, monitoring and config API).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mesh_controlplane::ca::TokenAuthority;
use mesh_controlplane::server::{self, HubOptions};
use mesh_controlplane::store::LocalStore;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Parser, Debug)]
#[command(name = "mesh-controlplane", version, about = "meshctl's control plane")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve config streams to proxies, and the monitoring/config API.
    ///
    /// Example:
    ///   mesh-controlplane run --state-dir ~/.meshctl --listen 127.0.0.1:15010
    Run(RunArgs),
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The state directory: the config store (`store/`) and, unless --ca-dir, the CA (`ca/`).
    #[arg(long, env = "MESHCTL_HOME")]
    state_dir: PathBuf,
    /// Where the bootstrap-token key lives (created when missing). Default: STATE_DIR/ca.
    #[arg(long)]
    ca_dir: Option<PathBuf>,
    /// Config streams from proxies (plaintext HTTP/2).
    #[arg(long, default_value = "127.0.0.1:15010")]
    listen: SocketAddr,
    /// Monitoring, config and telemetry API: /debug/proxies, /debug/resources, /apis/*,
    /// /api/v1/topology|edges|targets|mesh.
    #[arg(long, default_value = "127.0.0.1:15014")]
    monitoring: SocketAddr,
    /// Changes within this window are pushed together.
    #[arg(long, default_value = "100ms")]
    debounce: mesh_api::Duration,
    /// How long a disconnected proxy's endpoints stay in the registry.
    #[arg(long, default_value = "5s")]
    grace: mesh_api::Duration,
    /// How often every connected proxy's metrics are scraped for the telemetry API.
    #[arg(long, default_value = "1s")]
    scrape_interval: mesh_api::Duration,
    /// Log filter (tracing syntax: info, debug, mesh_controlplane=trace, ...).
    #[arg(long, env = "MESH_CONTROLPLANE_LOG", default_value = "info")]
    log_level: String,
}

fn main() -> std::process::ExitCode {
    let Command::Run(args) = Cli::parse().command;
    if args.scrape_interval.as_std().is_zero() {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::ValueValidation,
                "--scrape-interval must be longer than 0 (e.g. 1s)",
            )
            .exit();
    }
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mesh-controlplane: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .with_context(|| format!("invalid --log-level {:?}", args.log_level))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        let ca_dir = args
            .ca_dir
            .clone()
            .unwrap_or_else(|| args.state_dir.join("ca"));
        std::fs::create_dir_all(&ca_dir)
            .with_context(|| format!("cannot create the CA directory {}", ca_dir.display()))?;
        let tokens = TokenAuthority::load_or_create(&ca_dir)
            .with_context(|| format!("cannot load the bootstrap-token key in {}", ca_dir.display()))?;
        let store_dir = args.state_dir.join("store");
        let store = Arc::new(
            LocalStore::open(&store_dir)
                .with_context(|| format!("cannot open the config store in {}", store_dir.display()))?,
        );
        let bind = |addr: SocketAddr, what: &'static str| async move {
            TcpListener::bind(addr).await.with_context(|| {
                format!("cannot listen on {addr} for {what} (is another control plane running? pass another address)")
            })
        };
        let xds = bind(args.listen, "config streams").await?;
        let monitoring = bind(args.monitoring, "monitoring").await?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let opts = HubOptions {
            debounce: args.debounce.as_std(),
            grace: args.grace.as_std(),
            registry_file: Some(args.state_dir.join(server::persist::REGISTRY_FILE)),
            scrape_interval: args.scrape_interval.as_std(),
        };
        let bound = server::serve(store, tokens, xds, monitoring, opts, stop_rx).await?;
        tracing::info!(xds = %bound.xds, monitoring = %bound.monitoring, "control plane serving");
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        // Let streams see their end before the runtime stops.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
