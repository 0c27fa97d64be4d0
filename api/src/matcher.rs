//! Istio's `StringMatch`: exactly one of `exact`, `prefix`, `regex`.
//!
//! Regexes use RE2 syntax in Istio; the `regex` crate's syntax is a close superset-free match
//! (no look-around, no backreferences), and, like Envoy, a regex must match the whole value.

use serde::{Deserialize, Serialize};

/// One string condition, written in YAML as `{exact: v}`, `{prefix: v}` or `{regex: v}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum StringMatch {
    Exact(String),
    Prefix(String),
    Regex(String),
}

impl StringMatch {
    /// Compiles the regex form anchored at both ends, as Envoy and Istio match it.
    pub fn compile_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
        regex::Regex::new(&format!("^(?:{pattern})$"))
    }
}
