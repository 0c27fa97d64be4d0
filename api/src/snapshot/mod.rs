//! The configuration a proxy runs on: one versioned, self-contained snapshot.
//!
//! In static mode `mesh-proxy` reads it from a YAML (or JSON) file; later the control plane
//! computes it from the registry and the Istio resources and pushes it. The shape follows
//! Envoy's (listeners -> route tables -> clusters -> endpoints) while the leaf fields keep
//! Istio's names (`retries.perTryTimeout`, `connectionPool.http.http1MaxPendingRequests`,
//! `outlierDetection.consecutive5xxErrors`, ...), so a VirtualService or DestinationRule
//! translates field for field.
//!
//! Everything here is plain data. [`Snapshot::validate`] reports every structural problem at
//! once (dangling names, duplicate names, weights, percentages, regexes) with a field path.

pub mod delta;
mod security;
mod validate;

pub use delta::{DeltaError, SnapshotDelta};
pub use security::{
    AuthorizationRule, AuthzAction, AuthzFrom, AuthzOperation, AuthzRule, AuthzSource, AuthzTo,
    ClusterTls, ClusterTlsMode, MtlsMode, PeerAuthentication,
};
pub use validate::{SnapshotErrors, SnapshotIssue};

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::matcher::StringMatch;

/// A complete proxy configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Snapshot {
    /// Opaque version, ACKed back to the control plane and shown in `/config_dump`.
    #[serde(default)]
    pub version: String,
    /// Who this proxy is: the source of outbound metrics, the destination of inbound ones.
    #[serde(default)]
    pub node: Node,
    #[serde(default)]
    pub listeners: Vec<Listener>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    #[serde(default)]
    pub clusters: Vec<Cluster>,
}

/// The workload this proxy runs next to (Istio's peer metadata).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Node {
    /// Workload name, e.g. `reviews-v2` (`source_workload` / `destination_workload`).
    #[serde(default = "unknown")]
    pub workload: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Canonical service, e.g. `reviews` (`*_canonical_service`, `*_app`).
    #[serde(default = "unknown")]
    pub app: String,
    /// Canonical revision, e.g. `v2` (`*_version`).
    #[serde(default = "unknown")]
    pub version: String,
    /// The service's host name, e.g. `reviews.default.svc.cluster.local`
    /// (`destination_service` for inbound traffic).
    #[serde(default = "unknown")]
    pub service: String,
    /// SPIFFE identity (`source_principal` / `destination_principal`), empty without mTLS.
    #[serde(default)]
    pub principal: String,
    #[serde(default = "default_cluster_id")]
    pub cluster_id: String,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            workload: unknown(),
            namespace: default_namespace(),
            app: unknown(),
            version: unknown(),
            service: unknown(),
            principal: String::new(),
            cluster_id: default_cluster_id(),
        }
    }
}

fn unknown() -> String {
    "unknown".to_string()
}
fn default_namespace() -> String {
    "default".to_string()
}
fn default_cluster_id() -> String {
    "Kubernetes".to_string()
}

/// Which way traffic flows through a listener; sets the `reporter` metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the local app out to the mesh (`reporter="source"`).
    Outbound,
    /// From the mesh in to the local app (`reporter="destination"`).
    Inbound,
}

/// How a listener learns where a connection was meant to go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerMode {
    /// Requests name their destination: the HTTP authority (absolute-form or `Host`) selects
    /// the virtual host. This is how the local platform's `HTTP_PROXY` sidecars work.
    #[default]
    Explicit,
    /// Connections were redirected by iptables; the original destination comes from
    /// `SO_ORIGINAL_DST`. HTTP still routes by authority, falling back to the original
    /// destination; TCP forwards to the original destination unless `cluster` is set.
    Transparent,
}

/// The application protocol a listener speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1 and HTTP/2 (prior knowledge, h2c) on the same port, detected per connection.
    #[default]
    Http,
    /// Opaque bytes, forwarded both ways.
    Tcp,
}

/// A socket the proxy accepts connections on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Listener {
    pub name: String,
    pub address: SocketAddr,
    pub direction: Direction,
    #[serde(default)]
    pub mode: ListenerMode,
    #[serde(default)]
    pub protocol: Protocol,
    /// Route table for HTTP listeners (a name from `routes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_config: Option<String>,
    /// Cluster for TCP listeners (a name from `clusters`). Transparent TCP listeners may omit
    /// it to forward to the original destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Inbound only: whether peers must use mTLS. None: no mTLS termination (plain text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_authentication: Option<PeerAuthentication>,
    /// Inbound only: the AuthorizationPolicies for this workload, evaluated DENY first, then
    /// ALLOW (no ALLOW policy: allow all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization: Vec<AuthorizationRule>,
}

/// A named route table: virtual hosts chosen by authority.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteConfig {
    pub name: String,
    #[serde(default)]
    pub virtual_hosts: Vec<VirtualHost>,
}

/// Routes for a set of authorities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualHost {
    pub name: String,
    /// Authorities this host answers: `reviews`, `reviews:9080`, `*.example.com`, `*`.
    /// A domain without a port matches any port. Exact names win over suffix wildcards,
    /// which win over `*`.
    pub domains: Vec<String>,
    /// Tried in order; the first whose `match` fits the request handles it.
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// One routing rule (an Istio `HTTPRoute`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Route {
    #[serde(default)]
    pub name: String,
    /// Alternatives (OR). Empty means "match everything".
    #[serde(default, rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<RouteMatch>,
    /// Weighted destinations. Exactly one of `route`, `redirect`, `directResponse` is set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteDestination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Redirect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_response: Option<DirectResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<Rewrite>,
    /// Whole-request deadline, retries included. None: no timeout (Istio's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Mirror>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
}

/// All conditions of one match must hold (AND). Field names as Istio's `HTTPMatchRequest`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<StringMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<StringMatch>,
    /// Header names are matched case-insensitively.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, StringMatch>,
    /// The named headers must be absent (or not match).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub without_headers: BTreeMap<String, StringMatch>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query_params: BTreeMap<String, StringMatch>,
    #[serde(default)]
    pub ignore_uri_case: bool,
}

/// A destination cluster with its share of traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteDestination {
    pub cluster: String,
    /// Share in percent. When several destinations are listed the weights sum to 100; a single
    /// destination may leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
}

/// Answer with a redirect instead of forwarding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Redirect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// 301 (Istio's default), 302, 303, 307 or 308.
    #[serde(default = "default_redirect_code")]
    pub redirect_code: u16,
}

fn default_redirect_code() -> u16 {
    301
}

/// Answer directly with a fixed status and body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectResponse {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// Rewrite the request before forwarding. `uri` replaces the matched prefix (or the whole path
/// for exact and regex matches), as Istio does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rewrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
}

/// Istio's `HTTPRetry`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retries {
    /// Retries after the first try (Istio's meaning): `attempts: 2` makes up to 3 tries.
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_try_timeout: Option<Duration>,
    /// Comma-separated conditions: `5xx`, `gateway-error`, `reset`, `connect-failure`,
    /// `retriable-4xx`, `refused-stream`, `retriable-status-codes`, or bare status codes.
    /// Istio's default.
    #[serde(default = "default_retry_on")]
    pub retry_on: String,
}

fn default_retry_on() -> String {
    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes".to_string()
}

/// Istio's `HTTPFaultInjection`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<FaultDelay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<FaultAbort>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultDelay {
    pub fixed_delay: Duration,
    /// Percent of requests delayed, 0..=100 (fractions allowed). Default 100.
    #[serde(default = "hundred")]
    pub percentage: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultAbort {
    pub http_status: u16,
    /// Percent of requests aborted, 0..=100. Default 100.
    #[serde(default = "hundred")]
    pub percentage: f64,
}

fn hundred() -> f64 {
    100.0
}

/// Copy requests to a second cluster, fire and forget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mirror {
    pub cluster: String,
    /// Percent of requests mirrored, 0..=100. Default 100.
    #[serde(default = "hundred")]
    pub percentage: f64,
}

/// Istio's `Headers`: request and response manipulation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Headers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HeaderOperations>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HeaderOperations>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderOperations {
    /// Replace (or create) these headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    /// Append these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub add: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

/// An upstream service (one subset of one host and port).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    /// Istio's naming: `outbound|9080|v2|reviews.default.svc.cluster.local`.
    pub name: String,
    /// Host name for the `destination_service` label.
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// How to talk to the endpoints. `http2` is prior-knowledge h2c (proxy to proxy).
    #[serde(default)]
    pub protocol: UpstreamProtocol,
    #[serde(default)]
    pub load_balancer: LoadBalancer,
    #[serde(default)]
    pub connection_pool: ConnectionPool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
    /// How to secure connections to the endpoints; None: plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClusterTls>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamProtocol {
    #[default]
    Http1,
    Http2,
}

/// One backend instance, with the peer metadata metrics need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Endpoint {
    pub address: SocketAddr,
    #[serde(default = "one")]
    pub weight: u32,
    #[serde(default = "unknown")]
    pub workload: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default = "unknown")]
    pub app: String,
    #[serde(default = "unknown")]
    pub version: String,
    #[serde(default)]
    pub principal: String,
}

fn one() -> u32 {
    1
}

/// Istio's `LoadBalancerSettings`: `simple` or `consistentHash`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simple: Option<SimpleLb>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent_hash: Option<ConsistentHash>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SimpleLb {
    /// Istio's default since 1.14 is least request; ours too.
    #[default]
    LeastRequest,
    RoundRobin,
    Random,
    Passthrough,
}

/// Exactly one hash key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsistentHash {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_header_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_cookie: Option<HttpCookie>,
    #[serde(default)]
    pub use_source_ip: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_query_parameter_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCookie {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// When set and the cookie is absent, the proxy generates one and sets it on the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Duration>,
}

/// Istio's `ConnectionPoolSettings`. Unset limits are Envoy's defaults (effectively unlimited).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionPool {
    #[serde(default)]
    pub tcp: TcpSettings,
    #[serde(default)]
    pub http: HttpSettings,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<Duration>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http1_max_pending_requests: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_max_requests: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_connection: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Duration>,
}

/// Istio's `OutlierDetection`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutlierDetection {
    #[serde(default = "default_consecutive_5xx")]
    pub consecutive5xx_errors: u32,
    #[serde(default = "default_interval")]
    pub interval: Duration,
    #[serde(default = "default_base_ejection")]
    pub base_ejection_time: Duration,
    #[serde(default = "default_max_ejection")]
    pub max_ejection_percent: u32,
}

fn default_consecutive_5xx() -> u32 {
    5
}
fn default_interval() -> Duration {
    Duration::from_secs(10)
}
fn default_base_ejection() -> Duration {
    Duration::from_secs(30)
}
fn default_max_ejection() -> u32 {
    10
}

#[cfg(test)]
mod tests;
