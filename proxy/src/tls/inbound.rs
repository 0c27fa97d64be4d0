//! The inbound side of mTLS: PeerAuthentication decides, per connection, whether to terminate
//! TLS, accept plain text, or refuse it.
//!
//! The mode is chosen by the connection's destination port: the original destination's port
//! on transparent listeners, the listener's own port otherwise (what `portLevelMtls` keys
//! on). PERMISSIVE tells TLS from plain text by the first byte: a TLS handshake record starts
//! with 0x16, which no HTTP/1 method or the HTTP/2 preface does.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::Watcher;
use mesh_api::snapshot::MtlsMode;
use mesh_identity::tls::peer_spiffe_id;
use tokio::net::TcpStream;

use super::TlsContext;
use crate::http::{server, ConnInfo, ListenerCtx};
use crate::metrics::PeerLabels;

const TLS_HANDSHAKE: u8 = 0x16;

/// What the listener does with a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Plain,
    /// Terminate TLS if the client starts one; plain text otherwise.
    Permissive,
    /// TLS only.
    Strict,
}

/// The plan for a connection to `port` (pure, for tests).
pub fn plan(lc: &ListenerCtx, tls: Option<&TlsContext>, port: u16) -> Plan {
    let (Some(pa), Some(_)) = (&lc.cfg.peer_authentication, tls) else {
        return Plan::Plain;
    };
    match pa.mode_for(port) {
        MtlsMode::Strict => Plan::Strict,
        MtlsMode::Disable => Plan::Plain,
        MtlsMode::Permissive | MtlsMode::Unset => Plan::Permissive,
    }
}

/// Serves one inbound HTTP connection under its PeerAuthentication.
pub async fn serve(
    srv: Arc<server::Server>,
    lc: Arc<ListenerCtx>,
    stream: TcpStream,
    mut info: ConnInfo,
    watcher: Watcher,
) {
    let tls = lc.shared.tls.clone();
    let port = info.original_dst.unwrap_or(info.local).port();
    let plan = plan(&lc, tls.as_deref(), port);
    let Some(tls) = tls.filter(|_| plan != Plan::Plain) else {
        return server::serve(srv, lc, stream, info, watcher).await;
    };
    let is_tls = match first_byte(&stream, srv.header_read_timeout()).await {
        Some(b) => b == TLS_HANDSHAKE,
        None => return, // closed or silent
    };
    if !is_tls {
        if plan == Plan::Strict {
            lc.shared
                .metrics
                .mtls_plaintext_rejected
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(peer = %info.peer, listener = %lc.cfg.name, "plain text refused: PeerAuthentication STRICT");
            return;
        }
        return server::serve(srv, lc, stream, info, watcher).await;
    }
    let accept = tokio::time::timeout(srv.header_read_timeout(), tls.acceptor.accept(stream));
    let stream = match accept.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            lc.shared
                .metrics
                .mtls_handshake_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(peer = %info.peer, error = %e, "inbound TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    if let Some(id) = peer_spiffe_id(stream.get_ref().1) {
        let id = id.spiffe_id();
        // Interned once per connection: requests reuse the series key.
        info.source_peer = Some(lc.shared.metrics.intern(PeerLabels {
            principal: id.clone(),
            namespace: crate::authz::namespace_of(&id).unwrap_or("unknown").into(),
            ..PeerLabels::unknown()
        }));
        info.peer_identity = Some(id.into());
    }
    server::serve(srv, lc, stream, info, watcher).await
}

async fn first_byte(stream: &TcpStream, within: Duration) -> Option<u8> {
    let mut b = [0u8; 1];
    match tokio::time::timeout(within, stream.peek(&mut b)).await {
        Ok(Ok(1)) => Some(b[0]),
        _ => None,
    }
}
