//! VirtualService checks: hosts, exactly one action per HTTP route, destinations and
//! weights, match regexes, retries, faults, mirrors, rewrites, redirects, TCP/TLS routes.

use super::common::{
    destination, host, hosts, non_empty_entries, percent, port_number, regex_reason, string_match,
    weights,
};
use super::Report;
use crate::istio::http_route::{HttpMatchRequest, HttpRoute};
use crate::istio::virtual_service::VirtualServiceSpec;

pub(super) fn check(spec: &VirtualServiceSpec, r: &mut Report<'_>) {
    hosts(r, "spec.hosts", &spec.hosts);
    non_empty_entries(r, "spec.gateways", &spec.gateways);
    if spec.http.is_empty() && spec.tcp.is_empty() && spec.tls.is_empty() {
        r.error("spec", "set at least one of http, tcp or tls routes");
    }
    for (i, route) in spec.http.iter().enumerate() {
        http_route(r, &format!("spec.http[{i}]"), route);
    }
    for (i, route) in spec.tcp.iter().enumerate() {
        let p = format!("spec.tcp[{i}]");
        if route.route.is_empty() {
            r.error(format!("{p}.route"), "required: at least one destination");
        }
        for (j, d) in route.route.iter().enumerate() {
            destination(r, &format!("{p}.route[{j}].destination"), &d.destination);
        }
        let w: Vec<_> = route.route.iter().map(|d| d.weight).collect();
        weights(r, &format!("{p}.route"), &w);
    }
    for (i, route) in spec.tls.iter().enumerate() {
        let p = format!("spec.tls[{i}]");
        if route.matches.is_empty() {
            r.error(
                format!("{p}.match"),
                "required: TLS routes match on sniHosts",
            );
        }
        for (j, m) in route.matches.iter().enumerate() {
            let mp = format!("{p}.match[{j}].sniHosts");
            if m.sni_hosts.is_empty() {
                r.error(mp.clone(), "required: at least one SNI host");
            }
            for (k, h) in m.sni_hosts.iter().enumerate() {
                host(r, &format!("{mp}[{k}]"), h);
            }
        }
        if route.route.is_empty() {
            r.error(format!("{p}.route"), "required: at least one destination");
        }
        for (j, d) in route.route.iter().enumerate() {
            destination(r, &format!("{p}.route[{j}].destination"), &d.destination);
        }
        let w: Vec<_> = route.route.iter().map(|d| d.weight).collect();
        weights(r, &format!("{p}.route"), &w);
    }
}

fn http_route(r: &mut Report<'_>, p: &str, route: &HttpRoute) {
    let has_route = !route.route.is_empty();
    if route.redirect.is_some() && has_route {
        r.error(
            format!("{p}.redirect"),
            "cannot be set together with route: a request is either redirected or forwarded",
        );
    }
    if route.direct_response.is_some() && (has_route || route.redirect.is_some()) {
        r.error(
            format!("{p}.directResponse"),
            "cannot be set together with route or redirect",
        );
    }
    if route.delegate.is_some()
        && (has_route || route.redirect.is_some() || route.direct_response.is_some())
    {
        r.error(
            format!("{p}.delegate"),
            "cannot be set together with route, redirect or directResponse",
        );
    }
    if !has_route
        && route.redirect.is_none()
        && route.direct_response.is_none()
        && route.delegate.is_none()
    {
        r.error(p, "set one of route, redirect, directResponse or delegate");
    }
    for (i, m) in route.matches.iter().enumerate() {
        http_match(r, &format!("{p}.match[{i}]"), m);
    }
    for (i, d) in route.route.iter().enumerate() {
        destination(r, &format!("{p}.route[{i}].destination"), &d.destination);
    }
    let w: Vec<_> = route.route.iter().map(|d| d.weight).collect();
    weights(r, &format!("{p}.route"), &w);

    if let Some(rt) = &route.retries {
        if rt.attempts < 0 {
            r.error(
                format!("{p}.retries.attempts"),
                format!("must be >= 0, got {}", rt.attempts),
            );
        }
        if let Some(on) = &rt.retry_on {
            if on.split(',').any(|c| c.trim().is_empty()) {
                r.error(
                    format!("{p}.retries.retryOn"),
                    "empty condition; write e.g. 5xx,connect-failure",
                );
            }
        }
    }
    if let Some(f) = &route.fault {
        if f.delay.is_none() && f.abort.is_none() {
            r.error(format!("{p}.fault"), "set delay, abort or both");
        }
        if let Some(d) = &f.delay {
            let dp = format!("{p}.fault.delay");
            if d.fixed_delay.is_none() {
                r.error(format!("{dp}.fixedDelay"), "required, e.g. fixedDelay: 5s");
            }
            percent(r, &format!("{dp}.percentage"), d.percentage.as_ref());
            if let Some(v) = d.percent.filter(|v| !(0..=100).contains(v)) {
                r.error(format!("{dp}.percent"), format!("must be 0..=100, got {v}"));
            }
        }
        if let Some(a) = &f.abort {
            let ap = format!("{p}.fault.abort");
            match a.http_status {
                Some(s) if !(200..=599).contains(&s) => {
                    r.error(
                        format!("{ap}.httpStatus"),
                        format!("must be 200..=599, got {s}"),
                    );
                }
                None if a.grpc_status.is_none() => {
                    r.error(
                        format!("{ap}.httpStatus"),
                        "required: the status to return, e.g. 503",
                    );
                }
                _ => {}
            }
            percent(r, &format!("{ap}.percentage"), a.percentage.as_ref());
        }
    }
    if let Some(m) = &route.mirror {
        destination(r, &format!("{p}.mirror"), m);
        if !route.mirrors.is_empty() {
            r.error(
                format!("{p}.mirrors"),
                "cannot be set together with mirror; list every mirror in mirrors",
            );
        }
    }
    percent(
        r,
        &format!("{p}.mirrorPercentage"),
        route.mirror_percentage.as_ref(),
    );
    if let Some(v) = route.mirror_percent.filter(|v| *v > 100) {
        r.error(
            format!("{p}.mirrorPercent"),
            format!("must be 0..=100, got {v}"),
        );
    }
    for (i, m) in route.mirrors.iter().enumerate() {
        destination(r, &format!("{p}.mirrors[{i}].destination"), &m.destination);
        percent(
            r,
            &format!("{p}.mirrors[{i}].percentage"),
            m.percentage.as_ref(),
        );
    }
    if let Some(rw) = &route.rewrite {
        if rw.uri.is_some() && rw.uri_regex_rewrite.is_some() {
            r.error(
                format!("{p}.rewrite"),
                "set uri or uriRegexRewrite, not both",
            );
        }
        if let Some(rr) = &rw.uri_regex_rewrite {
            if let Err(e) = regex::Regex::new(&rr.pattern) {
                let first = regex_reason(&e);
                r.error(
                    format!("{p}.rewrite.uriRegexRewrite.match"),
                    format!("invalid regex: {first}"),
                );
            }
        }
    }
    if let Some(rd) = &route.redirect {
        if let Some(code) = rd
            .redirect_code
            .filter(|c| ![301, 302, 303, 307, 308].contains(c))
        {
            r.error(
                format!("{p}.redirect.redirectCode"),
                format!("must be 301, 302, 303, 307 or 308, got {code}"),
            );
        }
        if rd.port.is_some() && rd.derive_port.is_some() {
            r.error(format!("{p}.redirect"), "set port or derivePort, not both");
        }
        if let Some(port) = rd.port {
            port_number(r, &format!("{p}.redirect.port"), port);
        }
    }
    if let Some(dr) = &route.direct_response {
        if !(200..=599).contains(&dr.status) {
            r.error(
                format!("{p}.directResponse.status"),
                format!("must be 200..=599, got {}", dr.status),
            );
        }
    }
    if let Some(d) = &route.delegate {
        if d.name.is_empty() {
            r.error(
                format!("{p}.delegate.name"),
                "required: the VirtualService to delegate to",
            );
        }
    }
    if let Some(c) = &route.cors_policy {
        for (i, o) in c.allow_origins.iter().enumerate() {
            string_match(r, &format!("{p}.corsPolicy.allowOrigins[{i}]"), Some(o));
        }
    }
}

fn http_match(r: &mut Report<'_>, p: &str, m: &HttpMatchRequest) {
    string_match(r, &format!("{p}.uri"), m.uri.as_ref());
    string_match(r, &format!("{p}.scheme"), m.scheme.as_ref());
    string_match(r, &format!("{p}.method"), m.method.as_ref());
    string_match(r, &format!("{p}.authority"), m.authority.as_ref());
    for (field, map) in [
        ("headers", &m.headers),
        ("withoutHeaders", &m.without_headers),
        ("queryParams", &m.query_params),
    ] {
        for (name, sm) in map {
            if name.trim().is_empty() {
                r.error(format!("{p}.{field}"), "names must not be empty");
            }
            string_match(r, &format!("{p}.{field}.{name}"), sm.0.as_ref());
        }
    }
    if m.port > 65535 {
        r.error(
            format!("{p}.port"),
            format!("must be a port number 1..=65535, got {}", m.port),
        );
    }
    non_empty_entries(r, &format!("{p}.gateways"), &m.gateways);
}
