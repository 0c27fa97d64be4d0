//! What to run for each component on the local platform: the program, its arguments, the
//! files it reads, the addresses it binds (each with the `--set` key that moves it) and where
//! to ask if it is ready. Pure: from the spec and the state directory to a [`Launch`]. Sample
//! workloads' launches are built in [`super::samples`] from the same pieces
//! ([`mesh_proxy`] for their sidecars).
//!
//! A gateway is a `mesh-proxy` in control-plane mode whose workload file says
//! `proxyType: router`. It connects to the control plane's TLS port with the mesh's root
//! (`ca/root-cert.pem`), so it gets a mesh certificate from the CA with its bootstrap token.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use mesh_api::xds::{NodeIdentity, NodePort, ProxyType};

use crate::platform::Component;
use crate::profile::schema::GatewayValues;
use crate::profile::MeshSpec;

/// The control plane's program.
pub const CONTROL_PLANE_PROGRAM: &str = "mesh-controlplane";
/// The gateways' program.
pub const PROXY_PROGRAM: &str = "mesh-proxy";
/// Gateways live in Istio's namespace.
pub const GATEWAY_NAMESPACE: &str = "istio-system";
/// The port Istio's gateway pods listen on for HTTP (the Service's port 80 targets it).
pub const ISTIO_GATEWAY_POD_PORT: u16 = 8080;

/// How to run one process: a component, or a sample workload's app or sidecar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// Its record's name in the state directory (`controlPlane`, `bookinfo-reviews-v2`).
    pub name: String,
    /// What messages call it, lower case: `ingress gateway`, `sidecar of reviews-v2`.
    pub title: String,
    /// The sample it belongs to (recorded, for `meshctl samples remove`).
    pub sample: Option<String>,
    /// Program name (looked up by [`find_program`]).
    pub program: &'static str,
    /// Arguments after the program.
    pub args: Vec<String>,
    /// None: it inherits meshctl's environment; Some: exactly these variables (a sample app
    /// must not pick up the user's `HTTP_PROXY` or `*_HOSTNAME`).
    pub env: Option<BTreeMap<String, String>>,
    /// Addresses it binds, each with the `--set` key that moves it (for a sample workload,
    /// the flag that moves the whole sample).
    pub binds: Vec<(SocketAddr, &'static str)>,
    /// Addresses by role, recorded for other commands (`monitoring` is the config API).
    pub endpoints: BTreeMap<String, SocketAddr>,
    /// `GET http://<ready><ready_path>` answers 200 once it serves.
    pub ready: SocketAddr,
    /// `/version` for the control plane, `/healthz/ready` for a proxy, `/health` for a
    /// Bookinfo app.
    pub ready_path: &'static str,
    /// Files written before it starts (a proxy's workload file), path and content.
    pub files: Vec<(PathBuf, String)>,
    /// A bootstrap token issued into a file (0600) before it starts.
    pub token: Option<TokenFile>,
}

/// Where a bootstrap token goes and whom it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenFile {
    /// The token file.
    pub path: PathBuf,
    /// The workload's namespace.
    pub namespace: String,
    /// The workload's service account.
    pub service_account: String,
    /// The mesh's trust domain (`values.certificates.trustDomain`).
    pub trust_domain: String,
}

/// One gateway's names: Istio's, so Istio's Gateway selectors and docs apply unchanged.
#[derive(Clone, Copy, Debug)]
struct GatewayNames {
    /// Service and workload (`istio-ingressgateway`).
    service: &'static str,
    /// Its `istio` label (`ingressgateway`).
    istio: &'static str,
    /// The `--set` keys of its port, admin, stats and health ports.
    keys: [&'static str; 4],
}

fn gateway_names(component: Component) -> Option<GatewayNames> {
    match component {
        Component::ControlPlane => None,
        Component::IngressGateway => Some(GatewayNames {
            service: "istio-ingressgateway",
            istio: "ingressgateway",
            keys: [
                "values.ingressGateway.port",
                "values.ingressGateway.adminPort",
                "values.ingressGateway.statsPort",
                "values.ingressGateway.healthPort",
            ],
        }),
        Component::EgressGateway => Some(GatewayNames {
            service: "istio-egressgateway",
            istio: "egressgateway",
            keys: [
                "values.egressGateway.port",
                "values.egressGateway.adminPort",
                "values.egressGateway.statsPort",
                "values.egressGateway.healthPort",
            ],
        }),
    }
}

/// How to run `component`.
pub fn component(component: Component, spec: &MeshSpec, state: &Path) -> Launch {
    match gateway_names(component) {
        Some(names) => gateway(component, names, spec, state),
        None => control_plane(spec, state),
    }
}

/// The proxy id the control plane lists a gateway as (`istio-ingressgateway-0.istio-system`).
pub fn gateway_proxy_id(component: Component) -> Option<String> {
    gateway_names(component).map(|n| format!("{}-0.{GATEWAY_NAMESPACE}", n.service))
}

/// A gateway's workload: Istio's names and labels, its Gateway ports 80 and 8080 mapped to
/// `values.<gateway>.port` on `values.<gateway>.address`. Istio's gateway Service sends port
/// 80 to the pod's port 8080, and Istio's own `bookinfo-gateway.yaml` names 8080 (the pod's
/// port) directly: on the local platform that port is `values.<gateway>.port`, so both
/// spellings land there (and a moved port moves both).
fn gateway_node(names: GatewayNames, v: &GatewayValues) -> NodeIdentity {
    let listen = SocketAddr::new(v.address, v.port);
    NodeIdentity {
        name: format!("{}-0", names.service),
        workload: names.service.to_string(),
        service: names.service.to_string(),
        namespace: GATEWAY_NAMESPACE.to_string(),
        service_account: format!("{}-service-account", names.service),
        labels: BTreeMap::from([
            ("istio".to_string(), names.istio.to_string()),
            ("app".to_string(), names.service.to_string()),
        ]),
        ports: vec![
            NodePort {
                name: "http2".into(),
                port: 80,
                target_port: Some(v.port),
            },
            NodePort {
                name: "http-pod".into(),
                port: ISTIO_GATEWAY_POD_PORT,
                target_port: Some(v.port),
            },
        ],
        // A router's listeners bind on the inbound IP; outbound and app are unused.
        inbound: listen,
        outbound: listen,
        app: listen,
        // mesh-proxy fills these from --admin-addr and --stats-addr.
        admin: None,
        stats: None,
        proxy_type: ProxyType::Router,
    }
}

/// Where a proxy in control-plane mode connects and listens, and the files it reads.
#[derive(Clone, Debug)]
struct ProxyPlan<'a> {
    /// The state directory (its `ca/root-cert.pem` is the mesh's root).
    state: &'a Path,
    /// The control plane's TLS port.
    control_plane: SocketAddr,
    /// Its bootstrap token.
    token_file: &'a Path,
    /// Its identity, labels, ports and listener addresses.
    workload_file: &'a Path,
    /// Its admin server.
    admin: SocketAddr,
    /// Its merged metrics server.
    stats: SocketAddr,
    /// Its health server (`/healthz/ready`).
    health: SocketAddr,
    /// `values.accessLogs.enabled`: requests logged into its own log.
    access_logs: bool,
}

/// `mesh-proxy run` against the control plane's TLS port with the mesh's root, so the proxy
/// gets a mesh certificate with its bootstrap token (gateways and sidecars alike).
fn proxy_args(p: &ProxyPlan<'_>) -> Vec<String> {
    let mut args = vec![
        "run".to_string(),
        "--control-plane".into(),
        p.control_plane.to_string(),
        "--ca-root".into(),
        p.state
            .join("ca")
            .join("root-cert.pem")
            .display()
            .to_string(),
        "--token-file".into(),
        p.token_file.display().to_string(),
        "--workload-file".into(),
        p.workload_file.display().to_string(),
        "--admin-addr".into(),
        p.admin.to_string(),
        "--stats-addr".into(),
        p.stats.to_string(),
        "--health-addr".into(),
        p.health.to_string(),
        "--log-level".into(),
        "info".into(),
    ];
    if p.access_logs {
        // Into the proxy's own log (logs/<name>.log).
        args.extend(["--access-log".to_string(), "-".to_string()]);
    }
    args
}

/// A `mesh-proxy` in control-plane mode for `node` (a gateway, or a sample's sidecar).
#[derive(Clone, Debug)]
pub struct ProxyLaunch {
    pub name: String,
    pub title: String,
    pub sample: Option<String>,
    /// Where its workload file and bootstrap token are written.
    pub dir: PathBuf,
    pub node: NodeIdentity,
    pub admin: SocketAddr,
    pub stats: SocketAddr,
    /// Also where readiness is asked (`/healthz/ready`).
    pub health: SocketAddr,
    pub binds: Vec<(SocketAddr, &'static str)>,
    pub endpoints: BTreeMap<String, SocketAddr>,
    /// Arguments after the common ones.
    pub extra_args: Vec<String>,
}

/// How to run `p`: `mesh-proxy run` against the control plane's TLS port with the mesh's
/// root and a bootstrap token for its identity, ready once `/healthz/ready` answers.
pub fn mesh_proxy(p: ProxyLaunch, spec: &MeshSpec, state: &Path) -> Launch {
    let workload_file = p.dir.join("workload.yaml");
    let token_file = p.dir.join("token");
    let workload = serde_saphyr::to_string(&p.node).unwrap_or_default();
    let mut args = proxy_args(&ProxyPlan {
        state,
        control_plane: SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            spec.values.control_plane.xds_tls_port,
        )),
        token_file: &token_file,
        workload_file: &workload_file,
        admin: p.admin,
        stats: p.stats,
        health: p.health,
        access_logs: spec.values.access_logs.enabled,
    });
    args.extend(p.extra_args);
    Launch {
        name: p.name,
        title: p.title,
        sample: p.sample,
        program: PROXY_PROGRAM,
        args,
        env: None,
        binds: p.binds,
        endpoints: p.endpoints,
        ready: p.health,
        ready_path: "/healthz/ready",
        files: vec![(workload_file, workload)],
        token: Some(TokenFile {
            path: token_file,
            namespace: p.node.namespace,
            service_account: p.node.service_account,
            trust_domain: spec.values.certificates.trust_domain.clone(),
        }),
    }
}

/// A gateway (ingress or egress): `mesh-proxy run` against the control plane's TLS port.
fn gateway(component: Component, names: GatewayNames, spec: &MeshSpec, state: &Path) -> Launch {
    let v = match component {
        Component::EgressGateway => &spec.values.egress_gateway,
        _ => &spec.values.ingress_gateway,
    };
    let local = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let http = SocketAddr::new(v.address, v.port);
    let (admin, stats, health) = (
        local(v.admin_port),
        local(v.stats_port),
        local(v.health_port),
    );
    let [port_key, admin_key, stats_key, health_key] = names.keys;
    mesh_proxy(
        ProxyLaunch {
            name: component.key().to_string(),
            title: component.title().to_lowercase(),
            sample: None,
            dir: state.join("gateways").join(component.key()),
            node: gateway_node(names, v),
            admin,
            stats,
            health,
            binds: vec![
                (http, port_key),
                (admin, admin_key),
                (stats, stats_key),
                (health, health_key),
            ],
            endpoints: BTreeMap::from([
                ("http".to_string(), http),
                ("admin".to_string(), admin),
                ("stats".to_string(), stats),
                ("health".to_string(), health),
            ]),
            extra_args: Vec::new(),
        },
        spec,
        state,
    )
}

/// The control plane on 127.0.0.1 (plain text is only safe on loopback).
pub fn control_plane(spec: &MeshSpec, state: &Path) -> Launch {
    let v = &spec.values.control_plane;
    let at = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let (xds, monitoring) = (at(v.xds_port), at(v.monitoring_port));
    let xds_tls = at(v.xds_tls_port);
    let certs = &spec.values.certificates;
    let args = vec![
        "run".to_string(),
        "--state-dir".into(),
        state.display().to_string(),
        "--listen".into(),
        xds.to_string(),
        "--monitoring".into(),
        monitoring.to_string(),
        "--listen-tls".into(),
        xds_tls.to_string(),
        "--log-level".into(),
        v.log_level.clone(),
        // The CA's trust domain (fixed when the CA is created; install refuses a change) and
        // the lifetime of the workload certificates it signs.
        "--trust-domain".into(),
        certs.trust_domain.clone(),
        "--cert-ttl".into(),
        certs.ttl.to_string(),
    ];
    Launch {
        name: Component::ControlPlane.key().to_string(),
        title: Component::ControlPlane.title().to_lowercase(),
        sample: None,
        program: CONTROL_PLANE_PROGRAM,
        args,
        env: None,
        binds: vec![
            (xds, "values.controlPlane.xdsPort"),
            (monitoring, "values.controlPlane.monitoringPort"),
            (xds_tls, "values.controlPlane.xdsTlsPort"),
        ],
        endpoints: BTreeMap::from([
            ("xds".to_string(), xds),
            ("monitoring".to_string(), monitoring),
            ("xdsTls".to_string(), xds_tls),
        ]),
        ready: monitoring,
        ready_path: "/version",
        files: Vec::new(),
        token: None,
    }
}

/// `name` next to the running meshctl first (a build or release directory holds them
/// together), then on `PATH`. The error says where it looked and how to get it.
pub fn find_program(name: &str) -> Result<PathBuf, String> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)));
    if let Some(p) = beside.as_ref().filter(|p| is_executable(p)) {
        return Ok(p.clone());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(name);
        if is_executable(&p) {
            return Ok(p);
        }
    }
    let beside = beside
        .and_then(|p| p.parent().map(|d| d.display().to_string()))
        .unwrap_or_else(|| "meshctl's directory".into());
    Err(format!(
        "cannot find {name}: not next to meshctl (in {beside}) nor on PATH; build it \
         (`cargo build -p {name}`) and put it next to meshctl or on PATH"
    ))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_plane_follows_the_spec() {
        let mut spec = crate::profile::builtin("minimal")
            .and_then(|p| p.spec().ok())
            .expect("minimal");
        spec.values.control_plane.monitoring_port = 25014;
        let l = control_plane(&spec, Path::new("/s"));
        assert_eq!(l.ready, "127.0.0.1:25014".parse().expect("addr"));
        assert!(l.args.windows(2).any(|w| w == ["--state-dir", "/s"]));
        assert!(l
            .args
            .windows(2)
            .any(|w| w == ["--listen", "127.0.0.1:15010"]));
        assert_eq!(l.binds[1], (l.ready, "values.controlPlane.monitoringPort"));
    }

    #[test]
    fn gateways_run_a_router_proxy_on_their_own_ports() {
        let mut spec = crate::profile::builtin("demo")
            .and_then(|p| p.spec().ok())
            .expect("demo");
        spec.values.control_plane.xds_tls_port = 25012;
        let ingress = component(Component::IngressGateway, &spec, Path::new("/s"));
        let egress = component(Component::EgressGateway, &spec, Path::new("/s"));
        assert_eq!(ingress.program, PROXY_PROGRAM);
        assert!(ingress
            .args
            .windows(2)
            .any(|w| w == ["--control-plane", "127.0.0.1:25012"]));
        assert!(ingress
            .args
            .windows(2)
            .any(|w| w == ["--ca-root", "/s/ca/root-cert.pem"]));
        assert_eq!(ingress.ready, "127.0.0.1:15121".parse().expect("addr"));
        assert_eq!(ingress.ready_path, "/healthz/ready");
        assert_eq!(
            ingress.binds[0],
            (
                "127.0.0.1:8080".parse().expect("addr"),
                "values.ingressGateway.port"
            )
        );
        let workload = &ingress.files[0].1;
        for want in [
            "name: istio-ingressgateway-0",
            "namespace: istio-system",
            "proxyType: router",
            "istio: ingressgateway",
            "targetPort: 8080",
            "port: 8080",
        ] {
            assert!(workload.contains(want), "{want}: {workload}");
        }
        assert!(egress.files[0].1.contains("istio: egressgateway"));
        assert!(egress.files[0].1.contains("targetPort: 8081"));
        // Istio's Gateway port 8080 (the gateway pod's port) lands on the gateway's port too.
        spec.values.ingress_gateway.port = 9999;
        let moved = component(Component::IngressGateway, &spec, Path::new("/s"));
        let node: NodeIdentity = serde_saphyr::from_str(&moved.files[0].1).expect("workload");
        let map: Vec<(u16, Option<u16>)> =
            node.ports.iter().map(|p| (p.port, p.target_port)).collect();
        assert_eq!(map, [(80, Some(9999)), (8080, Some(9999))]);
        // No two gateway ports are the same.
        let mut all: Vec<_> = ingress
            .binds
            .iter()
            .chain(&egress.binds)
            .map(|b| b.0)
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 8);
        assert_eq!(
            gateway_proxy_id(Component::EgressGateway).as_deref(),
            Some("istio-egressgateway-0.istio-system")
        );
    }

    #[test]
    fn missing_program_names_where_it_looked() {
        let e = find_program("mesh-no-such-program").expect_err("missing");
        assert!(
            e.contains("not next to meshctl") && e.contains("PATH"),
            "{e}"
        );
    }
}
