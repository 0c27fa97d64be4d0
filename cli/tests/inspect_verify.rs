//! `meshctl verify-install` on the local platform: nothing installed, a healthy mesh whose
//! probe request crosses two sidecars over mutual TLS, plaintext sidecars (the probe fails),
//! a NACKing proxy, a dead workload process named, and a control plane killed with -9.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use support::workloads::{meshctl, over_tls, tls_workload, wait_synced, workload, workload_with};
use support::{kill, wait_dead, Mesh};

/// The line of `run`'s output starting with `prefix`, or a panic showing the output.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}:\n{out}"))
}

#[test]
fn fails_with_a_hint_when_nothing_is_installed() {
    let mesh = Mesh::new();
    let run = mesh.run(&["verify-install"]);
    run.expect_code(1);
    assert!(run
        .stdout
        .starts_with("meshctl-platform\n----------------\n√ platform: local"));
    line(&run.stdout, "× the mesh is installed");
    assert!(
        run.stdout.contains("    hint: run `meshctl install`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with("Status check results are ×\n"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("check(s) failed"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_on_a_healthy_mesh_and_fails_after_kill_9_of_the_control_plane() {
    let mesh = Mesh::new();
    tokio::task::block_in_place(|| mesh.install("minimal", &[])).expect_code(0);

    // No workloads yet: the probe is skipped with a warning, which does not fail the run.
    let run = meshctl(&mesh, &["verify-install"]);
    run.expect_code(0);
    line(&run.stdout, "‼ proxies are connected");
    let probe = line(&run.stdout, "‼ mTLS probe");
    assert!(probe.contains("a request through the mesh arrives over mutual TLS"));
    assert!(
        run.stdout
            .contains("skipped: no workload with a SYNCED sidecar is deployed")
            && run
                .stdout
                .contains("hint: deploy workloads, e.g. `meshctl samples deploy bookinfo`"),
        "{}",
        run.stdout
    );

    let pp = tls_workload(&mesh, "productpage", "v1").await;
    let rv = tls_workload(&mesh, "reviews", "v1").await;
    wait_synced(&mesh, &[pp.id(), rv.id()]).await;
    let run = meshctl(&mesh, &["verify-install"]);
    run.expect_code(0);
    let out = &run.stdout;
    line(out, "√ the mesh is installed (profile minimal)");
    line(out, "√ 1 mesh process(es) running: controlPlane");
    line(out, "√ the control plane process is running (pid ");
    line(
        out,
        &format!("√ the control plane answers on {}", mesh.monitoring),
    );
    line(out, "√ the control plane's version matches meshctl's (");
    let ca = line(out, "√ the mesh's root certificate (");
    assert!(ca.contains("days to expiry ("), "{ca}");
    line(out, "√ no gateway is installed (profile minimal)");
    line(out, "√ all 2 proxies are connected");
    line(out, "√ all 2 proxies are SYNCED");
    line(out, "√ no proxy rejected its config (no NACK)");
    let probe = line(out, "√ mTLS probe");
    assert!(
        probe.contains(
            "productpage-v1 -> http://reviews.default:9080/ (answered 200) arrived as mutual_tls \
             from spiffe://cluster.local/ns/default/sa/productpage, served as \
             spiffe://cluster.local/ns/default/sa/reviews"
        ),
        "{probe}"
    );
    assert!(out.ends_with("Status check results are √\n"), "{out}");
    assert!(!out.contains('×') && !out.contains('‼'), "{out}");
    // The probe really went through the reviews app.
    assert!(rv
        .app
        .seen()
        .iter()
        .any(|s| s.headers.contains_key("x-meshctl-probe")));

    let json = meshctl(&mesh, &["verify-install", "-o", "json"]);
    json.expect_code(0);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["success"], true);
    let names: Vec<&str> = report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["categoryName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "meshctl-platform",
            "meshctl-processes",
            "meshctl-control-plane",
            "meshctl-identity",
            "meshctl-gateways",
            "meshctl-proxies",
            "meshctl-data-plane"
        ]
    );

    let pid = mesh.pid().unwrap();
    kill(pid, rustix::process::Signal::KILL);
    wait_dead(pid);
    let run = meshctl(&mesh, &["verify-install"]);
    run.expect_code(1);
    let out = &run.stdout;
    line(out, "× controlPlane is running");
    assert!(
        out.contains(&format!(
            "the control plane (pid {pid}, mesh-controlplane) is not running"
        )),
        "{out}"
    );
    line(out, "× the control plane process is running");
    assert!(
        out.contains("hint: `meshctl install` restarts it (the config it stored is kept)"),
        "{out}"
    );
    line(out, "× proxies, gateways and the mTLS probe are checked");
    assert!(out.ends_with("Status check results are ×\n"), "{out}");
    assert!(run.stderr.contains("check(s) failed"), "{}", run.stderr);

    // `meshctl install` repairs it, and the mesh verifies again.
    tokio::task::block_in_place(|| mesh.install("minimal", &[])).expect_code(0);
    wait_synced(&mesh, &[pp.id(), rv.id()]).await;
    meshctl(&mesh, &["verify-install"]).expect_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_sidecars_and_nacks_fail_the_checks() {
    let mesh = Mesh::new();
    tokio::task::block_in_place(|| mesh.install("minimal", &[])).expect_code(0);
    let pp = workload(&mesh, "productpage", "v1").await;
    let rv = workload(&mesh, "reviews", "v1").await;
    wait_synced(&mesh, &[pp.id(), rv.id()]).await;

    let run = meshctl(&mesh, &["verify-install"]);
    run.expect_code(1);
    line(&run.stdout, "√ all 2 proxies are SYNCED");
    line(&run.stdout, "× mTLS probe");
    assert!(
        run.stdout.contains(
            "productpage-v1-0.default holds no certificate (its admin /config_dump shows none), \
             so its traffic cannot be mutual TLS"
        ),
        "{}",
        run.stdout
    );

    // A TLS client toward a plaintext server: automatic mTLS stays off, and the server
    // counts the probe as plain text.
    // (Another instance name: the old one's disconnect must not race the new one's hello.)
    drop(pp);
    let pp = workload_with(&mesh, "productpage", "v1", |o| {
        over_tls(&mesh, o);
        o.node.name = "productpage-v1-1".into();
    })
    .await;
    wait_synced(&mesh, &[pp.id()]).await;
    let run = meshctl(&mesh, &["verify-install"]);
    run.expect_code(1);
    line(&run.stdout, "× mTLS probe");
    assert!(
        run.stdout.contains(
            "productpage-v1 -> http://reviews.default:9080/ arrived without mutual TLS \
             (connection_security_policy=none)"
        ),
        "{}",
        run.stdout
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = taken.local_addr().unwrap();
    let bad = workload_with(&mesh, "ratings", "v1", |o| o.node.inbound = at).await;
    let out =
        mesh_proxy::testing::eventually(support::WAIT, "the NACK in verify-install", || async {
            let run = meshctl(&mesh, &["verify-install"]);
            run.stdout
                .contains(&format!("× {} accepted its config", bad.id()))
                .then_some(run.stdout)
        })
        .await;
    assert!(
        out.contains(&at.to_string()),
        "the error names the address: {out}"
    );
    assert!(out.contains("hint: fix what the error names (`meshctl analyze` checks the rules)"));
    drop(taken);
}

/// A process recorded as a mesh workload, killed by pid when the test ends.
struct Recorded(Child);

impl Drop for Recorded {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_process_that_died_is_named_with_its_log() {
    let mesh = Mesh::new();
    tokio::task::block_in_place(|| mesh.install("minimal", &[])).expect_code(0);
    // A workload process as meshctl records the ones it starts: pid, start time, argv, log.
    let log = mesh.home().join("logs").join("reviews-v1.log");
    std::fs::write(&log, "reviews-v1 listening on 127.0.0.1:9080\n").unwrap();
    // Its own process group, as meshctl starts workloads: `meshctl uninstall` signals the
    // group, which must not be the test's.
    let mut child = Recorded(
        Command::new("sleep")
            .arg("600")
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let start_time: u64 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let record = serde_json::json!({
        "name": "reviews-v1", "pid": pid, "startTime": start_time,
        "argv": ["sleep", "600"], "log": log, "endpoints": {},
    });
    std::fs::write(
        mesh.home().join("pids").join("reviews-v1.json"),
        serde_json::to_string(&record).unwrap(),
    )
    .unwrap();
    let run = meshctl(&mesh, &["verify-install"]);
    line(
        &run.stdout,
        "√ 2 mesh process(es) running: controlPlane, reviews-v1",
    );

    kill(pid, rustix::process::Signal::KILL);
    let _ = child.0.wait();
    let run = meshctl(&mesh, &["verify-install"]);
    run.expect_code(1);
    line(&run.stdout, "× reviews-v1 is running");
    assert!(
        run.stdout.contains(&format!(
            "the workload reviews-v1 (pid {pid}, sleep) is not running; the end of its log {}:",
            log.display()
        )) && run
            .stdout
            .contains("    reviews-v1 listening on 127.0.0.1:9080"),
        "{}",
        run.stdout
    );
    line(&run.stdout, "√ 1 mesh process(es) running: controlPlane");
}
