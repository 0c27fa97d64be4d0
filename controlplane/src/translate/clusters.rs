//! Outbound clusters: one per (host, port, subset) that routes use, plus one per service
//! port; endpoints from the catalog, filtered by the subset's labels; policy from the
//! DestinationRule.

use std::collections::BTreeSet;

use mesh_api::snapshot::{Cluster, UpstreamProtocol};

use super::destinations::Env;
use super::services::Catalog;
use super::{lookup, policy, security, Warnings};

/// Istio's cluster identity: `outbound|<port>|<subset>|<host>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClusterKey {
    pub host: String,
    pub port: u16,
    pub subset: String,
}

impl ClusterKey {
    pub fn new(host: &str, port: u16, subset: &str) -> ClusterKey {
        ClusterKey {
            host: host.to_string(),
            port,
            subset: subset.to_string(),
        }
    }

    pub fn name(&self) -> String {
        format!("outbound|{}|{}|{}", self.port, self.subset, self.host)
    }
}

/// The clusters a snapshot needs, collected while routes are built.
#[derive(Clone, Debug, Default)]
pub struct Used(BTreeSet<ClusterKey>);

impl Used {
    /// Records a cluster and returns its name.
    pub fn add(&mut self, key: ClusterKey) -> String {
        let name = key.name();
        self.0.insert(key);
        name
    }

    /// The whole-service cluster of every port of every service.
    pub fn add_defaults(&mut self, catalog: &Catalog) {
        for svc in catalog.services.values() {
            for p in &svc.ports {
                self.0.insert(ClusterKey::new(&svc.host, p.number, ""));
            }
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &ClusterKey> {
        self.0.iter()
    }
}

/// Builds every used cluster, sorted by name.
pub(crate) fn build(env: &Env<'_>, used: &Used, warnings: &mut Warnings) -> Vec<Cluster> {
    let mut out: Vec<Cluster> = used.keys().map(|k| cluster(env, k, warnings)).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn cluster(env: &Env<'_>, key: &ClusterKey, warnings: &mut Warnings) -> Cluster {
    let mut c = Cluster {
        name: key.name(),
        service: key.host.clone(),
        endpoints: Vec::new(),
        protocol: UpstreamProtocol::Http1,
        load_balancer: Default::default(),
        connection_pool: Default::default(),
        outlier_detection: None,
        tls: None,
    };
    // Unknown host: no endpoints (the route's warning was given when it was resolved).
    let Some(svc) = env.catalog.get(&key.host) else {
        return c;
    };
    let dr = lookup::destination_rule(
        env.resources,
        env.hosts,
        &key.host,
        &svc.namespace,
        env.proxy,
    );
    let subset = match (&dr, key.subset.as_str()) {
        (_, "") => None,
        (Some((_, dr)), name) => match lookup::subset(dr, name) {
            Some(s) => Some(s),
            // Undefined subset: no endpoints, as Istio's Envoy has no such cluster members.
            None => return c,
        },
        (None, _) => return c,
    };
    if let Some((r, dr)) = dr {
        let eff = policy::effective(r, dr, subset, key.port, warnings);
        c.load_balancer = eff.load_balancer;
        c.connection_pool = eff.connection_pool;
        c.outlier_detection = eff.outlier_detection;
    }
    let members: Vec<_> = svc
        .members
        .iter()
        .filter(|m| subset.is_none_or(|s| s.labels.iter().all(|(k, v)| m.labels.get(k) == Some(v))))
        .filter(|m| m.endpoints.contains_key(&key.port))
        .collect();
    c.endpoints = members
        .iter()
        .filter_map(|m| m.endpoints.get(&key.port).cloned())
        .collect();
    // Auto mTLS only toward sidecars that can accept it: all of them, as TLS is decided per
    // cluster (Istio decides per endpoint; a mixed cluster stays plain text here).
    let mtls_ready = members.iter().all(|m| m.mtls);
    c.endpoints
        .sort_by(|a, b| (a.address, &a.workload).cmp(&(b.address, &b.workload)));
    let http = svc.ports.iter().any(|p| p.number == key.port && p.http);
    // Sidecar to sidecar is h2c: the inbound sidecar speaks HTTP/1.1 and h2c on one port.
    if svc.meshed && http {
        c.protocol = UpstreamProtocol::Http2;
    }
    c.tls = security::cluster_tls(
        dr,
        subset,
        key.port,
        &c,
        svc.meshed && mtls_ready,
        env.auto_mtls,
        warnings,
    );
    c
}
