//! End to end through real proxies: translated snapshots run in in-process `mesh-proxy`s
//! (productpage's sidecar, and reviews-v1/v2/v3's sidecars in front of test backends), with
//! Istio's `virtual-service-reviews-test-v2.yaml` and `destination-rule-all.yaml` applied.
//! What users of Bookinfo see: `end-user: jason` reaches reviews-v2, everyone else reviews-v1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod translate_support;

use std::net::SocketAddr;
use std::sync::Arc;

use mesh_controlplane::registry::{Registry, Workload};
use mesh_controlplane::translate::{self, Input, SidecarOptions};
use mesh_proxy::testing::{get_with, Backend};
use mesh_proxy::{Proxy, ProxyOptions};
use translate_support::{bookinfo_files, workload};

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Starts `w`'s sidecar from its translated snapshot, listeners on ephemeral ports.
async fn start_sidecar(
    resources: &[mesh_api::istio::Resource],
    reg: &Registry,
    w: &Workload,
) -> Arc<Proxy> {
    let opts = SidecarOptions {
        outbound: any_port(),
        inbound: any_port(),
        version: "1".into(),
        auto_mtls: false,
    };
    let resources: Vec<&mesh_api::istio::Resource> = resources.iter().collect();
    let t = translate::sidecar(
        &Input {
            resources: &resources,
            registry: reg,
        },
        w,
        &opts,
    );
    // Only rules for services the registry lacks may warn (reviews sidecars start before it
    // is filled); every route reference must be satisfied.
    assert!(
        t.warnings.iter().all(|w| w.path.starts_with("spec.host")),
        "{:?}",
        t.warnings
    );
    Proxy::start(t.snapshot, ProxyOptions::default())
        .await
        .expect("the translated snapshot runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jason_reaches_reviews_v2_through_translated_sidecars() {
    let res = bookinfo_files(&[
        "destination-rule-all.yaml",
        "virtual-service-reviews-test-v2.yaml",
    ]);
    // The apps first, then each reviews sidecar: the registry records where its inbound
    // listener was bound, as the local platform does when a sidecar registers.
    let mut reg = Registry::default();
    let mut keep = Vec::new();
    for v in ["v1", "v2", "v3"] {
        let app = Backend::start(&format!("reviews-{v}")).await;
        let mut w = workload("reviews", v, [127, 0, 0, 1]);
        w.app = app.addr;
        let sidecar = start_sidecar(&res, &Registry::default(), &w).await;
        w.inbound = sidecar.listener_addr("inbound").expect("inbound bound");
        reg.workloads.push(w);
        keep.push((app, sidecar));
    }
    let pp = workload("productpage", "v1", [127, 0, 0, 1]);
    reg.workloads.push(pp.clone());
    let productpage = start_sidecar(&res, &reg, &pp).await;
    let out = productpage
        .listener_addr("outbound")
        .expect("outbound bound");

    for _ in 0..5 {
        let got = get_with(
            out,
            "http://reviews:9080/reviews/0",
            &[("end-user", "jason")],
        )
        .await;
        assert_eq!(got.status, 200, "{}", got.text());
        assert_eq!(got.backend(), Some("reviews-v2"));
        let got = get_with(
            out,
            "http://reviews.default.svc.cluster.local:9080/reviews/0",
            &[],
        )
        .await;
        assert_eq!(got.status, 200, "{}", got.text());
        assert_eq!(got.backend(), Some("reviews-v1"));
        let got = get_with(out, "http://reviews:9080/", &[("end-user", "mike")]).await;
        assert_eq!(got.backend(), Some("reviews-v1"));
    }
    // The request crossed the reviews-v2 sidecar to its app.
    assert!(keep[1].0.hits() >= 5);
    assert_eq!(keep[2].0.hits(), 0, "reviews-v3 gets nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookinfo_gateway_reaches_productpage_through_its_sidecar() {
    let res = bookinfo_files(&["bookinfo-gateway.yaml"]);
    let app = Backend::start("productpage-v1").await;
    let mut pp = workload("productpage", "v1", [127, 0, 0, 1]);
    pp.app = app.addr;
    let sidecar = start_sidecar(&res, &Registry::default(), &pp).await;
    pp.inbound = sidecar.listener_addr("inbound").expect("inbound bound");
    let reg = Registry {
        workloads: vec![pp],
    };
    // Gateway port 8080 on an ephemeral port, as tests cannot count on 8080 being free.
    let port_map = std::collections::BTreeMap::from([(8080, 0)]);
    let t = translate::gateway(
        &Input {
            resources: &res.iter().collect::<Vec<_>>(),
            registry: &reg,
        },
        &translate_support::ingress(),
        "127.0.0.1".parse().unwrap(),
        &port_map,
        "1",
    );
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let gw = Proxy::start(t.snapshot, ProxyOptions::default())
        .await
        .expect("the gateway snapshot runs");
    let addr = gw.listener_addr("http.8080").expect("gateway listener");
    for path in [
        "/productpage",
        "/static/x.css",
        "/login",
        "/logout",
        "/api/v1/products/1",
    ] {
        let got = get_with(addr, &format!("http://bookinfo.example.com{path}"), &[]).await;
        assert_eq!(got.status, 200, "{path}: {}", got.text());
        assert_eq!(got.backend(), Some("productpage-v1"), "{path}");
    }
    let got = get_with(addr, "http://bookinfo.example.com/admin", &[]).await;
    assert_eq!(got.status, 404, "unrouted paths are not exposed");
}
