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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use mesh_api::xds::{NodeIdentity, ProxyType};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::push::{self, OwnJson, Push, SharedDelta, SharedOutbound};
use super::status::{ProxyStatus, SyncState};
use crate::registry::{PortProtocol, Registry, ServicePort, Workload};
use crate::store::ConfigStore;
use crate::translate::{self, Input, OutboundKey, SidecarOptions};

/// How a proxy's NACK of a delta it cannot apply begins ([`mesh_api::snapshot::DeltaError`]).
const DELTA_BASE_MISMATCH: &str = "delta base mismatch";

/// Latest push for one stream; the stream sends whatever is newest (older ones are moot):
/// its delta frame when the stream last sent the delta's base, else its full frame.
pub type FrameTx = watch::Sender<Option<Arc<Push>>>;

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
    warnings: Arc<[String]>,
    /// What the last push was made of (sidecars): the base of the next delta.
    pushed: Option<Pushed>,
    /// The proxy NACKed a delta whose base it does not run: send the full snapshot next.
    full_next: bool,
}

#[derive(Debug)]
struct Pushed {
    shared: Arc<SharedOutbound>,
    own: Arc<OwnJson>,
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
        registry_changed: false,
        first_dirty: None,
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
                Some(cmd) => {
                    hub.handle(cmd);
                    // Take what else is queued before publishing the status once: 2000
                    // proxies ACKing a push would otherwise rebuild the 2000-entry status
                    // 2000 times (quadratic in the mesh size).
                    while let Ok(cmd) = rx.try_recv() {
                        hub.handle(cmd);
                    }
                }
                None => break,
            },
            changed = revisions.changed() => {
                if changed.is_err() { break; }
                hub.dirty();
            }
            _ = due => {
                hub.deadline = None;
                hub.first_dirty = None;
                hub.push_all(store.as_ref());
            }
            _ = shutdown.changed() => break,
        }
        status.send_replace(Arc::new(hub.status()));
    }
}

struct Hub {
    entries: BTreeMap<String, Entry>,
    /// Proxies came or went since the registry file was last written. Written at the
    /// debounced push, not per connect: 2000 proxies connecting would rewrite it 2000 times.
    registry_changed: bool,
    deadline: Option<Instant>,
    /// The first change not pushed yet.
    first_dirty: Option<Instant>,
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
                    warnings: Arc::from([]),
                    pushed: None,
                    full_next: false,
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

    /// Istio's debounce: push once nothing changed for `debounce`, but no later than ten
    /// debounce windows after the first change (istiod: 100 ms quiet, 10 s max; ours 1 s at
    /// the default, so a connect storm pushes about once a second instead of every 100 ms,
    /// each push translating every service, while a lone change still goes out after 100 ms).
    fn dirty(&mut self) {
        let now = Instant::now();
        let first = *self.first_dirty.get_or_insert(now);
        let latest = first + self.opts.debounce * 10;
        self.deadline = Some((now + self.opts.debounce).min(latest));
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
                        warnings: Arc::from([]),
                        pushed: None,
                        full_next: false,
                    },
                );
                self.registry_changed = true;
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
                    if error.starts_with(DELTA_BASE_MISMATCH) {
                        // Not a config problem: the proxy missed a step. Resend in full.
                        e.full_next = true;
                        self.dirty();
                    } else if e.sent.last().is_some_and(|(v, _)| *v == version) {
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
                    self.registry_changed = true;
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
        if std::mem::take(&mut self.registry_changed) {
            self.save();
        }
        let revision = store.revision();
        // Borrowed from the store's entries, not copied: 1000 services' resources are ~9 MB,
        // and a push used to clone them all.
        let stored = store.list(None, None);
        let resources: Vec<&mesh_api::istio::Resource> =
            stored.iter().map(|s| &s.resource).collect();
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
        let mut plan = Plan {
            input,
            selector_keys: translate::selector_keys(&resources),
            shared: HashMap::new(),
            deltas: HashMap::new(),
            frames: HashMap::new(),
        };
        for (id, e) in &mut self.entries {
            let Some(tx) = &e.tx else { continue };
            let made = match e.node.proxy_type {
                ProxyType::Sidecar => plan.sidecar(e),
                ProxyType::Router => plan.gateway(e),
            };
            let (push, warnings, pushed) = match made {
                Ok(m) => m,
                Err(err) => {
                    tracing::error!(proxy = %id, error = %err, "cannot serialize a snapshot");
                    continue;
                }
            };
            let warnings: Vec<String> = warnings.iter().map(ToString::to_string).collect();
            if *e.warnings != *warnings {
                e.warnings = warnings.into();
            }
            let version = push.version.clone();
            let full_next = std::mem::take(&mut e.full_next);
            if !full_next && e.sent.last().is_some_and(|(v, _)| *v == version) {
                // Same config: remember it is current as of this revision too.
                if let Some(last) = e.sent.last_mut() {
                    last.1 = revision;
                }
                if e.acked.as_ref().is_some_and(|(v, _)| *v == version) {
                    e.acked = Some((version, revision));
                }
                e.pushed = pushed;
                continue;
            }
            tracing::debug!(proxy = %id, %version, revision, delta = push.delta.is_some(), "pushing snapshot");
            tx.send_replace(Some(Arc::new(push)));
            e.pushed = pushed;
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

/// One push round's shared work: outbound parts by key, deltas between parts, and gateway
/// frames by version (identical snapshots serialized once).
struct Plan<'a> {
    input: Input<'a>,
    selector_keys: BTreeSet<String>,
    shared: HashMap<OutboundKey, Arc<SharedOutbound>>,
    /// By (old part, new part) pointer.
    deltas: HashMap<(usize, usize), Arc<SharedDelta>>,
    frames: HashMap<String, Bytes>,
}

type Made = (Push, Vec<translate::Warning>, Option<Pushed>);

impl Plan<'_> {
    fn sidecar(&mut self, e: &Entry) -> Result<Made, serde_json::Error> {
        let auto_mtls = e.workload.principal.is_some();
        let key = OutboundKey::of(&e.workload, auto_mtls, &self.selector_keys);
        let shared = match self.shared.get(&key) {
            Some(s) => s.clone(),
            None => {
                let part = translate::sidecar_outbound(&self.input, key.view(), auto_mtls);
                let s = Arc::new(SharedOutbound::new(part)?);
                self.shared.insert(key, s.clone());
                s
            }
        };
        let opts = SidecarOptions {
            outbound: e.node.outbound,
            inbound: e.node.inbound,
            version: String::new(),
            // Automatic mTLS from proxies that hold a mesh certificate, toward those that
            // hold one too (translate checks the endpoints).
            auto_mtls,
        };
        let own = Arc::new(OwnJson::new(translate::sidecar_own(
            &self.input,
            &e.workload,
            &opts,
        ))?);
        let version = push::version(&own, &shared);
        let delta = match (&e.pushed, e.sent.last()) {
            (Some(before), Some((base, _))) if !e.full_next => {
                let pair = (
                    Arc::as_ptr(&before.shared) as usize,
                    Arc::as_ptr(&shared) as usize,
                );
                let sd = match self.deltas.get(&pair) {
                    Some(d) => d.clone(),
                    None => {
                        let d = Arc::new(SharedDelta::between(&before.shared, &shared)?);
                        self.deltas.insert(pair, d.clone());
                        d
                    }
                };
                let frame =
                    push::delta_frame(&version, base, &own, &before.own.cluster_names, &sd)?;
                Some((base.clone(), frame))
            }
            _ => None,
        };
        let mut warnings = shared.warnings().to_vec();
        warnings.extend(own.warnings.iter().cloned());
        let push = Push::sidecar(version, own.clone(), shared.clone(), delta);
        let pushed = Pushed { shared, own };
        Ok((push, warnings, Some(pushed)))
    }

    /// Gateways are few and their snapshots are their own: full frames only.
    fn gateway(&mut self, e: &Entry) -> Result<Made, serde_json::Error> {
        let ports = translate::gateway::local_port_map(
            e.node
                .ports
                .iter()
                .filter_map(|p| Some((p.port, p.target_port?))),
        );
        let t = translate::gateway(&self.input, &e.workload, e.node.inbound.ip(), &ports, "");
        let body = serde_json::to_vec(&t.snapshot)?;
        let version = super::frame::version_of(&body);
        let frame = self
            .frames
            .entry(version.clone())
            .or_insert_with(|| super::frame::snapshot_frame(&version, &body))
            .clone();
        Ok((Push::full(version, frame), t.warnings, None))
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
