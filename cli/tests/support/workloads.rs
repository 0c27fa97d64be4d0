//! In-process workloads for the inspection tests: a test backend (the app) and its sidecar
//! (`mesh_proxy::xds::Client`, a real proxy with real sockets) registered with the control
//! plane `meshctl install` started, with a bootstrap token from that control plane's own
//! key (`MESHCTL_HOME/ca`). Dropping a workload stops its sidecar and its app.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use mesh_api::xds::{NodeIdentity, NodePort};
use mesh_controlplane::ca::{Identity, TokenAuthority};
use mesh_proxy::testing::{eventually, Backend};
use mesh_proxy::xds::transport::ControlPlaneTls;
use mesh_proxy::xds::{Client, ClientOptions};
use serde_json::Value;

use super::{free_addr, Mesh, Run, WAIT};

/// A workload: its app and its sidecar.
pub struct Workload {
    pub app: Backend,
    pub node: NodeIdentity,
    pub client: Client,
}

impl Workload {
    /// `name.namespace`, as `/debug/proxies` lists it.
    pub fn id(&self) -> String {
        self.node.id()
    }

    /// The sidecar's outbound listener (the app's `HTTP_PROXY`).
    pub fn outbound(&self) -> SocketAddr {
        self.node.outbound
    }
}

/// A bootstrap token for `namespace`/`sa`, from the installed control plane's key.
pub fn token(mesh: &Mesh, namespace: &str, sa: &str) -> String {
    let tokens = TokenAuthority::load_or_create(&mesh.home().join("ca")).expect("token key");
    let id = Identity::new("cluster.local", namespace, sa).expect("identity");
    tokens.issue(&id, Duration::from_secs(3600))
}

/// `service-version` in `default` with one `http` port 9080, every address a free loopback
/// port, the admin and stats addresses told to the control plane in the hello.
pub fn node(service: &str, version: &str, app: SocketAddr) -> NodeIdentity {
    NodeIdentity {
        name: format!("{service}-{version}-0"),
        workload: format!("{service}-{version}"),
        service: service.into(),
        namespace: "default".into(),
        service_account: service.into(),
        labels: BTreeMap::from([
            ("app".to_string(), service.to_string()),
            ("version".to_string(), version.to_string()),
        ]),
        ports: vec![NodePort {
            name: "http".into(),
            port: 9080,
            target_port: None,
        }],
        inbound: free_addr(),
        outbound: free_addr(),
        app,
        admin: Some(free_addr()),
        stats: Some(free_addr()),
        proxy_type: Default::default(),
    }
}

/// Starts a backend and its sidecar; `edit` may change the identity and options first.
pub async fn workload_with(
    mesh: &Mesh,
    service: &str,
    version: &str,
    edit: impl FnOnce(&mut ClientOptions),
) -> Workload {
    let app = Backend::start(&format!("{service}-{version}")).await;
    let node = node(service, version, app.addr);
    let token = token(mesh, &node.namespace, &node.service_account);
    let mut opts = ClientOptions::new(mesh.xds, node, token);
    opts.proxy.admin_addr = opts.node.admin;
    opts.proxy.stats_addr = opts.node.stats;
    edit(&mut opts);
    let node = opts.node.clone();
    Workload {
        app,
        node,
        client: Client::start(opts),
    }
}

/// [`workload_with`] without changes.
pub async fn workload(mesh: &Mesh, service: &str, version: &str) -> Workload {
    workload_with(mesh, service, version, |_| {}).await
}

/// Points a sidecar at the control plane's TLS port: it first gets a certificate from the
/// mesh's CA (so automatic mTLS applies between such sidecars), verifying the control plane
/// against `MESHCTL_HOME/ca/root-cert.pem`.
pub fn over_tls(mesh: &Mesh, opts: &mut ClientOptions) {
    opts.control_plane = mesh.xds_tls;
    let root = mesh.home().join("ca").join("root-cert.pem");
    opts.tls = Some(ControlPlaneTls::from_file(&root).expect("the mesh's root certificate"));
}

/// A workload whose sidecar holds a mesh certificate ([`over_tls`]).
pub async fn tls_workload(mesh: &Mesh, service: &str, version: &str) -> Workload {
    workload_with(mesh, service, version, |o| over_tls(mesh, o)).await
}

/// Runs meshctl from an async test without stalling the proxies on this runtime (needs the
/// multi-threaded runtime).
pub fn meshctl(mesh: &Mesh, args: &[&str]) -> Run {
    tokio::task::block_in_place(|| mesh.run(args))
}

/// `GET path` on the monitoring port as JSON, from an async test.
pub fn monitoring_json(mesh: &Mesh, path: &str) -> Option<Value> {
    let (status, body) = tokio::task::block_in_place(|| mesh.get(path))?;
    (status == 200).then(|| serde_json::from_str(&body).ok())?
}

/// Waits until every proxy in `ids` is SYNCED.
pub async fn wait_synced(mesh: &Mesh, ids: &[String]) {
    for id in ids {
        eventually(WAIT, &format!("{id} SYNCED"), || async {
            let all = monitoring_json(mesh, "/debug/proxies")?;
            let p = all.as_array()?.iter().find(|p| p["id"] == id.as_str())?;
            (p["state"] == "SYNCED").then_some(())
        })
        .await;
    }
}
