//! The control plane's telemetry API on its monitoring port (15014), as one set of types:
//! the control plane serialises them, `meshctl stat` and the dashboard read them.
//!
//! `GET /api/v1/mesh?window=10s|1m|10m` answers a [`Mesh`]; `GET /api/v1/topology` the
//! [`Topology`] part of it; `GET /api/v1/edges` its window and edges; `GET /api/v1/targets`
//! `{"targets": [TargetStatus]}`. Field names are snake_case and part of the API: rename
//! nothing without a new API version. Readers ignore fields they do not know, and a missing
//! field takes its default, so a client and a control plane one release apart still talk.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::xds::ProxyType;

/// A rolling window the API answers for (`?window=`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum Window {
    #[serde(rename = "10s")]
    TenSeconds,
    #[default]
    #[serde(rename = "1m")]
    OneMinute,
    #[serde(rename = "10m")]
    TenMinutes,
}

impl Window {
    pub const ALL: [Window; 3] = [Window::TenSeconds, Window::OneMinute, Window::TenMinutes];

    pub fn duration(self) -> Duration {
        Duration::from_secs(match self {
            Window::TenSeconds => 10,
            Window::OneMinute => 60,
            Window::TenMinutes => 600,
        })
    }

    /// The value of `?window=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::TenSeconds => "10s",
            Window::OneMinute => "1m",
            Window::TenMinutes => "10m",
        }
    }

    /// The next window in a cycle: 10 s -> 1 min -> 10 min -> 10 s.
    pub fn next(self) -> Window {
        match self {
            Window::TenSeconds => Window::OneMinute,
            Window::OneMinute => Window::TenMinutes,
            Window::TenMinutes => Window::TenSeconds,
        }
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Window {
    type Err = String;

    fn from_str(s: &str) -> Result<Window, String> {
        Window::ALL
            .into_iter()
            .find(|w| w.as_str() == s)
            .ok_or_else(|| format!("unknown window {s:?}: use 10s, 1m or 10m"))
    }
}

/// `GET /api/v1/mesh`: one window's topology, every proxy, every stored resource's ACKs and
/// the scrape targets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mesh {
    pub window: Window,
    /// Seconds the window spans.
    pub window_s: f64,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub proxies: Vec<Proxy>,
    pub resources: Vec<ResourceAcks>,
    pub targets: Vec<TargetStatus>,
}

/// `GET /api/v1/topology`: the nodes and edges of one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Topology {
    pub window: Window,
    /// Seconds the window spans.
    pub window_s: f64,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// A workload that sent or received traffic in the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Node {
    /// `workload.namespace`, what edges' `source_id`/`destination_id` refer to.
    pub id: String,
    pub workload: String,
    pub namespace: String,
    pub app: String,
    pub version: String,
    /// Services (hosts) this workload was reached as; empty for pure clients.
    pub services: Vec<String>,
}

/// What an edge counts.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Requests (`istio_requests_total`).
    #[default]
    Http,
    /// Connections (`istio_tcp_connections_opened_total`) and bytes.
    Tcp,
}

/// Whose numbers an edge carries (Istio's `reporter` label).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reporter {
    /// The client's sidecar reported the traffic.
    #[default]
    Source,
    /// Only the server's proxy did (inbound-only traffic, e.g. from an ingress).
    Destination,
}

/// Traffic from one workload to another (through one service) in the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Edge {
    /// Source workload name (`unknown` for traffic from outside the mesh).
    pub source: String,
    pub source_id: String,
    pub source_version: String,
    /// Destination workload name.
    pub destination: String,
    pub destination_id: String,
    pub destination_version: String,
    pub destination_service: String,
    pub protocol: Protocol,
    pub reporter: Reporter,
    /// Requests (HTTP) or connections opened (TCP) seen in the window.
    pub requests: u64,
    /// Requests (or connections) per second.
    pub rps: f64,
    /// Share of requests not answered 5xx, 0..=1; null without requests (and for TCP).
    pub success_rate: Option<f64>,
    /// Requests answered 5xx.
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Bytes from source to destination (HTTP request bodies; TCP bytes received).
    pub request_bytes: u64,
    /// Bytes from destination to source.
    pub response_bytes: u64,
    /// Some of this traffic was mutual TLS (`connection_security_policy="mutual_tls"`, which
    /// the destination's proxy reports).
    pub mtls: bool,
}

impl Edge {
    pub fn is_tcp(&self) -> bool {
        self.protocol == Protocol::Tcp
    }
}

/// Where a proxy's config stands (istioctl's proxy-status).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SyncState {
    /// The proxy acknowledged the latest version sent to it.
    Synced,
    /// A version was sent (or is being computed) and not acknowledged yet.
    #[default]
    Stale,
    /// The proxy rejected the latest version it was sent; `error` says why.
    Nacked,
    /// The stream is gone; its endpoints stay in the registry for the grace period.
    Disconnected,
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Synced => "SYNCED",
            SyncState::Stale => "STALE",
            SyncState::Nacked => "NACKED",
            SyncState::Disconnected => "DISCONNECTED",
        }
    }

    /// What needs attention first: NACKED, DISCONNECTED, STALE, SYNCED.
    pub fn urgency(self) -> u8 {
        match self {
            SyncState::Nacked => 0,
            SyncState::Disconnected => 1,
            SyncState::Stale => 2,
            SyncState::Synced => 3,
        }
    }
}

/// One proxy of `/api/v1/mesh`'s `proxies`: its config state from the push server, its
/// process from the last scrape. Unknown values are null.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Proxy {
    /// `name.namespace`.
    pub id: String,
    pub proxy_type: ProxyType,
    pub service: String,
    pub namespace: String,
    pub workload: String,
    /// The `version` label, when it has one.
    pub version: Option<String>,
    /// All its labels (`app`, `version`, ...).
    pub labels: BTreeMap<String, String>,
    pub state: SyncState,
    /// Seconds the state has held.
    pub state_age_s: u64,
    pub version_sent: Option<String>,
    pub version_acked: Option<String>,
    /// The NACK's error while NACKED.
    pub error: Option<String>,
    /// The latest NACK's error on the current stream, also after a later version was ACKed.
    pub last_nack_error: Option<String>,
    /// Unix seconds when the current (or last) stream opened.
    pub connected_since: Option<u64>,
    pub connected_s: Option<u64>,
    /// Problems translating its snapshot (rules naming unknown hosts, ...).
    pub warnings: Vec<String>,
    /// The last scrape succeeded.
    pub scrape_up: bool,
    /// Seconds since the proxy process started.
    pub uptime_s: Option<f64>,
    pub rss_bytes: Option<u64>,
    /// CPU cores used between the last two scrapes (1.0 = one core busy).
    pub cpu_cores: Option<f64>,
    /// When the proxy's workload certificate expires, integer Unix seconds (from its
    /// `istio_agent_cert_expiry_seconds`); null without a certificate.
    pub cert_not_after: Option<u64>,
    /// Endpoints ejected by outlier detection since the proxy started, by cluster name
    /// (`outbound|9080|v2|reviews.default.svc.cluster.local`), from its
    /// `envoy_cluster_outlier_detection_ejections_enforced_total`; only clusters that
    /// ejected; `{}` when none, or before the proxy is scraped.
    pub outlier_ejections: BTreeMap<String, u64>,
}

impl Proxy {
    /// The namespace, or the part of the id after the first dot when it is not given.
    pub fn namespace(&self) -> &str {
        if !self.namespace.is_empty() {
            return &self.namespace;
        }
        self.id.split_once('.').map_or("", |(_, ns)| ns)
    }
}

/// One stored resource of `/api/v1/mesh`'s `resources`: how many proxies ACKed it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceAcks {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub generation: u64,
    /// The store revision that last changed it.
    pub revision: u64,
    /// Connected proxies whose ACKed snapshot includes this version of it.
    pub proxies_acked: usize,
    /// Connected proxies.
    pub proxies_connected: usize,
}

/// The health of one scrape target (a proxy's `/stats/prometheus`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetStatus {
    pub id: String,
    pub up: bool,
    /// Why the last scrape failed, when it did.
    pub error: Option<String>,
    /// Seconds since the last successful scrape.
    pub last_scrape_age_s: Option<f64>,
    /// The proxy's resident memory (`process_resident_memory_bytes`), as last scraped.
    pub rss_bytes: Option<u64>,
    /// When the proxy process started, Unix seconds (`process_start_time_seconds`).
    pub start_time_s: Option<f64>,
    /// CPU seconds the proxy used since it started (`process_cpu_seconds_total`).
    pub cpu_seconds: Option<f64>,
    /// CPU cores the proxy used between its last two scrapes (1.0 = one core busy).
    pub cpu_cores: Option<f64>,
    /// When the proxy's workload certificate expires, Unix seconds (rounded): the last
    /// scrape's time plus the `istio_agent_cert_expiry_seconds` it reported. Null when the
    /// proxy holds no certificate or does not export the metric.
    pub cert_not_after: Option<u64>,
    /// Endpoints ejected by outlier detection, by cluster name, as last scraped (counts
    /// since the proxy started); `{}` when none did.
    pub outlier_ejections: BTreeMap<String, u64>,
    /// Successful scrapes so far.
    pub scrapes: u64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn windows_round_trip_as_their_query_values() {
        for w in Window::ALL {
            assert_eq!(w.as_str().parse::<Window>(), Ok(w));
            assert_eq!(
                serde_json::to_string(&w).unwrap(),
                format!("\"{}\"", w.as_str())
            );
            assert_eq!(
                serde_json::from_str::<Window>(&format!("\"{w}\"")).unwrap(),
                w
            );
        }
        assert!("5m"
            .parse::<Window>()
            .unwrap_err()
            .contains("use 10s, 1m or 10m"));
        assert_eq!(Window::TenMinutes.next(), Window::TenSeconds);
    }

    #[test]
    fn readers_tolerate_missing_and_unknown_fields() {
        let m: Mesh = serde_json::from_str(
            r#"{"window":"10s","edges":[{"source":"a","protocol":"tcp","future":1}],
                "proxies":[{"id":"r-0.ns","state":"NACKED","proxy_type":"router"}],"later":{}}"#,
        )
        .unwrap();
        assert_eq!(m.window, Window::TenSeconds);
        assert!(m.edges[0].is_tcp());
        assert_eq!(m.edges[0].reporter, Reporter::Source);
        assert_eq!(m.proxies[0].state, SyncState::Nacked);
        assert_eq!(m.proxies[0].proxy_type, ProxyType::Router);
        assert_eq!(m.proxies[0].namespace(), "ns");
        assert!(m.nodes.is_empty());
    }
}
