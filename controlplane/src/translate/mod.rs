//! Snapshot translation: Istio resources + the registry -> the [`Snapshot`] one proxy runs.
//!
//! Everything here is a pure function of its inputs: no IO, no clock, no randomness, and
//! sorted output, so identical inputs give byte-identical snapshots (the control plane
//! serializes identical snapshots once and shares them).
//!
//! Entry points: [`sidecar`] (a workload's sidecar: an explicit outbound listener and an
//! inbound listener) and [`gateway()`] (an ingress gateway: one listener per Gateway server
//! port). Where things live:
//! - [`hosts`]: short names -> FQDNs, host wildcards, `exportTo` visibility, the domains a
//!   client may use for a service;
//! - [`services`]: the catalog of destinations (registry services and ServiceEntries);
//! - [`lookup`]: which VirtualService / DestinationRule applies to a host for a proxy;
//! - [`routes`] and [`match_`]: `HTTPRoute` -> [`mesh_api::snapshot::Route`];
//! - [`clusters`] and [`policy`]: clusters, subsets, DestinationRule traffic-policy precedence;
//! - [`outbound`], [`inbound`], [`gateway`](mod@gateway): the listeners and route tables;
//! - `orphans`: warnings for rules whose hosts match no service.
//!
//! Problems in the resources (a destination host nobody serves, a subset no DestinationRule
//! defines, a field we do not support yet) never fail a translation: the affected route gets
//! a cluster without endpoints (the proxy answers 503 "no healthy upstream", as Istio does)
//! and a [`Warning`] names the resource and field, for `meshctl analyze`.
//!
//! Limitations, on purpose for now:
//! - TCP service ports get no outbound listener yet (TCP listeners per port come later);
//!   their clusters are still generated so TCP routes can use them then.
//! - A VirtualService that yields no route for a port (only TCP routes, or `port` matches
//!   for other ports) leaves that port's virtual host to the default route.
//! - `delegate` VirtualServices are skipped with a warning.
//! - Several VirtualServices for one host are not merged for sidecars (Istio does not
//!   either); the most specific host wins, then the first in input order (Istio: oldest).
//!   Gateways do merge them, as Istio does.
//! - [`security`]: DestinationRule `tls` and auto-mTLS -> `Cluster.tls`; PeerAuthentication and
//!   AuthorizationPolicy -> the inbound listener. `SIMPLE`/`MUTUAL` TLS to external servers is
//!   not supported yet (warning, plain text).
//! - ServiceEntry endpoints need a literal IP address: the proxy does not resolve DNS names
//!   yet, so `resolution: DNS` without IP endpoints gives a cluster without endpoints.

pub mod clusters;
pub mod destinations;
pub mod gateway;
pub mod hosts;
pub mod inbound;
pub mod lookup;
pub mod match_;
mod orphans;
pub mod outbound;
pub mod policy;
pub mod routes;
pub mod security;
pub mod services;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use mesh_api::istio::Resource;
use mesh_api::snapshot::{Cluster, Listener, Node, RouteConfig, Snapshot};
use serde::Serialize;

use crate::registry::{Registry, Workload, DEFAULT_DOMAIN};

pub use gateway::gateway;

/// What every translation reads: the resources users applied and the registry.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub resources: &'a [&'a Resource],
    pub registry: &'a Registry,
}

/// Where a sidecar listens, and the version to stamp on its snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SidecarOptions {
    /// The explicit outbound listener (on the local platform, the app's `HTTP_PROXY`).
    pub outbound: SocketAddr,
    /// The inbound listener other sidecars reach (the workload's registry `inbound`).
    pub inbound: SocketAddr,
    /// Opaque snapshot version, ACKed back by the proxy.
    pub version: String,
    /// Whether this sidecar has a mesh certificate: then clusters whose endpoints all hold
    /// one too ([`Workload::principal`]) default to ISTIO_MUTUAL (Istio's auto-mTLS) unless a
    /// DestinationRule's `tls` says otherwise.
    pub auto_mtls: bool,
}

/// A translated snapshot and what was wrong with the resources on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Translation {
    pub snapshot: Snapshot,
    pub warnings: Vec<Warning>,
}

/// A resource reference that could not be satisfied, or a field that was not translated.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Warning {
    /// `Kind namespace/name`, e.g. `VirtualService default/reviews`.
    pub resource: String,
    /// Field path inside the resource, e.g. `spec.http[0].route[0].destination.subset`.
    pub path: String,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.resource, self.path, self.message)
    }
}

/// Collects warnings once each: one resource is translated for several ports and proxies'
/// virtual hosts, and the same problem should be reported once.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    seen: BTreeSet<Warning>,
    list: Vec<Warning>,
}

impl Warnings {
    pub(crate) fn push(&mut self, resource: &Resource, path: String, message: String) {
        let w = Warning {
            resource: format!(
                "{} {}/{}",
                resource.kind(),
                lookup::namespace_of(resource),
                resource.name()
            ),
            path,
            message,
        };
        if self.seen.insert(w.clone()) {
            self.list.push(w);
        }
    }

    pub(crate) fn into_vec(self) -> Vec<Warning> {
        self.list
    }
}

/// What translating accumulates: the clusters routes use, and the warnings.
#[derive(Debug, Default)]
pub(crate) struct Acc {
    pub used: clusters::Used,
    pub warnings: Warnings,
}

/// The proxy being translated for: its namespace and labels decide visibility
/// (`exportTo`), `sourceLabels`/`sourceNamespace` matches and DestinationRule selectors.
#[derive(Clone, Copy, Debug)]
pub struct ProxyView<'a> {
    pub namespace: &'a str,
    pub labels: &'a BTreeMap<String, String>,
}

impl<'a> ProxyView<'a> {
    pub fn of(w: &'a Workload) -> ProxyView<'a> {
        ProxyView {
            namespace: &w.namespace,
            labels: &w.labels,
        }
    }
}

/// The sidecar of `proxy`: an explicit outbound listener routing to every visible service
/// (VirtualService routes or a default route), the clusters those routes use, and an inbound
/// listener forwarding to the local app. The same as [`sidecar_outbound`] and [`sidecar_own`]
/// put together, which is how the control plane builds it (sharing the outbound part).
pub fn sidecar(input: &Input<'_>, proxy: &Workload, opts: &SidecarOptions) -> Translation {
    let out = sidecar_outbound(input, ProxyView::of(proxy), opts.auto_mtls);
    let own = sidecar_own(input, proxy, opts);
    let mut clusters = own.clusters;
    clusters.extend(out.clusters);
    clusters.sort_by(|a, b| a.name.cmp(&b.name));
    let mut warnings = out.warnings;
    warnings.extend(own.warnings);
    Translation {
        snapshot: Snapshot {
            version: opts.version.clone(),
            node: own.node,
            listeners: own.listeners,
            routes: vec![out.routes, own.routes],
            clusters,
        },
        warnings,
    }
}

/// A sidecar's outbound route table and clusters: everything that depends on the proxy only
/// through its [`ProxyView`] (namespace and labels) and whether it holds a mesh certificate,
/// not on its addresses. Proxies alike in those get the same part ([`OutboundKey`]).
#[derive(Clone, Debug, PartialEq)]
pub struct OutboundPart {
    pub routes: RouteConfig,
    /// Sorted by name.
    pub clusters: Vec<Cluster>,
    pub warnings: Vec<Warning>,
}

pub fn sidecar_outbound(input: &Input<'_>, view: ProxyView<'_>, auto_mtls: bool) -> OutboundPart {
    let mut acc = Acc::default();
    let catalog = services::Catalog::build(input, view.namespace, &mut acc.warnings);
    let index = lookup::HostIndex::build(input.resources);
    let env = destinations::Env {
        resources: input.resources,
        hosts: &index,
        catalog: &catalog,
        proxy: view,
        auto_mtls,
    };
    orphans::check(&env, &mut acc);
    let routes = outbound::routes(&env, &mut acc);
    // Istio's sidecars know a cluster per service port even without a route to it.
    acc.used.add_defaults(&catalog);
    let mut clusters = clusters::build(&env, &acc.used, &mut acc.warnings);
    clusters.sort_by(|a, b| a.name.cmp(&b.name));
    OutboundPart {
        routes,
        clusters,
        warnings: acc.warnings.into_vec(),
    }
}

/// The part of a sidecar's snapshot that is its own: its node, both listeners (the inbound
/// one with its PeerAuthentication and AuthorizationPolicies), the inbound route table and
/// the inbound clusters.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnPart {
    pub node: Node,
    /// Outbound, then inbound.
    pub listeners: Vec<Listener>,
    pub routes: RouteConfig,
    /// Sorted by name.
    pub clusters: Vec<Cluster>,
    pub warnings: Vec<Warning>,
}

pub fn sidecar_own(input: &Input<'_>, proxy: &Workload, opts: &SidecarOptions) -> OwnPart {
    let mut warnings = Warnings::default();
    let mut inb = inbound::build(proxy, opts.inbound);
    let mut pa = security::peer_authentication(input.resources, proxy);
    security::key_ports_by_listener(&mut pa, proxy, opts.inbound.port());
    inb.listener.peer_authentication = Some(pa);
    inb.listener.authorization = security::authorization(input.resources, proxy, &mut warnings);
    inb.clusters.sort_by(|a, b| a.name.cmp(&b.name));
    OwnPart {
        node: node_of(proxy),
        listeners: vec![outbound::listener(opts.outbound), inb.listener],
        routes: inb.routes,
        clusters: inb.clusters,
        warnings: warnings.into_vec(),
    }
}

/// What a sidecar's [`OutboundPart`] depends on: proxies with equal keys get equal parts.
/// Labels count only through the selectors in the resources (`sourceLabels` of VirtualService
/// matches, DestinationRule `workloadSelector`), so the key keeps just the label keys those
/// name: in a mesh without such selectors every sidecar of a namespace shares one part.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OutboundKey {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub auto_mtls: bool,
}

impl OutboundKey {
    pub fn of(proxy: &Workload, auto_mtls: bool, selector_keys: &BTreeSet<String>) -> OutboundKey {
        OutboundKey {
            namespace: proxy.namespace.clone(),
            labels: proxy
                .labels
                .iter()
                .filter(|(k, _)| selector_keys.contains(k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            auto_mtls,
        }
    }

    /// The view the part is computed for (namespace and the labels that matter).
    pub fn view(&self) -> ProxyView<'_> {
        ProxyView {
            namespace: &self.namespace,
            labels: &self.labels,
        }
    }
}

/// Every label key a selector in `resources` reads from the proxy's labels while the outbound
/// part is translated.
pub fn selector_keys(resources: &[&Resource]) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for r in resources {
        match r {
            Resource::VirtualService(vs) => {
                let s = &vs.spec;
                let http = s
                    .http
                    .iter()
                    .flat_map(|h| h.matches.iter())
                    .flat_map(|m| m.source_labels.keys());
                let tcp = s
                    .tcp
                    .iter()
                    .flat_map(|t| t.matches.iter())
                    .flat_map(|m| m.source_labels.keys());
                let tls = s
                    .tls
                    .iter()
                    .flat_map(|t| t.matches.iter())
                    .flat_map(|m| m.source_labels.keys());
                keys.extend(http.chain(tcp).chain(tls).cloned());
            }
            Resource::DestinationRule(dr) => {
                if let Some(sel) = &dr.spec.workload_selector {
                    keys.extend(sel.match_labels.keys().cloned());
                }
            }
            _ => {}
        }
    }
    keys
}

/// Istio's peer metadata for a workload.
pub(crate) fn node_of(w: &Workload) -> Node {
    Node {
        workload: w.workload.clone(),
        namespace: w.namespace.clone(),
        app: w.label("app").unwrap_or(&w.service).to_string(),
        version: w.label("version").unwrap_or("unknown").to_string(),
        service: w.host(),
        principal: principal(w),
        ..Node::default()
    }
}

/// The workload's SPIFFE ID: the one its certificate proved, else
/// `spiffe://cluster.local/ns/<ns>/sa/<sa>`, the identity Istio's CA gives a workload.
pub(crate) fn principal(w: &Workload) -> String {
    if let Some(p) = &w.principal {
        return p.clone();
    }
    format!(
        "spiffe://{DEFAULT_DOMAIN}/ns/{}/sa/{}",
        w.namespace, w.service_account
    )
}
