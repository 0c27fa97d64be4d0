//! DestinationRule checks: host, subsets (named, unique), and traffic policies at every
//! level (rule, port, subset).

use std::collections::HashSet;

use super::common::{host, non_negative, port_number};
use super::Report;
use crate::istio::destination_rule::DestinationRuleSpec;
use crate::istio::traffic_policy::{
    ClientTlsMode, ClientTlsSettings, ConnectionPoolSettings, LoadBalancerSettings,
    OutlierDetection, TrafficPolicy,
};

pub(super) fn check(spec: &DestinationRuleSpec, r: &mut Report<'_>) {
    if spec.host.is_empty() {
        r.error(
            "spec.host",
            "required: the service this rule applies to, e.g. reviews",
        );
    } else {
        host(r, "spec.host", &spec.host);
    }
    if let Some(tp) = &spec.traffic_policy {
        traffic_policy(r, "spec.trafficPolicy", tp);
    }
    let mut seen = HashSet::new();
    for (i, s) in spec.subsets.iter().enumerate() {
        let p = format!("spec.subsets[{i}]");
        if s.name.is_empty() {
            r.error(
                format!("{p}.name"),
                "required: routes refer to the subset by this name",
            );
        } else if !seen.insert(s.name.as_str()) {
            r.error(
                format!("{p}.name"),
                format!("duplicate subset name {:?}", s.name),
            );
        }
        if let Some(tp) = &s.traffic_policy {
            traffic_policy(r, &format!("{p}.trafficPolicy"), tp);
        }
    }
}

fn traffic_policy(r: &mut Report<'_>, p: &str, tp: &TrafficPolicy) {
    if let Some(lb) = &tp.load_balancer {
        load_balancer(r, &format!("{p}.loadBalancer"), lb);
    }
    if let Some(cp) = &tp.connection_pool {
        connection_pool(r, &format!("{p}.connectionPool"), cp);
    }
    if let Some(od) = &tp.outlier_detection {
        outlier_detection(r, &format!("{p}.outlierDetection"), od);
    }
    if let Some(tls) = &tp.tls {
        client_tls(r, &format!("{p}.tls"), tls);
    }
    let mut ports = HashSet::new();
    for (i, pl) in tp.port_level_settings.iter().enumerate() {
        let pp = format!("{p}.portLevelSettings[{i}]");
        match &pl.port {
            None => r.error(
                format!("{pp}.port"),
                "required: the port these settings apply to",
            ),
            Some(port) => {
                port_number(r, &format!("{pp}.port.number"), port.number);
                if !ports.insert(port.number) {
                    r.error(
                        format!("{pp}.port.number"),
                        format!("port {} is listed twice", port.number),
                    );
                }
            }
        }
        if let Some(lb) = &pl.load_balancer {
            load_balancer(r, &format!("{pp}.loadBalancer"), lb);
        }
        if let Some(cp) = &pl.connection_pool {
            connection_pool(r, &format!("{pp}.connectionPool"), cp);
        }
        if let Some(od) = &pl.outlier_detection {
            outlier_detection(r, &format!("{pp}.outlierDetection"), od);
        }
        if let Some(tls) = &pl.tls {
            client_tls(r, &format!("{pp}.tls"), tls);
        }
    }
}

fn load_balancer(r: &mut Report<'_>, p: &str, lb: &LoadBalancerSettings) {
    if lb.simple.is_some() && lb.consistent_hash.is_some() {
        r.error(p, "set simple or consistentHash, not both");
    }
    if let Some(h) = &lb.consistent_hash {
        let keys = usize::from(h.http_header_name.is_some())
            + usize::from(h.http_cookie.is_some())
            + usize::from(h.use_source_ip == Some(true))
            + usize::from(h.http_query_parameter_name.is_some());
        if keys != 1 {
            r.error(
                format!("{p}.consistentHash"),
                "set exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName",
            );
        }
        if h.http_header_name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            r.error(
                format!("{p}.consistentHash.httpHeaderName"),
                "must not be empty",
            );
        }
        if h.http_cookie
            .as_ref()
            .is_some_and(|c| c.name.trim().is_empty())
        {
            r.error(
                format!("{p}.consistentHash.httpCookie.name"),
                "required: the cookie to hash on",
            );
        }
        if h.ring_hash.is_some() && h.maglev.is_some() {
            r.error(
                format!("{p}.consistentHash"),
                "set ringHash or maglev, not both",
            );
        }
    }
}

fn connection_pool(r: &mut Report<'_>, p: &str, cp: &ConnectionPoolSettings) {
    if let Some(tcp) = &cp.tcp {
        non_negative(r, &format!("{p}.tcp.maxConnections"), tcp.max_connections);
    }
    if let Some(http) = &cp.http {
        let hp = format!("{p}.http");
        non_negative(
            r,
            &format!("{hp}.http1MaxPendingRequests"),
            http.http1_max_pending_requests,
        );
        non_negative(
            r,
            &format!("{hp}.http2MaxRequests"),
            http.http2_max_requests,
        );
        non_negative(
            r,
            &format!("{hp}.maxRequestsPerConnection"),
            http.max_requests_per_connection,
        );
        non_negative(r, &format!("{hp}.maxRetries"), http.max_retries);
        non_negative(
            r,
            &format!("{hp}.maxConcurrentStreams"),
            http.max_concurrent_streams,
        );
    }
}

fn outlier_detection(r: &mut Report<'_>, p: &str, od: &OutlierDetection) {
    non_negative(
        r,
        &format!("{p}.consecutive5xxErrors"),
        od.consecutive_5xx_errors,
    );
    non_negative(
        r,
        &format!("{p}.consecutiveGatewayErrors"),
        od.consecutive_gateway_errors,
    );
    non_negative(
        r,
        &format!("{p}.consecutiveLocalOriginFailures"),
        od.consecutive_local_origin_failures,
    );
    non_negative(r, &format!("{p}.consecutiveErrors"), od.consecutive_errors);
    for (field, v) in [
        ("maxEjectionPercent", od.max_ejection_percent),
        ("minHealthPercent", od.min_health_percent),
    ] {
        if let Some(v) = v.filter(|v| !(0..=100).contains(v)) {
            r.error(format!("{p}.{field}"), format!("must be 0..=100, got {v}"));
        }
    }
    if od.interval.is_some_and(|d| d.is_zero()) {
        r.error(format!("{p}.interval"), "must be greater than 0, e.g. 10s");
    }
}

fn client_tls(r: &mut Report<'_>, p: &str, tls: &ClientTlsSettings) {
    if tls.mode == ClientTlsMode::Mutual && tls.credential_name.is_none() {
        if tls.client_certificate.is_none() {
            r.error(
                format!("{p}.clientCertificate"),
                "required for MUTUAL unless credentialName is set",
            );
        }
        if tls.private_key.is_none() {
            r.error(
                format!("{p}.privateKey"),
                "required for MUTUAL unless credentialName is set",
            );
        }
    }
}
