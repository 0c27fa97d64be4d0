//! The Istio metric families of one scrape, keyed by the labels the topology needs, and the
//! proxy's process metrics (memory, CPU, start time), certificate expiry and outlier
//! ejections per cluster for the mesh overview.
//!
//! Labels the topology does not use (principals, canonical names, flags...) are summed away,
//! which keeps a proxy's few hundred series down to a few dozen.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::parse::Sample;

/// One side of a call, as the labels name it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Workload {
    pub workload: String,
    pub namespace: String,
    pub app: String,
    pub version: String,
}

/// What identifies an HTTP or TCP series for the topology.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// `reporter="source"`.
    pub source_reported: bool,
    pub source: Arc<Workload>,
    pub destination: Arc<Workload>,
    pub destination_service: Arc<str>,
    /// `response_code` (0 when absent or not a number; always 0 for TCP).
    pub code: u16,
    /// `connection_security_policy="mutual_tls"`.
    pub mtls: bool,
}

/// Cumulative (in a scrape) or delta (between scrapes) values of one HTTP series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Http {
    pub requests: f64,
    /// Cumulative counts per `le` bound of `istio_request_duration_milliseconds`, sorted by
    /// bound; `+Inf` last.
    pub duration: Vec<(f64, f64)>,
    pub duration_count: f64,
    pub duration_sum: f64,
    pub request_bytes: f64,
    pub response_bytes: f64,
}

/// Values of one TCP series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tcp {
    pub opened: f64,
    pub closed: f64,
    /// To the downstream.
    pub sent_bytes: f64,
    /// From the downstream.
    pub received_bytes: f64,
}

/// Prometheus' standard process metrics of the scraped proxy, when it exports them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Process {
    /// `process_resident_memory_bytes`.
    pub resident_bytes: Option<f64>,
    /// `process_start_time_seconds` (Unix seconds).
    pub start_time_seconds: Option<f64>,
    /// `process_cpu_seconds_total`.
    pub cpu_seconds: Option<f64>,
    /// `istio_agent_cert_expiry_seconds{resource_name="default"}` (pilot-agent's name): the
    /// seconds the workload certificate had left when the proxy answered, negative once
    /// expired; `None` when the proxy holds no certificate.
    pub cert_expiry_seconds: Option<f64>,
}

/// The Istio families of one scrape, the proxy's retries, and its process metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    pub http: HashMap<SeriesKey, Http>,
    pub tcp: HashMap<SeriesKey, Tcp>,
    /// Retries by destination service host (`envoy_cluster_upstream_rq_retry` of the
    /// `outbound|port|subset|host` clusters): every retry is one more request the server's
    /// proxy sees than the client's reports.
    pub retries: HashMap<Arc<str>, f64>,
    /// Endpoints ejected by outlier detection since the proxy started, by cluster name
    /// (`envoy_cluster_outlier_detection_ejections_enforced_total{cluster_name}`, e.g.
    /// `outbound|9080|v2|reviews.default.svc.cluster.local`): the counters as scraped, not
    /// deltas. A cluster that never ejected is absent.
    pub outlier_ejections: BTreeMap<String, u64>,
    pub process: Process,
    /// When the proxy answered, Unix seconds: set by the scraper (an exposition does not
    /// say), so that remaining times such as the certificate's become dates.
    pub scraped_at_unix_s: Option<f64>,
}

/// Interns the label strings of one scrape, so equal workloads share one allocation.
#[derive(Default)]
struct Interner {
    workloads: HashMap<Workload, Arc<Workload>>,
    services: HashMap<String, Arc<str>>,
}

impl Interner {
    fn workload(&mut self, s: &Sample, side: &str) -> Arc<Workload> {
        let get = |l: &str| {
            s.label(&format!("{side}_{l}"))
                .unwrap_or("unknown")
                .to_string()
        };
        let w = Workload {
            workload: get("workload"),
            namespace: get("workload_namespace"),
            app: get("app"),
            version: get("version"),
        };
        self.workloads
            .entry(w.clone())
            .or_insert_with(|| Arc::new(w))
            .clone()
    }

    fn service(&mut self, service: &str) -> Arc<str> {
        match self.services.get(service) {
            Some(v) => v.clone(),
            None => {
                let v: Arc<str> = service.into();
                self.services.insert(service.to_string(), v.clone());
                v
            }
        }
    }

    fn key(&mut self, s: &Sample) -> SeriesKey {
        let destination_service = self.service(s.label("destination_service").unwrap_or("unknown"));
        SeriesKey {
            source_reported: s.label("reporter") == Some("source"),
            source: self.workload(s, "source"),
            destination: self.workload(s, "destination"),
            destination_service,
            code: s
                .label("response_code")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
            mtls: s.label("connection_security_policy") == Some("mutual_tls"),
        }
    }
}

/// The workload certificate's series of `istio_agent_cert_expiry_seconds`: pilot-agent
/// labels it `resource_name="default"` (and may report others, such as `ROOTCA`); a series
/// without the label is taken as the workload's too.
fn workload_cert_expiry(s: &Sample) -> Option<f64> {
    let workload = matches!(s.label("resource_name"), None | Some("default"));
    // Negative is meaningful here (expired): only garbage is dropped.
    (workload && s.value.is_finite()).then_some(s.value)
}

/// A finite, non-negative value; garbage (NaN, negative) counts as nothing.
fn clean(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 {
        v
    } else {
        0.0
    }
}

/// A counter's value as a whole count (`clean` already dropped garbage; counters are whole
/// numbers, the rounding only absorbs a float exposition).
fn count(v: f64) -> u64 {
    // `as` saturates for values beyond u64.
    v.round() as u64
}

impl Scrape {
    /// Picks the Istio families out of a parsed exposition; other metrics are ignored.
    pub fn from_samples(samples: &[Sample]) -> Scrape {
        let mut out = Scrape::default();
        let mut names = Interner::default();
        for s in samples {
            let v = clean(s.value);
            let Some(family) = s.name.strip_prefix("istio_") else {
                let p = &mut out.process;
                match s.name.as_str() {
                    "process_resident_memory_bytes" => p.resident_bytes = Some(v),
                    "process_start_time_seconds" => p.start_time_seconds = Some(v),
                    "process_cpu_seconds_total" => p.cpu_seconds = Some(v),
                    "envoy_cluster_outlier_detection_ejections_enforced_total" => {
                        // A series without the label (an older proxy's single counter) names
                        // no cluster to report it under. Envoy exports a zero for every
                        // cluster: only those that ejected are kept, as our proxies export.
                        let cluster = s.label("cluster_name").filter(|c| !c.is_empty());
                        if let (Some(cluster), n @ 1..) = (cluster, count(v)) {
                            *out.outlier_ejections
                                .entry(cluster.to_string())
                                .or_default() += n;
                        }
                    }
                    "envoy_cluster_upstream_rq_retry" => {
                        let host = s
                            .label("cluster_name")
                            .and_then(|c| c.strip_prefix("outbound|"))
                            .and_then(|c| c.splitn(3, '|').nth(2));
                        if let Some(host) = host.filter(|h| !h.is_empty()) {
                            *out.retries.entry(names.service(host)).or_default() += v;
                        }
                    }
                    _ => {}
                }
                continue;
            };
            if family == "agent_cert_expiry_seconds" {
                if let Some(left) = workload_cert_expiry(s) {
                    out.process.cert_expiry_seconds = Some(left);
                }
                continue;
            }
            if let Some(tcp) = family.strip_prefix("tcp_") {
                let t = out.tcp.entry(names.key(s)).or_default();
                match tcp {
                    "connections_opened_total" => t.opened += v,
                    "connections_closed_total" => t.closed += v,
                    "sent_bytes_total" => t.sent_bytes += v,
                    "received_bytes_total" => t.received_bytes += v,
                    _ => {}
                }
                continue;
            }
            let field = match family {
                "requests_total" => |h: &mut Http, v| h.requests += v,
                "request_duration_milliseconds_count" => |h: &mut Http, v| h.duration_count += v,
                "request_duration_milliseconds_sum" => |h: &mut Http, v| h.duration_sum += v,
                "request_bytes_sum" => |h: &mut Http, v| h.request_bytes += v,
                "response_bytes_sum" => |h: &mut Http, v| h.response_bytes += v,
                "request_duration_milliseconds_bucket" => {
                    let le = s.label("le").and_then(|l| match l {
                        "+Inf" => Some(f64::INFINITY),
                        _ => l.parse::<f64>().ok().filter(|b| !b.is_nan()),
                    });
                    if let Some(le) = le {
                        let h = out.http.entry(names.key(s)).or_default();
                        match h.duration.iter_mut().find(|(b, _)| *b == le) {
                            Some((_, c)) => *c += v,
                            None => h.duration.push((le, v)),
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            field(out.http.entry(names.key(s)).or_default(), v);
        }
        for h in out.http.values_mut() {
            h.duration.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::parse::parse;

    fn process(text: &str) -> Process {
        let samples = parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        Scrape::from_samples(&samples).process
    }

    #[test]
    fn reads_the_workload_certificate_expiry_as_the_proxy_exports_it() {
        let text = "\
# HELP istio_agent_cert_expiry_seconds The time remaining, in seconds, before the certificate chain will expire. A negative value indicates the cert is expired.
# TYPE istio_agent_cert_expiry_seconds gauge
istio_agent_cert_expiry_seconds{resource_name=\"default\"} 86399.25
process_start_time_seconds 1700000000
";
        let p = process(text);
        assert_eq!(p.cert_expiry_seconds, Some(86399.25));
        assert_eq!(p.start_time_seconds, Some(1.7e9));
    }

    #[test]
    fn the_root_series_is_ignored_and_expired_stays_negative() {
        // pilot-agent may report the root too: only the workload chain counts, in any order.
        let text = "\
istio_agent_cert_expiry_seconds{resource_name=\"default\"} -3.5
istio_agent_cert_expiry_seconds{resource_name=\"ROOTCA\"} 315360000
";
        assert_eq!(process(text).cert_expiry_seconds, Some(-3.5));
        // Without the label (another exporter), the one series is the workload's.
        let unlabelled = process("istio_agent_cert_expiry_seconds 42\n");
        assert_eq!(unlabelled.cert_expiry_seconds, Some(42.0));
    }

    fn ejections(text: &str) -> BTreeMap<String, u64> {
        let samples = parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        Scrape::from_samples(&samples).outlier_ejections
    }

    #[test]
    fn reads_outlier_ejections_per_cluster_as_the_proxy_exports_them() {
        let text = "\
# HELP envoy_cluster_outlier_detection_ejections_enforced_total Endpoints ejected by outlier detection.
# TYPE envoy_cluster_outlier_detection_ejections_enforced_total counter
envoy_cluster_outlier_detection_ejections_enforced_total{cluster_name=\"outbound|9080|v2|reviews.default.svc.cluster.local\"} 3
envoy_cluster_outlier_detection_ejections_enforced_total{cluster_name=\"outbound|9080||ratings.default.svc.cluster.local\"} 1
";
        assert_eq!(
            ejections(text),
            BTreeMap::from([
                (
                    "outbound|9080|v2|reviews.default.svc.cluster.local".into(),
                    3
                ),
                ("outbound|9080||ratings.default.svc.cluster.local".into(), 1),
            ])
        );
    }

    #[test]
    fn ejections_without_a_cluster_zero_or_garbage_are_left_out() {
        let text = "\
envoy_cluster_outlier_detection_ejections_enforced_total 7
envoy_cluster_outlier_detection_ejections_enforced_total{cluster_name=\"\"} 2
envoy_cluster_outlier_detection_ejections_enforced_total{cluster_name=\"a\"} NaN
envoy_cluster_outlier_detection_ejections_enforced_total{cluster_name=\"b\"} -1
envoy_cluster_outlier_detection_ejections_enforced_total{cluster_name=\"idle\"} 0
";
        assert!(ejections(text).is_empty(), "{:?}", ejections(text));
        assert!(ejections("process_resident_memory_bytes 1024\n").is_empty());
    }

    #[test]
    fn no_certificate_or_garbage_is_unknown() {
        let plain = process("process_resident_memory_bytes 1024\n");
        assert_eq!(plain.cert_expiry_seconds, None);
        let nan = process("istio_agent_cert_expiry_seconds{resource_name=\"default\"} NaN\n");
        assert_eq!(nan.cert_expiry_seconds, None);
        let root_only = process("istio_agent_cert_expiry_seconds{resource_name=\"ROOTCA\"} 9\n");
        assert_eq!(root_only.cert_expiry_seconds, None);
    }
}
