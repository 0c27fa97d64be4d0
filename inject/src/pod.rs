//! Injecting one pod template (a Pod's or a workload's `metadata` + `spec`). This is the
//! one injection function: `kube-inject` calls it for every template of a file, the webhook
//! for the pod under admission.

use crate::decide::skip_reason;
use crate::error::TemplateProblem;
use crate::merge::merge_container;
use crate::names::*;
use crate::options::InjectOptions;
use crate::report::Decision;
use crate::sidecar::{self, Plan};
use crate::status::{Added, Replaced, Status};
use crate::uninject::{has_status, uninject_template};
use crate::workload::Template;
use crate::yaml::{json, semantic_eq, Map, Node};

/// What happened to a template.
#[derive(Debug)]
pub(crate) struct Injected {
    pub decision: Decision,
    pub notes: Vec<String>,
    /// False when the template is exactly as it was (skipped, or injected already with the
    /// same result), so its document can be written back byte for byte.
    pub changed: bool,
}

/// Injects `template` in place, or says why not. An already injected template is
/// uninjected first, so injecting twice gives the same result as injecting once.
pub(crate) fn inject_template(
    template: &mut Map,
    t: &Template,
    opts: &InjectOptions,
) -> Result<Injected, TemplateProblem> {
    if let Some(reason) = skip_reason(template, t.namespace.as_deref(), opts) {
        return Ok(Injected {
            decision: Decision::Skipped(reason),
            notes: Vec::new(),
            changed: false,
        });
    }
    let before = if has_status(template) {
        let before = template.clone();
        uninject_template(template)?;
        Some(before)
    } else {
        None
    };
    let notes = inject_clean(template, t, opts)?;
    let changed = match before {
        None => true,
        Some(before) => {
            let after = Node::Map(std::mem::take(template));
            let same = semantic_eq(&Node::Map(before), &after);
            if let Node::Map(m) = after {
                *template = m;
            }
            !same
        }
    };
    Ok(Injected {
        decision: Decision::Injected,
        notes,
        changed,
    })
}

/// The webhook's entry point: injects one Pod received as JSON (an AdmissionReview's
/// object). `namespace` is the request's namespace (a Pod under admission often has none
/// in its metadata yet). Returns the new Pod and the outcome; a skipped Pod comes back
/// unchanged. Errors name the Pod and the annotation, as for files.
pub fn inject_pod_json(
    pod: &serde_json::Value,
    namespace: Option<&str>,
    opts: &InjectOptions,
) -> Result<(serde_json::Value, crate::TemplateOutcome), crate::InjectError> {
    let mut node = json::from_json(pod);
    let meta = node.at(&["metadata"]).and_then(Node::as_map);
    let name = |k: &str| meta.and_then(|m| m.get_str(k)).map(String::from);
    let workload = crate::WorkloadRef {
        kind: "Pod".into(),
        name: name("name")
            .or_else(|| name("generateName"))
            .unwrap_or_default(),
        namespace: name("namespace").or_else(|| namespace.map(String::from)),
    };
    let template = Template {
        namespace: workload.namespace.clone(),
        canonical_workload: crate::workload::pod_workload_name(
            node.as_map().unwrap_or(&Map::new()),
        ),
        workload,
    };
    let Some(map) = node.as_map_mut() else {
        return Err(crate::InjectError::NotAMapping {
            file: "the admission request".into(),
            line: 0,
            what: "the Pod".into(),
            found: "not a JSON object",
        });
    };
    let r = inject_template(map, &template, opts)
        .map_err(|p| p.at("the admission request", 0, &template.workload))?;
    let outcome = crate::TemplateOutcome {
        workload: template.workload,
        decision: r.decision,
        notes: r.notes,
    };
    Ok((json::to_json(&node), outcome))
}

fn named(list: &[Node], name: &str) -> Option<usize> {
    list.iter()
        .position(|c| c.as_map().and_then(|m| m.get_str("name")) == Some(name))
}

fn list_problem(path: &str) -> TemplateProblem {
    TemplateProblem::Bad(format!("{path} must be a list"))
}

/// Adds `ours` to `list`: merged into the user's container of the same name (recorded in
/// `added.replaced`), else at `at` (None: at the end). Returns its index.
fn place_container(
    list: &mut Vec<Node>,
    list_name: &str,
    mut ours: Node,
    at: Option<usize>,
    added: &mut Added,
) -> usize {
    let name = ours
        .as_map()
        .and_then(|m| m.get_str("name"))
        .unwrap_or_default()
        .to_string();
    match named(list, &name) {
        Some(i) => {
            let user = &list[i];
            added.replaced.push(Replaced {
                list: list_name.to_string(),
                index: i,
                original: json::to_json(user),
            });
            merge_container(&mut ours, user);
            list[i] = ours;
            i
        }
        None => {
            let i = at.unwrap_or(list.len()).min(list.len());
            list.insert(i, ours);
            i
        }
    }
}

/// The proxy's user and group as the (possibly user-customized) container runs it.
fn run_as(container: &Node, opts: &InjectOptions) -> (u32, u32) {
    let sc = container.at(&["securityContext"]).and_then(Node::as_map);
    let id = |k: &str| {
        sc.and_then(|s| s.get_str(k))
            .and_then(|v| v.parse::<u32>().ok())
    };
    let uid = id("runAsUser").unwrap_or(opts.proxy_uid);
    let gid = id("runAsGroup").unwrap_or(if uid == opts.proxy_uid {
        opts.proxy_gid
    } else {
        uid
    });
    (uid, gid)
}

fn inject_clean(
    template: &mut Map,
    t: &Template,
    opts: &InjectOptions,
) -> Result<Vec<String>, TemplateProblem> {
    let annotations = template
        .get("metadata")
        .and_then(|m| m.as_map()?.get("annotations"))
        .and_then(Node::as_map);
    let plan: Plan = sidecar::plan(annotations, opts)?;
    let mut status = Status {
        revision: opts.revision.clone(),
        ..Status::default()
    };
    let mut added = Added::default();

    let spec = template
        .get_mut("spec")
        .and_then(Node::as_map_mut)
        .ok_or_else(|| TemplateProblem::Bad("the pod template has no spec".into()))?;
    let containers = spec
        .seq_entry("containers")
        .ok_or_else(|| list_problem("spec.containers"))?;
    let app_container = containers
        .iter()
        .filter_map(|c| c.as_map()?.get_str("name"))
        .find(|n| *n != PROXY_CONTAINER)
        .map(String::from);
    let proxy = sidecar::proxy_container(&plan, opts);
    let at = place_container(containers, "containers", proxy, None, &mut added);
    let (uid, gid) = run_as(&containers[at], opts);
    status.containers.push(PROXY_CONTAINER.into());

    if plan.capture {
        let init = sidecar::init_container(&plan, uid, gid);
        let inits = spec
            .seq_entry("initContainers")
            .ok_or_else(|| list_problem("spec.initContainers"))?;
        // First, as Istio: the rules are in place before any other container runs.
        place_container(inits, "initContainers", init, Some(0), &mut added);
        status.init_containers.push(INIT_CONTAINER.into());
    }

    let volumes = spec
        .seq_entry("volumes")
        .ok_or_else(|| list_problem("spec.volumes"))?;
    for v in sidecar::volumes(opts) {
        let name = v
            .at(&["name"])
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_string();
        if named(volumes, &name).is_some() {
            return Err(TemplateProblem::Bad(format!(
                "spec.volumes already has a volume named {name:?}, which the sidecar needs; rename it"
            )));
        }
        volumes.push(v);
        status.volumes.push(name);
    }

    // Metadata: first in the template when we create it, as Kubernetes writes it.
    if template.get("metadata").is_none_or(Node::is_null) {
        template.insert_at(0, "metadata", Node::Map(Map::new()));
    }
    let meta = template
        .get_mut("metadata")
        .and_then(Node::as_map_mut)
        .ok_or_else(|| {
            TemplateProblem::Bad("the pod template's metadata must be a mapping".into())
        })?;
    let labels = meta
        .map_entry("labels")
        .ok_or_else(|| TemplateProblem::Bad("metadata.labels must be a mapping".into()))?;
    let (name, revision) = canonical(labels, &t.canonical_workload);
    for (key, value) in [
        (CANONICAL_NAME, name),
        (CANONICAL_REVISION, revision),
        (TLS_MODE, "istio".to_string()),
    ] {
        if !labels.contains(key) {
            labels.insert(key, Node::str(value));
            added.labels.push(key.into());
        }
    }
    let annotations = meta
        .map_entry("annotations")
        .ok_or_else(|| TemplateProblem::Bad("metadata.annotations must be a mapping".into()))?;
    let scrape_configured = [PROMETHEUS_SCRAPE, PROMETHEUS_PORT, PROMETHEUS_PATH]
        .iter()
        .any(|k| annotations.contains(k));
    let mut wanted: Vec<(&str, String)> = Vec::new();
    if let Some(app) = &app_container {
        wanted.push((DEFAULT_CONTAINER, app.clone()));
        wanted.push((DEFAULT_LOGS_CONTAINER, app.clone()));
    }
    if !scrape_configured {
        wanted.push((PROMETHEUS_SCRAPE, "true".into()));
        wanted.push((PROMETHEUS_PORT, PORT_METRICS.to_string()));
        wanted.push((PROMETHEUS_PATH, "/stats/prometheus".into()));
    }
    for (key, value) in wanted {
        if !annotations.contains(key) {
            annotations.insert(key, Node::str(value));
            added.annotations.push(key.into());
        }
    }
    status.meshctl = Some(added);
    annotations.insert(STATUS, Node::str(status.to_json()));
    Ok(plan.notes)
}

/// Istio's canonical service name and revision: from the labels Istio reads, else the
/// workload's name and `latest`. A label value is at most 63 characters and ends with an
/// alphanumeric.
fn canonical(labels: &Map, workload: &str) -> (String, String) {
    let first = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| labels.get_str(k).filter(|v| !v.is_empty()))
            .map(String::from)
    };
    let name = first(&[CANONICAL_NAME, "app.kubernetes.io/name", "app"])
        .unwrap_or_else(|| label_value(workload));
    let revision = first(&[CANONICAL_REVISION, "app.kubernetes.io/version", "version"])
        .unwrap_or_else(|| "latest".into());
    (name, revision)
}

fn label_value(text: &str) -> String {
    let cut: String = text.chars().take(63).collect();
    cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_as_json_for_the_webhook() {
        let pod = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": "reviews-v1-7d9f-", "labels": {"app": "reviews", "version": "v1"}},
            "spec": {"containers": [{"name": "reviews", "image": "reviews:1", "ports": [{"containerPort": 9080}]}]}
        });
        let (out, outcome) =
            inject_pod_json(&pod, Some("shop"), &InjectOptions::default()).expect("injects");
        assert_eq!(outcome.decision, Decision::Injected);
        assert_eq!(outcome.workload.namespace.as_deref(), Some("shop"));
        let names: Vec<_> = out["spec"]["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .map(|c| c["name"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(names, ["reviews", "istio-proxy"]);
        assert_eq!(
            out["spec"]["containers"][0]["ports"][0]["containerPort"],
            9080
        );
        assert_eq!(
            out["metadata"]["labels"]["service.istio.io/canonical-name"],
            "reviews"
        );
        let (same, skipped) =
            inject_pod_json(&pod, Some("kube-system"), &InjectOptions::default()).expect("skips");
        assert!(matches!(skipped.decision, Decision::Skipped(_)));
        assert_eq!(same, pod);
    }

    #[test]
    fn canonical_labels_as_istio() {
        let mut l = Map::new();
        assert_eq!(canonical(&l, "hello"), ("hello".into(), "latest".into()));
        l.insert("app", Node::str("reviews"));
        l.insert("version", Node::str("v2"));
        assert_eq!(canonical(&l, "x"), ("reviews".into(), "v2".into()));
        l.insert("app.kubernetes.io/name", Node::str("rev"));
        assert_eq!(canonical(&l, "x").0, "rev");
        let long = "helloworld-".repeat(7);
        let v = label_value(&long);
        assert!(
            v.len() <= 63 && v.ends_with(|c: char| c.is_ascii_alphanumeric()),
            "{v}"
        );
        assert_eq!(label_value("abc-"), "abc");
    }
}
