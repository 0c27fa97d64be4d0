//! The control plane <-> proxy config protocol (DESIGN.md data flow 2). Types and framing
//! only; no IO.
//!
//! # Transport
//! One long-lived HTTP/2 stream: the proxy sends `POST` [`STREAM_PATH`] whose *request body*
//! carries its messages ([`ProxyMessage`]), and the control plane answers `200` with a
//! *response body* carrying snapshots ([`ServerMessage`]). A refused proxy (bad bootstrap
//! token, malformed hello) gets a `4xx` with a plain-text reason instead, and no config.
//!
//! The control plane serves it on two ports:
//! - **15012**, TLS 1.3 (ALPN `h2`). The control plane presents a certificate from the mesh
//!   CA with the DNS name [`CONTROL_PLANE_NAME`] (and the SPIFFE ID
//!   `spiffe://<trust-domain>/ns/mesh-system/sa/mesh-controlplane`); proxies check it against
//!   the mesh's root certificate. A client certificate is optional; when one is presented it
//!   must chain to the trust bundle, and it is the proxy's proof: its namespace and service
//!   account must match the hello's, and the hello's token is then not checked (so a proxy
//!   whose token expired keeps its stream as long as its certificate is valid). Certificates
//!   are issued on this port too ([`CERTIFICATE_PATH`]).
//! - **15010**, plaintext HTTP/2 with prior knowledge (h2c), for tools and benchmarks on
//!   loopback: the token is the only proof, no certificates are issued, and proxies that
//!   connect this way get no automatic mTLS.
//!
//! # Certificates
//! `POST` [`CERTIFICATE_PATH`] with a JSON [`CertificateRequest`] (`{"csr": PEM, "token":
//! "..."}`), answered `200` with a JSON [`CertificateResponse`]. The proof is the bootstrap
//! token for a first certificate, or the client certificate of the TLS connection for a
//! renewal (then `token` may be left out). The certificate's only name is the SPIFFE ID the
//! *proof* establishes; whatever the CSR asks for is ignored, only its public key is used.
//! Refusals carry a plain-text reason: `403` when the proof is missing, forged, expired or
//! for another identity, `400` for a malformed request or CSR, `404` on the plaintext port.
//!
//! # Framing
//! Newline-delimited JSON ([`CONTENT_TYPE`]): each message is one JSON object on one line.
//! JSON escapes newlines inside strings, so `\n` can only end a frame. A frame longer than
//! [`MAX_FRAME`] is an error (the peer is broken or hostile), reported by [`FrameDecoder`]
//! with its size; the receiver closes the stream. Blank lines are ignored.
//!
//! # Conversation
//! 1. proxy: [`ProxyMessage::Hello`] (identity, addresses, bootstrap token), once, first.
//! 2. control plane: [`ServerMessage::Snapshot`] whenever this proxy's snapshot changes
//!    (including at once after the hello, and again after every reconnect).
//! 3. proxy: [`ProxyMessage::Ack`] once a version is applied, [`ProxyMessage::Nack`] with the
//!    error when it was rejected (the proxy keeps serving its last good snapshot).
//!
//! On 15012 the control plane first sends [`ServerMessage::TrustBundle`] (before any
//! snapshot), and again whenever the bundle changes; proxies replace the roots they verify
//! peers with. Proxies ignore it on a plaintext stream, where anyone could have written it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::snapshot::{Snapshot, SnapshotDelta};

/// The HTTP path of the config stream.
pub const STREAM_PATH: &str = "/mesh.config.v1/stream";
/// The content type of both bodies.
pub const CONTENT_TYPE: &str = "application/x-ndjson";
/// The HTTP path of certificate requests (TLS port only).
pub const CERTIFICATE_PATH: &str = "/mesh.ca.v1/certificate";
/// The DNS name in the control plane's serving certificate, which proxies verify.
pub const CONTROL_PLANE_NAME: &str = "mesh-controlplane";
/// The largest frame either side accepts, newline excluded (16 MiB: far above any real
/// snapshot, small enough that a broken peer cannot exhaust memory).
pub const MAX_FRAME: usize = 16 << 20;

/// Who a proxy is and where its pieces listen: what the control plane registers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeIdentity {
    /// Instance name, unique in its namespace (`reviews-v2-0`).
    pub name: String,
    /// Workload name for metrics (`reviews-v2`); defaults to `name`.
    #[serde(default)]
    pub workload: String,
    /// The service it serves (`reviews`).
    pub service: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default = "default_service_account")]
    pub service_account: String,
    /// `app`, `version`, ...: DestinationRule subsets select on these.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub ports: Vec<NodePort>,
    /// The sidecar's inbound listener, where other sidecars reach this workload.
    pub inbound: SocketAddr,
    /// The sidecar's explicit outbound listener (the app's `HTTP_PROXY`).
    pub outbound: SocketAddr,
    /// Where the application listens.
    pub app: SocketAddr,
    /// The proxy's admin server, for `meshctl` and the control plane's scrapes.
    #[serde(default)]
    pub admin: Option<SocketAddr>,
    /// The proxy's merged metrics server.
    #[serde(default)]
    pub stats: Option<SocketAddr>,
    /// `sidecar` (default) or `router` (a gateway: it gets the listeners of the Gateway
    /// resources selecting its labels instead of a sidecar's, and is no service endpoint).
    #[serde(default, skip_serializing_if = "ProxyType::is_sidecar")]
    pub proxy_type: ProxyType,
}

/// What kind of proxy says hello; Istio's names (`router` is a gateway).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyType {
    /// Next to one workload: outbound and inbound listeners.
    #[default]
    Sidecar,
    /// An ingress or egress gateway: one listener per Gateway server port.
    Router,
}

impl std::fmt::Display for ProxyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ProxyType {
    pub fn is_sidecar(&self) -> bool {
        *self == ProxyType::Sidecar
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProxyType::Sidecar => "sidecar",
            ProxyType::Router => "router",
        }
    }
}

fn default_namespace() -> String {
    "default".into()
}
fn default_service_account() -> String {
    "default".into()
}

/// One service port; the protocol follows Istio's port naming (`http`, `http-web`, `grpc`,
/// `tcp-db`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePort {
    pub name: String,
    pub port: u16,
    /// The app's port; defaults to `port`.
    #[serde(default)]
    pub target_port: Option<u16>,
}

impl NodeIdentity {
    /// `name.namespace`, the proxy's id in status reports (as Istio's `proxy-status`).
    pub fn id(&self) -> String {
        format!("{}.{}", self.name, self.namespace)
    }
}

/// Proxy -> control plane.
// The hello is bigger than an ACK, but messages are decoded once and never stored in bulk.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ProxyMessage {
    /// First message: who the proxy is, and its bootstrap proof.
    Hello {
        node: NodeIdentity,
        /// The bootstrap token `meshctl` wrote for this workload.
        token: String,
    },
    /// `version` was applied and is being served.
    Ack { version: String },
    /// `version` was rejected; the proxy serves its previous snapshot.
    Nack { version: String, error: String },
}

/// Control plane -> proxy.
// A snapshot is much bigger than a bundle, but messages are decoded once, never stored.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage {
    /// A complete snapshot to apply atomically; `version` equals `snapshot.version`.
    Snapshot { version: String, snapshot: Snapshot },
    /// What changed since `base`, the version the proxy runs ([`SnapshotDelta`]): the proxy
    /// applies it to that snapshot and then runs `version`. A proxy that does not run `base`
    /// NACKs it, and gets the full snapshot.
    Delta {
        version: String,
        base: String,
        delta: SnapshotDelta,
    },
    /// The CA certificates (PEM) that peers' certificates must chain to. Sent on the TLS
    /// port only: first, then whenever it changes.
    #[serde(rename_all = "camelCase")]
    TrustBundle { pem: String },
}

/// Body of `POST` [`CERTIFICATE_PATH`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateRequest {
    /// PEM PKCS#10 request; only its public key (ECDSA P-256/P-384 or Ed25519) is used.
    pub csr: String,
    /// The bootstrap token; may be left out when the connection presents a valid client
    /// certificate (renewal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Answer to a [`CertificateRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateResponse {
    /// PEM, leaf first, then any intermediates (not the root).
    pub cert_chain: String,
    /// PEM roots peers' certificates chain to.
    pub trust_bundle: String,
    /// The identity the certificate proves, `spiffe://<td>/ns/<ns>/sa/<sa>`.
    pub spiffe_id: String,
    /// Hex serial number, as `openssl x509 -serial` prints it.
    pub serial: String,
    /// Validity, in Unix seconds.
    pub not_before: u64,
    pub not_after: u64,
}

/// A frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("config stream frame of over {size} bytes exceeds the {MAX_FRAME}-byte limit; the peer is misbehaving, reconnect")]
    TooLarge { size: usize },
    #[error("malformed config stream frame: {0} (are both sides the same meshctl version?)")]
    Json(#[from] serde_json::Error),
}

/// One message as a frame: its JSON and a newline.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = serde_json::to_vec(message)?;
    out.push(b'\n');
    Ok(out)
}

/// Splits a byte stream into frames: feed chunks with [`FrameDecoder::push`], then take
/// messages with [`FrameDecoder::decode`] until it returns `Ok(None)`.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for a newline.
    scanned: usize,
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn decode<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        loop {
            let Some(end) = self.buf[self.scanned..].iter().position(|b| *b == b'\n') else {
                self.scanned = self.buf.len();
                if self.buf.len() > MAX_FRAME {
                    return Err(FrameError::TooLarge {
                        size: self.buf.len(),
                    });
                }
                return Ok(None);
            };
            let end = self.scanned + end;
            if end > MAX_FRAME {
                return Err(FrameError::TooLarge { size: end });
            }
            let line: Vec<u8> = self.buf.drain(..=end).collect();
            self.scanned = 0;
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            return Ok(Some(serde_json::from_slice(line)?));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn frames_round_trip_across_chunk_boundaries() {
        let msgs = vec![
            ProxyMessage::Ack {
                version: "a\nb".into(),
            },
            ProxyMessage::Nack {
                version: "2".into(),
                error: "listener 127.0.0.1:1 in use".into(),
            },
        ];
        let mut bytes = Vec::new();
        for m in &msgs {
            bytes.extend(encode(m).unwrap());
        }
        bytes.extend(b"\n\n");
        let mut dec = FrameDecoder::new();
        let mut got = Vec::new();
        for chunk in bytes.chunks(3) {
            dec.push(chunk);
            while let Some(m) = dec.decode::<ProxyMessage>().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got, msgs);
    }

    #[test]
    fn oversized_and_malformed_frames_are_errors() {
        let mut dec = FrameDecoder::new();
        dec.push(&vec![b'x'; MAX_FRAME + 1]);
        assert!(matches!(
            dec.decode::<ProxyMessage>(),
            Err(FrameError::TooLarge { .. })
        ));
        let mut dec = FrameDecoder::new();
        dec.push(b"{\"type\":\"bogus\"}\n");
        assert!(matches!(
            dec.decode::<ProxyMessage>(),
            Err(FrameError::Json(_))
        ));
    }

    #[test]
    fn trust_bundle_and_certificate_messages_round_trip() {
        let m = ServerMessage::TrustBundle { pem: "x".into() };
        let mut dec = FrameDecoder::new();
        dec.push(&encode(&m).unwrap());
        assert_eq!(dec.decode::<ServerMessage>().unwrap(), Some(m));
        let req: CertificateRequest = serde_json::from_str(r#"{"csr":"C"}"#).unwrap();
        assert_eq!(req.token, None);
        assert!(serde_json::from_str::<CertificateRequest>(r#"{"csr":"C","x":1}"#).is_err());
    }

    #[test]
    fn hello_reads_from_yaml_with_defaults() {
        let node: NodeIdentity = serde_json::from_str(
            r#"{"name":"reviews-v1-0","service":"reviews","inbound":"127.0.0.1:15006",
                "outbound":"127.0.0.1:15001","app":"127.0.0.1:9080",
                "ports":[{"name":"http","port":9080}]}"#,
        )
        .unwrap();
        assert_eq!(node.namespace, "default");
        assert_eq!(node.id(), "reviews-v1-0.default");
        assert_eq!(node.proxy_type, ProxyType::Sidecar);
        // Sidecars' hellos stay as they were, so older control planes still read them.
        assert!(!serde_json::to_string(&node).unwrap().contains("proxyType"));
    }

    #[test]
    fn gateways_say_router() {
        let node: NodeIdentity = serde_json::from_str(
            r#"{"name":"gw-0","service":"istio-ingressgateway","proxyType":"router",
                "inbound":"127.0.0.1:8080","outbound":"127.0.0.1:8080","app":"127.0.0.1:8080"}"#,
        )
        .unwrap();
        assert_eq!(node.proxy_type, ProxyType::Router);
        let bad = serde_json::from_str::<NodeIdentity>(
            r#"{"name":"gw-0","service":"x","proxyType":"gateway",
                "inbound":"127.0.0.1:1","outbound":"127.0.0.1:1","app":"127.0.0.1:1"}"#,
        );
        let err = bad.unwrap_err().to_string();
        assert!(err.contains("sidecar") && err.contains("router"), "{err}");
    }
}
