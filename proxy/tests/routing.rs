//! Routing over real sockets: virtual hosts and `match.authority`, URI, headers, method,
//! query; weighted splits; rewrite, redirect, direct response; header operations; load
//! balancing.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use mesh_proxy::testing::{get, get_from, get_with, metric_sum, scrape, start_proxy, Backend};

const ROUTES: &str = r#"
version: "1"
node: {workload: productpage-v1, app: productpage, version: v1}
listeners:
  - {name: out, address: "127.0.0.1:0", direction: outbound, routeConfig: out}
routes:
  - name: out
    virtualHosts:
      - name: reviews
        domains: [reviews, "reviews.default.svc.cluster.local"]
        routes:
          - name: jason
            match: [{headers: {end-user: {exact: jason}}}]
            route: [{cluster: v2}]
          - name: admin-post
            match: [{uri: {prefix: /admin}, method: {exact: POST}}]
            directResponse: {status: 403, body: "admins only"}
          - name: legacy
            match: [{uri: {exact: /old}}]
            redirect: {uri: /new, redirectCode: 302}
          - name: api
            match: [{uri: {prefix: /api/v1/}}]
            rewrite: {uri: /v2/, authority: reviews-internal}
            headers:
              request: {set: {x-set: one}, add: {x-added: two}, remove: [x-drop-me]}
              response: {set: {x-route: api}, add: {x-served: mesh}, remove: [x-backend-secret]}
            route: [{cluster: v3}]
          - name: debug
            match: [{queryParams: {debug: {exact: "1"}}}, {uri: {regex: "/items/[0-9]+"}}]
            route: [{cluster: v3}]
          - name: split
            route:
              - {cluster: v1, weight: 80}
              - {cluster: v3, weight: 20}
clusters:
  - {name: v1, service: reviews.default.svc.cluster.local, endpoints: [{address: "{v1}", workload: reviews-v1, app: reviews, version: v1}]}
  - {name: v2, service: reviews.default.svc.cluster.local, endpoints: [{address: "{v2}", workload: reviews-v2, app: reviews, version: v2}]}
  - {name: v3, service: reviews.default.svc.cluster.local, endpoints: [{address: "{v3}", workload: reviews-v3, app: reviews, version: v3}]}
"#;

struct Mesh {
    v1: Backend,
    v2: Backend,
    v3: Backend,
    proxy: std::sync::Arc<mesh_proxy::Proxy>,
    out: std::net::SocketAddr,
}

async fn mesh() -> Mesh {
    let (v1, v2, v3) = (
        Backend::start("v1").await,
        Backend::start("v2").await,
        Backend::start("v3").await,
    );
    let proxy = start_proxy(
        ROUTES,
        &[
            ("v1", v1.addr.to_string()),
            ("v2", v2.addr.to_string()),
            ("v3", v3.addr.to_string()),
        ],
    )
    .await;
    let out = proxy.listener_addr("out").expect("listener bound");
    Mesh {
        v1,
        v2,
        v3,
        proxy,
        out,
    }
}

#[tokio::test]
async fn routes_by_header_method_uri_and_query() {
    let m = mesh().await;
    let r = get_with(m.out, "http://reviews:9080/", &[("end-user", "jason")]).await;
    assert_eq!(r.backend(), Some("v2"), "end-user: jason goes to v2");
    let r = get(m.out, "http://reviews:9080/items/42").await;
    assert_eq!(r.backend(), Some("v3"), "regex match");
    let r = get(m.out, "http://reviews:9080/items/42/x").await;
    assert_ne!(r.backend(), None);
    let r = get(m.out, "http://reviews:9080/anything?x=2&debug=1").await;
    assert_eq!(r.backend(), Some("v3"), "query parameter match");
    // The Host header works as well as an absolute-form URI.
    let req = http::Request::get("/")
        .header("host", "reviews.default.svc.cluster.local:9080")
        .header("end-user", "jason");
    let r = mesh_proxy::testing::send(m.out, req.body(Default::default()).expect("req"))
        .await
        .expect("resp");
    assert_eq!(r.backend(), Some("v2"));
    // Method must match as well as the prefix.
    let post = http::Request::post("http://reviews:9080/admin/x")
        .body(Default::default())
        .expect("req");
    let r = mesh_proxy::testing::send(m.out, post).await.expect("resp");
    assert_eq!((r.status.as_u16(), r.text().as_str()), (403, "admins only"));
    let r = get(m.out, "http://reviews:9080/admin/x").await;
    assert_eq!(r.status, 200, "GET /admin falls through to the split");
}

#[tokio::test]
async fn no_route_is_404_with_nr_flag() {
    let m = mesh().await;
    let r = get(m.out, "http://ratings:9080/").await;
    assert_eq!(r.status, 404);
    assert_eq!(m.v1.hits() + m.v2.hits() + m.v3.hits(), 0);
    let text = scrape(&m.proxy).await;
    assert_eq!(
        metric_sum(
            &text,
            "istio_requests_total",
            &[("response_code", "404"), ("response_flags", "NR")]
        ),
        1.0
    );
}

#[tokio::test]
async fn weighted_split_is_close_to_weights() {
    let m = mesh().await;
    let mut count: HashMap<String, u32> = HashMap::new();
    let n = 1000;
    for _ in 0..n {
        let r = get(m.out, "http://reviews:9080/").await;
        *count
            .entry(r.backend().unwrap_or("none").to_string())
            .or_default() += 1;
    }
    let v1 = f64::from(count.get("v1").copied().unwrap_or(0)) / f64::from(n);
    // 80/20 with n=1000: the standard deviation is ~1.3%; 5% is > 3 sigma.
    assert!(
        (v1 - 0.8).abs() < 0.05,
        "v1 share {v1} not close to 0.8: {count:?}"
    );
    assert_eq!(
        count.get("v1").copied().unwrap_or(0) + count.get("v3").copied().unwrap_or(0),
        n
    );
}

#[tokio::test]
async fn rewrite_and_header_operations() {
    let m = mesh().await;
    let r = get_with(
        m.out,
        "http://reviews:9080/api/v1/books?id=7",
        &[
            ("x-drop-me", "1"),
            ("x-added", "one"),
            ("x-respond-with", "x-backend-secret=s3cret"),
            ("x-respond-with", "x-served=backend"),
            ("x-respond-with", "x-route=backend"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    let response = |name: &str| -> Vec<&str> {
        r.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .collect()
    };
    assert_eq!(
        response("x-route"),
        ["api"],
        "set replaces the backend's value"
    );
    assert_eq!(response("x-served"), ["backend", "mesh"], "add appends");
    assert!(response("x-backend-secret").is_empty(), "remove drops it");
    let seen = m.v3.seen();
    let last = seen.last().expect("v3 got the request");
    assert_eq!(last.uri, "/v2/books?id=7", "prefix rewritten, query kept");
    assert_eq!(
        last.headers.get("host").map(|v| v.as_bytes()),
        Some(&b"reviews-internal"[..])
    );
    assert_eq!(
        last.headers.get("x-set").map(|v| v.as_bytes()),
        Some(&b"one"[..])
    );
    let added: Vec<_> = last
        .headers
        .get_all("x-added")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    assert_eq!(added, ["one", "two"], "add appends");
    assert!(last.headers.get("x-drop-me").is_none());
    assert!(
        last.headers.get("x-request-id").is_some(),
        "request id generated"
    );
}

#[tokio::test]
async fn redirect_and_direct_response() {
    let m = mesh().await;
    let r = get(m.out, "http://reviews:9080/old").await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.headers.get("location").map(|v| v.as_bytes()),
        Some(&b"http://reviews:9080/new"[..])
    );
    assert_eq!(m.v1.hits() + m.v2.hits() + m.v3.hits(), 0);
}

#[tokio::test]
async fn metrics_carry_istio_labels() {
    let m = mesh().await;
    get_with(m.out, "http://reviews:9080/", &[("end-user", "jason")]).await;
    let text = scrape(&m.proxy).await;
    let labels = [
        ("reporter", "source"),
        ("source_workload", "productpage-v1"),
        ("source_app", "productpage"),
        ("destination_workload", "reviews-v2"),
        ("destination_version", "v2"),
        ("destination_service", "reviews.default.svc.cluster.local"),
        ("destination_service_name", "reviews"),
        ("destination_service_namespace", "default"),
        ("response_code", "200"),
        ("response_flags", "-"),
    ];
    assert_eq!(
        metric_sum(&text, "istio_requests_total", &labels),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric_sum(&text, "istio_request_duration_milliseconds_count", &labels),
        1.0
    );
    assert_eq!(
        metric_sum(&text, "istio_response_bytes_sum", &labels),
        2.0,
        "body 'v2' is 2 bytes"
    );
    assert!(text.contains("# TYPE istio_request_duration_milliseconds histogram"));
    assert!(m.v1.hits() == 0 && m.v2.hits() == 1);
}

const LB: &str = r#"
listeners:
  - {name: out, address: "127.0.0.1:0", direction: outbound, routeConfig: out}
routes:
  - name: out
    virtualHosts:
      - name: svc
        domains: ["*"]
        routes: [{route: [{cluster: c}]}]
clusters:
  - name: c
    endpoints: [{address: "{a}"}, {address: "{b}"}, {address: "{c}"}]
    loadBalancer: {lb}
"#;

/// Three backends `a`, `b`, `c` behind one proxy with the given `loadBalancer`.
async fn three_backends(
    lb: impl ToString,
) -> (
    [Backend; 3],
    std::sync::Arc<mesh_proxy::Proxy>,
    std::net::SocketAddr,
) {
    backends_behind(LB, &[("lb", lb.to_string())]).await
}

/// Backends `a`, `b` and `c` behind a proxy running `config` (with `{a}`, `{b}`, `{c}` and
/// `extra` filled in), and its `out` listener.
async fn backends_behind(
    config: &str,
    extra: &[(&str, String)],
) -> (
    [Backend; 3],
    std::sync::Arc<mesh_proxy::Proxy>,
    std::net::SocketAddr,
) {
    let b = [
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    ];
    let mut vars = vec![
        ("a", b[0].addr.to_string()),
        ("b", b[1].addr.to_string()),
        ("c", b[2].addr.to_string()),
    ];
    vars.extend(extra.iter().cloned());
    let proxy = start_proxy(config, &vars).await;
    let out = proxy.listener_addr("out").expect("bound");
    (b, proxy, out)
}

async fn lb_counts(lb: &str, requests: u32, headers: &[(&str, &str)]) -> (Vec<u64>, Vec<String>) {
    let (b, _proxy, out) = three_backends(lb.to_string()).await;
    let mut order = Vec::new();
    for _ in 0..requests {
        let r = get_with(out, "http://svc/", headers).await;
        order.push(r.backend().unwrap_or("none").to_string());
    }
    (b.iter().map(Backend::hits).collect(), order)
}

#[tokio::test]
async fn round_robin_visits_each_endpoint_in_turn() {
    let (hits, order) = lb_counts("{simple: ROUND_ROBIN}", 30, &[]).await;
    assert_eq!(hits, [10, 10, 10]);
    assert!(
        order
            .windows(3)
            .all(|w| w[0] != w[1] && w[1] != w[2] && w[0] != w[2]),
        "{order:?}"
    );
}

#[tokio::test]
async fn random_and_least_request_spread_load() {
    for lb in ["{simple: RANDOM}", "{simple: LEAST_REQUEST}"] {
        let (hits, _) = lb_counts(lb, 150, &[]).await;
        assert!(
            hits.iter().all(|&h| h >= 20),
            "{lb}: every endpoint gets a share: {hits:?}"
        );
        assert_eq!(hits.iter().sum::<u64>(), 150);
    }
}

#[tokio::test]
async fn consistent_hash_on_a_header_is_sticky() {
    let (hits, order) = lb_counts(
        "{consistentHash: {httpHeaderName: x-user}}",
        20,
        &[("x-user", "alice")],
    )
    .await;
    assert_eq!(
        hits.iter().filter(|&&h| h == 20).count(),
        1,
        "all on one endpoint: {hits:?}"
    );
    assert!(order.iter().all(|o| o == &order[0]));
    // Different keys spread over the endpoints.
    let (b, _proxy, out) = three_backends("{consistentHash: {httpHeaderName: x-user}}").await;
    let mut by_user = HashMap::new();
    for i in 0..60 {
        let user = format!("user-{i}");
        let first = get_with(out, "http://svc/", &[("x-user", &user)])
            .await
            .backend()
            .map(str::to_string);
        let again = get_with(out, "http://svc/", &[("x-user", &user)])
            .await
            .backend()
            .map(str::to_string);
        assert_eq!(first, again, "same key, same endpoint");
        by_user.insert(user, first);
    }
    assert!(
        b.iter().all(|x| x.hits() > 0),
        "keys spread: {:?}",
        b.iter().map(Backend::hits).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn consistent_hash_cookie_is_set_then_sticky() {
    let (_b, _proxy, out) =
        three_backends("{consistentHash: {httpCookie: {name: session, ttl: 60s}}}").await;
    let first = get(out, "http://svc/").await;
    let cookie = first
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("cookie set")
        .to_string();
    assert!(
        cookie.starts_with("session=") && cookie.contains("Max-Age=60"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_string();
    for _ in 0..10 {
        let r = get_with(out, "http://svc/", &[("cookie", &pair)]).await;
        assert_eq!(r.backend(), first.backend(), "the cookie pins the endpoint");
        assert!(
            r.headers.get("set-cookie").is_none(),
            "no new cookie when one is sent"
        );
    }
}

#[tokio::test]
async fn consistent_hash_on_source_ip_is_sticky() {
    let (b, _proxy, out) = three_backends("{consistentHash: {useSourceIp: true}}").await;
    // Clients on distinct loopback addresses, each over several connections (so from
    // several source ports): the address alone picks the endpoint.
    let mut by_source: HashMap<IpAddr, String> = HashMap::new();
    for i in 2..=21u8 {
        let from = IpAddr::from([127, 0, 0, i]);
        let mut seen = BTreeSet::new();
        for _ in 0..5 {
            let r = get_from(from, out, "http://svc/").await;
            assert_eq!(r.status, 200);
            seen.insert(r.backend().unwrap_or("none").to_string());
        }
        assert_eq!(
            seen.len(),
            1,
            "{from} always reaches one endpoint: {seen:?}"
        );
        by_source.insert(from, seen.into_iter().next().unwrap_or_default());
    }
    let endpoints: BTreeSet<&String> = by_source.values().collect();
    assert!(
        endpoints.len() > 1,
        "20 source addresses spread over more than one endpoint: {by_source:?}"
    );
    assert_eq!(b.iter().map(Backend::hits).sum::<u64>(), 100);
}

const AUTHORITY: &str = r#"
listeners:
  - {name: out, address: "127.0.0.1:0", direction: outbound, routeConfig: out}
routes:
  - name: out
    virtualHosts:
      - name: any
        domains: ["*"]
        routes:
          - name: exact
            match: [{authority: {exact: api.example.com}}]
            route: [{cluster: a}]
          - name: prefix
            match: [{authority: {prefix: "shop."}}]
            route: [{cluster: b}]
          - name: regex
            match: [{authority: {regex: "v[0-9]+\\.internal(:[0-9]+)?"}}]
            route: [{cluster: c}]
clusters:
  - {name: a, endpoints: [{address: "{a}"}]}
  - {name: b, endpoints: [{address: "{b}"}]}
  - {name: c, endpoints: [{address: "{c}"}]}
"#;

#[tokio::test]
async fn routes_by_authority_exact_prefix_and_regex() {
    let (b, proxy, out) = backends_behind(AUTHORITY, &[]).await;
    // The authority as an absolute-form URI names it, and as a Host header.
    let via_host = |authority: &str| {
        let req = http::Request::get("/")
            .header("host", authority)
            .body(Default::default())
            .expect("req");
        mesh_proxy::testing::send(out, req)
    };
    let cases = [
        ("api.example.com", Some("a")),
        ("shop.example.com", Some("b")),
        ("shop.", Some("b")),
        ("v2.internal", Some("c")),
        ("v10.internal:8080", Some("c")),
        // Exact is the whole authority; prefix is the start; the regex is anchored.
        ("api.example.com.evil", None),
        ("www.api.example.com", None),
        ("www.shop.example.com", None),
        ("v2.internal.example.com", None),
        ("vx.internal", None),
    ];
    for (authority, want) in cases {
        let by_uri = get(out, &format!("http://{authority}/")).await;
        let by_host = via_host(authority).await.expect("response");
        for (how, r) in [("URI", &by_uri), ("Host", &by_host)] {
            match want {
                Some(backend) => assert_eq!(
                    (r.status.as_u16(), r.backend()),
                    (200, Some(backend)),
                    "{authority} by {how}"
                ),
                None => assert_eq!(
                    (r.status.as_u16(), r.backend()),
                    (404, None),
                    "{authority} by {how} matches no route"
                ),
            }
        }
    }
    let routed = cases.iter().filter(|(_, w)| w.is_some()).count() as u64;
    assert_eq!(
        b.iter().map(Backend::hits).sum::<u64>(),
        2 * routed,
        "unmatched authorities reach no backend"
    );
    assert_eq!(
        metric_sum(
            &scrape(&proxy).await,
            "istio_requests_total",
            &[("response_code", "404"), ("response_flags", "NR")]
        ),
        2.0 * (cases.len() as u64 - routed) as f64
    );
}
