//! Host names as Istio reads them: short names resolved in a resource's namespace, wildcard
//! hosts and `exportTo` visibility. Shared by the control plane's translation and by
//! `meshctl analyze`, so both read a rule's hosts the same way.

/// The DNS suffix of service hosts, as in Kubernetes.
pub const DEFAULT_DOMAIN: &str = "cluster.local";

/// `reviews` in `default` -> `reviews.default.svc.cluster.local`.
pub fn service_host(service: &str, namespace: &str) -> String {
    format!("{service}.{namespace}.svc.{DEFAULT_DOMAIN}")
}

/// Istio's short-name rule: a name without a dot is a service in `namespace`
/// (`reviews` -> `reviews.default.svc.cluster.local`); anything with a dot, and `*`, is
/// taken as written.
pub fn resolve(name: &str, namespace: &str) -> String {
    if name == "*" || name.contains('.') {
        name.to_ascii_lowercase()
    } else {
        service_host(&name.to_ascii_lowercase(), namespace)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_resolve_in_the_resource_namespace() {
        assert_eq!(resolve("reviews", "ns1"), "reviews.ns1.svc.cluster.local");
        assert_eq!(resolve("www.example.com", "ns1"), "www.example.com");
        assert_eq!(resolve("*", "ns1"), "*");
        assert_eq!(
            split_service_host("reviews.ns1.svc.cluster.local"),
            Some(("reviews", "ns1"))
        );
        assert_eq!(split_service_host("www.example.com"), None);
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
}
