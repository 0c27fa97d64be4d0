//! The proxy's certificate from the control plane's CA ([`mesh_api::xds`], "Certificates").
//!
//! The key is generated here and never leaves the process; only a CSR travels. The first
//! certificate is proven by the bootstrap token; renewals, at half-life, by the current
//! certificate (presented as the TLS client certificate), or by the token again when the
//! certificate has already expired (a proxy that was stopped or cut off for too long). Each
//! renewal brings a new key. The certificate and the trust bundle are swapped under the live
//! rustls configs, so open connections carry on and the next handshakes use the new ones.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use mesh_api::xds::{
    CertificateRequest, CertificateResponse, NodeIdentity, CERTIFICATE_PATH, CONTROL_PLANE_NAME,
};
use mesh_identity::rotation::RotationError;
use mesh_identity::tls::TlsConfigError;
use mesh_identity::{rotation_time, x509, Identity, TrustBundle, WorkloadCerts, WorkloadKey};
use rustls_pki_types::CertificateDer;
use tokio::sync::watch;

use super::backoff::Backoff;
use super::transport::{self, ConnectError, ControlPlaneTls};
use super::Status;

/// Renew this long before expiry at the latest, and never present a certificate this close
/// to it (the handshake could straddle the expiry).
const EXPIRY_MARGIN: Duration = Duration::from_millis(300);

/// A certificate request failed.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("certificate request to {addr} failed: {source}")]
    Http {
        addr: SocketAddr,
        #[source]
        source: hyper::Error,
    },
    #[error("the CA at {addr} refused the certificate ({status}): {reason}")]
    Refused {
        addr: SocketAddr,
        status: StatusCode,
        reason: String,
    },
    #[error("the CA at {addr} answered something unusable: {message}")]
    BadAnswer { addr: SocketAddr, message: String },
    #[error("the CA issued a certificate for {got}, but this workload is namespace {namespace:?} service account {service_account:?}; the token belongs to another workload")]
    WrongIdentity {
        got: String,
        namespace: String,
        service_account: String,
    },
    #[error("cannot generate a key or CSR: {0}")]
    Key(String),
    #[error("cannot install the certificate: {0}")]
    Install(#[from] RotationError),
    #[error("cannot install the trust bundle: {0}")]
    Trust(#[from] TlsConfigError),
}

/// The certificate in force, for status and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    pub spiffe_id: String,
    pub serial: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// When it was received (rotation is due halfway from here to `not_after`).
    pub received: SystemTime,
    /// Certificates installed since the start, the first included.
    pub issued: u64,
    /// This one was proven by the previous certificate (a renewal), not by the token.
    pub renewed_by_certificate: bool,
}

impl CertInfo {
    /// Usable for a handshake now.
    pub fn valid_at(&self, now: SystemTime) -> bool {
        now + EXPIRY_MARGIN < self.not_after
    }

    /// When to renew: at half-life, counted from when it arrived (leaves are backdated, so
    /// `not_before` alone would put short lifetimes' half-life in the past).
    pub fn renew_at(&self) -> SystemTime {
        let at = rotation_time(self.not_before.max(self.received), self.not_after);
        at.min(self.not_after - EXPIRY_MARGIN)
    }
}

/// The proxy's certificate and trust bundle, shared with its TLS configs.
#[derive(Debug)]
pub struct Credentials {
    pub certs: Arc<WorkloadCerts>,
    pub trust: Arc<TrustBundle>,
    info: Mutex<CertInfo>,
}

impl Credentials {
    pub fn info(&self) -> CertInfo {
        self.info.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the certificate can be presented now.
    pub fn valid_now(&self) -> bool {
        self.info().valid_at(SystemTime::now())
    }
}

/// Talks to the CA on the control plane's TLS port.
#[derive(Debug, Clone)]
pub struct CaClient {
    pub addr: SocketAddr,
    pub tls: ControlPlaneTls,
    pub token: String,
    pub namespace: String,
    pub service_account: String,
}

impl CaClient {
    pub fn new(addr: SocketAddr, tls: ControlPlaneTls, token: &str, node: &NodeIdentity) -> Self {
        CaClient {
            addr,
            tls,
            token: token.to_string(),
            namespace: node.namespace.clone(),
            service_account: node.service_account.clone(),
        }
    }

    /// The first certificate, retried with `backoff` until the CA issues one; each failure
    /// goes to `failed` (logs, readiness message).
    pub async fn first(
        &self,
        backoff: &mut Backoff,
        failed: &mut (dyn FnMut(&CertError) + Send),
    ) -> Arc<Credentials> {
        loop {
            match self.issue().await {
                Ok(creds) => {
                    backoff.reset();
                    return creds;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no certificate yet; retrying");
                    failed(&e);
                }
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
    }

    /// One attempt at a first certificate, proven by the token.
    pub async fn issue(&self) -> Result<Arc<Credentials>, CertError> {
        let (key, answer) = self.fetch(None).await?;
        self.install_first(key, answer)
    }

    /// Renews at half-life, forever. Failures are logged and retried with `backoff`; the
    /// current certificate stays in use meanwhile.
    pub async fn renew_forever(
        self,
        creds: Arc<Credentials>,
        mut backoff: Backoff,
        status: watch::Sender<Status>,
    ) {
        let mut cert_failed = false;
        loop {
            let wait = creds
                .info()
                .renew_at()
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            tokio::time::sleep(wait).await;
            // Prove with the certificate while it is valid; with the token once it expired,
            // or when the CA would not take the certificate the last time.
            let current = (creds.valid_now() && !cert_failed).then_some(&creds);
            let result = self
                .fetch(current)
                .await
                .and_then(|(key, answer)| self.install(&creds, key, answer, current.is_some()));
            match result {
                Ok(info) => {
                    tracing::info!(serial = %info.serial, not_after = ?info.not_after, "certificate renewed");
                    status.send_modify(|s| s.certificate = Some(info));
                    backoff.reset();
                    cert_failed = false;
                }
                Err(e) => {
                    tracing::warn!(error = %e, expired = !creds.valid_now(), "certificate renewal failed; retrying");
                    cert_failed = current.is_some();
                    status.send_modify(|s| s.last_error = Some(e.to_string()));
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }

    /// A new key, and the CA's answer to its CSR: proven by `current`'s certificate when
    /// given, else by the token.
    async fn fetch(
        &self,
        current: Option<&Arc<Credentials>>,
    ) -> Result<(WorkloadKey, CertificateResponse), CertError> {
        let key = WorkloadKey::generate().map_err(|e| CertError::Key(e.to_string()))?;
        let request = CertificateRequest {
            csr: key
                .anonymous_csr_pem()
                .map_err(|e| CertError::Key(e.to_string()))?,
            token: current.is_none().then(|| self.token.clone()),
        };
        let connector = match current {
            Some(c) => self.tls.mutual(c.certs.clone()),
            None => self.tls.bootstrap(),
        };
        let answer = self.post(&connector, &request).await?;
        Ok((key, answer))
    }

    async fn post(
        &self,
        connector: &tokio_rustls::TlsConnector,
        request: &CertificateRequest,
    ) -> Result<CertificateResponse, CertError> {
        let addr = self.addr;
        let io = transport::connect(addr, Some(connector)).await?;
        let http = |source| CertError::Http { addr, source };
        let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(io)
            .await
            .map_err(http)?;
        let driver = tokio::spawn(conn);
        let _abort = AbortOnDrop(driver);
        let bad = |message: String| CertError::BadAnswer { addr, message };
        let body = serde_json::to_vec(request).map_err(|e| bad(e.to_string()))?;
        let req = Request::post(format!("https://{CONTROL_PLANE_NAME}{CERTIFICATE_PATH}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| bad(e.to_string()))?;
        let resp = sender.send_request(req).await.map_err(http)?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), 1 << 20)
            .collect()
            .await
            .map_err(|e| bad(format!("unreadable body: {e}")))?
            .to_bytes();
        if !status.is_success() {
            return Err(CertError::Refused {
                addr,
                status,
                reason: String::from_utf8_lossy(&body).trim().to_string(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))
    }

    fn install_first(
        &self,
        key: WorkloadKey,
        answer: CertificateResponse,
    ) -> Result<Arc<Credentials>, CertError> {
        let (chain, info) = self.check(&answer, 1, false)?;
        let certs = Arc::new(WorkloadCerts::new(chain, key.private_key_der())?);
        let trust = Arc::new(TrustBundle::from_pem(&answer.trust_bundle)?);
        tracing::info!(spiffe_id = %info.spiffe_id, serial = %info.serial, not_after = ?info.not_after, "certificate issued");
        Ok(Arc::new(Credentials {
            certs,
            trust,
            info: Mutex::new(info),
        }))
    }

    fn install(
        &self,
        creds: &Credentials,
        key: WorkloadKey,
        answer: CertificateResponse,
        by_certificate: bool,
    ) -> Result<CertInfo, CertError> {
        let (chain, info) = self.check(&answer, creds.info().issued + 1, by_certificate)?;
        // The bundle first: the new certificate may chain to a root only the new bundle has.
        if creds.trust.replace_pem(&answer.trust_bundle)? {
            tracing::info!("trust bundle replaced");
        }
        creds.certs.rotate(chain, key.private_key_der())?;
        *creds.info.lock().unwrap_or_else(|e| e.into_inner()) = info.clone();
        Ok(info)
    }

    /// The chain of `answer`, checked to prove this workload's identity.
    fn check(
        &self,
        answer: &CertificateResponse,
        issued: u64,
        renewed_by_certificate: bool,
    ) -> Result<(Vec<CertificateDer<'static>>, CertInfo), CertError> {
        let bad = |message: String| CertError::BadAnswer {
            addr: self.addr,
            message,
        };
        let chain = x509::certs_from_pem(&answer.cert_chain).map_err(|e| bad(e.to_string()))?;
        let leaf_der = chain.first().ok_or_else(|| bad("no certificate".into()))?;
        let leaf = x509::parse(leaf_der).map_err(|e| bad(e.to_string()))?;
        let (not_before, not_after) = x509::validity(&leaf);
        let now = SystemTime::now();
        if now + EXPIRY_MARGIN >= not_after {
            return Err(bad(format!(
                "the certificate expires at {not_after:?}, already past; check the clocks and the CA's expiry"
            )));
        }
        let spiffe_id = x509::spiffe_id_of(leaf_der)
            .ok_or_else(|| bad("the certificate has no SPIFFE ID".into()))?;
        let id = Identity::from_spiffe_id(&spiffe_id).map_err(|e| bad(e.to_string()))?;
        if id.namespace != self.namespace || id.service_account != self.service_account {
            return Err(CertError::WrongIdentity {
                got: spiffe_id,
                namespace: self.namespace.clone(),
                service_account: self.service_account.clone(),
            });
        }
        let info = CertInfo {
            spiffe_id,
            serial: answer.serial.clone(),
            not_before,
            not_after,
            received: now,
            issued,
            renewed_by_certificate,
        };
        Ok((chain, info))
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<Result<(), hyper::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
