//! Resilience over real sockets: timeouts, retries (and their response flags), fault
//! injection, mirroring, circuit breaking, outlier detection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mesh_proxy::testing::{eventually, get, metric_sum, scrape, start_proxy, Backend};
use mesh_proxy::Proxy;
use tokio::net::TcpListener;

/// A server that accepts connections and never answers: a hung upstream.
async fn black_hole() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (addr, task)
}

/// An address where nothing listens.
async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr")
}

/// One service `svc` whose route and cluster settings the test writes.
async fn proxy(
    route_extra: &str,
    cluster_extra: &str,
    endpoints: &[SocketAddr],
) -> (Arc<Proxy>, SocketAddr) {
    let eps: Vec<String> = endpoints
        .iter()
        .map(|a| format!("{{address: \"{a}\"}}"))
        .collect();
    let yaml = format!(
        r#"
listeners:
  - {{name: out, address: "127.0.0.1:0", direction: outbound, routeConfig: out}}
routes:
  - name: out
    virtualHosts:
      - name: svc
        domains: ["*"]
        routes:
          - route: [{{cluster: c}}]
{route}
clusters:
  - name: c
    service: svc.default.svc.cluster.local
    endpoints: [{eps}]
{cluster}
  - name: mirror
    endpoints: [{{address: "{{mirror}}"}}]
"#,
        route = indent(route_extra, 12),
        cluster = indent(cluster_extra, 4),
        eps = eps.join(", "),
    );
    let mirror = std::env::var("UNUSED").unwrap_or_else(|_| "127.0.0.1:9".into());
    let p = start_proxy(&yaml, &[("mirror", mirror)]).await;
    let out = p.listener_addr("out").expect("bound");
    (p, out)
}

fn indent(s: &str, n: usize) -> String {
    s.lines()
        .map(|l| format!("{}{}\n", " ".repeat(n), l.trim_start()))
        .collect()
}

async fn flags_count(p: &Proxy, code: &str, flags: &str) -> f64 {
    metric_sum(
        &scrape(p).await,
        "istio_requests_total",
        &[("response_code", code), ("response_flags", flags)],
    )
}

#[tokio::test]
async fn route_timeout_answers_504_ut() {
    let b = Backend::start("slow").await;
    let (p, out) = proxy("timeout: 200ms", "", &[b.addr]).await;
    let t = Instant::now();
    let r = get(out, "http://svc/delay/3000").await;
    assert_eq!(r.status, 504);
    assert_eq!(r.text(), "upstream request timeout");
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "answered at the timeout, not after the backend"
    );
    assert_eq!(flags_count(&p, "504", "UT").await, 1.0);
}

#[tokio::test]
async fn retries_recover_from_5xx_and_count() {
    let b = Backend::start("flaky").await;
    let (p, out) = proxy("retries: {attempts: 3, retryOn: 5xx}", "", &[b.addr]).await;
    let r = get(out, "http://svc/fail-first/2/a").await;
    assert_eq!(r.status, 200, "third try succeeds");
    assert_eq!(b.hits(), 3);
    let text = scrape(&p).await;
    assert_eq!(
        metric_sum(&text, "envoy_cluster_upstream_rq_retry", &[]),
        2.0
    );
}

#[tokio::test]
async fn exhausted_retries_pass_the_error_with_urx() {
    let b = Backend::start("flaky").await;
    let (p, out) = proxy(
        "retries: {attempts: 1, retryOn: \"gateway-error\"}",
        "",
        &[b.addr],
    )
    .await;
    let r = get(out, "http://svc/fail-first/5/b").await;
    assert_eq!(r.status, 503);
    assert_eq!(b.hits(), 2, "one try plus one retry");
    assert_eq!(flags_count(&p, "503", "URX").await, 1.0);
    // 500 is not a gateway error: no retry.
    let r = get(out, "http://svc/status/500").await;
    assert_eq!(r.status, 500);
    assert_eq!(b.hits(), 3);
}

#[tokio::test]
async fn per_try_timeout_retries_then_gives_up() {
    let b = Backend::start("slow").await;
    let (p, out) = proxy(
        "timeout: 5s\nretries: {attempts: 2, perTryTimeout: 100ms, retryOn: 5xx}",
        "",
        &[b.addr],
    )
    .await;
    let t = Instant::now();
    let r = get(out, "http://svc/delay/2000").await;
    assert_eq!(r.status, 504);
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "3 tries of 100 ms, not the backend's 2 s"
    );
    eventually(
        Duration::from_secs(2),
        "three tries reach the backend",
        || async { (b.hits() == 3).then_some(()) },
    )
    .await;
    assert_eq!(flags_count(&p, "504", "URX,UT").await, 1.0);
}

#[tokio::test]
async fn connect_failures_are_uf_and_retried_elsewhere() {
    let live = Backend::start("live").await;
    let dead = closed_port().await;
    let (p, out) = proxy(
        "",
        "    loadBalancer: {simple: ROUND_ROBIN}",
        &[dead, live.addr],
    )
    .await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(get(out, "http://svc/").await.status.as_u16());
    }
    codes.sort_unstable();
    assert_eq!(
        codes,
        [200, 200, 503, 503],
        "round robin without retries hits the dead endpoint"
    );
    assert_eq!(flags_count(&p, "503", "UF").await, 2.0);

    let (_p, out) = proxy(
        "retries: {attempts: 2, retryOn: connect-failure}",
        "    loadBalancer: {simple: ROUND_ROBIN}",
        &[dead, live.addr],
    )
    .await;
    for _ in 0..6 {
        assert_eq!(
            get(out, "http://svc/").await.status,
            200,
            "connect failures retried on the live endpoint"
        );
    }
}

#[tokio::test]
async fn fault_delay_and_abort() {
    let b = Backend::start("b").await;
    let (p, out) = proxy(
        "fault: {delay: {fixedDelay: 300ms, percentage: 100}}",
        "",
        &[b.addr],
    )
    .await;
    let t = Instant::now();
    assert_eq!(get(out, "http://svc/").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(flags_count(&p, "200", "DI").await, 1.0);

    let (p, out) = proxy(
        "fault: {abort: {httpStatus: 503, percentage: 50}}",
        "",
        &[b.addr],
    )
    .await;
    let before = b.hits();
    let n = 400;
    let mut aborted = 0;
    for _ in 0..n {
        let r = get(out, "http://svc/").await;
        if r.status == 503 {
            assert_eq!(r.text(), "fault filter abort");
            aborted += 1;
        }
    }
    // Binomial(400, 0.5): sd = 10; 150..=250 is 5 sd.
    assert!((150..=250).contains(&aborted), "aborted {aborted} of {n}");
    assert_eq!(
        b.hits() - before,
        n - aborted,
        "aborted requests never reach the backend"
    );
    assert_eq!(flags_count(&p, "503", "FI").await, aborted as f64);
}

#[tokio::test]
async fn mirror_copies_without_slowing_the_request() {
    let main = Backend::start("main").await;
    let shadow = Backend::start("shadow").await;
    let yaml = r#"
listeners:
  - {name: out, address: "127.0.0.1:0", direction: outbound, routeConfig: out}
routes:
  - name: out
    virtualHosts:
      - name: svc
        domains: ["*"]
        routes:
          - route: [{cluster: main}]
            mirror: {cluster: {mirror}}
clusters:
  - {name: main, endpoints: [{address: "{main}"}]}
  - {name: shadow, endpoints: [{address: "{shadow}"}]}
  - {name: hole, endpoints: [{address: "{hole}"}]}
"#;
    let (hole, _hole_task) = black_hole().await;
    let vars = |m: &str| {
        [
            ("mirror", m.to_string()),
            ("main", main.addr.to_string()),
            ("shadow", shadow.addr.to_string()),
            ("hole", hole.to_string()),
        ]
    };
    let p = start_proxy(yaml, &vars("shadow")).await;
    let out = p.listener_addr("out").expect("bound");
    let r = get(out, "http://reviews:9080/x").await;
    assert_eq!(r.backend(), Some("main"));
    let seen = eventually(Duration::from_secs(5), "the mirror gets a copy", || async {
        shadow.seen().first().cloned()
    })
    .await;
    assert_eq!(seen.uri, "/x");
    assert_eq!(
        seen.headers.get("host").map(|h| h.as_bytes()),
        Some(&b"reviews-shadow:9080"[..])
    );

    // A mirror that never answers must not slow the main requests.
    let p = start_proxy(yaml, &vars("hole")).await;
    let out = p.listener_addr("out").expect("bound");
    let t = Instant::now();
    for _ in 0..10 {
        assert_eq!(get(out, "http://svc/").await.status, 200);
    }
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "10 requests took {:?} with a hung mirror",
        t.elapsed()
    );
}

#[tokio::test]
async fn connection_pool_limits_overflow_with_503_uo() {
    let b = Backend::start("b").await;
    let (p, out) = proxy(
        "",
        "    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}",
        &[b.addr],
    )
    .await;
    let t = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(async move {
                (
                    get(out, "http://svc/delay/700").await.status.as_u16(),
                    Instant::now(),
                )
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    let ok = results.iter().filter(|(c, _)| *c == 200).count();
    let overflow: Vec<_> = results.iter().filter(|(c, _)| *c == 503).collect();
    assert_eq!(
        (ok, overflow.len()),
        (2, 2),
        "one in flight, one pending, two refused: {results:?}"
    );
    assert!(
        overflow
            .iter()
            .all(|(_, at)| at.duration_since(t) < Duration::from_millis(600)),
        "refused at once"
    );
    assert_eq!(flags_count(&p, "503", "UO").await, 2.0);

    let (_p, out) = proxy(
        "",
        "    connectionPool: {http: {http2MaxRequests: 1}}",
        &[b.addr],
    )
    .await;
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(async move { get(out, "http://svc/delay/500").await.status.as_u16() })
        })
        .collect();
    let mut codes = Vec::new();
    for task in tasks {
        codes.push(task.await.expect("task"));
    }
    codes.sort_unstable();
    assert_eq!(codes, [200, 503, 503]);
}

#[tokio::test]
async fn max_requests_per_connection_recycles_connections() {
    let b = Backend::start("b").await;
    let (_p, out) = proxy("", "", &[b.addr]).await;
    for _ in 0..5 {
        get(out, "http://svc/").await;
    }
    assert_eq!(
        b.conns.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "keep-alive reuses one connection"
    );
    let b = Backend::start("b").await;
    let (_p, out) = proxy(
        "",
        "    connectionPool: {http: {maxRequestsPerConnection: 1}}",
        &[b.addr],
    )
    .await;
    for _ in 0..5 {
        get(out, "http://svc/").await;
    }
    assert_eq!(b.conns.load(std::sync::atomic::Ordering::SeqCst), 5);
}

#[tokio::test]
async fn outlier_detection_ejects_the_failing_endpoint() {
    let good = Backend::start("good").await;
    let bad = Backend::always("bad", 500).await;
    let (p, out) = proxy(
        "",
        "    loadBalancer: {simple: ROUND_ROBIN}\n    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50}",
        &[good.addr, bad.addr],
    )
    .await;
    let mut codes = Vec::new();
    for _ in 0..12 {
        codes.push(get(out, "http://svc/").await.status.as_u16());
    }
    assert_eq!(
        bad.hits(),
        2,
        "ejected after two consecutive 5xx: {codes:?}"
    );
    assert!(codes[4..].iter().all(|&c| c == 200), "{codes:?}");
    let text = scrape(&p).await;
    // Per cluster, as Envoy counts them: one line for `c`, none for the cluster that never
    // ejected; the family is announced either way.
    let line = "envoy_cluster_outlier_detection_ejections_enforced_total{cluster_name=\"c\"} 1\n";
    assert!(text.contains(line), "{text}");
    assert!(
        !text.contains("ejections_enforced_total{cluster_name=\"mirror\"}"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE envoy_cluster_outlier_detection_ejections_enforced_total counter\n")
    );
    assert_eq!(ejections(&p).await, 1.0);
}

#[tokio::test]
async fn all_endpoints_ejected_is_503_uh() {
    let bad = Backend::always("bad", 500).await;
    let (p, out) = proxy(
        "",
        "    outlierDetection: {consecutive5xxErrors: 1, maxEjectionPercent: 100}",
        &[bad.addr],
    )
    .await;
    assert_eq!(get(out, "http://svc/").await.status, 500);
    let r = get(out, "http://svc/").await;
    assert_eq!(
        (r.status.as_u16(), r.text().as_str()),
        (503, "no healthy upstream")
    );
    assert_eq!(bad.hits(), 1);
    assert_eq!(flags_count(&p, "503", "UH").await, 1.0);
}

#[tokio::test]
async fn least_request_avoids_the_busy_endpoint() {
    let (hole, _task) = black_hole().await;
    let fast = Backend::start("fast").await;
    let (_p, out) = proxy(
        "timeout: 10s",
        "    loadBalancer: {simple: LEAST_REQUEST}",
        &[hole, fast.addr],
    )
    .await;
    // Park requests until the hung endpoint holds at least one.
    let mut parked = Vec::new();
    let before = fast.hits();
    for _ in 0..6 {
        parked.push(tokio::spawn(async move { get(out, "http://svc/").await }));
    }
    eventually(
        Duration::from_secs(5),
        "some requests answered by the fast endpoint",
        || async { (fast.hits() > before).then_some(()) },
    )
    .await;
    let parked_on_fast = fast.hits() - before;
    assert!(
        parked_on_fast < 6,
        "at least one request is stuck on the hung endpoint"
    );
    for _ in 0..20 {
        assert_eq!(
            get(out, "http://svc/").await.backend(),
            Some("fast"),
            "the busy endpoint is avoided"
        );
    }
    for t in parked {
        t.abort();
    }
}

/// Ejections the proxy counts for the test's cluster `c`.
async fn ejections(p: &Proxy) -> f64 {
    metric_sum(
        &scrape(p).await,
        "envoy_cluster_outlier_detection_ejections_enforced_total",
        &[("cluster_name", "c")],
    )
}

/// Sends requests one at a time until `bad` has seen `hits` requests; returns when the
/// request that brought it there was sent (a lower bound on when its outcome was reported).
async fn send_until_hits(out: SocketAddr, bad: &Backend, hits: u64) -> Instant {
    for _ in 0..20 {
        let sent = Instant::now();
        get(out, "http://svc/").await;
        if bad.hits() >= hits {
            assert_eq!(bad.hits(), hits, "one request at a time");
            return sent;
        }
    }
    panic!("{} never reached {hits} requests", bad.name)
}

/// Polls through the proxy until `bad` answers again; returns when that answer arrived (an
/// upper bound on when the proxy picked it), asserting it was not before `not_before`.
async fn wait_until_back(out: SocketAddr, bad: &Backend, not_before: Instant) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = get(out, "http://svc/").await;
        let answered = Instant::now();
        if r.backend() == Some(bad.name.as_str()) {
            assert!(
                answered >= not_before,
                "{} back {:?} too early",
                bad.name,
                not_before - answered
            );
            return answered;
        }
        assert!(
            Instant::now() < deadline,
            "{} still ejected after 10 s",
            bad.name
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn outlier_detection_returns_the_endpoint_after_the_ejection_time() {
    let good = Backend::start("good").await;
    let bad = Backend::always("bad", 500).await;
    let base = Duration::from_millis(300);
    let (p, out) = proxy(
        "",
        "    loadBalancer: {simple: ROUND_ROBIN}\n    outlierDetection: {consecutive5xxErrors: 2, interval: 30s, baseEjectionTime: 300ms, maxEjectionPercent: 50}",
        &[good.addr, bad.addr],
    )
    .await;
    let ejected_from = send_until_hits(out, &bad, 2).await;
    assert_eq!(ejections(&p).await, 1.0);
    let back = wait_until_back(out, &bad, ejected_from + base).await;
    assert_eq!(bad.hits(), 3, "the first request after the ejection time");
    // It fails again: the second ejection in a row (no healthy interval between) lasts
    // twice the base.
    let ejected_from = send_until_hits(out, &bad, 4).await;
    assert!(ejected_from >= back);
    assert_eq!(ejections(&p).await, 2.0);
    wait_until_back(out, &bad, ejected_from + 2 * base).await;
}

#[tokio::test]
async fn max_ejection_percent_keeps_failing_endpoints_in_service() {
    let good = Backend::start("good").await;
    let bad = [
        Backend::always("bad-1", 500).await,
        Backend::always("bad-2", 500).await,
        Backend::always("bad-3", 500).await,
    ];
    let (p, out) = proxy(
        "",
        "    loadBalancer: {simple: ROUND_ROBIN}\n    outlierDetection: {consecutive5xxErrors: 1, baseEjectionTime: 30s, maxEjectionPercent: 50}",
        &[good.addr, bad[0].addr, bad[1].addr, bad[2].addr],
    )
    .await;
    let mut codes = Vec::new();
    for _ in 0..40 {
        codes.push(get(out, "http://svc/").await.status.as_u16());
    }
    // 50% of 4: two of the three failing endpoints are ejected after their first 500; the
    // third stays in service and keeps getting (and failing) requests.
    assert_eq!(ejections(&p).await, 2.0, "{codes:?}");
    let mut hits: Vec<u64> = bad.iter().map(Backend::hits).collect();
    hits.sort_unstable();
    assert_eq!(hits[..2], [1, 1], "two ejected at once: {hits:?}");
    assert!(
        hits[2] >= 10,
        "the one over the cap still gets traffic: {hits:?}"
    );
    let failed = codes.iter().filter(|&&c| c == 500).count() as u64;
    assert_eq!(failed, hits.iter().sum::<u64>(), "{codes:?}");
    assert_eq!(good.hits() + failed, 40);
}

/// Envoy's default retry budget, as `cluster::limits` applies it: retries in flight at most
/// 20% of the requests in flight to the cluster, and at least 3.
const RETRY_BUDGET_PERCENT: u64 = 20;
const RETRY_BUDGET_MIN: u64 = 3;

#[tokio::test]
async fn retry_budget_keeps_retries_from_multiplying_load() {
    let b = Backend::start("down").await;
    let attempts = 3u64;
    let (p, out) = proxy(
        &format!("retries: {{attempts: {attempts}, retryOn: 5xx}}"),
        "",
        &[b.addr],
    )
    .await;
    let retries = |text: &str| metric_sum(text, "envoy_cluster_upstream_rq_retry", &[]) as u64;

    // No pressure: a lone request gets every retry.
    let r = get(out, "http://svc/status/503").await;
    assert_eq!(r.status, 503);
    assert_eq!(b.hits(), 1 + attempts, "a lone request is retried");
    assert_eq!(flags_count(&p, "503", "URX").await, 1.0);

    // A storm: n requests in flight at once, all failing together (the backend holds the
    // first n until all have arrived, and each retry for a second). A retry is granted
    // only while fewer than max(3, 20% of the requests in flight) are held; a request
    // refused one is answered at once, and a granted one holds its slot until it ends,
    // which is after its retry's second at the backend. So while the n failures come
    // back, at most max(3, 20% of n) requests ever hold a slot, each retrying at most
    // `attempts` times: n + attempts x max(3, n/5) requests in all, not n x (1 + attempts).
    let n = 50u64;
    let before = b.hits();
    let url = format!("http://svc/gate/{n}/1000/storm/status/503");
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { get(out, &url).await })
        })
        .collect();
    for t in tasks {
        let r = t.await.expect("client task");
        assert_eq!(r.status, 503);
        // Refused a retry or out of attempts, the client gets the upstream's own answer.
        assert_eq!(
            r.headers.get("x-backend").and_then(|v| v.to_str().ok()),
            Some("down"),
            "{:?}",
            r.headers
        );
    }
    let storm = b.hits() - before;
    let budget = (n * RETRY_BUDGET_PERCENT / 100).max(RETRY_BUDGET_MIN);
    assert!(
        storm <= n + attempts * budget,
        "{storm} requests reached the backend for {n}: more than {n} + {attempts} x {budget}"
    );
    assert!(
        storm >= n + RETRY_BUDGET_MIN,
        "at least {RETRY_BUDGET_MIN} requests retried: {storm} for {n}"
    );
    assert_eq!(
        retries(&scrape(&p).await),
        attempts + storm - n,
        "every request past the first n is a counted retry"
    );

    // The budget is free again once the storm is over.
    let before = b.hits();
    let r = get(out, "http://svc/status/503").await;
    assert_eq!(r.status, 503);
    assert_eq!(
        b.hits() - before,
        1 + attempts,
        "retried again without pressure"
    );
}
