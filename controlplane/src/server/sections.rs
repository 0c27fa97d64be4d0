//! The telemetry API wired into the running control plane (DESIGN.md data flow 5): the
//! scraper's targets are the proxies the hub lists (each that told us its stats or admin
//! address, until its grace period after a disconnect is over), and `GET /api/v1/mesh` gets
//! two sections from the push server:
//!
//! - `proxies` ([`mesh_api::telemetry::Proxy`]): per proxy `id`, `proxy_type`, `service`,
//!   `namespace`, `workload`, `version`, `labels`, `state` (SYNCED / STALE / NACKED /
//!   DISCONNECTED) and `state_age_s`, `version_sent`, `version_acked`, `error` (while
//!   NACKED), `last_nack_error`, `connected_since` (Unix s) and `connected_s`, `warnings`
//!   (problems translating its snapshot); from the last scrape: `scrape_up`, `uptime_s`
//!   (of the proxy process), `rss_bytes`, `cpu_cores`, `cert_not_after` (when the proxy's workload
//!   certificate expires, integer Unix seconds, from its `istio_agent_cert_expiry_seconds`;
//!   null without a certificate), `outlier_ejections` (`{cluster_name: count}`: endpoints
//!   ejected by outlier detection since the proxy started, from its
//!   `envoy_cluster_outlier_detection_ejections_enforced_total`; `{}` when none, or before
//!   the proxy is scraped). Unknown values are `null`.
//! - `resources` ([`mesh_api::telemetry::ResourceAcks`]): per stored resource `kind`,
//!   `namespace`, `name`, `generation`, `revision`, `proxies_acked` (connected proxies whose
//!   ACKed snapshot includes this version of it) and `proxies_connected`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mesh_api::telemetry;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::status::{self, ProxyStatus};
use crate::store::ConfigStore;
use crate::telemetry::api::{Api, Section};
use crate::telemetry::{Report, Scraper, ScraperConfig, Target};

type StatusRx = watch::Receiver<Arc<Vec<ProxyStatus>>>;

/// The running telemetry: the scraper, the task that feeds it targets, and the API.
#[derive(Debug)]
pub struct Telemetry {
    pub api: Api,
    _scraper: Scraper,
    targets: JoinHandle<()>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.targets.abort();
    }
}

impl Telemetry {
    /// Starts scraping the proxies `status` lists, every `interval`.
    pub fn start<S: ConfigStore + 'static>(
        store: Arc<S>,
        status: StatusRx,
        interval: Duration,
    ) -> Telemetry {
        let (targets_tx, targets_rx) = watch::channel(targets_of(&status.borrow()));
        let targets = tokio::spawn(follow(status.clone(), targets_tx));
        // A zero period would spin (and tokio refuses it): at most 100 rounds a second.
        let interval = interval.max(Duration::from_millis(10));
        let config = ScraperConfig {
            interval,
            // A proxy slower than this is marked down for the round, not waited for.
            timeout: interval.clamp(Duration::from_millis(200), Duration::from_secs(5)),
        };
        let scraper = Scraper::spawn(targets_rx, config);
        let api = Api::new(scraper.reports.clone())
            .with_section(Arc::new(Proxies {
                status: status.clone(),
                reports: scraper.reports.clone(),
            }))
            .with_section(Arc::new(Resources { store, status }));
        Telemetry {
            api,
            _scraper: scraper,
            targets,
        }
    }
}

/// Republishes the target list whenever the hub's list of proxies changes it (the hub
/// publishes status on every ACK; the scraper should only hear about new or gone proxies).
async fn follow(mut status: StatusRx, targets: watch::Sender<Vec<Target>>) {
    while status.changed().await.is_ok() {
        let list = targets_of(&status.borrow_and_update());
        targets.send_if_modified(|cur| {
            let changed = *cur != list;
            if changed {
                *cur = list;
            }
            changed
        });
    }
}

/// Every listed proxy that told us where its metrics are: the merged stats server, else the
/// admin server (both serve `/stats/prometheus`).
pub fn targets_of(proxies: &[ProxyStatus]) -> Vec<Target> {
    proxies
        .iter()
        .filter_map(|p| {
            let addr = p.stats.or(p.admin)?;
            Some(Target {
                id: p.id.clone(),
                url: format!("http://{addr}/stats/prometheus"),
            })
        })
        .collect()
}

struct Proxies {
    status: StatusRx,
    reports: watch::Receiver<Arc<Report>>,
}

impl Section for Proxies {
    fn name(&self) -> &str {
        "proxies"
    }

    fn json(&self) -> Value {
        let proxies = self.status.borrow().clone();
        let report = self.reports.borrow().clone();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let since = |t: u64| now.as_secs().saturating_sub(t);
        let lines: Vec<telemetry::Proxy> = proxies
            .iter()
            .map(|p| {
                let t = report.targets.iter().find(|t| t.id == p.id);
                let connected = (p.connected_since > 0).then_some(p.connected_since);
                telemetry::Proxy {
                    id: p.id.clone(),
                    proxy_type: p.proxy_type,
                    service: p.service.clone(),
                    namespace: p.namespace.clone(),
                    workload: p.workload.clone(),
                    version: p.version.clone(),
                    labels: p.labels.clone(),
                    state: p.state,
                    state_age_s: since(p.state_since),
                    version_sent: p.version_sent.clone(),
                    version_acked: p.version_acked.clone(),
                    error: p.error.clone(),
                    last_nack_error: p.last_nack_error.clone(),
                    connected_since: connected,
                    connected_s: connected.map(since),
                    warnings: p.warnings.to_vec(),
                    scrape_up: t.is_some_and(|t| t.up),
                    uptime_s: t
                        .and_then(|t| t.start_time_s)
                        .map(|s| (now.as_secs_f64() - s).max(0.0)),
                    rss_bytes: t.and_then(|t| t.rss_bytes),
                    cpu_cores: t.and_then(|t| t.cpu_cores),
                    cert_not_after: t.and_then(|t| t.cert_not_after),
                    // `{}` before the first scrape, not null.
                    outlier_ejections: t.map(|t| t.outlier_ejections.clone()).unwrap_or_default(),
                }
            })
            .collect();
        serde_json::to_value(lines).unwrap_or(Value::Null)
    }
}

struct Resources<S> {
    store: Arc<S>,
    status: StatusRx,
}

impl<S: ConfigStore> Section for Resources<S> {
    fn name(&self) -> &str {
        "resources"
    }

    fn json(&self) -> Value {
        let proxies = self.status.borrow().clone();
        let stored = self.store.list(None, None);
        let lines: Vec<telemetry::ResourceAcks> = status::resources(&stored, &proxies)
            .into_iter()
            .map(|r| telemetry::ResourceAcks {
                kind: r.kind,
                namespace: r.namespace,
                name: r.name,
                generation: r.generation,
                revision: r.revision,
                proxies_acked: r.proxies_acked,
                proxies_connected: r.proxies_connected,
            })
            .collect();
        serde_json::to_value(lines).unwrap_or(Value::Null)
    }
}
