//! One function per rule. Each reads the [`Input`] and appends what it finds; host names
//! are read as Istio reads them ([`mesh_api::istio::hosts`]): short names in the resource's
//! namespace, wildcards, `exportTo`.

use std::collections::BTreeMap;

use mesh_api::istio::hosts::{is_exact, matches, resolve, service_host, visible};
use mesh_api::istio::virtual_service::Destination;
use mesh_api::istio::{DestinationRule, Resource, ServiceEntry, VirtualService};

use super::{Code, Finding, Input, Item, Workload};

/// A finding about `item`, pointing at `field` (its line when the item came from a file).
fn finding(item: &Item, code: Code, field: String, message: String) -> Finding {
    let line = item.source_map.as_ref().map(|m| m.locate(&field).line);
    Finding {
        code,
        kind: item.resource.kind(),
        namespace: item.resource.namespace().to_string(),
        name: item.resource.name().to_string(),
        file: item.file.clone(),
        line,
        field,
        message,
    }
}

fn virtual_services(input: &Input) -> impl Iterator<Item = (&Item, &VirtualService)> {
    input.items.iter().filter_map(|i| match &i.resource {
        Resource::VirtualService(vs) => Some((i, vs)),
        _ => None,
    })
}

fn destination_rules(input: &Input) -> impl Iterator<Item = (&Item, &DestinationRule)> {
    input.items.iter().filter_map(|i| match &i.resource {
        Resource::DestinationRule(dr) => Some((i, dr)),
        _ => None,
    })
}

fn service_entries(input: &Input) -> impl Iterator<Item = (&Item, &ServiceEntry)> {
    input.items.iter().filter_map(|i| match &i.resource {
        Resource::ServiceEntry(se) => Some((i, se)),
        _ => None,
    })
}

/// One destination a VirtualService names: its field path, and whether it is a mirror.
struct Dest<'a> {
    path: String,
    destination: &'a Destination,
    mirror: bool,
}

/// Every destination of `vs`: HTTP routes and mirrors, TCP and TLS routes.
fn destinations(vs: &VirtualService) -> Vec<Dest<'_>> {
    let mut out = Vec::new();
    for (i, http) in vs.spec.http.iter().enumerate() {
        for (j, r) in http.route.iter().enumerate() {
            out.push(Dest {
                path: format!("spec.http[{i}].route[{j}].destination"),
                destination: &r.destination,
                mirror: false,
            });
        }
        if let Some(m) = &http.mirror {
            out.push(Dest {
                path: format!("spec.http[{i}].mirror"),
                destination: m,
                mirror: true,
            });
        }
        for (k, m) in http.mirrors.iter().enumerate() {
            out.push(Dest {
                path: format!("spec.http[{i}].mirrors[{k}].destination"),
                destination: &m.destination,
                mirror: true,
            });
        }
    }
    for (i, tcp) in vs.spec.tcp.iter().enumerate() {
        for (j, r) in tcp.route.iter().enumerate() {
            out.push(Dest {
                path: format!("spec.tcp[{i}].route[{j}].destination"),
                destination: &r.destination,
                mirror: false,
            });
        }
    }
    for (i, tls) in vs.spec.tls.iter().enumerate() {
        for (j, r) in tls.route.iter().enumerate() {
            out.push(Dest {
                path: format!("spec.tls[{i}].route[{j}].destination"),
                destination: &r.destination,
                mirror: false,
            });
        }
    }
    out
}

/// The sidecar workloads behind a service host (gateways are not service endpoints).
fn endpoints<'a>(input: &'a Input, host: &'a str) -> impl Iterator<Item = &'a Workload> + 'a {
    input
        .workloads
        .iter()
        .filter(move |w| !w.gateway && service_host(&w.service, &w.namespace) == host)
}

/// IST0101: a route names a subset that no DestinationRule (visible from the route's
/// namespace, for a host covering the destination) defines.
pub fn subset_not_found(input: &Input, out: &mut Vec<Finding>) {
    for (item, vs) in virtual_services(input) {
        let ns = item.resource.namespace();
        for d in destinations(vs) {
            let subset = &d.destination.subset;
            if subset.is_empty() || d.destination.host.is_empty() {
                continue;
            }
            let host = resolve(&d.destination.host, ns);
            let defined = destination_rules(input).any(|(dr_item, dr)| {
                let dr_ns = dr_item.resource.namespace();
                visible(&dr.spec.export_to, dr_ns, ns)
                    && matches(&resolve(&dr.spec.host, dr_ns), &host)
                    && dr.spec.subsets.iter().any(|s| s.name == *subset)
            });
            if !defined {
                let what = if d.mirror {
                    "mirror+subset"
                } else {
                    "host+subset"
                };
                out.push(finding(
                    item,
                    Code::ReferencedResourceNotFound,
                    format!("{}.subset", d.path),
                    format!(
                        "Referenced {what} in destinationrule not found: \"{}+{subset}\"",
                        d.destination.host
                    ),
                ));
            }
        }
    }
}

/// IST0101: a route names a host that neither the registry (a workload of that service)
/// nor a ServiceEntry visible from the route's namespace provides.
pub fn unknown_host(input: &Input, out: &mut Vec<Finding>) {
    for (item, vs) in virtual_services(input) {
        let ns = item.resource.namespace();
        for d in destinations(vs) {
            let name = &d.destination.host;
            if name.is_empty() || name.contains('*') {
                continue; // validation reports these
            }
            let host = resolve(name, ns);
            let in_registry = input
                .workloads
                .iter()
                .any(|w| service_host(&w.service, &w.namespace) == host);
            let in_entries = service_entries(input).any(|(se_item, se)| {
                let se_ns = se_item.resource.namespace();
                visible(&se.spec.export_to, se_ns, ns)
                    && se
                        .spec
                        .hosts
                        .iter()
                        .any(|h| matches(&resolve(h, se_ns), &host))
            });
            if !in_registry && !in_entries {
                let what = if d.mirror { "mirror host" } else { "host" };
                out.push(finding(
                    item,
                    Code::ReferencedResourceNotFound,
                    format!("{}.host", d.path),
                    format!("Referenced {what} not found: \"{name}\""),
                ));
            }
        }
    }
}

/// IST0101: a VirtualService (or one of its matches) is bound to a Gateway that does not
/// exist. `mesh` is the sidecars, not a Gateway; `ns/name` names another namespace's.
pub fn gateway_not_found(input: &Input, out: &mut Vec<Finding>) {
    let exists = |ns: &str, name: &str| {
        input.items.iter().any(|i| {
            matches!(i.resource, Resource::Gateway(_))
                && i.resource.namespace() == ns
                && i.resource.name() == name
        })
    };
    for (item, vs) in virtual_services(input) {
        let ns = item.resource.namespace();
        let mut named: Vec<(String, &String)> = vs
            .spec
            .gateways
            .iter()
            .enumerate()
            .map(|(i, g)| (format!("spec.gateways[{i}]"), g))
            .collect();
        for (i, http) in vs.spec.http.iter().enumerate() {
            for (j, m) in http.matches.iter().enumerate() {
                named.extend(
                    m.gateways
                        .iter()
                        .enumerate()
                        .map(|(k, g)| (format!("spec.http[{i}].match[{j}].gateways[{k}]"), g)),
                );
            }
        }
        for (path, gateway) in named {
            if gateway == "mesh" {
                continue;
            }
            let (gw_ns, gw_name) = gateway.split_once('/').unwrap_or((ns, gateway));
            if !exists(gw_ns, gw_name) {
                out.push(finding(
                    item,
                    Code::ReferencedResourceNotFound,
                    path,
                    format!("Referenced gateway not found: \"{gateway}\""),
                ));
            }
        }
    }
}

/// IST0109: two or more VirtualServices bound to the mesh (no `gateways`, or `mesh` among
/// them) define the same host; which one a sidecar uses is undefined.
pub fn conflicting_mesh_hosts(input: &Input, out: &mut Vec<Finding>) {
    // host -> (VirtualService, index of the host in its spec.hosts)
    let mut by_host: BTreeMap<String, Vec<(&Item, usize)>> = BTreeMap::new();
    for (item, vs) in virtual_services(input) {
        let gateways = &vs.spec.gateways;
        if !gateways.is_empty() && !gateways.iter().any(|g| g == "mesh") {
            continue;
        }
        let ns = item.resource.namespace();
        for (i, h) in vs.spec.hosts.iter().enumerate() {
            let entry = by_host.entry(resolve(h, ns)).or_default();
            // The same host twice in one resource is one VirtualService, not a conflict.
            if !entry.iter().any(|(other, _)| std::ptr::eq(*other, item)) {
                entry.push((item, i));
            }
        }
    }
    for (host, users) in by_host {
        if users.len() < 2 {
            continue;
        }
        let mut names: Vec<String> = users
            .iter()
            .map(|(i, _)| format!("{}/{}", i.resource.namespace(), i.resource.name()))
            .collect();
        names.sort();
        let names = names.join(",");
        for (item, i) in users {
            out.push(finding(
                item,
                Code::ConflictingMeshGatewayVirtualServiceHosts,
                format!("spec.hosts[{i}]"),
                format!(
                    "The VirtualServices {names} associated with mesh gateway define the same \
                     host {host} which can lead to undefined behavior. This can be fixed by \
                     merging the conflicting VirtualServices into a single resource."
                ),
            ));
        }
    }
}

/// IST0173: a DestinationRule subset whose labels no workload of its host carries. Only
/// for hosts the registry has workloads for (an unknown host is another problem).
pub fn subset_selects_nothing(input: &Input, out: &mut Vec<Finding>) {
    for (item, dr) in destination_rules(input) {
        let host = resolve(&dr.spec.host, item.resource.namespace());
        if !is_exact(&host) {
            continue;
        }
        let workloads: Vec<&Workload> = endpoints(input, &host).collect();
        if workloads.is_empty() {
            continue;
        }
        for (k, subset) in dr.spec.subsets.iter().enumerate() {
            let selected = workloads.iter().any(|w| {
                subset
                    .labels
                    .iter()
                    .all(|(key, value)| w.labels.get(key) == Some(value))
            });
            if selected {
                continue;
            }
            let wanted: Vec<String> = subset
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.push(finding(
                item,
                Code::DestinationRuleSubsetNotSelectPods,
                format!("spec.subsets[{k}]"),
                format!(
                    "The Subset {} defined in the DestinationRule does not select any pods \
                     (none of the {} workload(s) of {host} has {}), which may lead to 503 UH \
                     (NoHealthyUpstream).",
                    subset.name,
                    workloads.len(),
                    wanted.join(",")
                ),
            ));
        }
    }
}
