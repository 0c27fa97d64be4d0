//! Talking to upstream endpoints: connection pools (HTTP/1 keep-alive, one multiplexed
//! HTTP/2 connection per endpoint) and the errors an attempt can end in.

pub mod pool;

use std::io;

/// Why an attempt to an endpoint failed before a response arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("connection failure: {0}")]
    Connect(#[source] io::Error),
    #[error("connection timeout")]
    ConnectTimeout,
    /// mTLS could not be set up: handshake failure, unexpected peer identity, no identity.
    #[error("TLS: {0}")]
    Tls(String),
    #[error("HTTP handshake failed: {0}")]
    Handshake(#[source] hyper::Error),
    /// The connection was reset or closed before the response headers.
    #[error("upstream reset before headers: {0}")]
    Reset(#[source] hyper::Error),
}

impl UpstreamError {
    /// A connect-stage failure (Envoy's `connect-failure`, response flag UF).
    pub fn is_connect_failure(&self) -> bool {
        matches!(
            self,
            UpstreamError::Connect(_)
                | UpstreamError::ConnectTimeout
                | UpstreamError::Handshake(_)
                | UpstreamError::Tls(_)
        )
    }
}
