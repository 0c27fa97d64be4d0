//! Shared by the `push_*`, `telemetry_flow`, `authz_flow`, `gateway_flow`, `ca_flow_*` and
//! `mtls_*` tests: the real `mesh-controlplane` binary on a temporary state directory (killed
//! by PID on drop), in-process proxies in control-plane mode ([`mesh_proxy::xds::Client`]) in
//! front of test backends or as gateways, over the plaintext port or over TLS with
//! certificates from the control plane's CA, and HTTP helpers for the monitoring API.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh_api::xds::{NodeIdentity, NodePort};
use mesh_controlplane::ca::{Identity, TokenAuthority};
use mesh_proxy::testing::{eventually, send, Backend, Got};
use mesh_proxy::xds::transport::ControlPlaneTls;
use mesh_proxy::xds::{Client, ClientOptions};
use serde_json::Value;

pub const WAIT: Duration = Duration::from_secs(20);

pub use mesh_proxy::testing::free_addr;

/// The control plane binary, on fixed addresses so a restart keeps them.
pub struct ControlPlane {
    pub state: PathBuf,
    pub xds: SocketAddr,
    /// The TLS port (certificates, and config streams over mTLS).
    pub xds_tls: SocketAddr,
    pub monitoring: SocketAddr,
    /// More flags for `mesh-controlplane run` (`--cert-ttl 2s`, ...).
    pub args: Vec<String>,
    /// The root proxies verify the control plane with (`--ca-root`); the one the control
    /// plane creates in its state directory unless a test uses its own CA.
    pub ca_root: PathBuf,
    /// The trust domain tokens are issued for.
    pub trust_domain: String,
    child: Option<Child>,
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.kill();
    }
}

impl ControlPlane {
    pub async fn start(state: &Path) -> ControlPlane {
        ControlPlane::start_with(state, &[]).await
    }

    /// [`ControlPlane::start`] with more flags.
    pub async fn start_with(state: &Path, args: &[&str]) -> ControlPlane {
        let mut cp = ControlPlane {
            state: state.to_path_buf(),
            xds: free_addr(),
            xds_tls: free_addr(),
            monitoring: free_addr(),
            args: args.iter().map(|a| a.to_string()).collect(),
            ca_root: state.join("ca").join("root-cert.pem"),
            trust_domain: "cluster.local".into(),
            child: None,
        };
        cp.restart().await;
        cp
    }

    /// (Re)starts the binary on the same state directory and addresses; waits until the
    /// monitoring port answers.
    pub async fn restart(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_mesh-controlplane"))
            .args(["run", "--state-dir"])
            .arg(&self.state)
            .args(["--listen", &self.xds.to_string()])
            .args(["--listen-tls", &self.xds_tls.to_string()])
            .args(["--monitoring", &self.monitoring.to_string()])
            .args(["--grace", "1s", "--log-level", "info"])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mesh-controlplane");
        self.child = Some(child);
        let mon = self.monitoring;
        eventually(WAIT, "the control plane's monitoring port", || async move {
            tokio::net::TcpStream::connect(mon).await.ok()
        })
        .await;
    }

    /// `kill -9`, by PID.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, by PID; the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let pid = c.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = c.kill();
                panic!("mesh-controlplane did not exit on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A bootstrap token for `namespace`/`sa`, from the state directory's CA key.
    pub fn token(&self, namespace: &str, sa: &str) -> String {
        let tokens = TokenAuthority::load_or_create(&self.state.join("ca")).unwrap();
        let id = Identity::new(&self.trust_domain, namespace, sa).unwrap();
        tokens.issue(&id, Duration::from_secs(3600))
    }

    /// TLS to this control plane, trusting its root.
    pub fn tls(&self) -> ControlPlaneTls {
        ControlPlaneTls::from_file(&self.ca_root).expect("the control plane's root")
    }

    pub async fn get(&self, path: &str) -> Got {
        let req = Request::get(path)
            .header("host", "cp")
            .body(Full::new(Bytes::new()))
            .unwrap();
        send(self.monitoring, req)
            .await
            .expect("monitoring request")
    }

    pub async fn json(&self, path: &str) -> Value {
        let got = self.get(path).await;
        assert_eq!(got.status, 200, "{path}: {}", got.text());
        serde_json::from_str(&got.text()).unwrap()
    }

    /// `DELETE /apis/resources/<kind>/<namespace>/<name>`.
    pub async fn delete(&self, kind: &str, namespace: &str, name: &str) -> Got {
        let req = Request::delete(format!("/apis/resources/{kind}/{namespace}/{name}"))
            .header("host", "cp")
            .body(Full::new(Bytes::new()))
            .unwrap();
        send(self.monitoring, req).await.expect("delete request")
    }

    /// The `/api/v1/targets` entry of `id` once it was scraped (`up`).
    pub async fn wait_scraped(&self, id: &str) -> Value {
        eventually(WAIT, &format!("{id} scraped"), || async {
            let t = self.json("/api/v1/targets").await;
            t["targets"]
                .as_array()?
                .iter()
                .find(|t| t["id"] == id && t["up"] == true)
                .cloned()
        })
        .await
    }

    /// The `proxies` entry of `id` in `GET /api/v1/mesh`.
    pub async fn mesh_proxy(&self, id: &str) -> Option<Value> {
        let mesh = self.json("/api/v1/mesh").await;
        mesh["proxies"]
            .as_array()?
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
    }

    /// The `cert_not_after` (Unix seconds) that `/api/v1/mesh` and `/api/v1/targets` both
    /// report for `id`, once they do and agree to within rounding.
    pub async fn reported_cert_not_after(&self, id: &str) -> u64 {
        eventually(WAIT, &format!("cert_not_after of {id}"), || async {
            let mesh = self.mesh_proxy(id).await?["cert_not_after"].as_u64()?;
            let targets = self.json("/api/v1/targets").await;
            let target = targets["targets"]
                .as_array()?
                .iter()
                .find(|t| t["id"] == id)?;
            (target["cert_not_after"].as_u64()?.abs_diff(mesh) <= 1).then_some(mesh)
        })
        .await
    }

    pub async fn apply(&self, file: &str, yaml: &str) -> Got {
        let req = Request::post("/apis/apply")
            .header("host", "cp")
            .header("x-file-name", file)
            .body(Full::new(Bytes::from(yaml.to_string())))
            .unwrap();
        send(self.monitoring, req).await.expect("apply request")
    }

    /// The `/debug/proxies` entry of `id`.
    pub async fn proxy(&self, id: &str) -> Option<Value> {
        let all = self.json("/debug/proxies").await;
        all.as_array()?.iter().find(|p| p["id"] == id).cloned()
    }

    /// Waits until every proxy in `ids` is SYNCED on a snapshot that includes store
    /// revision `revision` or later.
    pub async fn wait_synced(&self, ids: &[&str], revision: u64) {
        for id in ids {
            eventually(
                WAIT,
                &format!("{id} SYNCED at revision {revision}"),
                || async {
                    let p = self.proxy(id).await?;
                    (p["state"] == "SYNCED" && p["ackedRevision"].as_u64()? >= revision)
                        .then_some(())
                },
            )
            .await;
        }
    }
}

/// A workload: its app (a test backend) and its sidecar in control-plane mode.
pub struct Sidecar {
    pub app: Backend,
    pub node: NodeIdentity,
    pub client: Client,
}

impl Sidecar {
    pub fn id(&self) -> String {
        self.node.id()
    }

    pub fn outbound(&self) -> SocketAddr {
        self.node.outbound
    }
}

impl Sidecar {
    /// The notAfter (Unix seconds) of the certificate the sidecar serves now, as its admin
    /// server's `/config_dump` shows it; None without a certificate.
    pub async fn served_not_after(&self) -> Option<u64> {
        let admin = self.client.proxy()?.admin_addr("admin")?;
        let req = Request::get("/config_dump")
            .header("host", "admin")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let dump: Value = serde_json::from_str(&send(admin, req).await.ok()?.text()).ok()?;
        dump["certificate"]["not_after"].as_u64()
    }
}

/// `service`-`version` with one `http` port 9080, on free loopback ports.
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
        admin: None,
        stats: None,
        proxy_type: Default::default(),
    }
}

/// Starts a backend and its sidecar, with `edit` applied to the identity and options.
pub async fn sidecar_with(
    cp: &ControlPlane,
    service: &str,
    version: &str,
    edit: impl FnOnce(&mut ClientOptions),
) -> Sidecar {
    let app = Backend::start(&format!("{service}-{version}")).await;
    sidecar_for(cp, app, service, version, edit)
}

/// A sidecar in front of `app` (e.g. [`Backend::always`], an unhealthy instance), with
/// `edit` applied to the identity and options.
pub fn sidecar_for(
    cp: &ControlPlane,
    app: Backend,
    service: &str,
    version: &str,
    edit: impl FnOnce(&mut ClientOptions),
) -> Sidecar {
    let node = node(service, version, app.addr);
    let token = cp.token(&node.namespace, &node.service_account);
    let mut opts = ClientOptions::new(cp.xds, node, token);
    opts.proxy.admin_addr = Some("127.0.0.1:0".parse().unwrap());
    // As `mesh-proxy run` does: the hello says where the control plane scrapes metrics.
    opts.proxy.stats_addr = Some(free_addr());
    opts.node.stats = opts.proxy.stats_addr;
    edit(&mut opts);
    let node = opts.node.clone();
    Sidecar {
        app,
        node,
        client: Client::start(opts),
    }
}

pub async fn sidecar(cp: &ControlPlane, service: &str, version: &str) -> Sidecar {
    sidecar_with(cp, service, version, |_| {}).await
}

/// An ingress gateway in `istio-system` (`proxyType: router`, labels
/// `istio: ingressgateway`) whose Gateway port 80 listens on `listener` (the gateway
/// workload's `{port: 80, targetPort: ...}`).
pub struct Gateway {
    pub node: NodeIdentity,
    pub listener: SocketAddr,
    pub client: Client,
}

pub fn gateway(cp: &ControlPlane) -> Gateway {
    let listener = free_addr();
    let stats = free_addr();
    let node = NodeIdentity {
        name: "istio-ingressgateway-0".into(),
        workload: "istio-ingressgateway".into(),
        service: "istio-ingressgateway".into(),
        namespace: "istio-system".into(),
        service_account: "istio-ingressgateway-service-account".into(),
        labels: BTreeMap::from([
            ("app".to_string(), "istio-ingressgateway".to_string()),
            ("istio".to_string(), "ingressgateway".to_string()),
        ]),
        ports: vec![NodePort {
            name: "http2".into(),
            port: 80,
            target_port: Some(listener.port()),
        }],
        // A router's listeners bind on this IP; a gateway has no app and no outbound.
        inbound: listener,
        outbound: listener,
        app: listener,
        admin: None,
        stats: Some(stats),
        proxy_type: mesh_api::xds::ProxyType::Router,
    };
    let token = cp.token(&node.namespace, &node.service_account);
    let mut opts = ClientOptions::new(cp.xds, node.clone(), token);
    opts.proxy.stats_addr = Some(stats);
    Gateway {
        node,
        listener,
        client: Client::start(opts),
    }
}

/// Points a sidecar at the TLS port: it gets a certificate from the CA, then its config.
pub fn over_tls(cp: &ControlPlane, opts: &mut ClientOptions) {
    opts.control_plane = cp.xds_tls;
    opts.tls = Some(cp.tls());
}

/// A sidecar with a mesh certificate (TLS port).
pub async fn tls_sidecar(cp: &ControlPlane, service: &str, version: &str) -> Sidecar {
    sidecar_with(cp, service, version, |o| over_tls(cp, o)).await
}

/// Subsets v1/v2 of reviews, and a VirtualService sending everything to `subset`.
pub fn reviews_to(subset: &str) -> String {
    format!(
        r#"apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: reviews}}
spec:
  host: reviews
  subsets:
    - {{name: v1, labels: {{version: v1}}}}
    - {{name: v2, labels: {{version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews}}
spec:
  hosts: [reviews]
  http:
    - route:
        - destination: {{host: reviews, subset: {subset}}}
"#
    )
}

/// The backend that answered `GET http://reviews:9080/` through `outbound`, when one did.
pub async fn reviews_via(outbound: SocketAddr) -> Option<String> {
    service_via(outbound, "reviews").await
}

/// The backend that answered `GET http://<service>:9080/` through `outbound`, when one did.
pub async fn service_via(outbound: SocketAddr, service: &str) -> Option<String> {
    // `send` insists on connecting; the listener may not be up yet.
    tokio::net::TcpStream::connect(outbound).await.ok()?;
    let req = Request::get(format!("http://{service}:9080/"))
        .header("host", format!("{service}:9080"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let got = send(outbound, req).await.ok()?;
    (got.status == 200).then(|| got.backend().map(str::to_string))?
}

/// Store revision from `/apis/resources` (the highest resource revision).
pub async fn revision(cp: &ControlPlane) -> u64 {
    let all = cp.json("/apis/resources").await;
    all.as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["revision"].as_u64())
        .max()
        .unwrap_or(0)
}
