//! The admin, stats and health servers (Istio's 15000, 15020, 15021). Each serves every
//! endpoint, so one address is enough where ports are scarce:
//! `/healthz/ready`, `/ready`, `/stats/prometheus`, `/config_dump`, `/logging`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::metrics::AgentStats;
use crate::proxy::Proxy;

/// Changes the log level at run time (`POST /logging?level=debug`).
pub trait LogControl: Send + Sync {
    fn set(&self, filter: &str) -> Result<(), String>;
    fn get(&self) -> String;
}

pub async fn serve(
    addr: SocketAddr,
    proxy: Arc<Proxy>,
    log: Option<Arc<dyn LogControl>>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        // Local only, but still not holdable by a client that never finishes its headers.
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(std::time::Duration::from_secs(10));
        let builder = Arc::new(builder);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let proxy = proxy.clone();
            let log = log.clone();
            let builder = builder.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let proxy = proxy.clone();
                    let log = log.clone();
                    async move { Ok::<_, Infallible>(handle(&proxy, log.as_deref(), req)) }
                });
                let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    Ok(bound)
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn handle(
    proxy: &Proxy,
    log: Option<&dyn LogControl>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let ready = !proxy.shared.is_draining();
    match req.uri().path() {
        "/healthz/ready" | "/ready" => {
            if ready {
                text(StatusCode::OK, "LIVE\n")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "DRAINING\n")
            }
        }
        "/stats/prometheus" | "/metrics" => {
            // Read per scrape: the certificate may have rotated since the last one.
            let agent = AgentStats {
                cert_not_after: proxy.shared.tls.as_ref().and_then(|t| t.not_after()),
            };
            let mut r = text(StatusCode::OK, proxy.shared.metrics.render(&agent));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        "/config_dump" => {
            let rt = proxy.shared.config.load_full();
            let listeners: Vec<_> = rt
                .snapshot
                .listeners
                .iter()
                .map(|l| serde_json::json!({"name": l.name, "bound": proxy.listener_addr(&l.name)}))
                .collect();
            let last_error = proxy
                .shared
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let dump = serde_json::json!({
                "version": rt.snapshot.version,
                "snapshot": &*rt.snapshot,
                "bound_listeners": listeners,
                "last_rejected_config_error": last_error,
                "draining": !ready,
                // The certificate in use and the trust bundle (null in plain text).
                "certificate": proxy.shared.tls.as_ref().map(|t| t.dump()),
            });
            let mut r = text(
                StatusCode::OK,
                serde_json::to_vec_pretty(&dump).unwrap_or_default(),
            );
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            r
        }
        "/logging" => {
            let Some(log) = log else {
                return text(
                    StatusCode::NOT_FOUND,
                    "log level control is not available in this process\n",
                );
            };
            let level = req
                .uri()
                .query()
                .and_then(|q| crate::route::query_param(q, "level"));
            match (req.method(), level) {
                (&Method::POST, Some(l)) => match log.set(l) {
                    Ok(()) => text(StatusCode::OK, format!("active loggers: {}\n", log.get())),
                    Err(e) => text(
                        StatusCode::BAD_REQUEST,
                        format!("invalid level {l:?}: {e}\nuse one of trace, debug, info, warn, error, off, or a tracing filter such as mesh_proxy=debug\n"),
                    ),
                },
                (&Method::POST, None) => text(StatusCode::BAD_REQUEST, "POST /logging?level=debug\n"),
                _ => text(StatusCode::OK, format!("active loggers: {}\n", log.get())),
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "admin endpoints: /healthz/ready /ready /stats/prometheus /config_dump /logging\n",
        ),
    }
}
