//! Which stored resources apply to a service, for the Detail view.
//!
//! - VirtualService, DestinationRule, ServiceEntry: by host. A host names the service as its
//!   short name (in the resource's namespace), `name.namespace`, or the FQDN
//!   `name.namespace.svc.cluster.local`. A VirtualService whose routes send traffic to the
//!   service applies too ("routes here").
//! - Gateway and the policies (PeerAuthentication, AuthorizationPolicy, RequestAuthentication,
//!   Sidecar, ...): by workload selector, whose labels must all be among the service's
//!   proxies' labels. Without a selector a policy applies to its whole namespace, and from
//!   `istio-system` (the root namespace) to the whole mesh.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::StoredResource;
use crate::services::Service;

/// The mesh-wide namespace of Istio's policies.
pub const ROOT_NAMESPACE: &str = "istio-system";

/// A resource that applies to a service, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule<'a> {
    pub resource: &'a StoredResource,
    pub why: &'static str,
}

pub fn rules_for<'a>(service: &Service, stored: &'a [StoredResource]) -> Vec<Rule<'a>> {
    let mut labels = service.labels.clone();
    labels
        .entry("app".to_string())
        .or_insert_with(|| service.app.clone());
    let mut out: Vec<Rule<'a>> = stored
        .iter()
        .filter_map(|r| why(service, &labels, r).map(|why| Rule { resource: r, why }))
        .collect();
    out.sort_by(|a, b| {
        let key = |r: &Rule<'_>| {
            (
                r.resource.kind.clone(),
                r.resource.namespace.clone(),
                r.resource.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    out
}

fn why(
    service: &Service,
    labels: &BTreeMap<String, String>,
    r: &StoredResource,
) -> Option<&'static str> {
    let spec = r.spec();
    let names = |host: &str| host_names(host, &r.namespace, service);
    match r.kind.as_str() {
        "VirtualService" => {
            if strings(&spec["hosts"]).any(names) {
                Some("hosts")
            } else if route_hosts(spec).any(|h| names(&h)) {
                Some("routes here")
            } else {
                None
            }
        }
        "DestinationRule" => spec["host"].as_str().filter(|h| names(h)).map(|_| "host"),
        "ServiceEntry" => strings(&spec["hosts"]).any(names).then_some("hosts"),
        "Gateway" => {
            let selector = as_labels(&spec["selector"]);
            (!selector.is_empty() && subset(&selector, labels)).then_some("selector")
        }
        _ => {
            let selector = as_labels(&spec["selector"]["matchLabels"]);
            if !selector.is_empty() {
                subset(&selector, labels).then_some("selector")
            } else if !is_policy(&r.kind) {
                None
            } else if r.namespace == service.namespace {
                Some("namespace-wide")
            } else if r.namespace == ROOT_NAMESPACE {
                Some("mesh-wide")
            } else {
                None
            }
        }
    }
}

/// Kinds that select workloads and, without a selector, apply to a namespace.
fn is_policy(kind: &str) -> bool {
    matches!(
        kind,
        "PeerAuthentication"
            | "AuthorizationPolicy"
            | "RequestAuthentication"
            | "Sidecar"
            | "EnvoyFilter"
            | "Telemetry"
            | "WasmPlugin"
    )
}

/// Whether `host`, written in a resource of `namespace`, names `service`.
pub fn host_names(host: &str, namespace: &str, service: &Service) -> bool {
    if host == service.app {
        return namespace == service.namespace;
    }
    let short = format!("{}.{}", service.app, service.namespace);
    host == short || host == format!("{short}.svc") || host == service.fqdn()
}

fn strings(v: &Value) -> impl Iterator<Item = &str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str)
}

/// Every `route[].destination.host` of a VirtualService's http, tcp and tls routes.
fn route_hosts(spec: &Value) -> impl Iterator<Item = String> + '_ {
    ["http", "tcp", "tls"]
        .into_iter()
        .flat_map(move |proto| spec[proto].as_array().into_iter().flatten())
        .flat_map(|route| route["route"].as_array().into_iter().flatten())
        .filter_map(|dest| dest["destination"]["host"].as_str().map(str::to_string))
}

fn as_labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect()
}

fn subset(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}
