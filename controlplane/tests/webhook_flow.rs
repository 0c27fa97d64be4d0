//! The admission webhooks of the real `mesh-controlplane` binary (`--webhook`), over HTTPS
//! with the certificate its CA issues for the Service name:
//!
//! - `/inject`: a Pod's review comes back with a JSON Patch that, applied to the Pod, gives
//!   exactly what `mesh_inject::inject_pod_json` (the function `meshctl kube-inject` runs)
//!   makes of it with the `--injection-config` options; an opted-out Pod is allowed unchanged
//!   with the reason as a warning; a bad traffic annotation is denied, naming it.
//! - `/validate`: a valid VirtualService is allowed; an invalid one is denied with every
//!   problem and its field path; a delete is allowed.
//! - A body that is no AdmissionReview is a 400, another path a 404, and a client that
//!   expects another server name fails the handshake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod push_support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use mesh_inject::InjectOptions;
use push_support::{free_addr, ControlPlane};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};

const NAME: &str = "mesh-controlplane.mesh-system.svc";

fn connector(root: &Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(root).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// POSTs `body` to `path` as the API server would (HTTPS to `NAME`); status and body.
async fn post(cp: &ControlPlane, addr: SocketAddr, path: &str, body: String) -> (u16, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = connector(&cp.ca_root)
        .connect(ServerName::try_from(NAME).unwrap(), tcp)
        .await
        .expect("TLS handshake with the webhook");
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::post(path)
        .header("host", NAME)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn review(kind: (&str, &str, &str), operation: &str, namespace: &str, object: Value) -> String {
    let (group, version, kind) = kind;
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
            "name": object["metadata"]["name"].as_str().unwrap_or(""),
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": "admin", "uid": "0", "groups": ["system:masters"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
        },
    })
    .to_string()
}

fn pod(annotations: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-7d9f-",
            "labels": {"app": "web", "version": "v1"},
            "annotations": annotations,
        },
        "spec": {
            "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}],
        },
    })
}

/// The response of a review, checked to answer the request's uid.
fn response(status: u16, body: &str) -> Value {
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(v["kind"], "AdmissionReview");
    assert_eq!(v["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
    v["response"].clone()
}

async fn start(state: &Path, webhook: SocketAddr, opts: &InjectOptions) -> ControlPlane {
    let config = state.join("injection.json");
    std::fs::create_dir_all(state).unwrap();
    std::fs::write(&config, serde_json::to_string(opts).unwrap()).unwrap();
    ControlPlane::start_with(
        state,
        &[
            "--webhook",
            &webhook.to_string(),
            "--webhook-dns-name",
            NAME,
            "--injection-config",
            config.to_str().unwrap(),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injection_webhook_patches_pods_as_kube_inject_does() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let opts = InjectOptions {
        proxy_image: "registry.example.com/mesh/mesh-proxy:9.9.9".into(),
        control_plane: "mesh-controlplane.mesh-system.svc:25012".into(),
        ..InjectOptions::default()
    };
    let cp = start(dir.path(), addr, &opts).await;
    let pod_kind = ("", "v1", "Pod");

    let original = pod(json!({}));
    let (status, body) = post(
        &cp,
        addr,
        "/inject",
        review(pod_kind, "CREATE", "shop", original.clone()),
    )
    .await;
    let r = response(status, &body);
    assert_eq!(r["allowed"], true, "{r}");
    assert_eq!(r["patchType"], "JSONPatch");
    let patch_b64 = r["patch"].as_str().expect("a patch");
    let patch_json = base64::engine::general_purpose::STANDARD
        .decode(patch_b64)
        .expect("the patch is base64, as Go's []byte");
    let patch: json_patch::Patch = serde_json::from_slice(&patch_json).unwrap();
    let mut patched = original.clone();
    json_patch::patch(&mut patched, &patch).unwrap();
    let (expected, _) = mesh_inject::inject_pod_json(&original, Some("shop"), &opts).unwrap();
    assert_eq!(
        patched, expected,
        "the webhook and kube-inject's function disagree"
    );
    let containers = patched["spec"]["containers"].as_array().unwrap();
    let proxy = containers
        .iter()
        .find(|c| c["name"] == "istio-proxy")
        .expect("the sidecar");
    assert_eq!(
        proxy["image"], "registry.example.com/mesh/mesh-proxy:9.9.9",
        "--injection-config read"
    );
    assert_eq!(patched["spec"]["initContainers"][0]["name"], "istio-init");
    assert_eq!(
        containers[0], original["spec"]["containers"][0],
        "the app is unchanged"
    );

    // Opted out: allowed, untouched, the reason as a warning.
    let opted_out = pod(json!({"sidecar.istio.io/inject": "false"}));
    let (status, body) = post(
        &cp,
        addr,
        "/inject",
        review(pod_kind, "CREATE", "shop", opted_out),
    )
    .await;
    let r = response(status, &body);
    assert_eq!(r["allowed"], true);
    assert!(r.get("patch").is_none(), "{r}");
    let warnings = r["warnings"].to_string();
    assert!(warnings.contains("sidecar.istio.io/inject"), "{warnings}");

    // A bad traffic annotation: denied, naming it and the value.
    let bad = pod(json!({"traffic.sidecar.istio.io/excludeInboundPorts": "80,notaport"}));
    let (status, body) = post(
        &cp,
        addr,
        "/inject",
        review(pod_kind, "CREATE", "shop", bad),
    )
    .await;
    let r = response(status, &body);
    assert_eq!(r["allowed"], false);
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("excludeInboundPorts") && message.contains("notaport"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_webhook_runs_applys_checks() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let cp = start(dir.path(), addr, &InjectOptions::default()).await;
    let vs_kind = ("networking.istio.io", "v1", "VirtualService");
    let vs = |weights: [u64; 2]| {
        json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "shop"},
            "spec": {
                "hosts": ["reviews"],
                "http": [{"route": [
                    {"destination": {"host": "reviews", "subset": "v1"}, "weight": weights[0]},
                    {"destination": {"host": "reviews", "subset": "v2"}, "weight": weights[1]},
                ]}],
            },
        })
    };
    let (status, body) = post(
        &cp,
        addr,
        "/validate",
        review(vs_kind, "CREATE", "shop", vs([50, 50])),
    )
    .await;
    let r = response(status, &body);
    assert_eq!(r["allowed"], true, "{r}");

    let mut bad = vs([50, 40]);
    bad["spec"]["http"][0]["timeoutt"] = json!("5s");
    let (status, body) = post(
        &cp,
        addr,
        "/validate",
        review(vs_kind, "UPDATE", "shop", bad.clone()),
    )
    .await;
    let r = response(status, &body);
    assert_eq!(r["allowed"], false);
    let message = r["status"]["message"].as_str().unwrap();
    assert!(message.contains("VirtualService/reviews"), "{message}");
    assert!(
        message.contains("spec.http[0]") && message.contains("timeoutt"),
        "{message}"
    );

    let (status, body) = post(
        &cp,
        addr,
        "/validate",
        review(vs_kind, "DELETE", "shop", bad),
    )
    .await;
    assert_eq!(
        response(status, &body)["allowed"],
        true,
        "deletes are allowed"
    );

    let (status, body) = post(&cp, addr, "/validate", "{\"kind\": 3}".into()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not an AdmissionReview"), "{body}");
    let (status, _) = post(
        &cp,
        addr,
        "/mutate",
        review(vs_kind, "CREATE", "shop", vs([50, 50])),
    )
    .await;
    assert_eq!(status, 404);

    // The certificate names the Service, nothing else.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let other = connector(&cp.ca_root)
        .connect(ServerName::try_from("evil.example.com").unwrap(), tcp)
        .await;
    assert!(
        other.is_err(),
        "a certificate for another name was accepted"
    );
}
