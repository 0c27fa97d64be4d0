//! Saturation throughput with `wrk`, the well-known yardstick, plus peak memory meanwhile.
//!
//! wrk runs closed-loop with fixed threads and connections; its `Requests/sec` line is the
//! figure. While it runs, the watched processes' resident memory is sampled and the peak kept,
//! since a proxy's footprint under full load is what matters for a sidecar.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;

use crate::procfs::Watched;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// URL to load, e.g. http://127.0.0.1:16001/
    #[arg(long)]
    url: String,
    /// How long wrk runs (whole seconds; rounded up).
    #[arg(long, default_value = "5s")]
    duration: mesh_api::Duration,
    /// wrk threads (-t).
    #[arg(long, default_value_t = 1)]
    threads: u32,
    /// wrk connections (-c), spread over the threads.
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// PID whose memory (with its descendants) is sampled during the run; repeatable.
    #[arg(long = "watch-pid")]
    watch_pids: Vec<u32>,
    /// How often memory is sampled.
    #[arg(long, default_value = "50ms")]
    sample_every: mesh_api::Duration,
    /// Print one JSON object instead of a human summary.
    #[arg(long)]
    json: bool,
}

/// What `bench/run` reads back.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Report {
    pub rps: f64,
    pub requests: u64,
    /// Socket errors plus non-2xx/3xx responses.
    pub errors: u64,
    /// Peak summed VmRSS of the watched processes; 0 when none are watched.
    pub peak_rss_kb: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let watched = Watched::new(args.watch_pids.clone())?;
    let secs = args.duration.as_std().as_secs_f64().ceil().max(1.0) as u64;
    let mut child = Command::new("wrk")
        .args(["-t", &args.threads.to_string()])
        .args(["-c", &args.connections.max(args.threads).to_string()])
        .args(["-d", &format!("{secs}s"), "--timeout", "5s", &args.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("could not run wrk: install it with `apt-get install wrk` (bench/run does)")?;

    // wrk stops itself after -d; the deadline only guards against a wedged wrk.
    let deadline = Instant::now() + Duration::from_secs(secs + 15);
    let mut peak_rss_kb = 0;
    let status = loop {
        if !watched.is_empty() {
            // A sample can fail while a process forks or exits; the next one will do.
            if let Ok(rss) = watched.rss_kb() {
                peak_rss_kb = peak_rss_kb.max(rss);
            }
        }
        if let Some(status) = child.try_wait().context("could not wait for wrk")? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "wrk did not finish within {}s of its {secs}s run; killed it",
                15
            );
        }
        thread::sleep(args.sample_every.as_std());
    };
    let mut output = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_string(&mut output)
            .context("could not read wrk's output")?;
    }
    if !status.success() {
        bail!("wrk failed ({status}); its output was:\n{output}");
    }
    let mut report = parse(&output)?;
    report.peak_rss_kb = peak_rss_kb;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "rps {:.0}  requests {}  errors {}  peak_rss_kb {}",
            report.rps, report.requests, report.errors, report.peak_rss_kb
        );
    }
    Ok(())
}

/// Reads the figures out of wrk's text report.
pub fn parse(output: &str) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let mut saw_rps = false;
    for line in output.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            report.rps = v
                .trim()
                .parse()
                .with_context(|| format!("unexpected wrk line {line:?}"))?;
            saw_rps = true;
        } else if let Some((n, _)) = line.split_once(" requests in ") {
            report.requests = n.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            report.errors += v
                .split(',')
                .filter_map(|kv| kv.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            report.errors += v.trim().parse::<u64>().unwrap_or(0);
        }
    }
    if !saw_rps {
        bail!("wrk printed no Requests/sec line; its output was:\n{output}");
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: &str = "Running 5s test @ http://127.0.0.1:18080/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   420.51us   80.12us   3.10ms   90.00%
    Req/Sec    75.43k     2.01k   78.90k    70.00%
  375310 requests in 5.00s, 42.95MB read
Requests/sec:  75061.80
Transfer/sec:      8.59MB
";

    #[test]
    fn parses_a_clean_run() -> anyhow::Result<()> {
        let r = parse(CLEAN)?;
        assert_eq!(r.requests, 375_310);
        assert_eq!(r.errors, 0);
        assert!((r.rps - 75_061.80).abs() < 1e-6);
        Ok(())
    }

    #[test]
    fn counts_socket_errors_and_bad_statuses() -> anyhow::Result<()> {
        let out = "  1000 requests in 1.00s, 1.00MB read
  Socket errors: connect 2, read 3, write 0, timeout 5
  Non-2xx or 3xx responses: 7
Requests/sec:   1000.00
";
        let r = parse(out)?;
        assert_eq!(r.errors, 17);
        assert_eq!(r.requests, 1000);
        Ok(())
    }

    #[test]
    fn output_without_requests_per_sec_is_an_error() {
        let err = parse("unable to connect to 127.0.0.1:1 Connection refused\n");
        assert!(err.is_err());
    }
}
