//! Which incoming headers a service copies onto the calls it makes.
//!
//! The mesh's proxies create and report the spans, but only the application can tie an
//! outgoing call to the incoming request that caused it: it must copy the trace context
//! across. The list is Istio's Bookinfo list (productpage.py, LibertyRestEndpoint.java):
//! every tracing system's context headers, plus the headers routing rules match on.

use http::HeaderMap;

/// Trace context headers, for every tracer Istio supports.
pub const TRACE_HEADERS: &[&str] = &[
    // Every application should propagate x-request-id: access logs carry it, and Istio
    // samples traces and logs consistently by it.
    "x-request-id",
    // W3C Trace Context.
    "traceparent",
    "tracestate",
    // Zipkin B3, multi-header and single-header forms.
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "b3",
    // Lightstep.
    "x-ot-span-context",
    // Datadog.
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    // Google Cloud Trace and OpenCensus binary context.
    "x-cloud-trace-context",
    "grpc-trace-bin",
    // SkyWalking.
    "sw8",
];

/// Application headers that routing rules match on (`end-user: jason`), and the caller's
/// identity and session.
pub const CONTEXT_HEADERS: &[&str] = &["end-user", "user-agent", "cookie", "authorization", "jwt"];

/// The header carrying the logged-in user to every service behind productpage.
pub const END_USER: &str = "end-user";

/// The headers of `incoming` to send on a call made while serving it: [`TRACE_HEADERS`] and
/// [`CONTEXT_HEADERS`], every value of each.
pub fn forward(incoming: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in TRACE_HEADERS.iter().chain(CONTEXT_HEADERS) {
        for value in incoming.get_all(*name) {
            out.append(*name, value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_trace_and_context_headers_only() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", "abc".parse().expect("hv"));
        h.insert(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                .parse()
                .expect("hv"),
        );
        h.insert("x-b3-sampled", "1".parse().expect("hv"));
        h.insert("end-user", "jason".parse().expect("hv"));
        h.insert("host", "productpage:9080".parse().expect("hv"));
        h.insert("content-length", "0".parse().expect("hv"));
        let out = forward(&h);
        assert_eq!(out.len(), 4);
        assert_eq!(out["end-user"], "jason");
        assert!(!out.contains_key("host"));
    }
}
