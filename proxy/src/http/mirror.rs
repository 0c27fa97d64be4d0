//! Mirroring: a copy of a request to a second cluster, fire and forget.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::Authority;
use http_body_util::BodyExt;
use mesh_api::snapshot::UpstreamProtocol;

use super::body;
use super::forward::Head;
use crate::cluster::{ClusterState, HashKey};

/// Sends a copy to the mirror cluster, fire and forget: never awaited by the main request,
/// refused (not queued) when the mirror cluster is at its limits. The host gets `-shadow`
/// (`reviews:9080` -> `reviews-shadow:9080`), as with Envoy and Istio.
pub(super) fn mirror_request(cluster: Arc<ClusterState>, head: &Head, body: Bytes) {
    let shadow = match head.authority.port() {
        Some(port) => format!("{}-shadow:{}", head.authority.host(), port.as_str()),
        None => format!("{}-shadow", head.authority.host()),
    };
    let Ok(authority) = Authority::try_from(shadow) else {
        return;
    };
    let mut mhead = Head {
        method: head.method.clone(),
        authority,
        path: head.path.clone(),
        headers: head.headers.clone(),
        protocol: cluster.cfg.protocol,
    };
    if mhead.protocol == UpstreamProtocol::Http1 {
        if let Ok(v) = HeaderValue::from_str(mhead.authority.as_str()) {
            mhead.headers.insert(header::HOST, v);
        }
    } else {
        mhead.headers.remove(header::HOST);
    }
    tokio::spawn(async move {
        let Some(ep) = cluster.pick(&HashKey::default(), Instant::now()).cloned() else {
            return;
        };
        let Ok(Ok(_permit)) = tokio::time::timeout(
            Duration::ZERO,
            cluster
                .limits
                .admit(mhead.protocol == UpstreamProtocol::Http1),
        )
        .await
        else {
            return;
        };
        let send = ep.pool.send(mhead.build(body::full(body), true), false);
        if let Ok(Ok((resp, _conn))) = tokio::time::timeout(Duration::from_secs(30), send).await {
            let _ = tokio::time::timeout(Duration::from_secs(30), resp.into_body().collect()).await;
        }
    });
}
