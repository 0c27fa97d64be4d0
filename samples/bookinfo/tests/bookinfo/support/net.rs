//! In-test network pieces: a one-request HTTP client that reports "no answer" instead of
//! panicking (for polling), a recording forward proxy, and a scriptable reviews stand-in.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A response read whole.
#[derive(Debug, Clone)]
pub struct Got {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Got {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request over a new connection to `addr`. `target` is origin-form (`/x`) or
/// absolute-form (`http://reviews:9080/x`). None when nothing answers.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<Got> {
    let stream = TcpStream::connect(addr).await.ok()?;
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    let mut req = Request::builder().method(method).uri(target);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req = req.header("host", addr.to_string());
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let resp = tx.send_request(req).await.ok()?;
    let (parts, body) = resp.into_parts();
    Some(Got {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.collect().await.ok()?.to_bytes(),
    })
}

/// A request as a server in the test saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request target exactly as sent: absolute-form through a proxy.
    pub uri: String,
    pub headers: HeaderMap,
    pub at: Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An explicit HTTP forward proxy, like the local platform's sidecar in miniature: takes
/// absolute-form requests (`GET http://reviews:9080/reviews/0`), records them, and forwards
/// each to the address its host name maps to. A request that is not absolute-form or names
/// an unknown host gets 502, so a test sees it fail.
#[derive(Debug)]
pub struct Recorder {
    pub addr: SocketAddr,
    hosts: Arc<Mutex<HashMap<String, SocketAddr>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    /// A proxy with no hosts yet; add them with [`Recorder::route`].
    pub async fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let hosts: Arc<Mutex<HashMap<String, SocketAddr>>> = Arc::default();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (s, h) = (seen.clone(), hosts.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (hosts, seen) = (h.clone(), s.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req| forward(hosts.clone(), seen.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Recorder {
            addr,
            hosts,
            seen,
            task,
        }
    }

    /// Requests for `host` go to `to`.
    pub fn route(&self, host: &str, to: SocketAddr) {
        self.hosts
            .lock()
            .expect("hosts")
            .insert(host.to_string(), to);
    }

    /// `http://ADDR`, for `HTTP_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    /// The requests whose target starts with `prefix` (e.g. `http://ratings:9080/`).
    pub fn seen_for(&self, prefix: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.uri.starts_with(prefix))
            .collect()
    }
}

async fn forward(
    hosts: Arc<Mutex<HashMap<String, SocketAddr>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let bad = |why: String| {
        let mut r = Response::new(Full::new(Bytes::from(why)));
        *r.status_mut() = StatusCode::BAD_GATEWAY;
        Ok(r)
    };
    seen.lock().expect("seen").push(Seen {
        uri: req.uri().to_string(),
        headers: req.headers().clone(),
        at: Instant::now(),
    });
    let Some(host) = req.uri().host().map(str::to_string) else {
        return bad(format!("not absolute-form: {}", req.uri()));
    };
    let to = hosts.lock().expect("hosts").get(&host).copied();
    let Some(to) = to else {
        return bad(format!("unknown host {host}"));
    };
    let (mut parts, body) = req.into_parts();
    let origin: Uri = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/")
        .parse()
        .expect("path");
    parts.uri = origin;
    let body = body.collect().await?.to_bytes();
    let Ok(stream) = TcpStream::connect(to).await else {
        return bad(format!("cannot connect to {to}"));
    };
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let resp = tx
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// What the stand-in does with its n-th request (0-based).
#[derive(Debug, Clone)]
pub enum Step {
    /// Never answer (until the test ends).
    Stall,
    /// Answer this status with an empty body.
    Status(u16),
    /// Answer 200 with this JSON.
    Json(serde_json::Value),
}

/// A server that answers requests by a script, recording when each arrived: the reviews
/// stand-in for the timeout and retry tests.
#[derive(Debug)]
pub struct StandIn {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    /// Request n gets `script[n]`, or the last step when the script is shorter.
    pub async fn start(script: Vec<Step>) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stand-in");
        let addr = listener.local_addr().expect("addr");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script = Arc::new(script);
        let s = seen.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, script) = (s.clone(), script.clone());
                conns.spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let (seen, script) = (seen.clone(), script.clone());
                        async move {
                            let n = {
                                let mut seen = seen.lock().expect("seen");
                                seen.push(Seen {
                                    uri: req.uri().to_string(),
                                    headers: req.headers().clone(),
                                    at: Instant::now(),
                                });
                                seen.len() - 1
                            };
                            let step = script.get(n).or(script.last()).cloned();
                            let mut resp = Response::new(Full::new(Bytes::new()));
                            match step {
                                Some(Step::Stall) | None => {
                                    tokio::time::sleep(Duration::from_secs(3600)).await;
                                }
                                Some(Step::Status(code)) => {
                                    *resp.status_mut() =
                                        StatusCode::from_u16(code).expect("status");
                                }
                                Some(Step::Json(v)) => {
                                    *resp.body_mut() = Full::new(Bytes::from(v.to_string()));
                                }
                            }
                            Ok::<_, hyper::Error>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        StandIn { addr, seen, task }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    pub fn hits(&self) -> usize {
        self.seen.lock().expect("seen").len()
    }
}
