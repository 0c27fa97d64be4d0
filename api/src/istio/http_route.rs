//! Istio's `HTTPRoute` and what hangs off it: matches, destinations, rewrites, redirects,
//! direct responses, retries, fault injection, mirroring, header edits and CORS.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::meta::Percent;
use super::virtual_service::{Delegate, Destination};
use crate::duration::Duration;
use crate::matcher::StringMatch;

/// Istio's `HTTPRoute`: conditions and what to do with matching requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpRoute {
    /// Shown in access logs and debugging output.
    pub name: String,
    /// Conditions (OR); empty matches every request.
    #[serde(rename = "match")]
    pub matches: Vec<HttpMatchRequest>,
    /// Weighted destinations. Exclusive with `redirect`, `directResponse` and `delegate`.
    pub route: Vec<HttpRouteDestination>,
    /// Answer with a redirect instead of forwarding.
    pub redirect: Option<HttpRedirect>,
    /// Answer with a fixed response instead of forwarding.
    pub direct_response: Option<HttpDirectResponse>,
    /// Hand the request to another VirtualService's routes.
    pub delegate: Option<Delegate>,
    /// Rewrite the URI or authority before forwarding.
    pub rewrite: Option<HttpRewrite>,
    /// Overall request timeout; none means no timeout.
    pub timeout: Option<Duration>,
    /// Retry policy.
    pub retries: Option<HttpRetry>,
    /// Delays and aborts injected on the client side.
    pub fault: Option<HttpFaultInjection>,
    /// Also send a copy of each request here (responses are ignored).
    pub mirror: Option<Destination>,
    /// Share of requests mirrored to `mirror`, 0..=100 (default 100).
    pub mirror_percentage: Option<Percent>,
    /// Legacy integer form of `mirrorPercentage`.
    pub mirror_percent: Option<u32>,
    /// Several mirror destinations, each with its own percentage.
    pub mirrors: Vec<HttpMirrorPolicy>,
    /// Cross-origin resource sharing.
    pub cors_policy: Option<CorsPolicy>,
    /// Header edits on requests and responses.
    pub headers: Option<Headers>,
}

/// Istio's `HTTPMatchRequest`: all conditions in one entry must hold (AND).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpMatchRequest {
    /// Name of this match, appended to the route's name in logs.
    pub name: String,
    /// The request path.
    pub uri: Option<StringMatch>,
    /// `http` or `https`.
    pub scheme: Option<StringMatch>,
    /// The HTTP method.
    pub method: Option<StringMatch>,
    /// The `Host` / `:authority`.
    pub authority: Option<StringMatch>,
    /// Request headers (lower-case names).
    pub headers: BTreeMap<String, ValueMatch>,
    /// The destination port; 0 means any.
    pub port: u32,
    /// Labels of the calling workload.
    pub source_labels: BTreeMap<String, String>,
    /// Gateways this condition applies to.
    pub gateways: Vec<String>,
    /// Query parameters.
    pub query_params: BTreeMap<String, ValueMatch>,
    /// Match `uri` case-insensitively.
    pub ignore_uri_case: bool,
    /// Headers that must NOT match.
    pub without_headers: BTreeMap<String, ValueMatch>,
    /// Namespace of the calling workload.
    pub source_namespace: String,
}

/// Istio's `HTTPRouteDestination`: a destination, its weight and header edits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpRouteDestination {
    /// Where the request goes.
    pub destination: Destination,
    /// Share of traffic, 0..=100; required (and summing to 100) with several destinations.
    pub weight: Option<i32>,
    /// Header edits for requests sent to this destination.
    pub headers: Option<Headers>,
}

/// Istio's `HTTPRewrite`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpRewrite {
    /// Replaces the matched part of the path (the prefix for prefix matches, else all).
    pub uri: Option<String>,
    /// Replaces the authority.
    pub authority: Option<String>,
    /// Regex-based path rewrite.
    pub uri_regex_rewrite: Option<RegexRewrite>,
}

/// Istio's `RegexRewrite`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RegexRewrite {
    /// RE2 pattern.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Replacement, with `\1`-style group references.
    pub rewrite: String,
}

/// How a redirect picks its port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RedirectPortSelection {
    /// 80 for http, 443 for https.
    FromProtocolDefault,
    /// The port the request came in on.
    FromRequestPort,
}

/// Istio's `HTTPRedirect`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpRedirect {
    /// New path.
    pub uri: Option<String>,
    /// New authority.
    pub authority: Option<String>,
    /// New port.
    pub port: Option<u32>,
    /// Port derived from the protocol or the request.
    pub derive_port: Option<RedirectPortSelection>,
    /// New scheme.
    pub scheme: Option<String>,
    /// Status code; default 301.
    pub redirect_code: Option<u32>,
}

/// Istio's `HTTPDirectResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpDirectResponse {
    /// Status code, 200..=599.
    pub status: u32,
    /// Optional body.
    pub body: Option<HttpBody>,
}

/// Istio's `HTTPBody`: a string or base64 bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpBody {
    /// Text body.
    pub string: Option<String>,
    /// Base64-encoded body.
    pub bytes: Option<String>,
}

/// Istio's `HTTPRetry`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpRetry {
    /// Number of retries (not counting the first try); 0 disables retries.
    pub attempts: i32,
    /// Timeout per try, including the first.
    pub per_try_timeout: Option<Duration>,
    /// Comma-separated conditions, e.g. `5xx,connect-failure,reset`.
    pub retry_on: Option<String>,
    /// Retry on endpoints in other localities.
    pub retry_remote_localities: Option<bool>,
}

/// Istio's `HTTPFaultInjection`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpFaultInjection {
    /// Delay requests before forwarding.
    pub delay: Option<FaultDelay>,
    /// Fail requests without forwarding.
    pub abort: Option<FaultAbort>,
}

/// Istio's `HTTPFaultInjection.Delay`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultDelay {
    /// How long to wait (required).
    pub fixed_delay: Option<Duration>,
    /// Share of requests delayed, 0..=100.
    pub percentage: Option<Percent>,
    /// Legacy integer percentage, 0..=100.
    pub percent: Option<i32>,
}

/// Istio's `HTTPFaultInjection.Abort`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultAbort {
    /// The status returned, 200..=599.
    pub http_status: Option<i32>,
    /// A gRPC status name, e.g. `UNAVAILABLE`.
    pub grpc_status: Option<String>,
    /// Share of requests aborted, 0..=100.
    pub percentage: Option<Percent>,
}

/// Istio's `HTTPMirrorPolicy`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HttpMirrorPolicy {
    /// Where copies go (required).
    pub destination: Destination,
    /// Share of requests mirrored, 0..=100 (default 100).
    pub percentage: Option<Percent>,
}

/// Istio's `Headers`: edits for requests and responses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Headers {
    /// Edits to requests.
    pub request: Option<HeaderOperations>,
    /// Edits to responses.
    pub response: Option<HeaderOperations>,
}

/// Istio's `Headers.HeaderOperations`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HeaderOperations {
    /// Overwrite these headers.
    pub set: BTreeMap<String, String>,
    /// Append these headers.
    pub add: BTreeMap<String, String>,
    /// Remove these headers.
    pub remove: Vec<String>,
}

/// Istio's `CorsPolicy`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CorsPolicy {
    /// Origins allowed to make cross-origin requests.
    pub allow_origins: Vec<StringMatch>,
    /// `Access-Control-Allow-Methods`.
    pub allow_methods: Vec<String>,
    /// `Access-Control-Allow-Headers`.
    pub allow_headers: Vec<String>,
    /// `Access-Control-Expose-Headers`.
    pub expose_headers: Vec<String>,
    /// `Access-Control-Max-Age`.
    pub max_age: Option<Duration>,
    /// `Access-Control-Allow-Credentials`.
    pub allow_credentials: Option<bool>,
    /// What to do with preflights from origins that are not allowed.
    pub unmatched_preflights: Option<UnmatchedPreflights>,
}

/// Istio's `CorsPolicy.UnmatchedPreflights`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UnmatchedPreflights {
    /// Same as `FORWARD`.
    UnspecifiedPreflights,
    /// Forward to the upstream.
    Forward,
    /// Answer locally without CORS headers.
    Ignore,
}

/// A header or query-parameter condition: a [`StringMatch`], or `{}` meaning "present, with
/// any value" (Istio's `headers: {x-debug: {}}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueMatch(pub Option<StringMatch>);

/// The YAML shape of [`ValueMatch`]: at most one of the three forms.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValueMatch {
    exact: Option<String>,
    prefix: Option<String>,
    regex: Option<String>,
}

impl<'de> Deserialize<'de> for ValueMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawValueMatch::deserialize(d)?;
        match (raw.exact, raw.prefix, raw.regex) {
            (None, None, None) => Ok(ValueMatch(None)),
            (Some(v), None, None) => Ok(ValueMatch(Some(StringMatch::Exact(v)))),
            (None, Some(v), None) => Ok(ValueMatch(Some(StringMatch::Prefix(v)))),
            (None, None, Some(v)) => Ok(ValueMatch(Some(StringMatch::Regex(v)))),
            _ => Err(serde::de::Error::custom(
                "set only one of exact, prefix, regex (or {} to match any value)",
            )),
        }
    }
}

/// `{exact: v}`, `{prefix: v}`, `{regex: v}` or `{}`: at most one of the three.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for ValueMatch {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ValueMatch".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "properties": {
                "exact": {"type": "string"},
                "prefix": {"type": "string"},
                "regex": {"type": "string", "description": "RE2 syntax, matching the whole value."},
            },
            "maxProperties": 1,
        })
    }
}

impl Serialize for ValueMatch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match &self.0 {
            Some(m) => m.serialize(s),
            None => s.serialize_map(Some(0))?.end(),
        }
    }
}
