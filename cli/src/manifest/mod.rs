//! `meshctl manifest generate`: the Kubernetes YAML of an install profile, a pure function of
//! the merged [`MeshSpec`] (no cluster, no state directory).
//!
//! What a profile renders, in apply order:
//!
//! | component | documents |
//! |---|---|
//! | always (Istio's `base`) | Namespace `mesh-system`; the CRDs of every kind meshctl reads ([`crds`]) |
//! | `components.controlPlane` | ServiceAccount, ClusterRole + binding, Role + binding (its Secrets), ConfigMap `mesh-sidecar-injector` (the injection options, read by the webhook), Deployment and Service `mesh-controlplane`, PodDisruptionBudget, the Mutating and Validating webhook configurations ([`webhooks`]) |
//! | `components.ingressGateway` / `egressGateway` | ServiceAccount, Deployment, Service ([`gateways`]) |
//!
//! The control plane's Service keeps Istio's port names and numbers (15010 `grpc-xds`, 15012
//! `https-dns`, 15014 `http-monitoring`, 443 -> 15017 `https-webhook`), and gateway pods carry
//! Istio's `istio: ingressgateway` / `istio: egressgateway` labels, so Istio's Gateway
//! selectors, dashboards and scripts keep working.

pub mod crds;
pub mod gateways;
pub mod webhooks;

use serde_json::{json, Value};

use crate::profile::schema::MeshSpec;

/// The namespace everything of the mesh itself lives in.
pub const NAMESPACE: &str = "mesh-system";
/// The control plane's Deployment, Service and ServiceAccount.
pub const CONTROL_PLANE: &str = "mesh-controlplane";
/// The ConfigMap holding the injection options as JSON (`config.json`).
pub const INJECTOR_CONFIG: &str = "mesh-sidecar-injector";
/// Where the control plane keeps its state in the pod (an emptyDir).
const STATE_DIR: &str = "/var/lib/meshctl";
/// Where the injection options ConfigMap is mounted.
const INJECTOR_DIR: &str = "/etc/meshctl/injection";

/// Every document of `spec`'s install, in apply order.
pub fn generate(spec: &MeshSpec) -> Vec<Value> {
    let mut docs = vec![json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": labels("base")},
    })];
    docs.extend(crds::all(&labels("base")));
    let c = &spec.components;
    if c.control_plane.enabled {
        docs.extend(control_plane(spec));
        docs.extend(webhooks::all(spec));
    }
    if c.ingress_gateway.enabled {
        docs.extend(gateways::render(spec, gateways::Which::Ingress));
    }
    if c.egress_gateway.enabled {
        docs.extend(gateways::render(spec, gateways::Which::Egress));
    }
    docs
}

/// The documents as one multi-document YAML stream.
pub fn to_yaml(docs: &[Value]) -> anyhow::Result<String> {
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(d)?);
    }
    Ok(out)
}

/// The labels every object carries.
pub fn labels(component: &str) -> Value {
    json!({
        "app.kubernetes.io/part-of": "meshctl",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/version": env!("CARGO_PKG_VERSION"),
        "app.kubernetes.io/managed-by": "meshctl",
    })
}

/// `metadata` of a namespaced object of the mesh.
pub fn meta(name: &str, component: &str) -> Value {
    json!({"name": name, "namespace": NAMESPACE, "labels": labels(component)})
}

/// The injection options the profile implies (image, control plane address, resources):
/// what `kube-inject` uses and what the webhook reads from its ConfigMap.
pub fn inject_options(spec: &MeshSpec) -> mesh_inject::InjectOptions {
    let v = &spec.values;
    let r = &v.global.proxy.resources;
    mesh_inject::InjectOptions {
        proxy_image: v.global.image(&v.global.proxy.image),
        control_plane: format!(
            "{CONTROL_PLANE}.{NAMESPACE}.svc:{}",
            v.control_plane.xds_tls_port
        ),
        resources: mesh_inject::Resources {
            requests_cpu: Some(r.requests.cpu.clone()),
            requests_memory: Some(r.requests.memory.clone()),
            limits_cpu: Some(r.limits.cpu.clone()),
            limits_memory: Some(r.limits.memory.clone()),
        },
        ..mesh_inject::InjectOptions::default()
    }
}

fn control_plane(spec: &MeshSpec) -> Vec<Value> {
    let v = &spec.values;
    let cp = &v.control_plane;
    let component = "control-plane";
    let selector = json!({"app": CONTROL_PLANE});
    let mut pod_labels = labels(component);
    pod_labels["app"] = json!(CONTROL_PLANE);

    let service_account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(CONTROL_PLANE, component),
    });
    let cluster_role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": CONTROL_PLANE, "labels": labels(component)},
        "rules": [
            {
                "apiGroups": ["networking.istio.io", "security.istio.io"],
                "resources": ["*"],
                "verbs": ["get", "list", "watch"],
            },
            {
                "apiGroups": ["networking.istio.io", "security.istio.io"],
                "resources": ["*/status"],
                "verbs": ["get", "update", "patch"],
            },
            {
                "apiGroups": [""],
                "resources": ["pods", "services", "namespaces", "nodes"],
                "verbs": ["get", "list", "watch"],
            },
            {
                "apiGroups": ["discovery.k8s.io"],
                "resources": ["endpointslices"],
                "verbs": ["get", "list", "watch"],
            },
            {
                // The CA root certificate, published in every namespace (istio-ca-root-cert).
                "apiGroups": [""],
                "resources": ["configmaps"],
                "verbs": ["get", "list", "watch", "create", "update"],
            },
            {
                // Sidecars prove who they are with their service-account token.
                "apiGroups": ["authentication.k8s.io"],
                "resources": ["tokenreviews"],
                "verbs": ["create"],
            },
            {
                // The webhooks' caBundle is the mesh CA's root.
                "apiGroups": ["admissionregistration.k8s.io"],
                "resources": ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"],
                "verbs": ["get", "list", "watch", "update", "patch"],
            },
        ],
    });
    let cluster_binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": CONTROL_PLANE, "labels": labels(component)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CONTROL_PLANE},
        "subjects": [{"kind": "ServiceAccount", "name": CONTROL_PLANE, "namespace": NAMESPACE}],
    });
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta(CONTROL_PLANE, component),
        "rules": [{
            // The CA's key pair (istio-ca-secret), or the user's own (cacerts).
            "apiGroups": [""],
            "resources": ["secrets"],
            "verbs": ["get", "list", "watch", "create", "update"],
        }],
    });
    let role_binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta(CONTROL_PLANE, component),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": CONTROL_PLANE},
        "subjects": [{"kind": "ServiceAccount", "name": CONTROL_PLANE, "namespace": NAMESPACE}],
    });
    let injector = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(INJECTOR_CONFIG, component),
        "data": {"config.json": injector_config(spec)},
    });

    let listen = |port: u16| format!("0.0.0.0:{port}");
    let args = vec![
        "run".to_string(),
        "--state-dir".into(),
        STATE_DIR.into(),
        "--listen".into(),
        listen(cp.xds_port),
        "--listen-tls".into(),
        listen(cp.xds_tls_port),
        "--monitoring".into(),
        listen(cp.monitoring_port),
        "--webhook".into(),
        listen(cp.webhook_port),
        "--injection-config".into(),
        format!("{INJECTOR_DIR}/config.json"),
        "--webhook-dns-name".into(),
        format!("{CONTROL_PLANE}.{NAMESPACE}.svc"),
        "--trust-domain".into(),
        v.certificates.trust_domain.clone(),
        "--cert-ttl".into(),
        v.certificates.ttl.to_string(),
        "--log-level".into(),
        cp.log_level.clone(),
    ];
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(CONTROL_PLANE, component),
        "spec": {
            "replicas": cp.replica_count,
            "selector": {"matchLabels": selector},
            "strategy": {"rollingUpdate": {"maxSurge": "100%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    // The control plane is never injected with a sidecar of its own.
                    "annotations": {"sidecar.istio.io/inject": "false"},
                },
                "spec": {
                    "serviceAccountName": CONTROL_PLANE,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": 1337,
                        "runAsGroup": 1337,
                        "fsGroup": 1337,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [{
                        "name": "discovery",
                        "image": v.global.image(&cp.image),
                        "args": args,
                        "env": [
                            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
                        ],
                        "ports": [
                            {"name": "grpc-xds", "containerPort": cp.xds_port, "protocol": "TCP"},
                            {"name": "https-dns", "containerPort": cp.xds_tls_port, "protocol": "TCP"},
                            {"name": "http-monitoring", "containerPort": cp.monitoring_port, "protocol": "TCP"},
                            {"name": "https-webhook", "containerPort": cp.webhook_port, "protocol": "TCP"},
                        ],
                        "readinessProbe": {
                            "httpGet": {"path": "/version", "port": cp.monitoring_port},
                            "initialDelaySeconds": 1,
                            "periodSeconds": 3,
                            "timeoutSeconds": 5,
                        },
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "128Mi"},
                            "limits": {"memory": "1Gi"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [
                            {"name": "state", "mountPath": STATE_DIR},
                            {"name": "injection", "mountPath": INJECTOR_DIR, "readOnly": true},
                        ],
                    }],
                    "volumes": [
                        {"name": "state", "emptyDir": {}},
                        {"name": "injection", "configMap": {"name": INJECTOR_CONFIG}},
                    ],
                },
            },
        },
    });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(CONTROL_PLANE, component),
        "spec": {
            "selector": selector,
            "ports": [
                {"name": "grpc-xds", "port": cp.xds_port, "targetPort": cp.xds_port, "protocol": "TCP"},
                {"name": "https-dns", "port": cp.xds_tls_port, "targetPort": cp.xds_tls_port, "protocol": "TCP"},
                {"name": "https-webhook", "port": 443, "targetPort": cp.webhook_port, "protocol": "TCP"},
                {"name": "http-monitoring", "port": cp.monitoring_port, "targetPort": cp.monitoring_port, "protocol": "TCP"},
            ],
        },
    });
    // With one replica, `minAvailable: 1` could never be met during a node drain and would
    // block it for good; `maxUnavailable: 1` lets the drain go on (a short outage of config
    // pushes; proxies keep their last config). With more replicas, keep one serving.
    let budget = if cp.replica_count > 1 {
        json!({"minAvailable": 1})
    } else {
        json!({"maxUnavailable": 1})
    };
    let mut pdb_spec = budget;
    pdb_spec["selector"] = json!({"matchLabels": selector});
    let pdb = json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(CONTROL_PLANE, component),
        "spec": pdb_spec,
    });
    vec![
        service_account,
        cluster_role,
        cluster_binding,
        role,
        role_binding,
        injector,
        deployment,
        service,
        pdb,
    ]
}

/// The injection options as the webhook reads them (pretty JSON, stable key order).
fn injector_config(spec: &MeshSpec) -> String {
    serde_json::to_string_pretty(&inject_options(spec)).unwrap_or_default()
}
