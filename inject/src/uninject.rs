//! Taking a sidecar out of a pod template, by what its status annotation lists: ours (every
//! container, volume, label and annotation we added, and the user's own containers we merged
//! into, restored) or Istio's (its containers and volumes, and the app probes it rewrote,
//! restored from its `ISTIO_KUBE_APP_PROBERS`; Istio does not record the labels and
//! annotations it adds, so those stay).

use crate::error::TemplateProblem;
use crate::names::*;
use crate::status::Status;
use crate::yaml::{json, Map, Node};

/// True when the template carries a status annotation.
pub(crate) fn has_status(template: &Map) -> bool {
    status_text(template).is_some()
}

fn status_text(template: &Map) -> Option<&str> {
    template
        .get("metadata")?
        .as_map()?
        .get("annotations")?
        .as_map()?
        .get_str(STATUS)
}

/// Removes what injection added. Returns false when the template was not injected.
pub(crate) fn uninject_template(template: &mut Map) -> Result<bool, TemplateProblem> {
    let Some(text) = status_text(template) else {
        return Ok(false);
    };
    let status = Status::parse(text)?;
    let added = status.meshctl.clone().unwrap_or_default();
    if let Some(spec) = template.get_mut("spec").and_then(Node::as_map_mut) {
        if status.meshctl.is_none() {
            restore_istio_probes(spec, &status);
        }
        remove_named(spec, "initContainers", &status.init_containers);
        remove_named(spec, "containers", &status.containers);
        remove_named(spec, "volumes", &status.volumes);
        if let Some(secrets) = &status.image_pull_secrets {
            remove_named(spec, "imagePullSecrets", secrets);
        }
        let mut replaced = added.replaced.clone();
        replaced.sort_by_key(|r| r.index);
        for r in replaced {
            if let Some(list) = spec.seq_entry(&r.list) {
                let at = r.index.min(list.len());
                list.insert(at, json::from_json(&r.original));
            }
        }
    }
    if let Some(meta) = template.get_mut("metadata").and_then(Node::as_map_mut) {
        for (field, keys) in [
            ("labels", &added.labels),
            ("annotations", &added.annotations),
        ] {
            if let Some(m) = meta.get_mut(field).and_then(Node::as_map_mut) {
                for k in keys {
                    m.remove(k);
                }
            }
        }
        if let Some(a) = meta.get_mut("annotations").and_then(Node::as_map_mut) {
            a.remove(STATUS);
        }
        drop_if_empty(meta, "labels");
        drop_if_empty(meta, "annotations");
    }
    drop_if_empty(template, "metadata");
    Ok(true)
}

/// Removes the entries of `spec[list]` named in `names`, and the list itself when that
/// leaves it empty (an empty list and no list mean the same to Kubernetes).
fn remove_named(spec: &mut Map, list: &str, names: &[String]) {
    let Some(items) = spec.get_mut(list).and_then(Node::as_seq_mut) else {
        return;
    };
    let before = items.len();
    items.retain(|c| {
        let name = c.as_map().and_then(|m| m.get_str("name"));
        !name.is_some_and(|n| names.iter().any(|x| x == n))
    });
    if items.is_empty() && before > 0 {
        spec.remove(list);
    }
}

fn drop_if_empty(m: &mut Map, key: &str) {
    let empty = match m.get(key) {
        Some(Node::Map(x)) => x.is_empty(),
        Some(Node::Seq(x)) => x.is_empty(),
        _ => false,
    };
    if empty {
        m.remove(key);
    }
}

/// Istio points app probes at its agent (`/app-health/<container>/livez` on 15020) and keeps
/// the originals as JSON in its proxy's `ISTIO_KUBE_APP_PROBERS`; put them back.
fn restore_istio_probes(spec: &mut Map, status: &Status) {
    let probers = spec
        .get("containers")
        .and_then(Node::as_seq)
        .and_then(|cs| {
            cs.iter().find(|c| {
                let name = c.as_map().and_then(|m| m.get_str("name"));
                name.is_some_and(|n| status.containers.iter().any(|s| s == n))
            })
        })
        .and_then(|proxy| proxy.at(&["env"]))
        .and_then(Node::as_seq)
        .and_then(|env| {
            env.iter().filter_map(Node::as_map).find_map(|e| {
                (e.get_str("name") == Some(ISTIO_APP_PROBERS_ENV)).then(|| e.get_str("value"))?
            })
        })
        .and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok());
    let Some(serde_json::Value::Object(probers)) = probers else {
        return;
    };
    let Some(containers) = spec.get_mut("containers").and_then(Node::as_seq_mut) else {
        return;
    };
    for c in containers.iter_mut().filter_map(Node::as_map_mut) {
        let Some(name) = c.get_str("name").map(String::from) else {
            continue;
        };
        for (probe, suffix) in [
            ("livenessProbe", "livez"),
            ("readinessProbe", "readyz"),
            ("startupProbe", "startupz"),
        ] {
            let path = format!("/app-health/{name}/{suffix}");
            let Some(serde_json::Value::Object(original)) = probers.get(&path) else {
                continue;
            };
            let Some(p) = c.get_mut(probe).and_then(Node::as_map_mut) else {
                continue;
            };
            let rewritten = p
                .get("httpGet")
                .and_then(|h| h.as_map()?.get_str("path"))
                .is_some_and(|p| p == path);
            if rewritten {
                p.remove("httpGet");
                for (k, v) in original {
                    p.insert(k, json::from_json(v));
                }
            }
        }
    }
}
