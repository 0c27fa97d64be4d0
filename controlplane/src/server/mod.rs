//! The config push server (DESIGN.md data flow 2) and the certificate endpoint (data flow 1).
//!
//! - [`listen`]: the config ports: plaintext h2c (15010) and TLS (15012), one HTTP/2 server.
//! - [`tls`]: the TLS port's own certificate (issued by the mesh CA, renewed at half-life),
//!   optional-but-verified client certificates.
//! - [`certs`]: CSR + proof (token, or the client certificate to renew) -> certificate.
//! - [`stream`]: one proxy's config stream: hello, proof, trust bundle, ACK/NACK relay.
//! - [`hub`]: the one owner of connected proxies and the registry they form; recomputes
//!   snapshots (debounced) on store or registry changes and sends only what changed.
//! - [`frame`]: content-hash versions and snapshot frames serialized once.
//! - [`persist`]: connected proxies remembered across restarts, so reconnects do not flap.
//! - [`status`]: SYNCED / STALE / NACKED / DISCONNECTED, and per-resource ACK counts.
//! - [`monitor`]: the monitoring port: `/debug/*`, the config API `/apis/*` and the
//!   telemetry API `/api/v1/*` ([`sections`]: its scrape targets and mesh sections).
//!
//! Proxies that connect over TLS with a client certificate are recorded as holding a mesh
//! certificate, and only traffic between such proxies is upgraded to mTLS automatically.

pub mod certs;
pub mod frame;
pub mod hub;
pub mod listen;
pub mod monitor;
pub mod persist;
pub mod push;
pub mod sections;
pub mod status;
pub mod stream;
pub mod tls;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::ca::{CertificateService, TokenAuthority};
use crate::store::ConfigStore;
pub use hub::HubOptions;
use monitor::MonitorCtx;
use stream::StreamCtx;

/// A running server's bound addresses.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    pub xds: SocketAddr,
    pub xds_tls: Option<SocketAddr>,
    pub monitoring: SocketAddr,
}

/// The TLS config port and the CA that issues on it.
#[derive(Debug)]
pub struct TlsPort {
    pub listener: TcpListener,
    pub certs: Arc<CertificateService>,
}

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot read a listener's address: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] tls::ServingError),
}

/// Serves the config ports and the monitoring port until `shutdown` flips to true.
pub async fn serve<S: ConfigStore + 'static>(
    store: Arc<S>,
    tokens: TokenAuthority,
    xds: TcpListener,
    xds_tls: Option<TlsPort>,
    monitoring: TcpListener,
    opts: HubOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<Bound, ServeError> {
    let bound = Bound {
        xds: xds.local_addr()?,
        xds_tls: xds_tls
            .as_ref()
            .map(|t| t.listener.local_addr())
            .transpose()?,
        monitoring: monitoring.local_addr()?,
    };
    let serving = match &xds_tls {
        Some(t) => Some(Arc::new(tls::Serving::new(t.certs.ca().clone())?)),
        None => None,
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
    let (tls_listener, certs) = match xds_tls {
        Some(t) => (Some(t.listener), Some(t.certs)),
        None => (None, None),
    };
    let sctx = Arc::new(StreamCtx {
        tokens,
        hub: cmd_tx,
        next_conn: AtomicU64::new(1),
        certs,
    });
    tokio::spawn(listen::serve_plain(xds, sctx.clone(), shutdown.clone()));
    if let (Some(listener), Some(serving)) = (tls_listener, serving) {
        let acceptor = serving.acceptor.clone();
        tokio::spawn(serving.renew(shutdown.clone()));
        tokio::spawn(listen::serve_tls(
            listener,
            sctx,
            acceptor,
            shutdown.clone(),
        ));
    }
    let mctx = Arc::new(MonitorCtx::new(store, status_rx, opts.scrape_interval));
    tokio::spawn(serve_monitoring(monitoring, mctx, shutdown));
    Ok(bound)
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
