//! Transparent mode with `SO_ORIGINAL_DST`, in a network namespace with an iptables
//! REDIRECT, as a sidecar runs in a pod. Needs root, iproute2, iptables (with the nat table)
//! and util-linux's `setpriv`; skips with a message otherwise.
//!
//! Everything runs inside the namespace through `ip netns exec` (the test process itself
//! cannot enter it without `unsafe`): the real `mesh-proxy`, python3 `http.server` backends,
//! and a python3 client. The proxy runs with group 65534 and the REDIRECT rule skips that
//! group, as Istio's rules skip the proxy's uid 1337: otherwise the proxy's own connection to
//! the original destination would be redirected back to itself.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mesh_proxy::testing::{eventually_blocking, metric_sum};

const PROXY_GID: &str = "65534";

/// GETs a URL without any proxy from the environment; prints the status, then the body.
const CLIENT: &str = r#"
import sys, urllib.request, urllib.error
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
headers = {"Host": sys.argv[2]} if len(sys.argv) > 2 else {}
try:
    r = opener.open(urllib.request.Request(sys.argv[1], headers=headers), timeout=5)
    print(r.status); print(r.read().decode(), end="")
except urllib.error.HTTPError as e:
    print(e.code)
except Exception as e:
    print("ERR", e); sys.exit(1)
"#;

const CONFIG: &str = r#"
listeners:
  - {name: http, address: "127.0.0.1:15001", direction: outbound, mode: transparent, routeConfig: r}
  - {name: tcp, address: "127.0.0.1:15002", direction: outbound, mode: transparent, protocol: tcp}
routes:
  - name: r
    virtualHosts:
      - {name: reviews, domains: [reviews], routes: [{route: [{cluster: reviews}]}]}
clusters:
  - {name: reviews, service: reviews.default.svc.cluster.local, endpoints: [{address: "127.0.0.1:8080"}]}
"#;

fn ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why this machine cannot run the test, if it cannot.
fn missing_prerequisite() -> Option<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root {
        return Some("needs root");
    }
    for (tool, arg) in [
        ("ip", "-V"),
        ("iptables", "--version"),
        ("setpriv", "--version"),
        ("python3", "--version"),
    ] {
        if !ok(Command::new(tool).arg(arg)) {
            return Some("needs iproute2, iptables, setpriv and python3");
        }
    }
    None
}

/// A process killed by PID on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A network namespace with `lo` up and a scratch directory, both deleted on drop.
struct Netns {
    name: String,
    dir: PathBuf,
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Netns {
    /// None (after printing why) when the namespace or its nat table cannot be set up.
    fn create() -> Option<Netns> {
        if let Some(why) = missing_prerequisite() {
            println!("skipping: {why}");
            return None;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "meshtest-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        if !ok(Command::new("ip").args(["netns", "add", &name])) {
            println!("skipping: cannot create a network namespace");
            return None;
        }
        let ns = Netns { name, dir };
        assert!(ok(&mut ns.cmd(&["ip", "link", "set", "lo", "up"])), "lo up");
        if !ok(&mut ns.cmd(&["iptables", "-t", "nat", "-L", "-n"])) {
            println!("skipping: iptables has no nat table here (kernel support missing?)");
            return None;
        }
        Some(ns)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run in netns")
    }

    /// Connections from anyone but the proxy to `port` go to the proxy's `to` port.
    fn redirect(&self, port: u16, to: u16) {
        let (port, to) = (port.to_string(), to.to_string());
        let out = self.run(&[
            "iptables",
            "-t",
            "nat",
            "-A",
            "OUTPUT",
            "-p",
            "tcp",
            "--dport",
            &port,
            "-m",
            "owner",
            "!",
            "--gid-owner",
            PROXY_GID,
            "-j",
            "REDIRECT",
            "--to-ports",
            &to,
        ]);
        assert!(out.status.success(), "iptables: {out:?}");
    }

    fn spawn(&self, args: &[&str], log: &str) -> Proc {
        let log = std::fs::File::create(self.dir.join(log)).expect("log file");
        Proc(
            self.cmd(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn in netns"),
        )
    }

    /// A python3 `http.server` on 127.0.0.1:`port` whose `/who` answers `who`.
    fn backend(&self, port: u16, who: &str) -> Proc {
        let root = self.dir.join(format!("www-{port}"));
        std::fs::create_dir_all(&root).expect("www dir");
        std::fs::write(root.join("who"), who).expect("who file");
        let (port, root) = (port.to_string(), root.display().to_string());
        self.spawn(
            &[
                "python3",
                "-m",
                "http.server",
                &port,
                "--bind",
                "127.0.0.1",
                "--directory",
                &root,
            ],
            &format!("backend-{port}.log"),
        )
    }

    /// Runs `mesh-proxy` in the namespace as group 65534, with an access log.
    fn proxy(&self) -> (Proc, PathBuf) {
        let config = self.dir.join("proxy.yaml");
        std::fs::write(&config, CONFIG).expect("config");
        let access = self.dir.join("access.log");
        let p = self.spawn(
            &[
                "setpriv",
                &format!("--regid={PROXY_GID}"),
                "--clear-groups",
                env!("CARGO_BIN_EXE_mesh-proxy"),
                "run",
                "--config",
                &config.display().to_string(),
                "--admin-addr",
                "127.0.0.1:15000",
                "--stats-addr",
                "127.0.0.1:0",
                "--health-addr",
                "127.0.0.1:0",
                "--access-log",
                &access.display().to_string(),
            ],
            "proxy.log",
        );
        eventually_blocking(Duration::from_secs(10), "proxy ready", || {
            (self.get("http://127.0.0.1:15000/healthz/ready", None).0 == "200").then_some(())
        });
        (p, access)
    }

    /// A GET from inside the namespace: (status or "ERR ...", body).
    fn get(&self, url: &str, host: Option<&str>) -> (String, String) {
        let mut args = vec!["python3", "-c", CLIENT, url];
        args.extend(host);
        let out = self.run(&args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (status, body) = text.split_once('\n').unwrap_or((&text, ""));
        (status.to_string(), body.to_string())
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

/// Access-log entries (JSON lines) for `path` with status 200.
fn logged(access: &Path, path: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(access)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["path"] == path && v["response_code"] == 200)
        .collect()
}

#[test]
fn redirected_http_is_routed_or_passed_through_to_the_original_destination() {
    let Some(ns) = Netns::create() else { return };
    ns.redirect(9999, 15001);
    let _origin = ns.backend(9999, "origin");
    let _reviews = ns.backend(8080, "reviews");
    let (_proxy, access) = ns.proxy();

    // No route names 127.0.0.1:9999: passed through to where the client was going.
    let (status, body) = eventually_blocking(Duration::from_secs(10), "passthrough", || {
        let got = ns.get("http://127.0.0.1:9999/who", None);
        (got.0 == "200").then_some(got)
    });
    assert_eq!((status.as_str(), body.as_str()), ("200", "origin"));
    // Same connection target, but the authority names a routed service.
    let (status, body) = ns.get("http://127.0.0.1:9999/who", Some("reviews"));
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("200", "reviews"),
        "proxy log: {}",
        ns.log("proxy.log")
    );

    // A direct connection to the proxy has no other original destination: no loop, 404.
    let (status, _) = ns.get("http://127.0.0.1:15001/who", None);
    assert_eq!(status, "404");

    let entries = eventually_blocking(Duration::from_secs(5), "access log", || {
        let e = logged(&access, "/who");
        (e.len() >= 2).then_some(e)
    });
    let upstream = |cluster: &str| {
        entries
            .iter()
            .find(|e| e["upstream_cluster"] == cluster)
            .map(|e| e["upstream_host"].clone())
    };
    assert_eq!(
        upstream("PassthroughCluster"),
        Some("127.0.0.1:9999".into()),
        "{entries:?}"
    );
    assert_eq!(
        upstream("reviews"),
        Some("127.0.0.1:8080".into()),
        "{entries:?}"
    );
}

#[test]
fn redirected_tcp_without_cluster_goes_to_the_original_destination() {
    let Some(ns) = Netns::create() else { return };
    ns.redirect(9998, 15002);
    let _origin = ns.backend(9998, "tcp-origin");
    let (_proxy, _) = ns.proxy();

    let (status, body) = eventually_blocking(Duration::from_secs(10), "tcp passthrough", || {
        let got = ns.get("http://127.0.0.1:9998/who", None);
        (got.0 == "200").then_some(got)
    });
    assert_eq!((status.as_str(), body.as_str()), ("200", "tcp-origin"));

    let passthrough = [("destination_service", "PassthroughCluster")];
    eventually_blocking(
        Duration::from_secs(5),
        "istio_tcp_* for the passthrough",
        || {
            let (_, text) = ns.get("http://127.0.0.1:15000/stats/prometheus", None);
            let closed = metric_sum(&text, "istio_tcp_connections_closed_total", &passthrough);
            let sent = metric_sum(&text, "istio_tcp_sent_bytes_total", &passthrough);
            (closed >= 1.0 && sent > 0.0).then_some(())
        },
    );
}
