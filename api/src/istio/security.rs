//! security.istio.io: `PeerAuthentication` (is mTLS required?) and `AuthorizationPolicy`
//! (who may call what).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::meta::WorkloadSelector;

/// Istio's `PeerAuthentication` spec.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PeerAuthenticationSpec {
    /// Workloads this applies to; none means the whole namespace (or mesh, in the root one).
    pub selector: Option<WorkloadSelector>,
    /// The mode for all ports.
    pub mtls: Option<PeerMtls>,
    /// Per-port overrides, keyed by the workload's port number; needs a `selector`.
    pub port_level_mtls: BTreeMap<u32, PeerMtls>,
}

/// Istio's `PeerAuthentication.MutualTLS`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PeerMtls {
    /// Whether mTLS is required.
    pub mode: MtlsMode,
}

/// Istio's `PeerAuthentication.MutualTLS.Mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MtlsMode {
    /// Inherit from the parent (namespace, then mesh); PERMISSIVE if none.
    #[default]
    Unset,
    /// Plain text only.
    Disable,
    /// Accept both mTLS and plain text.
    Permissive,
    /// mTLS only.
    Strict,
}

/// Istio's `AuthorizationPolicy` spec.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct AuthorizationPolicySpec {
    /// Workloads this applies to; none means the whole namespace.
    pub selector: Option<WorkloadSelector>,
    /// Gateway or service this applies to (Kubernetes Gateway API), kept as written.
    pub target_ref: Option<serde_json::Value>,
    /// Several target references, kept as written.
    pub target_refs: Vec<serde_json::Value>,
    /// Rules (OR). ALLOW with no rules denies everything; DENY with no rules denies nothing.
    pub rules: Vec<Rule>,
    /// What a match means; default ALLOW.
    pub action: Action,
    /// The external authorizer for CUSTOM.
    pub provider: Option<ExtensionProvider>,
}

/// Istio's `AuthorizationPolicy.Action`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    /// Allow matching requests (and deny the rest, when any ALLOW policy exists).
    #[default]
    Allow,
    /// Deny matching requests.
    Deny,
    /// Log matching requests.
    Audit,
    /// Ask an external authorizer (`provider`).
    Custom,
}

/// Istio's `AuthorizationPolicy.ExtensionProvider`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ExtensionProvider {
    /// Name of a provider configured in the mesh config (required).
    pub name: String,
}

/// Istio's `Rule`: all of `from`, `to` and `when` must match (AND); within each, any (OR).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Rule {
    /// Who is calling.
    pub from: Vec<RuleFrom>,
    /// What is being called.
    pub to: Vec<RuleTo>,
    /// Further conditions.
    pub when: Vec<Condition>,
}

/// Istio's `Rule.From`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RuleFrom {
    /// The caller (required).
    pub source: Option<Source>,
}

/// Istio's `Rule.To`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RuleTo {
    /// The request (required).
    pub operation: Option<Operation>,
}

/// Istio's `Source`: all set fields must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Source {
    /// Peer identities, e.g. `cluster.local/ns/default/sa/productpage`.
    pub principals: Vec<String>,
    /// Peer identities that must not match.
    pub not_principals: Vec<String>,
    /// JWT `iss/sub` values.
    pub request_principals: Vec<String>,
    /// JWT `iss/sub` values that must not match.
    pub not_request_principals: Vec<String>,
    /// Namespaces of the peer.
    pub namespaces: Vec<String>,
    /// Namespaces that must not match.
    pub not_namespaces: Vec<String>,
    /// Peer IPs or CIDRs.
    pub ip_blocks: Vec<String>,
    /// Peer IPs or CIDRs that must not match.
    pub not_ip_blocks: Vec<String>,
    /// Original client IPs (from X-Forwarded-For).
    pub remote_ip_blocks: Vec<String>,
    /// Original client IPs that must not match.
    pub not_remote_ip_blocks: Vec<String>,
    /// Service accounts, `namespace/name`.
    pub service_accounts: Vec<String>,
    /// Service accounts that must not match.
    pub not_service_accounts: Vec<String>,
}

/// Istio's `Operation`: all set fields must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Operation {
    /// Hosts (authority).
    pub hosts: Vec<String>,
    /// Hosts that must not match.
    pub not_hosts: Vec<String>,
    /// Ports, as strings (`"8080"`).
    pub ports: Vec<String>,
    /// Ports that must not match.
    pub not_ports: Vec<String>,
    /// Methods (`GET`).
    pub methods: Vec<String>,
    /// Methods that must not match.
    pub not_methods: Vec<String>,
    /// Paths; `*` allowed as a prefix or suffix.
    pub paths: Vec<String>,
    /// Paths that must not match.
    pub not_paths: Vec<String>,
}

/// Istio's `Condition`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Condition {
    /// An attribute such as `request.headers[x-token]` or `source.ip` (required).
    pub key: String,
    /// Values that match.
    pub values: Vec<String>,
    /// Values that must not match.
    pub not_values: Vec<String>,
}
