//! `Gateway` (networking.istio.io): a load balancer at the edge of the mesh — which ports it
//! listens on, for which hosts, with which TLS.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::meta::Port;

/// Istio's `Gateway` spec.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GatewaySpec {
    /// Listeners (at least one).
    pub servers: Vec<Server>,
    /// Labels of the gateway workloads that run these servers, e.g. `istio: ingressgateway`.
    pub selector: BTreeMap<String, String>,
}

/// Istio's `Server`: one listener of a gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Server {
    /// Port and protocol (required).
    pub port: Option<Port>,
    /// Address to bind to; empty means all.
    pub bind: String,
    /// Hosts exposed (required): `host`, `*.example.com`, `*`, optionally `namespace/host`.
    pub hosts: Vec<String>,
    /// TLS settings for HTTPS/TLS ports.
    pub tls: Option<ServerTlsSettings>,
    /// Deprecated; kept so old files parse.
    pub default_endpoint: String,
    /// Name, unique across the gateway's servers.
    pub name: String,
}

/// Istio's `ServerTLSSettings.TLSmode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServerTlsMode {
    /// Forward TLS as is, routed by SNI.
    #[default]
    Passthrough,
    /// Terminate TLS with a server certificate.
    Simple,
    /// Terminate TLS and require a client certificate.
    Mutual,
    /// SNI passthrough without a VirtualService.
    AutoPassthrough,
    /// Terminate with the mesh's own certificates.
    IstioMutual,
    /// Request a client certificate but do not require it.
    OptionalMutual,
}

/// Istio's `ServerTLSSettings.TLSProtocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum TlsProtocol {
    /// Library default.
    #[serde(rename = "TLS_AUTO")]
    TlsAuto,
    /// TLS 1.0.
    #[serde(rename = "TLSV1_0")]
    TlsV1_0,
    /// TLS 1.1.
    #[serde(rename = "TLSV1_1")]
    TlsV1_1,
    /// TLS 1.2.
    #[serde(rename = "TLSV1_2")]
    TlsV1_2,
    /// TLS 1.3.
    #[serde(rename = "TLSV1_3")]
    TlsV1_3,
}

/// Istio's `ServerTLSSettings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ServerTlsSettings {
    /// Redirect plain HTTP requests to HTTPS.
    pub https_redirect: bool,
    /// How TLS is handled.
    pub mode: ServerTlsMode,
    /// Server certificate file.
    pub server_certificate: Option<String>,
    /// Server key file.
    pub private_key: Option<String>,
    /// CA bundle to verify clients (MUTUAL).
    pub ca_certificates: Option<String>,
    /// Certificate revocation list.
    pub ca_crl: Option<String>,
    /// Secret holding the certificates.
    pub credential_name: Option<String>,
    /// Several secrets (e.g. RSA and ECDSA).
    pub credential_names: Vec<String>,
    /// Accepted client identities.
    pub subject_alt_names: Vec<String>,
    /// Accepted client certificate SPKI hashes.
    pub verify_certificate_spki: Vec<String>,
    /// Accepted client certificate hashes.
    pub verify_certificate_hash: Vec<String>,
    /// Lowest TLS version.
    pub min_protocol_version: Option<TlsProtocol>,
    /// Highest TLS version.
    pub max_protocol_version: Option<TlsProtocol>,
    /// Allowed cipher suites.
    pub cipher_suites: Vec<String>,
}
