//! An ingress gateway's snapshot: for each Gateway selecting the gateway workload, one
//! explicit HTTP listener per server port, with virtual hosts for the server `hosts` and the
//! routes of the VirtualServices bound to that Gateway (merged in input order, as Istio
//! merges them for gateways).
//!
//! HTTPS/TLS servers are skipped with a warning until the gateway terminates TLS.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use mesh_api::istio::gateway::Server;
use mesh_api::istio::{Gateway, Resource};
use mesh_api::snapshot::{
    Direction, Listener, ListenerMode, Protocol, RouteConfig, Snapshot, VirtualHost,
};

use super::destinations::Env;
use super::match_::{Scope, Site};
use super::{clusters, hosts, lookup, node_of, routes, services, Acc, Input, ProxyView};
use super::{Translation, Workload};

/// The snapshot of `gw` (an ingress gateway workload) listening on `listen_ip`. Gateway
/// server ports are mapped through `port_map` (the local platform maps 80 to 8080, since
/// binding 80 needs root); unmapped ports are used as written.
pub fn gateway(
    input: &Input<'_>,
    gw: &Workload,
    listen_ip: IpAddr,
    port_map: &BTreeMap<u16, u16>,
    version: &str,
) -> Translation {
    let proxy = ProxyView::of(gw);
    let mut acc = Acc::default();
    let catalog = services::Catalog::build(input, proxy.namespace, &mut acc.warnings);
    let index = lookup::HostIndex::build(input.resources);
    let env = Env {
        resources: input.resources,
        hosts: &index,
        catalog: &catalog,
        proxy,
        // Gateways dial plain text unless a DestinationRule says ISTIO_MUTUAL.
        auto_mtls: false,
    };
    // Server port -> virtual host name -> (domains, routes).
    let mut ports: BTreeMap<u16, BTreeMap<String, VirtualHost>> = BTreeMap::new();
    for r in input.resources {
        let Resource::Gateway(g) = r else { continue };
        let selected = g
            .spec
            .selector
            .iter()
            .all(|(k, v)| gw.labels.get(k) == Some(v));
        if !selected {
            continue;
        }
        for (si, server) in g.spec.servers.iter().enumerate() {
            let Some(port) = http_port(&mut acc, r, si, server) else {
                continue;
            };
            let vhosts = ports.entry(port).or_default();
            server_hosts(&env, &mut acc, r, g, server, port, vhosts);
        }
    }
    let mut snapshot = Snapshot {
        version: version.to_string(),
        node: node_of(gw),
        ..Snapshot::default()
    };
    for (port, vhosts) in ports {
        let name = format!("http.{port}");
        let bind = port_map.get(&port).copied().unwrap_or(port);
        snapshot.listeners.push(Listener {
            name: name.clone(),
            address: SocketAddr::new(listen_ip, bind),
            direction: Direction::Outbound,
            mode: ListenerMode::Explicit,
            protocol: Protocol::Http,
            route_config: Some(name.clone()),
            cluster: None,
            peer_authentication: None,
            authorization: Vec::new(),
        });
        snapshot.routes.push(RouteConfig {
            name,
            virtual_hosts: vhosts.into_values().collect(),
        });
    }
    snapshot.clusters = clusters::build(&env, &acc.used, &mut acc.warnings);
    Translation {
        snapshot,
        warnings: acc.warnings.into_vec(),
    }
}

/// Istio's ingress gateway Service maps these ports to these target ports, so the gateway
/// binds no port below 1024 (which needs root); the local platform does the same.
pub const ISTIO_TARGET_PORTS: [(u16, u16); 2] = [(80, 8080), (443, 8443)];

/// A gateway's server port -> listener port map on the local platform: the ports its
/// workload names (`{port: 80, targetPort: 9080}`), then [`ISTIO_TARGET_PORTS`] for ports it
/// does not name. Ports in neither are bound as written.
pub fn local_port_map(explicit: impl IntoIterator<Item = (u16, u16)>) -> BTreeMap<u16, u16> {
    let mut map: BTreeMap<u16, u16> = ISTIO_TARGET_PORTS.into_iter().collect();
    map.extend(explicit);
    map
}

/// The server's port when it speaks plain HTTP.
fn http_port(acc: &mut Acc, r: &Resource, si: usize, server: &Server) -> Option<u16> {
    let port = server.port.as_ref()?;
    let proto = port.protocol.to_ascii_uppercase();
    if !matches!(proto.as_str(), "HTTP" | "HTTP2" | "GRPC") {
        acc.warnings.push(
            r,
            format!("spec.servers[{si}].port.protocol"),
            format!("{proto} servers are not supported yet (only HTTP); the server is skipped"),
        );
        return None;
    }
    u16::try_from(port.number).ok().filter(|p| *p != 0)
}

/// Adds, for each host of `server`, the routes of VirtualServices bound to Gateway `g`.
fn server_hosts(
    env: &Env<'_>,
    acc: &mut Acc,
    r: &Resource,
    g: &Gateway,
    server: &Server,
    port: u16,
    vhosts: &mut BTreeMap<String, VirtualHost>,
) {
    let gw_ns = lookup::namespace_of(r);
    let scope = Scope::Gateway {
        namespace: gw_ns,
        name: &g.metadata.name,
    };
    for vr in env.resources {
        let Resource::VirtualService(vs) = vr else {
            continue;
        };
        let vs_ns = lookup::namespace_of(vr);
        if !scope.named_in(&vs.spec.gateways, vs_ns)
            || !hosts::visible(&vs.spec.export_to, vs_ns, env.proxy.namespace)
        {
            continue;
        }
        for h in &vs.spec.hosts {
            let Some(host) = bound_host(server, gw_ns, vs_ns, h) else {
                continue;
            };
            let site = Site {
                proxy: env.proxy,
                scope,
                port,
                vs_namespace: vs_ns,
            };
            let rs = routes::virtual_service(env, acc, vr, &vs.spec.http, &site);
            let domains = if host == "*" {
                vec!["*".to_string()]
            } else {
                vec![host.clone(), format!("{host}:{port}")]
            };
            let vh = vhosts.entry(host.clone()).or_insert_with(|| VirtualHost {
                name: format!("{host}:{port}"),
                domains,
                routes: Vec::new(),
            });
            vh.routes.extend(rs);
        }
    }
}

/// The host a VirtualService host `h` (in `vs_ns`) is served as on `server`, if the server
/// exposes it: the more specific of the two names. Server hosts may be `ns/host`, `./host`
/// (the Gateway's namespace) or `*/host`.
fn bound_host(server: &Server, gw_ns: &str, vs_ns: &str, h: &str) -> Option<String> {
    let vs_host = h.to_ascii_lowercase();
    server.hosts.iter().find_map(|sh| {
        let (ns, name) = match sh.split_once('/') {
            Some((".", n)) => (Some(gw_ns), n),
            Some(("*", n)) => (None, n),
            Some((ns, n)) => (Some(ns), n),
            None => (None, sh.as_str()),
        };
        if ns.is_some_and(|ns| ns != vs_ns) {
            return None;
        }
        let name = name.to_ascii_lowercase();
        if hosts::matches(&name, &vs_host) {
            Some(vs_host.clone())
        } else if hosts::matches(&vs_host, &name) {
            Some(name)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_ports_follow_the_workload_then_istio_target_ports() {
        let map = local_port_map([(443, 9443), (8000, 18000)]);
        assert_eq!(map.get(&80), Some(&8080), "Istio's ingress target port");
        assert_eq!(
            map.get(&443),
            Some(&9443),
            "the workload's own mapping wins"
        );
        assert_eq!(map.get(&8000), Some(&18000));
        assert_eq!(map.get(&9000), None, "bound as written");
    }
}
