//! The hub: the one owner of the connected proxies, the registry they form, and what each
//! was sent. Streams talk to it with [`Cmd`]s; it recomputes snapshots (debounced) when the
//! store revision or the registry changes, and publishes [`ProxyStatus`] for monitoring (and
//! the telemetry scraper, whose targets are the proxies listed there).
//!
//! Sidecars get [`translate::sidecar`]; gateways (`proxyType: router`) get
//! [`translate::gateway()`]: the Gateway resources whose selector matches their labels. A
//! gateway is not a service endpoint (its listeners are the Gateway servers' ports, not an
//! inbound sidecar listener), so it stays out of the registry other proxies route with.
//! Gateway listeners bind on the IP of the gateway's `inbound` address; a server port maps
//! to the `targetPort` of the gateway's port with that number, else to Istio's ingress
//! gateway target ports (80 -> 8080, 443 -> 8443: binding below 1024 needs root), else to
//! itself ([`translate::gateway::local_port_map`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use mesh_api::xds::{NodeIdentity, ProxyType};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::status::{ProxyStatus, SyncState};
use crate::registry::{PortProtocol, Registry, ServicePort, Workload};
use crate::store::ConfigStore;
use crate::translate::{self, Input, SidecarOptions};

/// Latest frame for one stream; the stream sends whatever is newest (older ones are moot).
pub type FrameTx = watch::Sender<Option<Bytes>>;

/// What streams tell the hub. `conn` tells a reconnected proxy's streams apart.
#[derive(Debug)]
pub enum Cmd {
    Connect {
        node: Box<NodeIdentity>,
        conn: u64,
        tx: FrameTx,
        /// The SPIFFE ID of the stream's verified client certificate: the proxy holds a mesh
        /// certificate and can take part in automatic mTLS.
        principal: Option<String>,
    },
    Ack {
        id: String,
        conn: u64,
        version: String,
    },
    Nack {
        id: String,
        conn: u64,
        version: String,
        error: String,
    },
    Disconnect {
        id: String,
        conn: u64,
    },
    /// The grace period after a disconnect is over.
    Expire {
        id: String,
        conn: u64,
    },
}

/// Timing knobs, and where the registry is remembered.
#[derive(Clone, Debug)]
pub struct HubOptions {
    /// Changes within this window are pushed together.
    pub debounce: Duration,
    /// How long a disconnected proxy's endpoints stay in the registry.
    pub grace: Duration,
    /// Where connected proxies are remembered across restarts
    /// ([`super::persist`]); None: not remembered.
    pub registry_file: Option<std::path::PathBuf>,
    /// How often the monitoring port's telemetry scrapes every listed proxy's metrics.
    pub scrape_interval: Duration,
}

#[derive(Debug)]
struct Entry {
    node: NodeIdentity,
    workload: Workload,
    conn: u64,
    tx: Option<FrameTx>,
    /// Recently sent (version, store revision), newest last.
    sent: Vec<(String, u64)>,
    acked: Option<(String, u64)>,
    nack: Option<String>,
    last_nack: Option<String>,
    /// The state last published, and since when (Unix seconds).
    state: (SyncState, u64),
    connected_since: u64,
    pushes: u64,
    warnings: Vec<String>,
}

/// Runs until `shutdown` flips or every command sender is gone.
pub async fn run<S: ConfigStore + 'static>(
    store: Arc<S>,
    opts: HubOptions,
    tx: mpsc::Sender<Cmd>,
    mut rx: mpsc::Receiver<Cmd>,
    status: watch::Sender<Arc<Vec<ProxyStatus>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut revisions = store.watch();
    let mut hub = Hub {
        entries: BTreeMap::new(),
        deadline: None,
        opts,
        tx,
    };
    hub.remember();
    status.send_replace(Arc::new(hub.status()));
    loop {
        let deadline = hub.deadline;
        let due = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => hub.handle(cmd),
                None => break,
            },
            changed = revisions.changed() => {
                if changed.is_err() { break; }
                hub.dirty();
            }
            _ = due => {
                hub.deadline = None;
                hub.push_all(store.as_ref());
            }
            _ = shutdown.changed() => break,
        }
        status.send_replace(Arc::new(hub.status()));
    }
}

struct Hub {
    entries: BTreeMap<String, Entry>,
    deadline: Option<Instant>,
    opts: HubOptions,
    tx: mpsc::Sender<Cmd>,
}

impl Hub {
    /// Loads the proxies remembered from before a restart as DISCONNECTED, in grace.
    fn remember(&mut self) {
        let Some(path) = self.opts.registry_file.clone() else {
            return;
        };
        for node in super::persist::load(&path) {
            let id = node.id();
            self.entries.insert(
                id.clone(),
                Entry {
                    workload: workload_of(&node),
                    node,
                    conn: 0,
                    tx: None,
                    sent: Vec::new(),
                    acked: None,
                    nack: None,
                    last_nack: None,
                    state: (SyncState::Disconnected, unix_now()),
                    connected_since: 0,
                    pushes: 0,
                    warnings: Vec::new(),
                },
            );
            self.expire_later(id, 0);
        }
    }

    fn save(&self) {
        if let Some(path) = &self.opts.registry_file {
            super::persist::save(path, self.entries.values().map(|e| &e.node));
        }
    }

    fn expire_later(&self, id: String, conn: u64) {
        let (tx, grace) = (self.tx.clone(), self.opts.grace);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let _ = tx.send(Cmd::Expire { id, conn }).await;
        });
    }

    fn dirty(&mut self) {
        if self.deadline.is_none() {
            self.deadline = Some(Instant::now() + self.opts.debounce);
        }
    }

    fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Connect {
                node,
                conn,
                tx,
                principal,
            } => {
                let id = node.id();
                tracing::info!(proxy = %id, conn, mtls = principal.is_some(), "proxy connected");
                let workload = Workload {
                    principal,
                    ..workload_of(&node)
                };
                // A reconnect replaces the old stream (dropping its sender ends it) and
                // resyncs from scratch.
                self.entries.insert(
                    id,
                    Entry {
                        workload,
                        node: *node,
                        conn,
                        tx: Some(tx),
                        sent: Vec::new(),
                        acked: None,
                        nack: None,
                        last_nack: None,
                        state: (SyncState::Stale, unix_now()),
                        connected_since: unix_now(),
                        pushes: 0,
                        warnings: Vec::new(),
                    },
                );
                self.save();
                self.dirty();
            }
            Cmd::Ack { id, conn, version } => {
                if let Some(e) = self.entry(&id, conn) {
                    if let Some((v, rev)) = e.sent.iter().find(|(v, _)| *v == version) {
                        e.acked = Some((v.clone(), *rev));
                    }
                    if e.sent.last().is_some_and(|(v, _)| *v == version) {
                        e.nack = None;
                    }
                }
            }
            Cmd::Nack {
                id,
                conn,
                version,
                error,
            } => {
                if let Some(e) = self.entry(&id, conn) {
                    tracing::warn!(proxy = %id, %version, %error, "proxy rejected its config");
                    e.last_nack = Some(error.clone());
                    if e.sent.last().is_some_and(|(v, _)| *v == version) {
                        e.nack = Some(error);
                    }
                }
            }
            Cmd::Disconnect { id, conn } => {
                if let Some(e) = self.entry(&id, conn) {
                    tracing::info!(proxy = %id, conn, "proxy disconnected");
                    e.tx = None;
                    self.expire_later(id, conn);
                }
            }
            Cmd::Expire { id, conn } => {
                if self
                    .entries
                    .get(&id)
                    .is_some_and(|e| e.conn == conn && e.tx.is_none())
                {
                    tracing::info!(proxy = %id, "grace period over: endpoints withdrawn");
                    self.entries.remove(&id);
                    self.save();
                    self.dirty();
                }
            }
        }
    }

    fn entry(&mut self, id: &str, conn: u64) -> Option<&mut Entry> {
        self.entries.get_mut(id).filter(|e| e.conn == conn)
    }

    /// Recomputes every connected proxy's snapshot; sends the ones that changed.
    fn push_all<S: ConfigStore>(&mut self, store: &S) {
        let revision = store.revision();
        let resources: Vec<_> = store
            .list(None, None)
            .iter()
            .map(|s| s.resource.clone())
            .collect();
        let registry = Registry {
            workloads: self
                .entries
                .values()
                .filter(|e| e.node.proxy_type == ProxyType::Sidecar)
                .map(|e| e.workload.clone())
                .collect(),
        };
        let input = Input {
            resources: &resources,
            registry: &registry,
        };
        // Identical snapshots are serialized once and the frame bytes shared.
        let mut frames: HashMap<String, Bytes> = HashMap::new();
        for (id, e) in &mut self.entries {
            let Some(tx) = &e.tx else { continue };
            let t = translation(&input, e);
            e.warnings = t.warnings.iter().map(ToString::to_string).collect();
            let body = match serde_json::to_vec(&t.snapshot) {
                Ok(b) => b,
                Err(err) => {
                    tracing::error!(proxy = %id, error = %err, "cannot serialize a snapshot");
                    continue;
                }
            };
            let version = super::frame::version_of(&body);
            if e.sent.last().is_some_and(|(v, _)| *v == version) {
                // Same config: remember it is current as of this revision too.
                if let Some(last) = e.sent.last_mut() {
                    last.1 = revision;
                }
                if e.acked.as_ref().is_some_and(|(v, _)| *v == version) {
                    e.acked = Some((version, revision));
                }
                continue;
            }
            let frame = frames
                .entry(version.clone())
                .or_insert_with(|| super::frame::snapshot_frame(&version, &body))
                .clone();
            tracing::debug!(proxy = %id, %version, revision, "pushing snapshot");
            tx.send_replace(Some(frame));
            e.pushes += 1;
            e.sent.push((version, revision));
            if e.sent.len() > 8 {
                e.sent.remove(0);
            }
            e.nack = None;
        }
    }

    fn status(&mut self) -> Vec<ProxyStatus> {
        self.entries
            .iter_mut()
            .map(|(id, e)| {
                let sent = e.sent.last().map(|(v, _)| v.clone());
                let state = if e.tx.is_none() {
                    SyncState::Disconnected
                } else if e.nack.is_some() {
                    SyncState::Nacked
                } else if sent.is_some() && sent == e.acked.as_ref().map(|(v, _)| v.clone()) {
                    SyncState::Synced
                } else {
                    SyncState::Stale
                };
                if e.state.0 != state {
                    e.state = (state, unix_now());
                }
                ProxyStatus {
                    id: id.clone(),
                    proxy_type: e.node.proxy_type,
                    service: e.node.service.clone(),
                    workload: e.workload.workload.clone(),
                    version: e.node.labels.get("version").cloned(),
                    namespace: e.node.namespace.clone(),
                    labels: e.node.labels.clone(),
                    state,
                    state_since: e.state.1,
                    version_sent: sent,
                    version_acked: e.acked.as_ref().map(|(v, _)| v.clone()),
                    acked_revision: e.acked.as_ref().map(|(_, r)| *r),
                    error: e.nack.clone(),
                    last_nack_error: e.last_nack.clone(),
                    connected_since: e.connected_since,
                    pushes: e.pushes,
                    admin: e.node.admin,
                    stats: e.node.stats,
                    warnings: e.warnings.clone(),
                }
            })
            .collect()
    }
}

/// The snapshot of one proxy: a sidecar's, or a gateway's.
fn translation(input: &Input<'_>, e: &Entry) -> translate::Translation {
    match e.node.proxy_type {
        ProxyType::Sidecar => {
            let opts = SidecarOptions {
                outbound: e.node.outbound,
                inbound: e.node.inbound,
                version: String::new(),
                // Automatic mTLS from proxies that hold a mesh certificate, toward those
                // that hold one too (translate checks the endpoints).
                auto_mtls: e.workload.principal.is_some(),
            };
            translate::sidecar(input, &e.workload, &opts)
        }
        ProxyType::Router => {
            let ports = translate::gateway::local_port_map(
                e.node
                    .ports
                    .iter()
                    .filter_map(|p| Some((p.port, p.target_port?))),
            );
            translate::gateway(input, &e.workload, e.node.inbound.ip(), &ports, "")
        }
    }
}

/// The registry's view of a proxy's hello.
pub fn workload_of(node: &NodeIdentity) -> Workload {
    Workload {
        name: node.name.clone(),
        workload: if node.workload.is_empty() {
            node.name.clone()
        } else {
            node.workload.clone()
        },
        service: node.service.clone(),
        namespace: node.namespace.clone(),
        service_account: node.service_account.clone(),
        labels: node.labels.clone(),
        ports: node
            .ports
            .iter()
            .map(|p| ServicePort {
                name: p.name.clone(),
                port: p.port,
                protocol: PortProtocol::from_port_name(&p.name),
                target_port: p.target_port.unwrap_or(p.port),
            })
            .collect(),
        inbound: node.inbound,
        app: node.app,
        principal: None,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
