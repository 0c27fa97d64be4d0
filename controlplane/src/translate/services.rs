//! The catalog of destinations a proxy can reach: the registry's services and the
//! ServiceEntries visible to the proxy, each with its ports and its members (endpoints per
//! port, with the labels DestinationRule subsets select on).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};

use mesh_api::istio::service_entry::Resolution;
use mesh_api::istio::Resource;
use mesh_api::snapshot::Endpoint;

use super::{hosts, lookup, principal, Input, Warnings, Workload};

/// One port of a destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SvcPort {
    pub number: u16,
    /// HTTP, HTTP/2 or gRPC: gets an outbound virtual host.
    pub http: bool,
}

/// One instance of a destination: its labels and where to reach it on each service port.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub labels: BTreeMap<String, String>,
    pub endpoints: BTreeMap<u16, Endpoint>,
    /// Its sidecar holds a mesh certificate, so it accepts automatic mTLS.
    pub mtls: bool,
}

/// A destination host.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    pub host: String,
    /// The namespace the service (or ServiceEntry) lives in.
    pub namespace: String,
    pub ports: Vec<SvcPort>,
    pub members: Vec<Member>,
    /// Whether members run a sidecar (registry workloads): then sidecars talk h2c to them.
    pub meshed: bool,
}

impl Service {
    pub fn http_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.ports.iter().filter(|p| p.http).map(|p| p.number)
    }

    pub fn has_port(&self, port: u16) -> bool {
        self.ports.iter().any(|p| p.number == port)
    }
}

/// Every destination host a proxy can reach, sorted by host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    pub services: BTreeMap<String, Service>,
}

impl Catalog {
    /// Registry services first; a ServiceEntry cannot shadow a registry host (Istio's
    /// Kubernetes registry wins too).
    pub(crate) fn build(input: &Input<'_>, proxy_ns: &str, warnings: &mut Warnings) -> Catalog {
        let mut services = BTreeMap::new();
        let mut workloads: Vec<_> = input.registry.workloads.iter().collect();
        // Registry order is arrival order; sorting keeps snapshots identical across restarts.
        workloads.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        // Each workload's host once (not once per service: 1000 services x 2000 workloads).
        let mut by_host: HashMap<String, Vec<&Workload>> = HashMap::new();
        for w in workloads {
            by_host.entry(w.host()).or_default().push(w);
        }
        for (host, ports) in input.registry.services() {
            let of_host = by_host.get(&host).map(Vec::as_slice).unwrap_or_default();
            let members = of_host
                .iter()
                .map(|w| Member {
                    labels: w.labels.clone(),
                    mtls: w.principal.is_some(),
                    endpoints: w
                        .ports
                        .iter()
                        .map(|p| {
                            let ep = Endpoint {
                                address: w.inbound,
                                weight: 1,
                                workload: w.workload.clone(),
                                namespace: w.namespace.clone(),
                                app: w.label("app").unwrap_or(&w.service).to_string(),
                                version: w.label("version").unwrap_or("unknown").to_string(),
                                principal: principal(w),
                            };
                            (p.port, ep)
                        })
                        .collect(),
                })
                .collect();
            let namespace = of_host
                .first()
                .map(|w| w.namespace.clone())
                .unwrap_or_default();
            let ports = ports
                .iter()
                .map(|p| SvcPort {
                    number: p.port,
                    http: p.protocol.is_http(),
                })
                .collect();
            services.insert(
                host.clone(),
                Service {
                    host,
                    namespace,
                    ports,
                    members,
                    meshed: true,
                },
            );
        }
        for r in input.resources {
            if let Resource::ServiceEntry(se) = r {
                let ns = lookup::namespace_of(r);
                if hosts::visible(&se.spec.export_to, ns, proxy_ns) {
                    add_service_entry(&mut services, r, ns, warnings);
                }
            }
        }
        Catalog { services }
    }

    pub fn get(&self, host: &str) -> Option<&Service> {
        self.services.get(host)
    }
}

fn add_service_entry(
    services: &mut BTreeMap<String, Service>,
    r: &Resource,
    ns: &str,
    warnings: &mut Warnings,
) {
    let Resource::ServiceEntry(se) = r else {
        return;
    };
    let spec = &se.spec;
    let mut ports = Vec::new();
    let mut port_names = BTreeMap::new();
    for (i, p) in spec.ports.iter().enumerate() {
        let Ok(number) = u16::try_from(p.number) else {
            warnings.push(
                r,
                format!("spec.ports[{i}].number"),
                format!("port {} is not 1..=65535; fix the port", p.number),
            );
            continue;
        };
        let proto = p.protocol.to_ascii_uppercase();
        let http = matches!(proto.as_str(), "HTTP" | "HTTP2" | "GRPC" | "GRPC-WEB");
        ports.push(SvcPort { number, http });
        port_names.insert(number, (p.name.clone(), p.target_port));
    }
    let mut members = Vec::new();
    for (i, e) in spec.endpoints.iter().enumerate() {
        let Ok(ip) = e.address.parse::<IpAddr>() else {
            warnings.push(
                r,
                format!("spec.endpoints[{i}].address"),
                format!(
                    "endpoint {:?} is not an IP address; the proxy does not resolve DNS names \
                     yet, so this endpoint is left out (use an IP address)",
                    e.address
                ),
            );
            continue;
        };
        let endpoints = port_names
            .iter()
            .map(|(&number, (name, target))| {
                // Istio: the endpoint's named port, else the port's targetPort, else the port.
                let port = e
                    .ports
                    .get(name)
                    .copied()
                    .or(*target)
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(number);
                let ep = Endpoint {
                    address: SocketAddr::new(ip, port),
                    weight: e.weight.unwrap_or(1).max(1),
                    workload: se.metadata.name.clone(),
                    namespace: ns.to_string(),
                    app: e
                        .labels
                        .get("app")
                        .cloned()
                        .unwrap_or_else(|| "unknown".into()),
                    version: e
                        .labels
                        .get("version")
                        .cloned()
                        .unwrap_or_else(|| "unknown".into()),
                    principal: String::new(),
                };
                (number, ep)
            })
            .collect();
        members.push(Member {
            labels: e.labels.clone(),
            endpoints,
            mtls: false,
        });
    }
    if members.is_empty()
        && matches!(
            spec.resolution,
            Some(Resolution::Dns | Resolution::DnsRoundRobin)
        )
    {
        warnings.push(
            r,
            "spec.resolution".into(),
            "DNS resolution without IP endpoints: the proxy does not resolve DNS names yet, \
             so requests to these hosts get 503; list endpoints with IP addresses for now"
                .into(),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, h) in spec.hosts.iter().enumerate() {
        let host = h.to_ascii_lowercase();
        if host.starts_with('*') {
            warnings.push(
                r,
                format!("spec.hosts[{i}]"),
                "wildcard ServiceEntry hosts are not supported yet; name the hosts".into(),
            );
            continue;
        }
        if services.contains_key(&host) || !seen.insert(host.clone()) {
            continue;
        }
        services.insert(
            host.clone(),
            Service {
                host,
                namespace: ns.to_string(),
                ports: ports.clone(),
                members: members.clone(),
                meshed: false,
            },
        );
    }
}
