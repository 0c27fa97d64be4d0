//! Header work on the forwarding path: hop-by-hop stripping, Istio header operations,
//! request ids.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use mesh_api::snapshot::HeaderOperations;
use rand::Rng;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// Removes hop-by-hop headers (RFC 9110 7.6.1), including those the `Connection` header
/// names. With `keep_upgrade`, `Connection: upgrade` and `Upgrade` survive for WebSocket.
pub fn strip_hop_by_hop(h: &mut HeaderMap, keep_upgrade: bool) {
    // Most messages carry none of these: one pass of cheap name comparisons instead of a
    // hashed lookup per name (this runs twice per proxied request).
    if !h.keys().any(is_hop_by_hop) {
        return;
    }
    if let Some(conn) = h.get(header::CONNECTION).cloned() {
        if let Ok(list) = conn.to_str() {
            for name in list.split(',').map(str::trim) {
                if keep_upgrade && name.eq_ignore_ascii_case("upgrade") {
                    continue;
                }
                if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
                    h.remove(n);
                }
            }
        }
        if !keep_upgrade {
            h.remove(header::CONNECTION);
        }
    }
    for n in [&KEEP_ALIVE, &PROXY_CONNECTION, &HTTP2_SETTINGS] {
        h.remove(n);
    }
    h.remove(header::TRANSFER_ENCODING);
    h.remove(header::PROXY_AUTHENTICATE);
    if !keep_upgrade {
        h.remove(header::UPGRADE);
    }
    if let Some(te) = h.get(header::TE) {
        if te.as_bytes() != b"trailers" {
            h.remove(header::TE);
        }
    }
}

/// The names [`strip_hop_by_hop`] may remove on its own (those listed in `Connection` are
/// found through `Connection`).
fn is_hop_by_hop(n: &HeaderName) -> bool {
    n == header::CONNECTION
        || n == header::TRANSFER_ENCODING
        || n == header::UPGRADE
        || n == header::TE
        || n == header::PROXY_AUTHENTICATE
        || n == KEEP_ALIVE
        || n == PROXY_CONNECTION
        || n == HTTP2_SETTINGS
}

/// Applies Istio's `set`, `add`, `remove` in that order (Envoy's order).
pub fn apply(ops: &HeaderOperations, h: &mut HeaderMap) {
    for (k, v) in &ops.set {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(n, v);
        }
    }
    for (k, v) in &ops.add {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.append(n, v);
        }
    }
    for k in &ops.remove {
        if let Ok(n) = HeaderName::from_bytes(k.as_bytes()) {
            h.remove(n);
        }
    }
}

/// Sets `x-request-id` to a new UUIDv4 when the request has none.
pub fn ensure_request_id(h: &mut HeaderMap) {
    if h.contains_key(&X_REQUEST_ID) {
        return;
    }
    let v: u128 = rand::rng().random();
    // Version 4, variant 10.
    let v = (v & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    if let Ok(v) = HeaderValue::from_bytes(&uuid_text(v)) {
        h.insert(X_REQUEST_ID.clone(), v);
    }
}

/// `8-4-4-4-12` lowercase hex, without `format!` (this runs for every request).
fn uuid_text(v: u128) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let mut shift = 128;
    for (pos, slot) in out.iter_mut().enumerate() {
        if matches!(pos, 8 | 13 | 18 | 23) {
            continue;
        }
        shift -= 4;
        *slot = HEX[((v >> shift) & 0xf) as usize];
    }
    out
}

/// True when the request asks for a protocol upgrade (WebSocket and friends).
pub fn is_upgrade(h: &HeaderMap) -> bool {
    h.contains_key(header::UPGRADE)
        && h.get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_is_uuid_v4() {
        let mut h = HeaderMap::new();
        ensure_request_id(&mut h);
        let id = h
            .get(&X_REQUEST_ID)
            .expect("id")
            .to_str()
            .expect("ascii")
            .to_string();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        ensure_request_id(&mut h);
        assert_eq!(
            h.get(&X_REQUEST_ID).expect("id"),
            id.as_str(),
            "kept when present"
        );
    }

    #[test]
    fn uuid_text_is_the_hex_of_the_value() {
        let v = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210_u128;
        assert_eq!(
            std::str::from_utf8(&uuid_text(v)).expect("ascii"),
            "01234567-89ab-cdef-fedc-ba9876543210"
        );
    }

    #[test]
    fn strips_connection_named_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        h.insert(header::TE, HeaderValue::from_static("gzip"));
        strip_hop_by_hop(&mut h, false);
        assert!(h.get("x-secret").is_none() && h.get(header::CONNECTION).is_none());
        assert!(h.get(header::TE).is_none());
        assert!(h.get("x-kept").is_some());
    }
}
