//! Conformance with Istio: for every row of `expectations.tsv` (the inputs of Istio's own
//! injection test suite, and what Istio decided for each pod template), we make the same
//! decision: inject, skip, or error. Prints the score; fails unless every row matches.
//!
//! "inject" is checked on the output, not only on the report: the template must carry the
//! proxy container, the status annotation and (unless the pod opts out of capture) the
//! iptables init container. "skip" means the document comes out byte for byte. "error" means
//! the whole file fails with an error naming the annotation and its bad value.

mod support;

use std::collections::BTreeMap;

use mesh_inject::{inject, Decision, InjectError, InjectOptions};
use support::{expectations, names, read_fixture, templates, Row};

/// Checks one file against its rows; returns (rows matched, problems).
fn check_file(file: &str, rows: &[&Row]) -> (usize, Vec<String>) {
    let input = read_fixture(file);
    let result = inject(file, &input, &InjectOptions::default());
    let mut problems = Vec::new();
    let wants_error = rows.iter().any(|r| r.decision == "error");
    if wants_error {
        return match result {
            Err(InjectError::Annotation {
                annotation, value, ..
            }) if input.contains(&annotation) && input.contains(&format!("\"{value}\"")) => {
                (rows.len(), problems)
            }
            Err(e) => {
                problems.push(format!("{file}: expected an annotation error, got: {e}"));
                (0, problems)
            }
            Ok(_) => {
                problems.push(format!("{file}: expected an error, but it was injected"));
                (0, problems)
            }
        };
    }
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            problems.push(format!("{file}: unexpected error: {e}"));
            return (0, problems);
        }
    };
    let ours: BTreeMap<(String, String), &Decision> = out
        .templates
        .iter()
        .map(|t| {
            (
                (t.workload.kind.clone(), t.workload.name.clone()),
                &t.decision,
            )
        })
        .collect();
    let output_templates = templates(&out.yaml);
    let mut matched = 0;
    for row in rows {
        let key = (row.kind.clone(), row.name.clone());
        let decision = match ours.get(&key) {
            Some(Decision::Injected) => "inject",
            Some(Decision::Skipped(_)) => "skip",
            Some(other) => {
                problems.push(format!("{file} {key:?}: unexpected decision {other:?}"));
                continue;
            }
            None => {
                problems.push(format!("{file} {key:?}: no such pod template found"));
                continue;
            }
        };
        if decision != row.decision {
            problems.push(format!(
                "{file} {key:?}: Istio decided {}, we decided {decision}",
                row.decision
            ));
            continue;
        }
        if let Err(why) = check_output(&out.yaml, &input, &output_templates, row) {
            problems.push(format!("{file} {key:?}: {why}"));
            continue;
        }
        matched += 1;
    }
    if ours.len() != rows.len() {
        problems.push(format!(
            "{file}: we found {} pod templates, the expectations list {}",
            ours.len(),
            rows.len()
        ));
    }
    (matched, problems)
}

/// The output really shows the decision.
fn check_output(
    yaml: &str,
    input: &str,
    output_templates: &[(String, String, mesh_inject::yaml::Map)],
    row: &Row,
) -> Result<(), String> {
    let (_, _, t) = output_templates
        .iter()
        .find(|(k, n, _)| *k == row.kind && *n == row.name)
        .ok_or("the template is missing from the output")?;
    let injected = names(t, "containers").iter().any(|n| n == "istio-proxy")
        && t.get("metadata")
            .and_then(|m| {
                m.as_map()?
                    .get("annotations")?
                    .as_map()?
                    .get("sidecar.istio.io/status")
            })
            .is_some();
    match row.decision.as_str() {
        "inject" if !injected => Err("reported injected, but the output has no sidecar".into()),
        "inject" => {
            let annotations = t
                .get("metadata")
                .and_then(|m| m.as_map()?.get("annotations")?.as_map().cloned())
                .unwrap_or_default();
            let mode = annotations.get_str("sidecar.istio.io/interceptionMode");
            let gateway = annotations
                .get_str("inject.istio.io/templates")
                .is_some_and(|t| t.contains("gateway"));
            let has_init = names(t, "initContainers").iter().any(|n| n == "istio-init");
            if has_init == (mode == Some("NONE") || gateway) {
                return Err(format!("init container present: {has_init}, mode {mode:?}"));
            }
            Ok(())
        }
        "skip" if yaml != input => Err("skipped, but the output differs from the input".into()),
        _ => Ok(()),
    }
}

#[test]
fn same_decisions_as_istio_on_its_own_test_inputs() {
    let rows = expectations();
    assert!(rows.len() >= 90, "expectations.tsv has {} rows", rows.len());
    let mut by_file: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        by_file.entry(r.file.as_str()).or_default().push(r);
    }
    let mut matched = 0;
    let mut problems = Vec::new();
    for (file, rows) in &by_file {
        let (m, p) = check_file(file, rows);
        matched += m;
        problems.extend(p);
    }
    println!("conformance: {matched}/{}", rows.len());
    for p in &problems {
        println!("  {p}");
    }
    assert!(
        problems.is_empty() && matched == rows.len(),
        "conformance: {matched}/{}; {} problems (listed above)",
        rows.len(),
        problems.len()
    );
}
