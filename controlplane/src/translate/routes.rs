//! Istio `HTTPRoute` -> [`Route`]: matches, destinations and weights, timeout, retries,
//! fault injection, mirroring, rewrite, redirect, direct response, header edits.

use mesh_api::istio::http_route::{self as ir, HttpRoute};
use mesh_api::istio::Resource;
use mesh_api::snapshot::{
    DirectResponse, Fault, FaultAbort, FaultDelay, HeaderOperations, Headers, Mirror, Redirect,
    Retries, Rewrite, Route, RouteDestination,
};

use super::clusters::ClusterKey;
use super::destinations::{self, Env};
use super::match_::{self, Site};
use super::Acc;

/// Istio's retry policy for routes that set none (what `istioctl proxy-config` shows:
/// 2 retries on these conditions, 503 being the retriable status code).
pub const DEFAULT_RETRY_ON: &str =
    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes,503";

/// Istio's default retries.
pub fn default_retries() -> Retries {
    Retries {
        attempts: 2,
        per_try_timeout: None,
        retry_on: DEFAULT_RETRY_ON.to_string(),
    }
}

/// The route for a host without VirtualService: everything to the whole service.
pub(crate) fn default_route(acc: &mut Acc, host: &str, port: u16) -> Route {
    Route {
        name: "default".into(),
        route: vec![RouteDestination {
            cluster: acc.used.add(ClusterKey::new(host, port, "")),
            weight: None,
            headers: None,
        }],
        retries: Some(default_retries()),
        ..Route::default()
    }
}

/// The routes of VirtualService `r` (its `http` list, in order) that apply at `site`.
pub(crate) fn virtual_service(
    env: &Env<'_>,
    acc: &mut Acc,
    r: &Resource,
    http: &[HttpRoute],
    site: &Site<'_>,
) -> Vec<Route> {
    http.iter()
        .enumerate()
        .filter_map(|(i, hr)| route(env, acc, r, &format!("spec.http[{i}]"), hr, site))
        .collect()
}

fn route(
    env: &Env<'_>,
    acc: &mut Acc,
    r: &Resource,
    path: &str,
    hr: &HttpRoute,
    site: &Site<'_>,
) -> Option<Route> {
    let matches: Vec<_> = hr
        .matches
        .iter()
        .filter(|m| match_::applies(m, site))
        .map(match_::translate)
        .collect();
    if !hr.matches.is_empty() && matches.is_empty() {
        return None;
    }
    for (i, m) in hr.matches.iter().enumerate() {
        if m.scheme.is_some() {
            acc.warnings.push(
                r,
                format!("{path}.match[{i}].scheme"),
                "scheme matches are not supported yet and are ignored".into(),
            );
        }
    }
    if hr.delegate.is_some() {
        acc.warnings.push(
            r,
            format!("{path}.delegate"),
            "delegate VirtualServices are not supported yet; the route is skipped \
             (inline the delegate's routes)"
                .into(),
        );
        return None;
    }
    let mut out = Route {
        name: hr.name.clone(),
        matches,
        timeout: hr.timeout.filter(|t| !t.is_zero()),
        retries: retries(hr.retries.as_ref()),
        fault: hr.fault.as_ref().and_then(|f| fault(acc, r, path, f)),
        headers: hr.headers.as_ref().map(headers),
        ..Route::default()
    };
    if !hr.route.is_empty() {
        out.route = destinations(env, acc, r, path, &hr.route, site.port)?;
    } else if let Some(rd) = &hr.redirect {
        out.redirect = Some(redirect(acc, r, path, rd));
    } else if let Some(d) = &hr.direct_response {
        out.direct_response = Some(direct_response(acc, r, path, d));
    } else {
        acc.warnings.push(
            r,
            path.to_string(),
            "the route has no route, redirect or directResponse; it is skipped".into(),
        );
        return None;
    }
    if let Some(rw) = &hr.rewrite {
        if rw.uri_regex_rewrite.is_some() {
            acc.warnings.push(
                r,
                format!("{path}.rewrite.uriRegexRewrite"),
                "regex rewrites are not supported yet and are ignored".into(),
            );
        }
        out.rewrite = Some(Rewrite {
            uri: rw.uri.clone(),
            authority: rw.authority.clone(),
        });
    }
    out.mirror = mirror(env, acc, r, path, hr, site.port);
    Some(out)
}

fn destinations(
    env: &Env<'_>,
    acc: &mut Acc,
    r: &Resource,
    path: &str,
    dests: &[ir::HttpRouteDestination],
    port: u16,
) -> Option<Vec<RouteDestination>> {
    let single = dests.len() == 1;
    let mut total = 0i64;
    let mut out = Vec::with_capacity(dests.len());
    for (i, d) in dests.iter().enumerate() {
        let p = format!("{path}.route[{i}].destination");
        let cluster = destinations::resolve(env, acc, r, &p, &d.destination, port);
        let weight = d.weight.unwrap_or(0).clamp(0, 100);
        total += i64::from(weight);
        out.push(RouteDestination {
            cluster,
            // A lone destination takes all traffic whatever its weight says (as Istio).
            weight: (!single).then_some(weight.unsigned_abs()),
            headers: d.headers.as_ref().map(headers),
        });
    }
    if !single && total != 100 {
        acc.warnings.push(
            r,
            format!("{path}.route"),
            format!("weights sum to {total}, not 100; the route is skipped (fix the weights)"),
        );
        return None;
    }
    Some(out)
}

/// `attempts: 0` disables retries; no policy means Istio's default.
fn retries(rt: Option<&ir::HttpRetry>) -> Option<Retries> {
    let Some(rt) = rt else {
        return Some(default_retries());
    };
    if rt.attempts <= 0 {
        return None;
    }
    Some(Retries {
        attempts: rt.attempts.unsigned_abs(),
        per_try_timeout: rt.per_try_timeout.filter(|t| !t.is_zero()),
        retry_on: rt
            .retry_on
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_RETRY_ON.to_string()),
    })
}

/// Istio documents that a fault without a percentage applies to no request; the legacy
/// integer `percent` is read when `percentage` is absent.
fn fault(acc: &mut Acc, r: &Resource, path: &str, f: &ir::HttpFaultInjection) -> Option<Fault> {
    let delay = f.delay.as_ref().and_then(|d| {
        let Some(fixed_delay) = d.fixed_delay else {
            acc.warnings.push(
                r,
                format!("{path}.fault.delay.fixedDelay"),
                "a delay needs fixedDelay; the delay is ignored".into(),
            );
            return None;
        };
        let percentage = d
            .percentage
            .map(|p| p.value)
            .or(d.percent.map(f64::from))
            .unwrap_or(0.0)
            .clamp(0.0, 100.0);
        Some(FaultDelay {
            fixed_delay,
            percentage,
        })
    });
    let abort = f.abort.as_ref().and_then(|a| {
        let status = a.http_status.and_then(|s| u16::try_from(s).ok());
        let Some(http_status) = status.filter(|s| (200..=599).contains(s)) else {
            acc.warnings.push(
                r,
                format!("{path}.fault.abort"),
                "only httpStatus aborts (200..=599) are supported; the abort is ignored".into(),
            );
            return None;
        };
        let percentage = a.percentage.map_or(0.0, |p| p.value).clamp(0.0, 100.0);
        Some(FaultAbort {
            http_status,
            percentage,
        })
    });
    (delay.is_some() || abort.is_some()).then_some(Fault { delay, abort })
}

/// `mirror` + `mirrorPercentage` (or legacy `mirrorPercent`), else the first of `mirrors`.
fn mirror(
    env: &Env<'_>,
    acc: &mut Acc,
    r: &Resource,
    path: &str,
    hr: &HttpRoute,
    port: u16,
) -> Option<Mirror> {
    let (dest, pct, field) = match (&hr.mirror, hr.mirrors.first()) {
        (Some(d), _) => {
            let pct = hr
                .mirror_percentage
                .map(|p| p.value)
                .or(hr.mirror_percent.map(f64::from));
            (d, pct, format!("{path}.mirror"))
        }
        (None, Some(m)) => {
            if hr.mirrors.len() > 1 {
                acc.warnings.push(
                    r,
                    format!("{path}.mirrors"),
                    "only the first mirror is used for now".into(),
                );
            }
            let pct = m.percentage.map(|p| p.value);
            (
                &m.destination,
                pct,
                format!("{path}.mirrors[0].destination"),
            )
        }
        (None, None) => return None,
    };
    Some(Mirror {
        cluster: destinations::resolve(env, acc, r, &field, dest, port),
        percentage: pct.unwrap_or(100.0).clamp(0.0, 100.0),
    })
}

fn redirect(acc: &mut Acc, r: &Resource, path: &str, rd: &ir::HttpRedirect) -> Redirect {
    let mut authority = rd.authority.clone();
    if let Some(port) = rd.port {
        match &authority {
            Some(a) => authority = Some(format!("{a}:{port}")),
            None => acc.warnings.push(
                r,
                format!("{path}.redirect.port"),
                "a redirect port without authority is not supported yet and is ignored".into(),
            ),
        }
    }
    if rd.derive_port.is_some() {
        acc.warnings.push(
            r,
            format!("{path}.redirect.derivePort"),
            "derivePort is not supported yet and is ignored".into(),
        );
    }
    Redirect {
        uri: rd.uri.clone(),
        authority,
        scheme: rd.scheme.clone(),
        redirect_code: rd
            .redirect_code
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(301),
    }
}

fn direct_response(
    acc: &mut Acc,
    r: &Resource,
    path: &str,
    d: &ir::HttpDirectResponse,
) -> DirectResponse {
    let body = d.body.as_ref().and_then(|b| {
        if b.bytes.is_some() {
            acc.warnings.push(
                r,
                format!("{path}.directResponse.body.bytes"),
                "base64 bodies are not supported yet; use body.string".into(),
            );
        }
        b.string.clone()
    });
    DirectResponse {
        status: u16::try_from(d.status).unwrap_or(500),
        body,
    }
}

fn headers(h: &ir::Headers) -> Headers {
    let ops = |o: &ir::HeaderOperations| HeaderOperations {
        set: o.set.clone(),
        add: o.add.clone(),
        remove: o.remove.clone(),
    };
    Headers {
        request: h.request.as_ref().map(ops),
        response: h.response.as_ref().map(ops),
    }
}
