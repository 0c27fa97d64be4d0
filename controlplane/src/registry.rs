//! The service registry: which workloads exist, what they serve, where to reach them.
//!
//! Plain data shared by every platform: the local platform fills it from proxies that
//! register over their control-plane connection; Kubernetes from Pods and EndpointSlices.
//! Host names follow Kubernetes: `<service>.<namespace>.svc.<domain>`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

pub use mesh_api::istio::hosts::{service_host, DEFAULT_DOMAIN};

/// What a service port speaks; from the port's `name` or `appProtocol` (Istio's protocol
/// selection: `http`, `http-web`, `grpc`, `tcp-db`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortProtocol {
    Http,
    Http2,
    Grpc,
    Tcp,
}

impl PortProtocol {
    /// Istio's rule: the port name's prefix before `-` (or the whole name) picks the protocol;
    /// anything unknown is TCP.
    pub fn from_port_name(name: &str) -> PortProtocol {
        match name
            .split('-')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
            .as_str()
        {
            "http" => PortProtocol::Http,
            "http2" => PortProtocol::Http2,
            "grpc" | "grpc-web" => PortProtocol::Grpc,
            _ => PortProtocol::Tcp,
        }
    }

    pub fn is_http(self) -> bool {
        !matches!(self, PortProtocol::Tcp)
    }
}

/// One port of a service.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub name: String,
    /// The service port clients use (`reviews:9080`).
    pub port: u16,
    pub protocol: PortProtocol,
    /// The port the application listens on.
    pub target_port: u16,
}

/// One workload instance (a pod, or a process on the local platform).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    /// Instance name, unique in its namespace (`reviews-v2-7d9c`).
    pub name: String,
    /// Workload name for metrics (`reviews-v2`).
    pub workload: String,
    /// The service it belongs to (`reviews`).
    pub service: String,
    pub namespace: String,
    pub service_account: String,
    /// `app`, `version`, and any others; DestinationRule subsets select on these.
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<ServicePort>,
    /// Where other proxies reach this workload's sidecar for port `target_port`:
    /// on Kubernetes the pod IP and the target port (iptables hands it to the sidecar); on
    /// the local platform the sidecar's own inbound listener.
    pub inbound: SocketAddr,
    /// Where the application itself listens (the inbound sidecar forwards there).
    pub app: SocketAddr,
    /// The SPIFFE ID its sidecar proved with a mesh certificate (its TLS client certificate
    /// on the control-plane connection); `None` when it holds none. Only sidecars with one
    /// can accept mTLS, so automatic mTLS is used toward these alone (Istio's auto mTLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

impl Workload {
    /// The service's host name, `reviews.default.svc.cluster.local`.
    pub fn host(&self) -> String {
        service_host(&self.service, &self.namespace)
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// Every workload the mesh knows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Registry {
    pub workloads: Vec<Workload>,
}

impl Registry {
    /// The workloads of a service host, in a stable order.
    pub fn endpoints_of<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a Workload> + 'a {
        self.workloads.iter().filter(move |w| w.host() == host)
    }

    /// Every service host with its ports (merged over its workloads), sorted by host.
    pub fn services(&self) -> BTreeMap<String, Vec<ServicePort>> {
        let mut out: BTreeMap<String, Vec<ServicePort>> = BTreeMap::new();
        for w in &self.workloads {
            let ports = out.entry(w.host()).or_default();
            for p in &w.ports {
                if !ports.iter().any(|q| q.port == p.port) {
                    ports.push(p.clone());
                }
            }
        }
        for ports in out.values_mut() {
            ports.sort_by_key(|p| p.port);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_from_port_name() {
        assert_eq!(PortProtocol::from_port_name("http"), PortProtocol::Http);
        assert_eq!(PortProtocol::from_port_name("http-web"), PortProtocol::Http);
        assert_eq!(PortProtocol::from_port_name("grpc-api"), PortProtocol::Grpc);
        assert_eq!(PortProtocol::from_port_name("mysql"), PortProtocol::Tcp);
        assert_eq!(PortProtocol::from_port_name(""), PortProtocol::Tcp);
    }
}
