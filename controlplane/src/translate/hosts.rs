//! Host names as Istio reads them ([`mesh_api::istio::hosts`]: short names resolved in a
//! resource's namespace, wildcard hosts, `exportTo` visibility), and the authorities a
//! client may use for a service.

pub use mesh_api::istio::hosts::{
    is_exact, match_specificity, matches, resolve, split_service_host, visible,
};

/// Every authority a client may use for `host` on `port`, as Kubernetes DNS search paths
/// allow: `reviews` (only from the same namespace), `reviews.default`,
/// `reviews.default.svc` and the FQDN, each with `:port` and, when the service has a
/// single HTTP port (so the port-less name is unambiguous), without.
pub fn domains(host: &str, port: u16, proxy_ns: &str, single_http_port: bool) -> Vec<String> {
    let mut names = Vec::new();
    match split_service_host(host) {
        Some((svc, ns)) => {
            if ns == proxy_ns {
                names.push(svc.to_string());
            }
            names.push(format!("{svc}.{ns}"));
            names.push(format!("{svc}.{ns}.svc"));
            names.push(host.to_string());
        }
        None => names.push(host.to_string()),
    }
    let mut out = Vec::with_capacity(names.len() * 2);
    for n in names {
        if single_http_port {
            out.push(n.clone());
        }
        out.push(format!("{n}:{port}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_follow_dns_search_paths() {
        let d = domains("reviews.default.svc.cluster.local", 9080, "default", true);
        assert_eq!(
            d,
            [
                "reviews",
                "reviews:9080",
                "reviews.default",
                "reviews.default:9080",
                "reviews.default.svc",
                "reviews.default.svc:9080",
                "reviews.default.svc.cluster.local",
                "reviews.default.svc.cluster.local:9080"
            ]
        );
        let other_ns = domains("reviews.default.svc.cluster.local", 9080, "prod", false);
        assert_eq!(other_ns[0], "reviews.default:9080");
        assert_eq!(other_ns.len(), 3);
        assert_eq!(
            domains("api.example.com", 80, "x", true),
            ["api.example.com", "api.example.com:80"]
        );
    }
}
