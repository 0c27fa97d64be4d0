//! The proxy's side of the config stream ([`mesh_api::xds`]): connect to the control plane,
//! say hello, apply every snapshot it pushes (the first with [`Proxy::start`], later ones with
//! [`Proxy::apply`]) and ACK or NACK it. After the first full snapshot on a stream the control
//! plane usually sends deltas ([`mesh_api::snapshot::SnapshotDelta`]: the virtual hosts and
//! clusters that changed); the proxy applies one to the snapshot it serves, and NACKs it
//! ("delta base mismatch") when that is not the delta's base, which makes the control plane
//! send the full snapshot.
//!
//! With TLS ([`ClientOptions::tls`], `--ca-root`) the proxy first gets a certificate from the
//! control plane's CA ([`certs`]), then opens the stream over mTLS with it and serves
//! sidecar-to-sidecar mTLS; the certificate is renewed at half-life. Without, the stream is
//! plaintext h2c and the proxy has no mesh certificate (no automatic mTLS).
//!
//! - [`session`]: one stream, from connect to its end.
//! - [`transport`]: plaintext or TLS connections to the control plane.
//! - [`certs`]: key, CSR, issuance and renewal.
//! - [`backoff`]: reconnect delays (100 ms .. 5 s, jittered).
//! - [`pending`]: the `503 NOT READY` admin ports before the certificate and first snapshot.
//! - `fake` (feature `testing`): a scriptable control plane for tests.
//!
//! When the control plane is down the proxy keeps serving its last good snapshot (and its
//! certificate, until renewal succeeds) and reconnects; the control plane resends the current
//! snapshot on every new stream.

pub mod backoff;
pub mod certs;
#[cfg(any(test, feature = "testing"))]
pub mod fake;
pub mod pending;
pub mod session;
pub mod transport;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mesh_api::snapshot::{DeltaError, Snapshot, SnapshotDelta};
use mesh_api::xds::{encode, NodeIdentity, ProxyMessage};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::tls::IdentitySource;
use crate::{Proxy, ProxyOptions};
use backoff::Backoff;
use certs::{CaClient, CertInfo};
use pending::Pending;
use transport::ControlPlaneTls;

/// `mesh-proxy run` flags for control-plane mode.
#[derive(clap::Args, Debug, Clone)]
pub struct XdsArgs {
    /// The control plane's config address: its TLS port (15012) with --ca-root, else its
    /// plaintext port (15010). Replaces --config.
    #[arg(long, requires_all = ["token_file", "workload_file"])]
    pub control_plane: Option<SocketAddr>,
    /// The mesh's root certificate (PEM; mesh-controlplane writes STATE_DIR/ca/root-cert.pem).
    /// Turns on TLS to --control-plane, verified for the name mesh-controlplane, and a
    /// certificate for this workload from the control plane's CA (mTLS between sidecars).
    #[arg(long, requires = "control_plane", conflicts_with_all = ["cert_chain", "key", "trust_bundle"])]
    pub ca_root: Option<PathBuf>,
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
    /// TLS to the control plane and certificates from its CA; None: plaintext, no
    /// certificate.
    pub tls: Option<ControlPlaneTls>,
    /// Reconnect (and certificate retry) delays.
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
            tls: None,
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
    /// Full snapshots and deltas applied (ACKed) since start.
    pub snapshots_applied: u64,
    pub deltas_applied: u64,
    /// The last error: a rejected snapshot, a refused or failed connection.
    pub last_error: Option<String>,
    /// The proxy, once the first snapshot started it.
    pub proxy: Option<Arc<Proxy>>,
    /// The mesh certificate in force (TLS mode).
    pub certificate: Option<CertInfo>,
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

    /// Applies an incremental update ([`mesh_api::snapshot::SnapshotDelta`]) to the snapshot
    /// being served. Refused, changing nothing, unless that snapshot is `base`.
    pub async fn apply_delta(
        &mut self,
        version: &str,
        base: &str,
        delta: SnapshotDelta,
    ) -> Result<(), String> {
        let Some(p) = &self.proxy else {
            return Err(DeltaError::Base {
                base: base.to_string(),
                running: "none (no snapshot yet)".to_string(),
            }
            .to_string());
        };
        let current = p.snapshot();
        let snapshot = delta
            .apply(&current, base, version)
            .map_err(|e| e.to_string())?;
        drop(current);
        self.apply(snapshot).await
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
    let addr = opts.control_plane;
    let mut applier = Applier {
        opts: opts.proxy.clone(),
        control_plane: addr,
        proxy: None,
        pending: None,
    };
    applier.pending = Some(Pending::serve(&applier.admin_addrs(), addr).await);
    let mut backoff = Backoff::new(opts.backoff_min, opts.backoff_max);
    // TLS mode: a certificate before anything else; its renewal runs beside the sessions and
    // stops with this task.
    let mut tls = None;
    let mut _renewal = None;
    if let Some(cp_tls) = &opts.tls {
        let ca = CaClient::new(addr, cp_tls.clone(), &opts.token, &opts.node);
        if let Some(p) = &applier.pending {
            p.set_reason(&format!("waiting for a certificate from the CA at {addr}"));
        }
        let pending = applier.pending.as_ref();
        let creds = ca
            .first(&mut backoff, &mut |e| {
                status.send_modify(|s| s.last_error = Some(e.to_string()));
                if let Some(p) = pending {
                    p.set_reason(&format!("no certificate yet: {e}"));
                }
            })
            .await;
        if let Some(p) = &applier.pending {
            p.set_reason(&format!(
                "waiting for the first config from the control plane at {addr}"
            ));
        }
        status.send_modify(|s| {
            s.certificate = Some(creds.info());
            s.last_error = None;
        });
        applier.opts.identity = Some(IdentitySource::InProcess {
            certs: creds.certs.clone(),
            trust_bundle: creds.trust.clone(),
        });
        let renew = Backoff::new(opts.backoff_min, opts.backoff_max);
        _renewal = Some(AbortOnDrop(tokio::spawn(ca.renew_forever(
            creds.clone(),
            renew,
            status.clone(),
        ))));
        tls = Some((
            cp_tls.mutual(creds.certs.clone()),
            cp_tls.bootstrap(),
            creds,
        ));
    }
    loop {
        let before = status.borrow().applied.clone();
        let link = match &tls {
            None => session::Link {
                addr,
                tls: None,
                trust: None,
                upgrade_after: None,
            },
            Some((mutual, bootstrap, creds)) => {
                let valid = creds.valid_now();
                session::Link {
                    addr,
                    tls: Some(if valid { mutual } else { bootstrap }.clone()),
                    trust: Some(&creds.trust),
                    upgrade_after: (!valid).then(|| creds.info().issued),
                }
            }
        };
        let result = session::run(link, hello.clone(), &mut applier, &status).await;
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

/// Aborts a background task when its owner goes away.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
