//! Where snapshots come from: the [`Source`] trait, its HTTP implementation against the
//! control plane's monitoring port, and [`poll`], the fetch loop the dashboard runs in its
//! own task (it talks to the UI only through channels).

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};

use crate::model::{Mesh, Snapshot, StoredResource, Window};

/// How long one request may take before the control plane counts as unreachable.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a fetch failed. The text is what the dashboard's banner shows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("connection failed ({detail}); is the control plane running? (`meshctl install`)")]
    Unreachable { detail: String },
    #[error("no answer within {} s", .after.as_secs())]
    Timeout { after: Duration },
    #[error("GET {path} answered {status}: {body}")]
    Status {
        path: String,
        status: StatusCode,
        body: String,
    },
    #[error("GET {path}: unexpected JSON ({detail}); is meshctl older than the control plane?")]
    Decode { path: String, detail: String },
}

/// Something that produces snapshots: the control plane over HTTP, or a fake in tests.
pub trait Source: Send + Sync + 'static {
    /// One snapshot of `window`.
    fn fetch(&self, window: Window) -> impl Future<Output = Result<Snapshot, FetchError>> + Send;
}

/// The control plane's monitoring port.
#[derive(Debug, Clone)]
pub struct HttpSource {
    addr: SocketAddr,
    timeout: Duration,
    http: Client<HttpConnector, Empty<Bytes>>,
}

impl HttpSource {
    pub fn new(addr: SocketAddr, timeout: Duration) -> HttpSource {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        HttpSource {
            addr,
            timeout,
            http: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, FetchError> {
        let timeout = self.timeout;
        tokio::time::timeout(timeout, self.get_now(path))
            .await
            .map_err(|_| FetchError::Timeout { after: timeout })?
    }

    async fn get_now<T: DeserializeOwned>(&self, path: &str) -> Result<T, FetchError> {
        let uri = format!("http://{}{path}", self.addr);
        let req = Request::get(uri)
            .body(Empty::new())
            .map_err(|e| FetchError::Unreachable {
                detail: e.to_string(),
            })?;
        let resp = self
            .http
            .request(req)
            .await
            .map_err(|e| FetchError::Unreachable {
                detail: root_cause(&e),
            })?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| FetchError::Unreachable {
                detail: e.to_string(),
            })?
            .to_bytes();
        if !status.is_success() {
            return Err(FetchError::Status {
                path: path.to_string(),
                status,
                body: String::from_utf8_lossy(&body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| FetchError::Decode {
            path: path.to_string(),
            detail: e.to_string(),
        })
    }
}

/// The innermost error's text (`Connection refused (os error 111)`), which says more than
/// hyper's outer "client error (Connect)".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[derive(serde::Deserialize)]
struct Version {
    version: Option<String>,
}

impl Source for HttpSource {
    async fn fetch(&self, window: Window) -> Result<Snapshot, FetchError> {
        let mesh_path = format!("/api/v1/mesh?window={}", window.as_str());
        let (mesh, stored, version) = tokio::join!(
            self.get::<Mesh>(&mesh_path),
            self.get::<Vec<StoredResource>>("/apis/resources"),
            self.get::<Version>("/version"),
        );
        let mut snapshot = Snapshot::new(window, SystemTime::now(), mesh?, stored?);
        // The version is for the header only: a control plane without it still works.
        snapshot.control_plane_version = version.ok().and_then(|v| v.version);
        Ok(snapshot)
    }
}

/// What the fetch loop reports to the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    Snapshot(Box<Snapshot>),
    Failed { at: SystemTime, error: FetchError },
}

/// Fetches a snapshot of the current window every `interval` (and at once when the window
/// changes), sending each result to `tx`, until the receiver is gone. A failed fetch is
/// retried at the next interval: reconnecting needs nothing more.
pub async fn poll<S: Source>(
    source: S,
    mut window: watch::Receiver<Window>,
    interval: Duration,
    tx: mpsc::Sender<Fetched>,
) {
    loop {
        let w = *window.borrow_and_update();
        let fetched = match source.fetch(w).await {
            Ok(s) => Fetched::Snapshot(Box::new(s)),
            Err(error) => Fetched::Failed {
                at: SystemTime::now(),
                error,
            },
        };
        if tx.send(fetched).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            changed = window.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}
