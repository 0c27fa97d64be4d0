//! What the dashboard reads from the control plane's monitoring port, as plain serde types,
//! and the [`Snapshot`] one fetch produces.
//!
//! The shapes follow `GET /api/v1/mesh` (documented in mesh-controlplane's
//! `telemetry/mod.rs` and `server/sections.rs`), `GET /apis/resources` and
//! `GET /debug/proxies`. Every field has a default and unknown fields are ignored, so a newer
//! control plane that adds fields, or an older one that lacks some, still decodes.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Deserialize;

/// A rolling window of the telemetry API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Window {
    TenSeconds,
    #[default]
    OneMinute,
    TenMinutes,
}

impl Window {
    /// The value of `?window=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::TenSeconds => "10s",
            Window::OneMinute => "1m",
            Window::TenMinutes => "10m",
        }
    }

    /// The next window in the `w` key's cycle: 10 s -> 1 min -> 10 min -> 10 s.
    pub fn next(self) -> Window {
        match self {
            Window::TenSeconds => Window::OneMinute,
            Window::OneMinute => Window::TenMinutes,
            Window::TenMinutes => Window::TenSeconds,
        }
    }
}

impl std::str::FromStr for Window {
    type Err = String;

    fn from_str(s: &str) -> Result<Window, String> {
        match s {
            "10s" => Ok(Window::TenSeconds),
            "1m" => Ok(Window::OneMinute),
            "10m" => Ok(Window::TenMinutes),
            other => Err(format!("unknown window {other:?}: use 10s, 1m or 10m")),
        }
    }
}

/// `GET /api/v1/mesh`: the topology of one window plus the injected sections.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Mesh {
    pub window: String,
    pub window_s: f64,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub proxies: Vec<Proxy>,
    pub resources: Vec<ResourceAcks>,
    pub targets: Vec<Target>,
}

/// A workload that sent or received traffic in the window.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Node {
    /// `workload.namespace`, what edges' `source_id` / `destination_id` name.
    pub id: String,
    pub workload: String,
    pub namespace: String,
    pub app: String,
    pub version: String,
    /// Hosts it was reached as (`reviews.default.svc.cluster.local`).
    pub services: Vec<String>,
}

/// Traffic from one workload to another in the window.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Edge {
    /// Source workload (`unknown` for traffic from outside the mesh).
    pub source: String,
    pub source_id: String,
    pub source_version: String,
    pub destination: String,
    pub destination_id: String,
    pub destination_version: String,
    pub destination_service: String,
    /// `http` or `tcp`.
    pub protocol: String,
    pub reporter: String,
    /// Requests (HTTP) or connections opened (TCP) in the window.
    pub requests: u64,
    pub rps: f64,
    /// Share of non-5xx answers, 0..=1; `None` without requests and for TCP.
    pub success_rate: Option<f64>,
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub mtls: bool,
}

impl Edge {
    pub fn is_tcp(&self) -> bool {
        self.protocol == "tcp"
    }
}

/// Where a proxy's config stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SyncState {
    Synced,
    Stale,
    Nacked,
    Disconnected,
    /// A state this build does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Synced => "SYNCED",
            SyncState::Stale => "STALE",
            SyncState::Nacked => "NACKED",
            SyncState::Disconnected => "DISCONNECTED",
            SyncState::Unknown => "UNKNOWN",
        }
    }

    /// Sort rank for the Proxies view: what needs attention first.
    pub fn urgency(self) -> u8 {
        match self {
            SyncState::Nacked => 0,
            SyncState::Disconnected => 1,
            SyncState::Stale => 2,
            SyncState::Unknown => 3,
            SyncState::Synced => 4,
        }
    }
}

/// One proxy of the `proxies` section, completed from `GET /debug/proxies` (namespace,
/// labels, warnings).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Proxy {
    /// `name.namespace`.
    pub id: String,
    /// `sidecar` or `router` (a gateway).
    pub proxy_type: String,
    pub service: String,
    pub workload: String,
    pub version: Option<String>,
    pub state: SyncState,
    /// Seconds the state held when fetched.
    pub state_age_s: u64,
    pub version_sent: Option<String>,
    pub version_acked: Option<String>,
    /// The NACK's error while NACKED.
    pub error: Option<String>,
    pub last_nack_error: Option<String>,
    pub connected_since: Option<u64>,
    pub connected_s: Option<u64>,
    pub scrape_up: bool,
    pub uptime_s: Option<f64>,
    pub rss_bytes: Option<u64>,
    pub cpu_cores: Option<f64>,
    /// When the proxy's certificate expires, Unix seconds (from its
    /// `istio_agent_cert_expiry_seconds` at the last scrape); null for a proxy without one.
    pub cert_not_after: Option<u64>,
    /// Endpoints its outlier detection ejected since the proxy started, by cluster name
    /// (`outbound|9080|v2|reviews.default.svc.cluster.local`), as last scraped; only
    /// clusters that ejected at least once.
    pub outlier_ejections: BTreeMap<String, u64>,
    /// From `/debug/proxies`.
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

impl Proxy {
    /// The namespace: from `/debug/proxies`, else the part of the id after the first dot.
    pub fn namespace(&self) -> &str {
        if !self.namespace.is_empty() {
            return &self.namespace;
        }
        self.id.split_once('.').map_or("", |(_, ns)| ns)
    }
}

/// One stored resource of the `resources` section: how many proxies ACKed it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ResourceAcks {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub generation: u64,
    pub revision: u64,
    pub proxies_acked: usize,
    pub proxies_connected: usize,
}

/// The scrape health of one proxy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Target {
    pub id: String,
    pub up: bool,
    pub error: Option<String>,
    pub last_scrape_age_s: Option<f64>,
}

/// One resource of `GET /apis/resources`, with its full body.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StoredResource {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub generation: u64,
    pub revision: u64,
    /// The resource as stored (`apiVersion`, `kind`, `metadata`, `spec`).
    pub resource: serde_json::Value,
}

impl StoredResource {
    /// The `spec` object, or `Null`.
    pub fn spec(&self) -> &serde_json::Value {
        &self.resource["spec"]
    }
}

/// One line of `GET /debug/proxies` (camelCase): only what `/api/v1/mesh` lacks.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DebugProxy {
    pub id: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

/// Identifies a resource across snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

impl ResourceAcks {
    pub fn id(&self) -> ResourceId {
        ResourceId {
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// Everything one successful fetch saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The window the numbers are for.
    pub window: Window,
    /// When the fetch completed.
    pub fetched_at: SystemTime,
    pub mesh: Mesh,
    /// Every stored resource with its body (for the Config view's YAML and rule matching).
    pub stored: Vec<StoredResource>,
    /// The control plane's version (`GET /version`).
    pub control_plane_version: Option<String>,
}

impl Snapshot {
    /// A snapshot from the three answers; the debug lines fill in each proxy's namespace,
    /// labels and warnings.
    pub fn new(
        window: Window,
        fetched_at: SystemTime,
        mut mesh: Mesh,
        stored: Vec<StoredResource>,
        debug: Vec<DebugProxy>,
    ) -> Snapshot {
        let debug: BTreeMap<String, DebugProxy> =
            debug.into_iter().map(|d| (d.id.clone(), d)).collect();
        for p in &mut mesh.proxies {
            if let Some(d) = debug.get(&p.id) {
                p.namespace.clone_from(&d.namespace);
                p.labels.clone_from(&d.labels);
                p.warnings.clone_from(&d.warnings);
            }
        }
        Snapshot {
            window,
            fetched_at,
            mesh,
            stored,
            control_plane_version: None,
        }
    }

    /// The stored body of a resource.
    pub fn stored(&self, id: &ResourceId) -> Option<&StoredResource> {
        self.stored
            .iter()
            .find(|s| s.kind == id.kind && s.namespace == id.namespace && s.name == id.name)
    }
}
