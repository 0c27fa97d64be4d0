//! A sidecar's outbound side: one explicit HTTP listener (the app's `HTTP_PROXY` on the
//! local platform) whose route table has a virtual host per service host and HTTP port.
//!
//! TCP ports get no virtual host: they need a listener per port, which comes later.

use std::net::SocketAddr;

use mesh_api::snapshot::{Direction, Listener, ListenerMode, Protocol, RouteConfig, VirtualHost};

use super::destinations::Env;
use super::match_::{Scope, Site};
use super::{hosts, lookup, routes, Acc};

/// The name of the outbound listener and of its route table.
pub const OUTBOUND: &str = "outbound";

/// The outbound route table. It does not depend on the listener's address, so proxies that
/// see the same services and rules share it ([`super::sidecar_outbound`]).
pub(crate) fn routes(env: &Env<'_>, acc: &mut Acc) -> RouteConfig {
    let mut virtual_hosts = Vec::new();
    for svc in env.catalog.services.values() {
        let http_ports: Vec<u16> = svc.http_ports().collect();
        let vs = lookup::mesh_virtual_service(env.resources, env.hosts, &svc.host, env.proxy);
        for &port in &http_ports {
            let mut rs = Vec::new();
            if let Some((r, vs)) = vs {
                let site = Site {
                    proxy: env.proxy,
                    scope: Scope::Mesh,
                    port,
                    vs_namespace: lookup::namespace_of(r),
                };
                rs = routes::virtual_service(env, acc, r, &vs.spec.http, &site);
            }
            // A VirtualService with nothing for this port (TCP-only, or port-matched
            // elsewhere) leaves the port to the default route rather than to a 404.
            if rs.is_empty() {
                rs.push(routes::default_route(acc, &svc.host, port));
            }
            virtual_hosts.push(VirtualHost {
                name: format!("{}:{port}", svc.host),
                domains: hosts::domains(
                    &svc.host,
                    port,
                    env.proxy.namespace,
                    http_ports.len() == 1,
                ),
                routes: rs,
            });
        }
    }
    RouteConfig {
        name: OUTBOUND.into(),
        virtual_hosts,
    }
}

/// The explicit outbound listener on `address`, serving [`routes`].
pub fn listener(address: SocketAddr) -> Listener {
    Listener {
        name: OUTBOUND.into(),
        address,
        direction: Direction::Outbound,
        mode: ListenerMode::Explicit,
        protocol: Protocol::Http,
        route_config: Some(OUTBOUND.into()),
        cluster: None,
        peer_authentication: None,
        authorization: Vec::new(),
    }
}
