//! The Events view's entries, derived by comparing successive snapshots (the control plane
//! keeps no event log):
//!
//! - a proxy's sent config version changing: a config push (PUSH);
//! - a proxy's state becoming NACKED: a NACK, with the proxy's error (NACK);
//! - a proxy's certificate expiry moving later: a certificate rotation (CERT);
//! - a proxy's outlier-ejection count for a cluster going up: that many endpoints of the
//!   cluster's service (and subset) ejected (EJECT). Not on a proxy's first sight (its
//!   counts are since it started, of unknown age), nor across a restart (a count went down,
//!   or its uptime did), nor while it is not scraped (its counts are then unknown);
//! - a proxy appearing, becoming DISCONNECTED, or leaving the list (CONNECT, DISCONNECT, GONE);
//! - a stored resource added, changed (new revision) or deleted (CONFIG);
//! - a failed fetch after a good one: the control plane unreachable (CP DOWN); the next good
//!   fetch: reconnected (CP UP).

use std::collections::HashMap;
use std::time::SystemTime;

use crate::model::{Proxy, ResourceId, Snapshot, SyncState};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Push,
    Nack,
    CertRotation,
    OutlierEjection,
    ProxyConnected,
    ProxyDisconnected,
    ProxyGone,
    Config,
    ControlPlaneDown,
    ControlPlaneUp,
}

impl EventKind {
    /// The KIND column.
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Push => "PUSH",
            EventKind::Nack => "NACK",
            EventKind::CertRotation => "CERT",
            EventKind::OutlierEjection => "EJECT",
            EventKind::ProxyConnected => "CONNECT",
            EventKind::ProxyDisconnected => "DISCONNECT",
            EventKind::ProxyGone => "GONE",
            EventKind::Config => "CONFIG",
            EventKind::ControlPlaneDown => "CP DOWN",
            EventKind::ControlPlaneUp => "CP UP",
        }
    }

    /// Worth a warning colour.
    pub fn is_bad(self) -> bool {
        matches!(
            self,
            EventKind::Nack
                | EventKind::OutlierEjection
                | EventKind::ProxyDisconnected
                | EventKind::ControlPlaneDown
        )
    }
}

/// One entry of the Events view.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshEvent {
    pub at: SystemTime,
    pub kind: EventKind,
    /// A proxy id, a resource, or the control plane's address.
    pub subject: String,
    pub message: String,
}

/// What changed from `prev` to `next`, in a stable order (proxies by id, then resources).
pub fn diff(prev: &Snapshot, next: &Snapshot) -> Vec<MeshEvent> {
    let at = next.fetched_at;
    let mut out = Vec::new();
    let mut push = |kind, subject: &str, message: String| {
        out.push(MeshEvent {
            at,
            kind,
            subject: subject.to_string(),
            message,
        })
    };
    let before: HashMap<&str, &Proxy> = prev
        .mesh
        .proxies
        .iter()
        .map(|p| (p.id.as_str(), p))
        .collect();
    let mut proxies: Vec<&Proxy> = next.mesh.proxies.iter().collect();
    proxies.sort_by(|a, b| a.id.cmp(&b.id));
    for p in proxies {
        let Some(old) = before.get(p.id.as_str()) else {
            push(
                EventKind::ProxyConnected,
                &p.id,
                format!("new {} proxy ({})", p.proxy_type, p.state.as_str()),
            );
            continue;
        };
        if p.version_sent != old.version_sent {
            if let Some(v) = &p.version_sent {
                push(EventKind::Push, &p.id, format!("config {v} pushed"));
            }
        }
        if p.state != old.state {
            match p.state {
                SyncState::Nacked => {
                    let error = p.error.as_deref().unwrap_or("no error given");
                    push(EventKind::Nack, &p.id, format!("config rejected: {error}"));
                }
                SyncState::Disconnected => push(
                    EventKind::ProxyDisconnected,
                    &p.id,
                    "config stream closed".into(),
                ),
                _ if old.state == SyncState::Disconnected => push(
                    EventKind::ProxyConnected,
                    &p.id,
                    format!("reconnected ({})", p.state.as_str()),
                ),
                _ => {}
            }
        }
        if let (Some(was), Some(now)) = (old.cert_not_after, p.cert_not_after) {
            if now > was {
                push(EventKind::CertRotation, &p.id, "certificate rotated".into());
            }
        }
        for (cluster, n) in new_ejections(old, p) {
            let plural = if n == 1 { "" } else { "s" };
            push(
                EventKind::OutlierEjection,
                &p.id,
                format!(
                    "ejected {n} endpoint{plural} of {} (outlier detection)",
                    destination(cluster, p.namespace())
                ),
            );
        }
    }
    let now_ids: HashMap<&str, ()> = next
        .mesh
        .proxies
        .iter()
        .map(|p| (p.id.as_str(), ()))
        .collect();
    let mut gone: Vec<&str> = before
        .keys()
        .copied()
        .filter(|id| !now_ids.contains_key(id))
        .collect();
    gone.sort_unstable();
    for id in gone {
        push(EventKind::ProxyGone, id, "left the control plane".into());
    }
    let revisions = |s: &Snapshot| -> HashMap<ResourceId, u64> {
        s.mesh
            .resources
            .iter()
            .map(|r| (ResourceId::of(r), r.revision))
            .collect()
    };
    let (old, new) = (revisions(prev), revisions(next));
    let mut changed: Vec<(&ResourceId, &str)> = new
        .iter()
        .filter_map(|(id, rev)| match old.get(id) {
            None => Some((id, "created")),
            Some(was) if was != rev => Some((id, "changed")),
            _ => None,
        })
        .chain(
            old.keys()
                .filter(|id| !new.contains_key(*id))
                .map(|id| (id, "deleted")),
        )
        .collect();
    changed.sort();
    for (id, what) in changed {
        push(
            EventKind::Config,
            &id.to_string(),
            format!("resource {what}"),
        );
    }
    out
}

/// How many more endpoints `now` ejected than `was`, per cluster (in cluster-name order):
/// nothing when the two are not comparable (either not scraped, or the proxy restarted in
/// between: a count went down, or its uptime did).
fn new_ejections<'a>(was: &Proxy, now: &'a Proxy) -> Vec<(&'a str, u64)> {
    let count = |p: &Proxy, cluster: &str| p.outlier_ejections.get(cluster).copied();
    let restarted = was
        .outlier_ejections
        .iter()
        .any(|(c, n)| count(now, c).unwrap_or(0) < *n)
        || matches!((was.uptime_s, now.uptime_s), (Some(a), Some(b)) if b < a);
    if !was.scrape_up || !now.scrape_up || restarted {
        return Vec::new();
    }
    now.outlier_ejections
        .iter()
        .filter_map(|(c, n)| {
            let more = n.saturating_sub(count(was, c).unwrap_or(0));
            (more > 0).then_some((c.as_str(), more))
        })
        .collect()
}

/// What an Istio cluster name (`outbound|9080|v2|reviews.default.svc.cluster.local`) points
/// at, as a reader names it: `reviews v2` from a proxy in `default`, `reviews.shop v2` from
/// elsewhere, `reviews` without a subset; another name is shown as it is.
fn destination(cluster: &str, namespace: &str) -> String {
    let mut parts = cluster.split('|');
    let (Some("outbound"), Some(_port), Some(subset), Some(host), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return cluster.to_string();
    };
    let host = host.strip_suffix(".svc.cluster.local").unwrap_or(host);
    let service = match host.split_once('.') {
        Some((name, ns)) if ns == namespace => name,
        _ => host,
    };
    if subset.is_empty() {
        service.to_string()
    } else {
        format!("{service} {subset}")
    }
}

#[cfg(test)]
mod tests {
    use super::destination;

    #[test]
    fn cluster_names_read_as_service_and_subset() {
        let v2 = "outbound|9080|v2|reviews.default.svc.cluster.local";
        assert_eq!(destination(v2, "default"), "reviews v2");
        assert_eq!(destination(v2, "shop"), "reviews.default v2");
        let all = "outbound|9080||ratings.default.svc.cluster.local";
        assert_eq!(destination(all, "default"), "ratings");
        assert_eq!(
            destination("outbound|443||api.example.com", "default"),
            "api.example.com"
        );
        assert_eq!(destination("c", "default"), "c");
        assert_eq!(destination("inbound|9080||", "default"), "inbound|9080||");
    }
}
