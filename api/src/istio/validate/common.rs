//! Checks several kinds share: host names, percentages, regexes, destinations and weights.

use super::Report;
use crate::istio::meta::Percent;
use crate::istio::virtual_service::Destination;
use crate::matcher::StringMatch;

/// A service host: not empty, only name characters, and `*` only as the first character.
pub(super) fn host(r: &mut Report<'_>, path: &str, host: &str) {
    if host.is_empty() {
        r.error(
            path,
            "must not be empty; write a service name such as reviews or *.example.com",
        );
        return;
    }
    let rest = host.strip_prefix('*').unwrap_or(host);
    if rest.contains('*') {
        r.error(
            path,
            format!(
                "{host:?}: a wildcard is only allowed as the first character, as in *.example.com"
            ),
        );
    } else if let Some(c) = rest
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        r.error(
            path,
            format!("{host:?}: character {c:?} is not allowed in a host name"),
        );
    } else if host.starts_with('*') && !rest.is_empty() && !rest.starts_with('.') {
        r.error(
            path,
            format!("{host:?}: a wildcard must be a whole label, as in *.example.com"),
        );
    }
}

/// A list of hosts that must not be empty.
pub(super) fn hosts(r: &mut Report<'_>, path: &str, list: &[String]) {
    if list.is_empty() {
        r.error(path, "required: name at least one host");
    }
    for (i, h) in list.iter().enumerate() {
        host(r, &format!("{path}[{i}]"), h);
    }
}

/// A percentage in 0..=100.
pub(super) fn percent(r: &mut Report<'_>, path: &str, p: Option<&Percent>) {
    if let Some(p) = p {
        if !(0.0..=100.0).contains(&p.value) {
            r.error(
                format!("{path}.value"),
                format!("must be 0..=100, got {}", p.value),
            );
        }
    }
}

/// A string match whose regex form must compile (RE2-compatible syntax, whole-value match).
pub(super) fn string_match(r: &mut Report<'_>, path: &str, m: Option<&StringMatch>) {
    if let Some(StringMatch::Regex(re)) = m {
        if let Err(e) = StringMatch::compile_regex(re) {
            let first = regex_reason(&e);
            r.error(
                format!("{path}.regex"),
                format!("invalid regex {re:?}: {first}"),
            );
        }
    }
}

/// A destination: host required and well formed, port in range.
pub(super) fn destination(r: &mut Report<'_>, path: &str, d: &Destination) {
    if d.host.is_empty() {
        r.error(
            format!("{path}.host"),
            "required: the service to send traffic to, e.g. reviews",
        );
    } else {
        host(r, &format!("{path}.host"), &d.host);
    }
    if let Some(p) = &d.port {
        port_number(r, &format!("{path}.port.number"), p.number);
    }
}

/// Weights of a route's destinations: each 0..=100, and with several destinations they must
/// sum to 100 (a single destination may omit its weight).
pub(super) fn weights(r: &mut Report<'_>, path: &str, weights: &[Option<i32>]) {
    let mut total: i64 = 0;
    for (i, w) in weights.iter().enumerate() {
        let w = w.unwrap_or(0);
        if !(0..=100).contains(&w) {
            r.error(
                format!("{path}[{i}].weight"),
                format!("must be 0..=100, got {w}"),
            );
        }
        total += i64::from(w);
    }
    if weights.len() > 1 && total != 100 {
        r.error(
            path,
            format!(
                "weights of the {} destinations must sum to 100, they sum to {total}",
                weights.len()
            ),
        );
    }
}

/// A port number in 1..=65535.
pub(super) fn port_number(r: &mut Report<'_>, path: &str, n: u32) {
    if !(1..=65535).contains(&n) {
        r.error(path, format!("must be a port number 1..=65535, got {n}"));
    }
}

/// A count that Istio rejects when negative.
pub(super) fn non_negative(r: &mut Report<'_>, path: &str, v: Option<i32>) {
    if let Some(v) = v.filter(|v| *v < 0) {
        r.error(path, format!("must be >= 0, got {v}"));
    }
}

/// Entries of a string list that must not be empty strings.
pub(super) fn non_empty_entries(r: &mut Report<'_>, path: &str, list: &[String]) {
    for (i, v) in list.iter().enumerate() {
        if v.trim().is_empty() {
            r.error(format!("{path}[{i}]"), "must not be empty");
        }
    }
}

/// The last line of a regex error ("unclosed group"), without the caret drawing above it.
pub(super) fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or_default().trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}
