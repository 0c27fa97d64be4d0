//! `mesh-controlplane`: the control plane binary (config push, monitoring and config API).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mesh_controlplane::ca::authority::ROOT_CERT_FILE;
use mesh_controlplane::ca::{
    files, Ca, CertificateService, TokenAuthority, DEFAULT_CERT_TTL, MIN_CERT_TTL,
};
use mesh_controlplane::server::{self, HubOptions, TlsPort};
use mesh_controlplane::store::LocalStore;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

/// The trust domain of a new CA when --trust-domain is not given (Kubernetes' default).
const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";

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
    /// The CA directory: root-cert.pem and root-key.pem (created at first start, the key
    /// 0600) and the bootstrap-token key. Default: STATE_DIR/ca.
    #[arg(long)]
    ca_dir: Option<PathBuf>,
    /// Your own CA certificate (PEM) to sign workload certificates with, instead of the root
    /// in --ca-dir. May be an intermediate: then pass --ca-chain.
    #[arg(long, requires = "ca_key")]
    ca_cert: Option<PathBuf>,
    /// The private key of --ca-cert (unencrypted PKCS#8 PEM, mode 0600).
    #[arg(long, requires = "ca_cert")]
    ca_key: Option<PathBuf>,
    /// The certificates above --ca-cert, in order, ending with the root.
    #[arg(long, requires = "ca_cert")]
    ca_chain: Option<PathBuf>,
    /// The trust domain of workload identities (spiffe://<trust-domain>/ns/<ns>/sa/<sa>).
    /// Default: the one of the CA in --ca-dir, or cluster.local for a new CA.
    #[arg(long)]
    trust_domain: Option<String>,
    /// Lifetime of workload certificates (proxies renew at half-life); at least 2s.
    #[arg(long, default_value = "24h")]
    cert_ttl: mesh_api::Duration,
    /// Config streams from proxies, plaintext HTTP/2 (token proof only, no certificates).
    #[arg(long, default_value = "127.0.0.1:15010")]
    listen: SocketAddr,
    /// Config streams and certificate requests over TLS (the control plane's certificate is
    /// issued by the mesh CA for DNS name mesh-controlplane).
    #[arg(long, default_value = "127.0.0.1:15012")]
    listen_tls: SocketAddr,
    /// Monitoring, config and telemetry API: /debug/proxies, /debug/resources, /apis/*,
    /// /api/v1/topology|edges|targets|mesh.
    #[arg(long, default_value = "127.0.0.1:15014")]
    monitoring: SocketAddr,
    /// Changes are pushed once none came for this long (at most ten times this after the
    /// first), together.
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
    /// Serve the Kubernetes admission webhooks here (HTTPS: POST /inject adds the sidecar to
    /// Pods, POST /validate checks Istio resources). Off when not given.
    #[arg(long, value_name = "ADDR")]
    webhook: Option<SocketAddr>,
    /// The DNS names of the webhooks' certificate (the Service the API server dials).
    /// Repeatable.
    #[arg(long, value_name = "NAME", requires = "webhook", default_value = mesh_controlplane::webhook::DEFAULT_DNS_NAME)]
    webhook_dns_name: Vec<String>,
    /// The injection options as JSON (image, control plane address, resources; the
    /// `mesh-sidecar-injector` ConfigMap of `meshctl manifest generate`). Default: the
    /// built-in options of the default profile.
    #[arg(long, value_name = "FILE", requires = "webhook")]
    injection_config: Option<PathBuf>,
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
        // Colour only on a terminal: installs send stderr to a log file.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
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
        let ca = Arc::new(load_ca(&args, &ca_dir)?);
        let tokens = TokenAuthority::load_or_create(&ca_dir)
            .with_context(|| format!("cannot load the bootstrap-token key in {}", ca_dir.display()))?;
        let certs = Arc::new(
            CertificateService::new(ca.clone(), Arc::new(tokens.clone()))
                .with_ttl(args.cert_ttl.as_std()),
        );
        let store_dir = args.state_dir.join("store");
        let store = Arc::new(
            LocalStore::open(&store_dir)
                .with_context(|| format!("cannot open the config store in {}", store_dir.display()))?,
        );
        let bind = |addr: SocketAddr, what: &'static str| async move {
            listen(addr).with_context(|| {
                format!("cannot listen on {addr} for {what} (is another control plane running? pass another address)")
            })
        };
        let xds = bind(args.listen, "config streams").await?;
        let xds_tls = TlsPort {
            listener: bind(args.listen_tls, "TLS config streams and certificates").await?,
            certs,
        };
        let monitoring = bind(args.monitoring, "monitoring").await?;
        let webhook = match args.webhook {
            Some(addr) => Some(bind(addr, "the admission webhooks").await?),
            None => None,
        };
        let inject = match &args.injection_config {
            Some(path) => read_injection_config(path)?,
            None => mesh_inject::InjectOptions::default(),
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let opts = HubOptions {
            debounce: args.debounce.as_std(),
            grace: args.grace.as_std(),
            registry_file: Some(args.state_dir.join(server::persist::REGISTRY_FILE)),
            scrape_interval: args.scrape_interval.as_std(),
        };
        if let Some(listener) = webhook {
            let serving = Arc::new(
                server::tls::Serving::webhook(ca.clone(), args.webhook_dns_name.clone())
                    .context("cannot set up the webhooks' certificate")?,
            );
            let addr = listener.local_addr()?;
            tokio::spawn(serving.clone().renew(stop_rx.clone()));
            let ctx = Arc::new(mesh_controlplane::webhook::WebhookCtx { inject });
            tokio::spawn(mesh_controlplane::webhook::serve(listener, serving.acceptor.clone(), ctx, stop_rx.clone()));
            tracing::info!(webhook = %addr, names = ?args.webhook_dns_name, "admission webhooks serving");
        }
        let bound = server::serve(store, tokens, xds, Some(xds_tls), monitoring, opts, stop_rx).await?;
        tracing::info!(
            xds = %bound.xds,
            xds_tls = ?bound.xds_tls,
            monitoring = %bound.monitoring,
            trust_domain = ca.trust_domain(),
            "control plane serving"
        );
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

/// The CA: the user's files (--ca-cert/--ca-key), else the root in `dir`, created there
/// (0700 directory, 0600 key) at first start.
fn load_ca(args: &RunArgs, dir: &std::path::Path) -> anyhow::Result<Ca> {
    if args.cert_ttl.as_std() < MIN_CERT_TTL {
        anyhow::bail!(
            "--cert-ttl {} is too short: certificates must live at least {}s (the default is {}h)",
            args.cert_ttl,
            MIN_CERT_TTL.as_secs(),
            DEFAULT_CERT_TTL.as_secs() / 3600
        );
    }
    files::create_private_dir(dir)
        .with_context(|| format!("cannot create the CA directory {}", dir.display()))?;
    if let (Some(cert), Some(key)) = (&args.ca_cert, &args.ca_key) {
        let td = args.trust_domain.as_deref().unwrap_or(DEFAULT_TRUST_DOMAIN);
        return Ca::load_user(cert, key, args.ca_chain.as_deref(), td)
            .with_context(|| format!("cannot use the CA in {}", cert.display()));
    }
    let ca = if dir.join(ROOT_CERT_FILE).exists() {
        Ca::load(dir).with_context(|| format!("cannot load the CA in {}", dir.display()))?
    } else {
        let td = args.trust_domain.as_deref().unwrap_or(DEFAULT_TRUST_DOMAIN);
        let ca = Ca::create(dir, td)
            .with_context(|| format!("cannot create a CA in {}", dir.display()))?;
        tracing::info!(dir = %dir.display(), trust_domain = td, "created the mesh root CA");
        ca
    };
    if let Some(td) = &args.trust_domain {
        if td != ca.trust_domain() {
            anyhow::bail!(
                "the CA in {} is for trust domain {:?}, not --trust-domain {td:?}; pass \
                 --trust-domain {:?}, or another --ca-dir for a new CA",
                dir.display(),
                ca.trust_domain(),
                ca.trust_domain()
            );
        }
    }
    Ok(ca)
}

/// A listener with a deep accept queue: after a control-plane restart every proxy reconnects
/// at once, and a short queue (tokio's default is 1024) overflows while the control plane is
/// busy sending first snapshots; the kernel then drops the handshakes it cannot queue and the
/// proxies see resets. 4096 is Linux's default `somaxconn` cap, the depth Go servers such as
/// istiod get.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// The webhook's injection options from their JSON file; every key is optional.
fn read_injection_config(path: &std::path::Path) -> anyhow::Result<mesh_inject::InjectOptions> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --injection-config {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "--injection-config {} is not valid injection options JSON (keys as in the \
             mesh-sidecar-injector ConfigMap of `meshctl manifest generate`)",
            path.display()
        )
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
