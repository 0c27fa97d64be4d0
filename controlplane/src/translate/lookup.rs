//! Which resource applies: the VirtualService for a host in the mesh, the DestinationRule
//! (and subset) for a destination, as a given proxy sees them.

use std::collections::HashMap;

use mesh_api::istio::destination_rule::Subset;
use mesh_api::istio::{DestinationRule, Resource, VirtualService};

use super::{hosts, ProxyView};

/// A resource's namespace; a file without one is applied to `default`.
pub fn namespace_of(r: &Resource) -> &str {
    match r.namespace() {
        "" => "default",
        ns => ns,
    }
}

/// The gateway name sidecars are bound to.
pub const MESH: &str = "mesh";

/// Which VirtualServices and DestinationRules can name a host: by the exact hosts they
/// resolve to, plus every rule with a wildcard host. A proxy's translation looks up a rule
/// for each of its services; with the index each lookup reads the few rules that can apply
/// instead of every resource (1000 services x 3000 rules was ~1 s of CPU per proxy).
#[derive(Debug, Default)]
pub struct HostIndex {
    exact: HashMap<String, Vec<usize>>,
    wildcard: Vec<usize>,
}

impl HostIndex {
    pub fn build(resources: &[&Resource]) -> HostIndex {
        let mut index = HostIndex::default();
        for (i, r) in resources.iter().enumerate() {
            let names: &[String] = match r {
                Resource::VirtualService(vs) => &vs.spec.hosts,
                Resource::DestinationRule(dr) => std::slice::from_ref(&dr.spec.host),
                _ => continue,
            };
            for name in names {
                let host = hosts::resolve(name, namespace_of(r));
                if hosts::is_exact(&host) {
                    index.exact.entry(host).or_default().push(i);
                } else {
                    index.wildcard.push(i);
                }
            }
        }
        index
    }

    /// The rules that may name `host`, in input order, each once (a superset: the caller
    /// still matches each rule's hosts, so precedence is decided exactly as before).
    fn candidates<'a>(
        &self,
        resources: &'a [&'a Resource],
        host: &str,
    ) -> impl Iterator<Item = &'a Resource> {
        let mut ids: Vec<usize> = self
            .exact
            .get(host)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        ids.extend(&self.wildcard);
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(move |i| resources.get(i).copied())
    }
}

/// The VirtualService routing `host` for sidecars (`gateways` empty or naming `mesh`),
/// visible to the proxy. The most specific host pattern wins (exact before wildcards,
/// longer wildcards first); among equals, the first in input order (Istio: the oldest).
pub fn mesh_virtual_service<'a>(
    resources: &'a [&'a Resource],
    index: &HostIndex,
    host: &str,
    proxy: ProxyView<'_>,
) -> Option<(&'a Resource, &'a VirtualService)> {
    let mut best: Option<(usize, &Resource, &VirtualService)> = None;
    for r in index.candidates(resources, host) {
        let Resource::VirtualService(vs) = r else {
            continue;
        };
        let ns = namespace_of(r);
        let for_mesh = vs.spec.gateways.is_empty() || vs.spec.gateways.iter().any(|g| g == MESH);
        if !for_mesh || !hosts::visible(&vs.spec.export_to, ns, proxy.namespace) {
            continue;
        }
        for h in &vs.spec.hosts {
            let Some(rank) = hosts::match_specificity(h, ns, host) else {
                continue;
            };
            if best.as_ref().is_none_or(|(b, _, _)| rank > *b) {
                best = Some((rank, r, vs));
            }
        }
    }
    best.map(|(_, r, vs)| (r, vs))
}

/// The DestinationRule for `host` as the proxy sees it: visible, its `workloadSelector` (if
/// any) matching the proxy; the most specific host first, then one in the proxy's
/// namespace, then one in the service's namespace, then input order (Istio's lookup order,
/// without its merging of several rules for one host).
pub fn destination_rule<'a>(
    resources: &'a [&'a Resource],
    index: &HostIndex,
    host: &str,
    service_ns: &str,
    proxy: ProxyView<'_>,
) -> Option<(&'a Resource, &'a DestinationRule)> {
    let mut best: Option<((usize, u8), &Resource, &DestinationRule)> = None;
    for r in index.candidates(resources, host) {
        let Resource::DestinationRule(dr) = r else {
            continue;
        };
        let ns = namespace_of(r);
        if !hosts::visible(&dr.spec.export_to, ns, proxy.namespace) {
            continue;
        }
        if let Some(sel) = &dr.spec.workload_selector {
            let selected = ns == proxy.namespace
                && sel
                    .match_labels
                    .iter()
                    .all(|(k, v)| proxy.labels.get(k) == Some(v));
            if !selected {
                continue;
            }
        }
        let Some(specificity) = hosts::match_specificity(&dr.spec.host, ns, host) else {
            continue;
        };
        let place = if ns == proxy.namespace {
            2
        } else if ns == service_ns {
            1
        } else {
            0
        };
        let rank = (specificity, place);
        if best.as_ref().is_none_or(|(b, _, _)| rank > *b) {
            best = Some((rank, r, dr));
        }
    }
    best.map(|(_, r, dr)| (r, dr))
}

/// A subset by name in a DestinationRule.
pub fn subset<'a>(dr: &'a DestinationRule, name: &str) -> Option<&'a Subset> {
    dr.spec.subsets.iter().find(|s| s.name == name)
}
