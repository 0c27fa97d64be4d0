//! Telemetry: the control plane scrapes every proxy's `/stats/prometheus` and serves rolling
//! windows of traffic as JSON.
//!
//! - [`parse`]: Prometheus text -> samples (never panics on garbage).
//! - [`model`]: samples -> the Istio series the topology needs.
//! - [`Aggregator`]: per-target deltas for ten minutes; nodes and edges of a window.
//! - [`Scraper`]: the task that scrapes a changing set of targets and publishes reports.
//! - [`api`]: the hyper handler.
//!
//! # API (JSON, snake_case, stable)
//! `GET /api/v1/topology?window=10s|1m|10m` (default `1m`):
//! `{"window": "1m", "window_s": 60.0, "nodes": [Node], "edges": [Edge]}` where
//! - Node: `id` (`workload.namespace`), `workload`, `namespace`, `app`, `version`, `services`
//!   (hosts it was reached as).
//! - Edge: `source`, `source_id`, `source_version`, `destination`, `destination_id`,
//!   `destination_version`, `destination_service`, `protocol` (`http`|`tcp`), `reporter`
//!   (`source`|`destination`: whose numbers), `requests`, `rps`, `success_rate` (non-5xx
//!   share, null without requests), `errors`, `p50_ms`, `p95_ms`, `p99_ms` (null without
//!   data), `request_bytes`, `response_bytes`, `mtls`.
//!
//! `GET /api/v1/edges?window=...[&source=W][&destination=W]`: `{"window", "window_s", "edges"}`,
//! edges filtered by source/destination workload name.
//!
//! `GET /api/v1/targets`: `{"targets": [{"id", "up", "error", "last_scrape_age_s",
//! "scrapes", "rss_bytes", "start_time_s", "cpu_seconds", "cpu_cores", "cert_not_after",
//! "outlier_ejections"}]}`
//! (`scrapes`: how many succeeded; `last_scrape_age_s` as of the request); `rss_bytes` to
//! `cpu_cores` from Prometheus' standard process metrics (`process_resident_memory_bytes`,
//! `process_start_time_seconds`, `process_cpu_seconds_total`), null when the proxy does not
//! export them; `cpu_cores` is the CPU used between the last two scrapes. `cert_not_after`:
//! when the proxy's workload certificate expires, integer Unix seconds (the last scrape's
//! time plus Istio's `istio_agent_cert_expiry_seconds{resource_name="default"}`), null
//! when the proxy holds no certificate. `outlier_ejections`: `{cluster_name: count}`, the
//! proxy's `envoy_cluster_outlier_detection_ejections_enforced_total` per cluster as last
//! scraped (endpoints ejected since the proxy started; only clusters that ejected; `{}`
//! when none).
//!
//! `GET /api/v1/mesh?window=...`: the topology plus one key per injected [`api::Section`]
//! (the push server provides `proxies` and `resources`: see
//! [`crate::server::sections`]) and `targets`.
//!
//! The control plane serves all of it on its monitoring port (15014), scraping every proxy
//! that registered with a stats or admin address every `--scrape-interval` (1 s).
//!
//! # Semantics
//! - Each edge is counted once: from the client's proxy (`reporter="source"`) when it
//!   reported the traffic, else from the server's (inbound-only traffic, e.g. from outside).
//!   A server's proxy that cannot name its client reports it as `unknown`: such traffic counts
//!   only for what exceeds the traffic clients' proxies reported into the same workload (so
//!   plaintext mesh traffic is not shown twice); its mTLS marks those clients' edges.
//! - A counter going down means the proxy restarted: its new value is the delta.
//! - A target's first scrape is a baseline (traffic of unknown age counts toward no window),
//!   unless the proxy process started at most 10 s before (`process_start_time_seconds`):
//!   then all its counters are that young and count from zero, so a new proxy's traffic shows.
//! - A window shorter than the scrape interval answers with the latest delta's rate.
//! - Quantiles interpolate linearly inside a bucket, like Prometheus's `histogram_quantile`.

mod aggregator;
pub mod api;
mod dedup;
mod delta;
pub mod model;
pub mod parse;
mod scraper;
mod view;

pub use aggregator::Aggregator;
pub use delta::histogram_quantile;
pub use scraper::{Report, Scraper, ScraperConfig, Target};
pub use view::{Edge, Node, TargetStatus, Topology, Window};
