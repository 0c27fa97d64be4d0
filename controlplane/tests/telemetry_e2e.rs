//! In-process end to end: two real proxies (productpage's outbound sidecar -> reviews'
//! inbound sidecar -> backend), the real scraper on their admin ports, the API's answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use mesh_controlplane::telemetry::api::Api;
use mesh_controlplane::telemetry::{Scraper, ScraperConfig, Target};
use mesh_proxy::testing::{eventually, get, start_proxy, Backend};
use mesh_proxy::Proxy;
use serde_json::Value;

const CLIENT: &str = r#"
node: {workload: productpage-v1, namespace: default, app: productpage, version: v1}
listeners:
  - {name: out, address: "127.0.0.1:0", direction: outbound, routeConfig: out}
routes:
  - name: out
    virtualHosts: [{name: reviews, domains: ["*"], routes: [{route: [{cluster: reviews}]}]}]
clusters:
  - name: reviews
    service: reviews.default.svc.cluster.local
    endpoints: [{address: "{up}", workload: reviews-v1, namespace: default, app: reviews, version: v1}]
"#;

const SERVER: &str = r#"
node: {workload: reviews-v1, namespace: default, app: reviews, version: v1, service: reviews.default.svc.cluster.local}
listeners:
  - {name: in, address: "127.0.0.1:0", direction: inbound, routeConfig: in}
routes:
  - name: in
    virtualHosts: [{name: app, domains: ["*"], routes: [{route: [{cluster: app}]}]}]
clusters:
  # As translate/inbound.rs builds it: the local app carries the node's own labels.
  - name: app
    service: reviews.default.svc.cluster.local
    endpoints: [{address: "{up}", workload: reviews-v1, namespace: default, app: reviews, version: v1}]
"#;

fn target(id: &str, p: &Proxy) -> Target {
    let admin = p.admin_addr("admin").expect("admin server");
    Target {
        id: id.into(),
        url: format!("http://{admin}/stats/prometheus"),
    }
}

async fn edge(api: &Api, window: &str) -> Option<Value> {
    let req = http::Request::get(format!("/api/v1/topology?window={window}"))
        .body(())
        .ok()?;
    let body = api
        .handle(&req)
        .into_body()
        .collect()
        .await
        .ok()?
        .to_bytes();
    let topo: Value = serde_json::from_slice(&body).ok()?;
    topo["edges"]
        .as_array()?
        .iter()
        .find(|e| e["source"] == "productpage-v1" && e["destination"] == "reviews-v1")
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraped_proxies_show_exact_edges() {
    let be = Backend::start("reviews").await;
    let server = start_proxy(SERVER, &[("up", be.addr.to_string())]).await;
    let inbound = server.listener_addr("in").expect("inbound bound");
    let client = start_proxy(CLIENT, &[("up", inbound.to_string())]).await;
    let out = client.listener_addr("out").expect("outbound bound");

    let dead = Target {
        id: "gone".into(),
        url: "http://127.0.0.1:1/stats/prometheus".into(),
    };
    let (_targets_tx, targets) = tokio::sync::watch::channel(vec![
        target("productpage", &client),
        target("reviews", &server),
        dead,
    ]);
    let scraper = Scraper::spawn(targets, ScraperConfig::default());
    let api = Api::new(scraper.reports.clone());
    // Both proxies have a baseline before traffic starts.
    let mut reports = scraper.reports.clone();
    eventually(
        Duration::from_secs(5),
        "first scrape of both proxies",
        || {
            let ready = reports
                .borrow_and_update()
                .targets
                .iter()
                .filter(|t| t.up)
                .count()
                == 2;
            async move { ready.then_some(()) }
        },
    )
    .await;

    let started = Instant::now();
    assert_eq!(get(out, "http://reviews/first").await.status, 200);
    eventually(Duration::from_secs(2), "traffic shows within 2 s", || {
        edge(&api, "10s")
    })
    .await;
    let shown_after = started.elapsed();

    let (total, failing) = (200u64, 20u64);
    for i in 1..total {
        let path = if i % 10 == 9 { "/status/503" } else { "/ok" };
        get(out, &format!("http://reviews{path}")).await;
    }
    let want_rate = (total - failing) as f64 / total as f64;
    let e = eventually(
        Duration::from_secs(5),
        "exact counts in the 1m window",
        || async {
            edge(&api, "1m")
                .await
                .filter(|e| e["requests"] == total && e["errors"] == failing)
        },
    )
    .await;
    assert_eq!(e["success_rate"].as_f64(), Some(want_rate), "{e}");
    assert_eq!(e["reporter"], "source", "{e}");
    assert_eq!(
        e["destination_service"],
        "reviews.default.svc.cluster.local"
    );
    assert_eq!(e["mtls"], false, "plaintext between the sidecars");
    let (p50, p99) = (e["p50_ms"].as_f64(), e["p99_ms"].as_f64());
    assert!(p50.is_some_and(|p| p > 0.0), "{e}");
    assert!(p99 >= p50 && p99.is_some_and(|p| p < 1000.0), "{e}");
    assert!(e["rps"].as_f64().is_some_and(|r| r > 0.0), "{e}");
    assert_eq!(
        e["response_bytes"],
        200 * "reviews".len(),
        "the backend answers its name"
    );

    // The server's proxy saw the same requests from `unknown`: not a second edge.
    let report = scraper.reports.borrow().clone();
    let topo = &report.topologies[&mesh_controlplane::telemetry::Window::OneMinute];
    assert_eq!(topo.edges.len(), 1, "{:#?}", topo.edges);
    let gone = report
        .targets
        .iter()
        .find(|t| t.id == "gone")
        .expect("gone");
    assert!(!gone.up && gone.error.is_some(), "{gone:?}");
    assert_eq!(be.hits(), total);
    let _keep: [Arc<Proxy>; 2] = [client, server];
    eprintln!("first request visible after {shown_after:?}");
}
