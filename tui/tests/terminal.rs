//! The terminal is given back on every way out of the dashboard: a normal return, an error
//! returned through `?`, and a panic. The `terminal_guard` example enters the guard (raw mode,
//! alternate screen, mouse capture), writes there, and leaves one of the three ways inside a
//! real terminal (a tmux session on a server of its own); the shell then records `stty -a` of
//! that terminal. The alternate screen's text must be gone from the screen, the panic or error
//! message printed, and the line discipline cooked again (`icanon`, `echo`).
//! The tmux server is killed on drop, pass or fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Builds the example and returns its path (cargo's own report of the executable).
fn example() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "-p",
            "mesh-tui",
            "--example",
            "terminal_guard",
            "--message-format=json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo build");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["target"]["name"] == "terminal_guard")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo named the example's executable")
}

struct Tmux(String);

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.0])
            .args(args)
            .output()
            .expect("run tmux (apt-get install tmux)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// Runs `<example> mode` in a fresh terminal, then `stty -a` on the same terminal; returns
/// the screen, the example's stderr and what the shell wrote (exit code, terminal modes).
fn leave(bin: &Path, mode: &str) -> (String, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (err, out) = (dir.path().join("stderr"), dir.path().join("out"));
    let tmux = Tmux(format!("mesh-tui-test-{}-{mode}", std::process::id()));
    let script = format!(
        "'{}' {mode} 2>'{}'; echo \"exit=$?\" >'{o}'; stty -a >>'{o}'; echo END >>'{o}'; sleep 600",
        bin.display(),
        err.display(),
        o = out.display(),
    );
    let status = Command::new("tmux")
        .args([
            "-L",
            &tmux.0,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            "200",
            "-y",
            "50",
        ])
        .args(["-e", "RUST_BACKTRACE=0", "sh", "-c", &script])
        .status()
        .expect("run tmux");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let written = std::fs::read_to_string(&out).unwrap_or_default();
        if written.lines().any(|l| l.trim() == "END") {
            let screen = tmux.run(&["capture-pane", "-p", "-J"]);
            return (
                screen,
                std::fs::read_to_string(&err).unwrap_or_default(),
                written,
            );
        }
        let screen = tmux.run(&["capture-pane", "-p", "-J"]);
        assert!(
            Instant::now() < deadline,
            "the example did not finish:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn cooked(screen: &str) -> bool {
    let words: Vec<&str> = screen.split_whitespace().collect();
    words.contains(&"icanon") && words.contains(&"echo") && !words.contains(&"-icanon")
}

#[test]
fn the_terminal_is_restored_on_return_error_and_panic() {
    let bin = example();
    for (mode, code, message) in [
        ("ok", "exit=0", None),
        (
            "error",
            "exit=1",
            Some("a deliberate error inside the dashboard"),
        ),
        (
            "panic",
            "exit=101",
            Some("a deliberate panic inside the dashboard"),
        ),
    ] {
        let (screen, stderr, shell) = leave(&bin, mode);
        assert!(shell.contains(code), "{mode}: {shell}\n{stderr}");
        assert!(
            !screen.contains("INSIDE THE ALTERNATE SCREEN"),
            "{mode}: still on the alternate screen:\n{screen}"
        );
        if let Some(m) = message {
            assert!(stderr.contains(m), "{mode}: {stderr}");
        }
        assert!(
            cooked(&shell),
            "{mode}: the terminal is left in raw mode:\n{shell}"
        );
    }
}
