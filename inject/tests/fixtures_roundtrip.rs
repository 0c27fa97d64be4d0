//! Properties over every Istio injection fixture (read in place):
//! - injecting injected output changes nothing, byte for byte;
//! - uninjecting injected output gives back the input's meaning (for an input Istio had
//!   already injected, the input without Istio's sidecar: what uninjecting it gives);
//! - a file with nothing to inject, or nothing to uninject, comes out byte for byte;
//! - every output document parses again.

mod support;

use mesh_inject::{inject, uninject, Decision, InjectOptions};
use support::{all_fixtures, documents, read_fixture, same_meaning};

/// Fixtures that inject (not the invalid-annotation ones).
fn injectable() -> Vec<(String, String)> {
    let fixtures: Vec<(String, String)> = all_fixtures()
        .into_iter()
        .map(|f| {
            let text = read_fixture(&f);
            (f, text)
        })
        .filter(|(f, text)| inject(f, text, &InjectOptions::default()).is_ok())
        .collect();
    assert!(
        fixtures.len() >= 85,
        "only {} fixtures inject",
        fixtures.len()
    );
    fixtures
}

#[test]
fn injecting_twice_is_byte_identical() {
    let opts = InjectOptions::default();
    for (file, input) in injectable() {
        let once = inject(&file, &input, &opts).expect("injects").yaml;
        let twice = inject(&file, &once, &opts).expect("re-injects");
        assert_eq!(
            twice.yaml, once,
            "{file}: second injection changed the output"
        );
        // Re-injection still reports the decision.
        assert_eq!(
            twice
                .templates
                .iter()
                .map(|t| &t.decision)
                .collect::<Vec<_>>(),
            inject(&file, &input, &opts)
                .expect("injects")
                .templates
                .iter()
                .map(|t| &t.decision)
                .collect::<Vec<_>>(),
            "{file}"
        );
    }
}

#[test]
fn uninject_undoes_inject() {
    let opts = InjectOptions::default();
    let mut checked = 0;
    for (file, input) in injectable() {
        let injected = inject(&file, &input, &opts).expect("injects");
        let back = uninject(&file, &injected.yaml).expect("uninjects");
        let baseline = uninject(&file, &input).expect("uninjects the input");
        assert!(
            same_meaning(&back.yaml, &baseline.yaml),
            "{file}: uninject(inject(x)) differs from x\n--- got\n{}\n--- want\n{}",
            back.yaml,
            baseline.yaml
        );
        let was_injected = baseline
            .templates
            .iter()
            .any(|t| t.decision == Decision::Uninjected);
        if !was_injected {
            assert_eq!(
                baseline.yaml, input,
                "{file}: nothing to uninject, yet it changed"
            );
            checked += 1;
        }
        for t in &back.templates {
            let skipped = injected
                .templates
                .iter()
                .any(|i| i.workload == t.workload && matches!(i.decision, Decision::Skipped(_)));
            let want = if skipped {
                Decision::NotInjected
            } else {
                Decision::Uninjected
            };
            assert_eq!(t.decision, want, "{file} {}", t.workload);
        }
    }
    assert!(
        checked >= 80,
        "{checked} fixtures checked against their exact input"
    );
}

#[test]
fn skipped_files_pass_through_and_output_parses() {
    let opts = InjectOptions::default();
    for (file, input) in injectable() {
        let out = inject(&file, &input, &opts).expect("injects");
        let all_skipped = out
            .templates
            .iter()
            .all(|t| matches!(t.decision, Decision::Skipped(_)));
        if all_skipped {
            assert_eq!(out.yaml, input, "{file}: skipped, yet changed");
            assert!(!out.warnings().is_empty(), "{file}: a skip warns");
        }
        assert_eq!(
            documents(&out.yaml).len(),
            documents(&input).len(),
            "{file}: document count"
        );
    }
}
