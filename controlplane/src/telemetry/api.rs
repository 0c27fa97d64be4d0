//! The telemetry HTTP API as a plain hyper service (no framework): the push server mounts
//! [`Api::service`] on its monitoring port, or calls [`Api::handle`] from its own router.
//! Paths and JSON shapes are documented in the [module docs](super).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::scraper::Report;
use super::view::{TargetStatus, Topology, Window};

/// A section of `GET /api/v1/mesh` provided by another part of the control plane (the push
/// server provides `proxies`: sync state, config version, certificate expiry, uptime, RSS; and
/// `resources` with ACK counts).
pub trait Section: Send + Sync {
    /// The JSON key, e.g. `proxies`.
    fn name(&self) -> &str;
    /// The current value; called once per request, so keep it cheap.
    fn json(&self) -> Value;
}

/// The handler's state: the scraper's reports and the injected sections.
#[derive(Clone)]
pub struct Api {
    reports: watch::Receiver<Arc<Report>>,
    sections: Vec<Arc<dyn Section>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.sections.iter().map(|s| s.name()).collect();
        f.debug_struct("Api").field("sections", &names).finish()
    }
}

/// A response of the API.
pub type ApiResponse = Response<Full<Bytes>>;

impl Api {
    pub fn new(reports: watch::Receiver<Arc<Report>>) -> Api {
        Api {
            reports,
            sections: Vec::new(),
        }
    }

    /// Adds a section to `GET /api/v1/mesh`.
    pub fn with_section(mut self, section: Arc<dyn Section>) -> Api {
        self.sections.push(section);
        self
    }

    /// A hyper service answering every request with [`Api::handle`].
    pub fn service<B: hyper::body::Body + 'static>(
        &self,
    ) -> impl hyper::service::Service<
        Request<B>,
        Response = ApiResponse,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
           + Send
           + Sync
           + 'static {
        let api = self.clone();
        hyper::service::service_fn(move |req: Request<B>| {
            let resp = api.handle(&req);
            async move { Ok::<_, Infallible>(resp) }
        })
    }

    /// Answers one request (bodies are never read).
    pub fn handle<B>(&self, req: &Request<B>) -> ApiResponse {
        if req.method() != Method::GET {
            return error(StatusCode::METHOD_NOT_ALLOWED, "only GET is supported");
        }
        let query = Query(req.uri().query().unwrap_or(""));
        let report = self.reports.borrow().clone();
        let path = req.uri().path();
        let targets = targets_now(&report);
        if path == "/api/v1/targets" {
            return ok(&json!({ "targets": targets }));
        }
        let window = match query.get("window").map(str::parse::<Window>) {
            None => Window::OneMinute,
            Some(Ok(w)) => w,
            Some(Err(e)) => return error(StatusCode::BAD_REQUEST, &e),
        };
        let Some(topology) = report.topologies.get(&window) else {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "no data yet: retry shortly",
            );
        };
        match path {
            "/api/v1/topology" => ok(topology),
            "/api/v1/edges" => ok(&edges(topology, &query)),
            "/api/v1/mesh" => {
                let mut body = match serde_json::to_value(topology) {
                    Ok(Value::Object(m)) => m,
                    _ => serde_json::Map::new(),
                };
                body.insert("targets".into(), json!(targets));
                for s in &self.sections {
                    body.insert(s.name().to_string(), s.json());
                }
                ok(&Value::Object(body))
            }
            _ => error(
                StatusCode::NOT_FOUND,
                "unknown path: try /api/v1/topology, /api/v1/edges, /api/v1/mesh or /api/v1/targets",
            ),
        }
    }
}

/// The targets with their scrape ages as of now, not as of the report (which is up to one
/// scrape interval old).
fn targets_now(report: &Report) -> Vec<TargetStatus> {
    let since = report.at.elapsed().as_secs_f64();
    let mut targets = report.targets.clone();
    for t in &mut targets {
        if let Some(age) = &mut t.last_scrape_age_s {
            *age += since;
        }
    }
    targets
}

fn edges(t: &Topology, q: &Query<'_>) -> Value {
    let (src, dst) = (q.get("source"), q.get("destination"));
    let edges: Vec<_> = t
        .edges
        .iter()
        .filter(|e| src.is_none_or(|s| e.source == s || e.source_id == s))
        .filter(|e| dst.is_none_or(|d| e.destination == d || e.destination_id == d))
        .collect();
    json!({ "window": t.window, "window_s": t.window_s, "edges": edges })
}

/// `a=b&c=d`, values taken as they come (names in the mesh need no escaping).
struct Query<'a>(&'a str);

impl Query<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

fn ok<T: serde::Serialize + ?Sized>(body: &T) -> ApiResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => json_response(StatusCode::OK, bytes),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn error(status: StatusCode, message: &str) -> ApiResponse {
    let body = serde_json::to_vec(&json!({ "error": message })).unwrap_or_default();
    json_response(status, body)
}

fn json_response(status: StatusCode, body: Vec<u8>) -> ApiResponse {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}
