//! Shared by meshctl's end-to-end tests: the real `meshctl` binary run against a temporary
//! `MESHCTL_HOME` (passed to each child, never set in the test process) on free loopback
//! ports. Every [`Mesh`] uninstalls on drop and then kills by pid whatever its records still
//! name, so no process outlives a test, pass or fail.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod tmux;
pub mod workloads;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub use mesh_proxy::testing::{eventually_blocking, free_addr};

/// Deadline for conditions the tests wait for.
pub const WAIT: Duration = Duration::from_secs(30);

/// The meshctl binary under test.
pub fn meshctl_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_meshctl"))
}

/// The programs meshctl runs (the control plane, `mesh-proxy` for the gateways and sidecars,
/// `bookinfo` for the sample) with the source directories each is built from.
const PROGRAMS: [(&str, &[&str]); 3] = [
    (
        "mesh-controlplane",
        &["controlplane", "api", "identity", "inject", "Cargo.lock"],
    ),
    ("mesh-proxy", &["proxy", "api", "identity", "Cargo.lock"]),
    (
        "bookinfo",
        &[
            "samples/bookinfo/src",
            "samples/bookinfo/Cargo.toml",
            "Cargo.lock",
        ],
    ),
];

/// Makes sure the programs next to the meshctl under test (where meshctl looks first) are
/// built from the current sources. `cargo test --workspace` has just built them; with `cargo test -p meshctl` alone they may be missing or older than the
/// sources, and then they are built here.
pub fn ensure_programs() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let bin = meshctl_bin();
        let dir = bin.parent().expect("bin dir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (name, sources) in PROGRAMS {
            let program = dir.join(name);
            let built = std::fs::metadata(&program).and_then(|m| m.modified()).ok();
            if built.is_some_and(|b| sources.iter().all(|s| newest(&root.join(s)) <= b)) {
                continue;
            }
            build_program(dir, name);
            assert!(program.exists(), "{name} was built");
        }
    });
}

/// The newest modification time under `path`.
fn newest(path: &Path) -> std::time::SystemTime {
    let mut t = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::UNIX_EPOCH);
    if path.is_dir() {
        for e in std::fs::read_dir(path).into_iter().flatten().flatten() {
            t = t.max(newest(&e.path()));
        }
    }
    t
}

fn build_program(dir: &Path, name: &str) {
    let target = dir.parent().expect("target dir");
    let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", name, "--bin", name])
        .env("CARGO_TARGET_DIR", target)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // Variables cargo sets for this test process would leak into the nested build and make
    // build scripts that watch them (ring watches CARGO_MANIFEST_DIR) rerun, and everything
    // after them rebuild.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let per_crate = ["CARGO_PKG_", "CARGO_BIN_", "CARGO_MANIFEST_"]
            .iter()
            .any(|p| key.starts_with(p))
            || [
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "OUT_DIR",
            ]
            .contains(&key.as_str());
        if per_crate {
            cmd.env_remove(&key);
        }
    }
    if profile != "debug" {
        cmd.args(["--profile", profile]);
    }
    let status = cmd.status().expect("run cargo build");
    assert!(status.success(), "cargo build -p {name} failed");
}

/// One finished meshctl run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics with both streams unless it exited `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Both streams, for assertions on messages.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A gateway's ports: its HTTP port, admin, stats, health.
#[derive(Clone, Copy, Debug)]
pub struct GatewayPorts {
    pub http: SocketAddr,
    pub admin: SocketAddr,
    pub stats: SocketAddr,
    pub health: SocketAddr,
}

impl GatewayPorts {
    fn free() -> GatewayPorts {
        GatewayPorts {
            http: free_addr(),
            admin: free_addr(),
            stats: free_addr(),
            health: free_addr(),
        }
    }

    /// `--set values.<key>.*Port=` for each.
    fn flags(&self, key: &str) -> Vec<String> {
        [
            ("port", self.http),
            ("adminPort", self.admin),
            ("statsPort", self.stats),
            ("healthPort", self.health),
        ]
        .iter()
        .flat_map(|(k, a)| {
            [
                "--set".to_string(),
                format!("values.{key}.{k}={}", a.port()),
            ]
        })
        .collect()
    }
}

/// A temporary MESHCTL_HOME with its own ports.
pub struct Mesh {
    pub home: tempfile::TempDir,
    pub xds: SocketAddr,
    pub xds_tls: SocketAddr,
    pub monitoring: SocketAddr,
    pub ingress: GatewayPorts,
    pub egress: GatewayPorts,
}

impl Mesh {
    pub fn new() -> Mesh {
        ensure_programs();
        Mesh {
            home: tempfile::tempdir().expect("temp MESHCTL_HOME"),
            xds: free_addr(),
            xds_tls: free_addr(),
            monitoring: free_addr(),
            ingress: GatewayPorts::free(),
            egress: GatewayPorts::free(),
        }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `--set` flags moving every port (control plane and gateways) off its default.
    pub fn port_flags(&self) -> Vec<String> {
        let mut flags: Vec<String> = [
            ("xdsPort", self.xds),
            ("xdsTlsPort", self.xds_tls),
            ("monitoringPort", self.monitoring),
        ]
        .iter()
        .flat_map(|(k, a)| {
            [
                "--set".to_string(),
                format!("values.controlPlane.{k}={}", a.port()),
            ]
        })
        .collect();
        flags.extend(self.ingress.flags("ingressGateway"));
        flags.extend(self.egress.flags("egressGateway"));
        flags
    }

    /// A meshctl command with this home, no colour, stdin closed (no terminal).
    pub fn command_with(&self, bin: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(bin);
        c.args(args)
            .env("MESHCTL_HOME", self.home())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        c
    }

    /// Runs meshctl with `args`.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(
            self.command_with(&meshctl_bin(), args)
                .output()
                .expect("run meshctl"),
        )
    }

    /// Runs meshctl with `args` and `stdin`.
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .command_with(&meshctl_bin(), args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn meshctl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        Run::from(child.wait_with_output().expect("meshctl output"))
    }

    /// `meshctl install --profile PROFILE -y` on this mesh's ports, plus `extra`.
    pub fn install(&self, profile: &str, extra: &[&str]) -> Run {
        let mut args: Vec<String> = ["install", "--profile", profile, "-y"]
            .map(String::from)
            .to_vec();
        args.extend(self.port_flags());
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&refs)
    }

    /// The control plane's process record.
    pub fn record(&self) -> Option<serde_json::Value> {
        self.record_of("controlPlane")
    }

    /// The process record `pids/<name>.json` (`controlPlane`, `ingressGateway`, ...).
    pub fn record_of(&self, name: &str) -> Option<serde_json::Value> {
        let path = self.home().join("pids").join(format!("{name}.json"));
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The recorded control plane pid.
    pub fn pid(&self) -> Option<u32> {
        self.pid_of("controlPlane")
    }

    /// The pid recorded for `name`.
    pub fn pid_of(&self, name: &str) -> Option<u32> {
        self.record_of(name)?["pid"].as_u64().map(|p| p as u32)
    }

    /// `GET path` on the monitoring port: (status, body).
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.monitoring, path)
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        let _ = self
            .command_with(&meshctl_bin(), &["uninstall", "-y"])
            .output();
        // Whatever is still recorded (uninstall failed, or a test broke the records): kill
        // by pid, but only a process whose command line names this home.
        let home = self.home().display().to_string();
        for entry in std::fs::read_dir(self.home().join("pids"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let Ok(rec) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let Some(pid) = rec["pid"].as_u64().map(|p| p as u32) else {
                continue;
            };
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            // A sample app's command line does not name the home: it must be the recorded
            // one exactly.
            let recorded: Vec<String> = rec["argv"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            if args.join(" ").contains(&home) || (!recorded.is_empty() && args == recorded) {
                kill(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

/// A first address for `meshctl samples deploy --first-ip` on 127.0.0.x (the tests bind
/// nothing else), one of 20 by this process's id so two test runs rarely meet, `slot` (0 or
/// 1) for two deploys at once in one test binary. Bookinfo takes six addresses from it.
pub fn sample_first_ip(slot: u32) -> String {
    let base = 10 + (std::process::id() % 20) * 12 + (slot % 2) * 6;
    format!("127.0.0.{base}")
}

/// Sends `sig` to `pid`.
pub fn kill(pid: u32, sig: rustix::process::Signal) {
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(p, sig);
    }
}

/// True while `pid` exists and is not a zombie (an exited child of a parent that has not
/// reaped it yet).
pub fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|r| r.split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

/// Waits until `pid` has exited.
pub fn wait_dead(pid: u32) {
    eventually_blocking(WAIT, &format!("process {pid} to exit"), || {
        (!alive(pid)).then_some(())
    });
}

/// A minimal HTTP/1.0 GET (the tests' own view of the monitoring port, independent of
/// meshctl's client).
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: cp\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// The Istio Bookinfo fixtures, read by path (never copied into the repo).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/istio-bookinfo/networking")
}

/// Runs meshctl with `args` (and `stdin`, if any) for commands that need no mesh
/// (`kube-inject`): no MESHCTL_HOME, nothing started.
pub fn run_plain(args: &[&str], stdin: Option<&[u8]>) -> Run {
    use std::io::Write;
    let mut child = Command::new(meshctl_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn meshctl");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
    }
    Run::from(child.wait_with_output().expect("meshctl output"))
}

/// Bookinfo's workloads, as meshctl names them (records `bookinfo-<w>` and
/// `bookinfo-<w>-sidecar`).
pub const BOOKINFO_WORKLOADS: [&str; 6] = [
    "details-v1",
    "ratings-v1",
    "reviews-v1",
    "reviews-v2",
    "reviews-v3",
    "productpage-v1",
];
