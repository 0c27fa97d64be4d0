//! The proxy's side of the config stream ([`mesh_api::xds`]): connect to the control plane,
//! say hello, apply every snapshot it pushes (the first with [`Proxy::start`], later ones with
//! [`Proxy::apply`]) and ACK or NACK it.
//!
//! - [`session`]: one stream, from connect to its end.
//! - [`backoff`]: reconnect delays (100 ms .. 5 s, jittered).
//! - [`pending`]: the `503 NOT READY` admin ports before the first snapshot.
//! - `fake` (feature `testing`): a scriptable control plane for tests.
//!
//! When the control plane is down the proxy keeps serving its last good snapshot and
//! reconnects; the control plane resends the current snapshot on every new stream.

pub mod backoff;
#[cfg(any(test, feature = "testing"))]
pub mod fake;
pub mod pending;
pub mod session;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mesh_api::snapshot::Snapshot;
use mesh_api::xds::{encode, NodeIdentity, ProxyMessage};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Proxy, ProxyOptions};
use backoff::Backoff;
use pending::Pending;

/// `mesh-proxy run` flags for control-plane mode.
#[derive(clap::Args, Debug, Clone)]
pub struct XdsArgs {
    /// The control plane's config stream address (plaintext HTTP/2). Replaces --config.
    #[arg(long, requires_all = ["token_file", "workload_file"])]
    pub control_plane: Option<SocketAddr>,
    /// This workload's bootstrap token (written by meshctl).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// This workload's identity and addresses (YAML: name, service, namespace,
    /// serviceAccount, labels, ports, inbound, outbound, app).
    #[arg(long)]
    pub workload_file: Option<PathBuf>,
}

/// Why control-plane mode cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a workload file: {message} (expected YAML with name, service, inbound, outbound, app)")]
    Workload { path: PathBuf, message: String },
}

/// The node identity from a YAML workload file.
pub fn read_workload(path: &std::path::Path) -> Result<NodeIdentity, SetupError> {
    let text = std::fs::read_to_string(path).map_err(|source| SetupError::Read {
        what: "the workload file",
        path: path.to_path_buf(),
        source,
    })?;
    serde_saphyr::from_str(&text).map_err(|e| SetupError::Workload {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The bootstrap token from its file, without surrounding whitespace.
pub fn read_token(path: &std::path::Path) -> Result<String, SetupError> {
    std::fs::read_to_string(path)
        .map(|t| t.trim().to_string())
        .map_err(|source| SetupError::Read {
            what: "the token file",
            path: path.to_path_buf(),
            source,
        })
}

/// What a client needs.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub control_plane: SocketAddr,
    pub node: NodeIdentity,
    pub token: String,
    /// Admin/stats/health addresses and the rest, for [`Proxy::start`].
    pub proxy: ProxyOptions,
    /// Reconnect delays.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl ClientOptions {
    pub fn new(control_plane: SocketAddr, node: NodeIdentity, token: String) -> ClientOptions {
        ClientOptions {
            control_plane,
            node,
            token,
            proxy: ProxyOptions::default(),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// What the client is doing, for tests and logs.
#[derive(Clone, Debug, Default)]
pub struct Status {
    /// A stream is open.
    pub connected: bool,
    /// The version being served.
    pub applied: Option<String>,
    /// The last error: a rejected snapshot, a refused or failed connection.
    pub last_error: Option<String>,
    /// The proxy, once the first snapshot started it.
    pub proxy: Option<Arc<Proxy>>,
}

/// A running client; dropping it stops reconnecting (the proxy keeps serving).
#[derive(Debug)]
pub struct Client {
    status: watch::Receiver<Status>,
    task: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Client {
    /// Starts connecting in the background.
    pub fn start(opts: ClientOptions) -> Client {
        let (tx, status) = watch::channel(Status::default());
        let task = tokio::spawn(run(opts, tx));
        Client { status, task }
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Follows status changes.
    pub fn watch(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// The proxy, once started.
    pub fn proxy(&self) -> Option<Arc<Proxy>> {
        self.status.borrow().proxy.clone()
    }
}

/// Applies snapshots: starts the proxy on the first, swaps later ones in.
#[derive(Debug)]
pub struct Applier {
    opts: ProxyOptions,
    control_plane: SocketAddr,
    proxy: Option<Arc<Proxy>>,
    pending: Option<Pending>,
}

impl Applier {
    pub async fn apply(&mut self, snapshot: Snapshot) -> Result<(), String> {
        if let Some(p) = &self.proxy {
            return p.apply(snapshot).map_err(|e| e.to_string());
        }
        // Check before giving up the not-ready ports, so a bad first snapshot changes nothing.
        snapshot.validate().map_err(|e| e.to_string())?;
        if let Some(p) = self.pending.take() {
            p.stop().await;
        }
        match Proxy::start(snapshot, self.opts.clone()).await {
            Ok(p) => {
                self.proxy = Some(p);
                Ok(())
            }
            Err(e) => {
                self.pending = Some(Pending::serve(&self.admin_addrs(), self.control_plane).await);
                Err(e.to_string())
            }
        }
    }

    /// The proxy, once the first snapshot started it.
    pub fn proxy(&self) -> Option<Arc<Proxy>> {
        self.proxy.clone()
    }

    fn admin_addrs(&self) -> Vec<SocketAddr> {
        [
            self.opts.admin_addr,
            self.opts.stats_addr,
            self.opts.health_addr,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

async fn run(opts: ClientOptions, status: watch::Sender<Status>) {
    let hello = match encode(&ProxyMessage::Hello {
        node: opts.node.clone(),
        token: opts.token.clone(),
    }) {
        Ok(h) => Bytes::from(h),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode the hello");
            return;
        }
    };
    let mut applier = Applier {
        opts: opts.proxy.clone(),
        control_plane: opts.control_plane,
        proxy: None,
        pending: None,
    };
    applier.pending = Some(Pending::serve(&applier.admin_addrs(), opts.control_plane).await);
    let mut backoff = Backoff::new(opts.backoff_min, opts.backoff_max);
    loop {
        let before = status.borrow().applied.clone();
        let result = session::run(opts.control_plane, hello.clone(), &mut applier, &status).await;
        let proxy = applier.proxy.clone();
        let got_config = status.borrow().applied != before;
        if let Err(e) = result {
            tracing::warn!(error = %e, "config stream down; serving the last good config");
            status.send_modify(|s| s.last_error = Some(e.to_string()));
        }
        status.send_modify(|s| {
            s.connected = false;
            s.proxy = proxy;
        });
        if got_config {
            backoff.reset();
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}
