//! Incremental config push: what changed between two snapshots of one proxy.
//!
//! A rule change in a mesh of 1000 services touches a few virtual hosts and clusters of each
//! proxy's ~2 MB snapshot. Sending the whole snapshot to 2000 proxies is gigabytes per change;
//! a [`SnapshotDelta`] carries only what differs from the `base` version the proxy runs (as
//! Envoy's incremental xDS does). The proxy applies it to its current snapshot and gets exactly
//! the snapshot the control plane computed: [`SnapshotDelta::apply`] refuses a delta whose
//! base is not the running version ([`DeltaError::Base`]), and the control plane answers that
//! NACK with the full snapshot.
//!
//! What a delta holds:
//! - `node` and `listeners`: always whole (they are small and per proxy);
//! - `routes`: route tables replaced whole, by name (a sidecar's small inbound table);
//! - `virtualHosts`: per route table, virtual hosts upserted in place by name, removed by
//!   name, and the new order of the table's hosts when it changed (order decides which host
//!   wins when two claim one domain, so it is kept exactly);
//! - `clusters` upserted by name, `removeClusters` by name (cluster order carries no meaning;
//!   the result keeps them sorted by name after an upsert of new ones).
//! - `removeRoutes`: route tables removed by name.

use serde::{Deserialize, Serialize};

use super::{Cluster, Listener, Node, RouteConfig, Snapshot, VirtualHost};

/// The changes that turn the snapshot at `base` into the one at the new version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotDelta {
    pub node: Node,
    #[serde(default)]
    pub listeners: Vec<Listener>,
    /// Route tables replaced (or added) whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_routes: Vec<String>,
    /// Changes inside route tables that are kept otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_hosts: Vec<VirtualHostsDelta>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<Cluster>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_clusters: Vec<String>,
}

/// Changes to the virtual hosts of one route table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualHostsDelta {
    /// The route table's name.
    pub route_config: String,
    /// Hosts replaced in place, or added (at the end unless `order` says otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upsert: Vec<VirtualHost>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    /// Every host's name in the new order; absent when the order is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<String>>,
}

/// Why a delta could not be applied. Each leaves the running snapshot untouched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    #[error("delta base mismatch: the delta applies to version {base:?} but this proxy runs {running:?}; the control plane resends the full snapshot")]
    Base { base: String, running: String },
    #[error("delta names route table {name:?}, which version {base:?} does not have")]
    NoRouteConfig { name: String, base: String },
    #[error("delta orders route table {route_config:?} with {name:?}, which is neither kept nor upserted")]
    Order { route_config: String, name: String },
}

impl SnapshotDelta {
    /// The snapshot `base` becomes, stamped `version`. `base.version` must equal `base_version`.
    pub fn apply(
        self,
        base: &Snapshot,
        base_version: &str,
        version: &str,
    ) -> Result<Snapshot, DeltaError> {
        if base.version != base_version {
            return Err(DeltaError::Base {
                base: base_version.to_string(),
                running: base.version.clone(),
            });
        }
        let mut routes: Vec<RouteConfig> = base
            .routes
            .iter()
            .filter(|r| !self.remove_routes.contains(&r.name))
            .cloned()
            .collect();
        for vd in self.virtual_hosts {
            let Some(rc) = routes.iter_mut().find(|r| r.name == vd.route_config) else {
                return Err(DeltaError::NoRouteConfig {
                    name: vd.route_config,
                    base: base_version.to_string(),
                });
            };
            vd.apply_to(rc)?;
        }
        for rc in self.routes {
            match routes.iter_mut().find(|r| r.name == rc.name) {
                Some(old) => *old = rc,
                None => routes.push(rc),
            }
        }
        let mut clusters: Vec<Cluster> = base
            .clusters
            .iter()
            .filter(|c| !self.remove_clusters.contains(&c.name))
            .cloned()
            .collect();
        // Snapshots keep clusters sorted by name (the control plane sorts them): replace by
        // binary search then, and keep new ones sorted in.
        let sorted = clusters.is_sorted_by(|a, b| a.name <= b.name);
        let mut added = Vec::new();
        for c in self.clusters {
            let at = if sorted {
                clusters.binary_search_by(|old| old.name.cmp(&c.name)).ok()
            } else {
                clusters.iter().position(|old| old.name == c.name)
            };
            match at {
                Some(i) => clusters[i] = c,
                None => added.push(c),
            }
        }
        if !added.is_empty() {
            clusters.extend(added);
            if sorted {
                clusters.sort_by(|a, b| a.name.cmp(&b.name));
            }
        }
        Ok(Snapshot {
            version: version.to_string(),
            node: self.node,
            listeners: self.listeners,
            routes,
            clusters,
        })
    }
}

impl VirtualHostsDelta {
    fn apply_to(self, rc: &mut RouteConfig) -> Result<(), DeltaError> {
        rc.virtual_hosts.retain(|v| !self.remove.contains(&v.name));
        for vh in self.upsert {
            match rc.virtual_hosts.iter_mut().find(|v| v.name == vh.name) {
                Some(old) => *old = vh,
                None => rc.virtual_hosts.push(vh),
            }
        }
        if let Some(order) = self.order {
            let mut by_name: std::collections::HashMap<String, VirtualHost> =
                std::mem::take(&mut rc.virtual_hosts)
                    .into_iter()
                    .map(|v| (v.name.clone(), v))
                    .collect();
            let mut ordered = Vec::with_capacity(order.len());
            for name in order {
                match by_name.remove(&name) {
                    Some(v) => ordered.push(v),
                    None => {
                        return Err(DeltaError::Order {
                            route_config: rc.name.clone(),
                            name,
                        })
                    }
                }
            }
            rc.virtual_hosts = ordered;
        }
        Ok(())
    }
}

/// The delta from `old` to `new`: what [`SnapshotDelta::apply`] needs to turn `old` into
/// `new` (versions aside). Route tables present in both are diffed by virtual host.
pub fn diff(old: &Snapshot, new: &Snapshot) -> SnapshotDelta {
    let mut delta = SnapshotDelta {
        node: new.node.clone(),
        listeners: new.listeners.clone(),
        ..SnapshotDelta::default()
    };
    for rc in &new.routes {
        match old.routes.iter().find(|o| o.name == rc.name) {
            None => delta.routes.push(rc.clone()),
            Some(o) => {
                let vd = diff_virtual_hosts(o, rc);
                if !vd.upsert.is_empty() || !vd.remove.is_empty() || vd.order.is_some() {
                    delta.virtual_hosts.push(vd);
                }
            }
        }
    }
    delta.remove_routes = old
        .routes
        .iter()
        .filter(|o| !new.routes.iter().any(|r| r.name == o.name))
        .map(|o| o.name.clone())
        .collect();
    (delta.clusters, delta.remove_clusters) = diff_clusters(&old.clusters, &new.clusters);
    delta
}

/// Clusters of `new` that are not in `old` as they are (upserts), and the names of `old`'s
/// clusters that `new` lacks (removals).
pub fn diff_clusters(old: &[Cluster], new: &[Cluster]) -> (Vec<Cluster>, Vec<String>) {
    let old_by_name: std::collections::HashMap<&str, &Cluster> =
        old.iter().map(|c| (c.name.as_str(), c)).collect();
    let new_names: std::collections::HashSet<&str> = new.iter().map(|c| c.name.as_str()).collect();
    let upserts = new
        .iter()
        .filter(|c| old_by_name.get(c.name.as_str()) != Some(c))
        .cloned()
        .collect();
    let removed = old
        .iter()
        .filter(|c| !new_names.contains(c.name.as_str()))
        .map(|c| c.name.clone())
        .collect();
    (upserts, removed)
}

/// Virtual-host changes from `old` to `new` (same route table).
pub fn diff_virtual_hosts(old: &RouteConfig, new: &RouteConfig) -> VirtualHostsDelta {
    let old_hosts: std::collections::HashMap<&str, &VirtualHost> = old
        .virtual_hosts
        .iter()
        .map(|v| (v.name.as_str(), v))
        .collect();
    let new_names: std::collections::HashSet<&str> =
        new.virtual_hosts.iter().map(|v| v.name.as_str()).collect();
    let upsert: Vec<VirtualHost> = new
        .virtual_hosts
        .iter()
        .filter(|v| old_hosts.get(v.name.as_str()) != Some(v))
        .cloned()
        .collect();
    let remove: Vec<String> = old
        .virtual_hosts
        .iter()
        .filter(|v| !new_names.contains(v.name.as_str()))
        .map(|v| v.name.clone())
        .collect();
    // The order the proxy ends up with without an explicit order: kept hosts in their old
    // order, then the added ones in the new order.
    let implied = old
        .virtual_hosts
        .iter()
        .map(|v| v.name.as_str())
        .filter(|n| new_names.contains(n))
        .chain(
            new.virtual_hosts
                .iter()
                .map(|v| v.name.as_str())
                .filter(|n| !old_hosts.contains_key(n)),
        );
    let order = (!implied.eq(new.virtual_hosts.iter().map(|v| v.name.as_str())))
        .then(|| new.virtual_hosts.iter().map(|v| v.name.clone()).collect());
    VirtualHostsDelta {
        route_config: new.name.clone(),
        upsert,
        remove,
        order,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn vh(name: &str, domain: &str) -> VirtualHost {
        VirtualHost {
            name: name.into(),
            domains: vec![domain.into()],
            routes: Vec::new(),
        }
    }

    fn cluster(name: &str, service: &str) -> Cluster {
        serde_json::from_value(serde_json::json!({"name": name, "service": service})).unwrap()
    }

    fn snap(version: &str, hosts: &[(&str, &str)], clusters: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            version: version.into(),
            routes: vec![
                RouteConfig {
                    name: "outbound".into(),
                    virtual_hosts: hosts.iter().map(|(n, d)| vh(n, d)).collect(),
                },
                RouteConfig {
                    name: "inbound".into(),
                    virtual_hosts: vec![vh("in", "*")],
                },
            ],
            clusters: clusters.iter().map(|(n, s)| cluster(n, s)).collect(),
            ..Snapshot::default()
        }
    }

    fn roundtrip(old: &Snapshot, new: &Snapshot) -> Snapshot {
        let d = diff(old, new);
        // Through the wire format, as the proxy gets it.
        let d: SnapshotDelta = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        d.apply(old, &old.version, &new.version).unwrap()
    }

    #[test]
    fn a_changed_host_and_cluster_travel_alone_and_apply_exactly() {
        let old = snap(
            "v1",
            &[("a", "a"), ("b", "b"), ("c", "c")],
            &[("x", "1"), ("y", "1")],
        );
        let new = snap(
            "v2",
            &[("a", "a"), ("b", "b2"), ("c", "c")],
            &[("x", "1"), ("y", "2")],
        );
        let d = diff(&old, &new);
        assert_eq!(d.virtual_hosts.len(), 1);
        assert_eq!(d.virtual_hosts[0].upsert, vec![vh("b", "b2")]);
        assert_eq!(d.virtual_hosts[0].order, None);
        assert_eq!(d.clusters, vec![cluster("y", "2")]);
        assert!(d.remove_clusters.is_empty() && d.routes.is_empty());
        assert_eq!(roundtrip(&old, &new), new);
    }

    #[test]
    fn additions_removals_and_reordering_give_the_new_snapshot() {
        let old = snap(
            "v1",
            &[("a", "a"), ("b", "b"), ("c", "c")],
            &[("x", "1"), ("z", "1")],
        );
        let cases = [
            snap("v2", &[("a", "a"), ("c", "c")], &[("x", "1")]),
            snap(
                "v2",
                &[("d", "d"), ("a", "a"), ("b", "b"), ("c", "c")],
                &[("w", "1"), ("x", "1"), ("z", "1")],
            ),
            snap(
                "v2",
                &[("c", "c"), ("b", "b"), ("a", "a")],
                &[("x", "1"), ("y", "1"), ("z", "1")],
            ),
            snap("v2", &[], &[]),
        ];
        for new in cases {
            assert_eq!(roundtrip(&old, &new), new, "{new:?}");
        }
        // Route tables appear and disappear whole.
        let mut new = snap("v2", &[("a", "a")], &[]);
        new.routes.remove(1);
        new.routes.push(RouteConfig {
            name: "gateway".into(),
            virtual_hosts: vec![vh("g", "*")],
        });
        assert_eq!(roundtrip(&old, &new), new);
    }

    #[test]
    fn a_delta_for_another_base_is_refused() {
        let old = snap("v1", &[("a", "a")], &[]);
        let new = snap("v3", &[("a", "b")], &[]);
        let err = diff(&old, &new).apply(&old, "v2", "v3").unwrap_err();
        assert!(matches!(err, DeltaError::Base { .. }), "{err}");
        assert!(err.to_string().starts_with("delta base mismatch"), "{err}");
        let mut d = diff(&old, &new);
        d.virtual_hosts[0].route_config = "nope".into();
        assert!(matches!(
            d.apply(&old, "v1", "v3"),
            Err(DeltaError::NoRouteConfig { .. })
        ));
        let mut d = diff(&old, &new);
        d.virtual_hosts[0].order = Some(vec!["a".into(), "ghost".into()]);
        assert!(matches!(
            d.apply(&old, "v1", "v3"),
            Err(DeltaError::Order { .. })
        ));
    }
}
