//! The CA refuses what it cannot trust: a forged, expired or malformed bootstrap token gets
//! `403` with the reason and no certificate; a token for another workload gets a certificate
//! the proxy will not install. Such a proxy stays NOT READY (saying why), opens no config
//! stream and gets no config.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod push_support;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh_controlplane::ca::{Identity, TokenAuthority};
use mesh_proxy::testing::{eventually, free_addr, send};
use mesh_proxy::xds::certs::{CaClient, CertError};
use push_support::{node, over_tls, sidecar_with, ControlPlane, WAIT};

fn reviews() -> Identity {
    Identity::new("cluster.local", "default", "reviews").unwrap()
}

/// One certificate request for workload `reviews` with `token`.
async fn request(cp: &ControlPlane, token: &str) -> Result<(), CertError> {
    let n = node("reviews", "v1", free_addr());
    CaClient::new(cp.xds_tls, cp.tls(), token, &n)
        .issue()
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_get_403_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(dir.path()).await;
    let real = TokenAuthority::load_or_create(&dir.path().join("ca")).unwrap();
    let hour = Duration::from_secs(3600);
    let forged = TokenAuthority::from_secret(&[7; 32]).issue(&reviews(), hour);
    let expired = real.issue_at(&reviews(), hour, SystemTime::now() - 2 * hour);
    let cases = [
        (forged.as_str(), "signature does not verify"),
        (expired.as_str(), "expired"),
        ("not-a-token", "malformed"),
    ];
    for (token, why) in cases {
        match request(&cp, token).await {
            Err(CertError::Refused { status, reason, .. }) => {
                assert_eq!(status, 403, "{reason}");
                assert!(reason.contains(why), "{why:?} not in {reason:?}");
            }
            other => panic!("{why}: expected a 403, got {other:?}"),
        }
    }
    // A good token works, so the refusals above were about the tokens.
    request(&cp, &cp.token("default", "reviews")).await.unwrap();
    // A token for another workload: the CA signs for the token's identity, which the proxy
    // refuses to install as its own.
    let err = request(&cp, &cp.token("default", "ratings"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CertError::WrongIdentity { .. }),
        "expected WrongIdentity, got {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_proxy_is_not_ready_and_gets_no_config() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(dir.path()).await;
    let health = free_addr();
    let forged = TokenAuthority::from_secret(&[9; 32]).issue(&reviews(), Duration::from_secs(60));
    let s = sidecar_with(&cp, "reviews", "v1", |o| {
        over_tls(&cp, o);
        o.token = forged;
        o.proxy.health_addr = Some(health);
    })
    .await;
    let body = eventually(WAIT, "NOT READY with the CA's reason", || async {
        tokio::net::TcpStream::connect(health).await.ok()?;
        let req = Request::get("/healthz/ready")
            .header("host", "health")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let got = send(health, req).await.ok()?;
        assert_eq!(got.status, 503, "{}", got.text());
        let text = got.text();
        text.contains("403").then_some(text)
    })
    .await;
    assert!(body.contains("signature does not verify"), "{body}");
    let status = s.client.status();
    assert!(status.certificate.is_none() && status.proxy.is_none() && status.applied.is_none());
    assert!(!status.connected);
    assert!(
        status.last_error.as_deref().unwrap_or("").contains("403"),
        "{status:?}"
    );
    // Never registered: it had no certificate, so it never opened a config stream.
    assert!(cp.proxy(&s.id()).await.is_none());
}
