//! The Kubernetes envelope every Istio resource shares (`apiVersion`, `kind`, `metadata`,
//! `spec`) and small types several specs reuse (selectors, ports, percentages).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Kubernetes `ObjectMeta`, reduced to what the mesh uses.
///
/// Other metadata fields that `kubectl get -o yaml` prints (`resourceVersion`, `uid`,
/// `creationTimestamp`, `generation`, `managedFields`, ...) are accepted and ignored, so
/// users can apply what they exported from a cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    /// The resource's name, unique per kind and namespace.
    pub name: String,
    /// The namespace; empty means "the namespace it is applied to" (`default` locally).
    pub namespace: String,
    /// Labels, used by selectors and `meshctl` listings.
    pub labels: BTreeMap<String, String>,
    /// Annotations, kept as written.
    pub annotations: BTreeMap<String, String>,
}

/// A whole resource: the Kubernetes envelope around an Istio `spec`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Object<S> {
    /// e.g. `networking.istio.io/v1`.
    pub api_version: String,
    /// e.g. `VirtualService`.
    pub kind: String,
    /// Name, namespace, labels, annotations.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The Istio-specific part. A missing spec reads as the empty spec, which validation
    /// then reports field by field (e.g. "hosts: required").
    #[serde(default)]
    pub spec: S,
    /// Status written by a cluster; accepted so exported YAML applies, otherwise ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

/// Istio's `WorkloadSelector` (`selector` in security resources, `workloadSelector` in a
/// DestinationRule): the pods or processes a policy applies to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct WorkloadSelector {
    /// All of these labels must match; empty matches every workload in the namespace.
    pub match_labels: BTreeMap<String, String>,
}

/// Istio's `PortSelector`: `port: {number: 9080}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PortSelector {
    /// The port number; 0 means "not set".
    pub number: u32,
}

/// Istio's `Port` (Gateway servers) and `ServicePort` (ServiceEntry ports).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Port {
    /// The port number, 1..=65535.
    pub number: u32,
    /// `HTTP`, `HTTPS`, `GRPC`, `HTTP2`, `MONGO`, `TCP`, `TLS`.
    pub protocol: String,
    /// A label for the port, unique within the resource.
    pub name: String,
    /// The port on the endpoint, when it differs from `number`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u32>,
}

/// Istio's `Percent`: `{value: 12.5}`, a double in 0..=100.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Percent {
    /// The percentage, 0.0..=100.0.
    pub value: f64,
}
