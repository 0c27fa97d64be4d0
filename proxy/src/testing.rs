//! Test helpers shared by every test of the proxy (and other crates' end-to-end tests):
//! a scriptable backend, a small HTTP client, an in-process proxy. Enabled by the `testing`
//! feature; not part of the proxy binary.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use crate::{Proxy, ProxyOptions};

/// A loopback address with a port nobody listens on, for a server that a test must know the
/// address of before it starts (a process it spawns, a proxy whose config names it).
///
/// The ports come from below the kernel's ephemeral range (32768-60999 by default): a port
/// taken from `bind(":0")` and released is in that range, where any outgoing `connect` of a
/// test running in parallel may pick it as its source port before the server binds it.
/// Each test process walks its own window of the range (chosen from its PID) and checks that
/// a port is free before handing it out; within a process no port is handed out twice.
pub fn free_addr() -> SocketAddr {
    use std::sync::atomic::AtomicU32;
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000; // 20000..32000
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id() * 397) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let port = LOW + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN;
        let addr = SocketAddr::from(([127, 0, 0, 1], port as u16));
        if std::net::TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
    panic!("no free loopback port in {LOW}..{}", LOW + SPAN)
}

/// What a backend saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A backend whose answers the request chooses:
/// - `/status/NNN`: answers NNN;
/// - `/delay/MS`: waits MS milliseconds, then 200;
/// - `/bytes/N`: N bytes of body;
/// - `/fail-first/N/KEY`: 503 for the first N requests with that KEY, then 200;
/// - a `/gate/N/MS/KEY` prefix: the first N requests with that KEY are held until all N
///   have arrived (10 s at most) and then answered together; later ones with that KEY are
///   held MS milliseconds. The rest of the path is answered as above
///   (`/gate/50/500/k/status/503`: fifty 503s at once, then slow 503s);
/// - a request with `Upgrade:` gets 101 and an echo of every byte sent after;
/// - anything else: 200 with the backend's name as body.
///
/// Every response carries `x-backend: NAME`. Requests are recorded.
#[derive(Debug)]
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    pub hits: Arc<AtomicU64>,
    /// TCP connections accepted.
    pub conns: Arc<AtomicU64>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    pub async fn start(name: &str) -> Backend {
        Self::start_on("127.0.0.1:0".parse().expect("addr"), name).await
    }

    pub async fn start_on(addr: SocketAddr, name: &str) -> Backend {
        Self::start_full(addr, name, None).await
    }

    /// A backend that answers every request with `status` (an unhealthy instance).
    pub async fn always(name: &str, status: u16) -> Backend {
        Self::start_full("127.0.0.1:0".parse().expect("addr"), name, Some(status)).await
    }

    async fn start_full(addr: SocketAddr, name: &str, always: Option<u16>) -> Backend {
        let listener = TcpListener::bind(addr).await.expect("bind backend");
        let addr = listener.local_addr().expect("backend addr");
        let hits = Arc::new(AtomicU64::new(0));
        let conns = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let counters: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let gates: Arc<Gates> = Arc::default();
        let (n, h, s, cn) = (name.to_string(), hits.clone(), seen.clone(), conns.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                cn.fetch_add(1, Ordering::SeqCst);
                let (n, h, s, c) = (n.clone(), h.clone(), s.clone(), counters.clone());
                let g = gates.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let state = State {
                            name: n.clone(),
                            hits: h.clone(),
                            seen: s.clone(),
                            counters: c.clone(),
                            gates: g.clone(),
                        };
                        answer(state, always, req)
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Backend {
            name: name.to_string(),
            addr,
            hits,
            conns,
            seen,
            task,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

/// What one backend's requests share.
struct State {
    name: String,
    hits: Arc<AtomicU64>,
    seen: Arc<Mutex<Vec<Seen>>>,
    counters: Arc<Mutex<HashMap<String, u64>>>,
    gates: Arc<Gates>,
}

/// The `/gate/N/MS/KEY` prefix: per KEY, how many requests arrived and the signal that
/// releases the first N.
#[derive(Debug, Default)]
struct Gates(Mutex<HashMap<String, (u64, Arc<tokio::sync::Notify>)>>);

impl Gates {
    /// Holds a request as `/gate/{n}/{ms}/{key}` says.
    async fn pass(&self, n: u64, ms: u64, key: &str) {
        let signal = {
            let mut gates = self.0.lock().expect("gates");
            let (arrived, signal) = gates.entry(key.to_string()).or_default();
            *arrived += 1;
            if *arrived == n {
                signal.notify_waiters();
                return;
            }
            (*arrived < n).then(|| signal.clone())
        };
        let Some(signal) = signal else {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            return;
        };
        let released = signal.notified();
        tokio::pin!(released);
        // Registered before the arrival count is read again, so the N-th arrival cannot be
        // missed: `notify_waiters` wakes only the waiters registered when it runs.
        released.as_mut().enable();
        let all_in = {
            let gates = self.0.lock().expect("gates");
            gates.get(key).is_some_and(|(arrived, _)| *arrived >= n)
        };
        if !all_in {
            let _ = tokio::time::timeout(Duration::from_secs(10), released).await;
        }
    }
}

async fn answer(
    state: State,
    always: Option<u16>,
    mut req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let State {
        name,
        hits,
        seen,
        counters,
        gates,
    } = state;
    hits.fetch_add(1, Ordering::SeqCst);
    let upgrade = req
        .headers()
        .contains_key(http::header::UPGRADE)
        .then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    seen.lock().expect("seen").push(Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        version: parts.version,
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    let mut resp = Response::new(Full::new(Bytes::from(name.clone())));
    resp.headers_mut()
        .insert("x-backend", name.parse().expect("name"));
    // `x-respond-with: name=value` asks for a response header, so tests can watch the proxy
    // change response headers the backend really sent.
    for ask in parts.headers.get_all("x-respond-with") {
        if let Some((k, v)) = ask.to_str().ok().and_then(|a| a.split_once('=')) {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                resp.headers_mut().append(k, v);
            }
        }
    }
    let path = parts.uri.path().to_string();
    let mut seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let ["gate", n, ms, key, ..] = seg.as_slice() {
        let (n, ms) = (n.parse().unwrap_or(0), ms.parse().unwrap_or(0));
        gates.pass(n, ms, key).await;
        seg.drain(..4);
    }
    if let Some(up) = upgrade {
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        resp.headers_mut()
            .insert(http::header::CONNECTION, "upgrade".parse().expect("hv"));
        resp.headers_mut().insert(
            http::header::UPGRADE,
            parts.headers[http::header::UPGRADE].clone(),
        );
        *resp.body_mut() = Full::new(Bytes::new());
        tokio::spawn(async move {
            if let Ok(up) = up.await {
                let (mut r, mut w) = tokio::io::split(TokioIo::new(up));
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        });
        return Ok(resp);
    }
    if let Some(code) = always.and_then(|c| StatusCode::from_u16(c).ok()) {
        *resp.status_mut() = code;
        return Ok(resp);
    }
    match seg.as_slice() {
        ["status", code, ..] => {
            *resp.status_mut() = code
                .parse()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::BAD_REQUEST);
        }
        ["delay", ms, ..] => {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
        }
        ["bytes", n, ..] => {
            *resp.body_mut() = Full::new(Bytes::from(vec![b'x'; n.parse().unwrap_or(0)]));
        }
        ["fail-first", n, key, ..] => {
            let mut c = counters.lock().expect("counters");
            let k = c.entry(key.to_string()).or_default();
            *k += 1;
            if *k <= n.parse().unwrap_or(0) {
                *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            }
        }
        _ => {}
    }
    Ok(resp)
}

/// A response read whole.
#[derive(Debug)]
pub struct Got {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Got {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `x-backend` header: which backend answered.
    pub fn backend(&self) -> Option<&str> {
        self.headers.get("x-backend").and_then(|v| v.to_str().ok())
    }
}

/// Sends one HTTP/1.1 request to `to` over a new connection. `uri` may be absolute-form
/// (`http://reviews:9080/x`, explicit proxying) or origin-form (`/x`, then pass `Host`).
pub async fn send(to: SocketAddr, req: Request<Full<Bytes>>) -> Result<Got, hyper::Error> {
    let stream = TcpStream::connect(to).await.expect("connect to proxy");
    send_on(stream, req).await
}

/// Like [`send`], from source address `from`: any `127.x.y.z` on Linux, where all of
/// 127.0.0.0/8 is loopback, so that tests can have clients with distinct IPs.
pub async fn send_from(
    from: IpAddr,
    to: SocketAddr,
    req: Request<Full<Bytes>>,
) -> Result<Got, hyper::Error> {
    let socket = match from {
        IpAddr::V4(_) => TcpSocket::new_v4(),
        IpAddr::V6(_) => TcpSocket::new_v6(),
    }
    .expect("client socket");
    socket
        .bind(SocketAddr::new(from, 0))
        .unwrap_or_else(|e| panic!("bind the client to {from}: {e}"));
    let stream = socket.connect(to).await.expect("connect to proxy");
    send_on(stream, req).await
}

async fn send_on(stream: TcpStream, req: Request<Full<Bytes>>) -> Result<Got, hyper::Error> {
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    read_whole(tx.send_request(req).await?).await
}

/// Sends one HTTP/2 (prior knowledge, h2c) request to `to`.
pub async fn send_h2(to: SocketAddr, req: Request<Full<Bytes>>) -> Result<Got, hyper::Error> {
    let stream = TcpStream::connect(to).await.expect("connect to proxy");
    let (mut tx, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    read_whole(tx.send_request(req).await?).await
}

async fn read_whole(resp: Response<Incoming>) -> Result<Got, hyper::Error> {
    let (parts, body) = resp.into_parts();
    Ok(Got {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await?.to_bytes(),
    })
}

/// GET an absolute-form URL through an explicit proxy (what `HTTP_PROXY` clients do).
pub async fn get(proxy: SocketAddr, url: &str) -> Got {
    get_with(proxy, url, &[]).await
}

/// GET through an explicit proxy from source address `from` (see [`send_from`]).
pub async fn get_from(from: IpAddr, proxy: SocketAddr, url: &str) -> Got {
    let req = Request::get(url)
        .body(Full::new(Bytes::new()))
        .expect("request");
    send_from(from, proxy, req).await.expect("response")
}

pub async fn get_with(proxy: SocketAddr, url: &str, headers: &[(&str, &str)]) -> Got {
    let mut b = Request::get(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(proxy, b.body(Full::new(Bytes::new())).expect("request"))
        .await
        .expect("response")
}

/// Starts a proxy in-process from YAML with every admin endpoint on `127.0.0.1:0`.
/// `{name}` placeholders in the YAML are replaced from `vars` first.
pub async fn start_proxy(yaml: &str, vars: &[(&str, String)]) -> Arc<Proxy> {
    let snapshot = crate::config::parse(std::path::Path::new("test.yaml"), &fill(yaml, vars))
        .expect("test snapshot is valid");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let opts = ProxyOptions {
        admin_addr: Some(any),
        ..Default::default()
    };
    Proxy::start(snapshot, opts).await.expect("proxy starts")
}

/// Replaces `{key}` with values.
pub fn fill(template: &str, vars: &[(&str, String)]) -> String {
    let mut s = template.to_string();
    for (k, v) in vars {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

/// Polls `check` every 10 ms until it returns Some, or panics after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The proxy's Prometheus text, from its admin server.
pub async fn scrape(proxy: &Proxy) -> String {
    scrape_server(proxy, "admin").await
}

/// The proxy's Prometheus text from one of its servers (`admin`, `stats` or `health`).
pub async fn scrape_server(proxy: &Proxy, server: &str) -> String {
    let addr = proxy
        .admin_addr(server)
        .unwrap_or_else(|| panic!("no {server} server: set its address in ProxyOptions"));
    let req = Request::get("/stats/prometheus")
        .header("host", "admin")
        .body(Full::new(Bytes::new()))
        .expect("req");
    send(addr, req).await.expect("scrape").text()
}

/// Sum of the samples of `metric` whose labels contain every `label="value"` in `labels`.
pub fn metric_sum(text: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
    metric_value(text, metric, labels).unwrap_or(0.0)
}

/// Like [`metric_sum`], but `None` when no sample matches (a gauge that is absent, rather
/// than zero).
pub fn metric_value(text: &str, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| {
            l.starts_with(metric) && matches!(l.as_bytes().get(metric.len()), Some(b'{' | b' '))
        })
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(None, |sum, v| Some(sum.unwrap_or(0.0) + v))
}

/// Like [`start_proxy`], with extra options (e.g. a short `header_read_timeout`). The admin
/// server is on `127.0.0.1:0` unless `opts` names one.
pub async fn start_proxy_with(
    yaml: &str,
    vars: &[(&str, String)],
    opts: ProxyOptions,
) -> Arc<Proxy> {
    let snapshot = crate::config::parse(std::path::Path::new("test.yaml"), &fill(yaml, vars))
        .expect("test snapshot is valid");
    let opts = ProxyOptions {
        admin_addr: opts
            .admin_addr
            .or_else(|| Some("127.0.0.1:0".parse().expect("addr"))),
        ..opts
    };
    Proxy::start(snapshot, opts).await.expect("proxy starts")
}

/// Writes `bytes` on a new connection to `to` and returns what came back within `within`:
/// everything up to the end of the first response head (`\r\n\r\n`), or up to EOF. For
/// requests no well-behaved client would send (smuggling attempts, huge headers).
pub async fn raw_exchange(to: SocketAddr, bytes: &[u8], within: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(to).await.expect("connect");
    // The peer may answer and close before reading everything (431); that is not an error.
    let _ = s.write_all(bytes).await;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A TCP relay to `to` that counts the connections it accepts: put it between two proxies
/// to see how many connections one opens to the other.
#[derive(Debug)]
pub struct TcpRelay {
    pub addr: SocketAddr,
    /// TCP connections accepted.
    pub conns: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TcpRelay {
    pub async fn start(to: SocketAddr) -> TcpRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let conns = Arc::new(AtomicU64::new(0));
        let c = conns.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(mut up) = TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
            }
        });
        TcpRelay { addr, conns, task }
    }

    pub fn conns(&self) -> u64 {
        self.conns.load(Ordering::SeqCst)
    }
}

/// A TCP server that echoes every byte back, for `protocol: tcp` listeners.
#[derive(Debug)]
pub struct EchoServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EchoServer {
    pub async fn start() -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
        let addr = listener.local_addr().expect("echo addr");
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = stream.into_split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        EchoServer { addr, task }
    }
}

/// The blocking twin of [`eventually`], for tests that drive processes without a runtime:
/// polls `check` every 20 ms until it returns Some, or panics after `within`.
pub fn eventually_blocking<T>(
    within: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
