//! How a stored resource is named: kind, namespace and name, as `kubectl` names it.

use std::fmt;

use mesh_api::istio::{Kind, Resource};

/// The namespace of a resource whose metadata names none, as on the local platform and as
/// `kubectl apply` without `-n` does.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Identifies one stored resource. Ordered by kind, then namespace, then name, so listings
/// come out grouped the way `kubectl get` shows them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The resource's kind.
    pub kind: Kind,
    /// The namespace; never empty (see [`DEFAULT_NAMESPACE`]).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

impl Key {
    /// A key; an empty namespace means [`DEFAULT_NAMESPACE`].
    pub fn new(kind: Kind, namespace: &str, name: &str) -> Key {
        Key {
            kind,
            namespace: namespace_or_default(namespace).to_string(),
            name: name.to_string(),
        }
    }

    /// The key a resource is stored under.
    pub fn of(resource: &Resource) -> Key {
        Key::new(resource.kind(), resource.namespace(), resource.name())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// `namespace`, or [`DEFAULT_NAMESPACE`] when it is empty.
pub fn namespace_or_default(namespace: &str) -> &str {
    if namespace.is_empty() {
        DEFAULT_NAMESPACE
    } else {
        namespace
    }
}

/// Writes the default namespace into a resource that names none, so what is stored (and
/// listed, and pushed) says where it lives, and so `metadata.namespace: default` and no
/// namespace at all compare equal on re-apply.
pub(crate) fn with_namespace(mut resource: Resource) -> Resource {
    let meta = match &mut resource {
        Resource::VirtualService(r) => &mut r.metadata,
        Resource::DestinationRule(r) => &mut r.metadata,
        Resource::Gateway(r) => &mut r.metadata,
        Resource::ServiceEntry(r) => &mut r.metadata,
        Resource::PeerAuthentication(r) => &mut r.metadata,
        Resource::AuthorizationPolicy(r) => &mut r.metadata,
    };
    if meta.namespace.is_empty() {
        meta.namespace = DEFAULT_NAMESPACE.to_string();
    }
    resource
}

/// The kind named by its `kind:` string, as written in a stored record.
pub(crate) fn kind_from_str(s: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| k.as_str() == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_namespace_is_default() {
        let k = Key::new(Kind::Gateway, "", "bookinfo-gateway");
        assert_eq!(k.namespace, "default");
        assert_eq!(k.to_string(), "Gateway default/bookinfo-gateway");
        assert_eq!(
            Key::new(Kind::Gateway, "istio-system", "g").namespace,
            "istio-system"
        );
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in Kind::ALL {
            assert_eq!(kind_from_str(k.as_str()), Some(k));
        }
        assert_eq!(kind_from_str("Deployment"), None);
    }
}
