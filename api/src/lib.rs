//! mesh-api: the types every meshctl component shares.
//!
//! - [`istio`]: Istio's resources (VirtualService, DestinationRule, Gateway, ServiceEntry,
//!   PeerAuthentication, AuthorizationPolicy) with Istio's field names, parsed from
//!   multi-document YAML and validated with file/line/column/field-path diagnostics.
//! - [`snapshot`]: the configuration a proxy runs on (listeners, routes, clusters, endpoints).
//!   The proxy reads it from a file in static mode; the control plane pushes it later.
//! - [`xds`]: the control plane <-> proxy config stream: messages and framing.
//! - [`telemetry`]: the control plane's telemetry API (topology, proxies, resources), which
//!   `meshctl stat` and the dashboard read.
//! - [`duration`] and [`matcher`]: small value types both of the above use.
//!
//! This crate does no IO and links neither kube nor tokio.

pub mod duration;
pub mod istio;
pub mod matcher;
pub mod snapshot;
pub mod telemetry;
pub mod xds;

pub use duration::Duration;
pub use matcher::StringMatch;
