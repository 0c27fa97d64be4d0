//! Whether a pod template gets a sidecar, as Istio's `injectRequired` decides it for
//! `istioctl kube-inject`: host networking, system namespaces, then the opt-out label or
//! annotation (a label wins over an annotation; ours is read before Istio's).

use crate::names::{ISTIO_INJECT, MESH_INJECT};
use crate::options::InjectOptions;
use crate::report::SkipReason;
use crate::yaml::{Map, Node};

/// Why this template must be left alone, if it must.
pub(crate) fn skip_reason(
    template: &Map,
    namespace: Option<&str>,
    opts: &InjectOptions,
) -> Option<SkipReason> {
    let host_network = template
        .get("spec")
        .and_then(|s| s.as_map()?.get("hostNetwork"))
        .and_then(Node::as_bool);
    if host_network == Some(true) {
        return Some(SkipReason::HostNetwork);
    }
    if let Some(ns) = namespace {
        if opts.system_namespaces.iter().any(|s| s == ns) {
            return Some(SkipReason::SystemNamespace(ns.to_string()));
        }
    }
    let meta = template.get("metadata").and_then(Node::as_map);
    let field = |what: &str| meta.and_then(|m| m.get(what)).and_then(Node::as_map);
    let (labels, annotations) = (field("labels"), field("annotations"));
    let selector = [
        ("label", labels, MESH_INJECT),
        ("label", labels, ISTIO_INJECT),
        ("annotation", annotations, MESH_INJECT),
        ("annotation", annotations, ISTIO_INJECT),
    ]
    .into_iter()
    .find_map(|(what, map, key)| Some((what, key, map?.get(key)?.as_str()?)));
    let (what, key, value) = selector?;
    // Istio: y/yes/true/on inject, empty means the default (inject), anything else opts out.
    match value.to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "on" | "" => None,
        _ => Some(SkipReason::OptedOut {
            what,
            key: key.to_string(),
            value: value.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse::parse_document;

    fn template(yaml: &str) -> Map {
        let node = parse_document(yaml).expect("parses").expect("not empty");
        node.as_map().expect("map").clone()
    }

    fn reason(yaml: &str, ns: Option<&str>) -> Option<SkipReason> {
        skip_reason(&template(yaml), ns, &InjectOptions::default())
    }

    #[test]
    fn host_network_and_system_namespaces_skip() {
        assert_eq!(
            reason("spec: {hostNetwork: true}", None),
            Some(SkipReason::HostNetwork)
        );
        assert_eq!(reason("spec: {hostNetwork: false}", None), None);
        assert_eq!(
            reason("spec: {}", Some("kube-system")),
            Some(SkipReason::SystemNamespace("kube-system".into()))
        );
        assert_eq!(reason("spec: {}", Some("default")), None);
    }

    #[test]
    fn label_wins_over_annotation() {
        let both = "metadata: {labels: {sidecar.istio.io/inject: 'true'}, annotations: {sidecar.istio.io/inject: 'false'}}";
        assert_eq!(reason(both, None), None);
        let label_off = "metadata: {labels: {sidecar.istio.io/inject: 'false'}, annotations: {sidecar.istio.io/inject: 'true'}}";
        assert!(matches!(
            reason(label_off, None),
            Some(SkipReason::OptedOut { what: "label", .. })
        ));
        let ours = "metadata: {annotations: {meshctl.io/inject: 'no'}}";
        assert!(matches!(
            reason(ours, None),
            Some(SkipReason::OptedOut {
                what: "annotation",
                ..
            })
        ));
        // Istio treats anything but a yes as a no.
        assert!(reason(
            "metadata: {annotations: {sidecar.istio.io/inject: maybe}}",
            None
        )
        .is_some());
        assert_eq!(
            reason(
                "metadata: {annotations: {sidecar.istio.io/inject: ''}}",
                None
            ),
            None
        );
    }
}
