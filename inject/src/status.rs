//! The `sidecar.istio.io/status` annotation: what injection added, so that re-injection and
//! uninjection know what to take out.
//!
//! Istio's fields come first and mean what they mean in Istio (Istio's tools read them); the
//! `meshctl` field, which Go's JSON decoder ignores, lists the labels and annotations we added
//! and the user's own `istio-proxy`/`istio-init` containers we merged our settings into (their
//! original text, to put back).

use serde::{Deserialize, Serialize};

use crate::error::TemplateProblem;
use crate::names::STATUS;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    #[serde(default)]
    pub init_containers: Vec<String>,
    #[serde(default)]
    pub containers: Vec<String>,
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub image_pull_secrets: Option<Vec<String>>,
    #[serde(default)]
    pub revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meshctl: Option<Added>,
}

/// Our additions to Istio's status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Added {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<String>,
    /// User containers our settings were merged into, as they were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced: Vec<Replaced>,
}

/// A user's container (named like ours) before we merged into it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replaced {
    /// `containers` or `initContainers`.
    pub list: String,
    pub index: usize,
    pub original: serde_json::Value,
}

impl Status {
    pub(crate) fn parse(text: &str) -> Result<Status, TemplateProblem> {
        serde_json::from_str(text).map_err(|e| {
            TemplateProblem::annotation(
                STATUS,
                text,
                format!(
                    "not the JSON injection writes ({e}); remove the annotation and inject again"
                ),
            )
        })
    }

    pub(crate) fn to_json(&self) -> String {
        // Plain data with string keys: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
