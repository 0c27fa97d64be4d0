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

/// How specifically `name` (a rule's host as written, read in `namespace`) covers `host`:
/// `None` when `matches(&resolve(name, namespace), host)` is false, else `usize::MAX` for an
/// exact name and the pattern's length for a wildcard (longer wildcards are more specific).
/// The same answer as resolving first, without building the resolved name: the control
/// plane asks this for every rule host of every service of every proxy.
pub fn match_specificity(name: &str, namespace: &str, host: &str) -> Option<usize> {
    if name == "*" {
        return Some(1);
    }
    let host = host.as_bytes();
    if name.contains('.') {
        return match name.strip_prefix('*') {
            Some(suffix) => (host.len() > suffix.len()
                && lower_eq(suffix, &host[host.len() - suffix.len()..]))
            .then_some(name.len()),
            None => lower_eq(name, host).then_some(usize::MAX),
        };
    }
    if name.starts_with('*') {
        // A wildcard short name (`*foo`): rare enough to resolve the slow way.
        let pattern = resolve(name, namespace);
        return matches(&pattern, std::str::from_utf8(host).ok()?).then(|| {
            if is_exact(&pattern) {
                usize::MAX
            } else {
                pattern.len()
            }
        });
    }
    // `name.namespace.svc.cluster.local`, compared piece by piece.
    let (n, ns) = (name.len(), namespace.len());
    let tail = host.get(n + 1 + ns..)?;
    (host.len() > n + 1 + ns
        && lower_eq(name, &host[..n])
        && host[n] == b'.'
        && &host[n + 1..n + 1 + ns] == namespace.as_bytes()
        && tail.strip_prefix(b".svc.") == Some(DEFAULT_DOMAIN.as_bytes()))
    .then_some(usize::MAX)
}

/// `name.to_ascii_lowercase() == host`, without the copy.
fn lower_eq(name: &str, host: &[u8]) -> bool {
    name.len() == host.len()
        && name
            .bytes()
            .zip(host)
            .all(|(a, &b)| a.to_ascii_lowercase() == b)
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
    use proptest::prelude::*;

    /// The slow definition `match_specificity` must agree with.
    fn by_resolving(name: &str, namespace: &str, host: &str) -> Option<usize> {
        let pattern = resolve(name, namespace);
        matches(&pattern, host).then(|| {
            if is_exact(&pattern) {
                usize::MAX
            } else {
                pattern.len()
            }
        })
    }

    #[test]
    fn match_specificity_examples() {
        let h = "reviews.default.svc.cluster.local";
        assert_eq!(match_specificity("reviews", "default", h), Some(usize::MAX));
        assert_eq!(match_specificity("Reviews", "default", h), Some(usize::MAX));
        assert_eq!(match_specificity("reviews", "prod", h), None);
        assert_eq!(match_specificity("review", "default", h), None);
        assert_eq!(match_specificity(h, "prod", h), Some(usize::MAX));
        assert_eq!(match_specificity("*.svc.cluster.local", "x", h), Some(19));
        assert_eq!(match_specificity("*", "x", h), Some(1));
        assert_eq!(match_specificity("*.example.com", "x", "example.com"), None);
        assert_eq!(
            match_specificity("reviews", "default", "reviews.default.svc.cluster.localx"),
            None
        );
    }

    proptest! {
        #[test]
        fn match_specificity_is_resolve_then_match(
            name in "[*]?[a-zA-Z]{0,3}([.][a-z]{0,3}){0,3}",
            namespace in "[a-z]{0,3}",
            host in "[a-z*]{0,3}([.][a-z]{0,3}){0,4}",
            short in any::<bool>(),
        ) {
            // Half the hosts are service hosts built from the same pieces, so matches happen.
            let host = if short { service_host(&name.to_ascii_lowercase(), &namespace) } else { host };
            prop_assert_eq!(match_specificity(&name, &namespace, &host), by_resolving(&name, &namespace, &host));
        }
    }

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
