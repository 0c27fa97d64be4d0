//! Times the injection library over a multi-document file, streaming, and prints one JSON
//! line: `{"bench":"kube-inject","docs":..,"mb_per_s":..,"rss_kb":..,...}`. `bench/run
//! kube-inject` generates the input files and runs this (release build) once per file and
//! mode, each in its own process so that the peak RSS is that run's alone.
//!
//! ```sh
//! cargo run --release -p mesh-inject --example kube_inject_bench -- FILE [--mode inject|parse|copy]
//! ```
//!
//! Modes: `inject` (the library, output to a discarding writer), `parse` (split and parse
//! every document, no injection: the YAML reader's share), `copy` (split only: the floor).
//! MB are 10^6 bytes of input; `mb_per_s` is per wall-clock second, `cpu_mb_per_s` per CPU
//! second of this process; `rss_kb` is the process's peak resident set (VmHWM).

use std::io::{BufRead, BufReader};
use std::time::Instant;

use anyhow::{bail, Context};
use mesh_inject::yaml::parse::parse_document;
use mesh_inject::yaml::split::Splitter;

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU seconds of this process so far (clock ticks of /proc/self/stat, assumed
/// 100 per second as on every Linux Rust targets).
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// meshctl's allocator (see cli/src/main.rs): injection allocates a tree per document on
/// worker threads, and glibc's malloc spends a quarter of the run on it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, mode) = match args.as_slice() {
        [path] => (path.as_str(), "inject"),
        [path, flag, mode] if flag == "--mode" => (path.as_str(), mode.as_str()),
        _ => bail!("usage: kube_inject_bench FILE [--mode inject|parse|copy]"),
    };
    let bytes = std::fs::metadata(path)
        .with_context(|| format!("cannot read {path}"))?
        .len();
    let open = || -> anyhow::Result<Box<dyn BufRead + Send>> {
        let f = std::fs::File::open(path).with_context(|| format!("cannot open {path}"))?;
        Ok(Box::new(BufReader::with_capacity(64 * 1024, f)))
    };
    let start = Instant::now();
    let cpu_start = cpu_secs();
    let mut docs = 0u64;
    let mut largest = 0usize;
    match mode {
        "inject" => {
            let opts = mesh_inject::InjectOptions::default();
            let mut report = |t: mesh_inject::TemplateOutcome| {
                if t.decision == mesh_inject::Decision::Injected {
                    docs += 1;
                }
            };
            mesh_inject::inject_stream(path, open()?, std::io::sink(), &opts, &mut report)?;
        }
        "parse" | "copy" => {
            for chunk in Splitter::new(open()?) {
                let chunk = chunk.map_err(|e| anyhow::anyhow!("{e:?}"))?;
                largest = largest.max(chunk.text.len());
                if mode == "parse" {
                    if let Some(doc) =
                        parse_document(&chunk.text).map_err(|e| anyhow::anyhow!("{path}: {e:?}"))?
                    {
                        docs += u64::from(doc.as_map().is_some());
                    }
                } else {
                    docs += 1;
                }
            }
        }
        other => bail!("unknown mode {other:?}: inject, parse or copy"),
    }
    let secs = start.elapsed().as_secs_f64();
    let mb_per_s = bytes as f64 / 1e6 / secs;
    // Throughput per CPU second: what the run would reach on an idle core (the wall-clock
    // figure also counts time other processes held the CPU).
    let cpu_mb_per_s = match (cpu_start, cpu_secs()) {
        (Some(a), Some(b)) if b > a => format!("{:.1}", bytes as f64 / 1e6 / (b - a)),
        _ => "null".to_string(),
    };
    let rss = peak_rss_kb().map_or("null".to_string(), |k| k.to_string());
    println!(
        "{{\"bench\":\"kube-inject\",\"mode\":\"{mode}\",\"docs\":{docs},\"bytes\":{bytes},\"secs\":{secs:.4},\"mb_per_s\":{mb_per_s:.1},\"cpu_mb_per_s\":{cpu_mb_per_s},\"rss_kb\":{rss}{}}}",
        if largest > 0 {
            format!(",\"largest_doc_bytes\":{largest}")
        } else {
            String::new()
        }
    );
    Ok(())
}
