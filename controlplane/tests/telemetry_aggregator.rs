//! The aggregator and the API on synthetic scrapes: rates, counter resets, quantiles from
//! bucket deltas, windows, success rates, one count per edge across reporters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mesh_api::telemetry::Reporter;
use mesh_controlplane::telemetry::api::{Api, Section};
use mesh_controlplane::telemetry::model::Scrape;
use mesh_controlplane::telemetry::parse::parse;
use mesh_controlplane::telemetry::{Aggregator, Edge, Report, Window};

/// One `istio_requests_total` series and its duration histogram, as a proxy renders them.
struct Series<'a> {
    reporter: &'a str,
    src: &'a str,
    dst: &'a str,
    code: u16,
    security: &'a str,
    requests: u64,
    /// Non-cumulative counts per Istio bucket (0.5, 1, 5, 10, 25, ...), the rest in +Inf.
    per_bucket: &'a [u64],
}

const BOUNDS: [&str; 6] = ["0.5", "1", "5", "10", "25", "+Inf"];

impl Series<'_> {
    fn ok(reporter: &'static str, src: &'static str, dst: &'static str, requests: u64) -> Self {
        Series {
            reporter,
            src,
            dst,
            code: 200,
            security: "unknown",
            requests,
            per_bucket: &[],
        }
    }
}

fn text(series: &[Series<'_>]) -> String {
    let mut out = String::new();
    for s in series {
        let l = format!(
            "reporter=\"{}\",source_workload=\"{}\",source_workload_namespace=\"default\",source_app=\"{}\",source_version=\"v1\",destination_workload=\"{}\",destination_workload_namespace=\"default\",destination_app=\"{}\",destination_version=\"v1\",destination_service=\"{}.default.svc.cluster.local\",response_code=\"{}\",response_flags=\"-\",connection_security_policy=\"{}\"",
            s.reporter, s.src, s.src, s.dst, s.dst, s.dst, s.code, s.security
        );
        out.push_str(&format!("istio_requests_total{{{l}}} {}\n", s.requests));
        let mut cum = 0;
        for (i, b) in BOUNDS.iter().enumerate() {
            cum += s.per_bucket.get(i).copied().unwrap_or(0);
            let c = if *b == "+Inf" { s.requests } else { cum };
            out.push_str(&format!(
                "istio_request_duration_milliseconds_bucket{{{l},le=\"{b}\"}} {c}\n"
            ));
        }
        out.push_str(&format!(
            "istio_request_duration_milliseconds_count{{{l}}} {}\n",
            s.requests
        ));
        out.push_str(&format!(
            "istio_request_bytes_sum{{{l}}} {}\n",
            s.requests * 10
        ));
        out.push_str(&format!(
            "istio_response_bytes_sum{{{l}}} {}\n",
            s.requests * 100
        ));
    }
    out
}

fn scrape(series: &[Series<'_>]) -> Scrape {
    Scrape::from_samples(&parse(&text(series)).expect("valid exposition"))
}

fn secs(t0: Instant, s: u64) -> Instant {
    t0 + Duration::from_secs(s)
}

fn only_edge(agg: &Aggregator, w: Window, now: Instant) -> Edge {
    let t = agg.topology(w, now);
    assert_eq!(t.edges.len(), 1, "{:#?}", t.edges);
    t.edges[0].clone()
}

#[test]
fn first_scrape_is_a_baseline_then_deltas_make_rates() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new();
    agg.record(
        "a",
        t0,
        scrape(&[Series::ok("source", "pp", "reviews", 1000)]),
    );
    assert!(
        agg.topology(Window::TenSeconds, t0).edges.is_empty(),
        "old traffic of unknown age"
    );
    agg.record(
        "a",
        secs(t0, 1),
        scrape(&[Series::ok("source", "pp", "reviews", 1010)]),
    );
    agg.record(
        "a",
        secs(t0, 2),
        scrape(&[Series::ok("source", "pp", "reviews", 1030)]),
    );
    let e = only_edge(&agg, Window::TenSeconds, secs(t0, 2));
    assert_eq!(e.requests, 30);
    assert!(
        (e.rps - 15.0).abs() < 1e-9,
        "30 requests over 2 s: {}",
        e.rps
    );
    assert_eq!((e.request_bytes, e.response_bytes), (300, 3000));
    assert_eq!(
        (e.source.as_str(), e.destination.as_str()),
        ("pp", "reviews")
    );
    assert_eq!(e.source_id, "pp.default");
    assert_eq!(e.destination_service, "reviews.default.svc.cluster.local");
    assert_eq!(e.success_rate, Some(1.0));
}

#[test]
fn counter_reset_counts_the_new_value() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new();
    for (s, n) in [(0, 100), (1, 120), (2, 5), (3, 9)] {
        agg.record(
            "a",
            secs(t0, s),
            scrape(&[Series::ok("source", "pp", "reviews", n)]),
        );
    }
    let e = only_edge(&agg, Window::OneMinute, secs(t0, 3));
    assert_eq!(
        e.requests,
        20 + 5 + 4,
        "the restart's 5 count, nothing goes negative"
    );
}

#[test]
fn quantiles_interpolate_inside_buckets() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new();
    let s = |n, per: &'static [u64]| Series {
        per_bucket: per,
        ..Series::ok("source", "pp", "reviews", n)
    };
    // Baseline 10 requests in le=0.5, then 100 more: 10 in (0.5,1], 80 in (1,5], 10 in (5,10].
    agg.record("a", t0, scrape(&[s(10, &[10])]));
    agg.record("a", secs(t0, 1), scrape(&[s(110, &[10, 10, 80, 10])]));
    let e = only_edge(&agg, Window::TenSeconds, secs(t0, 1));
    assert_eq!(e.requests, 100);
    let close = |got: Option<f64>, want: f64| {
        let got = got.expect("a quantile");
        assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
    };
    close(e.p50_ms, 1.0 + 4.0 * (50.0 - 10.0) / 80.0);
    close(e.p95_ms, 5.0 + 5.0 * (95.0 - 90.0) / 10.0);
    close(e.p99_ms, 5.0 + 5.0 * (99.0 - 90.0) / 10.0);
}

#[test]
fn success_rate_is_the_non_5xx_share() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new();
    let round = |ok, bad, notfound| {
        scrape(&[
            Series::ok("source", "pp", "reviews", ok),
            Series {
                code: 503,
                ..Series::ok("source", "pp", "reviews", bad)
            },
            Series {
                code: 404,
                ..Series::ok("source", "pp", "reviews", notfound)
            },
        ])
    };
    agg.record("a", t0, round(0, 0, 0));
    agg.record("a", secs(t0, 1), round(170, 20, 10));
    let e = only_edge(&agg, Window::TenSeconds, secs(t0, 1));
    assert_eq!((e.requests, e.errors), (200, 20));
    assert_eq!(
        e.success_rate,
        Some(0.9),
        "404 is the client's problem, not an error"
    );
}

#[test]
fn windows_keep_what_they_span() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new();
    agg.record("a", t0, scrape(&[Series::ok("source", "pp", "reviews", 0)]));
    agg.record(
        "a",
        secs(t0, 1),
        scrape(&[Series::ok("source", "pp", "reviews", 50)]),
    );
    for s in 2..=120 {
        let n = if s >= 115 { 50 + 6 * (s - 114) } else { 50 };
        agg.record(
            "a",
            secs(t0, s),
            scrape(&[Series::ok("source", "pp", "reviews", n)]),
        );
    }
    let now = secs(t0, 120);
    assert_eq!(only_edge(&agg, Window::TenSeconds, now).requests, 36);
    assert_eq!(only_edge(&agg, Window::OneMinute, now).requests, 36);
    let all = only_edge(&agg, Window::TenMinutes, now);
    assert_eq!(all.requests, 86);
    assert!((all.rps - 86.0 / 120.0).abs() < 1e-9, "{}", all.rps);
    // Ten more minutes of silence: everything ages out.
    agg.record(
        "a",
        secs(t0, 800),
        scrape(&[Series::ok("source", "pp", "reviews", 86)]),
    );
    assert!(agg
        .topology(Window::TenMinutes, secs(t0, 800))
        .edges
        .is_empty());
}

#[test]
fn a_window_shorter_than_the_scrape_interval_answers_the_latest_rate() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new();
    agg.record("a", t0, scrape(&[Series::ok("source", "pp", "reviews", 0)]));
    agg.record(
        "a",
        secs(t0, 30),
        scrape(&[Series::ok("source", "pp", "reviews", 60)]),
    );
    let e = only_edge(&agg, Window::TenSeconds, secs(t0, 45));
    assert!((e.rps - 2.0).abs() < 1e-9, "{}", e.rps);
    assert!(
        agg.topology(Window::TenSeconds, secs(t0, 95))
            .edges
            .is_empty(),
        "stale"
    );
}

#[test]
fn an_edge_counts_once_and_mtls_comes_from_either_side() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new();
    let client = |n| scrape(&[Series::ok("source", "pp", "reviews", n)]);
    let server = |n| {
        scrape(&[
            Series {
                security: "mutual_tls",
                ..Series::ok("destination", "pp", "reviews", n)
            },
            // Inbound-only: from outside the mesh, only the server's proxy saw it.
            Series::ok("destination", "unknown", "reviews", n / 5),
        ])
    };
    agg.record("pp", t0, client(0));
    agg.record("reviews", t0, server(0));
    agg.record("pp", secs(t0, 1), client(50));
    agg.record("reviews", secs(t0, 1), server(50));
    let t = agg.topology(Window::TenSeconds, secs(t0, 1));
    assert_eq!(t.edges.len(), 2, "{:#?}", t.edges);
    let e = t
        .edges
        .iter()
        .find(|e| e.source == "pp")
        .expect("pp -> reviews");
    assert_eq!(
        (e.requests, e.reporter, e.mtls),
        (50, Reporter::Source, true)
    );
    let ext = t
        .edges
        .iter()
        .find(|e| e.source == "unknown")
        .expect("ingress");
    assert_eq!(
        (ext.requests, ext.reporter, ext.mtls),
        (10, Reporter::Destination, false)
    );
    let ids: Vec<&str> = t.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["pp.default", "reviews.default", "unknown.default"]);
    assert_eq!(t.nodes[1].services, ["reviews.default.svc.cluster.local"]);
    assert!(t.nodes[0].services.is_empty());
}

#[test]
fn a_failing_target_is_down_and_keeps_its_data() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new();
    agg.record("a", t0, scrape(&[Series::ok("source", "pp", "reviews", 0)]));
    agg.record(
        "a",
        secs(t0, 1),
        scrape(&[Series::ok("source", "pp", "reviews", 7)]),
    );
    agg.record_failure("a", "connection refused".into());
    let st = agg.targets(secs(t0, 2));
    assert!(!st[0].up);
    assert_eq!(st[0].error.as_deref(), Some("connection refused"));
    assert_eq!(only_edge(&agg, Window::OneMinute, secs(t0, 2)).requests, 7);
}

struct Proxies;

impl Section for Proxies {
    fn name(&self) -> &str {
        "proxies"
    }
    fn json(&self) -> serde_json::Value {
        serde_json::json!([{"id": "pp", "sync": "SYNCED"}])
    }
}

fn get(api: &Api, uri: &str) -> (u16, serde_json::Value) {
    let req = http::Request::get(uri).body(()).expect("request");
    let resp = api.handle(&req);
    let status = resp.status().as_u16();
    let body = futures_body(resp);
    (status, serde_json::from_slice(&body).expect("json"))
}

fn futures_body(resp: mesh_controlplane::telemetry::api::ApiResponse) -> Vec<u8> {
    use http_body_util::BodyExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    rt.block_on(resp.into_body().collect())
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default()
}

#[test]
fn api_answers_documented_fields() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new();
    agg.record("a", t0, scrape(&[Series::ok("source", "pp", "reviews", 0)]));
    agg.record(
        "a",
        secs(t0, 1),
        scrape(&[Series::ok("source", "pp", "reviews", 4)]),
    );
    let now = secs(t0, 1);
    let report = Report {
        at: now,
        topologies: Window::ALL
            .into_iter()
            .map(|w| (w, agg.topology(w, now)))
            .collect(),
        targets: agg.targets(now),
    };
    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(report));
    let api = Api::new(rx).with_section(Arc::new(Proxies));

    let (status, body) = get(&api, "/api/v1/topology?window=10s");
    assert_eq!(status, 200);
    assert_eq!(body["window"], "10s");
    let e = &body["edges"][0];
    for field in [
        "source",
        "destination",
        "rps",
        "success_rate",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "request_bytes",
        "response_bytes",
        "mtls",
        "requests",
    ] {
        assert!(e.get(field).is_some(), "edge lacks {field}: {e}");
    }
    assert_eq!(e["requests"], 4);
    assert_eq!(body["nodes"][0]["id"], "pp.default");

    let (_, edges) = get(&api, "/api/v1/edges?window=1m&source=nobody");
    assert_eq!(edges["edges"].as_array().map(Vec::len), Some(0));
    let (_, edges) = get(&api, "/api/v1/edges?source=pp&destination=reviews");
    assert_eq!(edges["edges"].as_array().map(Vec::len), Some(1));
    let (_, mesh) = get(&api, "/api/v1/mesh?window=10m");
    assert_eq!(mesh["proxies"][0]["sync"], "SYNCED");
    assert_eq!(mesh["targets"][0]["up"], true);
    assert_eq!(mesh["edges"][0]["requests"], 4);
    assert_eq!(get(&api, "/api/v1/topology?window=5h").0, 400);
    assert_eq!(get(&api, "/nope").0, 404);
}
