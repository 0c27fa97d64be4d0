//! Host names as Istio reads them: short names resolved in a resource's namespace, wildcard
//! hosts, `exportTo` visibility, and the authorities a client may use for a service.

use crate::registry::DEFAULT_DOMAIN;

/// Istio's short-name rule: a name without a dot is a service in `namespace`
/// (`reviews` -> `reviews.default.svc.cluster.local`); anything with a dot, and `*`, is
/// taken as written.
pub fn resolve(name: &str, namespace: &str) -> String {
    if name == "*" || name.contains('.') {
        name.to_ascii_lowercase()
    } else {
        format!(
            "{}.{namespace}.svc.{DEFAULT_DOMAIN}",
            name.to_ascii_lowercase()
        )
    }
}

/// Whether `pattern` (a resolved host: an FQDN, `*.suffix` or `*`) covers `host`.
pub fn matches(pattern: &str, host: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_prefix('*') {
        // `*.example.com` covers `a.example.com` and `a.b.example.com`, not `example.com`.
        Some(suffix) => host.ends_with(suffix) && host.len() > suffix.len(),
        None => pattern == host,
    }
}

/// Whether a pattern names one host exactly (more specific than any wildcard).
pub fn is_exact(pattern: &str) -> bool {
    !pattern.starts_with('*')
}

/// Istio's `exportTo`: empty or `*` means every namespace, `.` the resource's own, any
/// other entry a namespace by name.
pub fn visible(export_to: &[String], resource_ns: &str, proxy_ns: &str) -> bool {
    export_to.is_empty()
        || export_to.iter().any(|e| {
            e == "*" || (e == "." && resource_ns == proxy_ns) || (e != "." && e == proxy_ns)
        })
}

/// The Kubernetes service host `svc.ns.svc.cluster.local` split into (service, namespace).
pub fn split_service_host(host: &str) -> Option<(&str, &str)> {
    let rest = host.strip_suffix(&format!(".svc.{DEFAULT_DOMAIN}"))?;
    let (svc, ns) = rest.split_once('.')?;
    (!svc.is_empty() && !ns.is_empty() && !ns.contains('.')).then_some((svc, ns))
}

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
    fn short_names_resolve_in_the_resource_namespace() {
        assert_eq!(resolve("reviews", "ns1"), "reviews.ns1.svc.cluster.local");
        assert_eq!(resolve("www.example.com", "ns1"), "www.example.com");
        assert_eq!(resolve("*", "ns1"), "*");
    }

    #[test]
    fn wildcards() {
        assert!(matches("*", "a.b"));
        assert!(matches(
            "*.default.svc.cluster.local",
            "reviews.default.svc.cluster.local"
        ));
        assert!(!matches("*.example.com", "example.com"));
        assert!(!matches("a.example.com", "b.example.com"));
    }

    #[test]
    fn export_to() {
        assert!(visible(&[], "a", "b"));
        assert!(visible(&[".".into()], "a", "a"));
        assert!(!visible(&[".".into()], "a", "b"));
        assert!(visible(&["b".into()], "a", "b"));
        assert!(visible(&["*".into()], "a", "b"));
    }

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
