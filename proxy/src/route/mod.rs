//! Route tables: which virtual host an authority selects, and which route a request takes.
//!
//! Everything here is pure: compiled once per config snapshot (regexes included), then
//! matched per request without allocating.

mod matcher;

use std::collections::HashMap;
use std::sync::Arc;

use mesh_api::snapshot::{Route, RouteConfig, RouteDestination};
use mesh_api::StringMatch;

pub use matcher::{query_param, Matcher, RequestView};

use crate::http::retry::RetryPolicy;

/// A compiled route table.
#[derive(Debug)]
pub struct RouteTable {
    exact: HashMap<String, usize>,
    /// `*.example.com` stored as `.example.com`, longest first.
    suffixes: Vec<(String, usize)>,
    any: Option<usize>,
    hosts: Vec<VirtualHost>,
}

#[derive(Debug)]
pub struct VirtualHost {
    pub name: Arc<str>,
    pub routes: Vec<Arc<CompiledRoute>>,
}

/// One route with its conditions compiled.
#[derive(Debug)]
pub struct CompiledRoute {
    pub cfg: Route,
    /// The virtual host's name, for logs and `/config_dump` readers.
    pub host: Arc<str>,
    /// The access log's `route_name` (Envoy's `%ROUTE_NAME%`): the route's own name (a
    /// VirtualService `http[].name`), or the virtual host's when the route has none.
    pub name: Arc<str>,
    matches: Vec<CompiledMatch>,
    /// (cluster, cumulative weight); pick with a random number below `total_weight`.
    destinations: Vec<(Arc<str>, u32, usize)>,
    total_weight: u32,
    /// The compiled `retries` (None: no retries).
    pub retry: Option<RetryPolicy>,
}

#[derive(Debug)]
struct CompiledMatch {
    uri: Option<Matcher>,
    method: Option<Matcher>,
    authority: Option<Matcher>,
    headers: Vec<(http::HeaderName, Matcher)>,
    without_headers: Vec<(http::HeaderName, Matcher)>,
    query: Vec<(String, Matcher)>,
}

/// Why a route table could not be compiled (the snapshot validator catches these first;
/// this is the proxy's own guard).
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("route {route:?}: invalid regex {pattern:?}: {source}")]
    Regex {
        route: String,
        pattern: String,
        #[source]
        source: regex::Error,
    },
    #[error("route {route:?}: invalid header name {name:?}")]
    HeaderName { route: String, name: String },
}

/// The route a request matched, and the URI prefix it matched by (for prefix rewrites).
#[derive(Debug)]
pub struct Matched<'a> {
    pub route: &'a Arc<CompiledRoute>,
    pub matched_prefix: Option<&'a str>,
}

impl RouteTable {
    pub fn compile(cfg: &RouteConfig) -> Result<RouteTable, CompileError> {
        let mut table = RouteTable {
            exact: HashMap::new(),
            suffixes: Vec::new(),
            any: None,
            hosts: Vec::with_capacity(cfg.virtual_hosts.len()),
        };
        for (i, vh) in cfg.virtual_hosts.iter().enumerate() {
            let name: Arc<str> = Arc::from(vh.name.as_str());
            let routes = vh
                .routes
                .iter()
                .map(|r| CompiledRoute::compile(r, name.clone()).map(Arc::new))
                .collect::<Result<Vec<_>, _>>()?;
            table.hosts.push(VirtualHost { name, routes });
            for d in &vh.domains {
                let d = d.to_ascii_lowercase();
                if d == "*" {
                    table.any.get_or_insert(i);
                } else if let Some(suffix) = d.strip_prefix('*') {
                    table.suffixes.push((suffix.to_string(), i));
                } else {
                    table.exact.entry(d).or_insert(i);
                }
            }
        }
        table.suffixes.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        Ok(table)
    }

    /// Picks the virtual host for an authority: exact `host:port`, then exact `host`, then the
    /// longest `*.suffix`, then `*`.
    pub fn host(&self, authority: &str) -> Option<&VirtualHost> {
        let idx = self.host_index(authority)?;
        self.hosts.get(idx)
    }

    fn host_index(&self, authority: &str) -> Option<usize> {
        // Authorities are case-insensitive; avoid allocating when already lowercase.
        let lowered;
        let authority = if authority.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = authority.to_ascii_lowercase();
            lowered.as_str()
        } else {
            authority
        };
        if let Some(&i) = self.exact.get(authority) {
            return Some(i);
        }
        let host = strip_port(authority);
        if host.len() != authority.len() {
            if let Some(&i) = self.exact.get(host) {
                return Some(i);
            }
        }
        for (suffix, i) in &self.suffixes {
            if host.ends_with(suffix.as_str()) || authority.ends_with(suffix.as_str()) {
                return Some(*i);
            }
        }
        self.any
    }

    /// The first route of the selected virtual host whose conditions hold.
    pub fn find<'a>(&'a self, req: &RequestView<'_>) -> Option<Matched<'a>> {
        let vh = self.host(req.authority)?;
        vh.routes.iter().find_map(|r| {
            r.matching(req).map(|matched_prefix| Matched {
                route: r,
                matched_prefix,
            })
        })
    }
}

/// `host:port` -> `host`; IPv6 literals keep their brackets.
pub fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

impl CompiledRoute {
    fn compile(r: &Route, host: Arc<str>) -> Result<CompiledRoute, CompileError> {
        let route_name = || r.name.clone();
        let m = |sm: &StringMatch, ci: bool| {
            Matcher::compile(sm, ci).map_err(|(pattern, source)| CompileError::Regex {
                route: route_name(),
                pattern,
                source,
            })
        };
        let header_list = |map: &std::collections::BTreeMap<String, StringMatch>| {
            map.iter()
                .map(|(k, v)| {
                    let name = http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes())
                        .map_err(|_| CompileError::HeaderName {
                            route: route_name(),
                            name: k.clone(),
                        })?;
                    Ok((name, m(v, false)?))
                })
                .collect::<Result<Vec<_>, CompileError>>()
        };
        let matches = r
            .matches
            .iter()
            .map(|rm| {
                Ok(CompiledMatch {
                    uri: rm
                        .uri
                        .as_ref()
                        .map(|u| m(u, rm.ignore_uri_case))
                        .transpose()?,
                    method: rm.method.as_ref().map(|v| m(v, false)).transpose()?,
                    authority: rm.authority.as_ref().map(|v| m(v, true)).transpose()?,
                    headers: header_list(&rm.headers)?,
                    without_headers: header_list(&rm.without_headers)?,
                    query: rm
                        .query_params
                        .iter()
                        .map(|(k, v)| Ok((k.clone(), m(v, false)?)))
                        .collect::<Result<Vec<_>, CompileError>>()?,
                })
            })
            .collect::<Result<Vec<_>, CompileError>>()?;
        let (destinations, total_weight) = cumulative(&r.route);
        let name = if r.name.is_empty() {
            host.clone()
        } else {
            Arc::from(r.name.as_str())
        };
        Ok(CompiledRoute {
            cfg: r.clone(),
            host,
            name,
            matches,
            destinations,
            total_weight,
            retry: r.retries.as_ref().map(RetryPolicy::new),
        })
    }

    /// `Some(prefix)` when the route matches (the prefix is set for a prefix URI match).
    fn matching(&self, req: &RequestView<'_>) -> Option<Option<&str>> {
        if self.matches.is_empty() {
            return Some(None);
        }
        self.matches.iter().find_map(|m| m.test(req))
    }

    /// Picks a destination by weight; `roll` is uniform in `0..total_weight()`.
    pub fn destination(&self, roll: u32) -> Option<(&Arc<str>, &RouteDestination)> {
        let i = self
            .destinations
            .iter()
            .position(|(_, cum, _)| roll < *cum)?;
        let (cluster, _, idx) = &self.destinations[i];
        Some((cluster, &self.cfg.route[*idx]))
    }

    pub fn total_weight(&self) -> u32 {
        self.total_weight
    }

    pub fn has_destinations(&self) -> bool {
        !self.destinations.is_empty()
    }
}

fn cumulative(dests: &[RouteDestination]) -> (Vec<(Arc<str>, u32, usize)>, u32) {
    let single = dests.len() == 1;
    let mut total = 0u32;
    let mut out = Vec::with_capacity(dests.len());
    for (i, d) in dests.iter().enumerate() {
        let w = match d.weight {
            Some(w) => w,
            None if single => 100,
            None => 0,
        };
        if w == 0 {
            continue;
        }
        total = total.saturating_add(w);
        out.push((Arc::from(d.cluster.as_str()), total, i));
    }
    (out, total)
}

impl CompiledMatch {
    fn test<'m>(&'m self, req: &RequestView<'_>) -> Option<Option<&'m str>> {
        if let Some(m) = &self.method {
            if !m.is_match(req.method) {
                return None;
            }
        }
        if let Some(m) = &self.authority {
            if !m.is_match(req.authority) {
                return None;
            }
        }
        for (name, m) in &self.headers {
            match req.headers.get(name).and_then(|v| v.to_str().ok()) {
                Some(v) if m.is_match(v) => {}
                _ => return None,
            }
        }
        for (name, m) in &self.without_headers {
            if let Some(v) = req.headers.get(name).and_then(|v| v.to_str().ok()) {
                if m.is_match(v) {
                    return None;
                }
            }
        }
        for (key, m) in &self.query {
            if !matcher::query_param(req.query, key).is_some_and(|v| m.is_match(v)) {
                return None;
            }
        }
        match &self.uri {
            None => Some(None),
            Some(m) if m.is_match(req.path) => Some(m.prefix()),
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
