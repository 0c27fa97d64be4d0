//! Prometheus text exposition (format 0.0.4) of the metric store.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::labels::Peer;
use super::{HttpKey, Metrics, TcpKey};

fn escape(v: &str) -> std::borrow::Cow<'_, str> {
    if v.contains(['\\', '"', '\n']) {
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .into()
    } else {
        v.into()
    }
}

/// The labels shared by HTTP and TCP series, in Istio's order.
fn peer_labels(out: &mut String, reporter: &str, src: &Peer, dst: &Peer) {
    let s = &src.labels;
    let d = &dst.labels;
    let _ = write!(
        out,
        "reporter=\"{}\",source_workload=\"{}\",source_workload_namespace=\"{}\",source_principal=\"{}\",\
source_app=\"{}\",source_version=\"{}\",source_canonical_service=\"{}\",source_canonical_revision=\"{}\",\
source_cluster=\"{}\",destination_workload=\"{}\",destination_workload_namespace=\"{}\",\
destination_principal=\"{}\",destination_app=\"{}\",destination_version=\"{}\",destination_service=\"{}\",\
destination_service_name=\"{}\",destination_service_namespace=\"{}\",destination_canonical_service=\"{}\",\
destination_canonical_revision=\"{}\",destination_cluster=\"{}\"",
        reporter,
        escape(&s.workload),
        escape(&s.namespace),
        escape(&s.principal),
        escape(&s.app),
        escape(&s.version),
        escape(&s.app),
        escape(&s.version),
        escape(&s.cluster),
        escape(&d.workload),
        escape(&d.namespace),
        escape(&d.principal),
        escape(&d.app),
        escape(&d.version),
        escape(&d.service),
        escape(d.service_name()),
        escape(d.service_namespace()),
        escape(&d.app),
        escape(&d.version),
        escape(&d.cluster),
    );
}

/// The full label set of a series: the peers, then the protocol-specific tail.
fn series_labels(
    peers: &[std::sync::Arc<Peer>],
    reporter: super::Reporter,
    source: u32,
    destination: u32,
    tail: std::fmt::Arguments<'_>,
) -> String {
    let mut l = String::with_capacity(900);
    peer_labels(
        &mut l,
        reporter.as_str(),
        &peers[source as usize],
        &peers[destination as usize],
    );
    let _ = l.write_fmt(tail);
    l
}

fn http_labels(peers: &[std::sync::Arc<Peer>], k: &HttpKey) -> String {
    series_labels(
        peers,
        k.reporter,
        k.source,
        k.destination,
        format_args!(
            ",request_protocol=\"http\",response_code=\"{}\",grpc_response_status=\"\",response_flags=\"{}\",connection_security_policy=\"{}\"",
            k.code,
            k.flags,
            k.security.as_str()
        ),
    )
}

fn tcp_labels(peers: &[std::sync::Arc<Peer>], k: &TcpKey) -> String {
    series_labels(
        peers,
        k.reporter,
        k.source,
        k.destination,
        format_args!(
            ",request_protocol=\"tcp\",response_flags=\"{}\",connection_security_policy=\"{}\"",
            k.flags,
            k.security.as_str()
        ),
    )
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &super::Histogram) {
    let (buckets, count, sum) = h.snapshot();
    for (i, c) in buckets.iter().enumerate() {
        match h.bounds().get(i) {
            Some(b) => {
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {c}");
            }
            None => {
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {c}");
            }
        }
    }
    let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

pub(super) fn render(m: &Metrics, agent: &super::AgentStats) -> String {
    let peers: Vec<_> = m
        .peers
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .by_id
        .clone();
    let mut http: Vec<_> = m
        .http
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(k, v)| (http_labels(&peers, k), v.clone()))
        .collect();
    http.sort_by(|a, b| a.0.cmp(&b.0));
    let mut tcp: Vec<_> = m
        .tcp
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(k, v)| (tcp_labels(&peers, k), v.clone()))
        .collect();
    tcp.sort_by(|a, b| a.0.cmp(&b.0));

    let mut out = String::with_capacity(4096 + http.len() * 8192);
    out.push_str(
        "# HELP istio_requests_total Total requests.\n# TYPE istio_requests_total counter\n",
    );
    for (l, s) in &http {
        let _ = writeln!(
            out,
            "istio_requests_total{{{l}}} {}",
            s.requests.load(Ordering::Relaxed)
        );
    }
    for (name, help, pick) in [
        (
            "istio_request_duration_milliseconds",
            "Request duration in milliseconds.",
            0usize,
        ),
        ("istio_request_bytes", "Request body sizes in bytes.", 1),
        ("istio_response_bytes", "Response body sizes in bytes.", 2),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (l, s) in &http {
            let h = match pick {
                0 => &s.duration_ms,
                1 => &s.request_bytes,
                _ => &s.response_bytes,
            };
            histogram(&mut out, name, l, h);
        }
    }
    for (name, help, pick) in [
        (
            "istio_tcp_connections_opened_total",
            "TCP connections opened.",
            0usize,
        ),
        (
            "istio_tcp_connections_closed_total",
            "TCP connections closed.",
            1,
        ),
        (
            "istio_tcp_sent_bytes_total",
            "Bytes sent to the downstream during TCP connections.",
            2,
        ),
        (
            "istio_tcp_received_bytes_total",
            "Bytes received from the downstream during TCP connections.",
            3,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (l, s) in &tcp {
            let v = match pick {
                0 => &s.opened,
                1 => &s.closed,
                2 => &s.sent_bytes,
                _ => &s.received_bytes,
            };
            let _ = writeln!(out, "{name}{{{l}}} {}", v.load(Ordering::Relaxed));
        }
    }
    for (name, help, v) in [
        (
            "envoy_server_config_reloads_total",
            "Config snapshots applied.",
            &m.config_reloads_ok,
        ),
        (
            "envoy_server_config_rejected_total",
            "Config snapshots rejected (the last good one kept).",
            &m.config_reloads_rejected,
        ),
        (
            "envoy_cluster_upstream_rq_pending_overflow",
            "Requests refused by connection-pool limits.",
            &m.upstream_overflow,
        ),
        (
            "envoy_http_rbac_denied",
            "Requests denied by AuthorizationPolicy (403 RBAC: access denied).",
            &m.rbac_denied,
        ),
        (
            "envoy_listener_ssl_connection_error",
            "Inbound TLS handshakes that failed.",
            &m.mtls_handshake_failed,
        ),
        (
            "mesh_proxy_inbound_plaintext_rejected_total",
            "Plain-text connections closed because PeerAuthentication is STRICT.",
            &m.mtls_plaintext_rejected,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            v.load(Ordering::Relaxed)
        );
    }
    out.push_str(
        "# HELP envoy_cluster_upstream_rq_retry Retries attempted.\n\
         # TYPE envoy_cluster_upstream_rq_retry counter\n",
    );
    for (cluster, n) in m.retries() {
        let _ = writeln!(
            out,
            "envoy_cluster_upstream_rq_retry{{cluster_name=\"{}\"}} {n}",
            escape(&cluster)
        );
    }
    out.push_str(
        "# HELP envoy_cluster_outlier_detection_ejections_enforced_total Endpoints ejected by outlier detection.\n\
         # TYPE envoy_cluster_outlier_detection_ejections_enforced_total counter\n",
    );
    for (cluster, n) in m.outlier_ejections() {
        let _ = writeln!(
            out,
            "envoy_cluster_outlier_detection_ejections_enforced_total{{cluster_name=\"{}\"}} {n}",
            escape(&cluster)
        );
    }
    super::ProcessStats::read().render(&mut out);
    agent.render(std::time::SystemTime::now(), &mut out);
    out
}
