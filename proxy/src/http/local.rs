//! Responses the proxy makes itself (no route, overflow, faults, timeouts), with Envoy's
//! texts so users' runbooks and searches still work.

use http::{header, HeaderValue, Response, StatusCode};

use super::body::{self, ProxyBody};

pub const NO_HEALTHY_UPSTREAM: &str = "no healthy upstream";
pub const OVERFLOW: &str =
    "upstream connect error or disconnect/reset before headers. reset reason: overflow";
pub const CONNECT_FAILURE: &str =
    "upstream connect error or disconnect/reset before headers. reset reason: connection failure";
pub const RESET: &str = "upstream connect error or disconnect/reset before headers. reset reason: connection termination";
pub const TIMEOUT: &str = "upstream request timeout";
pub const FAULT_ABORT: &str = "fault filter abort";

pub fn reply(status: StatusCode, text: &'static str) -> Response<ProxyBody> {
    let mut r = Response::new(if text.is_empty() {
        body::empty()
    } else {
        body::full(text)
    });
    *r.status_mut() = status;
    if !text.is_empty() {
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    }
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    r
}
