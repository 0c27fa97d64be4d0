//! The rows each list view shows, filtered and sorted: computed the same way for drawing,
//! for moving the selection and for mouse clicks, so the three always agree.

use std::cmp::Ordering;

use super::events::MeshEvent;
use crate::model::{Mesh, Proxy, ResourceAcks};
use crate::services::{Service, ServiceMap};

/// A column of the Services table to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Name,
    Meshed,
    Success,
    Rps,
    P50,
    P95,
    P99,
    TcpConn,
}

impl SortKey {
    pub const ALL: [SortKey; 8] = [
        SortKey::Name,
        SortKey::Meshed,
        SortKey::Success,
        SortKey::Rps,
        SortKey::P50,
        SortKey::P95,
        SortKey::P99,
        SortKey::TcpConn,
    ];

    /// The `s` key's cycle.
    pub fn next(self) -> SortKey {
        let i = SortKey::ALL.iter().position(|k| *k == self).unwrap_or(0);
        SortKey::ALL[(i + 1) % SortKey::ALL.len()]
    }

    /// The column header.
    pub fn header(self) -> &'static str {
        match self {
            SortKey::Name => "NAME",
            SortKey::Meshed => "MESHED",
            SortKey::Success => "SUCCESS",
            SortKey::Rps => "RPS",
            SortKey::P50 => "P50",
            SortKey::P95 => "P95",
            SortKey::P99 => "P99",
            SortKey::TcpConn => "TCP_CONN",
        }
    }
}

/// How the Services table is sorted: each column has a natural order (names A-Z, the worst
/// success rate first, the largest numbers first); `reverse` flips it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sort {
    pub key: SortKey,
    pub reverse: bool,
}

/// Case-insensitive substring match; an empty filter matches everything.
pub fn matches(filter: &str, fields: &[&str]) -> bool {
    if filter.is_empty() {
        return true;
    }
    let filter = filter.to_lowercase();
    fields.iter().any(|f| f.to_lowercase().contains(&filter))
}

pub fn services<'a>(map: &'a ServiceMap, filter: &str, sort: Sort) -> Vec<&'a Service> {
    let mut rows: Vec<&Service> = map
        .services
        .iter()
        .filter(|s| matches(filter, &[&s.display_name(), &s.key]))
        .collect();
    rows.sort_by(|a, b| {
        let natural = compare(a, b, sort.key);
        let ordered = if sort.reverse {
            natural.reverse()
        } else {
            natural
        };
        ordered.then_with(|| a.key.cmp(&b.key))
    });
    rows
}

fn compare(a: &Service, b: &Service, key: SortKey) -> Ordering {
    let (ta, tb) = (&a.inbound, &b.inbound);
    match key {
        SortKey::Name => a.display_name().cmp(&b.display_name()),
        SortKey::Meshed => b.proxies_connected.cmp(&a.proxies_connected),
        // Worst first: an unknown rate (no traffic) after every known one.
        SortKey::Success => some_first(ta.success, tb.success, |x, y| x.total_cmp(&y)),
        SortKey::Rps => tb.rps.total_cmp(&ta.rps),
        SortKey::P50 => some_first(ta.p50_ms, tb.p50_ms, |x, y| y.total_cmp(&x)),
        SortKey::P95 => some_first(ta.p95_ms, tb.p95_ms, |x, y| y.total_cmp(&x)),
        SortKey::P99 => some_first(ta.p99_ms, tb.p99_ms, |x, y| y.total_cmp(&x)),
        SortKey::TcpConn => tb.tcp_connections.cmp(&ta.tcp_connections),
    }
}

fn some_first(a: Option<f64>, b: Option<f64>, cmp: impl Fn(f64, f64) -> Ordering) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => cmp(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// NACKED and DISCONNECTED first, then STALE, then the rest; by id within each.
pub fn proxies<'a>(mesh: &'a Mesh, filter: &str) -> Vec<&'a Proxy> {
    let mut rows: Vec<&Proxy> = mesh
        .proxies
        .iter()
        .filter(|p| matches(filter, &[&p.id, &p.service, p.state.as_str()]))
        .collect();
    rows.sort_by(|a, b| {
        a.state
            .urgency()
            .cmp(&b.state.urgency())
            .then_with(|| a.id.cmp(&b.id))
    });
    rows
}

/// By kind, namespace and name.
pub fn resources<'a>(mesh: &'a Mesh, filter: &str) -> Vec<&'a ResourceAcks> {
    let mut rows: Vec<&ResourceAcks> = mesh
        .resources
        .iter()
        .filter(|r| matches(filter, &[&r.kind, &r.namespace, &r.name]))
        .collect();
    rows.sort_by(|a, b| (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name)));
    rows
}

/// Newest first (the list is kept that way).
pub fn events<'a>(
    events: impl IntoIterator<Item = &'a MeshEvent>,
    filter: &str,
) -> Vec<&'a MeshEvent> {
    events
        .into_iter()
        .filter(|e| matches(filter, &[e.kind.label(), &e.subject, &e.message]))
        .collect()
}
