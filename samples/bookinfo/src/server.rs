//! The HTTP server every service runs on: HTTP/1.1 and h2c on one port, one log line per
//! request, and a graceful stop (finish what is in flight, up to a deadline) on SIGTERM or
//! Ctrl-C. Also the small response builders the services share.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

/// The response type of every handler.
pub type Resp = Response<Full<Bytes>>;

/// How long a stopping server waits for requests in flight.
pub const DRAIN: Duration = Duration::from_secs(5);

/// The largest request body a service reads (login form, posted ratings).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Binds `addr`, with a message that says what to do when it cannot.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, std::io::Error> {
    TcpListener::bind(addr).await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "another process listens there; stop it or pass --listen with another address"
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "this machine has no such address; pass --listen with one of its addresses"
            }
            std::io::ErrorKind::PermissionDenied => {
                "ports below 1024 need privileges; pass --listen with a higher port"
            }
            _ => "pass --listen with another address",
        };
        std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}; {hint}"))
    })
}

/// Serves `handler` on `listener` until `stop` completes, then lets requests in flight
/// finish for up to [`DRAIN`].
pub async fn serve<H, F>(
    listener: TcpListener,
    service: &'static str,
    handler: H,
    stop: impl Future<Output = ()>,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Resp> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // With a timer, hyper gives a client 30 s to send its request headers, so idle or
    // trickling connections cannot pile up.
    builder.http1().timer(TokioTimer::new());
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let svc = service_fn(move |req: Request<Incoming>| {
            let handler = handler.clone();
            async move {
                let started = Instant::now();
                let method = req.method().clone();
                let path = req.uri().path().to_string();
                let resp = handler(req).await;
                tracing::info!(
                    service,
                    %method,
                    path,
                    status = resp.status().as_u16(),
                    ms = started.elapsed().as_millis() as u64,
                    "request"
                );
                Ok::<_, std::convert::Infallible>(resp)
            }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN:?}; stopping anyway");
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        }
        // Without signal handlers the default disposition (exit) applies; run until then.
        _ => std::future::pending::<()>().await,
    }
}

/// Reads a request body of at most [`MAX_REQUEST_BYTES`].
pub async fn read_body(req: Request<Incoming>) -> Result<Bytes, Resp> {
    match Limited::new(req.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
    {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body over {MAX_REQUEST_BYTES} bytes"),
        )),
        Err(e) => Err(text(
            StatusCode::BAD_REQUEST,
            &format!("reading the request body failed: {e}"),
        )),
    }
}

fn with_type(status: StatusCode, content_type: &'static str, body: Bytes) -> Resp {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Resp {
    with_type(status, "application/json", Bytes::from(value.to_string()))
}

/// An HTML page.
pub fn html(status: StatusCode, page: String) -> Resp {
    with_type(status, "text/html; charset=utf-8", Bytes::from(page))
}

/// A plain-text response.
pub fn text(status: StatusCode, body: &str) -> Resp {
    with_type(
        status,
        "text/plain; charset=utf-8",
        Bytes::from(body.to_string()),
    )
}

/// 404 for a path the service does not have.
pub fn not_found() -> Resp {
    text(StatusCode::NOT_FOUND, "Not Found")
}

/// 405 for a known path and the wrong method.
pub fn method_not_allowed(allowed: &'static str) -> Resp {
    let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    resp.headers_mut()
        .insert(http::header::ALLOW, HeaderValue::from_static(allowed));
    resp
}

/// A 302 to `location`, optionally setting a cookie.
pub fn redirect(location: &str, cookie: Option<HeaderValue>) -> Resp {
    let mut resp = text(StatusCode::FOUND, "Redirecting");
    let location =
        HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("productpage"));
    resp.headers_mut().insert(LOCATION, location);
    if let Some(c) = cookie {
        resp.headers_mut().insert(SET_COOKIE, c);
    }
    resp
}
