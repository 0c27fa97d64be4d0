//! AuthorizationPolicy enforcement on the inbound side: a pure function from the listener's
//! compiled policies and what is known about a request to Allow or Deny.
//!
//! Istio's order: any matching DENY policy denies; then, if there is at least one ALLOW
//! policy, the request must match one of them; with no ALLOW policy everything else is
//! allowed. A policy matches when any of its rules does; a rule when every non-empty part of
//! it (`from`: any source; `to`: any operation) matches; and within a source or operation,
//! every field that is set. Principals and the namespace come from the peer's SPIFFE ID as
//! proven in the mTLS handshake: a plain-text request has none, so it matches no
//! `principals` and no `namespaces` (and every `notPrincipals` / `notNamespaces`).

use mesh_api::snapshot::{AuthorizationRule, AuthzAction, AuthzOperation, AuthzRule, AuthzSource};

#[cfg(test)]
mod tests;

/// What a policy can look at.
#[derive(Debug, Clone, Copy)]
pub struct AuthzRequest<'a> {
    /// The peer's SPIFFE ID (`spiffe://td/ns/x/sa/y`) from the handshake; None for plain text.
    pub principal: Option<&'a str>,
    pub method: &'a str,
    /// The path without the query.
    pub path: &'a str,
    /// The destination port.
    pub port: u16,
    /// The authority (`Host`), possibly with a port.
    pub host: &'a str,
}

/// The outcome; a denial names the policy that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    Allow,
    /// Denied by the named DENY policy.
    DeniedBy(&'a str),
    /// ALLOW policies exist and none matched.
    NoAllowMatched,
}

impl Decision<'_> {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }

    /// Envoy's `response_code_details` for a denial.
    pub fn details(self) -> String {
        match self {
            Decision::Allow => String::new(),
            Decision::DeniedBy(name) => format!("rbac_access_denied_matched_policy[{name}]"),
            Decision::NoAllowMatched => "rbac_access_denied_matched_policy[none]".into(),
        }
    }
}

/// The 403 body Envoy sends, which clients and tests recognise.
pub const DENIED_BODY: &str = "RBAC: access denied";

/// Evaluates `policies` against `req` in Istio's order.
pub fn evaluate<'p>(policies: &'p [AuthorizationRule], req: &AuthzRequest<'_>) -> Decision<'p> {
    if let Some(p) = policies
        .iter()
        .find(|p| p.action == AuthzAction::Deny && matches(p, req))
    {
        return Decision::DeniedBy(&p.name);
    }
    let mut allows = policies
        .iter()
        .filter(|p| p.action == AuthzAction::Allow)
        .peekable();
    if allows.peek().is_none() || allows.any(|p| matches(p, req)) {
        Decision::Allow
    } else {
        Decision::NoAllowMatched
    }
}

fn matches(policy: &AuthorizationRule, req: &AuthzRequest<'_>) -> bool {
    policy.rules.iter().any(|r| rule_matches(r, req))
}

fn rule_matches(rule: &AuthzRule, req: &AuthzRequest<'_>) -> bool {
    (rule.from.is_empty() || rule.from.iter().any(|f| source_matches(&f.source, req)))
        && (rule.to.is_empty() || rule.to.iter().any(|t| operation_matches(&t.operation, req)))
}

/// A field matches when it is empty or any value matches; a `not` field when none does.
fn field(values: &[String], mut m: impl FnMut(&str) -> bool) -> bool {
    values.is_empty() || values.iter().any(|v| m(v))
}
fn not_field(values: &[String], mut m: impl FnMut(&str) -> bool) -> bool {
    !values.iter().any(|v| m(v))
}

fn source_matches(s: &AuthzSource, req: &AuthzRequest<'_>) -> bool {
    let principal = req.principal.map(strip_spiffe);
    let ns = req.principal.and_then(namespace_of);
    let p = |v: &str| principal.is_some_and(|p| wildcard(strip_spiffe(v), p));
    let n = |v: &str| ns.is_some_and(|n| wildcard(v, n));
    field(&s.principals, p)
        && not_field(&s.not_principals, p)
        && field(&s.namespaces, n)
        && not_field(&s.not_namespaces, n)
}

fn operation_matches(o: &AuthzOperation, req: &AuthzRequest<'_>) -> bool {
    let method = |v: &str| v == req.method;
    let path = |v: &str| wildcard(v, req.path);
    let port = |v: &str| v.parse::<u16>().is_ok_and(|p| p == req.port);
    let host = |v: &str| host_matches(v, req.host);
    field(&o.methods, method)
        && not_field(&o.not_methods, method)
        && field(&o.paths, path)
        && not_field(&o.not_paths, path)
        && field(&o.ports, port)
        && not_field(&o.not_ports, port)
        && field(&o.hosts, host)
        && not_field(&o.not_hosts, host)
}

fn strip_spiffe(id: &str) -> &str {
    id.strip_prefix("spiffe://").unwrap_or(id)
}

/// The namespace of a SPIFFE ID: the segment after `/ns/`.
pub fn namespace_of(spiffe_id: &str) -> Option<&str> {
    let rest = &spiffe_id[spiffe_id.find("/ns/")? + 4..];
    Some(rest.split('/').next().unwrap_or(rest)).filter(|n| !n.is_empty())
}

/// Istio's string match: `*` alone, `prefix*`, `*suffix`, or exact.
fn wildcard(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return value.starts_with(prefix);
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return value.ends_with(suffix);
    }
    pattern == value
}

/// Hosts compare case-insensitively, with or without the request's port.
fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let bare = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
    wildcard(&pattern, &host) || wildcard(&pattern, bare)
}
