//! Prometheus' standard process metrics (`process_resident_memory_bytes`,
//! `process_start_time_seconds`, `process_cpu_seconds_total`, ...), read from `/proc/self` at
//! render time, with the names and meanings of the Go and Rust Prometheus clients, so the
//! control plane (uptime, memory in `/api/v1/mesh`) and any Prometheus read them as usual.
//!
//! Linux only: elsewhere, and when `/proc` is not mounted, the family is left out rather
//! than reported as zero.

use std::fmt::Write;

/// `USER_HZ`: the unit of the CPU times in `/proc/<pid>/stat`. The kernel reports them in
/// 1/100 s on every architecture regardless of its internal tick rate (Prometheus' own
/// procfs library hard-codes it too), so no `sysconf` call is needed.
const USER_HZ: f64 = 100.0;

/// What one render reports; `None` fields are left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub start_time_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
}

impl ProcessStats {
    /// Reads the current process's figures; anything unreadable is `None`.
    pub fn read() -> ProcessStats {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let mut s = ProcessStats::default();
        if let Some(stat) = read("/proc/self/stat") {
            let boot = read("/proc/stat").as_deref().and_then(boot_time);
            s.apply_stat(&stat, boot);
        }
        s.resident_bytes = read("/proc/self/status")
            .as_deref()
            .and_then(resident_bytes);
        s.max_fds = read("/proc/self/limits").as_deref().and_then(max_fds);
        s.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64);
        s
    }

    /// CPU times, start time and virtual size from `/proc/self/stat` (`boot`: the boot time
    /// in Unix seconds, from `/proc/stat`).
    fn apply_stat(&mut self, stat: &str, boot: Option<f64>) {
        // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        // f[0] is field 3 (state), so field N is f[N - 3].
        let num = |field: usize| f.get(field - 3).and_then(|v| v.parse::<u64>().ok());
        if let (Some(utime), Some(stime)) = (num(14), num(15)) {
            self.cpu_seconds = Some((utime + stime) as f64 / USER_HZ);
        }
        if let (Some(start), Some(boot)) = (num(22), boot) {
            self.start_time_seconds = Some(boot + start as f64 / USER_HZ);
        }
        self.virtual_bytes = num(23);
    }

    /// Appends the process families in Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let families: [(&str, &str, &str, Option<f64>); 6] = [
            (
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                "counter",
                self.cpu_seconds,
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                "gauge",
                self.resident_bytes.map(|v| v as f64),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                "gauge",
                self.virtual_bytes.map(|v| v as f64),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                "gauge",
                self.start_time_seconds,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                "gauge",
                self.open_fds.map(|v| v as f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                "gauge",
                self.max_fds.map(|v| v as f64),
            ),
        ];
        for (name, help, kind, value) in families {
            if let Some(v) = value {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
                );
            }
        }
    }
}

/// `btime` of `/proc/stat`: boot time in Unix seconds.
fn boot_time(stat: &str) -> Option<f64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// `VmRSS:   12345 kB` of `/proc/self/status`, in bytes.
fn resident_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_fds(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    line.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_count_from_the_last_parenthesis() {
        // A command name with spaces and a ')' must not shift the fields.
        let stat = "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 500 0 0 0 \
                    250 150 0 0 20 0 3 0 12345 104857600 2560 18446744073709551615";
        let mut s = ProcessStats::default();
        s.apply_stat(stat, Some(1_700_000_000.0));
        assert_eq!(s.cpu_seconds, Some(4.0));
        let start = s.start_time_seconds.unwrap_or_default();
        assert!((start - 1_700_000_123.45).abs() < 1e-3, "{start}");
        assert_eq!(s.virtual_bytes, Some(104_857_600));
    }

    #[test]
    fn status_limits_and_boot_time_parse() {
        assert_eq!(
            resident_bytes("Name:\tx\nVmRSS:\t    2048 kB\n"),
            Some(2048 * 1024)
        );
        assert_eq!(
            max_fds("Limit Soft Hard Units\nMax open files            1024                 524288               files\n"),
            Some(1024)
        );
        assert_eq!(boot_time("cpu 1 2 3\nbtime 1700000000\n"), Some(1.7e9));
        assert_eq!(resident_bytes("garbage"), None);
    }

    #[test]
    fn garbage_reports_nothing_and_renders_nothing() {
        let mut s = ProcessStats::default();
        s.apply_stat("no parenthesis here", Some(1.0));
        assert_eq!(s, ProcessStats::default());
        let mut out = String::new();
        s.render(&mut out);
        assert!(out.is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reports_memory_cpu_and_start_time() {
        let s = ProcessStats::read();
        assert!(s.resident_bytes.is_some_and(|v| v > 0), "{s:?}");
        assert!(s.cpu_seconds.is_some(), "{s:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let start = s.start_time_seconds.unwrap_or_default();
        assert!(start > 1.0e9 && start <= now + 1.0, "{s:?}");
        let mut out = String::new();
        s.render(&mut out);
        assert!(out.contains("# TYPE process_resident_memory_bytes gauge\n"));
    }
}
