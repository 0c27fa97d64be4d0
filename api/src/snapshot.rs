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

use std::collections::{BTreeMap, HashSet};
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

/// One structural problem in a snapshot, with the field path it concerns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SnapshotIssue {
    pub path: String,
    pub message: String,
}

/// Every structural problem of a snapshot, reported at once.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid proxy config ({} problem{}):\n  {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
pub struct SnapshotErrors(pub Vec<SnapshotIssue>);

impl Snapshot {
    /// Parses a snapshot from YAML (JSON is YAML too).
    pub fn from_yaml(text: &str) -> Result<Snapshot, serde_saphyr::Error> {
        serde_saphyr::from_str(text)
    }

    /// Checks what serde cannot: names resolve, weights sum to 100, percentages and status
    /// codes are in range, regexes compile, each route has exactly one action.
    pub fn validate(&self) -> Result<(), SnapshotErrors> {
        let mut issues = Vec::new();
        let mut push = |path: String, message: String| issues.push(SnapshotIssue { path, message });

        let clusters: HashSet<&str> = self.clusters.iter().map(|c| c.name.as_str()).collect();
        let routes: HashSet<&str> = self.routes.iter().map(|r| r.name.as_str()).collect();
        check_unique(
            self.clusters.iter().map(|c| c.name.as_str()),
            "clusters",
            &mut push,
        );
        check_unique(
            self.routes.iter().map(|r| r.name.as_str()),
            "routes",
            &mut push,
        );
        check_unique(
            self.listeners.iter().map(|l| l.name.as_str()),
            "listeners",
            &mut push,
        );

        for (i, l) in self.listeners.iter().enumerate() {
            let p = format!("listeners[{i}]");
            match l.protocol {
                Protocol::Http => match &l.route_config {
                    None => push(
                        format!("{p}.routeConfig"),
                        "required for an http listener".into(),
                    ),
                    Some(r) if !routes.contains(r.as_str()) => push(
                        format!("{p}.routeConfig"),
                        format!("no route table named {r:?}"),
                    ),
                    Some(_) => {}
                },
                Protocol::Tcp => match &l.cluster {
                    None if l.mode != ListenerMode::Transparent => push(
                        format!("{p}.cluster"),
                        "required for a tcp listener that is not transparent".into(),
                    ),
                    Some(c) if !clusters.contains(c.as_str()) => {
                        push(format!("{p}.cluster"), format!("no cluster named {c:?}"))
                    }
                    _ => {}
                },
            }
        }

        for (ri, rc) in self.routes.iter().enumerate() {
            for (vi, vh) in rc.virtual_hosts.iter().enumerate() {
                let vp = format!("routes[{ri}].virtualHosts[{vi}]");
                if vh.domains.is_empty() {
                    push(
                        format!("{vp}.domains"),
                        "must name at least one authority".into(),
                    );
                }
                for (di, d) in vh.domains.iter().enumerate() {
                    if d.is_empty() {
                        push(format!("{vp}.domains[{di}]"), "must not be empty".into());
                    }
                }
                for (ti, r) in vh.routes.iter().enumerate() {
                    validate_route(r, &format!("{vp}.routes[{ti}]"), &clusters, &mut push);
                }
            }
        }

        for (ci, c) in self.clusters.iter().enumerate() {
            let p = format!("clusters[{ci}]");
            let lb = &c.load_balancer;
            if lb.simple.is_some() && lb.consistent_hash.is_some() {
                push(
                    format!("{p}.loadBalancer"),
                    "set either simple or consistentHash, not both".into(),
                );
            }
            if let Some(h) = &lb.consistent_hash {
                let keys = usize::from(h.http_header_name.is_some())
                    + usize::from(h.http_cookie.is_some())
                    + usize::from(h.use_source_ip)
                    + usize::from(h.http_query_parameter_name.is_some());
                if keys != 1 {
                    push(
                        format!("{p}.loadBalancer.consistentHash"),
                        "set exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName".into(),
                    );
                }
            }
            if let Some(od) = &c.outlier_detection {
                if od.max_ejection_percent > 100 {
                    push(
                        format!("{p}.outlierDetection.maxEjectionPercent"),
                        "must be 0..=100".into(),
                    );
                }
                if od.interval.is_zero() {
                    push(
                        format!("{p}.outlierDetection.interval"),
                        "must be > 0".into(),
                    );
                }
            }
            for (ei, e) in c.endpoints.iter().enumerate() {
                if e.weight == 0 {
                    push(format!("{p}.endpoints[{ei}].weight"), "must be >= 1".into());
                }
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(SnapshotErrors(issues))
        }
    }
}

fn check_unique<'a>(
    names: impl Iterator<Item = &'a str>,
    what: &str,
    push: &mut impl FnMut(String, String),
) {
    let mut seen = HashSet::new();
    for (i, n) in names.enumerate() {
        if n.is_empty() {
            push(format!("{what}[{i}].name"), "must not be empty".into());
        } else if !seen.insert(n) {
            push(format!("{what}[{i}].name"), format!("duplicate name {n:?}"));
        }
    }
}

fn validate_route(
    r: &Route,
    p: &str,
    clusters: &HashSet<&str>,
    push: &mut impl FnMut(String, String),
) {
    let actions = usize::from(!r.route.is_empty())
        + usize::from(r.redirect.is_some())
        + usize::from(r.direct_response.is_some());
    if actions != 1 {
        push(
            p.to_string(),
            "set exactly one of route, redirect, directResponse".into(),
        );
    }
    for (mi, m) in r.matches.iter().enumerate() {
        let mp = format!("{p}.match[{mi}]");
        let mut check = |field: String, sm: &StringMatch| {
            if let StringMatch::Regex(re) = sm {
                if let Err(e) = StringMatch::compile_regex(re) {
                    push(field, format!("invalid regex: {e}"));
                }
            }
        };
        for (name, sm) in [
            ("uri", &m.uri),
            ("method", &m.method),
            ("authority", &m.authority),
        ] {
            if let Some(sm) = sm {
                check(format!("{mp}.{name}"), sm);
            }
        }
        for (field, map) in [
            ("headers", &m.headers),
            ("withoutHeaders", &m.without_headers),
            ("queryParams", &m.query_params),
        ] {
            for (k, sm) in map {
                check(format!("{mp}.{field}.{k}"), sm);
            }
        }
    }
    let mut total = 0u64;
    for (di, d) in r.route.iter().enumerate() {
        if !clusters.contains(d.cluster.as_str()) {
            push(
                format!("{p}.route[{di}].cluster"),
                format!("no cluster named {:?}", d.cluster),
            );
        }
        match d.weight {
            Some(w) if w > 100 => push(format!("{p}.route[{di}].weight"), "must be 0..=100".into()),
            Some(w) => total += u64::from(w),
            None if r.route.len() > 1 => push(
                format!("{p}.route[{di}].weight"),
                "required when there are several destinations".into(),
            ),
            None => total += 100,
        }
    }
    if !r.route.is_empty() && total != 100 {
        push(
            format!("{p}.route"),
            format!("weights must sum to 100, they sum to {total}"),
        );
    }
    if let Some(f) = &r.fault {
        if let Some(d) = &f.delay {
            check_percent(d.percentage, &format!("{p}.fault.delay.percentage"), push);
        }
        if let Some(a) = &f.abort {
            check_percent(a.percentage, &format!("{p}.fault.abort.percentage"), push);
            if !(200..=599).contains(&a.http_status) {
                push(
                    format!("{p}.fault.abort.httpStatus"),
                    "must be 200..=599".into(),
                );
            }
        }
    }
    if let Some(m) = &r.mirror {
        check_percent(m.percentage, &format!("{p}.mirror.percentage"), push);
        if !clusters.contains(m.cluster.as_str()) {
            push(
                format!("{p}.mirror.cluster"),
                format!("no cluster named {:?}", m.cluster),
            );
        }
    }
    if let Some(rd) = &r.redirect {
        if ![301, 302, 303, 307, 308].contains(&rd.redirect_code) {
            push(
                format!("{p}.redirect.redirectCode"),
                "must be one of 301, 302, 303, 307, 308".into(),
            );
        }
    }
    if let Some(dr) = &r.direct_response {
        if !(200..=599).contains(&dr.status) {
            push(
                format!("{p}.directResponse.status"),
                "must be 200..=599".into(),
            );
        }
    }
    if let Some(rt) = &r.retries {
        if rt.attempts > 0 && rt.retry_on.trim().is_empty() {
            push(
                format!("{p}.retries.retryOn"),
                "must name at least one condition".into(),
            );
        }
    }
}

fn check_percent(v: f64, path: &str, push: &mut impl FnMut(String, String)) {
    if !(0.0..=100.0).contains(&v) || v.is_nan() {
        push(path.to_string(), "must be 0..=100".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
version: "1"
node: {workload: productpage-v1, app: productpage, version: v1}
listeners:
  - {name: outbound, address: "127.0.0.1:15001", direction: outbound, routeConfig: out}
routes:
  - name: out
    virtualHosts:
      - name: reviews
        domains: [reviews, "reviews:9080"]
        routes:
          - match: [{headers: {end-user: {exact: jason}}}]
            route: [{cluster: reviews-v2}]
          - route:
              - {cluster: reviews-v1, weight: 50}
              - {cluster: reviews-v2, weight: 50}
            timeout: 3s
            retries: {attempts: 1, perTryTimeout: 1s}
clusters:
  - name: reviews-v1
    endpoints: [{address: "127.0.0.1:9081"}]
  - name: reviews-v2
    endpoints: [{address: "127.0.0.1:9082", version: v2}]
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool: {http: {http1MaxPendingRequests: 1}}
    outlierDetection: {consecutive5xxErrors: 3}
"#;

    #[test]
    fn sample_parses_and_validates() {
        let s = Snapshot::from_yaml(SAMPLE).expect("parse");
        s.validate().expect("valid");
        assert_eq!(
            s.routes[0].virtual_hosts[0].routes[1].timeout,
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            s.clusters[1].load_balancer.simple,
            Some(SimpleLb::RoundRobin)
        );
        let od = s.clusters[1].outlier_detection.as_ref().expect("od");
        assert_eq!(od.base_ejection_time, Duration::from_secs(30));
    }

    #[test]
    fn reports_every_problem_with_paths() {
        let bad = SAMPLE
            .replace(
                "{cluster: reviews-v1, weight: 50}",
                "{cluster: nope, weight: 60}",
            )
            .replace("routeConfig: out", "routeConfig: missing");
        let s = Snapshot::from_yaml(&bad).expect("parse");
        let err = s.validate().expect_err("invalid").to_string();
        assert!(
            err.contains("listeners[0].routeConfig: no route table named \"missing\""),
            "{err}"
        );
        assert!(
            err.contains("routes[0].virtualHosts[0].routes[1].route[0].cluster"),
            "{err}"
        );
        assert!(
            err.contains("weights must sum to 100, they sum to 110"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let bad = SAMPLE.replace("timeout: 3s", "timeoutt: 3s");
        assert!(Snapshot::from_yaml(&bad).is_err());
    }
}
