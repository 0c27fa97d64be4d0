//! Open-loop, fixed-rate load over keep-alive HTTP/1.1 connections.
//!
//! Every request has an intended send time on a fixed schedule (`rate` spread evenly over
//! `connections`), set before the run starts and independent of how fast answers come back.
//! Latency is measured so that a slow target cannot hide its slowness (coordinated omission):
//! when a connection is still busy with the previous answer at the intended time, the clock
//! starts at the intended time, so the wait counts against the target. When the connection was
//! free and only our own timer woke late (tokio's timer ticks in milliseconds), the clock starts
//! at the actual send, so the generator's lateness is not charged to the target.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http::{header, Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::procfs::Watched;
use crate::stats::{Latencies, Summary};

/// A request taking longer than this counts as an error and its connection is replaced.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// URL to load, e.g. http://127.0.0.1:16001/ (plain HTTP; the Host header comes from it).
    #[arg(long)]
    url: String,
    /// Requests per second, summed over all connections.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// How long to send for.
    #[arg(long, default_value = "5s")]
    duration: mesh_api::Duration,
    /// Keep-alive connections the requests are spread over.
    #[arg(long, default_value_t = 10)]
    connections: u32,
    /// PID whose CPU time (with its descendants) is charged per request; repeatable.
    #[arg(long = "watch-pid")]
    watch_pids: Vec<u32>,
    /// Print one JSON object instead of a human summary.
    #[arg(long)]
    json: bool,
}

/// What `bench/run` reads back.
#[derive(Debug, Serialize)]
struct Report {
    requests: u64,
    errors: u64,
    achieved_rps: f64,
    p50_us: u64,
    p90_us: u64,
    p99_us: u64,
    max_us: u64,
    /// CPU the watched processes used during the run, and per successful request.
    cpu_us: u64,
    cpu_us_per_req: f64,
}

/// One connection's schedule: its share of the global send times.
#[derive(Clone, Copy, Debug)]
struct Schedule {
    start: Instant,
    end: Instant,
    first_offset: Duration,
    interval: Duration,
}

impl Schedule {
    fn intended(&self, i: u32) -> Option<Instant> {
        let at = self.start + self.first_offset + self.interval.checked_mul(i)?;
        (at < self.end).then_some(at)
    }
}

struct Target {
    addr: String,
    authority: String,
    path: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number of requests per second");
    }
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let target = parse_url(&args.url)?;
    let watched = Watched::new(args.watch_pids.clone())?;
    // One thread is plenty for ~1000 req/s and leaves the other core to the target.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the tokio runtime")?;
    let report = runtime.block_on(generate(&args, target, &watched))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "requests {}  errors {}  achieved {:.0} req/s  p50 {} us  p90 {} us  p99 {} us  max {} us  cpu {:.1} us/req",
            report.requests,
            report.errors,
            report.achieved_rps,
            report.p50_us,
            report.p90_us,
            report.p99_us,
            report.max_us,
            report.cpu_us_per_req
        );
    }
    Ok(())
}

fn parse_url(url: &str) -> anyhow::Result<Target> {
    let uri: Uri = url
        .parse()
        .with_context(|| format!("invalid --url {url:?}: write it like http://127.0.0.1:16001/"))?;
    if uri.scheme_str() != Some("http") {
        bail!("--url {url:?} must start with http:// (the load generator speaks plain HTTP/1.1)");
    }
    let authority = uri
        .authority()
        .with_context(|| format!("--url {url:?} has no host:port"))?;
    let port = authority.port_u16().unwrap_or(80);
    let path = uri
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    Ok(Target {
        addr: format!("{}:{port}", authority.host()),
        authority: authority.as_str().to_string(),
        path,
    })
}

async fn generate(args: &Args, target: Target, watched: &Watched) -> anyhow::Result<Report> {
    let addr: SocketAddr = tokio::net::lookup_host(&target.addr)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .with_context(|| format!("could not resolve {}", target.addr))?;
    // Connect everything first so handshakes are not part of the measurement.
    let mut senders = Vec::new();
    for _ in 0..args.connections {
        senders.push(connect(addr).await.with_context(|| {
            format!("could not connect to {addr}: is the target running and listening there?")
        })?);
    }
    let duration = args.duration.as_std();
    let connections = f64::from(args.connections);
    let start = Instant::now() + Duration::from_millis(10);
    let cpu_before = watched.cpu_us()?;
    let mut tasks = JoinSet::new();
    for (k, sender) in senders.into_iter().enumerate() {
        let schedule = Schedule {
            start,
            end: start + duration,
            first_offset: Duration::from_secs_f64(k as f64 / args.rate),
            interval: Duration::from_secs_f64(connections / args.rate),
        };
        let request = RequestTemplate {
            addr,
            authority: target.authority.clone(),
            path: target.path.clone(),
        };
        tasks.spawn(drive(sender, schedule, request));
    }
    let mut latencies = Latencies::new()?;
    let mut errors = 0;
    while let Some(joined) = tasks.join_next().await {
        let (lat, errs) = joined.context("a connection task failed")??;
        latencies.merge(&lat)?;
        errors += errs;
    }
    let elapsed = start.elapsed().max(Duration::from_millis(1));
    let cpu_us = watched.cpu_us()?.saturating_sub(cpu_before);
    let Summary {
        count,
        p50_us,
        p90_us,
        p99_us,
        max_us,
    } = latencies.summary();
    Ok(Report {
        requests: count,
        errors,
        achieved_rps: count as f64 / elapsed.as_secs_f64(),
        p50_us,
        p90_us,
        p99_us,
        max_us,
        cpu_us,
        cpu_us_per_req: if count == 0 {
            0.0
        } else {
            cpu_us as f64 / count as f64
        },
    })
}

#[derive(Clone)]
struct RequestTemplate {
    addr: SocketAddr,
    authority: String,
    path: String,
}

/// Sends one connection's share of the schedule; returns its latencies and error count.
async fn drive(
    mut sender: SendRequest<Empty<Bytes>>,
    schedule: Schedule,
    req: RequestTemplate,
) -> anyhow::Result<(Latencies, u64)> {
    let mut latencies = Latencies::new()?;
    let mut errors = 0;
    let mut free_since = schedule.start;
    let mut i = 0;
    while let Some(intended) = schedule.intended(i) {
        i += 1;
        tokio::time::sleep_until(intended.into()).await;
        let sent = Instant::now();
        // Busy at the intended time: the target held us up, so that wait counts.
        let clock_start = if free_since > intended {
            intended
        } else {
            sent
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, send(&mut sender, &req)).await {
            Ok(Ok(())) => latencies.record(clock_start.elapsed()),
            Ok(Err(_)) | Err(_) => {
                errors += 1;
                // The connection may be dead or mid-response: start afresh.
                if let Ok(fresh) = connect(req.addr).await {
                    sender = fresh;
                }
            }
        }
        free_since = Instant::now();
    }
    Ok((latencies, errors))
}

async fn send(sender: &mut SendRequest<Empty<Bytes>>, req: &RequestTemplate) -> anyhow::Result<()> {
    sender.ready().await?;
    let request = Request::get(req.path.as_str())
        .header(header::HOST, req.authority.as_str())
        .body(Empty::new())?;
    let response = sender.send_request(request).await?;
    let ok = response.status().is_success();
    response.into_body().collect().await?;
    if !ok {
        bail!("non-2xx response");
    }
    Ok(())
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Empty<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the peer closes; errors surface on the next send.
        let _ = conn.await;
    });
    Ok(sender)
}
