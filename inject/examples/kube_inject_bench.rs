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
//! MB are 10^6 bytes of input; `rss_kb` is the process's peak resident set (VmHWM).

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
    let open = || -> anyhow::Result<Box<dyn BufRead>> {
        let f = std::fs::File::open(path).with_context(|| format!("cannot open {path}"))?;
        Ok(Box::new(BufReader::with_capacity(64 * 1024, f)))
    };
    let start = Instant::now();
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
                    if let Some(doc) = parse_document(&chunk.text)
                        .map_err(|e| anyhow::anyhow!("{path}: {e:?}"))?
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
    let rss = peak_rss_kb().map_or("null".to_string(), |k| k.to_string());
    println!(
        "{{\"bench\":\"kube-inject\",\"mode\":\"{mode}\",\"docs\":{docs},\"bytes\":{bytes},\"secs\":{secs:.4},\"mb_per_s\":{mb_per_s:.1},\"rss_kb\":{rss}{}}}",
        if largest > 0 {
            format!(",\"largest_doc_bytes\":{largest}")
        } else {
            String::new()
        }
    );
    Ok(())
}
