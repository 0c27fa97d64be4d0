//! Transport security and access policy of a sidecar: `Cluster.tls` from a DestinationRule's
//! `trafficPolicy.tls` (or auto-mTLS), the inbound listener's `peerAuthentication` from
//! PeerAuthentication resources and its `authorization` from AuthorizationPolicies.
//!
//! Precedence follows Istio: a PeerAuthentication with a selector matching the workload beats
//! the namespace-wide one, which beats the mesh-wide one (no selector, in the root namespace
//! [`ROOT_NAMESPACE`]); UNSET inherits from the next level; `portLevelMtls` comes from the
//! workload-level resource. AuthorizationPolicies apply from the workload's namespace (no
//! selector, or a matching one) and from the root namespace (mesh-wide, or matching
//! selector). Unsupported fields never widen access: an ALLOW rule using one is dropped, a
//! DENY rule keeps its other conditions; both are reported as warnings.

use mesh_api::istio::destination_rule::Subset;
use mesh_api::istio::meta::WorkloadSelector;
use mesh_api::istio::security::{self as sec, Action};
use mesh_api::istio::traffic_policy::{ClientTlsMode, ClientTlsSettings, TrafficPolicy};
use mesh_api::istio::{DestinationRule, Resource};
use mesh_api::snapshot::{
    AuthorizationRule, AuthzAction, AuthzFrom, AuthzOperation, AuthzRule, AuthzSource, AuthzTo,
    Cluster, ClusterTls, ClusterTlsMode, MtlsMode, PeerAuthentication,
};

use super::lookup::namespace_of;
use super::Warnings;
use crate::registry::Workload;

/// Istio's root namespace: mesh-wide policies live here.
pub const ROOT_NAMESPACE: &str = "istio-system";

/// The TLS settings of `c` (endpoints already filled): the DestinationRule's `tls` for the
/// subset and port when set, else ISTIO_MUTUAL when `auto_mtls` (this sidecar has a
/// certificate) and every endpoint is a mesh sidecar holding one too (`meshed`) with a known
/// identity.
pub(crate) fn cluster_tls(
    dr: Option<(&Resource, &DestinationRule)>,
    subset: Option<&Subset>,
    port: u16,
    c: &Cluster,
    meshed: bool,
    auto_mtls: bool,
    warnings: &mut Warnings,
) -> Option<ClusterTls> {
    let tls_of = |tp| tls_for_port(tp, port);
    let explicit: Option<&ClientTlsSettings> = subset
        .and_then(|s| s.traffic_policy.as_ref())
        .and_then(tls_of)
        .or_else(|| dr.and_then(|(_, d)| d.spec.traffic_policy.as_ref().and_then(tls_of)));
    let all_known = !c.endpoints.is_empty() && c.endpoints.iter().all(|e| !e.principal.is_empty());
    match explicit.map(|t| (t.mode, t)) {
        Some((ClientTlsMode::IstioMutual, t)) => {
            if t.subject_alt_names.is_empty() && !all_known && !c.endpoints.is_empty() {
                if let Some((r, _)) = dr {
                    warnings.push(
                        r,
                        "spec.trafficPolicy.tls".into(),
                        format!("ISTIO_MUTUAL for {}: some endpoints are not mesh workloads (no identity); list subjectAltNames or use DISABLE", c.service),
                    );
                }
                return None;
            }
            Some(ClusterTls {
                mode: ClusterTlsMode::IstioMutual,
                subject_alt_names: t.subject_alt_names.clone(),
            })
        }
        Some((ClientTlsMode::Disable, _)) => None,
        Some((mode, _)) => {
            if let Some((r, _)) = dr {
                warnings.push(
                    r,
                    "spec.trafficPolicy.tls.mode".into(),
                    format!("{mode:?} (TLS to non-mesh servers) is not supported yet; traffic is sent in plain text"),
                );
            }
            None
        }
        None if auto_mtls && meshed && all_known => Some(ClusterTls {
            mode: ClusterTlsMode::IstioMutual,
            subject_alt_names: Vec::new(),
        }),
        None => None,
    }
}

/// A traffic policy's `tls` for `port`: the port-level setting, else the policy's own.
fn tls_for_port(tp: &TrafficPolicy, port: u16) -> Option<&ClientTlsSettings> {
    tp.port_level_settings
        .iter()
        .find(|s| s.port.as_ref().is_some_and(|p| p.number == u32::from(port)))
        .and_then(|s| s.tls.as_ref())
        .or(tp.tls.as_ref())
}

fn selects(sel: &Option<WorkloadSelector>, w: &Workload) -> bool {
    sel.as_ref().is_some_and(|s| {
        s.match_labels
            .iter()
            .all(|(k, v)| w.labels.get(k) == Some(v))
    })
}

/// The PeerAuthentication in force for workload `w`.
pub fn peer_authentication(resources: &[&Resource], w: &Workload) -> PeerAuthentication {
    let (mut workload, mut namespace, mut mesh) = (None, None, None);
    for r in resources {
        let Resource::PeerAuthentication(pa) = r else {
            continue;
        };
        let ns = namespace_of(r);
        let spec = &pa.spec;
        let slot = match (&spec.selector, ns) {
            (Some(_), ns) if ns == w.namespace && selects(&spec.selector, w) => &mut workload,
            (None, ns) if ns == w.namespace => &mut namespace,
            (None, ROOT_NAMESPACE) => &mut mesh,
            _ => continue,
        };
        // The first in input order wins (Istio: the oldest).
        slot.get_or_insert(spec);
    }
    let mode_of = |s: Option<&sec::PeerAuthenticationSpec>| {
        s.and_then(|s| s.mtls.as_ref())
            .map(|m| convert_mode(m.mode))
            .filter(|m| *m != MtlsMode::Unset)
    };
    let mode = mode_of(workload)
        .or(mode_of(namespace))
        .or(mode_of(mesh))
        .unwrap_or(MtlsMode::Unset);
    let port_level_mtls = workload
        .map(|s| {
            s.port_level_mtls
                .iter()
                .filter_map(|(p, m)| Some((u16::try_from(*p).ok()?, convert_mode(m.mode))))
                .collect()
        })
        .unwrap_or_default();
    PeerAuthentication {
        mode,
        port_level_mtls,
    }
}

/// `portLevelMtls` names the workload's (target) port, but the proxy chooses by the inbound
/// listener's port. On the local platform one listener fronts a single-port workload on a
/// port of its own: the setting for that workload port then also applies to the listener's.
pub fn key_ports_by_listener(pa: &mut PeerAuthentication, w: &Workload, listener_port: u16) {
    if let [only] = w.ports.as_slice() {
        let mode = pa
            .port_level_mtls
            .get(&only.target_port)
            .or_else(|| pa.port_level_mtls.get(&only.port))
            .copied();
        if let Some(mode) = mode {
            pa.port_level_mtls.insert(listener_port, mode);
        }
    }
}

fn convert_mode(m: sec::MtlsMode) -> MtlsMode {
    match m {
        sec::MtlsMode::Unset => MtlsMode::Unset,
        sec::MtlsMode::Disable => MtlsMode::Disable,
        sec::MtlsMode::Permissive => MtlsMode::Permissive,
        sec::MtlsMode::Strict => MtlsMode::Strict,
    }
}

/// The AuthorizationPolicies that apply to workload `w`, compiled.
pub(crate) fn authorization(
    resources: &[&Resource],
    w: &Workload,
    warnings: &mut Warnings,
) -> Vec<AuthorizationRule> {
    let mut out = Vec::new();
    for r in resources {
        let Resource::AuthorizationPolicy(ap) = r else {
            continue;
        };
        let ns = namespace_of(r);
        let spec = &ap.spec;
        let applies = (ns == w.namespace || ns == ROOT_NAMESPACE)
            && (spec.selector.is_none() || selects(&spec.selector, w));
        if !applies {
            continue;
        }
        let action = match spec.action {
            Action::Allow => AuthzAction::Allow,
            Action::Deny => AuthzAction::Deny,
            other => {
                warnings.push(
                    r,
                    "spec.action".into(),
                    format!("{other:?} is not supported yet; the policy is ignored"),
                );
                continue;
            }
        };
        let mut rules = Vec::new();
        for (i, rule) in spec.rules.iter().enumerate() {
            let mut unsupported = Vec::new();
            let compiled = compile_rule(rule, &mut unsupported);
            if unsupported.is_empty() {
                rules.push(compiled);
                continue;
            }
            let keep = action == AuthzAction::Deny;
            warnings.push(
                r,
                format!("spec.rules[{i}]"),
                format!(
                    "{} not supported yet; {}",
                    unsupported.join(", "),
                    if keep {
                        "the DENY rule is enforced without them (denies more)"
                    } else {
                        "the ALLOW rule is dropped (allows less)"
                    }
                ),
            );
            if keep {
                rules.push(compiled);
            }
        }
        out.push(AuthorizationRule {
            name: format!("{ns}/{}", r.name()),
            action,
            rules,
        });
    }
    out
}

fn compile_rule(rule: &sec::Rule, unsupported: &mut Vec<&'static str>) -> AuthzRule {
    if !rule.when.is_empty() {
        unsupported.push("when");
    }
    let from = rule
        .from
        .iter()
        .filter_map(|f| f.source.as_ref())
        .map(|s| {
            for (name, set) in [
                (
                    "requestPrincipals",
                    !s.request_principals.is_empty() || !s.not_request_principals.is_empty(),
                ),
                (
                    "ipBlocks",
                    !s.ip_blocks.is_empty() || !s.not_ip_blocks.is_empty(),
                ),
                (
                    "remoteIpBlocks",
                    !s.remote_ip_blocks.is_empty() || !s.not_remote_ip_blocks.is_empty(),
                ),
                (
                    "serviceAccounts",
                    !s.service_accounts.is_empty() || !s.not_service_accounts.is_empty(),
                ),
            ] {
                if set {
                    unsupported.push(name);
                }
            }
            AuthzFrom {
                source: AuthzSource {
                    principals: s.principals.clone(),
                    not_principals: s.not_principals.clone(),
                    namespaces: s.namespaces.clone(),
                    not_namespaces: s.not_namespaces.clone(),
                },
            }
        })
        .collect();
    let to = rule
        .to
        .iter()
        .filter_map(|t| t.operation.as_ref())
        .map(|o| AuthzTo {
            operation: AuthzOperation {
                hosts: o.hosts.clone(),
                not_hosts: o.not_hosts.clone(),
                ports: o.ports.clone(),
                not_ports: o.not_ports.clone(),
                methods: o.methods.clone(),
                not_methods: o.not_methods.clone(),
                paths: o.paths.clone(),
                not_paths: o.not_paths.clone(),
            },
        })
        .collect();
    AuthzRule { from, to }
}
