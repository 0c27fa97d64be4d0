//! The proxy's state: what lives for the whole process ([`Shared`]) and what one config
//! snapshot compiles to ([`Runtime`], swapped atomically on reload).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use mesh_api::snapshot::{AuthorizationRule, Snapshot};

use crate::access_log::AccessLog;
use crate::cluster::ClusterState;
use crate::metrics::{Metrics, Peer, PeerLabels};
use crate::route::{CompileError, RouteTable};
use crate::upstream::pool::Pools;

/// Everything a request needs from one config snapshot.
#[derive(Debug)]
pub struct Runtime {
    pub snapshot: Arc<Snapshot>,
    pub routes: HashMap<String, Arc<RouteTable>>,
    pub clusters: HashMap<String, Arc<ClusterState>>,
    /// This proxy's own labels (source of outbound, destination of inbound metrics).
    pub node: Arc<Peer>,
    /// The destination labels of passthrough traffic.
    pub passthrough: Arc<Peer>,
    /// Inbound listeners' AuthorizationPolicies by listener name. Read per request from the
    /// current runtime, so a new policy applies to open (multiplexed) connections at once.
    pub authorization: HashMap<String, Arc<[AuthorizationRule]>>,
}

/// State that outlives config reloads.
#[derive(Debug)]
pub struct Shared {
    pub config: ArcSwap<Runtime>,
    pub metrics: Arc<Metrics>,
    pub pools: Pools,
    pub access_log: Option<AccessLog>,
    /// The proxy's mTLS identity, when it has one.
    pub tls: Option<Arc<crate::tls::TlsContext>>,
    pub draining: AtomicBool,
    /// The last rejected config's error, shown by `/config_dump`.
    pub last_error: Mutex<Option<String>>,
}

impl Runtime {
    /// Compiles a validated snapshot, reusing unchanged clusters from `previous` so their
    /// counters, ejections and pools carry over.
    pub fn build(
        snapshot: Snapshot,
        previous: Option<&Runtime>,
        pools: &Pools,
        metrics: &Metrics,
    ) -> Result<Runtime, CompileError> {
        let routes = snapshot
            .routes
            .iter()
            .map(|rc| Ok((rc.name.clone(), Arc::new(RouteTable::compile(rc)?))))
            .collect::<Result<HashMap<_, _>, CompileError>>()?;
        let clusters = snapshot
            .clusters
            .iter()
            .map(|c| {
                let reused = previous
                    .and_then(|p| p.clusters.get(&c.name))
                    .filter(|old| old.cfg == *c)
                    .cloned();
                let state =
                    reused.unwrap_or_else(|| Arc::new(ClusterState::new(c, pools, metrics)));
                (c.name.clone(), state)
            })
            .collect();
        let authorization = snapshot
            .listeners
            .iter()
            .filter(|l| !l.authorization.is_empty())
            .map(|l| (l.name.clone(), Arc::from(l.authorization.clone())))
            .collect();
        Ok(Runtime {
            authorization,
            node: metrics.intern(PeerLabels::from_node(&snapshot.node)),
            passthrough: metrics.intern(PeerLabels {
                service: "PassthroughCluster".into(),
                ..PeerLabels::unknown()
            }),
            snapshot: Arc::new(snapshot),
            routes,
            clusters,
        })
    }
}

impl Shared {
    pub fn new(
        runtime: Runtime,
        metrics: Arc<Metrics>,
        pools: Pools,
        access_log: Option<AccessLog>,
        tls: Option<Arc<crate::tls::TlsContext>>,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            config: ArcSwap::from_pointee(runtime),
            metrics,
            pools,
            access_log,
            tls,
            draining: AtomicBool::new(false),
            last_error: Mutex::new(None),
        })
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}
