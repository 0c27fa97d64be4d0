//! `meshctl proxy-config`'s tables, one per part of a proxy's config, as istioctl's
//! `proxy-config` prints them. Pure: a [`ConfigDump`] in, text out.

use mesh_api::snapshot::{Listener, Route, RouteMatch, Snapshot};
use mesh_api::StringMatch;
use serde::Serialize;
use serde_json::Value;

use super::format::timestamp;
use super::ConfigDump;
use crate::output::table;

/// An enum's name as its config spells it (`STRICT`, `ISTIO_MUTUAL`).
pub fn spelled(v: &impl Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

fn string_match(m: &StringMatch) -> String {
    match m {
        StringMatch::Exact(v) => v.clone(),
        StringMatch::Prefix(v) => format!("{v}*"),
        StringMatch::Regex(v) => format!("~{v}"),
    }
}

/// One match as istioctl summarises it: `/productpage`, `/api*`, `/* (end-user=jason)`.
fn match_text(m: &RouteMatch) -> String {
    let mut s = m.uri.as_ref().map_or("/*".to_string(), string_match);
    let mut extra: Vec<String> = Vec::new();
    if let Some(method) = &m.method {
        extra.push(format!("method={}", string_match(method)));
    }
    if let Some(a) = &m.authority {
        extra.push(format!("authority={}", string_match(a)));
    }
    extra.extend(
        m.headers
            .iter()
            .map(|(k, v)| format!("{k}={}", string_match(v))),
    );
    extra.extend(
        m.without_headers
            .iter()
            .map(|(k, v)| format!("{k}!={}", string_match(v))),
    );
    extra.extend(
        m.query_params
            .iter()
            .map(|(k, v)| format!("?{k}={}", string_match(v))),
    );
    if !extra.is_empty() {
        s.push_str(&format!(" ({})", extra.join(", ")));
    }
    s
}

fn route_destination(r: &Route) -> String {
    if let Some(d) = &r.direct_response {
        return format!("direct response {}", d.status);
    }
    if let Some(rd) = &r.redirect {
        return format!("redirect {}", rd.redirect_code);
    }
    let dests: Vec<String> = r
        .route
        .iter()
        .map(|d| match d.weight {
            Some(w) if r.route.len() > 1 => format!("{} {w}%", d.cluster),
            _ => d.cluster.clone(),
        })
        .collect();
    dests.join(", ")
}

/// At most two domains, then `+ N more` (as istioctl does).
fn domains(all: &[String]) -> String {
    match all.len() {
        0..=2 => all.join(", "),
        n => format!("{}, {} + {} more...", all[0], all[1], n - 2),
    }
}

/// NAME, VHOST NAME, DOMAINS, MATCH, DESTINATION: one row per match of each route.
pub fn routes(s: &Snapshot) -> String {
    let mut rows = Vec::new();
    for rc in &s.routes {
        for vh in &rc.virtual_hosts {
            for r in &vh.routes {
                let matches: Vec<String> = if r.matches.is_empty() {
                    vec!["/*".into()]
                } else {
                    r.matches.iter().map(match_text).collect()
                };
                for m in matches {
                    rows.push(vec![
                        rc.name.clone(),
                        vh.name.clone(),
                        domains(&vh.domains),
                        m,
                        route_destination(r),
                    ]);
                }
            }
        }
    }
    table(
        &["NAME", "VHOST NAME", "DOMAINS", "MATCH", "DESTINATION"],
        &rows,
    )
}

/// Istio's cluster name `outbound|9080|v2|reviews.default.svc.cluster.local` split into
/// (direction, port, subset, host); other names are shown whole as the host.
fn cluster_parts(name: &str) -> (String, String, String, String) {
    let parts: Vec<&str> = name.split('|').collect();
    match parts.as_slice() {
        [dir, port, subset, host] => (
            dir.to_string(),
            port.to_string(),
            (*subset).to_string(),
            host.to_string(),
        ),
        _ => (
            String::new(),
            String::new(),
            String::new(),
            name.to_string(),
        ),
    }
}

/// SERVICE FQDN, PORT, SUBSET, DIRECTION, ENDPOINTS, LB, TLS.
pub fn clusters(s: &Snapshot) -> String {
    let rows: Vec<Vec<String>> = s
        .clusters
        .iter()
        .map(|c| {
            let (dir, port, subset, host) = cluster_parts(&c.name);
            let host = if c.service.is_empty() {
                or_dash(host)
            } else {
                c.service.clone()
            };
            let lb = match (&c.load_balancer.simple, &c.load_balancer.consistent_hash) {
                (_, Some(_)) => "CONSISTENT_HASH".to_string(),
                (Some(simple), None) => spelled(simple),
                (None, None) => "LEAST_REQUEST".to_string(),
            };
            vec![
                host,
                or_dash(port),
                or_dash(subset),
                or_dash(dir),
                c.endpoints.len().to_string(),
                lb,
                c.tls
                    .as_ref()
                    .map_or("DISABLE".to_string(), |t| spelled(&t.mode)),
            ]
        })
        .collect();
    table(
        &[
            "SERVICE FQDN",
            "PORT",
            "SUBSET",
            "DIRECTION",
            "ENDPOINTS",
            "LB",
            "TLS",
        ],
        &rows,
    )
}

fn or_dash(s: String) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}

fn listener_destination(l: &Listener) -> String {
    match (&l.route_config, &l.cluster) {
        (Some(r), _) => format!("Route: {r}"),
        (None, Some(c)) => format!("Cluster: {c}"),
        (None, None) => "original destination".into(),
    }
}

/// NAME, ADDRESS (as bound), DIRECTION, PROTOCOL, DESTINATION, MTLS.
pub fn listeners(dump: &ConfigDump) -> String {
    let rows: Vec<Vec<String>> = dump
        .snapshot
        .listeners
        .iter()
        .map(|l| {
            let bound = dump
                .bound_listeners
                .iter()
                .find(|b| b.name == l.name)
                .and_then(|b| b.bound)
                .unwrap_or(l.address);
            vec![
                l.name.clone(),
                bound.to_string(),
                spelled(&l.direction).to_uppercase(),
                spelled(&l.protocol).to_uppercase(),
                listener_destination(l),
                l.peer_authentication
                    .as_ref()
                    .map_or("-".to_string(), |p| spelled(&p.mode)),
            ]
        })
        .collect();
    table(
        &[
            "NAME",
            "ADDRESS",
            "DIRECTION",
            "PROTOCOL",
            "DESTINATION",
            "MTLS",
        ],
        &rows,
    )
}

/// RESOURCE NAME, TYPE, STATUS, SPIFFE ID / SUBJECT, SERIAL NUMBER, NOT AFTER, NOT BEFORE:
/// the workload certificate (`default`, as Envoy's SDS names it) and each trusted root
/// (`ROOTCA`). None when the proxy holds no certificate.
pub fn secrets(dump: &ConfigDump, now: u64) -> Option<String> {
    let c = dump.certificate.as_ref()?;
    let status = |not_before: u64, not_after: u64| {
        if now >= not_after {
            "EXPIRED"
        } else if now < not_before {
            "NOT YET VALID"
        } else {
            "VALID"
        }
    };
    let mut rows = vec![vec![
        "default".to_string(),
        "Cert Chain".to_string(),
        status(c.not_before, c.not_after).to_string(),
        c.spiffe_id.clone(),
        c.serial.clone(),
        timestamp(c.not_after),
        timestamp(c.not_before),
    ]];
    for r in &c.trust_bundle {
        rows.push(vec![
            "ROOTCA".to_string(),
            "CA".to_string(),
            status(r.not_before, r.not_after).to_string(),
            r.subject.clone(),
            r.serial.clone(),
            timestamp(r.not_after),
            timestamp(r.not_before),
        ]);
    }
    Some(table(
        &[
            "RESOURCE NAME",
            "TYPE",
            "STATUS",
            "IDENTITY",
            "SERIAL NUMBER",
            "NOT AFTER",
            "NOT BEFORE",
        ],
        &rows,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect;

    fn dump(yaml: &str) -> ConfigDump {
        let snapshot: Snapshot = serde_saphyr::from_str(yaml).expect("snapshot");
        ConfigDump {
            version: "v".into(),
            snapshot,
            bound_listeners: Vec::new(),
            last_rejected_config_error: None,
            draining: false,
            certificate: None,
        }
    }

    const SNAPSHOT: &str = r#"
listeners:
  - {name: outbound, address: "127.0.0.1:15001", direction: outbound, routeConfig: outbound}
  - name: inbound
    address: "127.0.0.1:15006"
    direction: inbound
    routeConfig: inbound
    peerAuthentication: {mode: STRICT}
routes:
  - name: outbound
    virtualHosts:
      - name: "reviews.default.svc.cluster.local:9080"
        domains: [reviews, "reviews:9080", reviews.default, "reviews.default:9080"]
        routes:
          - match: [{headers: {end-user: {exact: jason}}}]
            route: [{cluster: "outbound|9080|v2|reviews.default.svc.cluster.local"}]
          - route:
              - {cluster: "outbound|9080|v1|reviews.default.svc.cluster.local", weight: 90}
              - {cluster: "outbound|9080|v3|reviews.default.svc.cluster.local", weight: 10}
  - name: inbound
    virtualHosts:
      - {name: default, domains: ["*"], routes: [{route: [{cluster: "inbound|9080||"}]}]}
clusters:
  - name: "outbound|9080|v1|reviews.default.svc.cluster.local"
    service: reviews.default.svc.cluster.local
    endpoints: [{address: "127.0.0.1:9081"}]
  - name: "outbound|9080|v2|reviews.default.svc.cluster.local"
    service: reviews.default.svc.cluster.local
    endpoints: [{address: "127.0.0.1:9082"}]
    loadBalancer: {simple: ROUND_ROBIN}
    tls: {mode: ISTIO_MUTUAL}
  - name: "outbound|9080|v3|reviews.default.svc.cluster.local"
    service: reviews.default.svc.cluster.local
  - name: "inbound|9080||"
    endpoints: [{address: "127.0.0.1:9080"}]
"#;

    #[test]
    fn routes_table_has_a_row_per_match() {
        let text = routes(&dump(SNAPSHOT).snapshot);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("NAME       VHOST NAME"), "{text}");
        assert!(
            lines[1].contains("reviews, reviews:9080 + 2 more..."),
            "{text}"
        );
        assert!(lines[1].contains("/* (end-user=jason)"), "{text}");
        assert!(
            lines[1].ends_with("outbound|9080|v2|reviews.default.svc.cluster.local"),
            "{text}"
        );
        assert!(lines[2].ends_with(
            "outbound|9080|v1|reviews.default.svc.cluster.local 90%, \
             outbound|9080|v3|reviews.default.svc.cluster.local 10%"
        ));
        assert!(lines[3].starts_with("inbound    default"), "{text}");
    }

    #[test]
    fn clusters_table_splits_istio_names() {
        let text = clusters(&dump(SNAPSHOT).snapshot);
        assert_eq!(
            text,
            "SERVICE FQDN                        PORT   SUBSET   DIRECTION   ENDPOINTS   LB              TLS\n\
             reviews.default.svc.cluster.local   9080   v1       outbound    1           LEAST_REQUEST   DISABLE\n\
             reviews.default.svc.cluster.local   9080   v2       outbound    1           ROUND_ROBIN     ISTIO_MUTUAL\n\
             reviews.default.svc.cluster.local   9080   v3       outbound    0           LEAST_REQUEST   DISABLE\n\
             -                                   9080   -        inbound     1           LEAST_REQUEST   DISABLE\n"
        );
    }

    #[test]
    fn listeners_show_where_traffic_goes_and_mtls() {
        let text = listeners(&dump(SNAPSHOT));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("outbound   127.0.0.1:15001   OUTBOUND    HTTP"));
        assert!(lines[1].ends_with("Route: outbound   -"), "{text}");
        assert!(lines[2].ends_with("Route: inbound    STRICT"), "{text}");
    }

    #[test]
    fn secrets_show_the_certificate_and_roots() {
        let mut d = dump(SNAPSHOT);
        assert_eq!(secrets(&d, 0), None);
        d.certificate = Some(inspect::CertificateDump {
            spiffe_id: "spiffe://cluster.local/ns/default/sa/reviews".into(),
            serial: "3A9F".into(),
            not_before: 1_795_330_812,
            not_after: 1_795_330_812 + 86_400,
            trust_bundle: vec![inspect::RootDump {
                subject: "O=cluster.local".into(),
                serial: "01".into(),
                not_before: 1_795_000_000,
                not_after: 2_110_000_000,
            }],
        });
        let text = secrets(&d, 1_795_330_900).expect("table");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with(
            "default         Cert Chain   VALID    spiffe://cluster.local/ns/default/sa/reviews   3A9F"
        ), "{text}");
        assert!(
            lines[1].contains("2026-11-23T07:00:12Z   2026-11-22T07:00:12Z"),
            "{text}"
        );
        assert!(lines[2].starts_with("ROOTCA          CA           VALID    O=cluster.local"));
        assert!(secrets(&d, 1_795_330_812 + 86_400)
            .is_some_and(|t| t.lines().nth(1).is_some_and(|l| l.contains("EXPIRED"))));
    }
}
