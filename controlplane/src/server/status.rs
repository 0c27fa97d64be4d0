//! Per-proxy sync state as the monitoring API reports it (`GET /debug/proxies`), and the
//! per-resource view (`GET /debug/resources`). Plain data, computed by the hub.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use mesh_api::xds::ProxyType;
use serde::Serialize;

use crate::store::Stored;

/// Where a proxy's config stands (Istio's `proxy-status` columns): the telemetry API's type.
pub use mesh_api::telemetry::SyncState;

/// One proxy's line in `/debug/proxies`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyStatus {
    /// `name.namespace`.
    pub id: String,
    /// `sidecar` or `router` (a gateway).
    pub proxy_type: ProxyType,
    pub service: String,
    pub workload: String,
    /// The `version` label, when it has one.
    pub version: Option<String>,
    pub namespace: String,
    /// All its labels (`app`, `version`, ...), which DestinationRule subsets and Gateway
    /// selectors match; `meshctl analyze` reads them.
    pub labels: BTreeMap<String, String>,
    pub state: SyncState,
    /// Unix seconds since which `state` holds.
    pub state_since: u64,
    /// The latest version sent, if any.
    pub version_sent: Option<String>,
    /// The latest version the proxy ACKed, if any.
    pub version_acked: Option<String>,
    /// The store revision the ACKed version was computed from.
    pub acked_revision: Option<u64>,
    /// The NACK's error, while the proxy is NACKED.
    pub error: Option<String>,
    /// The latest NACK's error on the current stream, also after a later version was ACKed.
    pub last_nack_error: Option<String>,
    /// Unix seconds when the current (or last) stream opened.
    pub connected_since: u64,
    /// Snapshots sent on the current stream (pushes are debounced and deduplicated).
    pub pushes: u64,
    /// The proxy's admin server, when it told us.
    pub admin: Option<SocketAddr>,
    /// The proxy's merged metrics server (what the control plane scrapes), when it told us.
    pub stats: Option<SocketAddr>,
    /// Problems translating its snapshot (rules naming unknown hosts, ...). Shared with the
    /// hub's entry: the status is republished after every batch of ACKs.
    pub warnings: std::sync::Arc<[String]>,
}

/// One resource's line in `/debug/resources`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub generation: u64,
    /// The store revision that last changed it.
    pub revision: u64,
    /// Connected proxies whose ACKed snapshot was computed at or after `revision`, so it
    /// includes this version of the resource.
    pub proxies_acked: usize,
    /// Connected proxies.
    pub proxies_connected: usize,
}

/// The per-resource view from the stored resources and the proxies' states.
pub fn resources(
    stored: &[std::sync::Arc<Stored>],
    proxies: &[ProxyStatus],
) -> Vec<ResourceStatus> {
    let connected: Vec<&ProxyStatus> = proxies
        .iter()
        .filter(|p| p.state != SyncState::Disconnected)
        .collect();
    stored
        .iter()
        .map(|s| ResourceStatus {
            kind: s.key.kind.to_string(),
            namespace: s.key.namespace.clone(),
            name: s.key.name.clone(),
            generation: s.generation,
            revision: s.updated_revision,
            proxies_acked: connected
                .iter()
                .filter(|p| p.acked_revision.is_some_and(|r| r >= s.updated_revision))
                .count(),
            proxies_connected: connected.len(),
        })
        .collect()
}
