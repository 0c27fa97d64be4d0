//! Istio's peer labels: who the source and the destination of a request are.

use mesh_api::snapshot::{Endpoint, Node};

/// `reporter`: which side of the call recorded the metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reporter {
    Source,
    Destination,
}

impl Reporter {
    pub fn as_str(self) -> &'static str {
        match self {
            Reporter::Source => "source",
            Reporter::Destination => "destination",
        }
    }
}

/// `connection_security_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecurityPolicy {
    /// The source reporter does not know (Istio reports `unknown` there).
    Unknown,
    /// Plaintext on the destination side.
    None,
    MutualTls,
}

impl SecurityPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityPolicy::Unknown => "unknown",
            SecurityPolicy::None => "none",
            SecurityPolicy::MutualTls => "mutual_tls",
        }
    }
}

/// The workload labels of one side of a call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerLabels {
    pub workload: String,
    pub namespace: String,
    pub principal: String,
    pub app: String,
    pub version: String,
    pub cluster: String,
    /// `destination_service` (a host name); empty on sources.
    pub service: String,
}

/// Interned labels: a stable small id for series keys, and the labels for rendering.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    pub id: u32,
    pub labels: PeerLabels,
}

fn or_unknown(s: &str) -> String {
    if s.is_empty() {
        "unknown".to_string()
    } else {
        s.to_string()
    }
}

impl PeerLabels {
    pub fn unknown() -> PeerLabels {
        PeerLabels {
            workload: "unknown".into(),
            namespace: "unknown".into(),
            principal: "unknown".into(),
            app: "unknown".into(),
            version: "unknown".into(),
            cluster: "unknown".into(),
            service: "unknown".into(),
        }
    }

    /// This proxy's own workload.
    pub fn from_node(n: &Node) -> PeerLabels {
        PeerLabels {
            workload: or_unknown(&n.workload),
            namespace: or_unknown(&n.namespace),
            principal: or_unknown(&n.principal),
            app: or_unknown(&n.app),
            version: or_unknown(&n.version),
            cluster: or_unknown(&n.cluster_id),
            service: or_unknown(&n.service),
        }
    }

    /// An upstream endpoint of a cluster serving `service`.
    pub fn destination(e: &Endpoint, service: &str) -> PeerLabels {
        PeerLabels {
            workload: or_unknown(&e.workload),
            namespace: or_unknown(&e.namespace),
            principal: or_unknown(&e.principal),
            app: or_unknown(&e.app),
            version: or_unknown(&e.version),
            cluster: "Kubernetes".into(),
            service: or_unknown(service),
        }
    }

    /// `destination_service_name`: the first label of the host (`reviews` of
    /// `reviews.default.svc.cluster.local`).
    pub fn service_name(&self) -> &str {
        self.service.split('.').next().unwrap_or(&self.service)
    }

    /// `destination_service_namespace`: the second label of a Kubernetes service host, else
    /// the workload's namespace.
    pub fn service_namespace(&self) -> &str {
        let mut parts = self.service.split('.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(ns), Some("svc")) => ns,
            _ => &self.namespace,
        }
    }
}
