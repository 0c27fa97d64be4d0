//! The real `mesh-proxy` executable: reload on file change and SIGHUP, rejection of bad
//! configs, drain on SIGTERM, startup errors. Each process is killed by PID when its test
//! ends, pass or fail. Each proxy gets its own loopback address (127.0.0.0/8 all reaches
//! `lo`), so fixed ports never collide with another test or a real proxy.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use mesh_proxy::testing::{eventually, fill, get, Backend};
use tokio::net::TcpStream;

const CONFIG: &str = r#"
version: "{version}"
listeners:
  - {name: out, address: "{ip}:15001", direction: outbound, routeConfig: out}
routes:
  - name: out
    virtualHosts:
      - name: svc
        domains: ["*"]
        routes: [{route: [{cluster: {target}}]}]
clusters:
  - {name: one, endpoints: [{address: "{one}"}]}
  - {name: two, endpoints: [{address: "{two}"}]}
"#;

/// A unique loopback address for this test process and call.
fn unique_ip() -> IpAddr {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    let [_, _, hi, lo] = pid.to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(127, 77 + (n % 150) as u8, hi, lo.max(1)))
}

/// A scratch directory, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(ip: IpAddr) -> Dir {
        let d = std::env::temp_dir().join(format!("mesh-binary-{}-{ip}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Replaces `path` atomically (temp file + rename), as config management tools do.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write temp config");
    std::fs::rename(&tmp, path).expect("rename config");
}

/// A running `mesh-proxy`, killed by PID on drop.
struct MeshProxy {
    child: Child,
    stderr: PathBuf,
    listener: SocketAddr,
    admin: SocketAddr,
}

impl Drop for MeshProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl MeshProxy {
    /// Starts the binary on `config`, admin on `ip:15000`, the stats and health servers on
    /// ephemeral ports. Does not wait for it to be ready.
    fn spawn(dir: &Dir, ip: IpAddr, config: &Path, extra: &[&str]) -> MeshProxy {
        let stderr = dir.0.join("stderr.log");
        let admin = SocketAddr::new(ip, 15000);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mesh-proxy"));
        cmd.arg("run").arg("--config").arg(config);
        for (flag, default) in [("--watch-interval", "50ms"), ("--drain-timeout", "4s")] {
            if !extra.contains(&flag) {
                cmd.args([flag, default]);
            }
        }
        let child = cmd
            .args(["--admin-addr", &admin.to_string()])
            .args(["--stats-addr", &format!("{ip}:0")])
            .args(["--health-addr", &format!("{ip}:0")])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawn mesh-proxy");
        MeshProxy {
            child,
            stderr,
            listener: SocketAddr::new(ip, 15001),
            admin,
        }
    }

    /// Starts the binary and waits until its admin server says ready.
    async fn start(dir: &Dir, ip: IpAddr, config: &Path, extra: &[&str]) -> MeshProxy {
        let mut p = Self::spawn(dir, ip, config, extra);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while p.admin_get("/healthz/ready").await.map(|r| r.0) != Some(200) {
            if let Some(status) = p.child.try_wait().expect("try_wait") {
                panic!("mesh-proxy exited with {status}; stderr:\n{}", p.stderr());
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "mesh-proxy not ready after 10 s; stderr:\n{}",
                p.stderr()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        p
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill {sig} failed");
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// GET on the admin server; None while it does not answer.
    async fn admin_get(&self, path: &str) -> Option<(u16, String)> {
        self.admin_request(http::Method::GET, path).await
    }

    async fn admin_request(&self, method: http::Method, path: &str) -> Option<(u16, String)> {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "admin")
            .body(Full::new(Bytes::new()))
            .expect("req");
        let stream = TcpStream::connect(self.admin).await.ok()?;
        let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(conn);
        let resp = tx.send_request(req).await.ok()?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.ok()?.to_bytes();
        Some((status, String::from_utf8_lossy(&body).into_owned()))
    }

    async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let child = &mut self.child;
        let mut check = || child.try_wait().expect("try_wait");
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(s) = check() {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "mesh-proxy still running after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Two backends and a config file routing to `one`.
struct Setup {
    one: Backend,
    two: Backend,
    ip: IpAddr,
    dir: Dir,
    config: PathBuf,
}

impl Setup {
    async fn new() -> Setup {
        let ip = unique_ip();
        let dir = Dir::new(ip);
        let config = dir.0.join("proxy.yaml");
        let s = Setup {
            one: Backend::start("one").await,
            two: Backend::start("two").await,
            ip,
            dir,
            config,
        };
        std::fs::write(&s.config, s.yaml("one", "1")).expect("write config");
        s
    }

    fn yaml(&self, target: &str, version: &str) -> String {
        fill(
            CONFIG,
            &[
                ("version", version.to_string()),
                ("ip", self.ip.to_string()),
                ("target", target.to_string()),
                ("one", self.one.addr.to_string()),
                ("two", self.two.addr.to_string()),
            ],
        )
    }

    async fn start(&self, extra: &[&str]) -> MeshProxy {
        MeshProxy::start(&self.dir, self.ip, &self.config, extra).await
    }
}

/// Which backend answers a request on a fresh connection.
async fn backend_of(to: SocketAddr) -> Option<String> {
    get(to, "http://svc/").await.backend().map(str::to_string)
}

async fn wait_for_backend(to: SocketAddr, name: &str) {
    eventually(Duration::from_secs(10), name, || async {
        (backend_of(to).await.as_deref() == Some(name)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_change_reloads_without_dropping_a_keepalive_connection() {
    let s = Setup::new().await;
    let p = s.start(&[]).await;
    assert_eq!(backend_of(p.listener).await.as_deref(), Some("one"));

    // One keep-alive connection sending requests back to back across the reload.
    let stream = TcpStream::connect(p.listener).await.expect("connect");
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    let conn = tokio::spawn(conn);
    let client = tokio::spawn(async move {
        let mut answers = Vec::new();
        while answers.iter().filter(|b| *b == "two").count() < 20 && answers.len() < 5000 {
            let req = Request::get("/").header("host", "svc");
            let req = req.body(Full::new(Bytes::new())).expect("req");
            let resp = tx
                .send_request(req)
                .await
                .expect("no error on the kept connection");
            let name = resp.headers()["x-backend"]
                .to_str()
                .expect("ascii")
                .to_string();
            resp.into_body().collect().await.expect("body");
            answers.push(name);
        }
        (answers, tx)
    });
    eventually(Duration::from_secs(5), "requests flowing", || async {
        (s.one.hits() >= 10).then_some(())
    })
    .await;
    write_atomically(&s.config, &s.yaml("two", "2"));
    let (answers, mut tx) = client.await.expect("client task");
    let req = Request::get("/").header("host", "svc");
    let resp = tx
        .send_request(req.body(Full::new(Bytes::new())).expect("req"))
        .await
        .expect("the keep-alive connection still works after the reload");
    assert_eq!(resp.headers()["x-backend"], "two");
    assert!(!conn.is_finished(), "the keep-alive connection was closed");
    let switch = answers.iter().position(|b| b == "two").expect("switched");
    assert!(switch > 0, "some answers came from one before the switch");
    assert!(
        answers[switch..].iter().all(|b| b == "two"),
        "no flapping back after the switch"
    );
    wait_for_backend(p.listener, "two").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads() {
    let s = Setup::new().await;
    // Polling the file once an hour: only SIGHUP can trigger the reload.
    let p = s.start(&["--watch-interval", "1h"]).await;
    assert_eq!(backend_of(p.listener).await.as_deref(), Some("one"));
    std::fs::write(&s.config, s.yaml("two", "2")).expect("rewrite");
    p.signal("-HUP");
    wait_for_backend(p.listener, "two").await;
    let (_, dump) = p.admin_get("/config_dump").await.expect("config_dump");
    assert!(dump.contains("\"version\": \"2\""), "{dump}");
}

async fn last_error(p: &MeshProxy) -> Option<String> {
    let (_, dump) = p.admin_get("/config_dump").await?;
    let v: serde_json::Value = serde_json::from_str(&dump).expect("config_dump is JSON");
    v["last_rejected_config_error"].as_str().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_config_is_rejected_and_the_old_one_keeps_serving() {
    let s = Setup::new().await;
    let p = s.start(&[]).await;
    let path = "routes[0].virtualHosts[0].routes[0].route[0].cluster";

    write_atomically(&s.config, &s.yaml("missing", "bad"));
    let err = eventually(
        Duration::from_secs(10),
        "rejection in /config_dump",
        || async { last_error(&p).await },
    )
    .await;
    assert!(err.contains(path) && err.contains("missing"), "{err}");
    assert_eq!(backend_of(p.listener).await.as_deref(), Some("one"));
    let log = p.stderr();
    assert!(log.contains(path), "stderr names the field path: {log}");
    assert!(
        !log.contains('\x1b'),
        "no colour codes when stderr is a file: {log:?}"
    );

    write_atomically(&s.config, "listeners: [\n  {name: out,,\n");
    let err = eventually(
        Duration::from_secs(10),
        "YAML error in /config_dump",
        || async { last_error(&p).await.filter(|e| !e.contains(path)) },
    )
    .await;
    assert!(err.contains("not valid YAML"), "{err}");
    assert_eq!(backend_of(p.listener).await.as_deref(), Some("one"));

    write_atomically(&s.config, &s.yaml("two", "3"));
    wait_for_backend(p.listener, "two").await;
    assert_eq!(last_error(&p).await, None, "a good config clears the error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_then_exits_0() {
    let s = Setup::new().await;
    let mut p = s.start(&[]).await;
    let to = p.listener;
    let slow = tokio::spawn(async move { get(to, "http://svc/delay/1500").await });
    eventually(
        Duration::from_secs(5),
        "slow request at the backend",
        || async { (s.one.hits() >= 1).then_some(()) },
    )
    .await;
    p.signal("-TERM");
    eventually(Duration::from_secs(2), "/healthz/ready 503", || async {
        let (status, _) = p.admin_get("/healthz/ready").await?;
        (status == 503).then_some(())
    })
    .await;
    eventually(
        Duration::from_secs(2),
        "new connections refused",
        || async { TcpStream::connect(p.listener).await.is_err().then_some(()) },
    )
    .await;
    let got = slow.await.expect("slow request task");
    assert_eq!(got.status, 200, "the in-flight request completes");
    let status = p.wait_exit(Duration::from_secs(4)).await;
    assert_eq!(status.code(), Some(0), "stderr: {}", p.stderr());
    assert_eq!(s.one.hits(), 1);
}

/// Runs the binary to completion (it must fail fast) and returns its exit code and stderr.
async fn run_failing(config: &Path, ip: IpAddr, dir: &Dir) -> (Option<i32>, String) {
    let mut p = MeshProxy::spawn(dir, ip, config, &[]);
    let status = p.wait_exit(Duration::from_secs(10)).await;
    let err = p.stderr();
    assert!(!err.contains("panicked"), "no panic: {err}");
    (status.code(), err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_errors_are_clear() {
    let s = Setup::new().await;
    let missing = s.dir.0.join("nope.yaml");
    let (code, err) = run_failing(&missing, s.ip, &s.dir).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("cannot read config") && err.contains("nope.yaml"),
        "{err}"
    );
    assert_eq!(
        err.matches("os error 2").count(),
        1,
        "the cause once: {err}"
    );

    std::fs::write(
        &s.config,
        "version: \"1\"\nlisteners:\n  - {name: out,, x}\n",
    )
    .expect("w");
    let (code, err) = run_failing(&s.config, s.ip, &s.dir).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not valid YAML"), "{err}");
    assert!(err.contains("line 3"), "the message gives the line: {err}");
    assert!(
        err.contains("column"),
        "the message gives the column: {err}"
    );

    let taken = std::net::TcpListener::bind((s.ip, 15001)).expect("hold the port");
    std::fs::write(&s.config, s.yaml("one", "1")).expect("w");
    let (code, err) = run_failing(&s.config, s.ip, &s.dir).await;
    drop(taken);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{}:15001", s.ip)), "{err}");
    assert!(err.contains("listener \"out\""), "{err}");
    assert_eq!(err.matches("in use").count(), 1, "the cause once: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_timeout_caps_how_long_sigterm_waits() {
    let s = Setup::new().await;
    let mut p = s.start(&["--drain-timeout", "300ms"]).await;
    let to = p.listener;
    let _stuck = tokio::spawn(async move { get(to, "http://svc/delay/20000").await });
    eventually(
        Duration::from_secs(5),
        "slow request at the backend",
        || async { (s.one.hits() >= 1).then_some(()) },
    )
    .await;
    p.signal("-TERM");
    let status = p.wait_exit(Duration::from_secs(3)).await;
    assert_eq!(status.code(), Some(0), "stderr: {}", p.stderr());
    assert!(p.stderr().contains("drain timeout"), "{}", p.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_does_not_wait_for_idle_connections() {
    let s = Setup::new().await;
    let mut p = s.start(&[]).await;
    // A kept-alive connection between requests, and one that has sent nothing yet.
    let stream = TcpStream::connect(p.listener).await.expect("connect");
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = Request::get("/").header("host", "svc");
    let resp = tx
        .send_request(req.body(Full::new(Bytes::new())).expect("req"))
        .await
        .expect("first request");
    resp.into_body().collect().await.expect("body");
    let _silent = TcpStream::connect(p.listener).await.expect("connect");
    p.signal("-TERM");
    // The drain timeout is 4 s: exiting well before means idle connections were closed.
    let status = p.wait_exit(Duration::from_millis(2000)).await;
    assert_eq!(status.code(), Some(0), "stderr: {}", p.stderr());
}

#[tokio::test]
async fn log_level_changes_at_run_time() {
    let s = Setup::new().await;
    let p = s.start(&[]).await;
    let (code, body) = p.admin_get("/logging").await.expect("admin answers");
    assert_eq!((code, body.trim()), (200, "active loggers: info"));
    let post = |path: &'static str| p.admin_request(http::Method::POST, path);
    let (code, body) = post("/logging?level=debug").await.expect("admin answers");
    assert_eq!((code, body.trim()), (200, "active loggers: debug"));
    // Debug lines now reach the log: a request through the proxy produces some.
    let before = p.stderr().lines().filter(|l| l.contains("DEBUG")).count();
    get(p.listener, "http://svc/").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while p.stderr().lines().filter(|l| l.contains("DEBUG")).count() == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no debug lines after switching to debug:\n{}",
            p.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, body) = post("/logging?level=no-such[level")
        .await
        .expect("admin answers");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("invalid level"), "{body}");
    let (_, body) = p.admin_get("/logging").await.expect("admin answers");
    assert_eq!(
        body.trim(),
        "active loggers: debug",
        "a bad level changes nothing"
    );
}
