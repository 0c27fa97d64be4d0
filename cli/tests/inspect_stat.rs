//! `meshctl stat` against a real install: requests sent through one sidecar to another
//! workload show in the traffic table with their exact count, errors and success rate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh_proxy::testing::{eventually, send};
use serde_json::Value;
use support::workloads::{meshctl, monitoring_json, wait_synced, workload};
use support::{Mesh, WAIT};

/// `GET http://reviews:9080{path}` through `outbound`; the status.
async fn reviews(outbound: std::net::SocketAddr, path: &str) -> u16 {
    let req = Request::get(format!("http://reviews:9080{path}"))
        .header("host", "reviews:9080")
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(outbound, req).await.unwrap().status.as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stat_shows_the_traffic_sent_with_exact_counts() {
    const OK: u64 = 37;
    const FAILED: u64 = 5;
    let mesh = Mesh::new();
    tokio::task::block_in_place(|| mesh.install("minimal", &[])).expect_code(0);

    let empty = meshctl(&mesh, &["stat"]);
    empty.expect_code(0);
    assert!(empty.stderr.contains("No workloads"), "{}", empty.all());

    let pp = workload(&mesh, "productpage", "v1").await;
    let rv = workload(&mesh, "reviews", "v1").await;
    wait_synced(&mesh, &[pp.id(), rv.id()]).await;
    // Traffic before a proxy's first scrape would be its baseline, not traffic.
    for id in [pp.id(), rv.id()] {
        eventually(WAIT, &format!("{id} scraped"), || async {
            let t = monitoring_json(&mesh, "/api/v1/targets")?;
            t["targets"]
                .as_array()?
                .iter()
                .any(|t| t["id"] == id.as_str() && t["up"] == true)
                .then_some(())
        })
        .await;
    }

    for _ in 0..OK {
        assert_eq!(reviews(pp.outbound(), "/").await, 200);
    }
    for _ in 0..FAILED {
        assert_eq!(reviews(pp.outbound(), "/status/503").await, 503);
    }

    let rows = eventually(WAIT, "the requests in meshctl stat", || async {
        let run = meshctl(&mesh, &["stat", "-o", "json"]);
        let rows: Value = serde_json::from_str(&run.stdout).ok()?;
        let r = rows
            .as_array()?
            .iter()
            .find(|r| r["name"] == "reviews-v1")?;
        (r["requests"].as_u64()? >= OK + FAILED).then_some(rows)
    })
    .await;
    let rows = rows.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["productpage-v1", "reviews-v1"]);
    let r = &rows[1];
    assert_eq!(r["requests"], OK + FAILED, "{r}");
    assert_eq!(r["errors"], FAILED, "{r}");
    let rate = r["successRate"].as_f64().unwrap();
    assert!(
        (rate - OK as f64 / (OK + FAILED) as f64).abs() < 1e-9,
        "{r}"
    );
    assert_eq!(
        (r["meshed"].as_u64(), r["proxies"].as_u64()),
        (Some(1), Some(1))
    );
    let (p50, p99) = (
        r["latencyP50Ms"].as_f64().unwrap(),
        r["latencyP99Ms"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p50 <= p99, "{r}");
    assert!(r["rps"].as_f64().unwrap() > 0.0, "{r}");
    // productpage received nothing: its row has no traffic.
    assert_eq!(rows[0]["requests"], 0);
    assert_eq!(rows[0]["successRate"], Value::Null);

    let table = meshctl(&mesh, &["stat"]);
    table.expect_code(0);
    let lines: Vec<Vec<&str>> = table
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "NAME",
            "MESHED",
            "SUCCESS",
            "RPS",
            "LATENCY_P50",
            "LATENCY_P95",
            "LATENCY_P99",
            "TCP_CONN"
        ]
    );
    assert_eq!(
        lines[1][..3],
        ["productpage-v1", "1/1", "-"],
        "{}",
        table.stdout
    );
    assert_eq!(
        lines[2][..3],
        ["reviews-v1", "1/1", "88.10%"],
        "{}",
        table.stdout
    );
    assert!(lines[2][3].ends_with("rps") && lines[2][4].ends_with("ms"));

    // Other windows are accepted; unknown ones are a usage error.
    meshctl(&mesh, &["stat", "--window", "10m"]).expect_code(0);
    let bad = meshctl(&mesh, &["stat", "--window", "2h"]);
    bad.expect_code(2);
    assert!(bad.stderr.contains("10s, 1m, 10m"), "{}", bad.stderr);
}
