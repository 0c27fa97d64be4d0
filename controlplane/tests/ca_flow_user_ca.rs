//! The control plane's CA options, with the real binary:
//!
//! - the user's own CA files (`--ca-cert/--ca-key`) in another trust domain
//!   (`--trust-domain example.org`): sidecars get `spiffe://example.org/...` certificates and
//!   talk mTLS with them (the endpoints' expected identities follow the certificates);
//! - a first start creates the root in the CA directory with its key 0600;
//! - CA flags that cannot work stop the start with a message and exit code 1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod push_support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use mesh_controlplane::ca::Ca;
use mesh_proxy::testing::{eventually, free_addr, metric_sum, scrape};
use push_support::{service_via, tls_sidecar, ControlPlane, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_own_ca_in_another_trust_domain() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own-ca");
    Ca::create(&own, "example.org").unwrap();
    let (cert, key) = (own.join("root-cert.pem"), own.join("root-key.pem"));
    let state = dir.path().join("state");
    let mut cp = ControlPlane::start_with(
        &state,
        &[
            "--ca-cert",
            cert.to_str().unwrap(),
            "--ca-key",
            key.to_str().unwrap(),
            "--trust-domain",
            "example.org",
        ],
    )
    .await;
    cp.ca_root = cert.clone();
    cp.trust_domain = "example.org".into();
    assert!(
        !state.join("ca").join("root-cert.pem").exists(),
        "no root of its own"
    );

    let pp = tls_sidecar(&cp, "productpage", "v1").await;
    let reviews = tls_sidecar(&cp, "reviews", "v1").await;
    let spiffe = eventually(WAIT, "reviews' certificate", || async {
        reviews.client.status().certificate.map(|c| c.spiffe_id)
    })
    .await;
    assert_eq!(spiffe, "spiffe://example.org/ns/default/sa/reviews");
    eventually(WAIT, "productpage reaches reviews", || async {
        (service_via(pp.outbound(), "reviews").await.as_deref() == Some("reviews-v1")).then_some(())
    })
    .await;
    let text = scrape(&reviews.client.proxy().unwrap()).await;
    let mtls = metric_sum(
        &text,
        "istio_requests_total",
        &[
            ("reporter", "destination"),
            ("connection_security_policy", "mutual_tls"),
            (
                "source_principal",
                "spiffe://example.org/ns/default/sa/productpage",
            ),
        ],
    );
    assert!(mtls >= 1.0, "{text}");
}

/// Runs `mesh-controlplane run` with `args` and returns (exit code, stderr).
fn run(state: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mesh-controlplane"))
        .args(["run", "--state-dir"])
        .arg(state)
        .args(["--listen", &free_addr().to_string()])
        .args(["--listen-tls", &free_addr().to_string()])
        .args(["--monitoring", &free_addr().to_string()])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_creates_a_private_root_and_bad_ca_flags_fail() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = ControlPlane::start(dir.path()).await;
    let key = dir.path().join("ca").join("root-key.pem");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let root = Ca::load(&dir.path().join("ca")).unwrap();
    assert_eq!(root.trust_domain(), "cluster.local");
    cp.kill();

    let (code, err) = run(dir.path(), &["--cert-ttl", "1s"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("at least 2s"), "{err}");
    let (code, err) = run(dir.path(), &["--trust-domain", "example.org"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("\"cluster.local\", not --trust-domain \"example.org\""),
        "{err}"
    );
    let (code, err) = run(
        dir.path(),
        &[
            "--ca-cert",
            "/nonexistent.pem",
            "--ca-key",
            "/nonexistent-key.pem",
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("/nonexistent.pem"), "{err}");
    // --ca-key without --ca-cert is a usage error.
    let (code, _) = run(dir.path(), &["--ca-key", "/k.pem"]);
    assert_eq!(code, Some(2));
}
