//! What operators look at: the JSON access log, `/config_dump`, health, the Prometheus text.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh_proxy::access_log::LogTarget;
use mesh_proxy::testing::{eventually, get_with, metric_sum, scrape, send, Backend};
use mesh_proxy::{Proxy, ProxyOptions};

const YAML: &str = r#"
version: "v-obs"
node: {workload: productpage-v1, app: productpage, version: v1}
listeners:
  - {name: out, address: "127.0.0.1:0", direction: outbound, routeConfig: out}
routes:
  - name: out
    virtualHosts:
      - name: reviews
        domains: [reviews]
        routes: [{name: all, route: [{cluster: reviews}]}]
clusters:
  - {name: reviews, service: reviews.default.svc.cluster.local, endpoints: [{address: "{be}", workload: reviews-v1, app: reviews, version: v1}]}
"#;

async fn start(be: &Backend, log: Option<LogTarget>) -> std::sync::Arc<Proxy> {
    start_to(be.addr, log).await
}

/// The proxy of [`YAML`] with its one endpoint at `be`.
async fn start_to(be: SocketAddr, log: Option<LogTarget>) -> std::sync::Arc<Proxy> {
    let text = mesh_proxy::testing::fill(YAML, &[("be", be.to_string())]);
    let snapshot =
        mesh_proxy::config::parse(std::path::Path::new("obs.yaml"), &text).expect("valid");
    let any = "127.0.0.1:0".parse().expect("addr");
    let opts = ProxyOptions {
        admin_addr: Some(any),
        health_addr: Some(any),
        access_log: log,
        ..Default::default()
    };
    Proxy::start(snapshot, opts).await.expect("start")
}

async fn admin_get(p: &Proxy, which: &str, path: &str) -> mesh_proxy::testing::Got {
    let req = Request::get(path)
        .header("host", "admin")
        .body(Full::new(Bytes::new()))
        .expect("req");
    send(p.admin_addr(which).expect("admin bound"), req)
        .await
        .expect("admin answers")
}

#[tokio::test]
async fn access_log_is_json_lines_with_envoy_keys() {
    let be = Backend::start("reviews").await;
    let dir = std::env::temp_dir().join(format!("mesh-proxy-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("access.log");
    let _ = std::fs::remove_file(&path);
    let p = start(&be, Some(LogTarget::File(path.clone()))).await;
    let out = p.listener_addr("out").expect("bound");
    let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let r = get_with(
        out,
        "http://reviews:9080/books?id=1",
        &[
            ("traceparent", tp),
            ("x-request-id", "rid-1"),
            ("user-agent", "t/1"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    let line = eventually(Duration::from_secs(5), "an access-log line", || async {
        std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_string))
    })
    .await;
    let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON object per line");
    assert_eq!(v["method"], "GET");
    assert_eq!(v["path"], "/books?id=1");
    assert_eq!(v["response_code"], 200);
    assert_eq!(v["response_flags"], "-");
    assert_eq!(v["upstream_cluster"], "reviews");
    assert_eq!(v["upstream_host"], be.addr.to_string());
    assert_eq!(v["authority"], "reviews:9080");
    assert_eq!(v["request_id"], "rid-1");
    assert_eq!(v["traceparent"], tp);
    assert_eq!(v["user_agent"], "t/1");
    assert_eq!(v["bytes_sent"], 7, "body 'reviews'");
    assert!(
        v["start_time"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z') && s.len() == 24),
        "{v}"
    );
    // The backend received the trace context unchanged.
    let seen = be.seen();
    assert_eq!(
        seen[0].headers.get("traceparent").map(|h| h.as_bytes()),
        Some(tp.as_bytes())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn access_log_carries_response_flags() {
    // An endpoint where nothing listens: requests routed to it fail to connect (UF).
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let dir = std::env::temp_dir().join(format!("mesh-proxy-flags-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("access.log");
    let _ = std::fs::remove_file(&path);
    let p = start_to(dead, Some(LogTarget::File(path.clone()))).await;
    let out = p.listener_addr("out").expect("bound");
    let uf = get_with(out, "http://reviews:9080/a", &[("x-request-id", "rid-uf")]).await;
    assert_eq!(uf.status, 503);
    let nr = get_with(
        out,
        "http://ratings:9080/b?c=d",
        &[("x-request-id", "rid-nr")],
    )
    .await;
    assert_eq!(nr.status, 404);
    let lines = eventually(Duration::from_secs(5), "two access-log lines", || async {
        let text = std::fs::read_to_string(&path).ok()?;
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        (lines.len() >= 2).then_some(lines)
    })
    .await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    let line = |id: &str| {
        lines
            .iter()
            .find(|v| v["request_id"] == id)
            .unwrap_or_else(|| panic!("a line for {id}: {lines:?}"))
    };

    let v = line("rid-uf");
    assert_eq!(v["response_flags"], "UF", "{v}");
    assert_eq!(v["response_code"], 503);
    assert_eq!(v["method"], "GET");
    assert_eq!(v["path"], "/a");
    assert_eq!(v["authority"], "reviews:9080");
    assert_eq!(v["route_name"], "all", "the route's own name: {v}");
    assert_eq!(v["upstream_cluster"], "reviews");
    assert_eq!(
        v["upstream_host"],
        dead.to_string(),
        "the endpoint it tried"
    );
    assert_eq!(v["bytes_sent"], uf.body.len(), "the local reply's body");

    let v = line("rid-nr");
    assert_eq!(v["response_flags"], "NR", "{v}");
    assert_eq!(v["response_code"], 404);
    assert_eq!(v["method"], "GET");
    assert_eq!(v["path"], "/b?c=d");
    assert_eq!(v["authority"], "ratings:9080");
    assert!(
        v["route_name"].is_null() && v["upstream_cluster"].is_null(),
        "no route, no cluster: {v}"
    );
    assert!(v["upstream_host"].is_null(), "{v}");
    // The same flags in the metrics.
    let text = scrape(&p).await;
    for (code, flags) in [("503", "UF"), ("404", "NR")] {
        assert_eq!(
            metric_sum(
                &text,
                "istio_requests_total",
                &[("response_code", code), ("response_flags", flags)]
            ),
            1.0,
            "{code} {flags}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn config_dump_and_health() {
    let be = Backend::start("reviews").await;
    let p = start(&be, None).await;
    let dump = admin_get(&p, "admin", "/config_dump").await;
    let v: serde_json::Value = serde_json::from_slice(&dump.body).expect("json");
    assert_eq!(v["version"], "v-obs");
    assert_eq!(v["snapshot"]["clusters"][0]["name"], "reviews");
    assert_eq!(
        v["bound_listeners"][0]["bound"],
        p.listener_addr("out").expect("bound").to_string()
    );
    assert!(v["last_rejected_config_error"].is_null());
    assert_eq!(admin_get(&p, "health", "/healthz/ready").await.status, 200);
    assert_eq!(
        admin_get(&p, "admin", "/logging").await.status,
        404,
        "no log control in-process"
    );
    assert_eq!(admin_get(&p, "admin", "/nope").await.status, 404);
    p.drain(Duration::from_secs(1)).await;
    assert_eq!(
        admin_get(&p, "health", "/healthz/ready").await.status,
        503,
        "not ready while draining"
    );
}

#[tokio::test]
async fn prometheus_text_is_well_formed() {
    let be = Backend::start("reviews").await;
    let p = start(&be, None).await;
    let out = p.listener_addr("out").expect("bound");
    let body = "x".repeat(1500);
    let req = Request::post("http://reviews/")
        .body(Full::new(Bytes::from(body)))
        .expect("req");
    send(out, req).await.expect("resp");
    let text = scrape(&p).await;
    // Every sample line is `name{labels} value` or `name value`, and every histogram's +Inf
    // bucket equals its count.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().expect("value");
        assert!(value.parse::<f64>().is_ok(), "bad sample line: {line}");
    }
    for h in [
        "istio_request_duration_milliseconds",
        "istio_request_bytes",
        "istio_response_bytes",
    ] {
        let inf = metric_sum(&text, &format!("{h}_bucket"), &[("le", "+Inf")]);
        let count = metric_sum(&text, &format!("{h}_count"), &[]);
        assert_eq!(inf, count, "{h}");
        assert_eq!(count, 1.0, "{h}");
    }
    assert_eq!(metric_sum(&text, "istio_request_bytes_sum", &[]), 1500.0);
    assert_eq!(
        metric_sum(&text, "istio_request_bytes_bucket", &[("le", "1000")]),
        0.0
    );
    assert_eq!(
        metric_sum(&text, "istio_request_bytes_bucket", &[("le", "10000")]),
        1.0
    );
}
