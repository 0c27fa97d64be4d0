//! CPU time and resident memory of the processes under test, read from `/proc`.
//!
//! A target may be several processes (nginx's master and workers, two mesh-proxies), so the
//! caller names root PIDs and every figure is summed over the roots and all their descendants.
//! The process tree is walked once, when watching starts: scanning all of `/proc` at every
//! sample would itself cost CPU on the machine being measured, and the targets do not fork
//! while they are measured.

use std::collections::BTreeSet;
use std::fs;
use std::process::Command;

use anyhow::{bail, Context};

/// The processes whose cost a benchmark charges to its target.
#[derive(Clone, Debug, Default)]
pub struct Watched {
    pids: BTreeSet<u32>,
}

impl Watched {
    pub fn new(roots: Vec<u32>) -> anyhow::Result<Self> {
        for pid in &roots {
            if fs::metadata(format!("/proc/{pid}")).is_err() {
                bail!("no process with PID {pid}: did the target exit? check its log");
            }
        }
        Ok(Watched {
            pids: descendants_and_self(&roots),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.pids.is_empty()
    }

    /// User plus system CPU time of the whole tree, in microseconds.
    pub fn cpu_us(&self) -> anyhow::Result<u64> {
        let ticks_per_sec = clock_ticks_per_sec();
        let mut ticks = 0;
        for pid in &self.pids {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
                .with_context(|| format!("could not read /proc/{pid}/stat: did it exit?"))?;
            ticks += parse_stat(&stat)?.cpu_ticks;
        }
        Ok(ticks * 1_000_000 / ticks_per_sec)
    }

    /// Resident memory (VmRSS) of the whole tree, in KiB.
    pub fn rss_kb(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        for pid in &self.pids {
            let status = fs::read_to_string(format!("/proc/{pid}/status"))
                .with_context(|| format!("could not read /proc/{pid}/status: did it exit?"))?;
            total += parse_vm_rss_kb(&status).unwrap_or(0);
        }
        Ok(total)
    }

    /// Peak resident memory (VmHWM, the kernel's high-water mark of VmRSS) of the whole tree,
    /// in KiB: exact, where sampling VmRSS could miss a short peak.
    pub fn peak_rss_kb(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        for pid in &self.pids {
            let status = fs::read_to_string(format!("/proc/{pid}/status"))
                .with_context(|| format!("could not read /proc/{pid}/status: did it exit?"))?;
            total += parse_status_kb(&status, "VmHWM:").unwrap_or(0);
        }
        Ok(total)
    }
}

/// The roots and all their descendants, found by walking parent PIDs in `/proc`.
fn descendants_and_self(roots: &[u32]) -> BTreeSet<u32> {
    let mut tree: BTreeSet<u32> = roots.iter().copied().collect();
    if tree.is_empty() {
        return tree;
    }
    let parents = all_parent_links();
    loop {
        let before = tree.len();
        for (pid, ppid) in &parents {
            if tree.contains(ppid) {
                tree.insert(*pid);
            }
        }
        if tree.len() == before {
            return tree;
        }
    }
}

fn all_parent_links() -> Vec<(u32, u32)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, parse_stat(&stat).ok()?.ppid))
        })
        .collect()
}

/// `sysconf(_SC_CLK_TCK)` without unsafe code: ask `getconf`, which every Linux has.
fn clock_ticks_per_sec() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

#[derive(Debug, PartialEq, Eq)]
struct Stat {
    ppid: u32,
    cpu_ticks: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses, so
/// fields are counted from the last `)`: after it come state (3), ppid (4), ... utime (14),
/// stime (15).
fn parse_stat(stat: &str) -> anyhow::Result<Stat> {
    let rest = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .context("unexpected /proc/<pid>/stat format: no ')' after the command name")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("unexpected /proc/<pid>/stat format: field {n} missing"))
    };
    Ok(Stat {
        ppid: u32::try_from(field(4)?).context("ppid out of range")?,
        cpu_ticks: field(14)? + field(15)?,
    })
}

fn parse_vm_rss_kb(status: &str) -> Option<u64> {
    parse_status_kb(status, "VmRSS:")
}

fn parse_status_kb(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_paren() -> anyhow::Result<()> {
        let stat = "1234 (nginx: (worker)) S 1200 1234 1234 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 1 0 5000 1000000 300";
        assert_eq!(
            parse_stat(stat)?,
            Stat {
                ppid: 1200,
                cpu_ticks: 325
            }
        );
        assert!(parse_stat("garbage").is_err());
        Ok(())
    }

    #[test]
    fn vm_rss_is_read_in_kb() {
        let status = "Name:\tmesh-proxy\nVmPeak:\t  20000 kB\nVmRSS:\t    9876 kB\n";
        assert_eq!(parse_vm_rss_kb(status), Some(9876));
        assert_eq!(parse_vm_rss_kb("Name:\tkthreadd\n"), None);
        assert_eq!(parse_status_kb(status, "VmPeak:"), Some(20000));
    }
}
