//! Sample workloads on the local platform: the address plan and what to run for each
//! workload. Pure: from the sample, the installed spec and the state directory to two
//! [`Launch`]es per workload, its app and its sidecar.
//!
//! Address plan: workload *i* of a sample (in [`Sample::workloads`] order) gets its own
//! loopback address, `FIRST + i` (by default 127.0.10.1 .. 127.0.10.6 for Bookinfo), like a
//! pod IP, and on it the ports a pod has: the app on the sample's port (9080), and its
//! sidecar's outbound 15001 (the app's `HTTP_PROXY`), inbound 15006 (where other proxies
//! reach it), admin 15000, stats 15020 and health 15021. Nothing binds 127.0.0.1, where
//! the control plane (15010/15012/15014), the gateways (8080/8081, 151xx/152xx) and a sidecar
//! run by hand with Istio's default ports live; `--first-ip` moves the whole plan.
//!
//! The sidecar is `mesh-proxy run` in control-plane mode on the TLS port with `--ca-root`,
//! like a gateway ([`super::launch`]): it gets a mesh certificate, so sidecars talk mutual
//! TLS automatically.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use mesh_api::xds::{NodeIdentity, NodePort, ProxyType};

use super::launch::{self, Launch, ProxyLaunch};
use crate::profile::MeshSpec;
use crate::samples::{Sample, SampleWorkload};

/// The first workload's address when `--first-ip` is not given.
pub const FIRST_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 10, 1);
/// The sidecar's outbound listener on its workload's address (Istio's port, as in a pod):
/// the app's `HTTP_PROXY`.
pub const OUTBOUND_PORT: u16 = 15001;
/// The sidecar's inbound listener, where other proxies reach the workload.
pub const INBOUND_PORT: u16 = 15006;
/// The sidecar's admin server.
pub const ADMIN_PORT: u16 = 15000;
/// The sidecar's merged metrics.
pub const STATS_PORT: u16 = 15020;
/// The sidecar's health server (`/healthz/ready`).
pub const HEALTH_PORT: u16 = 15021;
/// The flag that moves every workload's addresses (named when one is in use).
pub const MOVE_FLAG: &str = "--first-ip";

/// Where one workload listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addresses {
    /// The app (the sample's port on the workload's address).
    pub app: SocketAddr,
    /// The sidecar's outbound listener (the app's `HTTP_PROXY`).
    pub outbound: SocketAddr,
    /// The sidecar's inbound listener (the workload's endpoint).
    pub inbound: SocketAddr,
    /// The sidecar's admin server.
    pub admin: SocketAddr,
    /// The sidecar's metrics.
    pub stats: SocketAddr,
    /// The sidecar's health server.
    pub health: SocketAddr,
}

impl Addresses {
    fn on(ip: Ipv4Addr, app_port: u16) -> Addresses {
        let at = |port| SocketAddr::new(IpAddr::V4(ip), port);
        Addresses {
            app: at(app_port),
            outbound: at(OUTBOUND_PORT),
            inbound: at(INBOUND_PORT),
            admin: at(ADMIN_PORT),
            stats: at(STATS_PORT),
            health: at(HEALTH_PORT),
        }
    }
}

/// Every workload of `sample` with its addresses, from `first` on; or why `first` cannot
/// be used (not loopback, 127.0.0.1, or too close to the end of 127.0.0.0/8).
pub fn plan(sample: &Sample, first: Ipv4Addr) -> Result<Vec<(SampleWorkload, Addresses)>, String> {
    if !first.is_loopback() {
        return Err(format!(
            "{MOVE_FLAG} {first} is not a loopback address; the local platform runs workloads \
             on 127.0.0.0/8 (default {FIRST_IP})"
        ));
    }
    let n = u32::try_from(sample.workloads.len())
        .unwrap_or(u32::MAX)
        .max(1);
    let start = u32::from(first);
    let last = start.saturating_add(n - 1);
    let home = u32::from(Ipv4Addr::LOCALHOST);
    if start <= home && home <= last {
        return Err(format!(
            "{MOVE_FLAG} {first} would put a workload on 127.0.0.1, where the control plane \
             and the gateways listen; give an address such as {FIRST_IP}"
        ));
    }
    let octet = start & 0xff;
    if octet == 0 || octet.saturating_add(n - 1) > 254 {
        return Err(format!(
            "{MOVE_FLAG} {first}: the {n} workloads of {} need {n} consecutive addresses in \
             one /24 from it (x.y.z.1 .. x.y.z.254); give an address such as {FIRST_IP}",
            sample.name
        ));
    }
    Ok(sample
        .workloads
        .iter()
        .zip(start..)
        .map(|(w, ip)| (*w, Addresses::on(Ipv4Addr::from(ip), sample.port)))
        .collect())
}

/// The record name of `w`'s app: `bookinfo-reviews-v2`; its sidecar's adds `-sidecar`.
pub fn record_name(sample: &Sample, w: &SampleWorkload) -> String {
    format!("{}-{}", sample.name, w.name())
}

/// What a sidecar's record name adds to its app's.
pub const SIDECAR_SUFFIX: &str = "-sidecar";

/// The sidecar's record name.
pub fn sidecar_record_name(sample: &Sample, w: &SampleWorkload) -> String {
    format!("{}{SIDECAR_SUFFIX}", record_name(sample, w))
}

/// `w`'s sidecar identity: Kubernetes' names and labels (`app`, `version`), one `http`
/// port, the addresses of the plan.
pub fn node(sample: &Sample, w: &SampleWorkload, a: &Addresses) -> NodeIdentity {
    NodeIdentity {
        name: w.instance(),
        workload: w.name(),
        service: w.service.to_string(),
        namespace: sample.namespace.to_string(),
        service_account: sample.service_account(w),
        labels: BTreeMap::from([
            ("app".to_string(), w.service.to_string()),
            ("version".to_string(), w.version.to_string()),
        ]),
        ports: vec![NodePort {
            name: "http".into(),
            port: sample.port,
            target_port: None,
        }],
        inbound: a.inbound,
        outbound: a.outbound,
        app: a.app,
        // mesh-proxy fills these from --admin-addr and --stats-addr.
        admin: None,
        stats: None,
        proxy_type: ProxyType::Sidecar,
    }
}

/// How to run `w`: its app, then its sidecar.
pub fn launches(
    sample: &Sample,
    w: &SampleWorkload,
    a: &Addresses,
    spec: &MeshSpec,
    state: &Path,
) -> [Launch; 2] {
    let name = w.name();
    let mut env: BTreeMap<String, String> = sample
        .app_env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // Every call the app makes goes to its sidecar, which routes `reviews:9080` and friends.
    env.insert("HTTP_PROXY".into(), format!("http://{}", a.outbound));
    env.insert("INSTANCE_NAME".into(), w.instance());
    let app = Launch {
        name: record_name(sample, w),
        title: format!("app of {name}"),
        sample: Some(sample.name.to_string()),
        program: sample.program,
        args: sample.app_args(w, a.app),
        env: Some(env),
        binds: vec![(a.app, MOVE_FLAG)],
        endpoints: BTreeMap::from([("app".to_string(), a.app)]),
        ready: a.app,
        ready_path: "/health",
        files: Vec::new(),
        token: None,
    };

    let sidecar = launch::mesh_proxy(
        ProxyLaunch {
            name: sidecar_record_name(sample, w),
            title: format!("sidecar of {name}"),
            sample: Some(sample.name.to_string()),
            dir: state.join("samples").join(sample.name).join(&name),
            node: node(sample, w, a),
            admin: a.admin,
            stats: a.stats,
            health: a.health,
            binds: [a.outbound, a.inbound, a.admin, a.stats, a.health]
                .into_iter()
                .map(|addr| (addr, MOVE_FLAG))
                .collect(),
            endpoints: BTreeMap::from([
                ("outbound".to_string(), a.outbound),
                ("inbound".to_string(), a.inbound),
                ("admin".to_string(), a.admin),
                ("stats".to_string(), a.stats),
                ("health".to_string(), a.health),
            ]),
            // A sample's traffic is light: one worker thread each keeps six sidecars small.
            extra_args: vec!["--workers".to_string(), "1".to_string()],
        },
        spec,
        state,
    );
    [app, sidecar]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::BOOKINFO;

    #[test]
    fn every_workload_has_its_own_loopback_address() {
        let plan = plan(&BOOKINFO, FIRST_IP).expect("default plan");
        let got: Vec<(String, String)> = plan
            .iter()
            .map(|(w, a)| (w.name(), a.app.to_string()))
            .collect();
        let want = [
            ("details-v1", "127.0.10.1:9080"),
            ("ratings-v1", "127.0.10.2:9080"),
            ("reviews-v1", "127.0.10.3:9080"),
            ("reviews-v2", "127.0.10.4:9080"),
            ("reviews-v3", "127.0.10.5:9080"),
            ("productpage-v1", "127.0.10.6:9080"),
        ]
        .map(|(n, a)| (n.to_string(), a.to_string()));
        assert_eq!(got, want);
        // No address is bound twice, and none is on 127.0.0.1.
        let mut all: Vec<SocketAddr> = plan
            .iter()
            .flat_map(|(_, a)| [a.app, a.outbound, a.inbound, a.admin, a.stats, a.health])
            .collect();
        assert!(all.iter().all(|a| a.ip() != Ipv4Addr::LOCALHOST));
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 36);
    }

    #[test]
    fn a_plan_must_stay_on_loopback_off_127_0_0_1_and_in_one_slash_24() {
        for bad in ["10.0.0.1", "127.0.0.1", "127.0.0.0", "127.0.10.250"] {
            let e = plan(&BOOKINFO, bad.parse().expect("ip")).expect_err(bad);
            assert!(e.contains("--first-ip"), "{e}");
        }
        assert!(plan(&BOOKINFO, "127.0.0.2".parse().expect("ip")).is_ok());
        assert!(plan(&BOOKINFO, "127.0.10.249".parse().expect("ip")).is_ok());
    }

    #[test]
    fn the_app_calls_through_its_sidecar_which_holds_a_mesh_certificate() {
        let spec = crate::profile::builtin("default")
            .and_then(|p| p.spec().ok())
            .expect("default");
        let plan = plan(&BOOKINFO, FIRST_IP).expect("plan");
        let (w, a) = &plan[3];
        let [app, sidecar] = launches(&BOOKINFO, w, a, &spec, Path::new("/s"));
        assert_eq!(app.name, "bookinfo-reviews-v2");
        assert_eq!(app.program, "bookinfo");
        assert_eq!(
            app.args,
            ["reviews", "--version", "v2", "--listen", "127.0.10.4:9080"]
        );
        let env = app.env.expect("a clean environment");
        assert_eq!(env["HTTP_PROXY"], "http://127.0.10.4:15001");
        assert_eq!(env["INSTANCE_NAME"], "reviews-v2-0");
        assert_eq!((app.ready, app.ready_path), (a.app, "/health"));

        assert_eq!(sidecar.name, "bookinfo-reviews-v2-sidecar");
        assert_eq!(sidecar.sample.as_deref(), Some("bookinfo"));
        for pair in [
            ["--control-plane", "127.0.0.1:15012"],
            ["--ca-root", "/s/ca/root-cert.pem"],
            [
                "--workload-file",
                "/s/samples/bookinfo/reviews-v2/workload.yaml",
            ],
            ["--health-addr", "127.0.10.4:15021"],
        ] {
            assert!(sidecar.args.windows(2).any(|w| w == pair), "{pair:?}");
        }
        assert_eq!(sidecar.ready_path, "/healthz/ready");
        let node: NodeIdentity = serde_saphyr::from_str(&sidecar.files[0].1).expect("workload");
        assert_eq!(node.id(), "reviews-v2-0.default");
        assert_eq!(node.service_account, "bookinfo-reviews");
        assert_eq!(node.labels["version"], "v2");
        assert_eq!(node.outbound, a.outbound);
        assert_eq!(node.app, a.app);
        let token = sidecar.token.expect("token");
        assert_eq!(token.service_account, "bookinfo-reviews");
    }
}
