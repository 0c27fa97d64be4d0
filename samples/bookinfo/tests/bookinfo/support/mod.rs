//! Helpers for Bookinfo's process tests: start real `bookinfo` processes (killed by PID when
//! dropped, pass or fail), a small HTTP client, a recording forward proxy (what `HTTP_PROXY`
//! points at) and a scriptable reviews stand-in.
#![allow(dead_code)] // Each test file uses a different part.

pub mod net;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use mesh_proxy::testing::{eventually, free_addr};

pub use net::{http, Got, Recorder, StandIn, Step};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_bookinfo");

/// A running `bookinfo` process. Dropping it kills it (SIGKILL to its PID) and reaps it.
#[derive(Debug)]
pub struct Proc {
    pub service: String,
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command for one service, with a clean environment (no proxy or instance variables
/// leak in from the machine running the tests) plus `env`.
pub fn command(args: &[&str], env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_clear().env("BOOKINFO_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `bookinfo ARGS` to completion (for commands that must fail at start).
pub fn run_to_exit(args: &[&str], env: &[(String, String)]) -> Output {
    command(args, env)
        .stdin(Stdio::null())
        .output()
        .expect("run bookinfo")
}

impl Proc {
    /// Starts `bookinfo SERVICE --version VERSION --listen <free port>` with `env`, and
    /// waits until `/health` answers 200.
    pub async fn start(service: &str, version: &str, env: &[(String, String)]) -> Proc {
        let addr = free_addr();
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join(format!("{service}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let listen = addr.to_string();
        let child = command(&[service, "--version", version, "--listen", &listen], env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn bookinfo");
        let mut proc = Proc {
            service: service.to_string(),
            addr,
            child,
            log,
            _dir: dir,
        };
        proc.wait_healthy().await;
        proc
    }

    async fn wait_healthy(&mut self) {
        let what = format!("{} on {} to answer /health", self.service, self.addr);
        let addr = self.addr;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited with {status}:\n{}", self.service, self.log());
            }
            if let Some(got) = http(addr, "GET", "/health", &[], "").await {
                assert_eq!(got.status, 200, "{what}: {}", got.text());
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit (after a signal the test sent) and returns its status.
    pub async fn exited(&mut self, within: Duration) -> std::process::ExitStatus {
        let child = &mut self.child;
        let mut status = None;
        eventually(within, "the process to exit", || {
            status = status.or_else(|| child.try_wait().ok().flatten());
            std::future::ready(status)
        })
        .await
    }

    /// GET `path` from this service.
    pub async fn get(&self, path: &str) -> Got {
        self.get_with(path, &[]).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Got {
        http(self.addr, "GET", path, headers, "")
            .await
            .unwrap_or_else(|| {
                panic!(
                    "{} did not answer GET {path}:\n{}",
                    self.service,
                    self.log()
                )
            })
    }
}

/// Env pointing a service at `upstream` (`details`, `reviews` or `ratings`) on `addr`,
/// without a mesh: `<UP>_HOSTNAME` and `<UP>_SERVICE_PORT`.
pub fn upstream_env(upstream: &str, addr: SocketAddr) -> Vec<(String, String)> {
    let prefix = upstream.to_ascii_uppercase();
    vec![
        (format!("{prefix}_HOSTNAME"), addr.ip().to_string()),
        (format!("{prefix}_SERVICE_PORT"), addr.port().to_string()),
    ]
}

/// `KEY=value` pairs as owned env entries.
pub fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A whole Bookinfo wired without a mesh: details, ratings, one reviews version and
/// productpage. Fields are public so tests can look at each process.
#[derive(Debug)]
pub struct Bookinfo {
    pub details: Proc,
    pub ratings: Proc,
    pub reviews: Proc,
    pub productpage: Proc,
}

impl Bookinfo {
    /// Starts everything with reviews `version`, reporting instance name
    /// `reviews-<version>-test`.
    pub async fn start(version: &str) -> Bookinfo {
        let details = Proc::start("details", "v1", &[]).await;
        let ratings = Proc::start("ratings", "v1", &[]).await;
        let mut env = upstream_env("ratings", ratings.addr);
        env.push(("INSTANCE_NAME".into(), format!("reviews-{version}-test")));
        let reviews = Proc::start("reviews", version, &env).await;
        let productpage = Proc::start(
            "productpage",
            "v1",
            &productpage_env(&details, &reviews, &ratings),
        )
        .await;
        Bookinfo {
            details,
            ratings,
            reviews,
            productpage,
        }
    }
}

/// Env pointing productpage at the three processes.
pub fn productpage_env(details: &Proc, reviews: &Proc, ratings: &Proc) -> Vec<(String, String)> {
    let mut env = upstream_env("details", details.addr);
    env.extend(upstream_env("reviews", reviews.addr));
    env.extend(upstream_env("ratings", ratings.addr));
    env
}

/// Stars on a page: (filled, empty) counts.
pub fn stars(page: &str) -> (usize, usize) {
    (
        page.matches("glyphicon glyphicon-star\"").count(),
        page.matches("glyphicon glyphicon-star-empty\"").count(),
    )
}
