//! mesh-proxy: meshctl's sidecar and gateway proxy.
//!
//! A snapshot ([`mesh_api::snapshot::Snapshot`]) says what to listen on and where to send
//! traffic; the proxy serves it and swaps in new snapshots atomically. Where things live:
//!
//! - [`listener`]: binding, accept loops, original destination, reload reconciliation.
//! - [`http`]: the HTTP pipeline: [`http::handler`] (route, fault, answer),
//!   [`http::forward`] (retries, timeouts, mirroring), [`http::retry`], [`http::replay`],
//!   [`http::headers`], [`http::upgrade`] (WebSocket), [`http::server`] (limits).
//! - [`route`]: compiled route tables and matchers.
//! - [`cluster`]: endpoints, [`cluster::lb`], [`cluster::limits`] (circuit breaking),
//!   [`cluster::outlier`] (outlier detection).
//! - [`upstream`]: connection pools.
//! - [`tcp`]: plain TCP forwarding.
//! - [`tls`]: mTLS (identity, PeerAuthentication on inbound); [`authz`]: AuthorizationPolicy.
//! - [`metrics`], [`access_log`], [`admin`].
//! - [`proxy`]: start, apply, drain; [`config`]: reading snapshot files.
//! - [`xds`]: control-plane mode: the config stream client (hello, apply, ACK/NACK, reconnect).
//! - [`iptables`]: `mesh-proxy iptables`, the pod init step that redirects traffic to the proxy.

pub mod access_log;
pub mod admin;
pub mod authz;
pub mod cluster;
pub mod config;
pub mod http;
pub mod iptables;
pub mod listener;
pub mod metrics;
pub mod proxy;
pub mod route;
pub mod runtime;
pub mod tcp;
pub mod tls;
pub mod upstream;
pub mod xds;

pub use proxy::{ApplyError, Proxy, ProxyOptions, StartError};

#[cfg(any(test, feature = "testing"))]
pub mod testing;
