//! Istio's standard metrics, in Prometheus text format, followed by Prometheus' standard
//! process metrics ([`ProcessStats`]: memory, CPU, start time, file descriptors) and the
//! pilot-agent metrics the proxy stands in for ([`AgentStats`]: certificate expiry).
//!
//! Why not a generic metrics crate: Istio's label sets are wide (25 labels) and a proxy sees
//! few distinct ones. We render each workload's labels once ([`PeerLabels`], interned so a
//! config reload maps to the same series) and key series by small integers, so a request costs
//! a hash of a few words, a read lock and some atomic adds: no label strings per request.

mod agent;
mod histogram;
mod labels;
mod process;
mod render;

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use agent::AgentStats;
pub use histogram::Histogram;
pub use labels::{Peer, PeerLabels, Reporter, SecurityPolicy};
pub use process::ProcessStats;

/// Istio/Envoy response flags, combined as a bit set (`DI,UT` and so on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ResponseFlags(u16);

impl ResponseFlags {
    pub const NONE: ResponseFlags = ResponseFlags(0);
    /// Upstream connection failure.
    pub const UF: ResponseFlags = ResponseFlags(1);
    /// No healthy upstream.
    pub const UH: ResponseFlags = ResponseFlags(1 << 1);
    /// Upstream retry limit exceeded.
    pub const URX: ResponseFlags = ResponseFlags(1 << 2);
    /// Upstream overflow (circuit breaking).
    pub const UO: ResponseFlags = ResponseFlags(1 << 3);
    /// No route configured.
    pub const NR: ResponseFlags = ResponseFlags(1 << 4);
    /// Delay injected by fault injection.
    pub const DI: ResponseFlags = ResponseFlags(1 << 5);
    /// Request aborted by fault injection.
    pub const FI: ResponseFlags = ResponseFlags(1 << 6);
    /// Upstream request timeout.
    pub const UT: ResponseFlags = ResponseFlags(1 << 7);
    /// Downstream connection terminated.
    pub const DC: ResponseFlags = ResponseFlags(1 << 8);
    /// Upstream connection terminated.
    pub const UC: ResponseFlags = ResponseFlags(1 << 9);
    /// Upstream reset before response.
    pub const UR: ResponseFlags = ResponseFlags(1 << 10);

    const NAMES: [(ResponseFlags, &'static str); 11] = [
        (Self::UF, "UF"),
        (Self::UH, "UH"),
        (Self::URX, "URX"),
        (Self::UO, "UO"),
        (Self::NR, "NR"),
        (Self::DI, "DI"),
        (Self::FI, "FI"),
        (Self::UT, "UT"),
        (Self::DC, "DC"),
        (Self::UC, "UC"),
        (Self::UR, "UR"),
    ];

    pub fn contains(self, other: ResponseFlags) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for ResponseFlags {
    type Output = ResponseFlags;
    fn bitor(self, rhs: Self) -> Self {
        ResponseFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for ResponseFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl std::fmt::Display for ResponseFlags {
    /// `-` when empty (Envoy's access-log convention, also Istio's label value).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == 0 {
            return f.write_str("-");
        }
        let mut first = true;
        for (flag, name) in Self::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// Identifies one HTTP series: everything but the values is a small integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HttpKey {
    pub reporter: Reporter,
    pub source: u32,
    pub destination: u32,
    pub code: u16,
    pub flags: ResponseFlags,
    pub security: SecurityPolicy,
}

/// Identifies one TCP series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpKey {
    pub reporter: Reporter,
    pub source: u32,
    pub destination: u32,
    pub flags: ResponseFlags,
    pub security: SecurityPolicy,
}

#[derive(Debug)]
pub struct HttpSeries {
    pub requests: AtomicU64,
    pub duration_ms: Histogram,
    pub request_bytes: Histogram,
    pub response_bytes: Histogram,
}

impl Default for HttpSeries {
    fn default() -> Self {
        HttpSeries {
            requests: AtomicU64::new(0),
            duration_ms: Histogram::new(histogram::DURATION_BUCKETS_MS),
            request_bytes: Histogram::new(histogram::BYTES_BUCKETS),
            response_bytes: Histogram::new(histogram::BYTES_BUCKETS),
        }
    }
}

#[derive(Debug, Default)]
pub struct TcpSeries {
    pub opened: AtomicU64,
    pub closed: AtomicU64,
    pub sent_bytes: AtomicU64,
    pub received_bytes: AtomicU64,
}

/// One finished HTTP request, as recorded.
#[derive(Debug, Clone, Copy)]
pub struct HttpSample {
    pub key: HttpKey,
    pub duration: Duration,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

/// The proxy's metric store. Cheap to share (`Arc`).
#[derive(Debug, Default)]
pub struct Metrics {
    peers: RwLock<Interner>,
    // Looked up once per request: small integer keys, so a fast non-DoS-resistant hash (the
    // keys are interned ids, not attacker-chosen strings).
    http: RwLock<FxHashMap<HttpKey, Arc<HttpSeries>>>,
    tcp: RwLock<FxHashMap<TcpKey, Arc<TcpSeries>>>,
    /// Proxy-level counters, Envoy-style names.
    pub config_reloads_ok: AtomicU64,
    pub config_reloads_rejected: AtomicU64,
    pub upstream_overflow: AtomicU64,
    /// Outlier ejections per cluster name
    /// (`envoy_cluster_outlier_detection_ejections_enforced_total{cluster_name}`): written only
    /// when an endpoint is ejected, so requests never take this lock.
    outlier_ejections: RwLock<HashMap<Arc<str>, u64>>,
    /// Retries per cluster name (`envoy_cluster_upstream_rq_retry{cluster_name}`): the
    /// control plane's telemetry tells a client's retries from other callers by these.
    retries: RwLock<HashMap<Arc<str>, Arc<AtomicU64>>>,
    /// Plain-text connections closed by PeerAuthentication STRICT.
    pub mtls_plaintext_rejected: AtomicU64,
    /// Inbound TLS handshakes that failed (untrusted or missing client certificate, ...).
    pub mtls_handshake_failed: AtomicU64,
    /// Requests denied by AuthorizationPolicy.
    pub rbac_denied: AtomicU64,
}

#[derive(Debug, Default)]
struct Interner {
    by_labels: HashMap<PeerLabels, Arc<Peer>>,
    by_id: Vec<Arc<Peer>>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let m = Metrics::default();
        // Id 0 is always the unknown peer.
        m.intern(PeerLabels::unknown());
        Arc::new(m)
    }

    /// Returns the shared copy of these labels, with a stable id.
    pub fn intern(&self, labels: PeerLabels) -> Arc<Peer> {
        let mut i = self.peers.write().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = i.by_labels.get(&labels) {
            return p.clone();
        }
        let p = Arc::new(Peer {
            id: i.by_id.len() as u32,
            labels: labels.clone(),
        });
        i.by_labels.insert(labels, p.clone());
        i.by_id.push(p.clone());
        p
    }

    pub fn unknown_peer(&self) -> Arc<Peer> {
        let i = self.peers.read().unwrap_or_else(|e| e.into_inner());
        i.by_id[0].clone()
    }

    pub fn record_http(&self, s: &HttpSample) {
        let series = self.http_series(s.key);
        series.requests.fetch_add(1, Ordering::Relaxed);
        series
            .duration_ms
            .observe(s.duration.as_secs_f64() * 1000.0);
        series.request_bytes.observe(s.request_bytes as f64);
        series.response_bytes.observe(s.response_bytes as f64);
    }

    fn http_series(&self, key: HttpKey) -> Arc<HttpSeries> {
        if let Some(s) = self
            .http
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return s.clone();
        }
        let mut w = self.http.write().unwrap_or_else(|e| e.into_inner());
        w.entry(key)
            .or_insert_with(|| Arc::new(HttpSeries::default()))
            .clone()
    }

    /// Counts one retry to `cluster` (rare: a lookup per retry is fine).
    pub fn record_retry(&self, cluster: &Arc<str>) {
        if let Some(c) = self
            .retries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(cluster)
        {
            c.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut w = self.retries.write().unwrap_or_else(|e| e.into_inner());
        w.entry(cluster.clone())
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Retries so far, per cluster name.
    pub fn retries(&self) -> Vec<(Arc<str>, u64)> {
        let r = self.retries.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = r
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect();
        out.sort();
        out
    }

    /// Counts one endpoint of `cluster` ejected by outlier detection. Called only when an
    /// ejection happens (a few times a minute at worst), so a write lock is fine.
    pub fn record_outlier_ejection(&self, cluster: &Arc<str>) {
        let mut w = self
            .outlier_ejections
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *w.entry(cluster.clone()).or_default() += 1;
    }

    /// Outlier ejections so far, per cluster name (clusters that never ejected are absent).
    pub fn outlier_ejections(&self) -> Vec<(Arc<str>, u64)> {
        let r = self
            .outlier_ejections
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = r.iter().map(|(k, v)| (k.clone(), *v)).collect();
        out.sort();
        out
    }

    pub fn tcp_series(&self, key: TcpKey) -> Arc<TcpSeries> {
        if let Some(s) = self.tcp.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return s.clone();
        }
        let mut w = self.tcp.write().unwrap_or_else(|e| e.into_inner());
        w.entry(key)
            .or_insert_with(|| Arc::new(TcpSeries::default()))
            .clone()
    }

    /// The Prometheus text exposition of every series, then the process and `agent`
    /// families (read by the caller at scrape time: the store does not own the identity).
    pub fn render(&self, agent: &AgentStats) -> String {
        render::render(self, agent)
    }
}
