//! Where each kind keeps its pod template, and walking a document's templates (a `v1 List`
//! recursively). Kinds are matched with their API group, so a custom resource that happens
//! to be called `Deployment` passes through untouched.

use crate::error::InjectError;
use crate::report::WorkloadRef;
use crate::yaml::{Map, Node};

/// How a kind holds pods.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// The object is the pod (metadata + spec).
    Pod,
    /// The pod template is at this path.
    Template(&'static [&'static str]),
    /// `items` holds objects.
    List,
}

const SPEC_TEMPLATE: &[&str] = &["spec", "template"];
const CRONJOB_TEMPLATE: &[&str] = &["spec", "jobTemplate", "spec", "template"];

fn shape(api_version: &str, kind: &str) -> Option<Shape> {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    match (group, kind) {
        ("", "Pod") => Some(Shape::Pod),
        ("", "List") => Some(Shape::List),
        ("", "ReplicationController")
        | ("apps" | "extensions", "Deployment" | "ReplicaSet" | "DaemonSet")
        | ("apps", "StatefulSet")
        | ("batch", "Job")
        // OpenShift's DeploymentConfig; before API groups it was `v1`.
        | ("apps.openshift.io" | "", "DeploymentConfig") => Some(Shape::Template(SPEC_TEMPLATE)),
        ("batch", "CronJob") => Some(Shape::Template(CRONJOB_TEMPLATE)),
        _ => None,
    }
}

/// One pod template and what messages and labels need to know about it.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    pub workload: WorkloadRef,
    /// The namespace the pods run in (the template's, else the workload's).
    pub namespace: Option<String>,
    /// The workload name for `service.istio.io/canonical-name`.
    pub canonical_workload: String,
}

/// Where errors point.
pub(crate) struct Place<'a> {
    pub file: &'a str,
    pub line: usize,
}

type Visitor<'v> = dyn FnMut(&Template, &mut Map) -> Result<(), InjectError> + 'v;

/// Calls `visit` for every pod template of `doc`. Returns false when the document holds no
/// workload (it is passed through).
pub(crate) fn for_each_template(
    doc: &mut Node,
    place: &Place<'_>,
    visit: &mut Visitor<'_>,
) -> Result<bool, InjectError> {
    walk(doc, "the document", place, visit)
}

fn walk(
    node: &mut Node,
    what: &str,
    place: &Place<'_>,
    visit: &mut Visitor<'_>,
) -> Result<bool, InjectError> {
    let found = node.describe();
    let Some(obj) = node.as_map_mut() else {
        return Err(InjectError::NotAMapping {
            file: place.file.to_string(),
            line: place.line,
            what: what.to_string(),
            found,
        });
    };
    let api_version = obj.get_str("apiVersion").unwrap_or_default();
    let kind = obj.get_str("kind").unwrap_or_default().to_string();
    let Some(shape) = shape(api_version, &kind) else {
        return Ok(false);
    };
    let workload = workload_ref(obj, &kind);
    let template_path = match shape {
        Shape::List => {
            let mut any = false;
            if let Some(items) = obj.get_mut("items").and_then(Node::as_seq_mut) {
                for (i, item) in items.iter_mut().enumerate() {
                    any |= walk(item, &format!("item {i} of the List"), place, visit)?;
                }
            }
            return Ok(any);
        }
        Shape::Pod => &[][..],
        Shape::Template(path) => path,
    };
    let canonical_workload = match shape {
        Shape::Pod => pod_workload_name(obj),
        _ => workload.name.clone(),
    };
    let no_template = |path: String| InjectError::NoPodTemplate {
        file: place.file.to_string(),
        line: place.line,
        workload: Box::new(workload.clone()),
        path,
    };
    let template = template_path
        .iter()
        .try_fold(&mut *obj, |m, key| m.get_mut(key)?.as_map_mut())
        .ok_or_else(|| no_template(template_path.join(".")))?;
    let spec_path = dotted(template_path, "spec");
    let spec = template
        .get("spec")
        .and_then(Node::as_map)
        .ok_or_else(|| no_template(spec_path.clone()))?;
    if !spec
        .get("containers")
        .and_then(Node::as_seq)
        .is_some_and(|c| c.iter().all(|c| c.as_map().is_some()) && !c.is_empty())
    {
        return Err(InjectError::BadTemplate {
            file: place.file.to_string(),
            line: place.line,
            workload: Box::new(workload.clone()),
            message: format!(
                "{spec_path}.containers must be a list of containers (mappings with a name and an image)"
            ),
        });
    }
    let namespace = template
        .get("metadata")
        .and_then(|m| m.as_map()?.get_str("namespace"))
        .map(String::from)
        .or_else(|| workload.namespace.clone());
    let t = Template {
        workload,
        namespace,
        canonical_workload,
    };
    visit(&t, template)?;
    Ok(true)
}

fn dotted(path: &[&str], last: &str) -> String {
    path.iter()
        .copied()
        .chain(std::iter::once(last))
        .collect::<Vec<_>>()
        .join(".")
}

fn workload_ref(obj: &Map, kind: &str) -> WorkloadRef {
    let meta = obj.get("metadata").and_then(Node::as_map);
    let get = |k: &str| meta.and_then(|m| m.get_str(k)).map(String::from);
    WorkloadRef {
        kind: kind.to_string(),
        name: get("name")
            .or_else(|| get("generateName"))
            .unwrap_or_default(),
        namespace: get("namespace").filter(|n| !n.is_empty()),
    }
}

/// A bare pod's workload, as Istio names it: its controller (from `ownerReferences`), else
/// its name, else its `generateName` without the trailing dash.
pub(crate) fn pod_workload_name(pod: &Map) -> String {
    let meta = pod.get("metadata").and_then(Node::as_map);
    let controller = meta
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Node::as_seq)
        .and_then(|refs| {
            refs.iter()
                .filter_map(Node::as_map)
                .find(|r| r.get("controller").and_then(Node::as_bool) == Some(true))
        })
        .and_then(|r| r.get_str("name"));
    controller
        .or_else(|| meta.and_then(|m| m.get_str("name")))
        .map(String::from)
        .or_else(|| {
            meta.and_then(|m| m.get_str("generateName"))
                .map(|g| g.trim_end_matches('-').to_string())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_matched_with_their_group() {
        assert_eq!(
            shape("apps/v1", "Deployment"),
            Some(Shape::Template(SPEC_TEMPLATE))
        );
        assert_eq!(
            shape("extensions/v1beta1", "Deployment"),
            Some(Shape::Template(SPEC_TEMPLATE))
        );
        assert_eq!(
            shape("batch/v1", "CronJob"),
            Some(Shape::Template(CRONJOB_TEMPLATE))
        );
        assert_eq!(shape("v1", "Pod"), Some(Shape::Pod));
        assert_eq!(shape("v1", "List"), Some(Shape::List));
        assert_eq!(shape("example.com/v1", "Deployment"), None);
        assert_eq!(shape("v1", "Service"), None);
    }
}
