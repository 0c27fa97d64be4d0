//! Target lifecycle in the aggregator: proxies that leave the target list, come back, or run
//! for longer than the fine-grained part of the history.

use std::time::{Duration, Instant};

use mesh_controlplane::telemetry::model::Scrape;
use mesh_controlplane::telemetry::parse::parse;
use mesh_controlplane::telemetry::{Aggregator, Window};

fn requests(n: u64) -> Scrape {
    let text = format!(
        "istio_requests_total{{reporter=\"source\",source_workload=\"pp\",destination_workload=\"reviews\",response_code=\"200\"}} {n}\n"
    );
    Scrape::from_samples(&parse(&text).expect("valid"))
}

fn at(t0: Instant, s: u64) -> Instant {
    t0 + Duration::from_secs(s)
}

fn total(agg: &Aggregator, w: Window, now: Instant) -> u64 {
    agg.topology(w, now).edges.iter().map(|e| e.requests).sum()
}

#[test]
fn an_unlisted_target_keeps_counting_and_resumes_without_a_new_baseline() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new();
    agg.record("pp", t0, requests(0));
    agg.record("pp", at(t0, 1), requests(10));
    agg.retain(&[], at(t0, 2));
    assert!(agg.targets(at(t0, 2)).is_empty(), "not listed any more");
    assert_eq!(
        total(&agg, Window::OneMinute, at(t0, 2)),
        10,
        "its traffic happened"
    );
    // It reconnects: the next scrape is a delta from the last one, not a baseline.
    agg.retain(&["pp"], at(t0, 3));
    agg.record("pp", at(t0, 3), requests(15));
    assert_eq!(total(&agg, Window::OneMinute, at(t0, 3)), 15);
    assert_eq!(agg.targets(at(t0, 3)).len(), 1);
    // Gone for longer than the longest window: forgotten.
    agg.retain(&[], at(t0, 700));
    agg.retain(&["pp"], at(t0, 701));
    agg.record("pp", at(t0, 701), requests(20));
    assert_eq!(
        total(&agg, Window::TenMinutes, at(t0, 701)),
        0,
        "a fresh baseline"
    );
}

#[test]
fn ten_minutes_of_one_second_scrapes_sum_exactly() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new();
    for s in 0..=599 {
        agg.record("pp", at(t0, s), requests(3 * s));
    }
    let now = at(t0, 599);
    assert_eq!(total(&agg, Window::TenMinutes, now), 3 * 599);
    assert_eq!(
        total(&agg, Window::OneMinute, now),
        3 * 60,
        "the minute stays exact"
    );
    assert_eq!(total(&agg, Window::TenSeconds, now), 3 * 10);
    let e = &agg.topology(Window::TenMinutes, now).edges[0];
    assert!((e.rps - 3.0).abs() < 1e-9, "{}", e.rps);
}

/// A scrape answered at `unix_s` by a proxy whose certificate had `left` seconds to live.
fn with_certificate(unix_s: f64, left: Option<f64>) -> Scrape {
    let text = match left {
        Some(l) => format!("istio_agent_cert_expiry_seconds{{resource_name=\"default\"}} {l}\n"),
        None => "process_resident_memory_bytes 4096\n".to_string(),
    };
    let mut s = Scrape::from_samples(&parse(&text).expect("valid"));
    s.scraped_at_unix_s = Some(unix_s);
    s
}

#[test]
fn certificate_expiry_is_the_scrape_time_plus_what_was_left_and_follows_rotations() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new();
    agg.record("pp", t0, with_certificate(1_700_000_000.3, Some(3599.9)));
    let st = &agg.targets(at(t0, 1))[0];
    assert_eq!(
        st.cert_not_after,
        Some(1_700_003_600),
        "rounded Unix seconds"
    );
    let json = serde_json::to_value(st).expect("json");
    assert_eq!(json["cert_not_after"], 1_700_003_600u64);

    // Rotated: the next scrape reports the new certificate's lifetime.
    agg.record(
        "pp",
        at(t0, 1),
        with_certificate(1_700_000_001.0, Some(7199.0)),
    );
    assert_eq!(
        agg.targets(at(t0, 2))[0].cert_not_after,
        Some(1_700_007_200)
    );

    // Plain text (or a scrape without its time): unknown, `null` in the API.
    agg.record("pp", at(t0, 2), with_certificate(1_700_000_002.0, None));
    let st = &agg.targets(at(t0, 3))[0];
    assert_eq!(st.cert_not_after, None);
    assert!(serde_json::to_value(st).expect("json")["cert_not_after"].is_null());
    let mut untimed = with_certificate(0.0, Some(10.0));
    untimed.scraped_at_unix_s = None;
    agg.record("pp", at(t0, 3), untimed);
    assert_eq!(agg.targets(at(t0, 4))[0].cert_not_after, None);
}

/// A scrape of a proxy whose outlier detection ejected `n` endpoints of reviews v2.
fn with_ejections(n: Option<u64>) -> Scrape {
    let text = match n {
        Some(n) => format!(
            "envoy_cluster_outlier_detection_ejections_enforced_total{{cluster_name=\"outbound|9080|v2|reviews.default.svc.cluster.local\"}} {n}\n"
        ),
        None => "process_resident_memory_bytes 4096\n".to_string(),
    };
    Scrape::from_samples(&parse(&text).expect("valid"))
}

#[test]
fn outlier_ejections_are_the_last_scrapes_counters_per_cluster() {
    const REVIEWS_V2: &str = "outbound|9080|v2|reviews.default.svc.cluster.local";
    let t0 = Instant::now();
    let mut agg = Aggregator::new();
    agg.record("pp", t0, with_ejections(None));
    let json = serde_json::to_value(&agg.targets(at(t0, 1))[0]).expect("json");
    assert_eq!(json["outlier_ejections"], serde_json::json!({}), "{json}");

    // The baseline's counts are reported too: totals since the proxy started, not deltas.
    agg.record("pp", at(t0, 1), with_ejections(Some(2)));
    agg.record("pp", at(t0, 2), with_ejections(Some(3)));
    let st = &agg.targets(at(t0, 3))[0];
    assert_eq!(st.outlier_ejections.get(REVIEWS_V2), Some(&3));
    let json = serde_json::to_value(st).expect("json");
    assert_eq!(
        json["outlier_ejections"],
        serde_json::json!({ REVIEWS_V2: 3 }),
        "{json}"
    );

    // A failed scrape keeps the last counts; a restarted proxy reports its new ones.
    agg.record_failure("pp", "refused".into());
    assert_eq!(
        agg.targets(at(t0, 4))[0].outlier_ejections.get(REVIEWS_V2),
        Some(&3)
    );
    agg.record("pp", at(t0, 5), with_ejections(Some(1)));
    assert_eq!(
        agg.targets(at(t0, 6))[0].outlier_ejections.get(REVIEWS_V2),
        Some(&1)
    );
}
