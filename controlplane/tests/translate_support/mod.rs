//! Shared by the `translate_*` tests: Istio's own Bookinfo routing files (read from the
//! shared fixtures checkout, never copied here) and a registry of Bookinfo's workloads.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;

use mesh_api::istio::Resource;
use mesh_controlplane::registry::{PortProtocol, Registry, ServicePort, Workload};
use mesh_controlplane::translate::{self, Input, SidecarOptions, Translation};

/// Where Istio's Bookinfo networking samples are: `shared/` is a sibling of the checkout.
pub fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/istio-bookinfo/networking")
}

/// Every resource of the named Bookinfo files, validated by `mesh_api::istio::load`.
pub fn bookinfo_files(names: &[&str]) -> Vec<Resource> {
    let mut out = Vec::new();
    for name in names {
        let path = fixtures_dir().join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "read {}: {e} (clone shared/ next to the checkout)",
                path.display()
            )
        });
        out.extend(yaml(name, &text));
    }
    out
}

/// Resources from inline YAML.
pub fn yaml(file: &str, text: &str) -> Vec<Resource> {
    mesh_api::istio::load(file, text)
        .unwrap_or_else(|d| panic!("{file} does not load: {d}"))
        .into_iter()
        .map(|p| p.resource)
        .collect()
}

/// One Bookinfo workload: `http` port 9080, its own 127.0.x.y address for the app (9080)
/// and the sidecar's inbound listener (15006).
pub fn workload(service: &str, version: &str, ip: [u8; 4]) -> Workload {
    let ip = std::net::IpAddr::from(ip);
    Workload {
        name: format!("{service}-{version}-0"),
        workload: format!("{service}-{version}"),
        service: service.into(),
        namespace: "default".into(),
        service_account: format!("bookinfo-{service}"),
        labels: BTreeMap::from([
            ("app".to_string(), service.to_string()),
            ("version".to_string(), version.to_string()),
        ]),
        ports: vec![ServicePort {
            name: "http".into(),
            port: 9080,
            protocol: PortProtocol::Http,
            target_port: 9080,
        }],
        inbound: SocketAddr::new(ip, 15006),
        app: SocketAddr::new(ip, 9080),
        // Injected sidecars hold mesh certificates, as in Istio.
        principal: Some(format!(
            "spiffe://cluster.local/ns/default/sa/bookinfo-{service}"
        )),
    }
}

/// productpage-v1, details-v1, reviews-v1/v2/v3, ratings-v1.
pub fn bookinfo() -> Registry {
    Registry {
        workloads: vec![
            workload("productpage", "v1", [127, 0, 1, 1]),
            workload("details", "v1", [127, 0, 2, 1]),
            workload("reviews", "v1", [127, 0, 3, 1]),
            workload("reviews", "v2", [127, 0, 3, 2]),
            workload("reviews", "v3", [127, 0, 3, 3]),
            workload("ratings", "v1", [127, 0, 4, 1]),
        ],
    }
}

/// The ingress gateway workload (`istio: ingressgateway`).
pub fn ingress() -> Workload {
    let mut w = workload("istio-ingressgateway", "v1", [127, 0, 9, 1]);
    w.namespace = "istio-system".into();
    w.labels = BTreeMap::from([
        ("app".to_string(), "istio-ingressgateway".to_string()),
        ("istio".to_string(), "ingressgateway".to_string()),
    ]);
    w.ports.clear();
    w
}

pub fn find<'a>(reg: &'a Registry, workload: &str) -> &'a Workload {
    reg.workloads
        .iter()
        .find(|w| w.workload == workload)
        .unwrap_or_else(|| panic!("no workload {workload}"))
}

/// The sidecar snapshot of `workload`, checked by the proxy's own validator.
pub fn sidecar(resources: &[Resource], reg: &Registry, workload: &str) -> Translation {
    sidecar_with(resources, reg, workload, false)
}

/// [`sidecar`], with `auto_mtls` as given (sidecars that have mesh certificates).
#[allow(dead_code)] // not every test binary using this module needs it
pub fn sidecar_with(
    resources: &[Resource],
    reg: &Registry,
    workload: &str,
    auto_mtls: bool,
) -> Translation {
    let w = find(reg, workload);
    let opts = SidecarOptions {
        outbound: SocketAddr::new(w.app.ip(), 15001),
        inbound: w.inbound,
        version: "1".into(),
        auto_mtls,
    };
    let resources: Vec<&Resource> = resources.iter().collect();
    let t = translate::sidecar(
        &Input {
            resources: &resources,
            registry: reg,
        },
        w,
        &opts,
    );
    if let Err(e) = t.snapshot.validate() {
        panic!("snapshot of {workload} is invalid: {e}");
    }
    t
}
