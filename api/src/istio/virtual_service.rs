//! `VirtualService` (networking.istio.io): how requests to a set of hosts are routed.
//! HTTP routes live in [`super::http_route`]; TCP and TLS routes are here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::http_route::HttpRoute;
use super::meta::PortSelector;

/// Istio's `VirtualService` spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct VirtualServiceSpec {
    /// Hosts these routes apply to: short names (`reviews`), FQDNs, `*.example.com` or `*`.
    pub hosts: Vec<String>,
    /// Gateways (and `mesh` for sidecars) these routes apply to; empty means `mesh`.
    pub gateways: Vec<String>,
    /// HTTP routes, tried in order.
    pub http: Vec<HttpRoute>,
    /// Routes for TLS passthrough traffic, chosen by SNI.
    pub tls: Vec<TlsRoute>,
    /// Routes for opaque TCP traffic.
    pub tcp: Vec<TcpRoute>,
    /// Namespaces this VirtualService is visible to (`.` for its own, `*` for all).
    pub export_to: Vec<String>,
}

/// Istio's `Destination`: a service host, an optional subset and port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Destination {
    /// The service's host name (required), e.g. `reviews` or `reviews.default.svc.cluster.local`.
    pub host: String,
    /// A subset defined in the host's DestinationRule, e.g. `v2`.
    pub subset: String,
    /// Required only when the service exposes several ports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
}

/// Istio's `RouteDestination` (TCP and TLS routes): a destination and its share of traffic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RouteDestination {
    /// Where the traffic goes.
    pub destination: Destination,
    /// Share of traffic, 0..=100; the weights of a route must sum to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// Istio's `TCPRoute`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct TcpRoute {
    /// Conditions (OR); empty matches all TCP traffic.
    #[serde(rename = "match")]
    pub matches: Vec<L4MatchAttributes>,
    /// Where the connection goes.
    pub route: Vec<RouteDestination>,
}

/// Istio's `L4MatchAttributes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct L4MatchAttributes {
    /// Destination IPs or CIDRs.
    pub destination_subnets: Vec<String>,
    /// Destination port; 0 means any.
    pub port: u32,
    /// Labels of the calling workload.
    pub source_labels: BTreeMap<String, String>,
    /// Gateways this condition applies to.
    pub gateways: Vec<String>,
    /// Namespace of the calling workload.
    pub source_namespace: String,
}

/// Istio's `TLSRoute`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct TlsRoute {
    /// Conditions (OR); at least one, each naming SNI hosts.
    #[serde(rename = "match")]
    pub matches: Vec<TlsMatchAttributes>,
    /// Where the connection goes.
    pub route: Vec<RouteDestination>,
}

/// Istio's `TLSMatchAttributes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct TlsMatchAttributes {
    /// SNI values to match (required), wildcards allowed as a prefix.
    pub sni_hosts: Vec<String>,
    /// Destination IPs or CIDRs.
    pub destination_subnets: Vec<String>,
    /// Destination port; 0 means any.
    pub port: u32,
    /// Labels of the calling workload.
    pub source_labels: BTreeMap<String, String>,
    /// Gateways this condition applies to.
    pub gateways: Vec<String>,
    /// Namespace of the calling workload.
    pub source_namespace: String,
}

/// Istio's `Delegate`: hand this route to another VirtualService.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Delegate {
    /// The delegate VirtualService's name (required).
    pub name: String,
    /// Its namespace; empty means this VirtualService's namespace.
    pub namespace: String,
}
