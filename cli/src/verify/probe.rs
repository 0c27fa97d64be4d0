//! The end-to-end probe: one request through a sidecar's outbound listener to another
//! service, then the server-side proxy's own metrics must show it arrived over mutual TLS
//! (`connection_security_policy="mutual_tls"`) from the client's SPIFFE ID
//! (`source_principal`), served under the server's (`destination_principal`): Istio's
//! labels, counted by the proxy that terminated the TLS.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Request};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use mesh_api::snapshot::Direction;

use super::{Category, Check};
use crate::inspect::{self, ConfigDump, ProxyInfo};

const TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server's counter gets to show the probe.
const COUNT_WAIT: Duration = Duration::from_secs(5);
const TITLE: &str = "mTLS probe: a request through the mesh arrives over mutual TLS";

fn done(check: Check) -> Category {
    Category {
        category_name: "meshctl-data-plane".into(),
        checks: vec![check],
    }
}

/// The samples of `metric` in a Prometheus text exposition: labels and value. Lines that do
/// not parse are skipped.
pub fn samples(text: &str, metric: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let prefix = format!("{metric}{{");
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (labels, value) = split_labels(rest)?;
            Some((labels, value.trim().split(' ').next()?.parse().ok()?))
        })
        .collect()
}

/// `k="v",k2="v2"} value` -> (labels, " value"), honouring `\"`, `\\` and `\n` escapes.
fn split_labels(s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(',');
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.to_string(), value);
        rest = &after[end + 1..];
    }
}

/// What the destination side counted for `host`: requests by
/// (`connection_security_policy`, `source_principal`, `destination_principal`).
pub type Counts = BTreeMap<(String, String, String), f64>;

/// The destination-side `istio_requests_total` for `host` in a metrics text.
pub fn inbound_counts(text: &str, host: &str) -> Counts {
    let mut out = Counts::new();
    for (l, v) in samples(text, "istio_requests_total") {
        let get = |k: &str| l.get(k).cloned().unwrap_or_default();
        if get("reporter") == "destination" && get("destination_service") == host {
            let key = (
                get("connection_security_policy"),
                get("source_principal"),
                get("destination_principal"),
            );
            *out.entry(key).or_insert(0.0) += v;
        }
    }
    out
}

/// Requests over mutual TLS from `client` to a server whose principal is in `servers`.
fn mtls_from(counts: &Counts, client: &str, servers: &[String]) -> f64 {
    counts
        .iter()
        .filter(|((policy, src, dst), _)| {
            policy == "mutual_tls" && src == client && servers.contains(dst)
        })
        .map(|(_, v)| v)
        .sum()
}

/// Requests that were not mutual TLS, by policy.
fn plain(counts: &Counts) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for ((policy, _, _), v) in counts {
        if policy != "mutual_tls" {
            *out.entry(policy.clone()).or_insert(0.0) += v;
        }
    }
    out
}

/// The address of a proxy's outbound listener (the app's `HTTP_PROXY`).
fn outbound_addr(dump: &ConfigDump) -> Option<SocketAddr> {
    let l = dump
        .snapshot
        .listeners
        .iter()
        .find(|l| l.direction == Direction::Outbound)?;
    let mut addr = dump
        .bound_listeners
        .iter()
        .find(|b| b.name == l.name)
        .and_then(|b| b.bound)
        .unwrap_or(l.address);
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Some(addr)
}

/// The port `dump`'s proxy reaches `host` on, from its outbound clusters.
fn port_for(dump: &ConfigDump, host: &str) -> Option<u16> {
    dump.snapshot
        .clusters
        .iter()
        .filter(|c| c.service == host)
        .find_map(|c| match c.name.split('|').collect::<Vec<_>>().as_slice() {
            ["outbound", port, _, _] => port.parse().ok(),
            _ => None,
        })
}

/// `GET /` with `Host: authority`, through the outbound listener at `via`; the status.
async fn request(via: SocketAddr, authority: &str) -> Result<u16, String> {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(via)
            .await
            .map_err(|e| format!("cannot connect to the outbound listener {via}: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = Request::get("/")
            .header(header::HOST, authority)
            .header("x-meshctl-probe", "verify-install")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        Ok(resp.status().as_u16())
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer from {via} within {TIMEOUT:?}"))?
}

async fn metrics(p: &ProxyInfo) -> Option<String> {
    let addr = p.stats.or(p.admin)?;
    let client = crate::client::ApiClient::named("a proxy's metrics", addr, TIMEOUT);
    let r = client.get("/stats/prometheus").await.ok()?;
    r.status.is_success().then_some(r.body)
}

/// The destination-side counts of every proxy in `servers` for `host`, added up.
async fn counted(servers: &[&ProxyInfo], host: &str) -> Counts {
    let mut total = Counts::new();
    for s in servers {
        let Some(text) = metrics(s).await else {
            continue;
        };
        for (k, v) in inbound_counts(&text, host) {
            *total.entry(k).or_insert(0.0) += v;
        }
    }
    total
}

/// Runs the probe between two connected sidecars of different services.
pub async fn run(proxies: &[ProxyInfo]) -> Category {
    let deploy = "deploy workloads, e.g. `meshctl samples deploy bookinfo`, then run \
                  `meshctl verify-install` again";
    // Only SYNCED sidecars: one that NACKed or went away is reported by meshctl-proxies, and
    // a probe through it would say nothing about mTLS.
    let sidecars: Vec<&ProxyInfo> = proxies
        .iter()
        .filter(|p| !p.is_gateway() && p.state == "SYNCED" && p.admin.is_some())
        .collect();
    let mut dumps: BTreeMap<&str, ConfigDump> = BTreeMap::new();
    for p in &sidecars {
        if let Ok(d) = inspect::config_dump(p).await {
            dumps.insert(&p.id, d);
        }
    }
    // The first client that has a route to another service, and that service.
    let pair = sidecars.iter().find_map(|c| {
        let dump = dumps.get(c.id.as_str())?;
        let via = outbound_addr(dump)?;
        sidecars
            .iter()
            .filter(|s| (s.service.as_str(), &s.namespace) != (c.service.as_str(), &c.namespace))
            .find_map(|s| {
                let host = mesh_api::istio::hosts::service_host(&s.service, &s.namespace);
                let port = port_for(dump, &host)?;
                Some((*c, via, (*s).clone(), host, port))
            })
    });
    let Some((client, via, target, host, port)) = pair else {
        let why = if sidecars.is_empty() {
            "skipped: no workload with a SYNCED sidecar is deployed".to_string()
        } else {
            format!(
                "skipped: it needs two services whose SYNCED sidecars can reach each other; \
                 found {} sidecar(s) of {} service(s)",
                sidecars.len(),
                sidecars
                    .iter()
                    .map(|s| (&s.service, &s.namespace))
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
            )
        };
        return done(Check::warn(TITLE, why, deploy));
    };
    let client_principal = dumps
        .get(client.id.as_str())
        .and_then(|d| d.certificate.as_ref())
        .map(|c| c.spiffe_id.clone())
        .unwrap_or_default();
    if client_principal.is_empty() {
        return done(Check::fail(
            TITLE,
            format!(
                "{} holds no certificate (its admin /config_dump shows none), so its traffic \
                 cannot be mutual TLS",
                client.id
            ),
            "start sidecars with --ca-root so they get certificates from the mesh's CA (as \
             `meshctl samples deploy` does)",
        ));
    }
    let servers: Vec<&ProxyInfo> = sidecars
        .iter()
        .copied()
        .filter(|s| s.service == target.service && s.namespace == target.namespace)
        .collect();
    let server_principals: Vec<String> = servers
        .iter()
        .filter_map(|s| dumps.get(s.id.as_str()))
        .filter_map(|d| d.certificate.as_ref().map(|c| c.spiffe_id.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let before = counted(&servers, &host).await;
    let authority = format!("{}.{}:{port}", target.service, target.namespace);
    let status = request(via, &authority).await;
    let mtls = |c: &Counts| mtls_from(c, &client_principal, &server_principals);
    let other = |c: &Counts| plain(c).values().sum::<f64>();
    let deadline = Instant::now() + COUNT_WAIT;
    let after = loop {
        let now = counted(&servers, &host).await;
        let moved = mtls(&now) > mtls(&before) || other(&now) > other(&before);
        if moved || status.is_err() || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let route = format!("{} -> http://{authority}/", client.workload);
    if mtls(&after) > mtls(&before) {
        return done(Check::ok(format!(
            "{TITLE}: {route} (answered {}) arrived as mutual_tls from {client_principal}, \
             served as {}",
            status.map_or("?".to_string(), |s| s.to_string()),
            server_principals.join(", ")
        )));
    }
    let error = match (&status, other(&after) > other(&before)) {
        (_, true) => {
            let grew: Vec<String> = plain(&after)
                .into_iter()
                .filter(|(k, v)| plain(&before).get(k).is_none_or(|b| v > b))
                .map(|(k, _)| k)
                .collect();
            format!(
                "{route} arrived without mutual TLS (connection_security_policy={}): \
                 automatic mTLS is on only when both sidecars hold certificates from the \
                 mesh's CA",
                grew.join(",")
            )
        }
        (Err(e), false) => format!("{route} through {via} failed: {e}"),
        (Ok(code), false) => format!(
            "{route} through {via} answered {code}, but no proxy of {host} counted a request \
             from {client_principal} (istio_requests_total{{reporter=\"destination\"}})"
        ),
    };
    done(Check::fail(
        TITLE,
        error,
        "see `meshctl proxy-config <proxy> clusters` (the TLS column) and both proxies' logs; \
         sidecars need --ca-root to get certificates",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_prometheus_samples_with_escapes() {
        let text = "# HELP istio_requests_total x\n\
            istio_requests_total{reporter=\"destination\",destination_service=\"reviews.default.svc.cluster.local\",source_principal=\"spiffe://cluster.local/ns/default/sa/productpage\",destination_principal=\"spiffe://cluster.local/ns/default/sa/reviews\",response_code=\"200\",connection_security_policy=\"mutual_tls\"} 3\n\
            istio_requests_total{reporter=\"destination\",destination_service=\"reviews.default.svc.cluster.local\",source_principal=\"spiffe://cluster.local/ns/default/sa/productpage\",destination_principal=\"spiffe://cluster.local/ns/default/sa/reviews\",response_code=\"503\",connection_security_policy=\"mutual_tls\"} 1\n\
            istio_requests_total{reporter=\"source\",destination_service=\"reviews.default.svc.cluster.local\",source_principal=\"spiffe://cluster.local/ns/default/sa/productpage\",destination_principal=\"spiffe://cluster.local/ns/default/sa/reviews\",connection_security_policy=\"unknown\"} 9\n\
            istio_requests_total{reporter=\"destination\",destination_service=\"reviews.default.svc.cluster.local\",source_principal=\"\",destination_principal=\"\",connection_security_policy=\"none\",odd=\"a \\\"q\\\" \\\\ b\"} 2\n\
            istio_request_bytes_sum{reporter=\"destination\"} 7\n";
        let all = samples(text, "istio_requests_total");
        assert_eq!(all.len(), 4);
        assert_eq!(all[3].0["odd"], "a \"q\" \\ b");
        let host = "reviews.default.svc.cluster.local";
        let pp = "spiffe://cluster.local/ns/default/sa/productpage";
        let rv = "spiffe://cluster.local/ns/default/sa/reviews".to_string();
        let counts = inbound_counts(text, host);
        assert_eq!(mtls_from(&counts, pp, std::slice::from_ref(&rv)), 4.0);
        assert_eq!(mtls_from(&counts, pp, &[]), 0.0);
        assert_eq!(mtls_from(&counts, "spiffe://x", &[rv]), 0.0);
        assert_eq!(plain(&counts), BTreeMap::from([("none".to_string(), 2.0)]));
    }
}
