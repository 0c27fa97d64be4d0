//! The scrape loop: every interval (and whenever the target set changes), GET each target's
//! Prometheus text over plain HTTP, feed the [`Aggregator`], and publish a [`Report`].
//!
//! The scraper owns the aggregator; readers get immutable reports through a `watch`, so the
//! API never waits on a scrape. A target that fails (refused, timeout, garbage) is marked down
//! and keeps its data until it ages out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::model::Scrape;
use super::view::{TargetStatus, Topology, Window};
use super::Aggregator;

/// Scrape bodies larger than this are refused (a proxy's exposition is a few hundred KiB).
const MAX_BODY: usize = 32 << 20;

/// A proxy whose process started at most this long before its first scrape counts from zero
/// (all its counters are that young), so a new proxy's first seconds of traffic show.
const FRESH: Duration = Duration::from_secs(10);

/// One proxy to scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Stable name of the proxy (its node id), the key of its data.
    pub id: String,
    /// `http://127.0.0.1:15000/stats/prometheus`.
    pub url: String,
}

/// How often and how patiently to scrape.
#[derive(Debug, Clone)]
pub struct ScraperConfig {
    pub interval: Duration,
    /// Per scrape; a slower target is marked down for this round.
    pub timeout: Duration,
}

impl Default for ScraperConfig {
    fn default() -> ScraperConfig {
        ScraperConfig {
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(800),
        }
    }
}

/// Everything the API serves, computed after each scrape round.
#[derive(Debug, Clone)]
pub struct Report {
    pub at: Instant,
    pub topologies: BTreeMap<Window, Topology>,
    pub targets: Vec<TargetStatus>,
}

impl Report {
    /// A report with empty windows (before the first scrape).
    pub fn empty(at: Instant) -> Report {
        Report {
            at,
            topologies: Window::ALL
                .into_iter()
                .map(|w| (w, Aggregator::new().topology(w, at)))
                .collect(),
            targets: Vec::new(),
        }
    }
}

/// Handle to the running scrape task.
#[derive(Debug)]
pub struct Scraper {
    pub reports: watch::Receiver<Arc<Report>>,
    task: JoinHandle<()>,
}

impl Drop for Scraper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scraper {
    /// Starts scraping `targets` (changes apply at once). Stops when dropped.
    pub fn spawn(targets: watch::Receiver<Vec<Target>>, config: ScraperConfig) -> Scraper {
        let (tx, reports) = watch::channel(Arc::new(Report::empty(Instant::now())));
        let task = tokio::spawn(run(targets, config, tx));
        Scraper { reports, task }
    }
}

async fn run(
    mut targets: watch::Receiver<Vec<Target>>,
    config: ScraperConfig,
    tx: watch::Sender<Arc<Report>>,
) {
    let mut agg = Aggregator::new();
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut targets_open = true;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = targets.changed(), if targets_open => targets_open = changed.is_ok(),
        }
        let list = targets.borrow_and_update().clone();
        let mut round = JoinSet::new();
        for t in &list {
            let (id, url, timeout) = (t.id.clone(), t.url.clone(), config.timeout);
            round.spawn(async move {
                let got = match tokio::time::timeout(timeout, fetch(&url)).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("no answer within {timeout:?}")),
                };
                (id, Instant::now(), unix_now(), got)
            });
        }
        while let Some(done) = round.join_next().await {
            let Ok((id, at, wall, got)) = done else {
                continue;
            };
            match got.and_then(|text| {
                super::parse::parse(&text)
                    .map(|s| Scrape::from_samples(&s))
                    .map_err(|e| e.to_string())
            }) {
                Ok(mut scrape) => {
                    scrape.scraped_at_unix_s = wall;
                    if let Some(started) = fresh_start(&agg, &id, at, &scrape) {
                        agg.record(&id, started, Scrape::default());
                    }
                    agg.record(&id, at, scrape)
                }
                Err(e) => {
                    tracing::debug!(target_id = %id, error = %e, "scrape failed");
                    agg.record_failure(&id, e);
                }
            }
        }
        let ids: Vec<&str> = list.iter().map(|t| t.id.as_str()).collect();
        let now = Instant::now();
        agg.retain(&ids, now);
        let report = Report {
            at: now,
            topologies: Window::ALL
                .into_iter()
                .map(|w| (w, agg.topology(w, now)))
                .collect(),
            targets: agg.targets(now),
        };
        if tx.send(Arc::new(report)).is_err() {
            return; // nobody reads reports any more
        }
    }
}

/// When the process behind a target's first scrape started less than [`FRESH`] ago: the
/// instant it started (its counters were zero then).
fn fresh_start(agg: &Aggregator, id: &str, at: Instant, scrape: &Scrape) -> Option<Instant> {
    if agg.has_baseline(id) {
        return None;
    }
    let started = scrape.process.start_time_seconds?;
    let now = scrape.scraped_at_unix_s.or_else(unix_now)?;
    let age = Duration::try_from_secs_f64(now - started).ok()?;
    (age <= FRESH).then(|| at.checked_sub(age)).flatten()
}

/// The wall clock in Unix seconds (None if it is set before 1970).
fn unix_now() -> Option<f64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs_f64())
}

/// GET `url` (plain HTTP/1.1) and return the body as text.
async fn fetch(url: &str) -> Result<String, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("bad url {url:?}: {e}"))?;
    let authority = uri
        .authority()
        .ok_or_else(|| format!("url {url:?} has no host:port"))?
        .clone();
    let port = authority.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((authority.host(), port))
        .await
        .map_err(|e| format!("connect {authority}: {e} (is the proxy's admin port up?)"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake with {authority}: {e}"))?;
    tokio::spawn(conn);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let req = http::Request::get(path)
        .header(http::header::HOST, authority.as_str())
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("request for {url:?}: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url}: status {}", resp.status()));
    }
    let body = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("reading {url}: {e}"))?
        .to_bytes();
    String::from_utf8(body.to_vec()).map_err(|_| format!("{url} answered non-UTF-8 text"))
}
