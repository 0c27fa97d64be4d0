//! Hostile and unusual input on the downstream side: oversized headers, request smuggling,
//! slowloris, huge bodies both ways, and the headers a proxy must add, keep or strip.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh_proxy::testing::{get_with, raw_exchange, send, send_h2, start_proxy_with, Backend, Seen};
use mesh_proxy::{Proxy, ProxyOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const YAML: &str = r#"
listeners:
  - {name: out, address: "127.0.0.1:0", direction: outbound, routeConfig: out}
routes:
  - name: out
    virtualHosts:
      - name: svc
        domains: ["*"]
        routes:
          - match: [{uri: {prefix: /retry}}]
            route: [{cluster: one}]
            retries: {attempts: 2, retryOn: "5xx"}
          - route: [{cluster: one}]
clusters:
  - {name: one, endpoints: [{address: "{one}"}]}
"#;

/// A backend and a proxy in front of it whose clients get `header_timeout` to send headers.
/// Keep the returned proxy alive: dropping it stops its listeners.
async fn setup(header_timeout: Option<Duration>) -> (Backend, Arc<Proxy>, SocketAddr) {
    let be = Backend::start("one").await;
    let opts = ProxyOptions {
        header_read_timeout: header_timeout,
        ..Default::default()
    };
    let p = start_proxy_with(YAML, &[("one", be.addr.to_string())], opts).await;
    let out = p.listener_addr("out").expect("bound");
    (be, p, out)
}

/// The one request the backend saw.
fn only(be: &Backend) -> Seen {
    let seen = be.seen();
    assert_eq!(seen.len(), 1, "backend saw {} requests", seen.len());
    seen.into_iter().next().expect("one request")
}

fn status_line(resp: &str) -> &str {
    resp.lines().next().unwrap_or("")
}

#[tokio::test]
async fn headers_over_64k_get_431_and_smaller_ones_pass() {
    let (be, _p, out) = setup(None).await;
    let big = "a".repeat(70 * 1024);
    let req = format!("GET /x HTTP/1.1\r\nHost: svc\r\nx-big: {big}\r\n\r\n");
    let resp = raw_exchange(out, req.as_bytes(), Duration::from_secs(5)).await;
    assert!(
        status_line(&resp).starts_with("HTTP/1.1 431"),
        "answer to 70 KiB of headers: {:?}",
        status_line(&resp)
    );
    assert_eq!(
        be.hits(),
        0,
        "an oversized request must not reach the backend"
    );

    let fine = "b".repeat(32 * 1024);
    let got = get_with(out, "http://svc/x", &[("x-fine", &fine)]).await;
    assert_eq!(got.status, 200);
    assert_eq!(only(&be).headers["x-fine"], fine.as_str());
}

const SMUGGLE: &[u8] = b"POST /x HTTP/1.1\r\nHost: svc\r\nContent-Length: 5\r\n\
    Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: svc\r\n\r\n";

#[tokio::test]
async fn content_length_with_transfer_encoding_cannot_smuggle() {
    let (be, _p, out) = setup(None).await;
    let mut s = TcpStream::connect(out).await.expect("connect");
    s.write_all(SMUGGLE).await.expect("write");
    let (_, got) = read_until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("the connection is closed after an ambiguous request");
    let got = String::from_utf8_lossy(&got);
    assert_eq!(
        got.matches("HTTP/1.1 ").count(),
        1,
        "one answer only: {got:?}"
    );
    let uris: Vec<String> = be.seen().into_iter().map(|s| s.uri).collect();
    assert!(
        !uris.iter().any(|u| u.contains("smuggled")),
        "the smuggled request reached the backend: {uris:?}"
    );
}

/// Reads until EOF; returns how long it took and what came, or None if the peer kept the
/// connection open past `within`.
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> Option<(Duration, Vec<u8>)> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.checked_sub(start.elapsed())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some((start.elapsed(), got)),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]), // a 408 before closing is fine
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn slowloris_half_a_header_line_is_cut_off() {
    let timeout = Duration::from_millis(400);
    let (be, _p, out) = setup(Some(timeout)).await;
    let mut s = TcpStream::connect(out).await.expect("connect");
    s.write_all(b"GET /x HTTP/1.1\r\nHost: sv")
        .await
        .expect("write");
    let (took, _) = read_until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("a client stalling in its headers must be disconnected");
    assert!(took >= timeout / 2, "closed too early: {took:?}");
    assert_eq!(be.hits(), 0);
}

#[tokio::test]
async fn slowloris_silent_connection_is_cut_off() {
    let timeout = Duration::from_millis(400);
    let (_be, _p, out) = setup(Some(timeout)).await;
    let mut s = TcpStream::connect(out).await.expect("connect");
    let (took, _) = read_until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("a client that connects and sends nothing must be disconnected");
    assert!(took >= timeout / 2, "closed too early: {took:?}");
}

/// 20 MB that are not all the same byte, so a lost or reordered chunk shows.
fn pattern(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

#[tokio::test]
async fn twenty_megabyte_upload_arrives_intact() {
    let (be, _p, out) = setup(None).await;
    let body = pattern(20_000_000);
    for path in ["/upload", "/retry/upload"] {
        let req = Request::post(format!("http://svc{path}"))
            .body(Full::new(body.clone()))
            .expect("req");
        let got = send(out, req).await.expect("response");
        assert_eq!(got.status, 200, "{path}");
    }
    let seen = be.seen();
    assert_eq!(
        seen.len(),
        2,
        "each upload reaches the backend exactly once"
    );
    for s in seen {
        assert_eq!(s.body.len(), body.len(), "{}: length", s.uri);
        assert!(s.body == body, "{}: content differs", s.uri);
    }
}

#[tokio::test]
async fn twenty_megabyte_response_streams_back_intact() {
    let (_be, _p, out) = setup(None).await;
    let got = get_with(out, "http://svc/bytes/20000000", &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body.len(), 20_000_000);
    assert!(got.body.iter().all(|b| *b == b'x'), "content differs");
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test]
async fn request_id_is_generated_when_absent_and_kept_when_present() {
    let (be, _p, out) = setup(None).await;
    get_with(out, "http://svc/a", &[]).await;
    get_with(out, "http://svc/b", &[]).await;
    get_with(out, "http://svc/c", &[("x-request-id", "client-chosen-id")]).await;
    let ids: Vec<String> = be
        .seen()
        .iter()
        .map(|s| {
            s.headers["x-request-id"]
                .to_str()
                .expect("ascii")
                .to_string()
        })
        .collect();
    assert!(is_uuid(&ids[0]) && is_uuid(&ids[1]), "{ids:?}");
    assert_ne!(ids[0], ids[1], "each request gets its own id");
    assert_eq!(ids[2], "client-chosen-id");
}

#[tokio::test]
async fn trace_context_headers_pass_unchanged() {
    let (be, _p, out) = setup(None).await;
    let trace = [
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("x-b3-parentspanid", "05e3ac9a4f6e3b90"),
        ("x-b3-sampled", "1"),
        (
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        ),
    ];
    assert_eq!(get_with(out, "http://svc/t", &trace).await.status, 200);
    let seen = only(&be);
    for (k, v) in trace {
        assert_eq!(
            seen.headers.get(k).and_then(|h| h.to_str().ok()),
            Some(v),
            "{k}"
        );
    }
}

#[tokio::test]
async fn hop_by_hop_headers_are_stripped() {
    let (be, _p, out) = setup(None).await;
    let req = b"GET /h HTTP/1.1\r\nHost: svc\r\nConnection: keep-alive, x-foo\r\n\
        x-foo: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n\
        x-kept: yes\r\n\r\n";
    let resp = raw_exchange(out, req, Duration::from_secs(5)).await;
    assert!(status_line(&resp).starts_with("HTTP/1.1 200"), "{resp:?}");
    let seen = only(&be);
    for h in ["x-foo", "keep-alive", "proxy-connection"] {
        assert!(
            !seen.headers.contains_key(h),
            "{h} reached the backend: {:?}",
            seen.headers
        );
    }
    assert_eq!(seen.headers["x-kept"], "yes");
}

#[tokio::test]
async fn h2_headers_over_64k_never_reach_the_backend() {
    let (be, _p, out) = setup(None).await;
    let big = "a".repeat(70 * 1024);
    let req = Request::get("http://svc/x")
        .header("x-big", big.as_str())
        .body(Full::new(Bytes::new()))
        .expect("req");
    let got = send_h2(out, req).await.expect("an answer, not a reset");
    assert_eq!(got.status, 431);
    assert_eq!(be.hits(), 0);
}

#[tokio::test]
async fn slowloris_on_a_later_request_of_a_keepalive_connection_is_cut_off() {
    let timeout = Duration::from_millis(400);
    let (be, _p, out) = setup(Some(timeout)).await;
    let mut s = TcpStream::connect(out).await.expect("connect");
    s.write_all(b"GET /first HTTP/1.1\r\nHost: svc\r\n\r\nGET /second HTTP/1.1\r\nHo")
        .await
        .expect("write");
    let (_, got) = read_until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("a client stalling in its second request's headers must be disconnected");
    let got = String::from_utf8_lossy(&got);
    assert!(
        got.starts_with("HTTP/1.1 200"),
        "the first request is answered: {got}"
    );
    assert_eq!(be.hits(), 1);
}

/// Sends the head and part of a chunked body, waits until the backend has the request, then
/// the rest: the backend can only have it early if the proxy streams the body.
async fn upload_in_two_parts(path: &str, first: usize) {
    let (be, _p, out) = setup(None).await;
    let mut s = TcpStream::connect(out).await.expect("connect");
    let head = format!("POST {path} HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n");
    s.write_all(head.as_bytes()).await.expect("head");
    let chunk = |n: usize, b: u8| {
        let mut c = format!("{n:x}\r\n").into_bytes();
        c.extend(std::iter::repeat_n(b, n));
        c.extend_from_slice(b"\r\n");
        c
    };
    s.write_all(&chunk(first, b'a')).await.expect("first part");
    mesh_proxy::testing::eventually(
        Duration::from_secs(5),
        "the backend has the request before the body ends",
        || async { (be.hits() == 1).then_some(()) },
    )
    .await;
    s.write_all(&chunk(10, b'b')).await.expect("second part");
    s.write_all(b"0\r\n\r\n").await.expect("end");
    let resp = {
        let mut buf = vec![0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("answer in time")
            .expect("read");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert!(status_line(&resp).starts_with("HTTP/1.1 200"), "{resp}");
    let body = only(&be).body;
    assert_eq!(body.len(), first + 10);
    assert!(body[..first].iter().all(|b| *b == b'a') && body[first..] == [b'b'; 10]);
}

#[tokio::test]
async fn request_body_is_streamed_to_the_backend() {
    upload_in_two_parts("/stream", 1000).await;
}

#[tokio::test]
async fn body_over_the_replay_limit_is_streamed_even_with_retries() {
    upload_in_two_parts("/retry/stream", 100 * 1024).await;
}
