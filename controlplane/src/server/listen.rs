//! Accept loops of the config ports: plaintext h2c (15010) and TLS (15012). Both end in the
//! same HTTP/2 server and [`route`]; what differs is the [`Peer`] each request carries.

use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use mesh_api::xds::CERTIFICATE_PATH;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::stream::{self, Body, StreamCtx};
use crate::ca::tls::peer_spiffe_id;
use crate::ca::Identity;

/// How long a client has to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who is on the other end of a connection.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    /// The connection is TLS (the 15012 port).
    pub tls: bool,
    /// The identity of its verified client certificate, if it presented one.
    pub identity: Option<Identity>,
}

/// Serves plaintext HTTP/2 (prior knowledge) until `shutdown` flips.
pub async fn serve_plain(
    listener: TcpListener,
    ctx: Arc<StreamCtx>,
    shutdown: watch::Receiver<bool>,
) {
    accept_loop(listener, ctx, None, shutdown).await
}

/// Serves HTTP/2 over TLS until `shutdown` flips.
pub async fn serve_tls(
    listener: TcpListener,
    ctx: Arc<StreamCtx>,
    acceptor: TlsAcceptor,
    shutdown: watch::Receiver<bool>,
) {
    accept_loop(listener, ctx, Some(acceptor), shutdown).await
}

async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<StreamCtx>,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((tcp, addr)) = accepted else { continue };
        let _ = tcp.set_nodelay(true);
        let ctx = ctx.clone();
        let Some(acceptor) = tls.clone() else {
            tokio::spawn(serve_conn(tcp, Peer::default(), ctx));
            continue;
        };
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    // A proxy presenting an expired or foreign certificate ends here.
                    tracing::warn!(peer = %addr, error = %e, "TLS handshake with a client failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(peer = %addr, "TLS handshake timed out");
                    return;
                }
            };
            let peer = Peer {
                tls: true,
                identity: peer_spiffe_id(stream.get_ref().1),
            };
            serve_conn(stream, peer, ctx).await;
        });
    }
}

/// HTTP/2 with keep-alive pings, so a vanished proxy is noticed within seconds.
async fn serve_conn<IO>(io: IO, peer: Peer, ctx: Arc<StreamCtx>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = Arc::new(peer);
    let svc = service_fn(move |req| {
        let (ctx, peer) = (ctx.clone(), peer.clone());
        async move { Ok::<_, std::convert::Infallible>(route(ctx, &peer, req).await) }
    });
    // istiod's defaults (`--keepaliveInterval 30s`, `--keepaliveTimeout 10s`). A proxy that
    // exits closes its connection at once; pings find the ones that vanished silently. A
    // shorter timeout cut busy proxies off: 2000 streams taking their first 2 MB snapshot
    // at once answer a ping late, not never.
    let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    b.timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    if let Err(e) = b.serve_connection(TokioIo::new(io), svc).await {
        tracing::debug!(error = %e, "config connection ended");
    }
}

/// The certificate endpoint, or the config stream.
async fn route(ctx: Arc<StreamCtx>, peer: &Peer, req: Request<Incoming>) -> http::Response<Body> {
    if req.uri().path() == CERTIFICATE_PATH {
        return match &ctx.certs {
            Some(svc) => super::certs::handle(svc, peer, req).await,
            None => stream::text(
                http::StatusCode::NOT_FOUND,
                "this control plane issues no certificates\n",
            ),
        };
    }
    stream::handle(ctx, peer, req).await
}
