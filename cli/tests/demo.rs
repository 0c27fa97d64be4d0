//! `meshctl demo` on the local platform: with every port moved to a free one and Bookinfo on
//! this test's addresses, one command installs the demo profile, deploys Bookinfo, applies
//! the gateway and the reviews canary, sends traffic and prints stat tables in which
//! productpage and reviews have traffic; afterwards the mesh still runs, and `uninstall
//! --purge` stops every process it started. Also its refusals. Every [`Mesh`] uninstalls
//! and kills what its records name on drop, pass or fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{alive, wait_dead, Mesh};

/// What the demo starts, by process record name: the demo profile's three components and
/// an app and a sidecar per Bookinfo workload.
fn records() -> Vec<String> {
    let mut names: Vec<String> = ["controlPlane", "ingressGateway", "egressGateway"]
        .map(String::from)
        .to_vec();
    for w in support::BOOKINFO_WORKLOADS {
        names.push(format!("bookinfo-{w}"));
        names.push(format!("bookinfo-{w}-sidecar"));
    }
    names
}

/// `meshctl demo` on this mesh's ports and addresses, plus `extra`.
fn demo(mesh: &Mesh, extra: &[&str]) -> support::Run {
    let first_ip = support::sample_first_ip(0);
    let mut args: Vec<String> = ["demo", "--first-ip", &first_ip].map(String::from).to_vec();
    args.extend(mesh.port_flags());
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    mesh.run(&refs)
}

/// The RPS column of `workload`'s line in one printed stat table, when it has traffic.
fn rps(table: &str, workload: &str) -> Option<f64> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.first() == Some(&workload))
        .and_then(|cols| cols.get(3)?.strip_suffix("rps")?.parse().ok())
}

#[test]
fn demo_runs_bookinfo_with_traffic_and_leaves_the_mesh_running() {
    let mesh = Mesh::new();
    let run = demo(&mesh, &["-y", "--duration", "8s", "--interval", "2s"]);
    run.expect_code(0);
    for line in [
        "✔ Control plane installed",
        "✔ Ingress gateway installed",
        "✔ Egress gateway installed",
        "✔ Installation complete",
        "✔ productpage-v1 deployed",
        "✔ bookinfo deployed",
        "✔ Applied Bookinfo's gateway",
        "✔ Applied a subset per version",
        "✔ Applied the canary: reviews 80% v1, 20% v2",
        "/productpage answers through the ingress gateway",
        "✔ Sending GET http://",
        "✔ Traffic stopped",
        "meshctl proxy-status",
        "meshctl uninstall --purge -y",
    ] {
        assert!(run.stdout.contains(line), "{line}: {}", run.stdout);
    }
    assert!(!run.stdout.contains('✘'), "{}", run.stdout);
    // At least one table in which productpage and reviews have traffic.
    let tables: Vec<&str> = run.stdout.split("meshctl stat --window").skip(1).collect();
    assert!(tables.len() >= 2, "a table every 2 s: {}", run.stdout);
    let busy = tables.iter().any(|t| {
        rps(t, "productpage-v1").is_some_and(|r| r > 0.0)
            && ["reviews-v1", "reviews-v2"]
                .iter()
                .any(|w| rps(t, w).is_some_and(|r| r > 0.0))
    });
    assert!(busy, "productpage and reviews with RPS > 0: {}", run.stdout);

    // The mesh stays: every process runs, and verify-install passes.
    let pids: Vec<(String, u32)> = records()
        .into_iter()
        .map(|name| {
            let pid = mesh
                .pid_of(&name)
                .unwrap_or_else(|| panic!("{name} record"));
            (name, pid)
        })
        .collect();
    for (name, pid) in &pids {
        assert!(alive(*pid), "{name} (pid {pid}) runs after the demo");
    }
    let verify = mesh.run(&["verify-install"]);
    verify.expect_code(0);
    assert!(
        verify.stdout.contains("all 8 proxies are SYNCED"),
        "{}",
        verify.stdout
    );

    mesh.run(&["uninstall", "--purge", "-y"]).expect_code(0);
    for (_, pid) in &pids {
        wait_dead(*pid);
    }
    assert!(!mesh.home().exists(), "purged");
}

#[test]
fn demo_refuses_without_confirmation_and_checks_its_flags() {
    let mesh = Mesh::new();
    // No terminal and no -y: refused before anything starts, as install does.
    let run = demo(&mesh, &["--duration", "1s"]);
    run.expect_code(1);
    assert!(run.all().contains("pass -y"), "{}", run.all());
    assert!(mesh.pid().is_none(), "nothing started");

    let zero = demo(&mesh, &["-y", "--interval", "0s"]);
    zero.expect_code(2);
    assert!(zero.all().contains("--interval"), "{}", zero.all());
    assert!(mesh.pid().is_none(), "nothing started");

    let help = mesh.run(&["demo", "--help"]);
    help.expect_code(0);
    assert!(help.stdout.contains("Examples:"), "{}", help.stdout);
}
