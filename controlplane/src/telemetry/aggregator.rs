//! Rolling windows over scrapes: per target, the last cumulative scrape and a ring of deltas
//! (one per scrape) for up to ten minutes; on demand, the nodes and edges of a window.
//!
//! Pure: time is passed in, so tests drive it with synthetic scrapes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::model::{Http, Scrape, SeriesKey, Tcp, Workload};
use super::view::{Edge, Node, Protocol, Reporter, TargetStatus, Topology, Window};

/// How long deltas are kept: the longest window.
const RETENTION: Duration = Duration::from_secs(600);
/// Deltas younger than this are kept one per scrape (the 10 s and 1 min windows are exact).
const FINE: Duration = Duration::from_secs(60);
/// The granularity of older deltas.
const CHUNK: Duration = Duration::from_secs(10);

/// What changed on one target between two scrapes.
#[derive(Debug)]
struct Delta {
    at: Instant,
    elapsed: Duration,
    /// Only series that changed.
    scrape: Scrape,
}

#[derive(Debug, Default)]
struct TargetState {
    last: Option<(Instant, Scrape)>,
    ring: VecDeque<Delta>,
    error: Option<String>,
    /// No longer in the target list: kept (its traffic still counts, and a proxy that
    /// reconnects continues from its last scrape) until its data ages out.
    unlisted: bool,
    /// CPU seconds per second between the last two scrapes.
    cpu_cores: Option<f64>,
    /// Successful scrapes so far.
    scrapes: u64,
}

/// Per-target scrape history and the window computation.
#[derive(Debug, Default)]
pub struct Aggregator {
    targets: BTreeMap<String, TargetState>,
}

/// Sums for one edge as one reporter saw it.
#[derive(Debug, Default)]
pub(super) struct Acc {
    pub http: Http,
    pub tcp: Tcp,
    pub rps: f64,
    pub errors: f64,
    pub mtls: f64,
}

/// Source, destination, service, protocol.
pub(super) type EdgeKey = (Arc<Workload>, Arc<Workload>, Arc<str>, &'static str);

impl Aggregator {
    pub fn new() -> Aggregator {
        Aggregator::default()
    }

    /// Records a successful scrape of `target` taken at `at`. The first scrape of a target is
    /// the baseline: its counters hold traffic of unknown age, so they count toward no window.
    pub fn record(&mut self, target: &str, at: Instant, scrape: Scrape) {
        let t = self.targets.entry(target.to_string()).or_default();
        t.error = None;
        t.unlisted = false;
        t.scrapes += 1;
        if let Some((prev_at, prev)) = &t.last {
            let elapsed = at.saturating_duration_since(*prev_at);
            if elapsed.is_zero() {
                return;
            }
            t.cpu_cores = match (prev.process.cpu_seconds, scrape.process.cpu_seconds) {
                // A restarted proxy's counter went down: no rate for this interval.
                (Some(p), Some(c)) if c >= p => Some((c - p) / elapsed.as_secs_f64()),
                _ => None,
            };
            let mut delta = Scrape::default();
            for (k, cur) in &scrape.http {
                let d = match prev.http.get(k) {
                    Some(p) => cur.since(p),
                    None => cur.clone(),
                };
                if !d.is_zero() {
                    delta.http.insert(k.clone(), d);
                }
            }
            for (k, cur) in &scrape.tcp {
                let d = prev
                    .tcp
                    .get(k)
                    .map_or_else(|| cur.clone(), |p| cur.since(p));
                if !d.is_zero() {
                    delta.tcp.insert(k.clone(), d);
                }
            }
            for (k, cur) in &scrape.retries {
                let p = prev.retries.get(k).copied().unwrap_or(0.0);
                // A counter that went down restarted: its value is the delta.
                let d = if *cur >= p { cur - p } else { *cur };
                if d > 0.0 {
                    delta.retries.insert(k.clone(), d);
                }
            }
            t.ring.push_back(Delta {
                at,
                elapsed,
                scrape: delta,
            });
        }
        t.last = Some((at, scrape));
        compact(&mut t.ring, at);
        while t
            .ring
            .front()
            .is_some_and(|d| at.saturating_duration_since(d.at) > RETENTION)
        {
            t.ring.pop_front();
        }
    }

    /// Whether `target` has a scrape that the next one is a delta from.
    pub fn has_baseline(&self, target: &str) -> bool {
        self.targets.get(target).is_some_and(|t| t.last.is_some())
    }

    /// Records a failed scrape: the target is down; its data stays until it ages out.
    pub fn record_failure(&mut self, target: &str, error: String) {
        self.targets.entry(target.to_string()).or_default().error = Some(error);
    }

    /// Marks targets not in `keep` as gone (proxies that left the mesh or are reconnecting);
    /// their history counts until it is older than the longest window, then is forgotten.
    pub fn retain(&mut self, keep: &[&str], now: Instant) {
        self.targets.retain(|id, t| {
            t.unlisted = !keep.contains(&id.as_str());
            !t.unlisted
                || t.last
                    .as_ref()
                    .is_some_and(|(at, _)| now.saturating_duration_since(*at) <= RETENTION)
        });
    }

    /// The health of every target.
    pub fn targets(&self, now: Instant) -> Vec<TargetStatus> {
        self.targets
            .iter()
            .filter(|(_, t)| !t.unlisted)
            .map(|(id, t)| {
                let last = t.last.as_ref().map(|(_, s)| s);
                let process = last.map(|s| s.process).unwrap_or_default();
                let cert_not_after = last
                    .and_then(|s| s.scraped_at_unix_s)
                    .zip(process.cert_expiry_seconds)
                    .map(|(at, left)| round(at + left));
                TargetStatus {
                    id: id.clone(),
                    up: t.error.is_none() && t.last.is_some(),
                    error: t.error.clone(),
                    last_scrape_age_s: t
                        .last
                        .as_ref()
                        .map(|(at, _)| now.saturating_duration_since(*at).as_secs_f64()),
                    rss_bytes: process.resident_bytes.map(round),
                    start_time_s: process.start_time_seconds,
                    cpu_seconds: process.cpu_seconds,
                    cpu_cores: t.cpu_cores,
                    cert_not_after,
                    outlier_ejections: last
                        .map(|s| s.outlier_ejections.clone())
                        .unwrap_or_default(),
                    scrapes: t.scrapes,
                }
            })
            .collect()
    }

    /// The deltas of `t` that count toward the window ending at `now`: those ending inside it;
    /// if none does and the latest delta is recent (the window is shorter than the scrape
    /// interval), the latest alone, whose rate then stands for the window.
    fn window_deltas(
        t: &TargetState,
        now: Instant,
        span: Duration,
    ) -> impl Iterator<Item = &Delta> {
        let n = t.ring.len();
        let first = t
            .ring
            .partition_point(|d| now.saturating_duration_since(d.at) >= span);
        let start = match t.ring.back() {
            Some(last)
                if first == n && now.saturating_duration_since(last.at) < 2 * last.elapsed =>
            {
                n - 1
            }
            _ => first,
        };
        t.ring.range(start..)
    }

    /// Nodes and edges of `window`, as of `now`.
    pub fn topology(&self, window: Window, now: Instant) -> Topology {
        let span = window.duration();
        let mut by_edge: HashMap<EdgeKey, [Acc; 2]> = HashMap::new();
        let mut retries: HashMap<Arc<str>, f64> = HashMap::new();
        for t in self.targets.values() {
            let mut sums: HashMap<(EdgeKey, bool), Acc> = HashMap::new();
            let mut covered = Duration::ZERO;
            for d in Self::window_deltas(t, now, span) {
                covered += d.elapsed;
                for (service, n) in &d.scrape.retries {
                    *retries.entry(service.clone()).or_default() += n;
                }
                for (k, h) in &d.scrape.http {
                    let a = sums
                        .entry((edge_key(k, "http"), k.source_reported))
                        .or_default();
                    a.http.add(h);
                    if k.code >= 500 {
                        a.errors += h.requests;
                    }
                    if k.mtls {
                        a.mtls += h.requests;
                    }
                }
                for (k, c) in &d.scrape.tcp {
                    let a = sums
                        .entry((edge_key(k, "tcp"), k.source_reported))
                        .or_default();
                    a.tcp.add(c);
                    if k.mtls {
                        a.mtls += c.opened.max(c.sent_bytes + c.received_bytes);
                    }
                }
            }
            let secs = covered.as_secs_f64();
            for ((key, source_reported), mut a) in sums {
                let count = if key.3 == "http" {
                    a.http.requests
                } else {
                    a.tcp.opened
                };
                a.rps = if secs > 0.0 { count / secs } else { 0.0 };
                let slot = &mut by_edge.entry(key).or_default()[usize::from(source_reported)];
                slot.http.add(&a.http);
                slot.tcp.add(&a.tcp);
                slot.rps += a.rps;
                slot.errors += a.errors;
                slot.mtls += a.mtls;
            }
        }
        super::dedup::absorb_unknown_sources(&mut by_edge, retries);
        let mut nodes = BTreeMap::new();
        for (src, dst, service, _) in by_edge.keys() {
            node(&mut nodes, src);
            let services = &mut node(&mut nodes, dst).services;
            if !services.iter().any(|s| **s == **service) {
                services.push(service.to_string());
                services.sort();
            }
        }
        let mut edges: Vec<Edge> = by_edge.into_iter().map(|(k, a)| edge(k, a)).collect();
        edges.sort_by(|a, b| {
            (
                &a.source_id,
                &a.destination_id,
                &a.destination_service,
                a.protocol,
            )
                .cmp(&(
                    &b.source_id,
                    &b.destination_id,
                    &b.destination_service,
                    b.protocol,
                ))
        });
        Topology {
            window,
            window_s: span.as_secs_f64(),
            nodes: nodes.into_values().collect(),
            edges,
        }
    }
}

/// Deltas older than the one-minute window only serve the ten-minute one: merge them into
/// chunks of up to [`CHUNK`], so that window sums ~110 chunks instead of 600 scrapes.
fn compact(ring: &mut VecDeque<Delta>, now: Instant) {
    let old = |d: &Delta| now.saturating_duration_since(d.at) > FINE;
    let mergeable = ring
        .iter()
        .zip(ring.iter().skip(1))
        .any(|(a, b)| old(b) && a.elapsed + b.elapsed <= CHUNK);
    if !mergeable {
        return;
    }
    let mut out: VecDeque<Delta> = VecDeque::with_capacity(ring.len());
    for d in ring.drain(..) {
        match out.back_mut() {
            Some(last) if old(&d) && last.elapsed + d.elapsed <= CHUNK => {
                last.at = d.at;
                last.elapsed += d.elapsed;
                for (k, h) in d.scrape.http {
                    last.scrape.http.entry(k).or_default().add(&h);
                }
                for (k, c) in d.scrape.tcp {
                    last.scrape.tcp.entry(k).or_default().add(&c);
                }
                for (k, n) in d.scrape.retries {
                    *last.scrape.retries.entry(k).or_default() += n;
                }
            }
            _ => out.push_back(d),
        }
    }
    *ring = out;
}

fn edge_key(k: &SeriesKey, protocol: &'static str) -> EdgeKey {
    (
        k.source.clone(),
        k.destination.clone(),
        k.destination_service.clone(),
        protocol,
    )
}

fn id(w: &Workload) -> String {
    format!("{}.{}", w.workload, w.namespace)
}

fn round(v: f64) -> u64 {
    v.round().max(0.0) as u64
}

/// One edge from its two reporters' sums: the source's numbers when it reported any.
fn edge((src, dst, service, protocol): EdgeKey, [by_dst, by_src]: [Acc; 2]) -> Edge {
    let mtls = by_src.mtls > 0.0 || by_dst.mtls > 0.0;
    let source_saw = by_src.http.requests > 0.0 || !by_src.tcp.is_zero();
    let (a, reporter) = if source_saw {
        (by_src, Reporter::Source)
    } else {
        (by_dst, Reporter::Destination)
    };
    let http = protocol == "http";
    let requests = if http { a.http.requests } else { a.tcp.opened };
    Edge {
        source: src.workload.clone(),
        source_id: id(&src),
        source_version: src.version.clone(),
        destination: dst.workload.clone(),
        destination_id: id(&dst),
        destination_version: dst.version.clone(),
        destination_service: service.to_string(),
        protocol: if http { Protocol::Http } else { Protocol::Tcp },
        reporter,
        requests: round(requests),
        rps: a.rps,
        success_rate: (http && requests > 0.0).then(|| 1.0 - a.errors / requests),
        errors: round(a.errors),
        p50_ms: a.http.quantile(0.5),
        p95_ms: a.http.quantile(0.95),
        p99_ms: a.http.quantile(0.99),
        request_bytes: round(if http {
            a.http.request_bytes
        } else {
            a.tcp.received_bytes
        }),
        response_bytes: round(if http {
            a.http.response_bytes
        } else {
            a.tcp.sent_bytes
        }),
        mtls,
    }
}

/// The node of `w`, added if new.
fn node<'a>(nodes: &'a mut BTreeMap<String, Node>, w: &Workload) -> &'a mut Node {
    nodes.entry(id(w)).or_insert_with(|| Node {
        id: id(w),
        workload: w.workload.clone(),
        namespace: w.namespace.clone(),
        app: w.app.clone(),
        version: w.version.clone(),
        services: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_deltas_are_merged_into_chunks() {
        let t0 = Instant::now();
        let mut agg = Aggregator::new();
        for s in 0..600u64 {
            let mut scrape = Scrape::default();
            let key = SeriesKey {
                source_reported: true,
                source: Arc::new(Workload::default()),
                destination: Arc::new(Workload::default()),
                destination_service: "svc".into(),
                code: 200,
                mtls: false,
            };
            let h = Http {
                requests: s as f64,
                ..Http::default()
            };
            scrape.http.insert(key, h);
            agg.record("a", t0 + Duration::from_secs(s), scrape);
        }
        let ring = &agg.targets["a"].ring;
        assert!(ring.len() < 60 + 60, "{} deltas kept", ring.len());
        let fine = ring.iter().filter(|d| d.elapsed == Duration::from_secs(1));
        assert!(fine.count() >= 60, "the last minute is per scrape");
    }
}
