//! The ingress and egress gateways: `mesh-proxy` Deployments in router mode, labelled as
//! Istio's (`istio: ingressgateway`, `istio: egressgateway`) so that Istio's Gateway
//! resources select them unchanged. The ingress Service is a LoadBalancer with Istio's ports
//! (80 -> the profile's gateway port, 443 -> 8443, `status-port` 15021); the egress one is
//! cluster-internal.

use serde_json::{json, Value};

use super::{labels, meta, CONTROL_PLANE, NAMESPACE};
use crate::profile::schema::MeshSpec;

/// Which gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Ingress,
    Egress,
}

impl Which {
    /// Istio's label value and our object name (`mesh-<istio>`).
    fn istio(self) -> &'static str {
        match self {
            Which::Ingress => "ingressgateway",
            Which::Egress => "egressgateway",
        }
    }
}

/// ServiceAccount, Deployment and Service of one gateway.
pub fn render(spec: &MeshSpec, which: Which) -> Vec<Value> {
    let v = &spec.values;
    let g = match which {
        Which::Ingress => &v.ingress_gateway,
        Which::Egress => &v.egress_gateway,
    };
    let name = format!("mesh-{}", which.istio());
    let component = which.istio();
    let selector = json!({"app": format!("istio-{}", which.istio()), "istio": which.istio()});
    let mut pod_labels = labels(component);
    for (k, val) in selector.as_object().into_iter().flatten() {
        pod_labels[k] = val.clone();
    }
    let sa = format!("{name}-service-account");
    let control_plane = format!(
        "{CONTROL_PLANE}.{NAMESPACE}.svc:{}",
        v.control_plane.xds_tls_port
    );
    let env_field = |name: &str, path: &str| json!({"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}});
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(&name, component),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {
                        "sidecar.istio.io/inject": "false",
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": "15020",
                        "prometheus.io/path": "/stats/prometheus",
                    },
                },
                "spec": {
                    "serviceAccountName": sa,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": 1337,
                        "runAsGroup": 1337,
                        "seccompProfile": {"type": "RuntimeDefault"},
                        // Ports below 1024 without a capability, as Istio's gateways.
                        "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
                    },
                    "containers": [{
                        "name": "istio-proxy",
                        "image": v.global.image(&v.global.proxy.image),
                        "args": [
                            "run",
                            "--control-plane", "$(MESH_CONTROL_PLANE)",
                            "--token-file", "/var/run/secrets/tokens/istio-token",
                            "--ca-root", "/var/run/secrets/istio/root-cert.pem",
                            "--admin-addr", "127.0.0.1:15000",
                            "--stats-addr", "0.0.0.0:15020",
                            "--health-addr", "0.0.0.0:15021",
                            "--log-level", "info",
                        ],
                        "env": [
                            env_field("POD_NAME", "metadata.name"),
                            env_field("POD_NAMESPACE", "metadata.namespace"),
                            env_field("INSTANCE_IP", "status.podIP"),
                            env_field("SERVICE_ACCOUNT", "spec.serviceAccountName"),
                            {"name": "MESH_CONTROL_PLANE", "value": control_plane},
                        ],
                        "ports": [
                            {"name": "http2", "containerPort": g.port, "protocol": "TCP"},
                            {"name": "https", "containerPort": 8443, "protocol": "TCP"},
                            {"name": "http-envoy-prom", "containerPort": 15090, "protocol": "TCP"},
                            {"name": "status-port", "containerPort": 15021, "protocol": "TCP"},
                        ],
                        "readinessProbe": {
                            "httpGet": {"path": "/healthz/ready", "port": 15021},
                            "initialDelaySeconds": 1,
                            "periodSeconds": 2,
                            "failureThreshold": 30,
                        },
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "64Mi"},
                            "limits": {"cpu": "2000m", "memory": "1Gi"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [
                            {"name": "istio-envoy", "mountPath": "/etc/istio/proxy"},
                            {"name": "istio-token", "mountPath": "/var/run/secrets/tokens", "readOnly": true},
                            {"name": "istiod-ca-cert", "mountPath": "/var/run/secrets/istio", "readOnly": true},
                        ],
                    }],
                    "volumes": [
                        {"name": "istio-envoy", "emptyDir": {"medium": "Memory"}},
                        {"name": "istio-token", "projected": {"sources": [{"serviceAccountToken": {
                            "audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token",
                        }}]}},
                        {"name": "istiod-ca-cert", "configMap": {"name": "istio-ca-root-cert"}},
                    ],
                },
            },
        },
    });
    let (service_type, mut ports) = match which {
        Which::Ingress => (
            "LoadBalancer",
            vec![
                json!({"name": "status-port", "port": 15021, "targetPort": 15021, "protocol": "TCP"}),
            ],
        ),
        Which::Egress => ("ClusterIP", Vec::new()),
    };
    ports.push(json!({"name": "http2", "port": 80, "targetPort": g.port, "protocol": "TCP"}));
    ports.push(json!({"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}));
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(&name, component),
        "spec": {"type": service_type, "selector": selector, "ports": ports},
    });
    let account =
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(&sa, component)});
    vec![account, deployment, service]
}
