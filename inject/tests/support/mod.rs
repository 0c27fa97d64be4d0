//! Shared by the integration tests: the Istio fixtures (read in place, never copied) and a
//! walk over the pod templates of injected output.

#![allow(dead_code)]

use std::path::PathBuf;

use mesh_inject::yaml::parse::parse_document;
use mesh_inject::yaml::split::Splitter;
use mesh_inject::yaml::{Map, Node};

/// `shared/` sits next to the checkout in CI and next to the worktrees locally.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/istio-inject")
}

pub fn read_fixture(name: &str) -> String {
    let path = fixtures_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every `.yaml` fixture, sorted.
pub fn all_fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

/// One row of expectations.tsv.
#[derive(Debug, Clone)]
pub struct Row {
    pub file: String,
    pub decision: String,
    pub kind: String,
    pub name: String,
}

pub fn expectations() -> Vec<Row> {
    read_fixture("expectations.tsv")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t').map(str::to_string);
            let mut next = || f.next().unwrap_or_default();
            Row {
                file: next(),
                decision: next(),
                kind: next(),
                name: next(),
            }
        })
        .collect()
}

/// Every document of a YAML stream, parsed (empty documents left out).
pub fn documents(yaml: &str) -> Vec<Node> {
    Splitter::new(yaml.as_bytes())
        .filter_map(|c| {
            let c = c.expect("output splits");
            parse_document(&c.text)
                .unwrap_or_else(|e| panic!("output re-parses: {e:?}\n{}", c.text))
        })
        .collect()
}

/// (kind, name, pod template) for every workload in the documents, Lists flattened.
pub fn templates(yaml: &str) -> Vec<(String, String, Map)> {
    let mut out = Vec::new();
    for doc in documents(yaml) {
        collect(&doc, &mut out);
    }
    out
}

fn collect(doc: &Node, out: &mut Vec<(String, String, Map)>) {
    let Some(m) = doc.as_map() else { return };
    let kind = m.get_str("kind").unwrap_or_default().to_string();
    let name = doc
        .at(&["metadata", "name"])
        .and_then(Node::as_str)
        .unwrap_or_default()
        .to_string();
    let template = match kind.as_str() {
        "List" => {
            for item in m.get("items").and_then(Node::as_seq).into_iter().flatten() {
                collect(item, out);
            }
            return;
        }
        "Pod" => Some(doc),
        "CronJob" => doc.at(&["spec", "jobTemplate", "spec", "template"]),
        _ => doc.at(&["spec", "template"]),
    };
    if let Some(t) = template.and_then(Node::as_map) {
        out.push((kind, name, t.clone()));
    }
}

/// Names of the entries of `spec.<list>` of a template.
pub fn names(template: &Map, list: &str) -> Vec<String> {
    Node::Map(template.clone())
        .at(&["spec", list])
        .and_then(Node::as_seq)
        .into_iter()
        .flatten()
        .filter_map(|c| c.at(&["name"]).and_then(Node::as_str).map(String::from))
        .collect()
}

/// Drops empty mappings and lists (Kubernetes reads an empty list and no list alike), so
/// that documents can be compared for meaning.
pub fn normalize(node: &Node) -> Node {
    match node {
        Node::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m.str_entries() {
                let v = normalize(v);
                let empty = matches!(&v, Node::Map(x) if x.is_empty())
                    || matches!(&v, Node::Seq(x) if x.is_empty());
                if !empty {
                    out.insert(k, v);
                }
            }
            Node::Map(out)
        }
        Node::Seq(items) => Node::Seq(items.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

/// Whether two streams hold the same documents, meaning for meaning.
pub fn same_meaning(a: &str, b: &str) -> bool {
    let (x, y) = (documents(a), documents(b));
    x.len() == y.len()
        && x.iter()
            .zip(&y)
            .all(|(p, q)| mesh_inject::yaml::semantic_eq(&normalize(p), &normalize(q)))
}
