//! `meshctl samples` on the local platform: Bookinfo deployed into a default install (every
//! port moved to a free one, the workloads on 127.0.0.x addresses), its page served through
//! the ingress gateway with Istio's `bookinfo-gateway.yaml`, routing to reviews v1 with
//! Istio's `virtual-service-all-v1.yaml`, `samples traffic`, idempotent re-deploy and repair,
//! `samples remove` and `uninstall` stopping every recorded process, and the refusals.
//! Every [`Mesh`] uninstalls and kills what its records name on drop, pass or fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use support::{alive, eventually_blocking, fixtures, http_get, wait_dead, Mesh, WAIT};

use support::BOOKINFO_WORKLOADS as WORKLOADS;

/// The recorded pids of every workload's app and sidecar (12), by record name.
fn sample_pids(mesh: &Mesh) -> Vec<(String, u32)> {
    WORKLOADS
        .iter()
        .flat_map(|w| [format!("bookinfo-{w}"), format!("bookinfo-{w}-sidecar")])
        .filter_map(|name| mesh.pid_of(&name).map(|pid| (name, pid)))
        .collect()
}

/// `meshctl samples deploy bookinfo` on this test's addresses.
fn deploy(mesh: &Mesh, first_ip: &str) -> support::Run {
    mesh.run(&["samples", "deploy", "bookinfo", "--first-ip", first_ip])
}

/// Applies Istio's own Bookinfo file `name` (read from the fixtures, never copied).
fn apply_istio(mesh: &Mesh, name: &str) {
    let path = fixtures().join(name).display().to_string();
    mesh.run(&["apply", "-f", &path]).expect_code(0);
}

/// The product page through the ingress gateway, when it answers 200.
fn page(mesh: &Mesh) -> Option<String> {
    let (status, body) = http_get(mesh.ingress.http, "/productpage")?;
    (status == 200).then_some(body)
}

/// The reviews instance named on a page.
fn served_by(page: &str) -> Option<String> {
    let rest = page.split("Reviews served by: ").nth(1)?;
    Some(rest.split(['<', ' ']).next()?.to_string())
}

#[test]
fn bookinfo_deploys_serves_through_the_gateway_routes_and_is_removed() {
    let mesh = Mesh::new();
    mesh.install("default", &[]).expect_code(0);
    let first_ip = support::sample_first_ip(0);
    let run = deploy(&mesh, &first_ip);
    run.expect_code(0);
    for w in WORKLOADS {
        assert!(
            run.stdout.contains(&format!("✔ {w} deployed")),
            "{w}: {}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("✔ bookinfo deployed"), "{}", run.stdout);
    let pids = sample_pids(&mesh);
    assert_eq!(
        pids.len(),
        12,
        "an app and a sidecar per workload: {pids:?}"
    );
    assert!(pids.iter().all(|(_, p)| alive(*p)), "{pids:?}");
    // The workloads are on their own addresses, none on 127.0.0.1.
    let productpage = mesh.record_of("bookinfo-productpage-v1").expect("record");
    let app = productpage["endpoints"]["app"]
        .as_str()
        .expect("app address");
    assert!(
        app.ends_with(":9080") && !app.starts_with("127.0.0.1:"),
        "{app}"
    );

    // Istio's gateway file (server port 8080) lands on the moved ingress port.
    apply_istio(&mesh, "bookinfo-gateway.yaml");
    let body = eventually_blocking(WAIT, "the product page through the gateway", || {
        page(&mesh).filter(|b| b.contains("Reviews served by:"))
    });
    assert!(body.contains("The Comedy of Errors"), "{body}");
    assert!(body.contains("Book Details"), "details answered: {body}");
    // Without routing rules, reviews is balanced over its three versions.
    let mut seen = BTreeSet::new();
    eventually_blocking(WAIT, "pages served by reviews v1, v2 and v3", || {
        seen.extend(page(&mesh).as_deref().and_then(served_by));
        (seen.len() == 3).then_some(())
    });
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["reviews-v1-0", "reviews-v2-0", "reviews-v3-0"]
    );
    // verify-install sees 7 SYNCED proxies, and its probe crosses two sample sidecars over
    // mutual TLS.
    let verify = mesh.run(&["verify-install"]);
    verify.expect_code(0);
    for line in ["all 7 proxies are SYNCED", "arrived as mutual_tls"] {
        assert!(verify.stdout.contains(line), "{line}: {}", verify.stdout);
    }

    // Istio's all-v1 routing: once in force, reviews is always v1, without stars.
    apply_istio(&mesh, "destination-rule-all.yaml");
    apply_istio(&mesh, "virtual-service-all-v1.yaml");
    let mut streak = 0;
    eventually_blocking(WAIT, "ten v1 pages in a row", || {
        let v1 = page(&mesh).and_then(|p| served_by(&p)).as_deref() == Some("reviews-v1-0");
        streak = if v1 { streak + 1 } else { 0 };
        (streak >= 10).then_some(())
    });
    for _ in 0..10 {
        let p = page(&mesh).expect("the page");
        assert_eq!(served_by(&p).as_deref(), Some("reviews-v1-0"), "{p}");
        assert!(!p.contains("glyphicon-star"), "v1 shows no stars: {p}");
    }

    let traffic = mesh.run(&["samples", "traffic", "--rps", "20", "--duration", "2s"]);
    traffic.expect_code(0);
    assert!(
        traffic.stdout.contains("rps achieved"),
        "{}",
        traffic.stdout
    );
    assert!(traffic.stdout.contains("  200 OK: "), "{}", traffic.stdout);
    assert!(!traffic.stdout.contains("no answer"), "{}", traffic.stdout);
    let jason = mesh.run(&[
        "samples",
        "traffic",
        "--rps",
        "5",
        "--duration",
        "1s",
        "--user",
        "jason",
    ]);
    jason.expect_code(0);
    assert!(jason.stdout.contains(" as jason: "), "{}", jason.stdout);
    assert!(jason.stdout.contains("  200 OK: "), "{}", jason.stdout);

    // Deploying again keeps every healthy workload.
    let again = deploy(&mesh, &first_ip);
    again.expect_code(0);
    assert_eq!(
        again.stdout.matches("already running").count(),
        6,
        "{}",
        again.stdout
    );
    assert_eq!(sample_pids(&mesh), pids);
    // ... and repairs a dead app and a dead sidecar.
    let pid = |name: &str| pids.iter().find(|(n, _)| n == name).expect(name).1;
    let (dead_app, dead_sidecar) = (
        pid("bookinfo-reviews-v2"),
        pid("bookinfo-ratings-v1-sidecar"),
    );
    for p in [dead_app, dead_sidecar] {
        support::kill(p, rustix::process::Signal::KILL);
        wait_dead(p);
    }
    let repaired = deploy(&mesh, &first_ip);
    repaired.expect_code(0);
    assert!(
        repaired
            .stdout
            .contains("app restarted: it was not running"),
        "{}",
        repaired.stdout
    );
    assert!(
        repaired
            .stdout
            .contains("sidecar restarted: it was not running"),
        "{}",
        repaired.stdout
    );
    let pids = sample_pids(&mesh);
    assert_eq!(pids.len(), 12);
    assert!(pids.iter().all(|(_, p)| alive(*p)), "{pids:?}");
    eventually_blocking(WAIT, "the page again after the repair", || {
        page(&mesh).filter(|b| b.contains("Reviews served by: reviews-v1-0"))
    });

    // Remove stops all twelve, and their proxies leave the registry.
    let removed = mesh.run(&["samples", "remove", "bookinfo"]);
    removed.expect_code(0);
    for w in WORKLOADS {
        assert!(
            removed.stdout.contains(&format!("✔ {w} removed")),
            "{w}: {}",
            removed.stdout
        );
    }
    for (name, p) in &pids {
        assert!(!alive(*p), "{name} (pid {p}) still runs");
    }
    assert!(sample_pids(&mesh).is_empty(), "no sample record is left");
    eventually_blocking(WAIT, "the workloads to leave the registry", || {
        let (_, body) = mesh.get("/debug/proxies")?;
        let all: serde_json::Value = serde_json::from_str(&body).ok()?;
        let left: Vec<&str> = all
            .as_array()?
            .iter()
            .filter_map(|p| p["id"].as_str())
            .filter(|id| id.ends_with(".default"))
            .collect();
        left.is_empty().then_some(())
    });
    let gateway = mesh.pid_of("ingressGateway").expect("the gateway stays");
    assert!(alive(gateway));
    let again = mesh.run(&["samples", "remove", "bookinfo"]);
    again.expect_code(0);
    assert!(again.stdout.contains("not deployed"), "{}", again.stdout);

    let cp = mesh.pid().expect("control plane");
    mesh.run(&["uninstall", "--purge", "-y"]).expect_code(0);
    assert!(!alive(cp) && !alive(gateway));
    assert!(!mesh.home().exists(), "purged");
}

#[test]
fn uninstall_stops_sample_workloads_before_the_mesh() {
    let mesh = Mesh::new();
    mesh.install("default", &[]).expect_code(0);
    deploy(&mesh, &support::sample_first_ip(1)).expect_code(0);
    let pids = sample_pids(&mesh);
    assert_eq!(pids.len(), 12);
    let cp = mesh.pid().expect("control plane");
    let down = mesh.run(&["uninstall", "-y"]);
    down.expect_code(0);
    for (name, p) in &pids {
        assert!(
            down.stdout.contains(&format!("{name} stopped (pid {p})")),
            "{name}: {}",
            down.stdout
        );
        assert!(!alive(*p), "{name} (pid {p}) still runs");
    }
    // Workloads go before the gateway and the control plane they talk to.
    let last_workload = down.stdout.rfind("bookinfo-").expect("workloads");
    let gateway = down
        .stdout
        .find("Ingress gateway stopped")
        .expect("gateway");
    let control_plane = down.stdout.find("Control plane stopped").expect("cp");
    assert!(
        last_workload < gateway && gateway < control_plane,
        "{}",
        down.stdout
    );
    assert!(!alive(cp));
    let records = std::fs::read_dir(mesh.home().join("pids"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(records, 0, "no process record is left");
}

#[test]
fn deploy_refuses_without_a_mesh_and_names_valid_samples() {
    let mesh = Mesh::new();
    let run = deploy(&mesh, &support::sample_first_ip(0));
    run.expect_code(1);
    assert!(run.all().contains("run `meshctl install`"), "{}", run.all());
    assert!(sample_pids(&mesh).is_empty(), "nothing started");

    let unknown = mesh.run(&["samples", "deploy", "nosuchapp"]);
    unknown.expect_code(2);
    assert!(unknown.stderr.contains("bookinfo"), "{}", unknown.stderr);

    let bad_ip = mesh.run(&["samples", "deploy", "bookinfo", "--first-ip", "10.1.2.3"]);
    bad_ip.expect_code(2);
    assert!(
        bad_ip.all().contains("not a loopback address"),
        "{}",
        bad_ip.all()
    );

    let traffic = mesh.run(&["samples", "traffic", "--duration", "1s"]);
    traffic.expect_code(1);
    assert!(
        traffic.all().contains("meshctl install"),
        "{}",
        traffic.all()
    );

    let help = mesh.run(&["samples", "deploy", "--help"]);
    help.expect_code(0);
    assert!(help.stdout.contains("Examples:"), "{}", help.stdout);
}
