//! The admission webhooks, both served by the control plane (`mesh-controlplane run
//! --webhook`) behind the `mesh-controlplane` Service's port 443:
//!
//! - MutatingWebhookConfiguration `mesh-sidecar-injector`, path `/inject`: adds the sidecar
//!   to new Pods, with the same function as `meshctl kube-inject`. Two webhooks, as Istio's:
//!   one for namespaces labelled `istio-injection=enabled`, one for namespaces labelled with
//!   our own `meshctl.io/inject=enabled` (and not Istio's, so that no pod goes through twice).
//!   Pods opt out with `sidecar.istio.io/inject: "false"` (label or annotation), decided by the
//!   injection function. `kube-system`, `kube-public` and `kube-node-lease` never match.
//!   `failurePolicy: Fail`: a pod of an injected namespace is not created without its
//!   sidecar.
//! - ValidatingWebhookConfiguration `mesh-validator`, path `/validate`: every create and
//!   update of the Istio kinds meshctl reads goes through the same validation as `meshctl
//!   apply`, and is refused with every problem listed.
//!
//! `caBundle` is left out: the control plane writes its CA's root there when it starts on
//! the cluster (its ClusterRole allows the patch), as istiod does.

use mesh_api::istio::Kind;
use serde_json::{json, Value};

use super::{labels, CONTROL_PLANE, NAMESPACE};
use crate::kinds;
use crate::profile::schema::MeshSpec;

/// The namespaces no webhook ever sees.
pub const SYSTEM_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

/// The mutating and the validating configuration.
pub fn all(_spec: &MeshSpec) -> Vec<Value> {
    vec![mutating(), validating()]
}

fn client(path: &str) -> Value {
    json!({"service": {"name": CONTROL_PLANE, "namespace": NAMESPACE, "path": path, "port": 443}})
}

fn not_system() -> Value {
    json!({"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": SYSTEM_NAMESPACES})
}

fn mutating() -> Value {
    let pods = json!([{
        "operations": ["CREATE"],
        "apiGroups": [""],
        "apiVersions": ["v1"],
        "resources": ["pods"],
        "scope": "Namespaced",
    }]);
    let webhook = |name: &str, namespace: Value| {
        json!({
            "name": name,
            "clientConfig": client("/inject"),
            "rules": pods,
            "namespaceSelector": {"matchExpressions": namespace},
            // Explicit opt-outs never reach the webhook (it would skip them anyway).
            "objectSelector": {"matchExpressions": [
                {"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]},
                {"key": "meshctl.io/inject", "operator": "NotIn", "values": ["false"]},
            ]},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "reinvocationPolicy": "Never",
            "timeoutSeconds": 10,
        })
    };
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "mesh-sidecar-injector", "labels": labels("control-plane")},
        "webhooks": [
            webhook("namespace.sidecar-injector.meshctl.io", json!([
                {"key": "istio-injection", "operator": "In", "values": ["enabled"]},
                not_system(),
            ])),
            webhook("label.sidecar-injector.meshctl.io", json!([
                {"key": "meshctl.io/inject", "operator": "In", "values": ["enabled"]},
                {"key": "istio-injection", "operator": "DoesNotExist"},
                not_system(),
            ])),
        ],
    })
}

fn validating() -> Value {
    let mut rules = Vec::new();
    for group in ["networking.istio.io", "security.istio.io"] {
        let resources: Vec<String> = Kind::ALL
            .iter()
            .filter(|k| kinds::group(**k) == group)
            .map(|k| kinds::plural(*k))
            .collect();
        rules.push(json!({
            "operations": ["CREATE", "UPDATE"],
            "apiGroups": [group],
            "apiVersions": ["*"],
            "resources": resources,
            "scope": "Namespaced",
        }));
    }
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "mesh-validator", "labels": labels("control-plane")},
        "webhooks": [{
            "name": "validation.meshctl.io",
            "clientConfig": client("/validate"),
            "rules": rules,
            "namespaceSelector": {"matchExpressions": [not_system()]},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 10,
        }],
    })
}
