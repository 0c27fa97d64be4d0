//! One count per request when the server's proxy reports its client as `unknown`.

use std::time::{Duration, Instant};

use mesh_api::telemetry::Reporter;
use mesh_controlplane::telemetry::model::Scrape;
use mesh_controlplane::telemetry::parse::parse;
use mesh_controlplane::telemetry::{Aggregator, Window};

/// `istio_requests_total` lines: (reporter, source workload, destination workload, policy, n).
fn scrape(series: &[(&str, &str, &str, &str, u64)]) -> Scrape {
    let text: String = series
        .iter()
        .map(|(r, s, d, p, n)| {
            format!(
                "istio_requests_total{{reporter=\"{r}\",source_workload=\"{s}\",destination_workload=\"{d}\",destination_service=\"{d}.default.svc.cluster.local\",response_code=\"200\",connection_security_policy=\"{p}\"}} {n}\n"
            )
        })
        .collect();
    Scrape::from_samples(&parse(&text).expect("valid"))
}

#[test]
fn unknown_sources_count_only_beyond_what_clients_reported() {
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_secs(1);
    let mut agg = Aggregator::new();
    let client = |n| scrape(&[("source", "pp", "reviews", "unknown", n)]);
    // The server saw 50 from pp and 10 from outside, all as `unknown`, over mTLS.
    let server = |n| scrape(&[("destination", "unknown", "reviews", "mutual_tls", n)]);
    agg.record("pp", t0, client(0));
    agg.record("reviews", t0, server(0));
    agg.record("pp", t1, client(50));
    agg.record("reviews", t1, server(60));
    let t = agg.topology(Window::TenSeconds, t1);
    assert_eq!(t.edges.len(), 2, "{:#?}", t.edges);
    let pp = t.edges.iter().find(|e| e.source == "pp").expect("pp edge");
    assert_eq!(
        (pp.requests, pp.reporter, pp.mtls),
        (50, Reporter::Source, true)
    );
    let ext = t
        .edges
        .iter()
        .find(|e| e.source == "unknown")
        .expect("outside");
    assert_eq!((ext.requests, ext.reporter), (10, Reporter::Destination));
    assert!((ext.rps - 10.0).abs() < 1e-9);
}

#[test]
fn a_fully_explained_unknown_edge_disappears() {
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_secs(1);
    let mut agg = Aggregator::new();
    agg.record(
        "pp",
        t0,
        scrape(&[("source", "pp", "reviews", "unknown", 0)]),
    );
    agg.record(
        "rv",
        t0,
        scrape(&[("destination", "unknown", "reviews", "none", 0)]),
    );
    agg.record(
        "pp",
        t1,
        scrape(&[("source", "pp", "reviews", "unknown", 40)]),
    );
    agg.record(
        "rv",
        t1,
        scrape(&[("destination", "unknown", "reviews", "none", 40)]),
    );
    let t = agg.topology(Window::OneMinute, t1);
    assert_eq!(t.edges.len(), 1, "{:#?}", t.edges);
    assert_eq!((t.edges[0].requests, t.edges[0].mtls), (40, false));
    assert_eq!(t.nodes.len(), 2, "no `unknown` node: {:#?}", t.nodes);
}

#[test]
fn a_clients_retries_do_not_show_as_traffic_from_outside() {
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_secs(1);
    let mut agg = Aggregator::new();
    // pp sent 20 requests; 5 failed and were retried twice each: reviews saw 30 attempts.
    let client = |n, retries| {
        let text = format!(
            "istio_requests_total{{reporter=\"source\",source_workload=\"pp\",destination_workload=\"reviews\",destination_service=\"reviews.default.svc.cluster.local\",response_code=\"200\"}} {n}\n\
             envoy_cluster_upstream_rq_retry{{cluster_name=\"outbound|9080|v1|reviews.default.svc.cluster.local\"}} {retries}\n\
             envoy_cluster_upstream_rq_retry{{cluster_name=\"inbound|9080||\"}} 1000\n"
        );
        Scrape::from_samples(&parse(&text).expect("valid"))
    };
    let server = |n| scrape(&[("destination", "unknown", "reviews", "none", n)]);
    agg.record("pp", t0, client(0, 0));
    agg.record("reviews", t0, server(0));
    agg.record("pp", t1, client(20, 10));
    agg.record("reviews", t1, server(30));
    let t = agg.topology(Window::OneMinute, t1);
    assert_eq!(t.edges.len(), 1, "{:#?}", t.edges);
    assert_eq!(
        (t.edges[0].source.as_str(), t.edges[0].requests),
        ("pp", 20)
    );

    // Traffic beyond the requests and their retries still came from outside.
    let t2 = t1 + Duration::from_secs(1);
    agg.record("pp", t2, client(20, 10));
    agg.record("reviews", t2, server(37));
    let t = agg.topology(Window::OneMinute, t2);
    let ext = t
        .edges
        .iter()
        .find(|e| e.source == "unknown")
        .expect("outside");
    assert_eq!(ext.requests, 7);
}
