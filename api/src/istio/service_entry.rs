//! `ServiceEntry` (networking.istio.io): adds a service the mesh does not discover itself,
//! typically an external API (`MESH_EXTERNAL`) or VMs (`MESH_INTERNAL`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::meta::Port;

/// Istio's `ServiceEntry` spec.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ServiceEntrySpec {
    /// Host names of the service (required).
    pub hosts: Vec<String>,
    /// Virtual IPs or CIDRs of the service.
    pub addresses: Vec<String>,
    /// Ports of the service.
    pub ports: Vec<Port>,
    /// Inside or outside the mesh.
    pub location: Option<ServiceLocation>,
    /// How endpoints are found.
    pub resolution: Option<Resolution>,
    /// Static endpoints.
    pub endpoints: Vec<WorkloadEntry>,
    /// Select workload entries or pods instead of listing endpoints.
    pub workload_selector: Option<ServiceEntrySelector>,
    /// Namespaces this entry is visible to.
    pub export_to: Vec<String>,
    /// Accepted server identities.
    pub subject_alt_names: Vec<String>,
}

/// Istio's `ServiceEntry.Location`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceLocation {
    /// Outside the mesh: no mTLS, no sidecar.
    MeshExternal,
    /// Part of the mesh (e.g. VMs).
    MeshInternal,
}

/// Istio's `ServiceEntry.Resolution`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Resolution {
    /// Forward to the address the caller asked for.
    None,
    /// Use the listed endpoint addresses.
    Static,
    /// Resolve the hosts (or endpoint names) by DNS, all addresses.
    Dns,
    /// Resolve by DNS, first address, round robin across answers.
    DnsRoundRobin,
}

/// Istio's `WorkloadEntry`, as an endpoint of a ServiceEntry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct WorkloadEntry {
    /// IP, DNS name or `unix://` path.
    pub address: String,
    /// Port name -> port number overrides.
    pub ports: BTreeMap<String, u32>,
    /// Labels of the endpoint.
    pub labels: BTreeMap<String, String>,
    /// Network the endpoint is on.
    pub network: String,
    /// `region/zone/subzone`.
    pub locality: String,
    /// Load-balancing weight.
    pub weight: Option<u32>,
    /// Identity of the endpoint's workload.
    pub service_account: String,
}

/// A ServiceEntry's `workloadSelector` (Istio's `WorkloadSelector` with a `labels` field,
/// unlike the `matchLabels` of security policies).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ServiceEntrySelector {
    /// All of these labels must match.
    pub labels: BTreeMap<String, String>,
}
