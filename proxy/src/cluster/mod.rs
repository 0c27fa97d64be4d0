//! Upstream clusters: endpoints with their health, connection pools and load balancer.
//!
//! A `ClusterState` outlives config reloads when its config is unchanged, so in-flight
//! counters, ejections and pooled connections carry over.

pub mod lb;
pub mod limits;
pub mod outlier;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mesh_api::snapshot::{Cluster, Endpoint};

use crate::metrics::{Metrics, Peer, PeerLabels};
use crate::upstream::pool::Pool;

pub use lb::{HashKey, LoadBalancer};
pub use limits::{Limits, Overflow, RequestPermit};
pub use outlier::{Outcome, OutlierDetector};

/// One cluster, ready to serve requests.
#[derive(Debug)]
pub struct ClusterState {
    pub name: Arc<str>,
    pub cfg: Cluster,
    pub endpoints: Vec<Arc<EndpointState>>,
    pub lb: LoadBalancer,
    pub limits: Limits,
    pub outlier: Option<OutlierDetector>,
}

/// One backend instance.
#[derive(Debug)]
pub struct EndpointState {
    pub addr: SocketAddr,
    pub cfg: Endpoint,
    /// Requests in flight (least-request balancing).
    pub active: AtomicUsize,
    pub pool: Arc<Pool>,
    /// The destination's labels, rendered once for metrics.
    pub peer: Arc<Peer>,
    /// `peer` with the principal the endpoint proved over mTLS, when that differs from the
    /// configured one (clusters verifying `subjectAltNames`); interned once, then reused.
    verified: arc_swap::ArcSwapOption<Peer>,
    pub health: outlier::EndpointHealth,
}

impl EndpointState {
    /// The destination labels for metrics: the principal is the one proven in the mTLS
    /// handshake when there was one. Allocation-free unless the proven identity is new.
    pub fn destination(&self, metrics: &Metrics) -> Arc<Peer> {
        let Some(id) = self.pool.verified_peer() else {
            return self.peer.clone();
        };
        if *id == *self.peer.labels.principal {
            return self.peer.clone();
        }
        if let Some(p) = self.verified.load_full() {
            if *p.labels.principal == *id {
                return p;
            }
        }
        let p = metrics.intern(PeerLabels {
            principal: id.to_string(),
            ..self.peer.labels.clone()
        });
        self.verified.store(Some(p.clone()));
        p
    }
}

impl ClusterState {
    /// Builds a cluster, reusing connection pools by address through `pools`.
    pub fn new(
        cfg: &Cluster,
        pools: &crate::upstream::pool::Pools,
        metrics: &Metrics,
    ) -> ClusterState {
        let endpoints = cfg
            .endpoints
            .iter()
            .map(|e| {
                Arc::new(EndpointState {
                    addr: e.address,
                    cfg: e.clone(),
                    active: AtomicUsize::new(0),
                    pool: pools.get(e.address, cfg, &e.principal),
                    peer: metrics.intern(PeerLabels::destination(e, &cfg.service)),
                    verified: arc_swap::ArcSwapOption::empty(),
                    health: outlier::EndpointHealth::default(),
                })
            })
            .collect::<Vec<_>>();
        ClusterState {
            name: Arc::from(cfg.name.as_str()),
            lb: LoadBalancer::new(&cfg.load_balancer, &endpoints),
            limits: Limits::new(&cfg.connection_pool),
            outlier: cfg.outlier_detection.as_ref().map(OutlierDetector::new),
            endpoints,
            cfg: cfg.clone(),
        }
    }

    /// Picks a healthy endpoint, or None when every endpoint is ejected or there are none.
    pub fn pick(&self, key: &HashKey, now: Instant) -> Option<&Arc<EndpointState>> {
        let healthy = |e: &EndpointState| e.health.is_available(now);
        let i = self.lb.pick(&self.endpoints, key, &healthy)?;
        self.endpoints.get(i)
    }

    /// Reports an attempt's outcome to outlier detection; true when it ejected `ep`.
    pub fn report(&self, ep: &EndpointState, outcome: Outcome, now: Instant) -> bool {
        self.outlier
            .as_ref()
            .is_some_and(|od| od.report(&self.endpoints, ep, outcome, now))
    }
}

impl EndpointState {
    pub fn start_request(self: &Arc<Self>) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveGuard(self.clone())
    }
}

/// Decrements the endpoint's in-flight count when the request (body included) is done.
#[derive(Debug)]
pub struct ActiveGuard(Arc<EndpointState>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}
