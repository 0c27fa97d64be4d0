//! Passthrough: transparent traffic for a destination no route names.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use http::uri::Uri;
use http::{request, Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use mesh_api::snapshot::{Cluster, UpstreamProtocol};

use super::body::{self, Counted, ProxyBody};
use super::tx::Tx;
use super::{headers, local, upgrade};
use crate::metrics::ResponseFlags;

/// The passthrough cluster: transparent traffic for a destination no route names goes where
/// it was going (Istio's default `ALLOW_ANY` outbound policy).
static PASSTHROUGH: LazyLock<Cluster> = LazyLock::new(|| Cluster {
    name: "PassthroughCluster".into(),
    service: "PassthroughCluster".into(),
    endpoints: Vec::new(),
    protocol: UpstreamProtocol::Http1,
    load_balancer: Default::default(),
    connection_pool: Default::default(),
    outlier_detection: None,
    tls: None,
});

pub async fn passthrough(
    mut tx: Tx,
    mut parts: request::Parts,
    body: Counted<Incoming>,
    dst: SocketAddr,
    upgrade: Option<OnUpgrade>,
) -> Response<ProxyBody> {
    headers::strip_hop_by_hop(&mut parts.headers, upgrade.is_some());
    tx.cluster = Some(Arc::from("PassthroughCluster"));
    tx.upstream = Some(dst);
    tx.destination = tx.shared.config.load().passthrough.clone();
    let pool = tx.shared.pools.get(dst, &PASSTHROUGH, "");
    let mut req = Request::from_parts(parts, body::boxed(body));
    *req.version_mut() = Version::HTTP_11;
    if let Some(pq) = req.uri().path_and_query().cloned() {
        *req.uri_mut() = Uri::from(pq);
    }
    match pool.send(req, upgrade.is_some()).await {
        Ok((mut resp, conn)) => {
            match upgrade {
                Some(down) if resp.status() == StatusCode::SWITCHING_PROTOCOLS => {
                    upgrade::tunnel(down, hyper::upgrade::on(&mut resp));
                }
                _ => headers::strip_hop_by_hop(resp.headers_mut(), false),
            }
            tx.guards.conn = conn;
            tx.finish(resp)
        }
        Err(e) if e.is_connect_failure() => tx.finish_local(
            StatusCode::SERVICE_UNAVAILABLE,
            ResponseFlags::UF,
            local::CONNECT_FAILURE,
        ),
        Err(_) => tx.finish_local(
            StatusCode::SERVICE_UNAVAILABLE,
            ResponseFlags::UC,
            local::RESET,
        ),
    }
}
