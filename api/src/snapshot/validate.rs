//! Structural validation of a snapshot: what serde cannot check.

use std::collections::HashSet;

use super::{ListenerMode, Protocol, Route, Snapshot};
use crate::matcher::StringMatch;

/// One structural problem in a snapshot, with the field path it concerns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SnapshotIssue {
    pub path: String,
    pub message: String,
}

/// Every structural problem of a snapshot, reported at once.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid proxy config ({} problem{}):\n  {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
pub struct SnapshotErrors(pub Vec<SnapshotIssue>);

impl Snapshot {
    /// Parses a snapshot from YAML (JSON is YAML too).
    pub fn from_yaml(text: &str) -> Result<Snapshot, serde_saphyr::Error> {
        serde_saphyr::from_str(text)
    }

    /// Checks what serde cannot: names resolve, weights sum to 100, percentages and status
    /// codes are in range, regexes compile, each route has exactly one action.
    pub fn validate(&self) -> Result<(), SnapshotErrors> {
        let mut issues = Vec::new();
        let mut push = |path: String, message: String| issues.push(SnapshotIssue { path, message });

        let clusters: HashSet<&str> = self.clusters.iter().map(|c| c.name.as_str()).collect();
        let routes: HashSet<&str> = self.routes.iter().map(|r| r.name.as_str()).collect();
        check_unique(
            self.clusters.iter().map(|c| c.name.as_str()),
            "clusters",
            &mut push,
        );
        check_unique(
            self.routes.iter().map(|r| r.name.as_str()),
            "routes",
            &mut push,
        );
        check_unique(
            self.listeners.iter().map(|l| l.name.as_str()),
            "listeners",
            &mut push,
        );

        for (i, l) in self.listeners.iter().enumerate() {
            let p = format!("listeners[{i}]");
            super::security::validate_listener(l, &p, &mut push);
            match l.protocol {
                Protocol::Http => match &l.route_config {
                    None => push(
                        format!("{p}.routeConfig"),
                        "required for an http listener".into(),
                    ),
                    Some(r) if !routes.contains(r.as_str()) => push(
                        format!("{p}.routeConfig"),
                        format!("no route table named {r:?}"),
                    ),
                    Some(_) => {}
                },
                Protocol::Tcp => match &l.cluster {
                    None if l.mode != ListenerMode::Transparent => push(
                        format!("{p}.cluster"),
                        "required for a tcp listener that is not transparent".into(),
                    ),
                    Some(c) if !clusters.contains(c.as_str()) => {
                        push(format!("{p}.cluster"), format!("no cluster named {c:?}"))
                    }
                    _ => {}
                },
            }
        }

        for (ri, rc) in self.routes.iter().enumerate() {
            for (vi, vh) in rc.virtual_hosts.iter().enumerate() {
                let vp = format!("routes[{ri}].virtualHosts[{vi}]");
                if vh.domains.is_empty() {
                    push(
                        format!("{vp}.domains"),
                        "must name at least one authority".into(),
                    );
                }
                for (di, d) in vh.domains.iter().enumerate() {
                    if d.is_empty() {
                        push(format!("{vp}.domains[{di}]"), "must not be empty".into());
                    }
                }
                for (ti, r) in vh.routes.iter().enumerate() {
                    validate_route(r, &format!("{vp}.routes[{ti}]"), &clusters, &mut push);
                }
            }
        }

        for (ci, c) in self.clusters.iter().enumerate() {
            let p = format!("clusters[{ci}]");
            super::security::validate_cluster(c, &p, &mut push);
            let lb = &c.load_balancer;
            if lb.simple.is_some() && lb.consistent_hash.is_some() {
                push(
                    format!("{p}.loadBalancer"),
                    "set either simple or consistentHash, not both".into(),
                );
            }
            if let Some(h) = &lb.consistent_hash {
                let keys = usize::from(h.http_header_name.is_some())
                    + usize::from(h.http_cookie.is_some())
                    + usize::from(h.use_source_ip)
                    + usize::from(h.http_query_parameter_name.is_some());
                if keys != 1 {
                    push(
                        format!("{p}.loadBalancer.consistentHash"),
                        "set exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName".into(),
                    );
                }
            }
            if let Some(od) = &c.outlier_detection {
                if od.max_ejection_percent > 100 {
                    push(
                        format!("{p}.outlierDetection.maxEjectionPercent"),
                        "must be 0..=100".into(),
                    );
                }
                if od.interval.is_zero() {
                    push(
                        format!("{p}.outlierDetection.interval"),
                        "must be > 0".into(),
                    );
                }
            }
            for (ei, e) in c.endpoints.iter().enumerate() {
                if e.weight == 0 {
                    push(format!("{p}.endpoints[{ei}].weight"), "must be >= 1".into());
                }
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(SnapshotErrors(issues))
        }
    }
}

fn check_unique<'a>(
    names: impl Iterator<Item = &'a str>,
    what: &str,
    push: &mut impl FnMut(String, String),
) {
    let mut seen = HashSet::new();
    for (i, n) in names.enumerate() {
        if n.is_empty() {
            push(format!("{what}[{i}].name"), "must not be empty".into());
        } else if !seen.insert(n) {
            push(format!("{what}[{i}].name"), format!("duplicate name {n:?}"));
        }
    }
}

fn validate_route(
    r: &Route,
    p: &str,
    clusters: &HashSet<&str>,
    push: &mut impl FnMut(String, String),
) {
    let actions = usize::from(!r.route.is_empty())
        + usize::from(r.redirect.is_some())
        + usize::from(r.direct_response.is_some());
    if actions != 1 {
        push(
            p.to_string(),
            "set exactly one of route, redirect, directResponse".into(),
        );
    }
    for (mi, m) in r.matches.iter().enumerate() {
        let mp = format!("{p}.match[{mi}]");
        let mut check = |field: String, sm: &StringMatch| {
            if let StringMatch::Regex(re) = sm {
                if let Err(e) = StringMatch::compile_regex(re) {
                    push(field, format!("invalid regex: {e}"));
                }
            }
        };
        for (name, sm) in [
            ("uri", &m.uri),
            ("method", &m.method),
            ("authority", &m.authority),
        ] {
            if let Some(sm) = sm {
                check(format!("{mp}.{name}"), sm);
            }
        }
        for (field, map) in [
            ("headers", &m.headers),
            ("withoutHeaders", &m.without_headers),
            ("queryParams", &m.query_params),
        ] {
            for (k, sm) in map {
                check(format!("{mp}.{field}.{k}"), sm);
            }
        }
    }
    let mut total = 0u64;
    for (di, d) in r.route.iter().enumerate() {
        if !clusters.contains(d.cluster.as_str()) {
            push(
                format!("{p}.route[{di}].cluster"),
                format!("no cluster named {:?}", d.cluster),
            );
        }
        match d.weight {
            Some(w) if w > 100 => push(format!("{p}.route[{di}].weight"), "must be 0..=100".into()),
            Some(w) => total += u64::from(w),
            None if r.route.len() > 1 => push(
                format!("{p}.route[{di}].weight"),
                "required when there are several destinations".into(),
            ),
            None => total += 100,
        }
    }
    if !r.route.is_empty() && total != 100 {
        push(
            format!("{p}.route"),
            format!("weights must sum to 100, they sum to {total}"),
        );
    }
    if let Some(f) = &r.fault {
        if let Some(d) = &f.delay {
            check_percent(d.percentage, &format!("{p}.fault.delay.percentage"), push);
        }
        if let Some(a) = &f.abort {
            check_percent(a.percentage, &format!("{p}.fault.abort.percentage"), push);
            if !(200..=599).contains(&a.http_status) {
                push(
                    format!("{p}.fault.abort.httpStatus"),
                    "must be 200..=599".into(),
                );
            }
        }
    }
    if let Some(m) = &r.mirror {
        check_percent(m.percentage, &format!("{p}.mirror.percentage"), push);
        if !clusters.contains(m.cluster.as_str()) {
            push(
                format!("{p}.mirror.cluster"),
                format!("no cluster named {:?}", m.cluster),
            );
        }
    }
    if let Some(rd) = &r.redirect {
        if ![301, 302, 303, 307, 308].contains(&rd.redirect_code) {
            push(
                format!("{p}.redirect.redirectCode"),
                "must be one of 301, 302, 303, 307, 308".into(),
            );
        }
    }
    if let Some(dr) = &r.direct_response {
        if !(200..=599).contains(&dr.status) {
            push(
                format!("{p}.directResponse.status"),
                "must be 200..=599".into(),
            );
        }
    }
    if let Some(rt) = &r.retries {
        if rt.attempts > 0 && rt.retry_on.trim().is_empty() {
            push(
                format!("{p}.retries.retryOn"),
                "must name at least one condition".into(),
            );
        }
    }
}

fn check_percent(v: f64, path: &str, push: &mut impl FnMut(String, String)) {
    if !(0.0..=100.0).contains(&v) || v.is_nan() {
        push(path.to_string(), "must be 0..=100".into());
    }
}
