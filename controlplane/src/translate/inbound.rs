//! A sidecar's inbound side: one HTTP listener that other sidecars reach, forwarding each
//! HTTP port of the workload's service to the local app (`inbound|<port>||`).
//!
//! Local-platform assumption: all ports arrive on one inbound listener, so with several
//! HTTP ports the port is read from the Host header (`reviews:9080`), which HTTP clients
//! send when the service port is not 80; the first port also takes requests without a
//! matching port. With one port, `*` is enough. With several ports the app is reached on
//! each port's `targetPort` at the app's IP.

use std::net::SocketAddr;

use mesh_api::snapshot::{
    Cluster, Direction, Endpoint, Listener, ListenerMode, Protocol, Route, RouteConfig,
    RouteDestination, UpstreamProtocol, VirtualHost,
};

use super::{node_of, Workload};

/// The name of the inbound listener and of its route table.
pub const INBOUND: &str = "inbound";

/// The inbound listener, its route table and its clusters.
#[derive(Clone, Debug)]
pub struct Inbound {
    pub listener: Listener,
    pub routes: RouteConfig,
    pub clusters: Vec<Cluster>,
}

pub fn build(w: &Workload, address: SocketAddr) -> Inbound {
    let mut ports: Vec<_> = w.ports.iter().filter(|p| p.protocol.is_http()).collect();
    ports.sort_by_key(|p| p.port);
    ports.dedup_by_key(|p| p.port);
    let single = ports.len() == 1;
    let node = node_of(w);
    let mut virtual_hosts = Vec::new();
    let mut clusters = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let name = format!("inbound|{}||", p.port);
        let mut domains = vec![format!("*:{}", p.port)];
        if i == 0 {
            domains.push("*".into());
        }
        let app = if single {
            w.app
        } else {
            SocketAddr::new(w.app.ip(), p.target_port)
        };
        virtual_hosts.push(VirtualHost {
            name: format!("inbound|http|{}", p.port),
            domains,
            routes: vec![Route {
                name: "default".into(),
                route: vec![RouteDestination {
                    cluster: name.clone(),
                    weight: None,
                    headers: None,
                }],
                ..Route::default()
            }],
        });
        clusters.push(Cluster {
            name,
            service: node.service.clone(),
            endpoints: vec![Endpoint {
                address: app,
                weight: 1,
                workload: node.workload.clone(),
                namespace: node.namespace.clone(),
                app: node.app.clone(),
                version: node.version.clone(),
                principal: node.principal.clone(),
            }],
            // Apps speak HTTP/1.1 unless told otherwise.
            protocol: UpstreamProtocol::Http1,
            load_balancer: Default::default(),
            connection_pool: Default::default(),
            outlier_detection: None,
            tls: None,
        });
    }
    Inbound {
        listener: Listener {
            name: INBOUND.into(),
            address,
            direction: Direction::Inbound,
            mode: ListenerMode::Explicit,
            protocol: Protocol::Http,
            route_config: Some(INBOUND.into()),
            cluster: None,
            peer_authentication: None,
            authorization: Vec::new(),
        },
        routes: RouteConfig {
            name: INBOUND.into(),
            virtual_hosts,
        },
        clusters,
    }
}
