//! Starting, recognising and stopping the mesh's background processes.
//!
//! A process is started in its own process group (so the terminal's Ctrl-C does not reach it
//! and it outlives meshctl), with its output appended to its log. It is recognised later only
//! when `/proc/PID` shows the same start time *and* the same command line as its record, so a
//! pid reused by another program is never signalled. Stopping sends SIGTERM to its group,
//! waits, then SIGKILL.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, Pid, Signal};

use super::state::ProcessRecord;

/// How long a process gets to exit after SIGTERM before SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(10);

/// `/proc/PID/stat`: (state, start time in clock ticks). None when there is no such process.
fn stat(pid: u32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: fields after it are
    // counted from the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); start time is field 22.
    let state = fields.first()?.chars().next()?;
    let start = fields.get(22 - 3)?.parse().ok()?;
    Some((state, start))
}

/// The start time of a live (not zombie) process.
pub fn start_time(pid: u32) -> Option<u64> {
    match stat(pid)? {
        ('Z' | 'X', _) => None,
        (_, start) => Some(start),
    }
}

/// `/proc/PID/cmdline`, split into arguments.
fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut args: Vec<String> = raw
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if args.last().is_some_and(String::is_empty) {
        args.pop();
    }
    Some(args)
}

/// True when the process in `record` is still running and is still that program: same start
/// time, and a command line ending with the recorded one (an interpreter such as `/bin/sh`
/// may come first, for script wrappers).
pub fn is_running(record: &ProcessRecord) -> bool {
    if start_time(record.pid) != Some(record.start_time) {
        return false;
    }
    cmdline(record.pid).is_some_and(|args| args.ends_with(&record.argv))
}

/// Starts `argv` in its own process group in `cwd`, stdin closed, stdout and stderr appended
/// to `log` after a header line. With `env`, the process gets exactly those variables
/// instead of meshctl's environment.
pub fn spawn(
    argv: &[String],
    cwd: &Path,
    log: &Path,
    env: Option<&BTreeMap<String, String>>,
) -> io::Result<Child> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    let mut out = fs::OpenOptions::new().create(true).append(true).open(log)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    io::Write::write_all(
        &mut out,
        format!(
            "--- meshctl started {} at unix time {now}\n",
            argv.join(" ")
        )
        .as_bytes(),
    )?;
    let err = out.try_clone()?;
    let mut command = Command::new(program);
    if let Some(env) = env {
        command.env_clear().envs(env);
    }
    command
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own group: Ctrl-C in meshctl's terminal does not reach it, and stopping the
        // group also stops anything it started.
        .process_group(0)
        .spawn()
}

/// The record of a process just spawned.
pub fn record_of(
    child: &Child,
    name: &str,
    argv: &[String],
    log: &Path,
) -> io::Result<ProcessRecord> {
    let pid = child.id();
    let start_time = start_time(pid).ok_or_else(|| {
        io::Error::other(format!("process {pid} exited before it could be recorded"))
    })?;
    // `spawn` returns once the child has entered execve, when the kernel may not have set up
    // the new program's arguments yet (`/proc/PID/cmdline` reads empty for a moment). Wait
    // for them, so the record is checkable (`is_running`) as soon as it is written.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while cmdline(pid).is_some_and(|a| a.is_empty()) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(ProcessRecord {
        name: name.to_string(),
        pid,
        start_time,
        argv: argv.to_vec(),
        log: log.to_path_buf(),
        endpoints: Default::default(),
        sample: None,
    })
}

/// Stops the process of `record` and its group: SIGTERM (and SIGCONT, so a stopped process
/// handles it), up to `grace` to exit, then SIGKILL. Returns false when it was not running.
pub fn stop(record: &ProcessRecord, grace: Duration) -> Result<bool, String> {
    if !is_running(record) {
        return Ok(false);
    }
    let pid = i32::try_from(record.pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| format!("invalid pid {}", record.pid))?;
    let signal = |sig: Signal| match kill_process_group(pid, sig) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(format!(
            "cannot signal process {} ({e}); stop it yourself (kill {})",
            record.pid, record.pid
        )),
    };
    signal(Signal::TERM)?;
    signal(Signal::CONT)?;
    if wait_gone(record, grace) {
        return Ok(true);
    }
    signal(Signal::KILL)?;
    if wait_gone(record, Duration::from_secs(5)) {
        return Ok(true);
    }
    Err(format!(
        "process {} did not exit after SIGKILL; check it with `ps -p {}`",
        record.pid, record.pid
    ))
}

/// Waits until the process has exited (gone or a zombie). Only the start time is compared:
/// its command line reads empty while it exits, before it is really gone.
fn wait_gone(record: &ProcessRecord, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while start_time(record.pid) == Some(record.start_time) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The last `n` lines of a log, for error messages.
pub fn log_tail(log: &Path, n: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_and_stops_its_own_process_only() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("sleep.log");
        let argv: Vec<String> = ["sleep", "60"].map(String::from).to_vec();
        let mut child = spawn(&argv, dir.path(), &log, None).expect("spawn sleep");
        let record = record_of(&child, "sleeper", &argv, &log).expect("record");
        assert!(
            is_running(&record),
            "{record:?} stat {:?} cmdline {:?}",
            stat(record.pid),
            cmdline(record.pid)
        );
        // The same pid with another start time or command line is not ours.
        let reused = ProcessRecord {
            start_time: record.start_time + 1,
            ..record.clone()
        };
        assert!(!is_running(&reused));
        let other = ProcessRecord {
            argv: vec!["sleep".into(), "61".into()],
            ..record.clone()
        };
        assert!(!is_running(&other));
        assert_eq!(
            stop(&other, TERM_GRACE),
            Ok(false),
            "never signals what is not ours"
        );
        assert!(is_running(&record));
        assert_eq!(stop(&record, TERM_GRACE), Ok(true));
        let _ = child.wait();
        assert!(!is_running(&record));
        assert!(log_tail(&log, 1).starts_with("--- meshctl started sleep 60"));
    }
}
