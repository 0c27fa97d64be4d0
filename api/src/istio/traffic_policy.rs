//! Istio's `TrafficPolicy`: load balancing, connection pools (circuit breaking), outlier
//! detection and client TLS, for a whole host, a port or a subset.

use serde::{Deserialize, Serialize};

use super::meta::PortSelector;
use crate::duration::Duration;

/// Istio's `TrafficPolicy`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct TrafficPolicy {
    /// How an endpoint is chosen.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection and request limits.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Ejection of failing endpoints.
    pub outlier_detection: Option<OutlierDetection>,
    /// TLS towards the destination.
    pub tls: Option<ClientTlsSettings>,
    /// Overrides per destination port.
    pub port_level_settings: Vec<PortTrafficPolicy>,
}

/// Istio's `TrafficPolicy.PortTrafficPolicy`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PortTrafficPolicy {
    /// The port these settings apply to (required).
    pub port: Option<PortSelector>,
    /// How an endpoint is chosen.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection and request limits.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Ejection of failing endpoints.
    pub outlier_detection: Option<OutlierDetection>,
    /// TLS towards the destination.
    pub tls: Option<ClientTlsSettings>,
}

/// Istio's `LoadBalancerSettings`: `simple` or `consistentHash`, not both.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct LoadBalancerSettings {
    /// A standard algorithm.
    pub simple: Option<SimpleLb>,
    /// Session affinity by a request property.
    pub consistent_hash: Option<ConsistentHashLb>,
    /// Locality-aware routing, kept as written (meshctl runs one locality).
    pub locality_lb_setting: Option<serde_json::Value>,
    /// Slow start for new endpoints.
    pub warmup_duration_secs: Option<Duration>,
}

/// Istio's `LoadBalancerSettings.SimpleLB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SimpleLb {
    /// Istio's default (currently least request).
    Unspecified,
    /// Deprecated alias of `LEAST_REQUEST`.
    LeastConn,
    /// Pick at random.
    Random,
    /// Forward to the original destination address.
    Passthrough,
    /// Take turns.
    RoundRobin,
    /// Power of two choices, fewest outstanding requests.
    LeastRequest,
}

/// Istio's `LoadBalancerSettings.ConsistentHashLB`: exactly one hash key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ConsistentHashLb {
    /// Hash on this request header.
    pub http_header_name: Option<String>,
    /// Hash on this cookie, generating it when `ttl` is set.
    pub http_cookie: Option<HttpCookie>,
    /// Hash on the client IP.
    pub use_source_ip: Option<bool>,
    /// Hash on this query parameter.
    pub http_query_parameter_name: Option<String>,
    /// Ketama ring hash.
    pub ring_hash: Option<RingHash>,
    /// Maglev table.
    pub maglev: Option<Maglev>,
    /// Deprecated: use `ringHash.minimumRingSize`.
    pub minimum_ring_size: Option<u64>,
}

/// Istio's `ConsistentHashLB.HTTPCookie`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpCookie {
    /// Cookie name (required).
    pub name: String,
    /// Cookie path.
    pub path: Option<String>,
    /// Lifetime of a generated cookie.
    pub ttl: Option<Duration>,
}

/// Istio's `ConsistentHashLB.RingHash`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RingHash {
    /// Minimum number of virtual nodes on the ring.
    pub minimum_ring_size: Option<u64>,
}

/// Istio's `ConsistentHashLB.MagLev`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Maglev {
    /// Table size, a prime.
    pub table_size: Option<u64>,
}

/// Istio's `ConnectionPoolSettings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ConnectionPoolSettings {
    /// Limits on TCP connections.
    pub tcp: Option<TcpSettings>,
    /// Limits on HTTP requests.
    pub http: Option<HttpSettings>,
}

/// Istio's `ConnectionPoolSettings.TCPSettings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct TcpSettings {
    /// Maximum connections to the destination.
    pub max_connections: Option<i32>,
    /// Connect timeout.
    pub connect_timeout: Option<Duration>,
    /// TCP keepalive probes.
    pub tcp_keepalive: Option<TcpKeepalive>,
    /// Maximum lifetime of a connection.
    pub max_connection_duration: Option<Duration>,
    /// Idle timeout for TCP connections.
    pub idle_timeout: Option<Duration>,
}

/// Istio's `TCPSettings.TcpKeepalive`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct TcpKeepalive {
    /// Unanswered probes before the connection is dead.
    pub probes: Option<u32>,
    /// Idle time before probes start.
    pub time: Option<Duration>,
    /// Time between probes.
    pub interval: Option<Duration>,
}

/// Istio's `ConnectionPoolSettings.HTTPSettings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Requests queued while waiting for a connection.
    pub http1_max_pending_requests: Option<i32>,
    /// Concurrent requests to the destination.
    pub http2_max_requests: Option<i32>,
    /// Requests per connection; 1 disables keep-alive.
    pub max_requests_per_connection: Option<i32>,
    /// Concurrent retries to the destination.
    pub max_retries: Option<i32>,
    /// Idle timeout for upstream connections.
    pub idle_timeout: Option<Duration>,
    /// Whether HTTP/1.1 connections may be upgraded to HTTP/2.
    pub h2_upgrade_policy: Option<H2UpgradePolicy>,
    /// Use the client's protocol towards the destination.
    pub use_client_protocol: Option<bool>,
    /// Concurrent streams per HTTP/2 connection.
    pub max_concurrent_streams: Option<i32>,
}

/// Istio's `HTTPSettings.H2UpgradePolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum H2UpgradePolicy {
    /// Mesh-wide default.
    Default,
    /// Keep HTTP/1.1.
    DoNotUpgrade,
    /// Upgrade to HTTP/2.
    Upgrade,
}

/// Istio's `OutlierDetection`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct OutlierDetection {
    /// 5xx responses in a row before ejection.
    #[serde(rename = "consecutive5xxErrors")]
    pub consecutive_5xx_errors: Option<i32>,
    /// 502/503/504 or connection errors in a row before ejection.
    pub consecutive_gateway_errors: Option<i32>,
    /// Locally originated failures in a row before ejection.
    pub consecutive_local_origin_failures: Option<i32>,
    /// Count local-origin failures apart from upstream ones.
    pub split_external_local_origin_errors: Option<bool>,
    /// Deprecated alias of `consecutive5xxErrors`.
    pub consecutive_errors: Option<i32>,
    /// Time between ejection sweeps.
    pub interval: Option<Duration>,
    /// Minimum ejection time, multiplied by the number of ejections.
    pub base_ejection_time: Option<Duration>,
    /// Most endpoints ejected at once, 0..=100 percent.
    pub max_ejection_percent: Option<i32>,
    /// Below this share of healthy endpoints, stop ejecting, 0..=100 percent.
    pub min_health_percent: Option<i32>,
}

/// Istio's `ClientTLSSettings.TLSmode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClientTlsMode {
    /// Plain text.
    #[default]
    Disable,
    /// TLS, verifying the server.
    Simple,
    /// Mutual TLS with the given certificates.
    Mutual,
    /// Mutual TLS with the mesh's own certificates.
    IstioMutual,
}

/// Istio's `ClientTLSSettings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ClientTlsSettings {
    /// How to talk to the destination.
    pub mode: ClientTlsMode,
    /// Client certificate file (MUTUAL).
    pub client_certificate: Option<String>,
    /// Client key file (MUTUAL).
    pub private_key: Option<String>,
    /// CA bundle to verify the server.
    pub ca_certificates: Option<String>,
    /// Certificate revocation list.
    pub ca_crl: Option<String>,
    /// Secret holding the certificates (gateways).
    pub credential_name: Option<String>,
    /// Accepted server identities.
    pub subject_alt_names: Vec<String>,
    /// SNI to send.
    pub sni: Option<String>,
    /// Skip server verification (testing only).
    pub insecure_skip_verify: Option<bool>,
}
