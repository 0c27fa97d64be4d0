//! Gateway and ServiceEntry checks: servers, ports, hosts, TLS; ServiceEntry resolution
//! against endpoints.

use std::collections::HashSet;

use super::common::{host, hosts, port_number};
use super::Report;
use crate::istio::gateway::{GatewaySpec, ServerTlsMode};
use crate::istio::service_entry::{Resolution, ServiceEntrySpec};

/// Protocols a Gateway server or ServiceEntry port may name (Istio's list).
const PROTOCOLS: &[&str] = &[
    "HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "TCP", "TLS", "MYSQL", "REDIS", "UDP",
];

fn protocol(r: &mut Report<'_>, path: &str, proto: &str, required: bool) {
    if proto.is_empty() {
        if required {
            r.error(path, format!("required, one of {}", PROTOCOLS.join(", ")));
        }
    } else if !PROTOCOLS.iter().any(|p| p.eq_ignore_ascii_case(proto)) {
        r.error(
            path,
            format!(
                "unknown protocol {proto:?}; use one of {}",
                PROTOCOLS.join(", ")
            ),
        );
    }
}

pub(super) fn check_gateway(spec: &GatewaySpec, r: &mut Report<'_>) {
    if spec.servers.is_empty() {
        r.error(
            "spec.servers",
            "required: at least one server (port and hosts)",
        );
    }
    let mut names = HashSet::new();
    for (i, s) in spec.servers.iter().enumerate() {
        let p = format!("spec.servers[{i}]");
        match &s.port {
            None => r.error(
                format!("{p}.port"),
                "required: e.g. {number: 80, name: http, protocol: HTTP}",
            ),
            Some(port) => {
                port_number(r, &format!("{p}.port.number"), port.number);
                protocol(r, &format!("{p}.port.protocol"), &port.protocol, true);
                if let Some(t) = port.target_port {
                    port_number(r, &format!("{p}.port.targetPort"), t);
                }
                let tls_proto = ["HTTPS", "TLS"]
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(&port.protocol));
                if tls_proto && s.tls.is_none() {
                    r.error(
                        format!("{p}.tls"),
                        format!("required for protocol {}", port.protocol),
                    );
                }
            }
        }
        if s.hosts.is_empty() {
            r.error(
                format!("{p}.hosts"),
                "required: at least one host, or \"*\"",
            );
        }
        for (j, h) in s.hosts.iter().enumerate() {
            // Gateway hosts may be `namespace/host`; the namespace part is checked by the registry.
            let name = h.split_once('/').map_or(h.as_str(), |(_, host)| host);
            host(r, &format!("{p}.hosts[{j}]"), name);
        }
        if !s.name.is_empty() && !names.insert(s.name.as_str()) {
            r.error(
                format!("{p}.name"),
                format!("duplicate server name {:?}", s.name),
            );
        }
        if let Some(tls) = &s.tls {
            let terminates = matches!(
                tls.mode,
                ServerTlsMode::Simple | ServerTlsMode::Mutual | ServerTlsMode::OptionalMutual
            );
            let has_credential = tls.credential_name.is_some() || !tls.credential_names.is_empty();
            if terminates && !tls.https_redirect && !has_credential {
                if tls.server_certificate.is_none() {
                    r.error(
                        format!("{p}.tls.serverCertificate"),
                        "required unless credentialName is set",
                    );
                }
                if tls.private_key.is_none() {
                    r.error(
                        format!("{p}.tls.privateKey"),
                        "required unless credentialName is set",
                    );
                }
                if tls.mode != ServerTlsMode::Simple && tls.ca_certificates.is_none() {
                    r.error(
                        format!("{p}.tls.caCertificates"),
                        "required for MUTUAL unless credentialName is set",
                    );
                }
            }
        }
    }
}

pub(super) fn check_service_entry(spec: &ServiceEntrySpec, r: &mut Report<'_>) {
    hosts(r, "spec.hosts", &spec.hosts);
    for (i, h) in spec.hosts.iter().enumerate() {
        if h == "*" {
            r.error(
                format!("spec.hosts[{i}]"),
                "\"*\" alone is not allowed in a ServiceEntry; name the external hosts",
            );
        }
    }
    let mut numbers = HashSet::new();
    let mut names = HashSet::new();
    for (i, port) in spec.ports.iter().enumerate() {
        let p = format!("spec.ports[{i}]");
        port_number(r, &format!("{p}.number"), port.number);
        if !numbers.insert(port.number) {
            r.error(
                format!("{p}.number"),
                format!("port {} is listed twice", port.number),
            );
        }
        if !port.name.is_empty() && !names.insert(port.name.as_str()) {
            r.error(
                format!("{p}.name"),
                format!("duplicate port name {:?}", port.name),
            );
        }
        protocol(r, &format!("{p}.protocol"), &port.protocol, false);
        if let Some(t) = port.target_port {
            port_number(r, &format!("{p}.targetPort"), t);
        }
    }
    if !spec.endpoints.is_empty() && spec.workload_selector.is_some() {
        r.error(
            "spec.workloadSelector",
            "set endpoints or workloadSelector, not both",
        );
    }
    if spec.resolution == Some(Resolution::Static)
        && spec.endpoints.is_empty()
        && spec.workload_selector.is_none()
    {
        r.error(
            "spec.endpoints",
            "required with resolution STATIC (or set a workloadSelector)",
        );
    }
    for (i, e) in spec.endpoints.iter().enumerate() {
        let p = format!("spec.endpoints[{i}]");
        if e.address.is_empty() {
            r.error(
                format!("{p}.address"),
                "required: an IP address, a DNS name or a unix:// path",
            );
        }
        for (name, n) in &e.ports {
            port_number(r, &format!("{p}.ports.{name}"), *n);
        }
    }
}
