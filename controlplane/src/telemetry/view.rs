//! What the API answers: windows, nodes, edges, targets. Field names are part of the API
//! (see the [module docs](super)); rename nothing without a new API version.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// A rolling window the aggregator answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Window {
    #[serde(rename = "10s")]
    TenSeconds,
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

    pub fn as_str(self) -> &'static str {
        match self {
            Window::TenSeconds => "10s",
            Window::OneMinute => "1m",
            Window::TenMinutes => "10m",
        }
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

/// A workload that sent or received traffic in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// Traffic from one workload to another (through one service) in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// `http` or `tcp`.
    pub protocol: &'static str,
    /// Which proxy's numbers these are: `source` when the client's sidecar reported the
    /// traffic, else `destination` (inbound-only traffic, e.g. from an ingress).
    pub reporter: &'static str,
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

/// Nodes and edges of one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Topology {
    pub window: Window,
    /// Seconds the window spans.
    pub window_s: f64,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// The health of one scrape target.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// Endpoints ejected by outlier detection, by cluster name
    /// (`outbound|9080|v2|reviews.default.svc.cluster.local`): the proxy's
    /// `envoy_cluster_outlier_detection_ejections_enforced_total` as last scraped, so counts
    /// since the proxy started. Clusters that never ejected are absent; `{}` when none did.
    pub outlier_ejections: BTreeMap<String, u64>,
    /// Successful scrapes so far.
    pub scrapes: u64,
}
