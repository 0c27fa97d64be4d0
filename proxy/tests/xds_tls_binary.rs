//! The real `mesh-proxy` executable with `--control-plane <TLS port> --ca-root`, against the
//! real control plane server run in-process (its library; the binary cannot be built from
//! this crate's tests): the proxy gets a certificate, becomes ready, and its traffic to its
//! own service is mTLS; a proxy with a forged token stays NOT READY with the CA's 403 reason.
//! Every process is killed by PID when the test ends.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use mesh_controlplane::ca::{Ca, CertificateService, Identity, TokenAuthority};
use mesh_controlplane::server::{self, HubOptions, TlsPort};
use mesh_controlplane::store::MemoryStore;
use mesh_proxy::testing::{eventually, free_addr, get, Backend};
use tokio::net::TcpListener;
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(20);

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path` on `addr`: status and body; None while nothing answers (the not-ready
/// server hands its ports over to the real one: a connection can be reset meanwhile).
async fn admin_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .ok()?;
    tokio::spawn(conn);
    let req = Request::get(path)
        .header("host", "admin")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = sender.send_request(req).await.ok()?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.ok()?.to_bytes();
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

struct Proxy {
    _process: Killed,
    outbound: SocketAddr,
    admin: SocketAddr,
    health: SocketAddr,
}

/// Starts `mesh-proxy` for workload reviews-v1 in front of `app`, with `token`.
fn start_proxy(
    dir: &Path,
    tag: &str,
    cp: SocketAddr,
    root: &Path,
    token: &str,
    app: SocketAddr,
) -> Proxy {
    let (inbound, outbound) = (free_addr(), free_addr());
    let workload = dir.join(format!("{tag}.yaml"));
    std::fs::write(
        &workload,
        format!(
            "name: reviews-{tag}-0\nservice: reviews\nserviceAccount: reviews\n\
             labels: {{app: reviews, version: {tag}}}\nports: [{{name: http, port: 9080}}]\n\
             inbound: {inbound}\noutbound: {outbound}\napp: {app}\n"
        ),
    )
    .expect("workload file");
    let token_file = dir.join(format!("{tag}.token"));
    std::fs::write(&token_file, token).expect("token file");
    let (admin, stats, health) = (free_addr(), free_addr(), free_addr());
    let child = Command::new(env!("CARGO_BIN_EXE_mesh-proxy"))
        .args(["run", "--control-plane", &cp.to_string()])
        .arg("--ca-root")
        .arg(root)
        .arg("--token-file")
        .arg(&token_file)
        .arg("--workload-file")
        .arg(&workload)
        .args(["--admin-addr", &admin.to_string()])
        .args(["--stats-addr", &stats.to_string()])
        .args(["--health-addr", &health.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("start mesh-proxy");
    Proxy {
        _process: Killed(child),
        outbound,
        admin,
        health,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_gets_a_certificate_and_serves_mtls_or_stays_not_ready() {
    let dir = std::env::temp_dir().join(format!("mesh-xds-tls-binary-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");

    // The control plane, in-process, on a throwaway CA.
    let ca = Arc::new(Ca::ephemeral("cluster.local").expect("ca"));
    let root = dir.join("root-cert.pem");
    std::fs::write(&root, ca.trust_bundle_pem()).expect("root file");
    let tokens = TokenAuthority::from_secret(&[3; 32]);
    let certs = Arc::new(CertificateService::new(ca, Arc::new(tokens.clone())));
    let bind = || async { TcpListener::bind(free_addr()).await.expect("bind") };
    let (_stop, stop_rx) = watch::channel(false);
    let bound = server::serve(
        Arc::new(MemoryStore::new()),
        tokens.clone(),
        bind().await,
        Some(TlsPort {
            listener: bind().await,
            certs,
        }),
        bind().await,
        HubOptions {
            debounce: Duration::from_millis(10),
            grace: Duration::from_secs(1),
            registry_file: None,
            scrape_interval: Duration::from_secs(1),
        },
        stop_rx,
    )
    .await
    .expect("control plane");
    let tls_port = bound.xds_tls.expect("TLS port");

    let app = Backend::start("reviews-v1").await;
    let id = Identity::new("cluster.local", "default", "reviews").expect("id");
    let token = tokens.issue(&id, Duration::from_secs(3600));
    let good = start_proxy(&dir, "v1", tls_port, &root, &token, app.addr);
    eventually(WAIT, "ready", || async {
        admin_get(good.health, "/healthz/ready")
            .await
            .filter(|(s, _)| *s == 200)
    })
    .await;
    // Its own service, through its outbound and inbound listeners: mTLS (auto, as both ends
    // hold a mesh certificate).
    assert_eq!(
        get(good.outbound, "http://reviews:9080/").await.backend(),
        Some("reviews-v1")
    );
    let (_, stats) = admin_get(good.admin, "/stats/prometheus")
        .await
        .expect("stats");
    assert!(
        stats.lines().any(|l| l.starts_with("istio_requests_total")
            && l.contains("reporter=\"destination\"")
            && l.contains("connection_security_policy=\"mutual_tls\"")
            && l.contains("source_principal=\"spiffe://cluster.local/ns/default/sa/reviews\"")),
        "{stats}"
    );
    // pilot-agent's certificate-expiry gauge, for the certificate the CA just issued.
    let expiry = stats
        .lines()
        .find(|l| l.starts_with("istio_agent_cert_expiry_seconds{resource_name=\"default\"} "))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(expiry.is_some_and(|s| s > 0.0), "{stats}");

    let forged = TokenAuthority::from_secret(&[4; 32]).issue(&id, Duration::from_secs(3600));
    let bad = start_proxy(&dir, "v2", tls_port, &root, &forged, app.addr);
    let (status, text) = eventually(WAIT, "the CA's refusal on the health port", || async {
        admin_get(bad.health, "/healthz/ready")
            .await
            .filter(|(_, t)| t.contains("403"))
    })
    .await;
    assert_eq!(status, 503);
    assert!(
        text.contains("NOT READY") && text.contains("signature"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
