//! The Kubernetes admission webhooks (`mesh-controlplane run --webhook ADDR`), HTTPS with a
//! certificate from the mesh CA for the names the API server dials
//! (`--webhook-dns-name`, default `mesh-controlplane.mesh-system.svc`):
//!
//! - `POST /inject`: an `AdmissionReview` (admission.k8s.io/v1) of a Pod. The answer
//!   carries a JSON Patch that adds the sidecar, computed by [`mesh_inject::inject_pod_json`]:
//!   the same function `meshctl kube-inject` runs, with the options of
//!   `--injection-config` (the `mesh-sidecar-injector` ConfigMap `meshctl manifest
//!   generate` writes). A Pod that opts out, or runs on the host network, is allowed
//!   unchanged with the reason as a warning; one injection refuses (a bad traffic
//!   annotation) is denied with the message naming the Pod and the annotation.
//! - `POST /validate`: an `AdmissionReview` of an Istio resource. The object goes through
//!   the validation `meshctl apply` runs ([`mesh_api::istio::load`]); a problem denies it,
//!   every problem listed with its field path. Deletes are always allowed.
//!
//! A body that is not an AdmissionReview gets HTTP 400 with the reason; other paths 404.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kube_core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube_core::DynamicObject;
use mesh_inject::{Decision, InjectOptions};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// The API server sends at most ~3 MB objects; a little more for the review around them.
const MAX_BODY: usize = 8 << 20;
/// How long a client has to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The name the API server dials (the Service in `mesh-system`).
pub const DEFAULT_DNS_NAME: &str = "mesh-controlplane.mesh-system.svc";

/// What the webhooks need.
#[derive(Debug)]
pub struct WebhookCtx {
    /// Injection options (image, control plane address, resources).
    pub inject: InjectOptions,
}

/// Serves the webhooks on `listener` until `shutdown` flips.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ctx: Arc<WebhookCtx>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((tcp, peer)) = accepted else { continue };
        let (acceptor, ctx) = (acceptor.clone(), ctx.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::warn!(%peer, error = %e, "webhook TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let svc = service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&ctx, req).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder.serve_connection(TokioIo::new(tls), svc).await {
                tracing::debug!(%peer, error = %e, "webhook connection ended");
            }
        });
    }
}

async fn handle(ctx: &WebhookCtx, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    if req.method() != Method::POST || !matches!(path.as_str(), "/inject" | "/validate") {
        return text(
            StatusCode::NOT_FOUND,
            "the webhooks are POST /inject and POST /validate\n",
        );
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("cannot read the request body (at most {MAX_BODY} bytes): {e}\n"),
            )
        }
    };
    match review(ctx, &path, &body) {
        Ok(v) => {
            let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(message) => text(StatusCode::BAD_REQUEST, &format!("{message}\n")),
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r
}

/// Answers one AdmissionReview (`path` is `/inject` or `/validate`) with the review to send
/// back; `Err` when the body is not an AdmissionReview with a request.
pub fn review(ctx: &WebhookCtx, path: &str, body: &[u8]) -> Result<Value, String> {
    let review: AdmissionReview<DynamicObject> = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not an AdmissionReview (admission.k8s.io/v1): {e}"))?;
    let req: AdmissionRequest<DynamicObject> = review
        .try_into()
        .map_err(|_| "the AdmissionReview has no request".to_string())?;
    let response = match path {
        "/inject" => inject(ctx, &req),
        _ => validate(&req),
    };
    let mut out = serde_json::to_value(response.into_review()).map_err(|e| e.to_string())?;
    // `patch` is Go's `[]byte`: a base64 string on the wire (kube-core writes a byte array).
    if let Some(slot) = out.pointer_mut("/response/patch") {
        let bytes: Vec<u8> = serde_json::from_value(slot.take()).map_err(|e| e.to_string())?;
        *slot = Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    Ok(out)
}

fn inject(ctx: &WebhookCtx, req: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    let allow = AdmissionResponse::from(req);
    if req.kind.kind != "Pod" || req.operation != Operation::Create {
        return allow;
    }
    let Some(object) = &req.object else {
        return allow.deny("the admission request carries no Pod");
    };
    let pod = match serde_json::to_value(object) {
        Ok(p) => p,
        Err(e) => return allow.deny(format!("cannot read the Pod: {e}")),
    };
    let (injected, outcome) =
        match mesh_inject::inject_pod_json(&pod, req.namespace.as_deref(), &ctx.inject) {
            Ok(r) => r,
            Err(e) => return allow.deny(e.to_string()),
        };
    let warnings = outcome.warnings();
    let mut response = match outcome.decision {
        Decision::Injected => {
            let patch = json_patch::diff(&pod, &injected);
            tracing::info!(pod = %outcome.workload, "injected the sidecar");
            match allow.clone().with_patch(patch) {
                Ok(r) => r,
                Err(e) => allow.deny(format!("cannot encode the patch: {e}")),
            }
        }
        _ => allow,
    };
    if !warnings.is_empty() {
        response.warnings = Some(warnings);
    }
    response
}

fn validate(req: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    let allow = AdmissionResponse::from(req);
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return allow;
    }
    let Some(object) = &req.object else {
        return allow.deny("the admission request carries no object");
    };
    let name = format!(
        "{}/{}",
        req.kind.kind,
        object.metadata.name.as_deref().unwrap_or(&req.name)
    );
    // JSON is YAML: the same parser and checks as `meshctl apply`.
    let text = match serde_json::to_string_pretty(object) {
        Ok(t) => t,
        Err(e) => return allow.deny(format!("cannot read {name}: {e}")),
    };
    match mesh_api::istio::load(&name, &text) {
        Ok(_) => allow,
        Err(problems) => {
            // Field paths, not lines: the JSON the API server sent is not the user's file.
            let lines: Vec<String> = problems
                .iter()
                .map(|d| match d.path.as_str() {
                    "" => d.message.clone(),
                    path => format!("{path}: {}", d.message),
                })
                .collect();
            allow.deny(format!(
                "{name} is not valid ({} problem(s)): {}",
                lines.len(),
                lines.join("; ")
            ))
        }
    }
}
