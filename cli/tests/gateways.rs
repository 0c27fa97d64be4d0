//! The gateways `meshctl install` runs on the local platform (`mesh-proxy` in router mode):
//! the default profile's ingress gateway routes a Gateway + VirtualService to a backend,
//! the demo profile adds the egress gateway, re-install repairs a killed gateway, a profile
//! without gateways stops them, and a busy gateway port is named with its `--set` key.
//! Every [`Mesh`] uninstalls and kills what its records name on drop, pass or fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mesh_proxy::testing::{eventually, Backend};
use support::{alive, eventually_blocking, http_get, wait_dead, Mesh, WAIT};

/// A Gateway on the ingress gateway's port 80, a ServiceEntry whose STATIC endpoint is
/// `backend`, and a VirtualService bound to the Gateway routing everything to it.
fn route_to(backend: std::net::SocketAddr) -> String {
    format!(
        "apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {{name: web, namespace: default}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: ['*']
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {{name: backend, namespace: default}}
spec:
  hosts: [backend.test.internal]
  ports: [{{number: 80, name: http, protocol: HTTP, targetPort: {port}}}]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{{address: {ip}}}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {{name: web, namespace: default}}
spec:
  hosts: ['*']
  gateways: [web]
  http:
  - route:
    - destination: {{host: backend.test.internal, port: {{number: 80}}}}
",
        ip = backend.ip(),
        port = backend.port()
    )
}

/// Runs meshctl from an async test without stalling the backend on this runtime.
fn meshctl(mesh: &Mesh, args: &[&str]) -> support::Run {
    tokio::task::block_in_place(|| mesh.run(args))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_profile_ingress_gateway_routes_to_a_backend_and_uninstall_stops_it() {
    let mesh = Mesh::new();
    let backend = Backend::start("backend").await;
    let run = tokio::task::block_in_place(|| mesh.install("default", &[]));
    run.expect_code(0);
    for line in [
        "✔ Control plane installed",
        "✔ Ingress gateway installed",
        "✔ Installation complete",
    ] {
        assert!(run.stdout.contains(line), "{line}: {}", run.stdout);
    }
    assert!(
        !run.stdout.contains("Egress gateway installed"),
        "{}",
        run.stdout
    );
    let cp = mesh.pid().expect("control plane pid");
    let gw = mesh.pid_of("ingressGateway").expect("gateway pid");
    assert!(alive(cp) && alive(gw));
    // Ready on its own health port.
    let health = tokio::task::block_in_place(|| http_get(mesh.ingress.health, "/healthz/ready"));
    assert_eq!(health.map(|r| r.0), Some(200));

    let config = mesh.home().join("route.yaml");
    std::fs::write(&config, route_to(backend.addr)).expect("write config");
    let path = config.display().to_string();
    meshctl(&mesh, &["apply", "-f", &path]).expect_code(0);
    let ingress = mesh.ingress.http;
    eventually(
        WAIT,
        "the ingress gateway to route / to the backend",
        || async {
            let got = tokio::task::block_in_place(|| http_get(ingress, "/"))?;
            (got.0 == 200 && backend.hits() > 0).then_some(())
        },
    )
    .await;
    assert_eq!(
        backend.seen().last().map(|s| s.uri.clone()).as_deref(),
        Some("/")
    );

    // The control plane lists it SYNCED, and verify-install checks it for real.
    let verify = meshctl(&mesh, &["verify-install"]);
    verify.expect_code(0);
    for line in [
        format!(
            "√ the ingress gateway answers ready on http://{}/healthz/ready",
            mesh.ingress.health
        ),
        "√ the ingress gateway (istio-ingressgateway-0.istio-system) is SYNCED".to_string(),
    ] {
        assert!(verify.stdout.contains(&line), "{line}: {}", verify.stdout);
    }

    let down = meshctl(&mesh, &["uninstall", "--purge", "-y"]);
    down.expect_code(0);
    let stopped = format!("Ingress gateway stopped (pid {gw})");
    assert!(down.stdout.contains(&stopped), "{}", down.stdout);
    // The gateway is stopped before the control plane it talks to.
    let (g, c) = (
        down.stdout.find("Ingress gateway stopped"),
        down.stdout.find("Control plane stopped"),
    );
    assert!(g.is_some() && g < c, "{}", down.stdout);
    assert!(!alive(gw), "no gateway process remains");
    assert!(!alive(cp), "no control plane process remains");
    assert!(!mesh.home().exists());
}

#[test]
fn the_demo_profile_starts_the_egress_gateway() {
    let mesh = Mesh::new();
    let run = mesh.install("demo", &[]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("✔ Egress gateway installed"),
        "{}",
        run.stdout
    );
    let egress = mesh.pid_of("egressGateway").expect("egress pid");
    let ingress = mesh.pid_of("ingressGateway").expect("ingress pid");
    assert!(alive(egress) && alive(ingress));
    assert_eq!(
        http_get(mesh.egress.health, "/healthz/ready").map(|r| r.0),
        Some(200)
    );
    let workload =
        std::fs::read_to_string(mesh.home().join("gateways/egressGateway/workload.yaml"))
            .expect("egress workload file");
    assert!(workload.contains("istio: egressgateway"), "{workload}");
    assert!(workload.contains("proxyType: router"), "{workload}");
    let token = mesh.home().join("gateways/egressGateway/token");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token)
        .expect("token")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the token is private");
    // Both gateways are listed by the control plane.
    eventually_blocking(WAIT, "both gateways SYNCED", || {
        let (_, body) = mesh.get("/debug/proxies")?;
        let all: serde_json::Value = serde_json::from_str(&body).ok()?;
        let synced = |id: &str| {
            all.as_array()
                .is_some_and(|a| a.iter().any(|p| p["id"] == id && p["state"] == "SYNCED"))
        };
        (synced("istio-egressgateway-0.istio-system")
            && synced("istio-ingressgateway-0.istio-system"))
        .then_some(())
    });
}

#[test]
fn reinstall_keeps_and_repairs_gateways_and_minimal_stops_them() {
    let mesh = Mesh::new();
    mesh.install("default", &[]).expect_code(0);
    let gw = mesh.pid_of("ingressGateway").expect("gateway pid");

    let again = mesh.install("default", &[]);
    again.expect_code(0);
    assert!(
        again.stdout.contains(&format!(
            "Ingress gateway installed (already running, pid {gw})"
        )),
        "{}",
        again.stdout
    );

    support::kill(gw, rustix::process::Signal::KILL);
    wait_dead(gw);
    let repaired = mesh.install("default", &[]);
    repaired.expect_code(0);
    assert!(
        repaired.stdout.contains("was not running"),
        "{}",
        repaired.stdout
    );
    let gw = mesh.pid_of("ingressGateway").expect("new gateway pid");
    assert!(alive(gw));

    // Moving the gateway's HTTP port (only in its workload file) restarts it.
    let moved = support::free_addr();
    let set = format!("values.ingressGateway.port={}", moved.port());
    let run = mesh.install("default", &["--set", &set]);
    run.expect_code(0);
    assert!(run.stdout.contains("settings changed"), "{}", run.stdout);
    assert!(!alive(gw));
    let gw = mesh.pid_of("ingressGateway").expect("moved gateway pid");

    let cp = mesh.pid().expect("control plane pid");
    let minimal = mesh.install("minimal", &[]);
    minimal.expect_code(0);
    assert!(
        minimal.stdout.contains("✔ Ingress gateway removed"),
        "{}",
        minimal.stdout
    );
    assert!(!alive(gw), "the gateway is stopped");
    assert!(mesh.record_of("ingressGateway").is_none());
    assert_eq!(mesh.pid(), Some(cp), "the control plane is kept");
}

#[test]
fn a_busy_gateway_port_is_named_with_the_set_that_moves_it() {
    let mesh = Mesh::new();
    let busy = std::net::TcpListener::bind(mesh.ingress.health).expect("hold the health port");
    let run = mesh.install("default", &[]);
    run.expect_code(1);
    let all = run.all();
    assert!(
        all.contains(&format!(
            "{} (values.ingressGateway.healthPort) is in use",
            mesh.ingress.health
        )),
        "{all}"
    );
    assert!(
        all.contains("--set values.ingressGateway.healthPort=PORT"),
        "{all}"
    );
    assert!(mesh.record().is_none(), "nothing started");
    drop(busy);
}

/// `values.certificates` reaches the CA: the gateway's certificate names the profile's trust
/// domain and lives for its TTL, and a re-install with another trust domain is refused before
/// anything changes (the CA was made for the first one).
#[test]
fn certificates_values_set_the_trust_domain_and_lifetime() {
    let mesh = Mesh::new();
    let set = [
        "--set",
        "values.certificates.trustDomain=example.org",
        "--set",
        "values.certificates.ttl=2h",
    ];
    mesh.install("default", &set).expect_code(0);
    let secrets = eventually_blocking(WAIT, "the ingress gateway's certificate", || {
        let run = mesh.run(&[
            "proxy-config",
            "istio-ingressgateway-0.istio-system",
            "secrets",
            "-o",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&run.stdout).ok()?;
        v["notAfter"].is_u64().then_some(v)
    });
    assert_eq!(
        secrets["spiffeId"],
        "spiffe://example.org/ns/istio-system/sa/istio-ingressgateway-service-account",
        "{secrets}"
    );
    let lifetime = secrets["notAfter"].as_u64().unwrap() - secrets["notBefore"].as_u64().unwrap();
    assert!((7_100..=7_300).contains(&lifetime), "2 h: {secrets}");

    let pid = mesh.pid().expect("control plane pid");
    let refused = mesh.install(
        "default",
        &["--set", "values.certificates.trustDomain=other.org"],
    );
    refused.expect_code(1);
    assert!(
        refused
            .all()
            .contains("values.certificates.trustDomain is \"other.org\", but this mesh's CA")
            && refused.all().contains("meshctl uninstall --purge"),
        "{}",
        refused.all()
    );
    assert_eq!(mesh.pid(), Some(pid), "nothing restarted");

    let bad = mesh.install(
        "default",
        &["--set", "values.certificates.trustDomain=Example.ORG"],
    );
    bad.expect_code(1);
    assert!(
        bad.all().contains(
            "values.certificates.trustDomain \"Example.ORG\" is not a valid trust domain"
        ),
        "{}",
        bad.all()
    );

    let short = mesh.install("default", &["--set", "values.certificates.ttl=1s"]);
    short.expect_code(1);
    assert!(
        short
            .all()
            .contains("values.certificates.ttl 1s is too short"),
        "{}",
        short.all()
    );
}
