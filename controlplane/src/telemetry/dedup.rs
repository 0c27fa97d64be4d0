//! One count per request when the server's proxy cannot name the client.
//!
//! A request between two sidecars is reported twice: by the client's proxy
//! (`reporter="source"`, knowing both ends) and by the server's (`reporter="destination"`),
//! which may only know the client as `unknown` (plaintext, or no peer metadata). Matching keys
//! are resolved in [`super::aggregator`]; here the server's `unknown` traffic into a workload
//! is reduced by the client-reported traffic into it that the server did not report under a
//! known name, and then by the clients' retries to its service (a client reports a request
//! once; the server sees every attempt). What remains came from outside the mesh (an
//! ingress, a client without a sidecar). The server's mTLS verdict for that traffic is lent
//! to the clients' edges.

use std::collections::HashMap;
use std::sync::Arc;

use super::aggregator::{Acc, EdgeKey};
use super::model::Workload;

/// Requests (HTTP) or connections (TCP) in `a`.
fn count(a: &Acc, protocol: &str) -> f64 {
    if protocol == "http" {
        a.http.requests
    } else {
        a.tcp.opened
    }
}

/// Multiplies the additive sums of `a` by `f` (quantiles are unchanged by scaling).
fn scale(a: &mut Acc, f: f64) {
    let h = &mut a.http;
    for v in [
        &mut h.requests,
        &mut h.duration_count,
        &mut h.duration_sum,
        &mut h.request_bytes,
        &mut h.response_bytes,
        &mut a.tcp.opened,
        &mut a.tcp.closed,
        &mut a.tcp.sent_bytes,
        &mut a.tcp.received_bytes,
        &mut a.rps,
        &mut a.errors,
        &mut a.mtls,
    ] {
        *v *= f;
    }
    for b in &mut h.duration {
        b.1 *= f;
    }
}

/// `by_edge` holds `[destination-reported, source-reported]` sums per edge; `retries` the
/// clients' retries in the window per destination service.
pub(super) fn absorb_unknown_sources(
    by_edge: &mut HashMap<EdgeKey, [Acc; 2]>,
    mut retries: HashMap<Arc<str>, f64>,
) {
    // Client-reported traffic into each (workload, protocol) the server did not report by name.
    let mut unmatched: HashMap<(Arc<Workload>, &'static str), f64> = HashMap::new();
    for ((src, dst, _, proto), [by_dst, by_src]) in by_edge.iter() {
        if src.workload != "unknown" && count(by_dst, proto) == 0.0 {
            *unmatched.entry((dst.clone(), *proto)).or_default() += count(by_src, proto);
        }
    }
    let mut mtls_into: Vec<(Arc<Workload>, &'static str)> = Vec::new();
    let mut emptied = Vec::new();
    let mut unknown: Vec<&EdgeKey> = by_edge
        .iter()
        .filter(|((src, _, _, proto), [_, by_src])| {
            src.workload == "unknown" && count(by_src, proto) == 0.0
        })
        .map(|(k, _)| k)
        .collect();
    unknown.sort();
    let unknown: Vec<EdgeKey> = unknown.into_iter().cloned().collect();
    for key in unknown {
        let (_, dst, service, proto) = &key;
        let left = unmatched
            .get(&(dst.clone(), *proto))
            .copied()
            .unwrap_or(0.0);
        let retried = match *proto {
            "http" => retries.get(service).copied().unwrap_or(0.0),
            _ => 0.0,
        };
        let Some([by_dst, _]) = by_edge.get_mut(&key) else {
            continue;
        };
        let total = count(by_dst, proto);
        if total <= 0.0 || left + retried <= 0.0 {
            continue;
        }
        if by_dst.mtls > 0.0 {
            mtls_into.push((dst.clone(), proto));
        }
        let from_clients = left.min(total);
        let from_retries = retried.min(total - from_clients);
        if let Some(l) = unmatched.get_mut(&(dst.clone(), *proto)) {
            *l -= from_clients;
        }
        if let Some(r) = retries.get_mut(service) {
            *r -= from_retries;
        }
        let taken = from_clients + from_retries;
        if taken >= total {
            emptied.push(key);
        } else {
            scale(by_dst, (total - taken) / total);
        }
    }
    for key in emptied {
        by_edge.remove(&key);
    }
    for ((src, dst, _, proto), [_, by_src]) in by_edge.iter_mut() {
        if src.workload != "unknown" && mtls_into.contains(&(dst.clone(), *proto)) {
            by_src.mtls = by_src.mtls.max(count(by_src, proto));
        }
    }
}
