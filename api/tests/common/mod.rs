//! Helpers the Istio bad-input tests share.
#![allow(dead_code)]

use mesh_api::istio::{load, Diagnostics};

/// A VirtualService whose `spec:` is on line 5, so the body starts on line 6.
pub fn vs(body: &str) -> String {
    format!("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: t\nspec:\n{body}")
}

/// Same envelope for any kind (`spec:` on line 5).
pub fn doc(api_version: &str, kind: &str, body: &str) -> String {
    format!("apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: t\nspec:\n{body}")
}

/// Loads `text` as `t.yaml`, which must fail.
pub fn problems(text: &str) -> Diagnostics {
    match load("t.yaml", text) {
        Ok(parsed) => panic!(
            "expected problems, got {} valid resources from:\n{text}",
            parsed.len()
        ),
        Err(d) => d,
    }
}

/// Asserts that some problem is reported as `t.yaml:<line>:<col>: <path>: ...<fragment>...`.
pub fn expect(text: &str, line: usize, path: &str, fragment: &str) {
    let all = problems(text);
    let head = format!("t.yaml:{line}:");
    let field = format!(": {path}: ");
    let found = all
        .iter()
        .map(ToString::to_string)
        .any(|s| s.starts_with(&head) && s.contains(&field) && s.contains(fragment));
    assert!(
        found,
        "want `{head}<col>{field}...{fragment}...`, got:\n{all}"
    );
}

/// Asserts that `text` loads without problems.
pub fn valid(text: &str) {
    if let Err(d) = load("t.yaml", text) {
        panic!("expected valid, got:\n{d}\nfor:\n{text}");
    }
}
