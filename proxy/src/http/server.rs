//! Serving one downstream connection: HTTP/1.1 and HTTP/2 (prior knowledge) on the same
//! port, with limits against hostile clients.

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use tokio::net::TcpStream;

use super::handler::{handle, ConnInfo, ListenerCtx};

/// Request headers larger than this get 431 (Envoy's default is 60 KiB).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
pub const MAX_HEADERS: usize = 100;
/// A client must finish sending its request headers within this time (slowloris).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The connection builder every listener shares.
pub fn builder() -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        .max_concurrent_streams(1024)
        .max_pending_accept_reset_streams(100)
        .keep_alive_interval(Duration::from_secs(30))
        .adaptive_window(true);
    b
}

pub async fn serve(
    builder: Arc<auto::Builder<TokioExecutor>>,
    lc: Arc<ListenerCtx>,
    stream: TcpStream,
    info: ConnInfo,
    watcher: Watcher,
) {
    let _ = stream.set_nodelay(true);
    let info = Arc::new(info);
    let svc = service_fn(move |req| handle(lc.clone(), info.clone(), req));
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(error = %e, "downstream connection ended with an error");
    }
}
