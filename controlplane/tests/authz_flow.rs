//! AuthorizationPolicy through the running control plane: a DENY policy applied with
//! `POST /apis/apply` is enforced by the destination's sidecar within a second of the apply
//! answering (403 `RBAC: access denied`, the app never sees the request), and deleting it
//! restores traffic just as fast.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod push_support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh_proxy::testing::{eventually, send, Got};
use push_support::{revision, sidecar, ControlPlane};

/// How soon after the config API answers a policy must be in force.
const IN_FORCE: Duration = Duration::from_secs(1);

const DENY: &str = r#"apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-private, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: DENY
  rules:
    - to: [{operation: {paths: ["/private/*"]}}]
"#;

async fn reviews(outbound: SocketAddr, path: &str) -> Got {
    let req = Request::get(format!("http://reviews:9080{path}"))
        .header("host", "reviews:9080")
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(outbound, req).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deny_policy_applies_within_a_second_and_its_removal_too() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(dir.path()).await;
    let pp = sidecar(&cp, "productpage", "v1").await;
    let rv = sidecar(&cp, "reviews", "v1").await;
    cp.wait_synced(&[&pp.id(), &rv.id()], 0).await;
    assert_eq!(reviews(pp.outbound(), "/private/a").await.status, 200);

    let applied = cp.apply("deny.yaml", DENY).await;
    assert_eq!(applied.status, 200, "{}", applied.text());
    let denied = eventually(IN_FORCE, "the DENY policy in force", || async {
        let got = reviews(pp.outbound(), "/private/a").await;
        (got.status == 403).then_some(got)
    })
    .await;
    assert_eq!(denied.text(), "RBAC: access denied");
    let private_seen = || {
        rv.app
            .seen()
            .iter()
            .filter(|s| s.uri.starts_with("/private"))
            .count()
    };
    let before = private_seen();
    assert_eq!(reviews(pp.outbound(), "/private/b").await.status, 403);
    assert_eq!(
        private_seen(),
        before,
        "a denied request never reaches the app"
    );
    // Only what the rule names is denied.
    assert_eq!(reviews(pp.outbound(), "/public").await.status, 200);
    // The control plane knows both proxies run the policy.
    cp.wait_synced(&[&pp.id(), &rv.id()], revision(&cp).await)
        .await;

    let deleted = cp
        .delete("AuthorizationPolicy", "default", "deny-private")
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    eventually(IN_FORCE, "traffic restored", || async {
        (reviews(pp.outbound(), "/private/a").await.status == 200).then_some(())
    })
    .await;
    assert!(private_seen() > before);
}
