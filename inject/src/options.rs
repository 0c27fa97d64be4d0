//! What an install decides about injected pods: the proxy image, where the control plane
//! is, the proxy's resources. Profiles (and `--set`) fill this in; the defaults are the
//! `default` profile's.

use serde::{Deserialize, Serialize};

/// CPU and memory for the proxy (and the init container), Kubernetes quantities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Resources {
    pub requests_cpu: Option<String>,
    pub requests_memory: Option<String>,
    pub limits_cpu: Option<String>,
    pub limits_memory: Option<String>,
}

impl Default for Resources {
    /// A small proxy: 10 millicores and 32 MiB requested, 1 core and 256 MiB at most.
    fn default() -> Self {
        Resources {
            requests_cpu: Some("10m".into()),
            requests_memory: Some("32Mi".into()),
            limits_cpu: Some("1000m".into()),
            limits_memory: Some("256Mi".into()),
        }
    }
}

/// Everything injection needs besides the document. As JSON (camelCase keys, each
/// optional), it is the webhook's configuration file (`--injection-config`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InjectOptions {
    /// The proxy image (also runs the iptables init step: it needs `iptables-restore` and
    /// `iptables-save`).
    pub proxy_image: String,
    /// The control plane's address as pods reach it (`MESH_CONTROL_PLANE` in the proxy).
    pub control_plane: String,
    pub resources: Resources,
    /// The proxy runs as this user and group; iptables exempts its traffic.
    pub proxy_uid: u32,
    pub proxy_gid: u32,
    /// Audience of the projected service-account token the CA accepts.
    pub ca_audience: String,
    /// ConfigMap holding the CA root certificate (`root-cert.pem`) in each namespace.
    pub ca_root_configmap: String,
    /// Lifetime of the projected token.
    pub token_expiration_seconds: i64,
    /// Recorded in the status annotation (Istio's `revision`).
    pub revision: String,
    /// Pods in these namespaces are never injected.
    pub system_namespaces: Vec<String>,
}

impl Default for InjectOptions {
    fn default() -> Self {
        InjectOptions {
            proxy_image: format!("ghcr.io/meshctl/mesh-proxy:{}", env!("CARGO_PKG_VERSION")),
            control_plane: "mesh-controlplane.mesh-system.svc:15012".into(),
            resources: Resources::default(),
            proxy_uid: 1337,
            proxy_gid: 1337,
            ca_audience: "istio-ca".into(),
            ca_root_configmap: "istio-ca-root-cert".into(),
            token_expiration_seconds: 43200,
            revision: "default".into(),
            system_namespaces: ["kube-system", "kube-public", "kube-node-lease"]
                .map(String::from)
                .to_vec(),
        }
    }
}
