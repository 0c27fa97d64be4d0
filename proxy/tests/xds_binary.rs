//! The real `mesh-proxy` executable in control-plane mode, against a scripted control plane
//! ([`mesh_proxy::xds::fake`]): NOT READY until the first snapshot; hello with the workload
//! file and token; ACK of a good snapshot (and traffic flows), NACK of a bad one with the
//! error (and traffic still flows); reconnect and hello again after the control plane
//! drops the stream; SIGTERM exits 0. The process is killed by PID when the test ends.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh_api::snapshot::Snapshot;
use mesh_api::xds::ProxyMessage;
use mesh_proxy::testing::{eventually, fill, free_addr, get, send, Backend};
use mesh_proxy::xds::fake::FakeControlPlane;

const WAIT: Duration = Duration::from_secs(15);

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn ready(admin: SocketAddr) -> Option<(u16, String)> {
    tokio::net::TcpStream::connect(admin).await.ok()?;
    let req = Request::get("/healthz/ready")
        .header("host", "admin")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let got = send(admin, req).await.ok()?;
    Some((got.status.as_u16(), got.text()))
}

fn snapshot(listener: SocketAddr, backend: SocketAddr, route_config: &str) -> Snapshot {
    let yaml = fill(
        r#"
listeners:
  - {name: out, address: "{listener}", direction: outbound, routeConfig: {rc}}
routes:
  - name: out
    virtualHosts: [{name: all, domains: ["*"], routes: [{route: [{cluster: app}]}]}]
clusters:
  - {name: app, endpoints: [{address: "{backend}"}]}
"#,
        &[
            ("listener", listener.to_string()),
            ("backend", backend.to_string()),
            ("rc", route_config.to_string()),
        ],
    );
    Snapshot::from_yaml(&yaml).expect("test snapshot parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_applies_pushed_snapshots_and_acks_or_nacks() {
    let cp = FakeControlPlane::start().await;
    let dir = tempfile_dir();
    let workload = dir.join("workload.yaml");
    std::fs::write(
        &workload,
        "name: app-0\nservice: app\nports: [{name: http, port: 8080}]\n\
         inbound: 127.0.0.1:1\noutbound: 127.0.0.1:2\napp: 127.0.0.1:3\n",
    )
    .expect("workload file");
    std::fs::write(dir.join("token"), "the-token\n").expect("token file");
    let (admin, stats, health) = (free_addr(), free_addr(), free_addr());
    let child = Command::new(env!("CARGO_BIN_EXE_mesh-proxy"))
        .args(["run", "--control-plane", &cp.addr.to_string()])
        .arg("--token-file")
        .arg(dir.join("token"))
        .arg("--workload-file")
        .arg(&workload)
        .args(["--admin-addr", &admin.to_string()])
        .args(["--stats-addr", &stats.to_string()])
        .args(["--health-addr", &health.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("start mesh-proxy");
    let mut proxy = Killed(child);

    let ProxyMessage::Hello { node, token } = cp.next_message(WAIT).await else {
        panic!("the first message is the hello");
    };
    assert_eq!(
        (node.id().as_str(), token.as_str()),
        ("app-0.default", "the-token")
    );
    // Where the control plane scrapes metrics: the addresses the proxy really listens on.
    assert_eq!((node.admin, node.stats), (Some(admin), Some(stats)));
    let (status, text) = eventually(WAIT, "the not-ready health port", || ready(health)).await;
    assert_eq!(status, 503);
    assert!(text.contains("NOT READY"), "{text}");

    let app = Backend::start("app").await;
    let out = free_addr();
    cp.push("v1", snapshot(out, app.addr, "out"));
    assert_eq!(
        cp.next_message(WAIT).await,
        ProxyMessage::Ack {
            version: "v1".into()
        }
    );
    eventually(WAIT, "ready", || async {
        ready(health).await.filter(|(s, _)| *s == 200)
    })
    .await;
    assert_eq!(get(out, "http://app/").await.backend(), Some("app"));

    cp.push("v2", snapshot(out, app.addr, "missing"));
    let ProxyMessage::Nack { version, error } = cp.next_message(WAIT).await else {
        panic!("a NACK");
    };
    assert_eq!(version, "v2");
    assert!(error.contains("missing"), "{error}");
    assert_eq!(
        get(out, "http://app/").await.backend(),
        Some("app"),
        "v1 still serves"
    );

    // The stream ends: the proxy keeps serving, reconnects and says hello again.
    cp.end_stream();
    let again = cp.next_message(WAIT).await;
    assert!(matches!(again, ProxyMessage::Hello { .. }), "{again:?}");
    assert_eq!(get(out, "http://app/").await.backend(), Some("app"));
    cp.push("v1", snapshot(out, app.addr, "out"));
    assert_eq!(
        cp.next_message(WAIT).await,
        ProxyMessage::Ack {
            version: "v1".into()
        }
    );

    let term = Command::new("kill")
        .args(["-TERM", &proxy.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let exit = eventually(WAIT, "exit after SIGTERM", || {
        let s = proxy.0.try_wait().ok().flatten();
        async move { s }
    })
    .await;
    assert!(exit.success(), "{exit:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mesh-xds-binary-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
