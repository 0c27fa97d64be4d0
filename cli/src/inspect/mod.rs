//! What the inspection commands (`proxy-status`, `proxy-config`, `analyze`, `stat`,
//! `verify-install`) read, typed: the control plane's `/debug/proxies`, a proxy's admin
//! `/config_dump`, and JSON answers in general. Also how they print ages ([`format`]) and
//! a proxy's config ([`config_tables`]).

pub mod config_tables;
pub mod format;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use mesh_api::snapshot::Snapshot;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::client::ApiClient;

/// How long a proxy's admin port gets to answer.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);

/// `GET path` from `api`, read as JSON; errors name the peer and the path.
pub async fn get_json<T: DeserializeOwned>(api: &ApiClient, path: &str) -> anyhow::Result<T> {
    let reply = api.get(path).await?;
    if !reply.status.is_success() {
        bail!(
            "GET http://{}{path} answered {}: {}",
            api.addr(),
            reply.status,
            reply.body.trim()
        );
    }
    serde_json::from_str(&reply.body).with_context(|| {
        format!(
            "GET http://{}{path} answered something this meshctl cannot read (are meshctl and \
             the mesh the same version? `meshctl version` shows both)",
            api.addr()
        )
    })
}

/// One proxy as the control plane's `/debug/proxies` lists it.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProxyInfo {
    /// `name.namespace`.
    pub id: String,
    /// `sidecar`, or `router` for a gateway.
    #[serde(default)]
    pub proxy_type: String,
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub workload: String,
    /// The `version` label.
    pub version: Option<String>,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// SYNCED, STALE, NACKED or DISCONNECTED.
    pub state: String,
    /// Unix seconds since which `state` holds.
    #[serde(default)]
    pub state_since: u64,
    pub version_sent: Option<String>,
    pub version_acked: Option<String>,
    /// The NACK's error while NACKED.
    pub error: Option<String>,
    pub last_nack_error: Option<String>,
    #[serde(default)]
    pub connected_since: u64,
    /// Its admin server (`/config_dump`, `/healthz/ready`).
    pub admin: Option<SocketAddr>,
    /// Its merged metrics server.
    pub stats: Option<SocketAddr>,
    /// Problems translating its config.
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl ProxyInfo {
    /// A gateway rather than a sidecar.
    pub fn is_gateway(&self) -> bool {
        self.proxy_type == "router"
    }

    /// The instance name without the namespace.
    pub fn name(&self) -> &str {
        self.id
            .strip_suffix(&format!(".{}", self.namespace))
            .unwrap_or(&self.id)
    }
}

/// Every proxy the control plane knows (connected, or disconnected within its grace).
pub async fn proxies(api: &ApiClient) -> anyhow::Result<Vec<ProxyInfo>> {
    get_json(api, "/debug/proxies").await
}

/// The proxy `name` names: its id (`reviews-v1-0.default`), its name without the namespace,
/// or a prefix only one id has. The error lists the known ones.
pub fn find<'a>(proxies: &'a [ProxyInfo], name: &str) -> Result<&'a ProxyInfo, String> {
    if let Some(p) = proxies.iter().find(|p| p.id == name) {
        return Ok(p);
    }
    let by_name: Vec<&ProxyInfo> = proxies.iter().filter(|p| p.name() == name).collect();
    let candidates = if by_name.is_empty() {
        proxies.iter().filter(|p| p.id.starts_with(name)).collect()
    } else {
        by_name
    };
    match candidates.as_slice() {
        [one] => Ok(one),
        [] if proxies.is_empty() => Err(format!(
            "no proxy named {name:?}: no proxy is connected to the control plane (deploy a \
             workload, e.g. `meshctl samples deploy bookinfo`)"
        )),
        [] => Err(format!(
            "no proxy named {name:?}; the known proxies are: {}",
            ids(proxies.iter())
        )),
        many => Err(format!(
            "{name:?} names several proxies: {}; give the whole name",
            ids(many.iter().copied())
        )),
    }
}

fn ids<'a>(proxies: impl Iterator<Item = &'a ProxyInfo>) -> String {
    proxies
        .map(|p| p.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A listener as the proxy bound it.
#[derive(Deserialize, Debug, Clone)]
pub struct BoundListener {
    pub name: String,
    pub bound: Option<SocketAddr>,
}

/// The certificate a proxy holds, as its `/config_dump` shows it (snake_case there; meshctl
/// prints it in camelCase like the rest of its JSON).
#[derive(Deserialize, Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all(serialize = "camelCase"))]
pub struct CertificateDump {
    /// `spiffe://cluster.local/ns/default/sa/reviews`.
    pub spiffe_id: String,
    /// Hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    /// Validity, Unix seconds.
    pub not_before: u64,
    pub not_after: u64,
    /// The roots it trusts peers' certificates to chain to.
    #[serde(default)]
    pub trust_bundle: Vec<RootDump>,
}

/// One root of a proxy's trust bundle.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all(serialize = "camelCase"))]
pub struct RootDump {
    pub subject: String,
    pub serial: String,
    pub not_before: u64,
    pub not_after: u64,
}

/// A proxy's `GET /config_dump`.
#[derive(Deserialize, Debug, Clone)]
pub struct ConfigDump {
    /// The version of the snapshot in force.
    pub version: String,
    /// The snapshot in force: listeners, routes, clusters.
    pub snapshot: Snapshot,
    #[serde(default)]
    pub bound_listeners: Vec<BoundListener>,
    /// Why the last rejected config was rejected.
    pub last_rejected_config_error: Option<String>,
    #[serde(default)]
    pub draining: bool,
    /// Its certificate, when it holds one.
    #[serde(default)]
    pub certificate: Option<CertificateDump>,
}

/// A client for the admin port of `proxy`, or why there is none.
pub fn admin(proxy: &ProxyInfo) -> anyhow::Result<ApiClient> {
    let addr = proxy.admin.ok_or_else(|| {
        anyhow!(
            "{} did not tell the control plane where its admin server is (mesh-proxy sends \
             its --admin-addr in its hello; restart it with --admin-addr)",
            proxy.id
        )
    })?;
    Ok(ApiClient::named(
        &format!("the admin server of {}", proxy.id),
        addr,
        ADMIN_TIMEOUT,
    ))
}

/// The `/config_dump` of `proxy`.
pub async fn config_dump(proxy: &ProxyInfo) -> anyhow::Result<ConfigDump> {
    get_json(&admin(proxy)?, "/config_dump").await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(id: &str) -> ProxyInfo {
        serde_json::from_value(serde_json::json!({
            "id": id, "namespace": id.rsplit('.').next(), "state": "SYNCED"
        }))
        .expect("proxy")
    }

    #[test]
    fn finds_proxies_by_id_name_or_unique_prefix() {
        let all = [
            proxy("reviews-v1-0.default"),
            proxy("reviews-v2-0.default"),
            proxy("ratings-v1-0.prod"),
        ];
        assert_eq!(
            find(&all, "reviews-v1-0.default").map(|p| &p.id),
            Ok(&all[0].id)
        );
        assert_eq!(find(&all, "ratings-v1-0").map(|p| &p.id), Ok(&all[2].id));
        assert_eq!(find(&all, "reviews-v2").map(|p| &p.id), Ok(&all[1].id));
        let many = find(&all, "reviews").expect_err("ambiguous");
        assert!(many.contains("several") && many.contains("reviews-v2-0.default"));
        let none = find(&all, "details").expect_err("unknown");
        assert!(
            none.contains("known proxies are: reviews-v1-0.default, reviews-v2-0.default"),
            "{none}"
        );
        assert!(find(&[], "x")
            .expect_err("none")
            .contains("no proxy is connected"));
    }
}
