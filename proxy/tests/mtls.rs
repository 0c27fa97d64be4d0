//! mTLS and AuthorizationPolicy between two in-process proxies over real sockets, with
//! certificates from a throwaway CA: client proxy (sa `client`) -> ISTIO_MUTUAL -> server
//! proxy's inbound listener (sa `server`) -> backend.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mesh_controlplane::ca::{Ca, Identity, IssuedCert, WorkloadCerts, WorkloadKey};
use mesh_proxy::testing::{
    eventually, fill, get, metric_sum, metric_value, raw_exchange, scrape, scrape_server,
    start_proxy_with, Backend, TcpRelay,
};
use mesh_proxy::tls::IdentitySource;
use mesh_proxy::{Proxy, ProxyOptions};

const CLIENT_ID: &str = "spiffe://cluster.local/ns/default/sa/client";
const SERVER_ID: &str = "spiffe://cluster.local/ns/default/sa/server";

/// A fresh key and the certificate `ca` signs for service account `sa` of `default`.
fn issue(ca: &Ca, sa: &str, ttl: Duration) -> (IssuedCert, WorkloadKey) {
    let id = Identity::new(ca.trust_domain(), "default", sa).expect("identity");
    let key = WorkloadKey::generate().expect("key");
    let issued = ca
        .sign_csr(&key.csr_pem(&id).expect("csr"), &id, ttl)
        .expect("signed");
    (issued, key)
}

fn identity(ca: &Ca, sa: &str) -> IdentitySource {
    let (issued, key) = issue(ca, sa, Duration::from_secs(3600));
    IdentitySource::InProcess {
        certs: Arc::new(WorkloadCerts::new(issued.chain, key.private_key_der()).expect("certs")),
        trust_bundle: Arc::new(
            mesh_identity::TrustBundle::new(ca.trust_bundle().to_vec()).expect("bundle"),
        ),
    }
}

const SERVER: &str = r#"
node: {workload: server-v1, app: server, version: v1}
listeners:
  - name: inbound
    address: "127.0.0.1:0"
    direction: inbound
    routeConfig: in
    peerAuthentication: {mode: {mode}}
    authorization: {authz}
routes: [{name: in, virtualHosts: [{name: app, domains: ["*"], routes: [{route: [{cluster: app}]}]}]}]
# The inbound cluster's endpoint is the workload itself (destination labels), as translated.
clusters: [{name: app, endpoints: [{address: "{backend}", workload: server-v1, principal: "spiffe://cluster.local/ns/default/sa/server"}]}]
"#;

const CLIENT: &str = r#"
node: {workload: client-v1, app: client, version: v1}
listeners: [{name: out, address: "127.0.0.1:0", direction: outbound, routeConfig: out}]
routes: [{name: out, virtualHosts: [{name: server, domains: [server], routes: [{route: [{cluster: server}]}]}]}]
clusters:
  - name: server
    service: server.default.svc.cluster.local
    endpoints: [{address: "{server}", workload: server-v1, principal: "{expect}"}]
    tls: {mode: ISTIO_MUTUAL}
"#;

fn snapshot(template: &str, vars: &[(&str, String)]) -> mesh_api::snapshot::Snapshot {
    mesh_proxy::config::parse(Path::new("t.yaml"), &fill(template, vars)).expect("valid")
}

struct Mesh {
    backend: Backend,
    server: Arc<Proxy>,
    client: Arc<Proxy>,
    inbound: std::net::SocketAddr,
    /// Between the client proxy and the server's inbound listener, counting connections.
    relay: TcpRelay,
    out: std::net::SocketAddr,
    backend_addr: String,
    /// The server proxy's access log.
    log: std::path::PathBuf,
}

impl Mesh {
    async fn start(mode: &str, authz: &str, expect: &str) -> Mesh {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = std::env::temp_dir().join(format!("mesh-mtls-{}-{n}.log", std::process::id()));
        let ca = Ca::ephemeral("cluster.local").expect("ca");
        let backend = Backend::start("app").await;
        let backend_addr = backend.addr.to_string();
        let server = start_proxy_with(
            SERVER,
            &server_vars(mode, authz, &backend_addr),
            ProxyOptions {
                identity: Some(identity(&ca, "server")),
                access_log: Some(mesh_proxy::access_log::LogTarget::File(log.clone())),
                ..Default::default()
            },
        )
        .await;
        let inbound = server.listener_addr("inbound").expect("inbound");
        let relay = TcpRelay::start(inbound).await;
        let client = start_proxy_with(
            CLIENT,
            &[
                ("server", relay.addr.to_string()),
                ("expect", expect.into()),
            ],
            ProxyOptions {
                identity: Some(identity(&ca, "client")),
                ..Default::default()
            },
        )
        .await;
        let out = client.listener_addr("out").expect("out");
        Mesh {
            backend,
            server,
            client,
            inbound,
            relay,
            out,
            backend_addr,
            log,
        }
    }

    fn set_server(&self, mode: &str, authz: &str) {
        self.server
            .apply(snapshot(
                SERVER,
                &server_vars(mode, authz, &self.backend_addr),
            ))
            .expect("applied");
    }
}

fn server_vars(mode: &str, authz: &str, backend: &str) -> Vec<(&'static str, String)> {
    vec![
        ("mode", mode.into()),
        ("authz", authz.into()),
        ("backend", backend.into()),
    ]
}

const PLAIN_GET: &[u8] = b"GET /plain HTTP/1.1\r\nhost: server\r\n\r\n";

#[tokio::test]
async fn mtls_between_proxies_with_principals_in_metrics() {
    let m = Mesh::start("STRICT", "[]", SERVER_ID).await;
    let got = get(m.out, "http://server/hello").await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.backend(), Some("app"));
    // Several requests share the one multiplexed connection.
    for _ in 0..3 {
        assert_eq!(get(m.out, "http://server/again").await.status, 200);
    }
    assert_eq!(m.relay.conns(), 1, "one multiplexed h2 connection per peer");
    let server = scrape(&m.server).await;
    let inbound = [
        ("reporter", "destination"),
        ("connection_security_policy", "mutual_tls"),
        ("source_principal", CLIENT_ID),
        ("destination_principal", SERVER_ID),
        ("response_code", "200"),
    ];
    assert_eq!(
        metric_sum(&server, "istio_requests_total", &inbound),
        4.0,
        "{server}"
    );
    let client = scrape(&m.client).await;
    let outbound = [
        ("reporter", "source"),
        ("source_principal", CLIENT_ID),
        ("destination_principal", SERVER_ID),
        ("response_code", "200"),
    ];
    assert_eq!(
        metric_sum(&client, "istio_requests_total", &outbound),
        4.0,
        "{client}"
    );
}

#[tokio::test]
async fn strict_refuses_plaintext_permissive_accepts_both() {
    let m = Mesh::start("STRICT", "[]", SERVER_ID).await;
    let answer = raw_exchange(m.inbound, PLAIN_GET, Duration::from_secs(2)).await;
    assert_eq!(answer, "", "STRICT must close a plain-text connection");
    assert_eq!(m.backend.hits(), 0);
    let text = scrape(&m.server).await;
    assert_eq!(
        metric_sum(&text, "mesh_proxy_inbound_plaintext_rejected_total", &[]),
        1.0
    );

    m.set_server("PERMISSIVE", "[]");
    let answer = raw_exchange(m.inbound, PLAIN_GET, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(get(m.out, "http://server/tls").await.status, 200);
    let text = scrape(&m.server).await;
    let plain = [
        ("connection_security_policy", "none"),
        ("response_code", "200"),
    ];
    let mtls = [
        ("connection_security_policy", "mutual_tls"),
        ("response_code", "200"),
    ];
    assert_eq!(
        metric_sum(&text, "istio_requests_total", &plain),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric_sum(&text, "istio_requests_total", &mtls),
        1.0,
        "{text}"
    );
}

#[tokio::test]
async fn client_refuses_a_server_with_another_identity() {
    let m = Mesh::start(
        "STRICT",
        "[]",
        "spiffe://cluster.local/ns/default/sa/someone-else",
    )
    .await;
    let got = get(m.out, "http://server/x").await;
    assert_eq!(got.status, 503, "{}", got.text());
    let text = scrape(&m.client).await;
    assert_eq!(
        metric_sum(&text, "istio_requests_total", &[("response_flags", "UF")]),
        1.0,
        "{text}"
    );
    assert_eq!(m.backend.hits(), 0);
}

#[tokio::test]
async fn deny_admin_path_gets_403_rbac() {
    let deny = r#"[{name: default/deny-admin, action: DENY, rules: [{to: [{operation: {paths: ["/admin*"]}}]}]}]"#;
    let m = Mesh::start("STRICT", deny, SERVER_ID).await;
    let got = get(m.out, "http://server/admin/users").await;
    assert_eq!(got.status, 403);
    assert_eq!(got.text(), "RBAC: access denied");
    assert_eq!(get(m.out, "http://server/public").await.status, 200);
    assert_eq!(m.backend.hits(), 1);
    let text = scrape(&m.server).await;
    let denied = [
        ("reporter", "destination"),
        ("response_code", "403"),
        ("source_principal", CLIENT_ID),
    ];
    assert_eq!(
        metric_sum(&text, "istio_requests_total", &denied),
        1.0,
        "{text}"
    );
    assert_eq!(metric_sum(&text, "envoy_http_rbac_denied", &[]), 1.0);
    let line = eventually(
        Duration::from_secs(2),
        "the denial in the access log",
        || async {
            let text = std::fs::read_to_string(&m.log).unwrap_or_default();
            text.lines()
                .find(|l| l.contains("\"response_code\":403"))
                .map(str::to_owned)
        },
    )
    .await;
    assert!(
        line.contains("rbac_access_denied_matched_policy[default/deny-admin]"),
        "{line}"
    );
    let _ = std::fs::remove_file(&m.log);
}

#[tokio::test]
async fn allow_only_another_principal_then_policy_change_applies_at_once() {
    let only_x = r#"[{name: default/only-x, rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/x"]}}]}]}]"#;
    let m = Mesh::start("STRICT", only_x, SERVER_ID).await;
    let got = get(m.out, "http://server/").await;
    assert_eq!(got.status, 403);
    assert_eq!(got.text(), "RBAC: access denied");

    let also_client = r#"[{name: default/only-x, rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/x", "cluster.local/ns/default/sa/client"]}}]}]}]"#;
    m.set_server("STRICT", also_client);
    eventually(
        Duration::from_secs(1),
        "the new policy allows the client",
        || async { (get(m.out, "http://server/").await.status == 200).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn identity_from_pem_files() {
    use mesh_controlplane::ca::x509::certs_to_pem;
    use mesh_proxy::tls::TlsContext;
    let ca = Ca::ephemeral("cluster.local").expect("ca");
    let (issued, key) = issue(&ca, "server", Duration::from_secs(3600));
    let dir = std::env::temp_dir().join(format!("mesh-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (chain, key_path, bundle) = (
        dir.join("chain.pem"),
        dir.join("key.pem"),
        dir.join("ca.pem"),
    );
    std::fs::write(&chain, certs_to_pem(&issued.chain)).expect("write");
    std::fs::write(&key_path, key.private_key_pem()).expect("write");
    std::fs::write(&bundle, ca.trust_bundle_pem()).expect("write");
    let source = IdentitySource::Files {
        cert_chain: chain,
        key: key_path,
        trust_bundle: bundle.clone(),
    };
    let tls = TlsContext::load(&source).expect("loads");
    assert_eq!(tls.spiffe_id, SERVER_ID);
    std::fs::remove_file(&bundle).expect("rm");
    let err = TlsContext::load(&source)
        .expect_err("missing bundle")
        .to_string();
    assert!(err.contains("ca.pem"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn identity_flags_are_documented_and_go_together() {
    let bin = env!("CARGO_BIN_EXE_mesh-proxy");
    let help = std::process::Command::new(bin)
        .args(["run", "--help"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in ["--cert-chain", "--key", "--trust-bundle"] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
    let alone = std::process::Command::new(bin)
        .args(["run", "--config", "x.yaml", "--cert-chain", "c.pem"])
        .output()
        .expect("runs");
    assert_eq!(alone.status.code(), Some(2), "usage error");
}

/// Certificates rotated in process are served to the next handshake, while the open
/// multiplexed connection keeps working.
#[tokio::test]
async fn rotated_certificate_is_served_without_dropping_connections() {
    use mesh_controlplane::ca::tls::client_config;
    use rustls_pki_types::ServerName;

    let ca = Ca::ephemeral("cluster.local").expect("ca");
    let backend = Backend::start("app").await;
    let server_source = identity(&ca, "server");
    let IdentitySource::InProcess { certs, .. } = &server_source else {
        unreachable!("identity() is in-process")
    };
    let certs = certs.clone();
    let server = start_proxy_with(
        SERVER,
        &server_vars("STRICT", "[]", &backend.addr.to_string()),
        ProxyOptions {
            identity: Some(server_source.clone()),
            ..Default::default()
        },
    )
    .await;
    let inbound = server.listener_addr("inbound").expect("inbound");
    let relay = TcpRelay::start(inbound).await;
    let client = start_proxy_with(
        CLIENT,
        &[
            ("server", relay.addr.to_string()),
            ("expect", SERVER_ID.into()),
        ],
        ProxyOptions {
            identity: Some(identity(&ca, "client")),
            ..Default::default()
        },
    )
    .await;
    let out = client.listener_addr("out").expect("out");
    assert_eq!(get(out, "http://server/1").await.status, 200);

    let before = certs.leaf().expect("leaf");
    let (issued, key) = issue(&ca, "server", Duration::from_secs(3600));
    certs
        .rotate(issued.chain, key.private_key_der())
        .expect("rotated");
    let after = certs.leaf().expect("leaf");
    assert_ne!(before, after);

    assert_eq!(get(out, "http://server/2").await.status, 200);
    assert_eq!(
        relay.conns(),
        1,
        "the open connection survived the rotation"
    );

    // A new handshake sees the new certificate.
    let (probe, probe_key) = issue(&ca, "probe", Duration::from_secs(3600));
    let server_id = Identity::new("cluster.local", "default", "server").expect("id");
    let config = client_config(
        probe.chain,
        probe_key.private_key_der(),
        ca.trust_bundle(),
        &server_id,
    )
    .expect("client config");
    let tcp = tokio::net::TcpStream::connect(inbound)
        .await
        .expect("connect");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("server").expect("name"), tcp)
        .await
        .expect("handshake");
    let served = tls.get_ref().1.peer_certificates().expect("certs")[0].clone();
    assert_eq!(served, after);
}

/// `istio_agent_cert_expiry_seconds{resource_name="default"}` on both Prometheus servers.
async fn cert_expiry(proxy: &Proxy) -> [Option<f64>; 2] {
    let mut out = [None; 2];
    for (slot, server) in out.iter_mut().zip(["admin", "stats"]) {
        let text = scrape_server(proxy, server).await;
        *slot = metric_value(
            &text,
            "istio_agent_cert_expiry_seconds",
            &[("resource_name", "default")],
        );
    }
    out
}

/// The notAfter `/config_dump` shows for the certificate served now (Unix seconds).
async fn dumped_not_after(proxy: &Proxy) -> u64 {
    let admin = proxy.admin_addr("admin").expect("admin");
    let req = http::Request::get("/config_dump")
        .header("host", "admin")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("req");
    let dump: serde_json::Value = serde_json::from_str(
        &mesh_proxy::testing::send(admin, req)
            .await
            .expect("dump")
            .text(),
    )
    .expect("json");
    dump["certificate"]["not_after"]
        .as_u64()
        .expect("not_after")
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// The proxy exports pilot-agent's certificate-expiry gauge, computed at each scrape from the
/// certificate it serves, so it follows a rotation; a proxy without a certificate has none.
#[tokio::test]
async fn cert_expiry_gauge_follows_the_served_certificate() {
    let ca = Ca::ephemeral("cluster.local").expect("ca");
    let backend = Backend::start("app").await;
    let source = identity(&ca, "server"); // 1 h
    let IdentitySource::InProcess { certs, .. } = &source else {
        unreachable!("identity() is in-process")
    };
    let certs = certs.clone();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let vars = server_vars("PERMISSIVE", "[]", &backend.addr.to_string());
    let opts = ProxyOptions {
        stats_addr: Some(any),
        ..Default::default()
    };
    let server = start_proxy_with(
        SERVER,
        &vars,
        ProxyOptions {
            identity: Some(source.clone()),
            ..opts.clone()
        },
    )
    .await;

    let not_after = dumped_not_after(&server).await as f64;
    let [admin, stats] = cert_expiry(&server).await;
    let (admin, stats) = (
        admin.expect("on /stats/prometheus"),
        stats.expect("on 15020"),
    );
    let now = unix_now();
    for left in [admin, stats] {
        assert!((3590.0..=3600.0).contains(&left), "{left}");
        assert!(
            (now + left - not_after).abs() < 1.5,
            "{now} + {left} vs {not_after}"
        );
    }
    let text = scrape(&server).await;
    assert!(
        text.contains("# TYPE istio_agent_cert_expiry_seconds gauge\n"),
        "{text}"
    );

    // Rotated to a 2 h certificate: the next scrape reports it.
    let (issued, key) = issue(&ca, "server", Duration::from_secs(7200));
    certs
        .rotate(issued.chain, key.private_key_der())
        .expect("rotated");
    let rotated = dumped_not_after(&server).await as f64;
    assert!(rotated >= not_after + 3590.0, "{rotated} vs {not_after}");
    let [admin, stats] = cert_expiry(&server).await;
    let now = unix_now();
    for left in [admin, stats] {
        let left = left.expect("still exported");
        assert!((7190.0..=7200.0).contains(&left), "{left}");
        assert!(
            (now + left - rotated).abs() < 1.5,
            "{now} + {left} vs {rotated}"
        );
    }

    // Plain text (no identity): the family is left out, not reported as zero.
    let plain = start_proxy_with(SERVER, &vars, opts).await;
    assert_eq!(cert_expiry(&plain).await, [None, None]);
    let text = scrape(&plain).await;
    assert!(!text.contains("istio_agent_cert_expiry_seconds"), "{text}");
}

/// With `subjectAltNames` the endpoint's configured principal is not what is checked: the
/// client's `destination_principal` is the identity the server proved.
#[tokio::test]
async fn destination_principal_comes_from_the_handshake() {
    let client = CLIENT
        .replace("principal: \"{expect}\"", "principal: \"\"")
        .replace(
            "tls: {mode: ISTIO_MUTUAL}",
            "tls: {mode: ISTIO_MUTUAL, subjectAltNames: [\"{expect}\"]}",
        );
    let ca = Ca::ephemeral("cluster.local").expect("ca");
    let backend = Backend::start("app").await;
    let server = start_proxy_with(
        SERVER,
        &server_vars("STRICT", "[]", &backend.addr.to_string()),
        ProxyOptions {
            identity: Some(identity(&ca, "server")),
            ..Default::default()
        },
    )
    .await;
    let inbound = server.listener_addr("inbound").expect("inbound");
    let client = start_proxy_with(
        &client,
        &[
            ("server", inbound.to_string()),
            ("expect", SERVER_ID.into()),
        ],
        ProxyOptions {
            identity: Some(identity(&ca, "client")),
            ..Default::default()
        },
    )
    .await;
    let out = client.listener_addr("out").expect("out");
    assert_eq!(get(out, "http://server/").await.status, 200);
    assert_eq!(get(out, "http://server/").await.status, 200);
    let text = scrape(&client).await;
    let labels = [("reporter", "source"), ("destination_principal", SERVER_ID)];
    assert_eq!(
        metric_sum(&text, "istio_requests_total", &labels),
        2.0,
        "{text}"
    );
}
