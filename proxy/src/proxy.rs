//! The proxy as a whole: start from a snapshot, apply new snapshots atomically, drain.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh_api::snapshot::{Snapshot, SnapshotErrors};

use crate::access_log::{AccessLog, LogTarget};
use crate::admin::{self, LogControl};
use crate::listener::{BindError, Listeners};
use crate::metrics::Metrics;
use crate::route::CompileError;
use crate::runtime::{Runtime, Shared};
use crate::tls::{IdentityError, IdentitySource, TlsContext};
use crate::upstream::pool::Pools;

/// How to run a proxy, beyond its snapshot.
#[derive(Clone, Default)]
pub struct ProxyOptions {
    /// Admin server (Istio's 15000): `/config_dump`, `/logging`, `/stats/prometheus`, ...
    pub admin_addr: Option<SocketAddr>,
    /// Merged metrics (Istio's 15020): `/stats/prometheus`.
    pub stats_addr: Option<SocketAddr>,
    /// Health (Istio's 15021): `/healthz/ready`.
    pub health_addr: Option<SocketAddr>,
    pub access_log: Option<LogTarget>,
    pub log_control: Option<Arc<dyn LogControl>>,
    /// How long a client has to send its request headers; None: 10 s
    /// ([`crate::http::server::HEADER_READ_TIMEOUT`]). Tests shorten it.
    pub header_read_timeout: Option<Duration>,
    /// The proxy's mTLS identity. Without it, inbound listeners serve plain text whatever their
    /// PeerAuthentication, and `ISTIO_MUTUAL` clusters fail to connect (503 UF).
    pub identity: Option<IdentitySource>,
}

impl std::fmt::Debug for ProxyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyOptions")
            .field("admin_addr", &self.admin_addr)
            .field("stats_addr", &self.stats_addr)
            .field("health_addr", &self.health_addr)
            .field("access_log", &self.access_log)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("identity", &self.identity)
            .finish()
    }
}

/// Why a snapshot was not applied. The proxy keeps running on its previous snapshot.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Invalid(#[from] SnapshotErrors),
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error(transparent)]
    Bind(#[from] BindError),
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error("cannot load the proxy's identity: {0}")]
    Identity(#[from] IdentityError),
    #[error("cannot open the access log: {0} (check the path and its directory's permissions)")]
    AccessLog(#[source] std::io::Error),
    #[error("cannot serve {what} on {addr}: {source} (is another proxy using the port? pass another address)")]
    Admin {
        what: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug)]
pub struct Proxy {
    pub shared: Arc<Shared>,
    listeners: Mutex<Listeners>,
    admin: Mutex<Vec<(&'static str, SocketAddr)>>,
}

impl Proxy {
    /// Binds every listener and admin port and starts serving `snapshot`.
    pub async fn start(snapshot: Snapshot, opts: ProxyOptions) -> Result<Arc<Proxy>, StartError> {
        snapshot.validate().map_err(ApplyError::from)?;
        let tls = opts.identity.as_ref().map(TlsContext::load).transpose()?;
        let snapshot = with_identity(snapshot, tls.as_deref());
        let metrics = Metrics::new();
        let pools = Pools::new(tls.clone());
        let runtime = Runtime::build(snapshot, None, &pools, &metrics).map_err(ApplyError::from)?;
        let access_log = opts
            .access_log
            .as_ref()
            .map(AccessLog::start)
            .transpose()
            .map_err(StartError::AccessLog)?;
        let shared = Shared::new(runtime, metrics, pools, access_log, tls);
        let mut listeners = Listeners::new(
            opts.header_read_timeout
                .unwrap_or(crate::http::server::HEADER_READ_TIMEOUT),
        );
        let rt = shared.config.load_full();
        let prepared = listeners
            .prepare(&rt.snapshot.listeners)
            .map_err(ApplyError::from)?;
        listeners.commit(&rt.snapshot.listeners, prepared, &shared);
        shared
            .metrics
            .config_reloads_ok
            .fetch_add(1, Ordering::Relaxed);
        let proxy = Arc::new(Proxy {
            shared,
            listeners: Mutex::new(listeners),
            admin: Mutex::new(Vec::new()),
        });
        for (what, addr) in [
            ("admin", opts.admin_addr),
            ("stats", opts.stats_addr),
            ("health", opts.health_addr),
        ] {
            let Some(addr) = addr else { continue };
            let bound = admin::serve(addr, proxy.clone(), opts.log_control.clone())
                .await
                .map_err(|source| StartError::Admin { what, addr, source })?;
            proxy
                .admin
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((what, bound));
        }
        tracing::info!(version = %rt.snapshot.version, "proxy started");
        Ok(proxy)
    }

    /// Applies a new snapshot atomically, or leaves everything as it was and says why.
    pub fn apply(&self, snapshot: Snapshot) -> Result<(), ApplyError> {
        let result = self.try_apply(snapshot);
        match &result {
            Ok(()) => {
                self.shared
                    .metrics
                    .config_reloads_ok
                    .fetch_add(1, Ordering::Relaxed);
                *self
                    .shared
                    .last_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = None;
            }
            Err(e) => self.reject(e.to_string()),
        }
        result
    }

    fn try_apply(&self, snapshot: Snapshot) -> Result<(), ApplyError> {
        snapshot.validate()?;
        let mut listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        let previous = self.shared.config.load_full();
        let runtime = Runtime::build(
            with_identity(snapshot, self.shared.tls.as_deref()),
            Some(&previous),
            &self.shared.pools,
            &self.shared.metrics,
        )?;
        let prepared = listeners.prepare(&runtime.snapshot.listeners)?;
        let runtime = Arc::new(runtime);
        self.shared.config.store(runtime.clone());
        listeners.commit(&runtime.snapshot.listeners, prepared, &self.shared);
        self.shared.pools.prune();
        tracing::info!(version = %runtime.snapshot.version, "config applied");
        Ok(())
    }

    /// Records a rejected config (bad file, bad snapshot) without changing anything.
    /// The snapshot being served (with the version it was applied as).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.config.load().snapshot.clone()
    }

    pub fn reject(&self, error: String) {
        tracing::error!(%error, "config rejected; keeping the last good config");
        self.shared
            .metrics
            .config_reloads_rejected
            .fetch_add(1, Ordering::Relaxed);
        *self
            .shared
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(error);
    }

    /// The bound address of a listener (the real port when the snapshot asked for 0).
    pub fn listener_addr(&self, name: &str) -> Option<SocketAddr> {
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .local_addr(name)
    }

    /// The bound address of an admin server: `admin`, `stats` or `health`.
    pub fn admin_addr(&self, what: &str) -> Option<SocketAddr> {
        self.admin
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(w, _)| *w == what)
            .map(|(_, a)| *a)
    }

    /// Stops accepting, lets in-flight requests and connections finish, up to `timeout`.
    pub async fn drain(&self, timeout: Duration) {
        self.shared.draining.store(true, Ordering::Relaxed);
        let (graceful, tcp_active) = {
            let mut l = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
            l.stop_all();
            let g = l.graceful.lock().unwrap_or_else(|e| e.into_inner()).take();
            (g, l.tcp_active.clone())
        };
        let wait = async {
            if let Some(g) = graceful {
                g.shutdown().await;
            }
            while tcp_active.load(Ordering::Acquire) > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        if tokio::time::timeout(timeout, wait).await.is_err() {
            tracing::warn!(
                ?timeout,
                "drain timeout reached with requests still in flight"
            );
        }
    }
}

/// The node's principal is the proven identity when the proxy has one (metrics' own
/// principal), unless the snapshot names it.
fn with_identity(mut snapshot: Snapshot, tls: Option<&TlsContext>) -> Snapshot {
    if let Some(tls) = tls {
        if snapshot.node.principal.is_empty() {
            snapshot.node.principal = tls.spiffe_id.clone();
        }
    }
    snapshot
}
