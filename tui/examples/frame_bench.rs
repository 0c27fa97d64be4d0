//! `bench/run tui`'s measuring program: renders frames of a synthetic mesh and prints one
//! JSON line with the median frame time and this process's peak RSS.
//!
//! ```sh
//! cargo run --release -p mesh-tui --example frame_bench -- --services 500 --frames 200
//! ```

use anyhow::{bail, Context};

fn main() -> anyhow::Result<()> {
    let mut services = 100usize;
    let mut frames = 200usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--services" => services = value.parse().context("--services: a whole number")?,
            "--frames" => frames = value.parse().context("--frames: a whole number")?,
            other => bail!("unknown argument {other}; use --services N --frames N"),
        }
    }
    let r = mesh_tui::bench::render_frames(services, frames.max(1));
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{{\"bench\":\"tui\",\"services\":{},\"frames\":{},\"frame_ms\":{:.3},\"frame_max_ms\":{:.3},\"update_ms\":{:.3},\"rss_kb\":{}}}",
        r.services,
        r.frames,
        ms(r.frame_median),
        ms(r.frame_max),
        ms(r.update),
        peak_rss_kb()?
    );
    Ok(())
}

/// VmHWM: the kernel's high-water mark of this process's resident memory.
fn peak_rss_kb() -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")
}
