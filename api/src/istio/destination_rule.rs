//! `DestinationRule` (networking.istio.io): what happens after routing picked a service —
//! its subsets and traffic policy (see [`super::traffic_policy`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::meta::WorkloadSelector;
use super::traffic_policy::TrafficPolicy;

/// Istio's `DestinationRule` spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct DestinationRuleSpec {
    /// The service this rule applies to (required); `*.example.com` and `*` are allowed.
    pub host: String,
    /// Policy for all traffic to the host, unless a subset overrides it.
    pub traffic_policy: Option<TrafficPolicy>,
    /// Named groups of endpoints, selected by labels (e.g. `version: v2`).
    pub subsets: Vec<Subset>,
    /// Namespaces this rule is visible to.
    pub export_to: Vec<String>,
    /// Workloads this rule applies to (sidecars only); none means all in the namespace.
    pub workload_selector: Option<WorkloadSelector>,
}

/// Istio's `Subset`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Subset {
    /// Name used by `destination.subset` (required, unique in the rule).
    pub name: String,
    /// Endpoint labels that select the subset's members.
    pub labels: BTreeMap<String, String>,
    /// Overrides the rule's policy for this subset.
    pub traffic_policy: Option<TrafficPolicy>,
}
