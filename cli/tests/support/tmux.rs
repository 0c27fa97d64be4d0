//! A program in a real pseudo-terminal: a detached tmux session on a server of its own
//! (`tmux -L <unique socket>`), its screen read back with `capture-pane`, keys sent with
//! `send-keys`. On drop the shell around the program is killed by its PID and the tmux server
//! stopped (which hangs up the program too), pass or fail.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// One program running in its own tmux server.
#[derive(Debug)]
pub struct Tmux {
    socket: String,
    /// The shell around the program.
    pid: Option<u32>,
    exit_file: std::path::PathBuf,
}

impl Tmux {
    /// Starts `program args` in a `width`x`height` terminal with `env` set (and `TERM`).
    /// A shell around it records its exit status in a file and then waits, so the pane (and
    /// its screen) outlives the program.
    pub fn start(program: &Path, args: &[&str], env: &[(&str, &str)], size: (u16, u16)) -> Tmux {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let socket = format!("meshctl-test-{}-{n}", std::process::id());
        let exit_file = std::env::temp_dir().join(format!("{socket}.exit"));
        let _ = std::fs::remove_file(&exit_file);
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &size.0.to_string(), "-y", &size.1.to_string()]);
        for (k, v) in env {
            cmd.args(["-e", &format!("{k}={v}")]);
        }
        let script = format!(
            "\"$0\" \"$@\"; echo $? > '{}'; exec sleep 3600",
            exit_file.display()
        );
        cmd.args(["--", "sh", "-c", &script])
            .arg(program)
            .args(args);
        let status = cmd.status().expect("run tmux (apt-get install tmux)");
        assert!(status.success(), "tmux new-session failed");
        let mut t = Tmux {
            socket,
            pid: None,
            exit_file,
        };
        let pid = t.tmux(&["display-message", "-p", "#{pane_pid}"]);
        t.pid = pid.trim().parse().ok();
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen as text, one line per row.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J"])
    }

    /// Sends keys (tmux key names: `q`, `Enter`, `Tab`, `Escape`, `Down`, or text).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Sends `text` literally.
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-l", text]);
    }

    /// Polls the screen until `ok` holds, or panics after `deadline` with the last screen.
    pub fn wait_for(&self, what: &str, deadline: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if start.elapsed() > deadline {
                panic!("timed out after {deadline:?} waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The program's exit status once it has exited (`None` while it runs).
    pub fn exit_status(&self) -> Option<i32> {
        std::fs::read_to_string(&self.exit_file)
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            if super::alive(pid) {
                super::kill(pid, rustix::process::Signal::KILL);
            }
        }
        self.tmux(&["kill-server"]);
        let _ = std::fs::remove_file(&self.exit_file);
    }
}
