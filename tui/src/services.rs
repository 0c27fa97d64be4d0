//! From workloads to services: the telemetry API reports workloads (`reviews-v2`) and edges
//! between them; the dashboard shows services (`reviews`, with versions v1 v2 v3) and the
//! traffic between services. Pure functions of a [`Mesh`].
//!
//! A service is a workload's `app` label (its workload name without one) in its namespace.
//! Percentiles over several edges are the request-weighted mean of the edges' percentiles:
//! the API serves no merged histogram, so this is an estimate (exact for a single edge).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{Edge, Mesh, ProxyType, SyncState};

/// The source name the API gives traffic from outside the mesh.
pub const EXTERNAL: &str = "unknown";

/// Traffic into (or along) something over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traffic {
    /// HTTP requests per second.
    pub rps: f64,
    /// HTTP requests in the window.
    pub requests: u64,
    /// Non-5xx share of the HTTP requests; `None` without any.
    pub success: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// TCP connections opened in the window.
    pub tcp_connections: u64,
    /// Some of it was mutual TLS.
    pub mtls: bool,
}

impl Traffic {
    /// The sum of `edges`.
    pub fn of<'a>(edges: impl IntoIterator<Item = &'a Edge>) -> Traffic {
        let mut t = Traffic::default();
        let mut ok = 0.0;
        let mut rated = 0u64;
        let mut quantiles = [(0.0, 0u64); 3];
        for e in edges {
            t.mtls |= e.mtls;
            if e.is_tcp() {
                t.tcp_connections += e.requests;
                continue;
            }
            t.rps += e.rps;
            t.requests += e.requests;
            if let Some(s) = e.success_rate {
                ok += s * e.requests as f64;
                rated += e.requests;
            }
            for (acc, q) in quantiles.iter_mut().zip([e.p50_ms, e.p95_ms, e.p99_ms]) {
                if let Some(q) = q {
                    acc.0 += q * e.requests.max(1) as f64;
                    acc.1 += e.requests.max(1);
                }
            }
        }
        t.success = (rated > 0).then(|| ok / rated as f64);
        let mean = |(sum, n): (f64, u64)| (n > 0).then(|| sum / n as f64);
        t.p50_ms = mean(quantiles[0]);
        t.p95_ms = mean(quantiles[1]);
        t.p99_ms = mean(quantiles[2]);
        t
    }

    /// No requests and no connections in the window.
    pub fn is_idle(&self) -> bool {
        self.requests == 0 && self.rps <= 0.0 && self.tcp_connections == 0
    }
}

/// One service and what is known of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Service {
    /// `app.namespace`: unique, what links and selections name.
    pub key: String,
    /// The `app` label (or workload name).
    pub app: String,
    pub namespace: String,
    /// Versions seen in traffic or among its proxies, sorted.
    pub versions: Vec<String>,
    /// Hosts it was reached as.
    pub hosts: Vec<String>,
    /// Labels its proxies carry (those common to all of them).
    pub labels: BTreeMap<String, String>,
    /// Its proxies, and how many of them are connected.
    pub proxies: usize,
    pub proxies_connected: usize,
    /// Traffic into it, from anywhere.
    pub inbound: Traffic,
    /// HTTP requests per second into each version.
    pub version_rps: Vec<(String, f64)>,
    /// An ingress gateway: laid out first.
    pub ingress: bool,
}

impl Service {
    /// What tables show: `reviews`, or `istio-ingressgateway.istio-system` outside `default`.
    pub fn display_name(&self) -> String {
        if self.namespace == "default" || self.namespace.is_empty() {
            self.app.clone()
        } else {
            format!("{}.{}", self.app, self.namespace)
        }
    }

    /// The fully qualified host name.
    pub fn fqdn(&self) -> String {
        format!("{}.{}.svc.cluster.local", self.app, self.namespace)
    }
}

/// Traffic from one service to another.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub source: String,
    pub destination: String,
    pub traffic: Traffic,
}

/// The services of a mesh and the links between them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceMap {
    /// Sorted by key.
    pub services: Vec<Service>,
    /// Service-to-service links (no self links, nothing from outside), sorted.
    pub links: Vec<Link>,
    index: HashMap<String, usize>,
}

impl ServiceMap {
    pub fn from_mesh(mesh: &Mesh) -> ServiceMap {
        let mut by_workload: HashMap<&str, String> = HashMap::new();
        let mut services: BTreeMap<String, Service> = BTreeMap::new();
        for n in &mesh.nodes {
            let app = if n.app.is_empty() || n.app == EXTERNAL {
                &n.workload
            } else {
                &n.app
            };
            let key = service_key(app, &n.namespace);
            by_workload.insert(&n.id, key.clone());
            let s = entry(&mut services, &key, app, &n.namespace);
            if !n.version.is_empty() && n.version != EXTERNAL {
                s.versions.push(n.version.clone());
            }
            s.hosts.extend(n.services.iter().cloned());
        }
        let mut labels: HashMap<String, Vec<&BTreeMap<String, String>>> = HashMap::new();
        for p in &mesh.proxies {
            let ns = p.namespace();
            let app = p
                .labels
                .get("app")
                .map_or_else(|| p.service.clone(), |a| a.clone());
            let key = service_key(&app, ns);
            let s = entry(&mut services, &key, &app, ns);
            s.proxies += 1;
            if p.state != SyncState::Disconnected {
                s.proxies_connected += 1;
            }
            if let Some(v) = &p.version {
                s.versions.push(v.clone());
            }
            s.ingress |= p.proxy_type == ProxyType::Router && app.contains("ingress");
            labels.entry(key).or_default().push(&p.labels);
        }
        for (key, sets) in labels {
            if let Some(s) = services.get_mut(&key) {
                s.labels = common_labels(&sets);
            }
        }
        let mut inbound: HashMap<&str, Vec<&Edge>> = HashMap::new();
        let mut links: BTreeMap<(String, String), Vec<&Edge>> = BTreeMap::new();
        for e in &mesh.edges {
            let Some(dst) = by_workload.get(e.destination_id.as_str()) else {
                continue;
            };
            inbound.entry(dst.as_str()).or_default().push(e);
            if let Some(src) = by_workload.get(e.source_id.as_str()) {
                if src != dst && e.source != EXTERNAL {
                    links.entry((src.clone(), dst.clone())).or_default().push(e);
                }
            }
        }
        for s in services.values_mut() {
            s.versions.sort();
            s.versions.dedup();
            s.hosts.sort();
            s.hosts.dedup();
            s.ingress |= s.app.contains("ingressgateway");
            let edges = inbound.get(s.key.as_str()).map_or(&[][..], Vec::as_slice);
            s.inbound = Traffic::of(edges.iter().copied());
            let mut split: BTreeMap<&str, f64> =
                s.versions.iter().map(|v| (v.as_str(), 0.0)).collect();
            for e in edges.iter().filter(|e| !e.is_tcp()) {
                *split.entry(e.destination_version.as_str()).or_default() += e.rps;
            }
            s.version_rps = split.into_iter().map(|(v, r)| (v.to_string(), r)).collect();
        }
        let services: Vec<Service> = services.into_values().collect();
        let index = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.key.clone(), i))
            .collect();
        let links = links
            .into_iter()
            .map(|((source, destination), edges)| Link {
                source,
                destination,
                traffic: Traffic::of(edges),
            })
            .collect();
        ServiceMap {
            services,
            links,
            index,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Service> {
        self.index.get(key).map(|&i| &self.services[i])
    }

    /// The position of a service in [`ServiceMap::services`].
    pub fn position(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// The service a workload id (`reviews-v2.default`) belongs to.
    pub fn service_of_workload<'a>(&'a self, mesh: &Mesh, workload_id: &str) -> Option<&'a str> {
        let n = mesh.nodes.iter().find(|n| n.id == workload_id)?;
        let app = if n.app.is_empty() || n.app == EXTERNAL {
            &n.workload
        } else {
            &n.app
        };
        let key = service_key(app, &n.namespace);
        self.index.get(&key).map(|&i| self.services[i].key.as_str())
    }
}

/// `app.namespace`.
pub fn service_key(app: &str, namespace: &str) -> String {
    format!("{app}.{namespace}")
}

fn entry<'a>(
    services: &'a mut BTreeMap<String, Service>,
    key: &str,
    app: &str,
    namespace: &str,
) -> &'a mut Service {
    services.entry(key.to_string()).or_insert_with(|| Service {
        key: key.to_string(),
        app: app.to_string(),
        namespace: namespace.to_string(),
        ..Service::default()
    })
}

/// The labels every one of `sets` carries with the same value.
fn common_labels(sets: &[&BTreeMap<String, String>]) -> BTreeMap<String, String> {
    let Some((first, rest)) = sets.split_first() else {
        return BTreeMap::new();
    };
    let keys: BTreeSet<&String> = first.keys().collect();
    keys.into_iter()
        .filter(|k| rest.iter().all(|s| s.get(*k) == first.get(*k)))
        .map(|k| (k.clone(), first[k].clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(rps: f64, requests: u64, success: f64, p99: f64) -> Edge {
        Edge {
            protocol: crate::model::Protocol::Http,
            rps,
            requests,
            success_rate: Some(success),
            p50_ms: Some(p99 / 2.0),
            p95_ms: Some(p99),
            p99_ms: Some(p99),
            ..Edge::default()
        }
    }

    #[test]
    fn traffic_weights_success_and_quantiles_by_requests() {
        let edges = [edge(3.0, 300, 1.0, 10.0), edge(1.0, 100, 0.5, 50.0)];
        let t = Traffic::of(&edges);
        assert_eq!(t.requests, 400);
        assert!((t.rps - 4.0).abs() < 1e-9);
        assert!((t.success.unwrap_or_default() - 0.875).abs() < 1e-9);
        assert!((t.p99_ms.unwrap_or_default() - 20.0).abs() < 1e-9);
    }

    #[test]
    fn tcp_counts_connections_only() {
        let mut e = edge(2.0, 20, 1.0, 1.0);
        e.protocol = crate::model::Protocol::Tcp;
        e.success_rate = None;
        let t = Traffic::of([&e]);
        assert_eq!((t.tcp_connections, t.requests), (20, 0));
        assert_eq!(t.success, None);
        assert!(!t.is_idle());
    }
}
