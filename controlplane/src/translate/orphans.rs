//! Rules that apply to nothing: a mesh VirtualService or a DestinationRule whose hosts
//! match no known service. Not errors (the service may register later), but worth a
//! warning, since a typo in a host name silently disables a rule.

use mesh_api::istio::Resource;

use super::destinations::Env;
use super::{hosts, lookup, Acc};

/// Warns about visible mesh VirtualServices and DestinationRules that match no service.
pub(crate) fn check(env: &Env<'_>, acc: &mut Acc) {
    let known = |pattern: &str| {
        env.catalog
            .services
            .keys()
            .any(|h| hosts::matches(pattern, h))
    };
    for r in env.resources {
        let ns = lookup::namespace_of(r);
        match r {
            Resource::VirtualService(vs) => {
                let for_mesh = vs.spec.gateways.is_empty()
                    || vs.spec.gateways.iter().any(|g| g == lookup::MESH);
                if !for_mesh || !hosts::visible(&vs.spec.export_to, ns, env.proxy.namespace) {
                    continue;
                }
                for (i, h) in vs.spec.hosts.iter().enumerate() {
                    let host = hosts::resolve(h, ns);
                    if !known(&host) {
                        acc.warnings.push(
                            r,
                            format!("spec.hosts[{i}]"),
                            format!(
                                "{host} is not a registered service nor a ServiceEntry host: \
                                 these routes are unused (check the name and namespace)"
                            ),
                        );
                    }
                }
            }
            Resource::DestinationRule(dr) => {
                if !hosts::visible(&dr.spec.export_to, ns, env.proxy.namespace) {
                    continue;
                }
                let host = hosts::resolve(&dr.spec.host, ns);
                if !known(&host) {
                    acc.warnings.push(
                        r,
                        "spec.host".into(),
                        format!(
                            "{host} is not a registered service nor a ServiceEntry host: \
                             this rule is unused (check the name and namespace)"
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}
