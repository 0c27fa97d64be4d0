//! `mesh-proxy`: the sidecar and gateway proxy binary.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mesh_proxy::access_log::LogTarget;
use mesh_proxy::admin::LogControl;
use mesh_proxy::{config, Proxy, ProxyOptions};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tracing_subscriber::{reload, EnvFilter};

#[derive(Parser, Debug)]
#[command(
    name = "mesh-proxy",
    version,
    about = "meshctl's sidecar and gateway proxy"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at startup: the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Serve a static config snapshot, reloading it on change or SIGHUP; or, with
    /// --control-plane, the snapshots a control plane pushes.
    ///
    /// Examples:
    ///   mesh-proxy run --config proxy.yaml --admin-addr 127.0.0.1:15000
    ///   mesh-proxy run --control-plane 127.0.0.1:15012 --ca-root root-cert.pem \
    ///       --token-file t --workload-file w.yaml
    ///   mesh-proxy run --control-plane 127.0.0.1:15010 --token-file t --workload-file w.yaml
    Run(RunArgs),
    /// Install the iptables rules that send a pod's TCP traffic through its sidecar (the
    /// pod's init step, as istio-iptables); --dry-run prints them.
    ///
    /// Example:
    ///   mesh-proxy iptables -p 15001 -z 15006 -u 1337 -i '*' -b '*' -d 15020,15021 --dry-run
    Iptables(mesh_proxy::iptables::IptablesArgs),
}

#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["config", "control_plane"]))]
struct RunArgs {
    /// The snapshot file (YAML or JSON): listeners, routes, clusters, endpoints.
    #[arg(long, short = 'c', env = "MESH_PROXY_CONFIG")]
    config: Option<PathBuf>,
    /// Control-plane mode: --control-plane, --token-file, --workload-file (and --ca-root).
    #[command(flatten)]
    xds: mesh_proxy::xds::XdsArgs,
    /// Admin server: /config_dump, /logging, /stats/prometheus, /healthz/ready.
    #[arg(long, default_value = "127.0.0.1:15000")]
    admin_addr: SocketAddr,
    /// Merged Prometheus metrics (/stats/prometheus).
    #[arg(long, default_value = "127.0.0.1:15020")]
    stats_addr: SocketAddr,
    /// Health (/healthz/ready).
    #[arg(long, default_value = "127.0.0.1:15021")]
    health_addr: SocketAddr,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Access log as JSON lines: a file path, or - for stdout. Off when not given.
    #[arg(long)]
    access_log: Option<LogTarget>,
    /// How long SIGTERM waits for in-flight requests before exiting.
    #[arg(long, default_value = "5s")]
    drain_timeout: mesh_api::Duration,
    /// How often the config file is checked for changes (SIGHUP reloads at once).
    #[arg(long, default_value = "1s")]
    watch_interval: mesh_api::Duration,
    /// Log filter (tracing syntax: info, debug, mesh_proxy=trace, ...).
    #[arg(long, env = "MESH_PROXY_LOG", default_value = "info")]
    log_level: String,
    #[command(flatten)]
    identity: mesh_proxy::tls::IdentityArgs,
}

struct Logs(reload::Handle<EnvFilter, tracing_subscriber::Registry>);

impl LogControl for Logs {
    fn set(&self, filter: &str) -> Result<(), String> {
        let f = EnvFilter::try_new(filter).map_err(|e| e.to_string())?;
        self.0.reload(f).map_err(|e| e.to_string())
    }
    fn get(&self) -> String {
        self.0
            .with_current(|f| f.to_string())
            .unwrap_or_else(|_| "unknown".into())
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Iptables(args) => mesh_proxy::iptables::run(&args).map_err(anyhow::Error::from),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mesh-proxy: error: {}", describe(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, skipping causes the message already quotes (our errors name
/// their `#[source]` in their text, which `{:#}` would print twice).
fn describe(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !msg.contains(&cause) {
            msg.push_str(": ");
            msg.push_str(&cause);
        }
    }
    msg
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    use tracing_subscriber::prelude::*;
    let filter = EnvFilter::try_new(&args.log_level)
        .with_context(|| format!("invalid --log-level {:?}", args.log_level))?;
    let (filter, handle) = reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colour only on a terminal: installs send stderr to a log file.
                .with_ansi(
                    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
                ),
        )
        .init();

    // One worker: the current-thread scheduler does the same work without the multi-thread
    // scheduler's cross-thread wake-ups and work-stealing bookkeeping (the sidecar default on
    // a small pod).
    let mut rt = if args.workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    if args.workers > 1 {
        rt.worker_threads(args.workers);
    }
    let rt = rt
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        // Signal handlers first: a SIGHUP or SIGTERM that arrives while starting must not
        // kill the process with the default action.
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        let hup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;

        // ---- control-plane mode (config push): begin ----
        if let Some(control_plane) = args.xds.control_plane {
            use mesh_proxy::xds::{self, Client, ClientOptions};
            // clap requires both files with --control-plane.
            let workload = args.xds.workload_file.clone().unwrap_or_default();
            let token = args.xds.token_file.clone().unwrap_or_default();
            let mut node = xds::read_workload(&workload)?;
            // The hello tells the control plane where to scrape: where we really listen.
            node.admin = Some(args.admin_addr);
            node.stats = Some(args.stats_addr);
            let mut opts = ClientOptions::new(control_plane, node, xds::read_token(&token)?);
            opts.proxy = ProxyOptions {
                admin_addr: Some(args.admin_addr),
                stats_addr: Some(args.stats_addr),
                health_addr: Some(args.health_addr),
                access_log: args.access_log.clone(),
                log_control: Some(Arc::new(Logs(handle))),
                header_read_timeout: None,
                identity: args.identity.source(),
            };
            if let Some(root) = &args.xds.ca_root {
                opts.tls = Some(xds::transport::ControlPlaneTls::from_file(root)?);
            }
            let client = Client::start(opts);
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            tracing::info!("draining");
            if let Some(proxy) = client.proxy() {
                proxy.drain(args.drain_timeout.as_std()).await;
            }
            tracing::info!("drained, exiting");
            return Ok(());
        }
        // clap requires --config without --control-plane.
        let config_path = args.config.clone().unwrap_or_default();
        // ---- control-plane mode (config push): end ----

        // The bytes read here are the baseline for change detection, so an edit made while
        // starting is still picked up.
        let text = std::fs::read(&config_path).map_err(|source| config::ConfigError::Read {
            path: config_path.clone(),
            source,
        })?;
        let snapshot = config::parse(&config_path, &String::from_utf8_lossy(&text))?;
        let opts = ProxyOptions {
            admin_addr: Some(args.admin_addr),
            stats_addr: Some(args.stats_addr),
            health_addr: Some(args.health_addr),
            access_log: args.access_log.clone(),
            log_control: Some(Arc::new(Logs(handle))),
            header_read_timeout: None,
            identity: args.identity.source(),
        };
        let proxy = Proxy::start(snapshot, opts).await?;
        tokio::spawn(watch_config(
            proxy.clone(),
            config_path,
            text,
            hup,
            args.watch_interval.as_std(),
        ));
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("draining");
        proxy.drain(args.drain_timeout.as_std()).await;
        tracing::info!("drained, exiting");
        Ok(())
    })
}

/// Reloads on SIGHUP, and when the file's content changes from `loaded` (checked every
/// `every`).
async fn watch_config(
    proxy: Arc<Proxy>,
    path: PathBuf,
    loaded: Vec<u8>,
    mut hup: Signal,
    every: Duration,
) {
    let mut last = Some(loaded);
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    loop {
        let forced = tokio::select! {
            _ = hup.recv() => true,
            _ = tick.tick() => false,
        };
        let now = std::fs::read(&path).ok();
        if !forced && now == last {
            continue;
        }
        last = now;
        reload(&proxy, &path);
    }
}

fn reload(proxy: &Proxy, path: &Path) {
    match config::load(path) {
        Ok(snapshot) => {
            if let Err(e) = proxy.apply(snapshot) {
                tracing::error!(error = %e, "new config not applied");
            }
        }
        Err(e) => proxy.reject(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
