//! Istio `Destination` (host, subset, port) -> a cluster name, recording the cluster as
//! used and warning about references nothing satisfies.
//!
//! An unsatisfiable reference still yields a cluster (without endpoints), so the route stays
//! in place and the proxy answers 503 "no healthy upstream" as Istio's Envoy does, instead of
//! the whole snapshot failing.

use mesh_api::istio::virtual_service::Destination;
use mesh_api::istio::Resource;

use super::clusters::ClusterKey;
use super::services::Catalog;
use super::{hosts, lookup, Acc, ProxyView};

/// What destinations are resolved against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Env<'a> {
    pub resources: &'a [&'a Resource],
    /// `resources`' VirtualServices and DestinationRules by host.
    pub hosts: &'a lookup::HostIndex,
    pub catalog: &'a Catalog,
    pub proxy: ProxyView<'a>,
    /// Default clusters of mesh workloads to ISTIO_MUTUAL (Istio's auto-mTLS).
    pub auto_mtls: bool,
}

/// Resolves `dest` (written in `r`, at field `path`, in namespace `ns`) for a request that
/// arrived on a virtual host of port `vhost_port`.
pub(crate) fn resolve(
    env: &Env<'_>,
    acc: &mut Acc,
    r: &Resource,
    path: &str,
    dest: &Destination,
    vhost_port: u16,
) -> String {
    let ns = lookup::namespace_of(r);
    let host = hosts::resolve(&dest.host, ns);
    let asked = dest
        .port
        .as_ref()
        .map(|p| p.number)
        .filter(|n| *n != 0)
        .and_then(|n| u16::try_from(n).ok());
    let Some(svc) = env.catalog.get(&host) else {
        acc.warnings.push(
            r,
            format!("{path}.host"),
            format!(
                "host {host:?} is neither a registered service nor a visible ServiceEntry; \
                 requests routed there get 503 until it exists (check the name and namespace)"
            ),
        );
        return acc.used.add(ClusterKey::new(
            &host,
            asked.unwrap_or(vhost_port),
            &dest.subset,
        ));
    };
    let port = match asked {
        Some(p) => {
            if !svc.has_port(p) {
                acc.warnings.push(
                    r,
                    format!("{path}.port.number"),
                    format!("{host} has no port {p}; requests routed there get 503"),
                );
            }
            p
        }
        // Istio: the only port, else the port the request came in on.
        None => match svc.ports.as_slice() {
            [only] => only.number,
            _ => {
                if !svc.has_port(vhost_port) {
                    acc.warnings.push(
                        r,
                        format!("{path}.port"),
                        format!(
                            "{host} has several ports and none is {vhost_port}; \
                             set destination.port.number"
                        ),
                    );
                }
                vhost_port
            }
        },
    };
    if !dest.subset.is_empty() {
        let dr =
            lookup::destination_rule(env.resources, env.hosts, &host, &svc.namespace, env.proxy);
        let defined = dr.is_some_and(|(_, dr)| lookup::subset(dr, &dest.subset).is_some());
        if !defined {
            acc.warnings.push(
                r,
                format!("{path}.subset"),
                format!(
                    "subset {:?} of {host} is not defined by any DestinationRule visible here; \
                     requests routed there get 503 until one defines it \
                     (apply destination-rule-all.yaml or add the subset)",
                    dest.subset
                ),
            );
        }
    }
    acc.used.add(ClusterKey::new(&host, port, &dest.subset))
}
