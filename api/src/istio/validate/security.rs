//! PeerAuthentication and AuthorizationPolicy checks.

use std::net::IpAddr;

use super::common::non_empty_entries;
use super::Report;
use crate::istio::security::{
    Action, AuthorizationPolicySpec, Operation, PeerAuthenticationSpec, Source,
};

pub(super) fn check_peer_authentication(spec: &PeerAuthenticationSpec, r: &mut Report<'_>) {
    let selects = spec
        .selector
        .as_ref()
        .is_some_and(|s| !s.match_labels.is_empty());
    if !spec.port_level_mtls.is_empty() && !selects {
        r.error(
            "spec.portLevelMtls",
            "requires a selector with matchLabels: port numbers only mean something for specific workloads",
        );
    }
    for port in spec.port_level_mtls.keys() {
        if !(1..=65535).contains(port) {
            r.error(
                format!("spec.portLevelMtls.{port}"),
                format!("must be a port number 1..=65535, got {port}"),
            );
        }
    }
}

pub(super) fn check_authorization_policy(spec: &AuthorizationPolicySpec, r: &mut Report<'_>) {
    match (&spec.provider, spec.action) {
        (None, Action::Custom) => r.error(
            "spec.provider",
            "required when action is CUSTOM: name the external authorizer",
        ),
        (Some(p), Action::Custom) if p.name.trim().is_empty() => {
            r.error(
                "spec.provider.name",
                "required: a provider from the mesh config's extensionProviders",
            );
        }
        (Some(_), a) if a != Action::Custom => {
            r.error("spec.provider", "only valid with action: CUSTOM")
        }
        _ => {}
    }
    if spec.selector.is_some() && (spec.target_ref.is_some() || !spec.target_refs.is_empty()) {
        r.error("spec.selector", "set selector or targetRef(s), not both");
    }
    for (i, rule) in spec.rules.iter().enumerate() {
        let p = format!("spec.rules[{i}]");
        for (j, from) in rule.from.iter().enumerate() {
            let fp = format!("{p}.from[{j}].source");
            match &from.source {
                None => r.error(fp, "required: who the rule matches"),
                Some(s) => source(r, &fp, s),
            }
        }
        for (j, to) in rule.to.iter().enumerate() {
            let tp = format!("{p}.to[{j}].operation");
            match &to.operation {
                None => r.error(tp, "required: which requests the rule matches"),
                Some(o) => operation(r, &tp, o),
            }
        }
        for (j, c) in rule.when.iter().enumerate() {
            let cp = format!("{p}.when[{j}]");
            if c.key.trim().is_empty() {
                r.error(
                    format!("{cp}.key"),
                    "required, e.g. request.headers[x-token] or source.ip",
                );
            } else if !known_condition_key(&c.key) {
                r.error(format!("{cp}.key"), format!("unknown condition key {:?}; see Istio's authorization conditions (e.g. source.ip, request.headers[name], request.auth.claims[name])", c.key));
            }
            if c.values.is_empty() && c.not_values.is_empty() {
                r.error(cp.clone(), "set values or notValues");
            }
        }
    }
}

fn source(r: &mut Report<'_>, p: &str, s: &Source) {
    let lists = [
        ("principals", &s.principals),
        ("notPrincipals", &s.not_principals),
        ("requestPrincipals", &s.request_principals),
        ("notRequestPrincipals", &s.not_request_principals),
        ("namespaces", &s.namespaces),
        ("notNamespaces", &s.not_namespaces),
        ("ipBlocks", &s.ip_blocks),
        ("notIpBlocks", &s.not_ip_blocks),
        ("remoteIpBlocks", &s.remote_ip_blocks),
        ("notRemoteIpBlocks", &s.not_remote_ip_blocks),
        ("serviceAccounts", &s.service_accounts),
        ("notServiceAccounts", &s.not_service_accounts),
    ];
    if lists.iter().all(|(_, l)| l.is_empty()) {
        r.error(
            p,
            "must set at least one field, e.g. principals or namespaces",
        );
    }
    for (name, list) in lists {
        non_empty_entries(r, &format!("{p}.{name}"), list);
        if name.ends_with("pBlocks") || name.ends_with("IpBlocks") {
            for (i, block) in list.iter().enumerate() {
                if !block.trim().is_empty() && !is_ip_or_cidr(block) {
                    r.error(
                        format!("{p}.{name}[{i}]"),
                        format!("{block:?} is not an IP address or CIDR (e.g. 10.0.0.0/8)"),
                    );
                }
            }
        }
    }
}

fn operation(r: &mut Report<'_>, p: &str, o: &Operation) {
    let lists = [
        ("hosts", &o.hosts),
        ("notHosts", &o.not_hosts),
        ("ports", &o.ports),
        ("notPorts", &o.not_ports),
        ("methods", &o.methods),
        ("notMethods", &o.not_methods),
        ("paths", &o.paths),
        ("notPaths", &o.not_paths),
    ];
    if lists.iter().all(|(_, l)| l.is_empty()) {
        r.error(p, "must set at least one field, e.g. methods or paths");
    }
    for (name, list) in lists {
        non_empty_entries(r, &format!("{p}.{name}"), list);
    }
    for (name, list) in [("ports", &o.ports), ("notPorts", &o.not_ports)] {
        for (i, port) in list.iter().enumerate() {
            if !port.parse::<u16>().is_ok_and(|n| n > 0) {
                r.error(
                    format!("{p}.{name}[{i}]"),
                    format!("{port:?} is not a port number 1..=65535"),
                );
            }
        }
    }
}

fn is_ip_or_cidr(s: &str) -> bool {
    match s.split_once('/') {
        None => s.parse::<IpAddr>().is_ok(),
        Some((ip, len)) => match (ip.parse::<IpAddr>(), len.parse::<u8>()) {
            (Ok(IpAddr::V4(_)), Ok(l)) => l <= 32,
            (Ok(IpAddr::V6(_)), Ok(l)) => l <= 128,
            _ => false,
        },
    }
}

/// Istio's condition keys: fixed names, and `name[...]` forms with a non-empty argument.
fn known_condition_key(key: &str) -> bool {
    const FIXED: &[&str] = &[
        "source.ip",
        "remote.ip",
        "source.namespace",
        "source.principal",
        "source.serviceAccount",
        "request.auth.principal",
        "request.auth.audiences",
        "request.auth.presenter",
        "destination.ip",
        "destination.port",
        "connection.sni",
    ];
    const INDEXED: &[&str] = &["request.headers[", "request.auth.claims["];
    FIXED.contains(&key)
        || key.starts_with("experimental.envoy.filters.")
        || INDEXED.iter().any(|prefix| {
            key.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(']'))
                .is_some_and(|arg| !arg.is_empty())
        })
}
