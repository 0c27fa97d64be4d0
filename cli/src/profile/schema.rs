//! The install configuration: the typed [`MeshSpec`] every profile, `-f` file and `--set`
//! fills in, and the flat [`LEAVES`] table that says which keys exist and what type each takes
//! (used to validate overlays key by key, and to suggest the nearest key on a typo).
//!
//! The shape follows Istio's `IstioOperator`: `spec.components.<name>.enabled` switches a
//! component on or off, `spec.values.*` tunes it. Component names are ours (`controlPlane`
//! is Istio's `pilot`; one `ingressGateway` and one `egressGateway` instead of lists).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// `apiVersion` of profiles, `-f` files and the install record.
pub const API_VERSION: &str = "install.meshctl.io/v1alpha1";
/// `kind` of profiles, `-f` files and the install record.
pub const KIND: &str = "MeshOperator";

/// Everything `meshctl install` needs to know about the mesh it installs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshSpec {
    /// Which components run.
    pub components: Components,
    /// How they are configured.
    pub values: Values,
}

/// The components a profile switches on or off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Components {
    /// `mesh-controlplane`: config store, registry, config push, CA.
    pub control_plane: ComponentSpec,
    /// The ingress gateway (a `mesh-proxy` in router mode).
    pub ingress_gateway: ComponentSpec,
    /// The egress gateway (a `mesh-proxy` in router mode).
    pub egress_gateway: ComponentSpec,
}

/// On or off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentSpec {
    /// Whether the component runs.
    pub enabled: bool,
}

/// Settings of the components.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Values {
    /// Images (hub, tag) and the sidecar's resources, for the Kubernetes manifests.
    pub global: GlobalValues,
    /// The control plane's ports (Istio's numbers) and log level.
    pub control_plane: ControlPlaneValues,
    /// Where the ingress gateway listens.
    pub ingress_gateway: GatewayValues,
    /// Where the egress gateway listens.
    pub egress_gateway: GatewayValues,
    /// Proxies' access logs (Istio's `meshConfig.accessLogFile`).
    pub access_logs: AccessLogs,
    /// Trace sampling (Istio's `meshConfig.defaultConfig.tracing.sampling`).
    pub tracing: Tracing,
    /// Workload certificates issued by the CA.
    pub certificates: Certificates,
}

/// The control plane's listeners, all on 127.0.0.1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlPlaneValues {
    /// Config streams in plain text (Istio's 15010).
    pub xds_port: u16,
    /// Config streams and CA over TLS (Istio's 15012).
    pub xds_tls_port: u16,
    /// Monitoring, config API and telemetry API (Istio's 15014).
    pub monitoring_port: u16,
    /// The control plane's log filter (`info`, `debug`, `mesh_controlplane=trace`, ...).
    pub log_level: String,
    /// Its image on Kubernetes: `<hub>/<image>:<tag>`, or as given when it holds a `/`.
    pub image: String,
    /// How many control plane pods run on Kubernetes.
    pub replica_count: u32,
    /// Kubernetes only: the injection and validation webhooks (HTTPS; Service port 443),
    /// Istio's 15017.
    pub webhook_port: u16,
}

/// Images and the sidecar, as Istio's `values.global`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlobalValues {
    /// The registry and path images are pulled from (Istio's `hub`).
    pub hub: String,
    /// The images' tag (Istio's `tag`): this meshctl's version in the built-in profiles.
    pub tag: String,
    /// The sidecar (and gateway) proxy.
    pub proxy: ProxyValues,
}

/// The proxy's image and the sidecar's resources.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyValues {
    /// `<hub>/<image>:<tag>`, or as given when it holds a `/`.
    pub image: String,
    /// The injected sidecar's requests and limits.
    pub resources: ResourceValues,
}

/// Kubernetes resource requests and limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceValues {
    /// What the scheduler reserves.
    pub requests: CpuMemory,
    /// The most the container may use.
    pub limits: CpuMemory,
}

/// A CPU and a memory quantity (`100m`, `128Mi`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuMemory {
    /// CPU, e.g. `10m` or `1`.
    pub cpu: String,
    /// Memory, e.g. `32Mi` or `1Gi`.
    pub memory: String,
}

impl GlobalValues {
    /// The full reference of `image` (Istio's rule: an image containing `/` is complete).
    pub fn image(&self, image: &str) -> String {
        if image.contains('/') {
            image.to_string()
        } else {
            format!("{}/{image}:{}", self.hub.trim_end_matches('/'), self.tag)
        }
    }
}

/// A gateway's listener and its own ports (admin, stats, health on 127.0.0.1). Each gateway
/// has its own defaults, away from Istio's per-proxy 15000/15020/15021 a sidecar may hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayValues {
    /// The address it binds (a loopback address on the local platform).
    pub address: IpAddr,
    /// The HTTP port (a Gateway server's port 80 maps to it).
    pub port: u16,
    /// Its admin server (`/config_dump`, `/logging`; Istio's 15000).
    pub admin_port: u16,
    /// Its merged Prometheus metrics (Istio's 15020).
    pub stats_port: u16,
    /// Its `/healthz/ready` (Istio's 15021): 200 once it has its certificate and config.
    pub health_port: u16,
}

/// Access logs on or off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessLogs {
    /// Whether every proxy writes an access log line per request.
    pub enabled: bool,
}

/// Trace sampling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tracing {
    /// Percentage of requests traced, 0 to 100 (Istio's default is 1).
    pub sampling: f64,
}

/// Workload certificates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Certificates {
    /// How long a workload certificate is valid (rotated at half-life).
    pub ttl: mesh_api::Duration,
    /// The SPIFFE trust domain: `spiffe://<trustDomain>/ns/<ns>/sa/<sa>`.
    pub trust_domain: String,
}

/// The type a key takes, as named in error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafType {
    /// `true` or `false`.
    Bool,
    /// An integer 1..=65535.
    Port,
    /// A number 0..=100.
    Percent,
    /// A duration such as `24h`, `90m`, `30s`.
    Duration,
    /// An IPv4 or IPv6 address.
    Ip,
    /// Any non-empty text.
    Text,
    /// An integer 1 or more.
    Count,
    /// A Kubernetes quantity such as `100m`, `1`, `128Mi` or `1Gi`.
    Quantity,
}

impl LeafType {
    /// What a value of this type looks like, for "expected ..." messages.
    pub fn expected(self) -> &'static str {
        match self {
            LeafType::Bool => "a boolean (true or false)",
            LeafType::Port => "a port number (an integer from 1 to 65535)",
            LeafType::Percent => "a percentage (a number from 0 to 100)",
            LeafType::Duration => "a duration such as 24h, 90m or 30s",
            LeafType::Ip => "an IP address such as 127.0.0.1",
            LeafType::Text => "a non-empty string",
            LeafType::Count => "a whole number, 1 or more",
            LeafType::Quantity => "a Kubernetes quantity such as 100m, 1, 128Mi or 1Gi",
        }
    }
}

/// One settable key: its dotted path under `spec` and its type.
#[derive(Clone, Copy, Debug)]
pub struct Leaf {
    /// e.g. `values.controlPlane.monitoringPort`.
    pub path: &'static str,
    /// What it takes.
    pub ty: LeafType,
}

const fn leaf(path: &'static str, ty: LeafType) -> Leaf {
    Leaf { path, ty }
}

/// Every key of [`MeshSpec`], by path under `spec`. A unit test checks this table and the
/// struct agree, so neither can grow alone.
pub const LEAVES: &[Leaf] = &[
    leaf("components.controlPlane.enabled", LeafType::Bool),
    leaf("components.ingressGateway.enabled", LeafType::Bool),
    leaf("components.egressGateway.enabled", LeafType::Bool),
    leaf("values.global.hub", LeafType::Text),
    leaf("values.global.tag", LeafType::Text),
    leaf("values.global.proxy.image", LeafType::Text),
    leaf(
        "values.global.proxy.resources.requests.cpu",
        LeafType::Quantity,
    ),
    leaf(
        "values.global.proxy.resources.requests.memory",
        LeafType::Quantity,
    ),
    leaf(
        "values.global.proxy.resources.limits.cpu",
        LeafType::Quantity,
    ),
    leaf(
        "values.global.proxy.resources.limits.memory",
        LeafType::Quantity,
    ),
    leaf("values.controlPlane.xdsPort", LeafType::Port),
    leaf("values.controlPlane.xdsTlsPort", LeafType::Port),
    leaf("values.controlPlane.monitoringPort", LeafType::Port),
    leaf("values.controlPlane.logLevel", LeafType::Text),
    leaf("values.controlPlane.image", LeafType::Text),
    leaf("values.controlPlane.replicaCount", LeafType::Count),
    leaf("values.controlPlane.webhookPort", LeafType::Port),
    leaf("values.ingressGateway.address", LeafType::Ip),
    leaf("values.ingressGateway.port", LeafType::Port),
    leaf("values.ingressGateway.adminPort", LeafType::Port),
    leaf("values.ingressGateway.statsPort", LeafType::Port),
    leaf("values.ingressGateway.healthPort", LeafType::Port),
    leaf("values.egressGateway.address", LeafType::Ip),
    leaf("values.egressGateway.port", LeafType::Port),
    leaf("values.egressGateway.adminPort", LeafType::Port),
    leaf("values.egressGateway.statsPort", LeafType::Port),
    leaf("values.egressGateway.healthPort", LeafType::Port),
    leaf("values.accessLogs.enabled", LeafType::Bool),
    leaf("values.tracing.sampling", LeafType::Percent),
    leaf("values.certificates.ttl", LeafType::Duration),
    leaf("values.certificates.trustDomain", LeafType::Text),
];

/// The leaf at exactly `path`.
pub fn leaf_at(path: &str) -> Option<&'static Leaf> {
    LEAVES.iter().find(|l| l.path == path)
}

/// True when `path` is a mapping in the schema (some leaf lies below it). `""` is `spec`.
pub fn is_branch(path: &str) -> bool {
    path.is_empty()
        || LEAVES.iter().any(|l| {
            l.path.len() > path.len()
                && l.path.starts_with(path)
                && l.path.as_bytes()[path.len()] == b'.'
        })
}

/// The keys directly under the mapping at `path`, in schema order.
pub fn children(path: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for l in LEAVES {
        let rest = if path.is_empty() {
            Some(l.path)
        } else {
            l.path.strip_prefix(path).and_then(|r| r.strip_prefix('.'))
        };
        if let Some(rest) = rest {
            let key = rest.split('.').next().unwrap_or(rest);
            if !out.contains(&key) {
                out.push(key);
            }
        }
    }
    out
}

impl MeshSpec {
    /// Problems between keys (each names the keys involved); empty when consistent.
    pub fn check(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let c = &self.components;
        for (on, name) in [
            (c.ingress_gateway.enabled, "ingressGateway"),
            (c.egress_gateway.enabled, "egressGateway"),
        ] {
            if on && !c.control_plane.enabled {
                out.push((
                    format!("components.{name}.enabled"),
                    "a gateway needs the control plane; also set \
                     components.controlPlane.enabled=true"
                        .to_string(),
                ));
            }
        }
        let v = &self.values;
        let cp = c.control_plane.enabled;
        let mut ports = vec![
            ("values.controlPlane.xdsPort", v.control_plane.xds_port, cp),
            (
                "values.controlPlane.xdsTlsPort",
                v.control_plane.xds_tls_port,
                cp,
            ),
            (
                "values.controlPlane.monitoringPort",
                v.control_plane.monitoring_port,
                cp,
            ),
        ];
        for (g, on, keys) in [
            (
                &v.ingress_gateway,
                c.ingress_gateway.enabled,
                [
                    "values.ingressGateway.port",
                    "values.ingressGateway.adminPort",
                    "values.ingressGateway.statsPort",
                    "values.ingressGateway.healthPort",
                ],
            ),
            (
                &v.egress_gateway,
                c.egress_gateway.enabled,
                [
                    "values.egressGateway.port",
                    "values.egressGateway.adminPort",
                    "values.egressGateway.statsPort",
                    "values.egressGateway.healthPort",
                ],
            ),
        ] {
            let values = [g.port, g.admin_port, g.stats_port, g.health_port];
            ports.extend(keys.into_iter().zip(values).map(|(k, p)| (k, p, on)));
        }
        let enabled: Vec<_> = ports.iter().filter(|p| p.2).collect();
        for (i, a) in enabled.iter().enumerate() {
            if let Some(b) = enabled[..i].iter().find(|b| b.1 == a.1) {
                out.push((
                    a.0.to_string(),
                    format!("port {} is also {}; give each its own port", a.1, b.0),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path of a serialized spec, with its JSON value.
    fn paths(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    paths(&p, v, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }

    #[test]
    fn leaves_and_struct_agree() {
        let spec = crate::profile::builtin("demo")
            .expect("demo")
            .spec()
            .expect("valid");
        let mut found = Vec::new();
        paths("", &serde_json::to_value(&spec).expect("json"), &mut found);
        let mut table: Vec<String> = LEAVES.iter().map(|l| l.path.to_string()).collect();
        found.sort();
        table.sort();
        assert_eq!(found, table);
    }

    #[test]
    fn children_and_branches() {
        assert_eq!(children(""), vec!["components", "values"]);
        assert_eq!(
            children("values.controlPlane"),
            vec![
                "xdsPort",
                "xdsTlsPort",
                "monitoringPort",
                "logLevel",
                "image",
                "replicaCount",
                "webhookPort"
            ]
        );
        assert!(is_branch("values.controlPlane"));
        assert!(!is_branch("values.controlPlane.xdsPort"));
        assert!(!is_branch("values.control"));
    }
}
