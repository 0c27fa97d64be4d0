//! String matchers compiled from Istio's `StringMatch`, and the request view they test.

use mesh_api::StringMatch;

/// The parts of a request routing looks at, borrowed from the request.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    pub authority: &'a str,
    pub method: &'a str,
    /// Path without the query string.
    pub path: &'a str,
    /// The raw query string, without `?`; empty when absent.
    pub query: &'a str,
    pub headers: &'a http::HeaderMap,
}

/// A compiled string condition.
#[derive(Debug)]
pub enum Matcher {
    Exact(String),
    Prefix(String),
    /// Case-insensitive exact / prefix: the pattern is stored lowercased.
    ExactNoCase(String),
    PrefixNoCase(String),
    Regex(regex::Regex),
}

impl Matcher {
    /// Compiles a `StringMatch`; on a bad regex returns the pattern and the error.
    pub fn compile(sm: &StringMatch, ignore_case: bool) -> Result<Matcher, (String, regex::Error)> {
        Ok(match (sm, ignore_case) {
            (StringMatch::Exact(v), false) => Matcher::Exact(v.clone()),
            (StringMatch::Prefix(v), false) => Matcher::Prefix(v.clone()),
            (StringMatch::Exact(v), true) => Matcher::ExactNoCase(v.to_lowercase()),
            (StringMatch::Prefix(v), true) => Matcher::PrefixNoCase(v.to_lowercase()),
            (StringMatch::Regex(p), ci) => {
                let p2 = if ci { format!("(?i){p}") } else { p.clone() };
                Matcher::Regex(StringMatch::compile_regex(&p2).map_err(|e| (p.clone(), e))?)
            }
        })
    }

    pub fn is_match(&self, v: &str) -> bool {
        match self {
            Matcher::Exact(e) => v == e,
            Matcher::Prefix(p) => v.starts_with(p.as_str()),
            Matcher::ExactNoCase(e) => v.len() == e.len() && v.eq_ignore_ascii_case(e),
            Matcher::PrefixNoCase(p) => {
                v.len() >= p.len() && v.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
            Matcher::Regex(r) => r.is_match(v),
        }
    }

    /// The prefix a prefix matcher strips on rewrite.
    pub fn prefix(&self) -> Option<&str> {
        match self {
            Matcher::Prefix(p) | Matcher::PrefixNoCase(p) => Some(p),
            _ => None,
        }
    }
}

/// The first value of `key` in a raw query string (no percent-decoding of the key needed for
/// the names Istio users write; values are compared raw, as Envoy does).
pub fn query_param<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then_some(v)
    })
}
