//! The six kinds we understand, as one enum, and the apiVersion/kind table that picks a
//! kind for a YAML document.

use std::fmt;

use serde::Serialize;

use super::destination_rule::DestinationRuleSpec;
use super::gateway::GatewaySpec;
use super::meta::{Object, ObjectMeta};
use super::security::{AuthorizationPolicySpec, PeerAuthenticationSpec};
use super::service_entry::ServiceEntrySpec;
use super::virtual_service::VirtualServiceSpec;

/// A `VirtualService` resource.
pub type VirtualService = Object<VirtualServiceSpec>;
/// A `DestinationRule` resource.
pub type DestinationRule = Object<DestinationRuleSpec>;
/// A `Gateway` resource.
pub type Gateway = Object<GatewaySpec>;
/// A `ServiceEntry` resource.
pub type ServiceEntry = Object<ServiceEntrySpec>;
/// A `PeerAuthentication` resource.
pub type PeerAuthentication = Object<PeerAuthenticationSpec>;
/// An `AuthorizationPolicy` resource.
pub type AuthorizationPolicy = Object<AuthorizationPolicySpec>;

/// The kinds of Istio resource meshctl reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// networking.istio.io `VirtualService`.
    VirtualService,
    /// networking.istio.io `DestinationRule`.
    DestinationRule,
    /// networking.istio.io `Gateway`.
    Gateway,
    /// networking.istio.io `ServiceEntry`.
    ServiceEntry,
    /// security.istio.io `PeerAuthentication`.
    PeerAuthentication,
    /// security.istio.io `AuthorizationPolicy`.
    AuthorizationPolicy,
}

/// API versions accepted for networking.istio.io kinds.
pub const NETWORKING_VERSIONS: &[&str] = &[
    "networking.istio.io/v1",
    "networking.istio.io/v1beta1",
    "networking.istio.io/v1alpha3",
];
/// API versions accepted for security.istio.io kinds.
pub const SECURITY_VERSIONS: &[&str] = &["security.istio.io/v1", "security.istio.io/v1beta1"];

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Kind; 6] = [
        Kind::VirtualService,
        Kind::DestinationRule,
        Kind::Gateway,
        Kind::ServiceEntry,
        Kind::PeerAuthentication,
        Kind::AuthorizationPolicy,
    ];

    /// The `kind:` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::VirtualService => "VirtualService",
            Kind::DestinationRule => "DestinationRule",
            Kind::Gateway => "Gateway",
            Kind::ServiceEntry => "ServiceEntry",
            Kind::PeerAuthentication => "PeerAuthentication",
            Kind::AuthorizationPolicy => "AuthorizationPolicy",
        }
    }

    /// The apiVersions this kind may be written with.
    pub fn api_versions(self) -> &'static [&'static str] {
        match self {
            Kind::PeerAuthentication | Kind::AuthorizationPolicy => SECURITY_VERSIONS,
            _ => NETWORKING_VERSIONS,
        }
    }

    /// Picks the kind for a document's `apiVersion` and `kind`, or explains what is accepted.
    pub fn resolve(api_version: &str, kind: &str) -> Result<Kind, String> {
        let found = Kind::ALL.into_iter().find(|k| k.as_str() == kind);
        match found {
            Some(k) if k.api_versions().contains(&api_version) => Ok(k),
            Some(k) => Err(format!(
                "kind {kind} does not exist in apiVersion {api_version:?}; use one of: {}",
                k.api_versions().join(", ")
            )),
            None => Err(format!(
                "unsupported apiVersion/kind {api_version:?}/{kind:?}; meshctl reads {}",
                supported()
            )),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Human-readable list of what we accept, for error messages and docs.
pub fn supported() -> String {
    format!(
        "VirtualService, DestinationRule, Gateway, ServiceEntry ({}) and PeerAuthentication, \
         AuthorizationPolicy ({})",
        NETWORKING_VERSIONS.join(", "),
        SECURITY_VERSIONS.join(", ")
    )
}

/// Any Istio resource meshctl reads.
// Variants differ in size, but resources are read once and stored, never moved per request,
// so boxing them would only make matching clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Resource {
    /// A VirtualService.
    VirtualService(VirtualService),
    /// A DestinationRule.
    DestinationRule(DestinationRule),
    /// A Gateway.
    Gateway(Gateway),
    /// A ServiceEntry.
    ServiceEntry(ServiceEntry),
    /// A PeerAuthentication.
    PeerAuthentication(PeerAuthentication),
    /// An AuthorizationPolicy.
    AuthorizationPolicy(AuthorizationPolicy),
}

impl Resource {
    /// Which kind this is.
    pub fn kind(&self) -> Kind {
        match self {
            Resource::VirtualService(_) => Kind::VirtualService,
            Resource::DestinationRule(_) => Kind::DestinationRule,
            Resource::Gateway(_) => Kind::Gateway,
            Resource::ServiceEntry(_) => Kind::ServiceEntry,
            Resource::PeerAuthentication(_) => Kind::PeerAuthentication,
            Resource::AuthorizationPolicy(_) => Kind::AuthorizationPolicy,
        }
    }

    /// The resource's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Resource::VirtualService(r) => &r.metadata,
            Resource::DestinationRule(r) => &r.metadata,
            Resource::Gateway(r) => &r.metadata,
            Resource::ServiceEntry(r) => &r.metadata,
            Resource::PeerAuthentication(r) => &r.metadata,
            Resource::AuthorizationPolicy(r) => &r.metadata,
        }
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        &self.metadata().name
    }

    /// `metadata.namespace`; empty when the file did not say.
    pub fn namespace(&self) -> &str {
        &self.metadata().namespace
    }

    /// The apiVersion it was written with.
    pub fn api_version(&self) -> &str {
        match self {
            Resource::VirtualService(r) => &r.api_version,
            Resource::DestinationRule(r) => &r.api_version,
            Resource::Gateway(r) => &r.api_version,
            Resource::ServiceEntry(r) => &r.api_version,
            Resource::PeerAuthentication(r) => &r.api_version,
            Resource::AuthorizationPolicy(r) => &r.api_version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_kinds_by_api_version() {
        assert_eq!(
            Kind::resolve("networking.istio.io/v1alpha3", "Gateway"),
            Ok(Kind::Gateway)
        );
        assert_eq!(
            Kind::resolve("security.istio.io/v1beta1", "AuthorizationPolicy"),
            Ok(Kind::AuthorizationPolicy)
        );
        let wrong_group = Kind::resolve("networking.istio.io/v1", "PeerAuthentication");
        assert!(wrong_group.is_err_and(|e| e.contains("security.istio.io/v1beta1")));
        let unknown = Kind::resolve("apps/v1", "Deployment");
        assert!(unknown.is_err_and(
            |e| e.contains("\"apps/v1\"/\"Deployment\"") && e.contains("VirtualService")
        ));
    }
}
