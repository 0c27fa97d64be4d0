//! `meshctl proxy-status` and `meshctl proxy-config` against a real install (the minimal
//! profile's control plane) with in-process sidecars connected to it: SYNCED proxies, a
//! NACKing one listed first with its error, each kind of config table, unknown names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mesh_proxy::testing::eventually;
use serde_json::Value;
use support::workloads::{meshctl, tls_workload, wait_synced, workload, workload_with};
use support::{Mesh, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_status_lists_synced_proxies_and_nacks_first() {
    let mesh = Mesh::new();
    tokio::task::block_in_place(|| mesh.install("minimal", &[])).expect_code(0);

    let empty = meshctl(&mesh, &["proxy-status"]);
    empty.expect_code(0);
    assert!(
        empty.stderr.contains("No proxies are connected"),
        "{}",
        empty.all()
    );

    let pp = workload(&mesh, "productpage", "v1").await;
    let rv = workload(&mesh, "reviews", "v1").await;
    wait_synced(&mesh, &[pp.id(), rv.id()]).await;

    let run = meshctl(&mesh, &["proxy-status"]);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "SERVICE", "VERSION", "CONFIG"],
        "{}",
        run.stdout
    );
    assert!(
        lines[1].starts_with("productpage-v1-0.default   productpage.default   v1        SYNCED ("),
        "{}",
        run.stdout
    );
    assert!(
        lines[2].starts_with("reviews-v1-0.default       reviews.default       v1        SYNCED ("),
        "{}",
        run.stdout
    );

    // A proxy whose inbound address is taken cannot start its first snapshot: it NACKs.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap();
    let bad = workload_with(&mesh, "ratings", "v1", |o| o.node.inbound = taken_addr).await;
    // The new service is pushed to the other two as well: they are STALE until they ACK it.
    let status = eventually(WAIT, "ratings NACKED, the others SYNCED", || async {
        let run = meshctl(&mesh, &["proxy-status", "-o", "json"]);
        let v: Value = serde_json::from_str(&run.stdout).ok()?;
        let others_synced = v.as_array()?.iter().skip(1).all(|p| p["state"] == "SYNCED");
        (v[0]["state"] == "NACKED" && others_synced).then_some(v)
    })
    .await;
    assert_eq!(status[0]["name"], bad.id());
    let error = status[0]["error"].as_str().unwrap();
    assert!(error.contains(&taken_addr.to_string()), "{error}");
    assert_eq!(status[1]["state"], "SYNCED");
    assert_eq!(status.as_array().unwrap().len(), 3);

    let run = meshctl(&mesh, &["proxy-status"]);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[1].starts_with("ratings-v1-0.default") && lines[1].contains("NACKED ("),
        "{}",
        run.stdout
    );
    let nack = lines
        .iter()
        .find(|l| l.starts_with("NACKED ratings-v1-0.default rejected config "))
        .unwrap_or_else(|| panic!("no NACK line:\n{}", run.stdout));
    assert!(nack.contains(&taken_addr.to_string()), "{nack}");
    drop(taken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_config_shows_a_proxys_routes_clusters_and_listeners() {
    let mesh = Mesh::new();
    tokio::task::block_in_place(|| mesh.install("minimal", &[])).expect_code(0);
    let pp = workload(&mesh, "productpage", "v1").await;
    let v1 = workload(&mesh, "reviews", "v1").await;
    let v2 = workload(&mesh, "reviews", "v2").await;
    let rules = support::fixtures().join("destination-rule-reviews.yaml");
    meshctl(&mesh, &["apply", "-f", rules.to_str().unwrap()]).expect_code(0);
    let split = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: v2}, weight: 10}
";
    let run = tokio::task::block_in_place(|| mesh.run_stdin(&["apply", "-f", "-"], split));
    run.expect_code(0);
    wait_synced(&mesh, &[pp.id(), v1.id(), v2.id()]).await;

    // Routes: the push may still be on its way after SYNCED of an older version.
    let routes = eventually(WAIT, "the reviews routes in proxy-config", || async {
        let run = meshctl(&mesh, &["proxy-config", "productpage-v1-0", "routes"]);
        run.stdout.contains("(end-user=jason)").then_some(run)
    })
    .await;
    routes.expect_code(0);
    let lines: Vec<&str> = routes.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "VHOST", "NAME", "DOMAINS", "MATCH", "DESTINATION"]
    );
    let jason = lines
        .iter()
        .find(|l| l.contains("(end-user=jason)"))
        .unwrap();
    assert!(
        jason.starts_with("outbound") && jason.contains("reviews.default.svc.cluster.local:9080"),
        "{jason}"
    );
    assert!(
        jason.ends_with("outbound|9080|v2|reviews.default.svc.cluster.local"),
        "{jason}"
    );
    assert!(
        lines.iter().any(|l| l.ends_with(
            "outbound|9080|v1|reviews.default.svc.cluster.local 90%, \
             outbound|9080|v2|reviews.default.svc.cluster.local 10%"
        )),
        "{}",
        routes.stdout
    );

    let clusters = meshctl(
        &mesh,
        &["proxy-config", "productpage-v1-0.default", "clusters"],
    );
    clusters.expect_code(0);
    for subset in ["v1", "v2"] {
        let row = clusters
            .stdout
            .lines()
            .find(|l| {
                l.split_whitespace().collect::<Vec<_>>()[..4]
                    == [
                        "reviews.default.svc.cluster.local",
                        "9080",
                        subset,
                        "outbound",
                    ]
            })
            .unwrap_or_else(|| panic!("no {subset} row:\n{}", clusters.stdout));
        assert_eq!(
            row.split_whitespace().nth(4),
            Some("1"),
            "one endpoint: {row}"
        );
    }
    let json = meshctl(
        &mesh,
        &["proxy-config", "productpage-v1-0", "clusters", "-o", "json"],
    );
    json.expect_code(0);
    let parsed: Value = serde_json::from_str(&json.stdout).unwrap();
    let v2_cluster = parsed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "outbound|9080|v2|reviews.default.svc.cluster.local")
        .unwrap();
    assert_eq!(
        v2_cluster["endpoints"][0]["address"],
        v2.node.inbound.to_string()
    );

    let listeners = meshctl(&mesh, &["proxy-config", "reviews-v1-0", "listeners"]);
    listeners.expect_code(0);
    let inbound = listeners
        .stdout
        .lines()
        .find(|l| l.contains("INBOUND"))
        .unwrap_or_else(|| panic!("{}", listeners.stdout));
    assert!(inbound.contains(&v1.node.inbound.to_string()), "{inbound}");

    let secrets = meshctl(&mesh, &["proxy-config", "reviews-v1-0", "secrets"]);
    secrets.expect_code(0);
    assert!(
        secrets.stdout.contains("holds no certificate"),
        "a plaintext proxy: {}",
        secrets.all()
    );

    let unknown = meshctl(&mesh, &["proxy-config", "details-v1-0", "routes"]);
    unknown.expect_code(1);
    assert!(
        unknown.stderr.contains(
            "no proxy named \"details-v1-0\"; the known proxies are: productpage-v1-0.default, \
             reviews-v1-0.default, reviews-v2-0.default"
        ),
        "{}",
        unknown.stderr
    );
    let bad_kind = meshctl(&mesh, &["proxy-config", "reviews-v1-0", "endpoints"]);
    bad_kind.expect_code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_show_in_proxy_status_and_proxy_config_secrets() {
    let mesh = Mesh::new();
    tokio::task::block_in_place(|| mesh.install("minimal", &[])).expect_code(0);
    let rv = tls_workload(&mesh, "reviews", "v1").await;
    let plain = workload(&mesh, "details", "v1").await;
    wait_synced(&mesh, &[rv.id(), plain.id()]).await;

    let run = meshctl(&mesh, &["proxy-status"]);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "SERVICE", "VERSION", "CONFIG", "CERT", "EXPIRES"],
        "{}",
        run.stdout
    );
    let reviews = lines
        .iter()
        .find(|l| l.starts_with("reviews-v1-0"))
        .unwrap();
    // The default certificate lifetime is 24 h.
    assert!(
        reviews.ends_with("23h59m") || reviews.ends_with("24h"),
        "{}",
        run.stdout
    );
    let details = lines
        .iter()
        .find(|l| l.starts_with("details-v1-0"))
        .unwrap();
    assert!(details.ends_with("   -"), "no certificate: {}", run.stdout);

    let secrets = meshctl(&mesh, &["proxy-config", "reviews-v1-0", "secrets"]);
    secrets.expect_code(0);
    let lines: Vec<&str> = secrets.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "RESOURCE", "NAME", "TYPE", "STATUS", "IDENTITY", "SERIAL", "NUMBER", "NOT", "AFTER",
            "NOT", "BEFORE"
        ]
    );
    let cert: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        cert[..5],
        [
            "default",
            "Cert",
            "Chain",
            "VALID",
            "spiffe://cluster.local/ns/default/sa/reviews"
        ],
        "{}",
        secrets.stdout
    );
    assert_eq!(cert[5].len(), 32, "a 128-bit serial in hex: {}", cert[5]);
    assert!(cert[5].chars().all(|c| c.is_ascii_hexdigit()));
    let root: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(root[..3], ["ROOTCA", "CA", "VALID"], "{}", secrets.stdout);

    // The JSON has the validity as numbers, 24 h apart, and the root the control plane
    // wrote in the state directory.
    let json = meshctl(
        &mesh,
        &["proxy-config", "reviews-v1-0", "secrets", "-o", "json"],
    );
    let c: Value = serde_json::from_str(&json.stdout).unwrap();
    let lifetime = c["notAfter"].as_u64().unwrap() - c["notBefore"].as_u64().unwrap();
    assert!((86_300..=86_500).contains(&lifetime), "{c}");
    let pem = std::fs::read_to_string(mesh.home().join("ca/root-cert.pem")).unwrap();
    let der = mesh_identity::x509::certs_from_pem(&pem).unwrap();
    let summary = mesh_identity::x509::summary(&der[0]).unwrap();
    assert_eq!(c["trustBundle"][0]["serial"], summary.serial.as_str());

    let plain_secrets = meshctl(&mesh, &["proxy-config", "details-v1-0", "secrets"]);
    assert!(plain_secrets.stdout.contains("holds no certificate"));
}
