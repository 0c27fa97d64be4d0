//! The HTTP client services use to call each other: pooled HTTP/1.1 keep-alive connections,
//! through the explicit proxy when `HTTP_PROXY` says so ([`connector`]), with a deadline per
//! call and a cap on response size.

pub mod connector;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::env::ProxySettings;
use connector::ProxyConnector;

/// The largest response body accepted from another service.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Idle pooled connections are closed after this long: shorter than the idle timeouts of the
/// servers and proxies we talk to (the sidecar closes idle keep-alive connections after
/// 10 s), so a connection is not reused just as the other side closes it.
const POOL_IDLE: Duration = Duration::from_secs(4);

/// Why a call to another service failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no answer from {url} within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("request to {url} failed: {source}")]
    Request {
        url: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("reading the response of {url} failed: {message}")]
    Body { url: String, message: String },
    #[error("{url} is not a valid URL")]
    BadUrl { url: String },
}

/// What another service answered.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

/// A shared, cheaply cloned HTTP client.
#[derive(Clone, Debug)]
pub struct Client {
    inner: HyperClient<ProxyConnector, Empty<Bytes>>,
}

impl Client {
    pub fn new(proxy: &ProxySettings) -> Client {
        let inner = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .build(ProxyConnector::new(proxy));
        Client { inner }
    }

    /// GETs `url` with `headers`; the whole exchange (connect, request, response body) must
    /// finish within `timeout`.
    pub async fn get(
        &self,
        url: &str,
        headers: HeaderMap,
        timeout: Duration,
    ) -> Result<Reply, CallError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| CallError::BadUrl { url: url.into() })?;
        let mut req = Request::get(uri)
            .body(Empty::new())
            .map_err(|_| CallError::BadUrl { url: url.into() })?;
        *req.headers_mut() = headers;
        let exchange = async {
            let resp = self
                .inner
                .request(req)
                .await
                .map_err(|source| CallError::Request {
                    url: url.into(),
                    source,
                })?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| CallError::Body {
                    url: url.into(),
                    message: e.to_string(),
                })?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(CallError::Timeout {
                    url: url.into(),
                    timeout,
                })
            })
    }
}
