//! A small HTTP client for the control plane's monitoring port (15014): `/version`, the
//! config API (`/apis/*`) and the telemetry API; also for proxies' admin ports
//! ([`ApiClient::named`]).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered, or the connection broke.
    #[error("{peer} at {addr} did not answer ({detail})")]
    Unreachable {
        /// Who: `the control plane`, `the admin server of reviews-v1-0.default`.
        peer: String,
        /// Where.
        addr: SocketAddr,
        /// What the connection said.
        detail: String,
    },
    /// No answer in time.
    #[error("{peer} at {addr} did not answer within {secs} s")]
    Timeout {
        /// Who.
        peer: String,
        /// Where.
        addr: SocketAddr,
        /// The limit.
        secs: u64,
    },
}

/// An answer: status and body text.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body, as text.
    pub body: String,
}

/// Talks to one control plane's monitoring port.
#[derive(Debug, Clone)]
pub struct ApiClient {
    peer: String,
    addr: SocketAddr,
    timeout: Duration,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl ApiClient {
    /// A client for the monitoring port at `addr`, each request limited to `timeout`.
    pub fn new(addr: SocketAddr, timeout: Duration) -> ApiClient {
        ApiClient::named("the control plane", addr, timeout)
    }

    /// A client for another server (a proxy's admin port); `peer` names it in errors.
    pub fn named(peer: &str, addr: SocketAddr, timeout: Duration) -> ApiClient {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        ApiClient {
            peer: peer.to_string(),
            addr,
            timeout,
            http: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// The address it talks to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Reply, ClientError> {
        self.send(Method::GET, path, &[], Bytes::new()).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<Reply, ClientError> {
        self.send(Method::DELETE, path, &[], Bytes::new()).await
    }

    /// Sends one request.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let unreachable = |detail: String| ClientError::Unreachable {
            peer: self.peer.clone(),
            addr: self.addr,
            detail,
        };
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| unreachable(format!("bad request: {e}")))?;
        let exchange = async {
            let resp = self.http.request(req).await.map_err(|e| {
                // The connector's error says "connection refused" etc. in its source.
                let mut detail = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    detail = s.to_string();
                    src = s.source();
                }
                unreachable(detail)
            })?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(e.to_string()))?
                .to_bytes();
            Ok(Reply {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout {
                peer: self.peer.clone(),
                addr: self.addr,
                secs: self.timeout.as_secs(),
            })?
    }
}
