//! Security settings of a snapshot: how a cluster's endpoints are dialled (`ClusterTls`, from a
//! DestinationRule's `trafficPolicy.tls` or auto-mTLS), whether an inbound listener requires
//! mTLS (`PeerAuthentication`), and who may call it (`AuthorizationRule`, one compiled
//! AuthorizationPolicy). Field names are Istio's, so translation copies them field for field.
//!
//! Certificates and the trust bundle are not here: they come from the proxy's identity source.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Istio's `ClientTLSSettings`, the modes a sidecar uses between mesh workloads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterTls {
    pub mode: ClusterTlsMode,
    /// SPIFFE IDs the endpoints may prove (any one). Empty: each endpoint must prove its own
    /// `principal`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_alt_names: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterTlsMode {
    /// Plain text.
    #[default]
    Disable,
    /// mTLS with the proxy's own certificate, TLS 1.3, ALPN h2.
    IstioMutual,
}

/// The PeerAuthentication in force on an inbound listener.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerAuthentication {
    #[serde(default)]
    pub mode: MtlsMode,
    /// Per destination port. The mode is chosen per connection, before any request is read,
    /// so the port is the connection's destination: the original destination's port on
    /// transparent listeners (Kubernetes), the inbound listener's own port otherwise (the
    /// local platform, where the translation keys it by the workload's port: see its docs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub port_level_mtls: BTreeMap<u16, MtlsMode>,
}

/// Istio's `PeerAuthentication.MutualTLS.Mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MtlsMode {
    /// Nothing said: PERMISSIVE.
    #[default]
    Unset,
    /// Plain text only: TLS connections are not terminated.
    Disable,
    /// mTLS and plain text.
    Permissive,
    /// mTLS only: plain-text connections are closed.
    Strict,
}

impl PeerAuthentication {
    /// The mode for `port`, UNSET resolved to PERMISSIVE.
    pub fn mode_for(&self, port: u16) -> MtlsMode {
        let m = match self.port_level_mtls.get(&port) {
            Some(MtlsMode::Unset) | None => self.mode,
            Some(m) => *m,
        };
        match m {
            MtlsMode::Unset => MtlsMode::Permissive,
            m => m,
        }
    }
}

/// One AuthorizationPolicy, in Istio's shape (only the fields the proxy enforces).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizationRule {
    /// `namespace/name` of the policy, shown in access logs when it denies.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub action: AuthzAction,
    /// Any rule (OR). ALLOW with no rules matches nothing; DENY with no rules matches nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<AuthzRule>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthzAction {
    #[default]
    Allow,
    Deny,
}

/// Istio's `Rule`: every non-empty part must match; within `from` and `to`, any entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthzRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<AuthzFrom>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<AuthzTo>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthzFrom {
    #[serde(default)]
    pub source: AuthzSource,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthzTo {
    #[serde(default)]
    pub operation: AuthzOperation,
}

/// Istio's `Source`. Principals as Istio writes them (`cluster.local/ns/default/sa/x`, `*`
/// prefix or suffix wildcards); a `spiffe://` prefix is accepted too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthzSource {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_principals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_namespaces: Vec<String>,
}

/// Istio's `Operation`. Paths and hosts: exact, `prefix*`, `*suffix` or `*`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthzOperation {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_hosts: Vec<String>,
    /// Ports as strings, as Istio writes them (`"8080"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ports: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_paths: Vec<String>,
}

/// Checks a listener's security settings; `p` is its field path.
pub(super) fn validate_listener(
    l: &super::Listener,
    p: &str,
    push: &mut impl FnMut(String, String),
) {
    let inbound = l.direction == super::Direction::Inbound;
    if !inbound && l.peer_authentication.is_some() {
        push(
            format!("{p}.peerAuthentication"),
            "only inbound listeners terminate mTLS; remove it or set direction: inbound".into(),
        );
    }
    if !inbound && !l.authorization.is_empty() {
        push(
            format!("{p}.authorization"),
            "authorization is enforced on inbound listeners only".into(),
        );
    }
    for (ai, a) in l.authorization.iter().enumerate() {
        for (ri, r) in a.rules.iter().enumerate() {
            for (ti, t) in r.to.iter().enumerate() {
                let op = &t.operation;
                let tp = format!("{p}.authorization[{ai}].rules[{ri}].to[{ti}].operation");
                for (field, ports) in [("ports", &op.ports), ("notPorts", &op.not_ports)] {
                    for port in ports {
                        if port.parse::<u16>().is_err() {
                            push(
                                format!("{tp}.{field}"),
                                format!("{port:?} is not a port number"),
                            );
                        }
                    }
                }
                for (field, values) in [
                    ("paths", &op.paths),
                    ("notPaths", &op.not_paths),
                    ("hosts", &op.hosts),
                    ("notHosts", &op.not_hosts),
                ] {
                    for v in values {
                        if v.len() > 1 && v[1..v.len() - 1].contains('*') {
                            push(
                                format!("{tp}.{field}"),
                                format!("{v:?}: `*` is allowed only as a prefix or a suffix"),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Checks a cluster's TLS settings; `p` is its field path.
pub(super) fn validate_cluster(c: &super::Cluster, p: &str, push: &mut impl FnMut(String, String)) {
    let Some(tls) = &c.tls else { return };
    for san in &tls.subject_alt_names {
        if !san.starts_with("spiffe://") {
            push(
                format!("{p}.tls.subjectAltNames"),
                format!("{san:?} is not a SPIFFE ID (spiffe://<trust-domain>/ns/<ns>/sa/<sa>)"),
            );
        }
    }
    if tls.mode == ClusterTlsMode::IstioMutual && tls.subject_alt_names.is_empty() {
        for (ei, e) in c.endpoints.iter().enumerate() {
            if e.principal.is_empty() {
                push(
                    format!("{p}.endpoints[{ei}].principal"),
                    "ISTIO_MUTUAL needs the endpoint's SPIFFE ID (or tls.subjectAltNames)".into(),
                );
            }
        }
    }
}
