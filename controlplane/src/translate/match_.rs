//! `HTTPMatchRequest` -> [`RouteMatch`], and which matches apply where.
//!
//! Some conditions are about the proxy rather than the request: `port` narrows a match to
//! one port's virtual host, `sourceLabels`/`sourceNamespace` to proxies of matching
//! workloads, `gateways` to the mesh or named gateways. Istio evaluates them when it builds
//! each proxy's config, and so do we: a match that does not apply is left out, and a route
//! all of whose matches were left out is dropped.

use std::collections::BTreeMap;

use mesh_api::istio::http_route::{HttpMatchRequest, ValueMatch};
use mesh_api::snapshot::RouteMatch;
use mesh_api::StringMatch;

use super::ProxyView;

/// Where routes are being built: a sidecar (`mesh`) or a gateway named `ns/name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    Mesh,
    Gateway { namespace: &'a str, name: &'a str },
}

impl Scope<'_> {
    /// Whether a `gateways` list written in namespace `ns` names this scope. An empty list
    /// means the scope of the VirtualService (checked by the caller).
    pub fn named_in(&self, gateways: &[String], ns: &str) -> bool {
        gateways.iter().any(|g| match self {
            Scope::Mesh => g == super::lookup::MESH,
            Scope::Gateway { namespace, name } => match g.split_once('/') {
                Some((gns, gname)) => gns == *namespace && gname == *name,
                None => ns == *namespace && g == name,
            },
        })
    }
}

/// What a match is evaluated against when building one proxy's config.
#[derive(Clone, Copy, Debug)]
pub struct Site<'a> {
    pub proxy: ProxyView<'a>,
    pub scope: Scope<'a>,
    /// The port of the virtual host being built.
    pub port: u16,
    /// The VirtualService's namespace (for short gateway names).
    pub vs_namespace: &'a str,
}

/// Whether an Istio match applies at this site (port, source, gateway conditions).
pub fn applies(m: &HttpMatchRequest, site: &Site<'_>) -> bool {
    if m.port != 0 && m.port != u32::from(site.port) {
        return false;
    }
    let labels_ok = m
        .source_labels
        .iter()
        .all(|(k, v)| site.proxy.labels.get(k) == Some(v));
    if !labels_ok {
        return false;
    }
    if !m.source_namespace.is_empty() && m.source_namespace != site.proxy.namespace {
        return false;
    }
    m.gateways.is_empty() || site.scope.named_in(&m.gateways, site.vs_namespace)
}

/// The request conditions of a match, as the proxy evaluates them.
pub fn translate(m: &HttpMatchRequest) -> RouteMatch {
    RouteMatch {
        uri: m.uri.clone(),
        method: m.method.clone(),
        authority: m.authority.clone(),
        headers: values(&m.headers),
        without_headers: values(&m.without_headers),
        query_params: values(&m.query_params),
        ignore_uri_case: m.ignore_uri_case,
    }
}

/// `{}` in Istio means "present with any value": a regex matching anything.
fn values(map: &BTreeMap<String, ValueMatch>) -> BTreeMap<String, StringMatch> {
    map.iter()
        .map(|(k, v)| {
            let sm =
                v.0.clone()
                    .unwrap_or_else(|| StringMatch::Regex(".*".into()));
            (k.to_ascii_lowercase(), sm)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site<'a>(labels: &'a BTreeMap<String, String>, scope: Scope<'a>) -> Site<'a> {
        Site {
            proxy: ProxyView {
                namespace: "default",
                labels,
            },
            scope,
            port: 9080,
            vs_namespace: "default",
        }
    }

    #[test]
    fn port_and_source_conditions_are_evaluated_per_proxy() {
        let labels = BTreeMap::from([("app".to_string(), "productpage".to_string())]);
        let s = site(&labels, Scope::Mesh);
        let mut m = HttpMatchRequest::default();
        assert!(applies(&m, &s));
        m.port = 80;
        assert!(!applies(&m, &s));
        m.port = 9080;
        m.source_labels = BTreeMap::from([("app".to_string(), "reviews".to_string())]);
        assert!(!applies(&m, &s));
        m.source_labels = labels.clone();
        m.source_namespace = "other".into();
        assert!(!applies(&m, &s));
        m.source_namespace = "default".into();
        assert!(applies(&m, &s));
    }

    #[test]
    fn gateway_names_resolve_in_the_virtual_service_namespace() {
        let labels = BTreeMap::new();
        let gw = Scope::Gateway {
            namespace: "default",
            name: "bookinfo-gateway",
        };
        let mut m = HttpMatchRequest {
            gateways: vec!["bookinfo-gateway".into()],
            ..Default::default()
        };
        assert!(applies(&m, &site(&labels, gw)));
        assert!(!applies(&m, &site(&labels, Scope::Mesh)));
        m.gateways = vec!["istio-system/bookinfo-gateway".into()];
        assert!(!applies(&m, &site(&labels, gw)));
    }

    #[test]
    fn presence_only_header_match() {
        let m = HttpMatchRequest {
            headers: BTreeMap::from([("X-Debug".to_string(), ValueMatch(None))]),
            ..Default::default()
        };
        let t = translate(&m);
        assert_eq!(t.headers["x-debug"], StringMatch::Regex(".*".into()));
    }
}
