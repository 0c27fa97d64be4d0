//! Protocols on the wire: HTTP/1.1 and h2c on one listener, proxy-to-proxy HTTP/2 over one
//! multiplexed connection, WebSocket upgrades through one and two proxies, plain TCP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Version};
use http_body_util::Full;
use mesh_proxy::testing::{
    eventually, get, get_with, metric_sum, scrape, send, send_h2, start_proxy, Backend, EchoServer,
    Seen, TcpRelay,
};
use mesh_proxy::Proxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP listener sending everything for any authority to cluster `up`.
const HTTP: &str = r#"
listeners:
  - {name: l, address: "127.0.0.1:0", direction: {direction}, routeConfig: r}
routes:
  - name: r
    virtualHosts: [{name: any, domains: ["*"], routes: [{route: [{cluster: up}]}]}]
clusters:
  - {name: up, protocol: {protocol}, endpoints: [{address: "{up}"}]}
"#;

async fn http_proxy(direction: &str, protocol: &str, up: SocketAddr) -> (Arc<Proxy>, SocketAddr) {
    let vars = [
        ("direction", direction.to_string()),
        ("protocol", protocol.to_string()),
        ("up", up.to_string()),
    ];
    let p = start_proxy(HTTP, &vars).await;
    let addr = p.listener_addr("l").expect("bound");
    (p, addr)
}

/// client -> proxy A (outbound) -> relay -> proxy B (inbound) -> backend, A talking
/// `protocol` to B. Keep the proxies alive: dropping one stops its listeners.
struct Chain {
    be: Backend,
    relay: TcpRelay,
    a: SocketAddr,
    _proxies: [Arc<Proxy>; 2],
}

async fn chain(protocol: &str) -> Chain {
    let be = Backend::start("app").await;
    let (pb, b) = http_proxy("inbound", "http1", be.addr).await;
    let relay = TcpRelay::start(b).await;
    let (pa, a) = http_proxy("outbound", protocol, relay.addr).await;
    Chain {
        be,
        relay,
        a,
        _proxies: [pa, pb],
    }
}

#[tokio::test]
async fn http1_and_h2c_share_a_listener() {
    let be = Backend::start("app").await;
    let (_p, addr) = http_proxy("outbound", "http1", be.addr).await;
    let h1 = get(addr, "http://svc/one").await;
    let req = Request::get("http://svc/two")
        .body(Full::new(Bytes::new()))
        .expect("req");
    let h2 = send_h2(addr, req).await.expect("h2c answered");
    assert_eq!((h1.status.as_u16(), h2.status.as_u16()), (200, 200));
    assert_eq!((h1.backend(), h2.backend()), (Some("app"), Some("app")));
    let uris: Vec<String> = be.seen().into_iter().map(|s| s.uri).collect();
    assert_eq!(uris, ["/one", "/two"]);
}

#[tokio::test]
async fn proxy_to_proxy_http2_multiplexes_one_connection() {
    let c = chain("http2").await;
    // Concurrent slow requests: HTTP/1.1 would need one connection each.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let a = c.a;
            tokio::spawn(async move { get(a, &format!("http://svc/delay/200?n={i}")).await })
        })
        .collect();
    for t in tasks {
        let got = t.await.expect("task");
        assert_eq!(got.status, 200, "{}", got.text());
        assert_eq!(got.backend(), Some("app"));
    }
    assert_eq!(c.be.hits(), 40, "every request reached the backend");
    assert_eq!(
        c.relay.conns(),
        1,
        "40 concurrent requests from A to B should share one HTTP/2 connection"
    );
    // B speaks HTTP/1.1 to the app whatever A spoke to B.
    assert!(c.be.seen().iter().all(|s| s.version == Version::HTTP_11));
}

#[tokio::test]
async fn proxy_to_proxy_http1_uses_several_connections() {
    // The control for the test above: the relay does count connections.
    let c = chain("http1").await;
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let a = c.a;
            tokio::spawn(async move { get(a, "http://svc/delay/200").await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("task").status, 200);
    }
    assert_eq!(c.relay.conns(), 5);
}

/// Opens a WebSocket through `addr`, checks the 101, then that bytes come back echoed.
async fn websocket_round_trip(addr: SocketAddr) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .expect("write upgrade");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut byte))
            .await
            .expect("response head in time")
            .expect("read");
        assert!(n > 0, "closed before the response head: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    for msg in [
        &b"hello"[..],
        &[0u8, 1, 2, 255, 13, 10][..],
        &[b'z'; 100_000][..],
    ] {
        s.write_all(msg).await.expect("write");
        let mut back = vec![0u8; msg.len()];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut back))
            .await
            .expect("echo in time")
            .expect("echo");
        assert_eq!(back, msg);
    }
}

#[tokio::test]
async fn websocket_through_one_proxy() {
    let be = Backend::start("app").await;
    let (_p, addr) = http_proxy("outbound", "http1", be.addr).await;
    websocket_round_trip(addr).await;
    assert_eq!(be.hits(), 1);
}

#[tokio::test]
async fn websocket_through_two_proxies_with_http2_between() {
    // Upgrades cannot ride HTTP/2 streams here: A falls back to HTTP/1.1 for them.
    let c = chain("http2").await;
    websocket_round_trip(c.a).await;
    assert_eq!(c.be.hits(), 1);
    let seen = c.be.seen();
    assert_eq!(seen[0].headers["upgrade"], "websocket");
}

const TCP: &str = r#"
node: {workload: client-v1, app: client, version: v1}
listeners:
  - {name: t, address: "127.0.0.1:0", direction: outbound, protocol: tcp, cluster: echo}
clusters:
  - name: echo
    service: echo.default.svc.cluster.local
    endpoints: [{address: "{echo}", workload: echo-v1, app: echo, version: v1}]
"#;

#[tokio::test]
async fn tcp_listener_forwards_bytes_and_counts_them() {
    let echo = EchoServer::start().await;
    let p = start_proxy(TCP, &[("echo", echo.addr.to_string())]).await;
    let addr = p.listener_addr("t").expect("bound");
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    s.write_all(&data).await.expect("write");
    let mut back = vec![0u8; data.len()];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut back))
        .await
        .expect("echo in time")
        .expect("echo");
    assert!(back == data, "bytes changed on the way");
    drop(s);

    let dest = [
        ("reporter", "source"),
        ("source_workload", "client-v1"),
        ("destination_service", "echo.default.svc.cluster.local"),
        ("destination_workload", "echo-v1"),
        ("destination_version", "v1"),
    ];
    let text = eventually(
        Duration::from_secs(5),
        "tcp metrics after close",
        || async {
            let t = scrape(&p).await;
            (metric_sum(&t, "istio_tcp_connections_closed_total", &dest) >= 1.0).then_some(t)
        },
    )
    .await;
    let n = data.len() as f64;
    assert_eq!(
        metric_sum(&text, "istio_tcp_connections_opened_total", &dest),
        1.0
    );
    assert_eq!(
        metric_sum(&text, "istio_tcp_received_bytes_total", &dest),
        n
    );
    assert_eq!(metric_sum(&text, "istio_tcp_sent_bytes_total", &dest), n);
}

/// Request ids cross the HTTP/2 hop as they were (sent there in HPACK's never-indexed
/// form): the client's own, and the ones proxy A generates, all different.
#[tokio::test]
async fn request_ids_cross_the_http2_hop_unchanged() {
    let c = chain("http2").await;
    let own = "7f0c8c1e-0000-4000-8000-000000000001";
    get_with(c.a, "http://svc/own", &[("x-request-id", own)]).await;
    for i in 0..20 {
        get(c.a, &format!("http://svc/generated/{i}")).await;
    }
    let seen = c.be.seen();
    let id = |s: &Seen| {
        s.headers["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_string()
    };
    assert_eq!(id(&seen[0]), own);
    let generated: std::collections::BTreeSet<String> = seen[1..].iter().map(id).collect();
    assert_eq!(generated.len(), 20, "one new id per request: {generated:?}");
    assert!(generated.iter().all(|g| g.len() == 36 && g != own));
}

#[tokio::test]
async fn h2c_request_with_body_through_two_proxies() {
    let c = chain("http2").await;
    let body = Bytes::from(vec![7u8; 300_000]);
    let req = Request::post("http://svc/upload")
        .body(Full::new(body.clone()))
        .expect("req");
    let got = send(c.a, req).await.expect("response");
    assert_eq!(got.status, 200);
    assert_eq!(c.be.seen()[0].body, body);
}

#[tokio::test]
async fn tcp_half_close_reaches_the_other_side() {
    let echo = EchoServer::start().await;
    let p = start_proxy(TCP, &[("echo", echo.addr.to_string())]).await;
    let addr = p.listener_addr("t").expect("bound");
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"last words").await.expect("write");
    // The client is done sending: the echo server must see EOF, answer and close.
    s.shutdown().await.expect("half-close");
    let mut back = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut back))
        .await
        .expect("the proxy passes the half-close on, and the close back")
        .expect("read");
    assert_eq!(back, b"last words");
}
