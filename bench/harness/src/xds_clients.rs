//! `xds-clients`: N simulated proxies on one control plane, and how long a rule change takes
//! to reach all of them.
//!
//! Every simulated proxy opens its own TCP connection and config stream with the real
//! protocol ([`mesh_api::xds`]: `POST` [`STREAM_PATH`] over HTTP/2, newline-delimited JSON
//! both ways), on the control plane's plaintext port (h2c): it says hello with a workload
//! identity and a real bootstrap token (issued from the control plane's token key in its CA
//! directory, as `meshctl` does), and ACKs every snapshot version it receives as soon as the
//! frame is complete and parsed as JSON; a delta it ACKs only when its base is the version
//! it runs, and NACKs otherwise ("delta base mismatch", as mesh-proxy does). It does not build routing tables from the snapshot
//! (a real proxy does; that cost is the proxy's, not the control plane's, and here it would
//! take CPU from the control plane being measured on the same machine).
//!
//! Proxy `i` is instance `svc-<i % services>-<i / services>` of service `svc-<i % services>`
//! (labels `app`, `version: v1` or `v2` alternating with `i / services`), service account
//! `svc-<i % services>`, one `http` port 9080, on its own loopback address. Nothing listens
//! there: the control plane only needs the addresses for the registry.
//!
//! A measurement: once every proxy has ACKed its first snapshot and no snapshot arrived for
//! `--quiet`, for each `--change-file` in turn: take `t0`, `POST /apis/apply` the file to the
//! monitoring port, and wait until every proxy has sent an ACK for a version other than the
//! one it held at `t0`. The change's figure is the time from `t0` (just before the apply
//! request is written) to the last of those ACKs (the moment the ACK frame was handed to its
//! stream). Both times are taken in this process, on one monotonic clock.
//!
//! Running out of time is a result, not an error: when the initial sync misses
//! `--connect-timeout`, or a change misses `--change-timeout` (or does not settle), the report
//! says how many proxies made it and the remaining changes are skipped, since they would
//! measure the control plane's backlog rather than themselves.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use futures_util::stream;
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use mesh_api::xds::{
    encode, FrameDecoder, NodeIdentity, NodePort, ProxyMessage, CONTENT_TYPE, STREAM_PATH,
};
use mesh_controlplane::ca::{Identity, TokenAuthority};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::procfs::Watched;

/// How long tokens issued for the simulated proxies stay valid.
const TOKEN_TTL: Duration = Duration::from_secs(4 * 3600);
/// Distinct stream errors kept for the report.
const MAX_ERROR_KINDS: usize = 5;
/// How often the watched processes' memory is sampled.
const RSS_SAMPLE: Duration = Duration::from_millis(50);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The control plane's plaintext config port (`mesh-controlplane run --listen`).
    #[arg(long)]
    xds: SocketAddr,
    /// The control plane's monitoring port (`--monitoring`), where changes are applied.
    #[arg(long)]
    monitoring: SocketAddr,
    /// The control plane's CA directory (STATE_DIR/ca): bootstrap tokens are issued from its
    /// token key.
    #[arg(long)]
    ca_dir: PathBuf,
    /// The trust domain tokens are issued for.
    #[arg(long, default_value = "cluster.local")]
    trust_domain: String,
    /// Simulated proxies (config streams).
    #[arg(long, default_value_t = 100)]
    proxies: u32,
    /// Services the proxies are spread over (`svc-0000` ...); proxy i serves svc-(i % this).
    #[arg(long, default_value_t = 1000)]
    services: u32,
    /// YAML files applied one after the other, each one measured change; repeatable.
    #[arg(long = "change-file", required = true)]
    change_files: Vec<PathBuf>,
    /// The config is settled when no snapshot arrived for this long.
    #[arg(long, default_value = "500ms")]
    quiet: mesh_api::Duration,
    /// How long connecting all proxies and their first sync may take.
    #[arg(long, default_value = "120s")]
    connect_timeout: mesh_api::Duration,
    /// How long one change may take to reach every proxy.
    #[arg(long, default_value = "60s")]
    change_timeout: mesh_api::Duration,
    /// Worker threads of this process's runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// PID of the control plane: CPU time and peak memory (with descendants); repeatable.
    #[arg(long = "watch-pid")]
    watch_pids: Vec<u32>,
    /// Print one JSON object instead of a human summary.
    #[arg(long)]
    json: bool,
}

/// One measured change.
#[derive(Debug, Serialize)]
struct Change {
    file: String,
    /// `t0` -> the apply request's answer (stored durably).
    apply_ms: f64,
    /// `t0` -> the first proxy's ACK of its new version.
    first_ack_ms: f64,
    /// `t0` -> the last proxy's ACK: the figure. `null` when not all ACKed in time.
    all_acked_ms: Option<f64>,
    /// The median proxy's `t0` -> ACK.
    proxy_p50_ms: f64,
    acked: u32,
    /// Snapshots received during the change, summed over proxies (N when each got one).
    snapshots: u64,
    /// Bytes of snapshot frames received during the change, summed over proxies.
    bytes: u64,
    /// CPU of the watched processes from `t0` to settled again.
    cpu_ms: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    proxies: u32,
    services: u32,
    /// Proxies that ACKed a first snapshot within --connect-timeout.
    synced: u32,
    /// Start -> every proxy ACKed its first snapshot; null when not all did in time.
    initial_sync_s: Option<f64>,
    /// Mean size of one proxy's snapshot frame in the initial sync.
    snapshot_bytes: u64,
    changes: Vec<Change>,
    /// Over the changes that completed, nearest rank.
    push_p50_ms: Option<f64>,
    push_p99_ms: Option<f64>,
    push_max_ms: Option<f64>,
    /// Changes that did not reach every proxy within --change-timeout.
    timeouts: u32,
    /// Changes not attempted: the initial sync or an earlier change did not finish in time.
    skipped: u32,
    /// Watched processes: peak VmRSS (VmHWM, and our 50 ms samples), CPU since they started.
    rss_kb: Option<u64>,
    rss_sampled_kb: Option<u64>,
    cpu_s: Option<f64>,
    cpu_initial_sync_s: Option<f64>,
    cpu_changes_s: Option<f64>,
    /// Streams that ended or failed during the run (each a real error of the control plane
    /// or of this process; the reasons are printed to stderr).
    stream_errors: u64,
    /// The first few of those errors, with how often each occurred (proxy names left out).
    stream_error_samples: Vec<(String, u64)>,
}

/// A simulated proxy ACKed `version` at `at`.
#[derive(Debug)]
struct Acked {
    proxy: usize,
    version: String,
    at: Instant,
    bytes: u64,
}

/// Only what a simulated proxy needs from a server message; the snapshot is parsed (so a
/// malformed one is an error) but not kept.
#[derive(Debug, Deserialize)]
struct ServerFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    snapshot: Option<IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    pem: Option<IgnoredAny>,
    /// A delta's base: the version a proxy must run to apply it.
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    delta: Option<IgnoredAny>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.proxies == 0 || args.services == 0 {
        bail!("--proxies and --services must be at least 1");
    }
    let watched = Watched::new(args.watch_pids.clone())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .context("could not start the tokio runtime")?;
    let report = runtime.block_on(measure(&args, &watched))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{} proxies ({} synced), {} services: initial sync {:?} s, push p50 {:?} ms p99 {:?} ms, \
             {} timeouts, control plane rss {:?} kB cpu {:?} s",
            report.proxies,
            report.synced,
            report.services,
            report.initial_sync_s,
            report.push_p50_ms,
            report.push_p99_ms,
            report.timeouts,
            report.rss_kb,
            report.cpu_s
        );
    }
    Ok(())
}

async fn measure(args: &Args, watched: &Watched) -> anyhow::Result<Report> {
    let tokens = TokenAuthority::load_or_create(&args.ca_dir).with_context(|| {
        format!(
            "cannot read the bootstrap-token key in {}: is --ca-dir the control plane's CA directory?",
            args.ca_dir.display()
        )
    })?;
    let mut token_of = Vec::with_capacity(args.services as usize);
    for s in 0..args.services.min(args.proxies) {
        let id = Identity::new(&args.trust_domain, "default", service_name(s))
            .context("cannot build a workload identity")?;
        token_of.push(tokens.issue(&id, TOKEN_TTL));
    }

    let peak = Arc::new(AtomicU64::new(0));
    let sampler = (!watched.is_empty()).then(|| {
        let (watched, peak) = (watched.clone(), peak.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RSS_SAMPLE);
            loop {
                tick.tick().await;
                if let Ok(kb) = watched.rss_kb() {
                    peak.fetch_max(kb, Ordering::Relaxed);
                }
            }
        })
    });

    let start = Instant::now();
    let (acks_tx, mut acks) = mpsc::unbounded_channel::<Acked>();
    let errors = Arc::new(AtomicU64::new(0));
    let samples: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let n = args.proxies as usize;
    for i in 0..n {
        let node = node(i, args.services);
        let token = token_of[i % token_of.len()].clone();
        let (tx, errors, xds) = (acks_tx.clone(), errors.clone(), args.xds);
        let samples = samples.clone();
        tokio::spawn(async move {
            let id = node.id();
            if let Err(e) = proxy(i, xds, node, token, tx).await {
                errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("mesh-bench xds-clients: proxy {id}: {e:#}");
                if let Ok(mut m) = samples.lock() {
                    let why = format!("{e:#}");
                    if m.len() < MAX_ERROR_KINDS || m.contains_key(&why) {
                        *m.entry(why).or_default() += 1;
                    }
                }
            }
        });
    }
    drop(acks_tx);

    // Initial sync: every proxy ACKed something, then nothing new for --quiet. Running out of
    // time is a result (how many synced), not an error: the changes are then skipped.
    let mut held: Vec<Option<String>> = vec![None; n];
    let mut first_bytes = 0u64;
    let mut synced = 0usize;
    let deadline = start + args.connect_timeout.as_std();
    while synced < n {
        let Some(a) = next_ack(&mut acks, deadline, &errors).await else {
            break;
        };
        if held[a.proxy].is_none() {
            synced += 1;
            first_bytes += a.bytes;
        }
        held[a.proxy] = Some(a.version);
    }
    let initial_sync = (synced == n).then(|| start.elapsed());
    let mut settled = match initial_sync {
        Some(_) => settle(&mut acks, &mut held, args.quiet.as_std(), deadline, &errors).await,
        None => {
            eprintln!(
                "mesh-bench xds-clients: only {synced} of {n} proxies got their first snapshot within {}; \
                 no changes measured",
                args.connect_timeout
            );
            None
        }
    }
    .is_some();
    let cpu_before_changes = watched_cpu(watched);

    let mut changes = Vec::new();
    let mut timeouts = 0;
    let mut skipped = 0;
    for file in &args.change_files {
        if !settled {
            // The control plane is still busy with the last push: later changes would
            // measure its backlog, not themselves.
            skipped += 1;
            continue;
        }
        let yaml = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read --change-file {}", file.display()))?;
        let name = file
            .file_name()
            .map_or_else(|| "change.yaml".into(), |f| f.to_string_lossy().to_string());
        let before: Vec<String> = held.iter().map(|v| v.clone().unwrap_or_default()).collect();
        let cpu0 = watched_cpu(watched);
        let t0 = Instant::now();
        apply(args.monitoring, &name, yaml).await?;
        let apply_ms = ms(t0.elapsed());
        let mut acked_at: Vec<Option<Instant>> = vec![None; n];
        let (mut acked, mut snapshots, mut bytes) = (0u32, 0u64, 0u64);
        let deadline = t0 + args.change_timeout.as_std();
        while (acked as usize) < n {
            let Some(a) = next_ack(&mut acks, deadline, &errors).await else {
                break;
            };
            snapshots += 1;
            bytes += a.bytes;
            if acked_at[a.proxy].is_none() && a.version != before[a.proxy] {
                acked_at[a.proxy] = Some(a.at);
                acked += 1;
            }
            held[a.proxy] = Some(a.version);
        }
        let mut lat: Vec<f64> = acked_at
            .iter()
            .flatten()
            .map(|at| ms(at.saturating_duration_since(t0)))
            .collect();
        lat.sort_by(f64::total_cmp);
        let complete = acked as usize == n;
        if !complete {
            timeouts += 1;
            eprintln!(
                "mesh-bench xds-clients: {name}: only {acked} of {n} proxies ACKed a new version within {}",
                args.change_timeout
            );
        }
        // Late snapshots of this change count for it, not for the next one.
        let late = if complete {
            settle(&mut acks, &mut held, args.quiet.as_std(), deadline, &errors).await
        } else {
            None
        };
        settled = late.is_some();
        let (late, late_bytes) = late.unwrap_or_default();
        snapshots += late;
        bytes += late_bytes;
        let cpu_ms = match (cpu0, watched_cpu(watched)) {
            (Some(a), Some(b)) => (b - a) * 1000.0,
            _ => 0.0,
        };
        changes.push(Change {
            file: name,
            apply_ms,
            first_ack_ms: lat.first().copied().unwrap_or(0.0),
            all_acked_ms: complete.then(|| lat.last().copied().unwrap_or(0.0)),
            proxy_p50_ms: percentile(&lat, 0.5).unwrap_or(0.0),
            acked,
            snapshots,
            bytes,
            cpu_ms,
        });
    }

    if let Some(s) = sampler {
        s.abort();
    }
    let mut done: Vec<f64> = changes.iter().filter_map(|c| c.all_acked_ms).collect();
    done.sort_by(f64::total_cmp);
    let cpu_end = watched_cpu(watched);
    let rss_sampled = peak.load(Ordering::Relaxed);
    Ok(Report {
        proxies: args.proxies,
        services: args.services,
        synced: synced as u32,
        initial_sync_s: initial_sync.map(|d| d.as_secs_f64()),
        snapshot_bytes: first_bytes / synced.max(1) as u64,
        push_p50_ms: percentile(&done, 0.5),
        push_p99_ms: percentile(&done, 0.99),
        push_max_ms: done.last().copied(),
        changes,
        timeouts,
        skipped,
        rss_kb: (!watched.is_empty())
            .then(|| watched.peak_rss_kb().ok())
            .flatten()
            .map(|hwm| hwm.max(rss_sampled)),
        rss_sampled_kb: (!watched.is_empty()).then_some(rss_sampled),
        cpu_s: cpu_end,
        cpu_initial_sync_s: cpu_before_changes,
        cpu_changes_s: match (cpu_before_changes, cpu_end) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        },
        stream_errors: errors.load(Ordering::Relaxed),
        stream_error_samples: samples
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default(),
    })
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn watched_cpu(watched: &Watched) -> Option<f64> {
    if watched.is_empty() {
        return None;
    }
    watched.cpu_us().ok().map(|us| us as f64 / 1e6)
}

/// The next ACK before `deadline`; None at the deadline or when every proxy is gone.
async fn next_ack(
    acks: &mut mpsc::UnboundedReceiver<Acked>,
    deadline: Instant,
    errors: &AtomicU64,
) -> Option<Acked> {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, acks.recv()).await {
        Ok(Some(a)) => Some(a),
        Ok(None) => {
            eprintln!(
                "mesh-bench xds-clients: every config stream ended ({} errors)",
                errors.load(Ordering::Relaxed)
            );
            None
        }
        Err(_) => None,
    }
}

/// Takes ACKs until none came for `quiet`; returns how many came, and their bytes. None when
/// snapshots kept coming until `deadline`.
async fn settle(
    acks: &mut mpsc::UnboundedReceiver<Acked>,
    held: &mut [Option<String>],
    quiet: Duration,
    deadline: Instant,
    errors: &AtomicU64,
) -> Option<(u64, u64)> {
    let (mut count, mut bytes) = (0, 0);
    loop {
        let until = (Instant::now() + quiet).min(deadline.max(Instant::now()));
        match next_ack(acks, until, errors).await {
            Some(a) => {
                count += 1;
                bytes += a.bytes;
                held[a.proxy] = Some(a.version);
            }
            None if Instant::now() >= deadline => {
                eprintln!(
                    "mesh-bench xds-clients: the config did not settle (snapshots kept arriving) \
                     before the deadline"
                );
                return None;
            }
            None => return Some((count, bytes)),
        }
    }
}

fn service_name(s: u32) -> String {
    format!("svc-{s:04}")
}

/// Proxy `i`'s identity: see the module docs.
fn node(i: usize, services: u32) -> NodeIdentity {
    let services = services as usize;
    let (s, replica) = (i % services, i / services);
    let service = service_name(s as u32);
    let version = if replica % 2 == 0 { "v1" } else { "v2" };
    // 127.1.0.1 ... : one loopback address per proxy, 250 per /24.
    let ip = Ipv4Addr::new(
        127,
        1 + (i / 62_500) as u8,
        (i / 250 % 250) as u8,
        (i % 250 + 1) as u8,
    );
    let at = |port| SocketAddr::new(ip.into(), port);
    NodeIdentity {
        name: format!("{service}-{replica}"),
        workload: format!("{service}-{version}"),
        service: service.clone(),
        namespace: "default".into(),
        service_account: service.clone(),
        labels: [("app", service.as_str()), ("version", version)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ports: vec![NodePort {
            name: "http".into(),
            port: 9080,
            target_port: None,
        }],
        inbound: at(15006),
        outbound: at(15001),
        app: at(9080),
        admin: None,
        stats: None,
        proxy_type: Default::default(),
    }
}

/// One simulated proxy: connect, hello, then ACK every snapshot until the stream ends.
async fn proxy(
    index: usize,
    xds: SocketAddr,
    node: NodeIdentity,
    token: String,
    acks: mpsc::UnboundedSender<Acked>,
) -> anyhow::Result<()> {
    let tcp = TcpStream::connect(xds)
        .await
        .with_context(|| format!("cannot connect to the control plane at {xds}"))?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(5)))
        .keep_alive_timeout(Duration::from_secs(20))
        .keep_alive_while_idle(true)
        .handshake(TokioIo::new(tcp))
        .await
        .context("HTTP/2 handshake with the control plane")?;
    let driver = tokio::spawn(conn);
    let result = async {
        let (out, out_rx) = mpsc::channel::<Bytes>(16);
        let hello = encode(&ProxyMessage::Hello { node, token })?;
        out.send(Bytes::from(hello)).await.ok();
        let body = StreamBody::new(Box::pin(stream::unfold(out_rx, |mut rx| async move {
            let b = rx.recv().await?;
            Some((Ok::<_, Infallible>(Frame::data(b)), rx))
        })));
        let req = Request::post(format!("http://{xds}{STREAM_PATH}"))
            .header(header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body)?;
        let resp = sender
            .send_request(req)
            .await
            .context("opening the config stream")?;
        if resp.status() != StatusCode::OK {
            let status = resp.status();
            let reason = Limited::new(resp.into_body(), 64 << 10)
                .collect()
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_string())
                .unwrap_or_default();
            bail!("the control plane refused the config stream ({status}): {reason}");
        }
        let mut body = resp.into_body();
        let mut dec = FrameDecoder::new();
        let mut bytes = 0u64;
        let mut running: Option<String> = None;
        loop {
            while let Some(msg) = dec.decode::<ServerFrame>()? {
                let version = msg.version.unwrap_or_default();
                let reply = match msg.kind.as_str() {
                    "snapshot" => ProxyMessage::Ack {
                        version: version.clone(),
                    },
                    // As mesh-proxy does: a delta applies only to the version it names.
                    "delta" if msg.base == running => ProxyMessage::Ack {
                        version: version.clone(),
                    },
                    "delta" => {
                        let nack = encode(&ProxyMessage::Nack {
                            version,
                            error: format!(
                                "delta base mismatch: the delta applies to version {:?} but this proxy runs {:?}",
                                msg.base, running
                            ),
                        })?;
                        if out.send(Bytes::from(nack)).await.is_err() {
                            bail!("the config stream's request side closed");
                        }
                        continue;
                    }
                    _ => continue,
                };
                running = Some(version.clone());
                let ack = encode(&reply)?;
                if out.send(Bytes::from(ack)).await.is_err() {
                    bail!("the config stream's request side closed");
                }
                let at = Instant::now();
                let _ = acks.send(Acked {
                    proxy: index,
                    version,
                    at,
                    bytes: std::mem::take(&mut bytes),
                });
            }
            match body.frame().await {
                None => bail!("the control plane closed the config stream"),
                Some(Err(e)) => {
                    return Err(anyhow::Error::new(e).context("reading the config stream"))
                }
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        bytes += data.len() as u64;
                        dec.push(&data);
                    }
                }
            }
        }
    }
    .await;
    driver.abort();
    result
}

/// `POST /apis/apply` on the monitoring port, as `meshctl apply` and the tests do.
async fn apply(monitoring: SocketAddr, file: &str, yaml: String) -> anyhow::Result<()> {
    let tcp = TcpStream::connect(monitoring)
        .await
        .with_context(|| format!("cannot connect to the monitoring port {monitoring}"))?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    let driver = tokio::spawn(conn);
    let req = Request::post("/apis/apply")
        .header(header::HOST, monitoring.to_string())
        .header("x-file-name", file)
        .body(Full::new(Bytes::from(yaml)))?;
    let resp = sender.send_request(req).await.context("POST /apis/apply")?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    driver.abort();
    if status != StatusCode::OK {
        bail!(
            "applying {file} failed ({status}): {}",
            String::from_utf8_lossy(&body).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), Some(5.0));
        assert_eq!(percentile(&v, 0.99), Some(10.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn proxies_get_distinct_addresses_and_spread_over_services() {
        let a = node(0, 1000);
        let b = node(1000, 1000);
        assert_eq!(a.service, "svc-0000");
        assert_eq!(b.service, "svc-0000");
        assert_eq!(a.labels["version"], "v1");
        assert_eq!(b.labels["version"], "v2");
        assert_ne!(a.id(), b.id());
        let addrs: std::collections::BTreeSet<_> =
            (0..5000).map(|i| node(i, 1000).inbound).collect();
        assert_eq!(addrs.len(), 5000);
    }

    #[test]
    fn server_frames_decode_without_keeping_the_snapshot() -> anyhow::Result<()> {
        let mut dec = FrameDecoder::new();
        dec.push(b"{\"type\":\"snapshot\",\"version\":\"abc\",\"snapshot\":{\"x\":[1,2]}}\n");
        let f: ServerFrame = dec.decode()?.context("a frame")?;
        assert_eq!(
            (f.kind.as_str(), f.version.as_deref()),
            ("snapshot", Some("abc"))
        );
        Ok(())
    }
}
