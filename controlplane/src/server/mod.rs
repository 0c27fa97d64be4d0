//! The config push server (DESIGN.md data flow 2), plaintext h2c for now.
//!
//! - [`stream`]: one proxy's config stream: hello, bootstrap token, ACK/NACK relay.
//! - [`hub`]: the one owner of connected proxies and the registry they form; recomputes
//!   snapshots (debounced) on store or registry changes and sends only what changed.
//! - [`frame`]: content-hash versions and snapshot frames serialized once.
//! - [`persist`]: connected proxies remembered across restarts, so reconnects do not flap.
//! - [`status`]: SYNCED / STALE / NACKED / DISCONNECTED, and per-resource ACK counts.
//! - [`monitor`]: the monitoring port: `/debug/*`, the config API `/apis/*` and the
//!   telemetry API `/api/v1/*` ([`sections`]: its scrape targets and mesh sections).
//!
//! TLS (15012) will wrap the accepted streams before [`serve_h2c`]'s HTTP/2 layer; nothing
//! above the byte stream depends on the transport.

pub mod frame;
pub mod hub;
pub mod monitor;
pub mod persist;
pub mod sections;
pub mod status;
pub mod stream;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::ca::TokenAuthority;
use crate::store::ConfigStore;
pub use hub::HubOptions;
use monitor::MonitorCtx;
use stream::StreamCtx;

/// A running server's bound addresses.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    pub xds: SocketAddr,
    pub monitoring: SocketAddr,
}

/// Binds both ports and serves until `shutdown` flips to true.
pub async fn serve<S: ConfigStore + 'static>(
    store: Arc<S>,
    tokens: TokenAuthority,
    xds: TcpListener,
    monitoring: TcpListener,
    opts: HubOptions,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<Bound> {
    let bound = Bound {
        xds: xds.local_addr()?,
        monitoring: monitoring.local_addr()?,
    };
    let (cmd_tx, cmd_rx) = mpsc::channel(1024);
    let (status_tx, status_rx) = watch::channel(Arc::new(Vec::new()));
    tokio::spawn(hub::run(
        store.clone(),
        opts.clone(),
        cmd_tx.clone(),
        cmd_rx,
        status_tx,
        shutdown.clone(),
    ));
    let sctx = Arc::new(StreamCtx {
        tokens,
        hub: cmd_tx,
        next_conn: AtomicU64::new(1),
    });
    tokio::spawn(serve_h2c(xds, sctx, shutdown.clone()));
    let mctx = Arc::new(MonitorCtx::new(store, status_rx, opts.scrape_interval));
    tokio::spawn(serve_monitoring(monitoring, mctx, shutdown));
    Ok(bound)
}

/// The config streams: HTTP/2 with prior knowledge, keep-alive pings so a vanished proxy is
/// noticed within seconds.
async fn serve_h2c(
    listener: TcpListener,
    ctx: Arc<StreamCtx>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let _ = tcp.set_nodelay(true);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, std::convert::Infallible>(stream::handle(ctx, req).await) }
            });
            let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            b.timer(TokioTimer::new())
                .keep_alive_interval(Some(Duration::from_secs(5)))
                .keep_alive_timeout(Duration::from_secs(5));
            if let Err(e) = b.serve_connection(TokioIo::new(tcp), svc).await {
                tracing::debug!(error = %e, "config stream connection ended");
            }
        });
    }
}

async fn serve_monitoring<S: ConfigStore + 'static>(
    listener: TcpListener,
    ctx: Arc<MonitorCtx<S>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, std::convert::Infallible>(monitor::handle(ctx, req).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}
