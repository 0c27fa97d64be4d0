//! Synthetic meshes of any size, deterministic, for the benchmark and the tests: an ingress
//! gateway calling a tree of services (fan-out 3) with some extra chain calls that skip a
//! column, a few versions each, some degraded, failing and idle edges, and proxies in every
//! sync state.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::json;

use crate::model::{
    Edge, Mesh, Node, Protocol, Proxy, ProxyType, ResourceAcks, Snapshot, StoredResource,
    SyncState, Window,
};
use mesh_api::telemetry::Reporter;

/// The name of service `i` (0 is the ingress gateway).
pub fn name(i: usize) -> String {
    if i == 0 {
        "istio-ingressgateway".to_string()
    } else {
        format!("svc-{i:03}")
    }
}

fn namespace(i: usize) -> &'static str {
    if i == 0 {
        "istio-system"
    } else {
        "default"
    }
}

fn versions(i: usize) -> Vec<&'static str> {
    match i {
        0 => vec![],
        i if i.is_multiple_of(7) => vec!["v1", "v2", "v3"],
        i if i.is_multiple_of(3) => vec!["v1", "v2"],
        _ => vec!["v1"],
    }
}

/// Workload ids of service `i`: `name-version.namespace`.
fn workloads(i: usize) -> Vec<(String, String)> {
    let vs = versions(i);
    if vs.is_empty() {
        return vec![(name(i), "unknown".to_string())];
    }
    vs.into_iter()
        .map(|v| (format!("{}-{v}", name(i)), v.to_string()))
        .collect()
}

/// Who calls service `i` (i >= 1): its parent in the tree, and for every fifth service
/// also the service before it.
fn callers(i: usize) -> Vec<usize> {
    let mut c = vec![(i - 1) / 3];
    if i.is_multiple_of(5) && i >= 2 && (i - 2) / 3 != (i - 1) / 3 {
        c.push(i - 1);
    }
    c
}

/// A mesh of `services` services (at least the gateway).
pub fn mesh(services: usize) -> Mesh {
    let n = services.max(1);
    let mut mesh = Mesh {
        window: Window::OneMinute,
        window_s: 60.0,
        ..Mesh::default()
    };
    for i in 0..n {
        for (workload, version) in workloads(i) {
            let ns = namespace(i);
            mesh.nodes.push(Node {
                id: format!("{workload}.{ns}"),
                workload: workload.clone(),
                namespace: ns.into(),
                app: name(i),
                version: version.clone(),
                services: if i == 0 {
                    vec![]
                } else {
                    vec![format!("{}.{ns}.svc.cluster.local", name(i))]
                },
            });
            let state = match i {
                i if i.is_multiple_of(19) && i > 0 => SyncState::Nacked,
                i if i.is_multiple_of(23) && i > 0 => SyncState::Disconnected,
                i if i.is_multiple_of(29) && i > 0 => SyncState::Stale,
                _ => SyncState::Synced,
            };
            let mut labels = BTreeMap::from([("app".to_string(), name(i))]);
            if version != "unknown" {
                labels.insert("version".into(), version.clone());
            }
            mesh.proxies.push(Proxy {
                id: format!("{workload}-0.{ns}"),
                proxy_type: if i == 0 {
                    ProxyType::Router
                } else {
                    ProxyType::Sidecar
                },
                service: name(i),
                workload: workload.clone(),
                version: (version != "unknown").then(|| version.clone()),
                state,
                state_age_s: 30 + i as u64,
                version_sent: Some(config_version(i)),
                version_acked: Some(config_version(i + usize::from(state == SyncState::Stale))),
                error: (state == SyncState::Nacked)
                    .then(|| "route reviews: unknown subset v9".to_string()),
                scrape_up: state != SyncState::Disconnected,
                uptime_s: Some(3600.0 + i as f64),
                rss_bytes: Some(20_000_000 + (i as u64 % 7) * 1_000_000),
                cpu_cores: Some(0.01),
                namespace: ns.into(),
                labels,
                ..Proxy::default()
            });
        }
    }
    for i in 1..n {
        for caller in callers(i) {
            let dst_versions = workloads(i);
            for (src, src_version) in workloads(caller) {
                for (k, (dst, dst_version)) in dst_versions.iter().enumerate() {
                    mesh.edges
                        .push(edge(i, caller, &src, &src_version, dst, dst_version, k));
                }
            }
        }
    }
    for i in (1..n).step_by(10) {
        for (kind, acked) in [("VirtualService", 1), ("DestinationRule", 0)] {
            mesh.resources.push(ResourceAcks {
                kind: kind.into(),
                namespace: "default".into(),
                name: name(i),
                generation: 1,
                revision: i as u64,
                proxies_acked: mesh.proxies.len() - acked,
                proxies_connected: mesh.proxies.len(),
            });
        }
    }
    mesh
}

/// A config version that looks like the control plane's (12 hex digits).
fn config_version(i: usize) -> String {
    format!(
        "{:012x}",
        (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
    )
}

fn edge(
    i: usize,
    caller: usize,
    src: &str,
    src_version: &str,
    dst: &str,
    dst_version: &str,
    k: usize,
) -> Edge {
    let idle = i.is_multiple_of(13);
    let share = if k == 0 { 0.8 } else { 0.2 / k as f64 };
    let rps = if idle {
        0.0
    } else {
        50.0 / (1 + i % 9) as f64 * share
    };
    let requests = (rps * 60.0).round() as u64;
    let success = match i {
        i if i.is_multiple_of(17) => 0.8,
        i if i.is_multiple_of(11) => 0.97,
        _ => 1.0,
    };
    let p99 = 5.0 + (i % 20) as f64 * 3.5;
    Edge {
        source: src.to_string(),
        source_id: format!("{src}.{}", namespace(caller)),
        source_version: src_version.to_string(),
        destination: dst.to_string(),
        destination_id: format!("{dst}.{}", namespace(i)),
        destination_version: dst_version.to_string(),
        destination_service: format!("{}.{}.svc.cluster.local", name(i), namespace(i)),
        protocol: if i.is_multiple_of(31) {
            Protocol::Tcp
        } else {
            Protocol::Http
        },
        reporter: Reporter::Source,
        requests,
        rps,
        success_rate: (requests > 0 && !i.is_multiple_of(31)).then_some(success),
        errors: ((1.0 - success) * requests as f64) as u64,
        p50_ms: (requests > 0).then_some(p99 / 3.0),
        p95_ms: (requests > 0).then_some(p99 * 0.8),
        p99_ms: (requests > 0).then_some(p99),
        request_bytes: 0,
        response_bytes: requests * 1000,
        mtls: caller != 0,
    }
}

/// The stored bodies of the mesh's resources (hosts and subsets), for the Config view.
pub fn stored(mesh: &Mesh) -> Vec<StoredResource> {
    mesh.resources
        .iter()
        .map(|r| {
            let spec = if r.kind == "VirtualService" {
                json!({"hosts": [r.name], "http": [{"route": [{"destination": {"host": r.name, "subset": "v1"}}]}]})
            } else {
                json!({"host": r.name, "subsets": [{"name": "v1", "labels": {"version": "v1"}}]})
            };
            StoredResource {
                kind: r.kind.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                generation: r.generation,
                revision: r.revision,
                resource: json!({
                    "apiVersion": "networking.istio.io/v1",
                    "kind": r.kind,
                    "metadata": {"name": r.name, "namespace": r.namespace},
                    "spec": spec,
                }),
            }
        })
        .collect()
}

/// A snapshot of [`mesh`]`(services)` fetched at `at`.
pub fn snapshot(services: usize, at: SystemTime) -> Snapshot {
    let mesh = mesh(services);
    let stored = stored(&mesh);
    let mut s = Snapshot::new(Window::OneMinute, at, mesh, stored);
    s.control_plane_version = Some("0.1.0".into());
    s
}
