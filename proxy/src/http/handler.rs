//! The request pipeline: check, route, inject faults, answer locally or forward.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::{header, Request, Response, StatusCode};
use hyper::body::Incoming;
use mesh_api::snapshot::{Direction, Listener, ListenerMode};

use super::body::{Counted, ProxyBody};
use super::tx::{Guards, LogInfo, Tx};
use super::{fault, forward, headers, local, passthrough};
use crate::authz;
use crate::metrics::{Peer, Reporter, ResponseFlags, SecurityPolicy};
use crate::route::RequestView;
use crate::runtime::Shared;

/// A listener's view of the proxy.
#[derive(Debug)]
pub struct ListenerCtx {
    pub cfg: Listener,
    pub shared: Arc<Shared>,
}

/// One downstream connection.
#[derive(Debug)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// Where an iptables-redirected connection was going (transparent listeners).
    pub original_dst: Option<SocketAddr>,
    /// The peer's SPIFFE ID, proven by the mTLS handshake (None for plain text).
    pub peer_identity: Option<Arc<str>>,
    /// Source labels for inbound metrics, interned once per connection from the identity.
    pub source_peer: Option<Arc<Peer>>,
}

pub async fn handle(
    lc: Arc<ListenerCtx>,
    conn: Arc<ConnInfo>,
    mut req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let shared = &lc.shared;
    let rt = shared.config.load_full();
    let (reporter, source, security) = match lc.cfg.direction {
        Direction::Outbound => (Reporter::Source, rt.node.clone(), SecurityPolicy::Unknown),
        Direction::Inbound => match &conn.source_peer {
            Some(peer) => (
                Reporter::Destination,
                peer.clone(),
                SecurityPolicy::MutualTls,
            ),
            None => (
                Reporter::Destination,
                shared.metrics.unknown_peer(),
                if conn.peer_identity.is_some() {
                    SecurityPolicy::MutualTls
                } else {
                    SecurityPolicy::None
                },
            ),
        },
    };
    headers::ensure_request_id(req.headers_mut());
    let authority = authority_of(&req);
    let mut tx = Tx {
        shared: shared.clone(),
        start: Instant::now(),
        reporter,
        destination: match lc.cfg.direction {
            Direction::Outbound => shared.metrics.unknown_peer(),
            Direction::Inbound => rt.node.clone(),
        },
        source,
        security,
        flags: ResponseFlags::NONE,
        code: 0,
        request_bytes: Arc::new(AtomicU64::new(0)),
        cluster: None,
        upstream: None,
        route: None,
        log: shared
            .access_log
            .as_ref()
            .map(|_| log_info(&req, &authority, conn.peer)),
        guards: Guards::default(),
    };

    // Request smuggling (Content-Length with Transfer-Encoding) never gets here: hyper reads
    // such a request as chunked, drops Content-Length and closes the connection after the
    // response (RFC 9112 6.1), so nothing can hide behind the body. tests/hostile.rs proves it.
    let Some(authority) = authority else {
        return Ok(tx.finish_local(
            StatusCode::BAD_REQUEST,
            ResponseFlags::NONE,
            "missing authority (Host header)",
        ));
    };

    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let policies = match lc.cfg.direction {
        Direction::Inbound => rt.authorization.get(lc.cfg.name.as_str()),
        Direction::Outbound => None,
    };
    if let Some(policies) = policies {
        let decision = authz::evaluate(
            policies,
            &authz::AuthzRequest {
                principal: conn.peer_identity.as_deref(),
                method: req.method().as_str(),
                path,
                port: conn.original_dst.unwrap_or(conn.local).port(),
                host: &authority,
            },
        );
        if !decision.is_allowed() {
            shared.metrics.rbac_denied.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%authority, %path, peer = ?conn.peer_identity, ?decision, "RBAC: access denied");
            if let Some(log) = tx.log.as_mut() {
                log.details = decision.details();
            }
            return Ok(tx.finish_local(
                StatusCode::FORBIDDEN,
                ResponseFlags::NONE,
                authz::DENIED_BODY,
            ));
        }
    }
    let table = lc.cfg.route_config.as_ref().and_then(|n| rt.routes.get(n));
    let view = RequestView {
        authority: &authority,
        method: req.method().as_str(),
        path,
        query,
        headers: req.headers(),
    };
    let matched = table.and_then(|t| t.find(&view));
    let Some(matched) = matched else {
        if lc.cfg.mode == ListenerMode::Transparent {
            if let Some(dst) = conn.original_dst.filter(|d| *d != conn.local) {
                let upgrade =
                    headers::is_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
                let (parts, body) = req.into_parts();
                let body = Counted::new(body, tx.request_bytes.clone());
                return Ok(passthrough::passthrough(tx, parts, body, dst, upgrade).await);
            }
        }
        tracing::debug!(%authority, path = %req.uri().path(), listener = %lc.cfg.name, "no route");
        return Ok(tx.finish_local(StatusCode::NOT_FOUND, ResponseFlags::NR, ""));
    };
    let route = matched.route.clone();
    let matched_prefix = matched.matched_prefix.map(str::to_owned);
    tx.route = Some(route.name.clone());
    tracing::debug!(%authority, virtual_host = %route.host, route = %route.cfg.name, "routed");

    if let Some(f) = &route.cfg.fault {
        if let Some(status) = fault::inject(f, &mut tx.flags).await {
            return Ok(tx.finish_local(status, ResponseFlags::FI, local::FAULT_ABORT));
        }
    }
    if let Some(resp) = fault::direct(&route.cfg, &req, &authority) {
        return Ok(tx.finish(resp));
    }
    let upgrade = headers::is_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let body = Counted::new(body, tx.request_bytes.clone());
    Ok(forward::forward(forward::Forward {
        tx,
        rt: &rt,
        route: &route,
        authority,
        matched_prefix,
        parts,
        body,
        client_ip: conn.peer.ip(),
        upgrade,
    })
    .await)
}

/// The request's authority: absolute-form URI first (explicit proxying), then `Host`.
fn authority_of<B>(req: &Request<B>) -> Option<String> {
    if let Some(a) = req.uri().authority() {
        return Some(a.as_str().to_string());
    }
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .map(str::to_string)
}

fn log_info<B>(
    req: &Request<B>,
    authority: &Option<String>,
    downstream: SocketAddr,
) -> Box<LogInfo> {
    let hv = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    Box::new(LogInfo {
        start_time: SystemTime::now(),
        method: req.method().clone(),
        path: req
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        authority: authority.clone().unwrap_or_default(),
        protocol: match req.version() {
            http::Version::HTTP_2 => "HTTP/2",
            http::Version::HTTP_10 => "HTTP/1.0",
            _ => "HTTP/1.1",
        },
        request_id: hv("x-request-id"),
        user_agent: hv("user-agent"),
        downstream,
        traceparent: hv("traceparent"),
        details: String::new(),
    })
}
