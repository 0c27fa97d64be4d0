//! Serving one downstream connection: HTTP/1.1 and HTTP/2 (prior knowledge) on the same
//! port, with limits against hostile clients.

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;

use super::handler::{handle, ConnInfo, ListenerCtx};

/// Request headers larger than this get 431 (Envoy's default is 60 KiB).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
pub const MAX_HEADERS: usize = 100;
/// A client must finish sending its request headers within this time (slowloris).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What every HTTP listener shares: the connection builder and its limits.
#[derive(Debug)]
pub struct Server {
    builder: auto::Builder<TokioExecutor>,
    header_read_timeout: Duration,
}

impl Server {
    /// `header_read_timeout` bounds how long a client may take to send request headers,
    /// including the first request of a connection ([`HEADER_READ_TIMEOUT`] in production).
    pub fn new(header_read_timeout: Duration) -> Server {
        Server {
            builder: builder(header_read_timeout),
            header_read_timeout,
        }
    }

    /// How long a client has to send its first request (and to finish a TLS handshake).
    pub fn header_read_timeout(&self) -> Duration {
        self.header_read_timeout
    }
}

fn builder(header_read_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        .max_concurrent_streams(1024)
        .max_pending_accept_reset_streams(100)
        .keep_alive_interval(Duration::from_secs(30))
        // Fixed windows (hyper's 2 MB stream, 5 MB connection): ample between sidecars, and no
        // BDP pings.
        .adaptive_window(false);
    b
}

/// Serves HTTP on `stream`: a TCP stream, or a TLS stream the inbound mTLS side terminated.
pub async fn serve<S>(
    server: Arc<Server>,
    lc: Arc<ListenerCtx>,
    stream: S,
    info: ConnInfo,
    watcher: Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let info = Arc::new(info);
    // hyper's HTTP/1 header timeout only starts once the protocol is detected, which needs
    // the first bytes: a client that connects and stays silent (or stalls inside the HTTP/2
    // preface) would hold the connection forever. So the first request must also arrive
    // within the header timeout.
    let first_request = Arc::new(Notify::new());
    let seen = first_request.clone();
    let svc = service_fn(move |req| {
        seen.notify_one();
        handle(lc.clone(), info.clone(), req)
    });
    let conn = server
        .builder
        .serve_connection_with_upgrades(TokioIo::new(stream), svc);
    let conn = watcher.watch(conn.into_owned());
    tokio::pin!(conn);
    let result = tokio::select! {
        r = &mut conn => r,
        arrived = tokio::time::timeout(server.header_read_timeout, first_request.notified()) => {
            if arrived.is_err() {
                tracing::debug!("no request within the header read timeout; closing");
                return;
            }
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "downstream connection ended with an error");
    }
}
