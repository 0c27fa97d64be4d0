//! The monitoring port (Istio's 15014): sync state for `proxy-status` and the TUI, the
//! config API the CLI and tests use, and the telemetry API.
//!
//! - `GET /version`: `{"version": "<crate version>"}`, for `meshctl version` and readiness.
//! - `GET /api/v1/topology|edges|targets|mesh`: the telemetry API ([`crate::telemetry`]),
//!   scraping the proxies the hub lists; `/api/v1/mesh` carries the `proxies` and
//!   `resources` sections of [`super::sections`].
//! - `GET /debug/proxies`: [`ProxyStatus`] per proxy.
//! - `GET /debug/resources`: [`super::status::ResourceStatus`] per stored resource.
//! - `POST /apis/apply` (YAML body; file name in `x-file-name`): all or nothing; 200 with the
//!   outcomes as JSON, 400 with the diagnostics as text.
//! - `GET /apis/resources`: every stored resource.
//! - `DELETE /apis/resources/<Kind>/<namespace>/<name>`.

use std::sync::Arc;

use std::time::Duration;

use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use mesh_api::istio::Kind;
use tokio::sync::watch;

use super::sections::Telemetry;
use super::status::{self, ProxyStatus};
use super::stream::{text, Body};
use crate::store::{ConfigStore, DeleteOptions, Key, StoreError};

/// Largest YAML body `POST /apis/apply` takes.
const MAX_APPLY: usize = 4 << 20;

/// The header naming the applied file in diagnostics.
pub const FILE_HEADER: &str = "x-file-name";

pub struct MonitorCtx<S> {
    pub store: Arc<S>,
    pub status: watch::Receiver<Arc<Vec<ProxyStatus>>>,
    /// The scraper (stops when the context is dropped) and its API.
    pub telemetry: Telemetry,
}

impl<S: ConfigStore + 'static> MonitorCtx<S> {
    /// Starts the telemetry too: every proxy in `status` is scraped every `scrape_interval`.
    pub fn new(
        store: Arc<S>,
        status: watch::Receiver<Arc<Vec<ProxyStatus>>>,
        scrape_interval: Duration,
    ) -> MonitorCtx<S> {
        let telemetry = Telemetry::start(store.clone(), status.clone(), scrape_interval);
        MonitorCtx {
            store,
            status,
            telemetry,
        }
    }
}

impl<S> std::fmt::Debug for MonitorCtx<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorCtx").finish_non_exhaustive()
    }
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let mut r = text(status, serde_json::to_vec_pretty(value).unwrap_or_default());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

pub async fn handle<S: ConfigStore>(
    ctx: Arc<MonitorCtx<S>>,
    req: Request<Incoming>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let proxies = ctx.status.borrow().clone();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/version") => json(
            StatusCode::OK,
            &serde_json::json!({ "version": env!("CARGO_PKG_VERSION") }),
        ),
        (Method::GET, "/debug/proxies") => json(StatusCode::OK, &*proxies),
        (Method::GET, "/debug/resources") => {
            let stored = ctx.store.list(None, None);
            json(StatusCode::OK, &status::resources(&stored, &proxies))
        }
        (Method::GET, "/apis/resources") => {
            let list: Vec<_> = ctx
                .store
                .list(None, None)
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "kind": s.key.kind.as_str(), "namespace": s.key.namespace,
                        "name": s.key.name, "generation": s.generation,
                        "revision": s.updated_revision, "resource": s.resource,
                    })
                })
                .collect();
            json(StatusCode::OK, &list)
        }
        (Method::POST, "/apis/apply") => apply(ctx.store.as_ref(), req).await,
        (_, p) if p.starts_with("/api/") => {
            ctx.telemetry.api.handle(&req).map(|b| b.boxed_unsync())
        }
        (Method::DELETE, p) if p.starts_with("/apis/resources/") => {
            delete(ctx.store.as_ref(), &p["/apis/resources/".len()..]).await
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "endpoints: GET /version, GET /debug/proxies, GET /debug/resources, POST /apis/apply, \
             GET /apis/resources, DELETE /apis/resources/<Kind>/<namespace>/<name>, \
             GET /api/v1/topology|edges|targets|mesh[?window=10s|1m|10m]\n",
        ),
    }
}

async fn apply<S: ConfigStore>(store: &S, req: Request<Incoming>) -> Response<Body> {
    let file = req
        .headers()
        .get(FILE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("request.yaml")
        .to_string();
    let body = match Limited::new(req.into_body(), MAX_APPLY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("cannot read the body ({e}); apply at most {MAX_APPLY} bytes at once\n"),
            )
        }
    };
    let Ok(yaml) = std::str::from_utf8(&body) else {
        return text(StatusCode::BAD_REQUEST, "the body is not UTF-8 YAML\n");
    };
    match store.apply_yaml(&file, yaml).await {
        Ok(applied) => {
            let out: Vec<_> = applied
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "kind": a.key.kind.as_str(), "namespace": a.key.namespace,
                        "name": a.key.name, "outcome": a.outcome.to_string(),
                        "generation": a.generation,
                    })
                })
                .collect();
            json(StatusCode::OK, &out)
        }
        Err(e @ StoreError::Invalid(_)) => text(StatusCode::BAD_REQUEST, format!("{e}\n")),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

async fn delete<S: ConfigStore>(store: &S, rest: &str) -> Response<Body> {
    let parts: Vec<&str> = rest.split('/').collect();
    let [kind, namespace, name] = parts.as_slice() else {
        return text(
            StatusCode::BAD_REQUEST,
            "use DELETE /apis/resources/<Kind>/<namespace>/<name>\n",
        );
    };
    let Some(kind) = Kind::ALL.into_iter().find(|k| k.as_str() == *kind) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown kind {kind:?}; use one of {:?}\n",
                Kind::ALL.map(Kind::as_str)
            ),
        );
    };
    let key = Key::new(kind, namespace, name);
    match store.delete(vec![key], DeleteOptions::default()).await {
        Ok(deleted) => json(
            StatusCode::OK,
            &deleted.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ),
        Err(e @ StoreError::NotFound(_)) => text(StatusCode::NOT_FOUND, format!("{e}\n")),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}
