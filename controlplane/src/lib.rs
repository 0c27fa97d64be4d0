//! mesh-controlplane: the mesh's brain.
//!
//! - [`registry`]: the workloads the mesh knows (service, namespace, service account, labels,
//!   addresses, ports). Plain data; filled by proxies' connections on the local platform and
//!   by Pods/EndpointSlices on Kubernetes.
//! - [`store`]: the Istio resources users applied: validated, versioned, durable.
//! - [`translate`]: resources + registry -> the snapshot one proxy runs on (pure).
//! - [`server`]: the config push server (proxies' streams, debounced pushes, sync state)
//!   and the monitoring/config API.
//! - [`ca`]: the certificate authority: root, workload certificates with SPIFFE identities.
//! - [`telemetry`]: scrapes proxies' metrics; topology and traffic windows as a JSON API.
//! - [`webhook`]: the Kubernetes admission webhooks (sidecar injection, validation).

pub mod ca;
pub mod registry;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod translate;
pub mod webhook;
