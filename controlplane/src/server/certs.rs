//! The certificate endpoint ([`mesh_api::xds::CERTIFICATE_PATH`], TLS port only): a CSR and a
//! proof in, a workload certificate out.
//!
//! The proof is the connection's verified client certificate (renewal: the same identity
//! again) or else the bootstrap token in the request. The SPIFFE ID always comes from the
//! proof; the CSR contributes only its public key.

use std::time::{SystemTime, UNIX_EPOCH};

use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use mesh_api::xds::{CertificateRequest, CertificateResponse, CERTIFICATE_PATH};

use super::listen::Peer;
use super::stream::{text, Body};
use crate::ca::service::IssueError;
use crate::ca::token::BootstrapError;
use crate::ca::{CertificateService, SignError};

/// The largest request body accepted (a CSR is under 1 KiB).
const MAX_BODY: usize = 64 << 10;

pub async fn handle(
    svc: &CertificateService,
    peer: &Peer,
    req: Request<Incoming>,
) -> Response<Body> {
    if !peer.tls {
        return refuse(
            StatusCode::NOT_FOUND,
            "certificates are issued on the control plane's TLS port (15012, --listen-tls), \
             not on the plaintext one",
        );
    }
    if req.method() != Method::POST {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("use POST {CERTIFICATE_PATH}"),
        );
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the request (at most {MAX_BODY} bytes): {e}"),
            )
        }
    };
    let request: CertificateRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("the body must be JSON {{\"csr\": PEM, \"token\": \"...\"}}: {e}"),
            )
        }
    };
    let issued = match (&peer.identity, &request.token) {
        (Some(id), _) => svc.renew(id, &request.csr),
        (None, Some(token)) => svc.issue(token.trim(), &request.csr).await,
        (None, None) => {
            return refuse(
                StatusCode::FORBIDDEN,
                "no proof of identity: send the bootstrap token, or connect with your current \
                 certificate to renew it",
            )
        }
    };
    let issued = match issued {
        Ok(c) => c,
        Err(e) => {
            let status = status_of(&e);
            tracing::warn!(peer = ?peer.identity.as_ref().map(|i| i.spiffe_id()), %status, error = %e, "certificate request refused");
            return refuse(status, &e.to_string());
        }
    };
    let answer = CertificateResponse {
        cert_chain: issued.chain_pem,
        trust_bundle: svc.trust_bundle_pem(),
        spiffe_id: issued.spiffe_id,
        serial: issued.serial,
        not_before: unix(issued.not_before),
        not_after: unix(issued.not_after),
    };
    match serde_json::to_vec(&answer) {
        Ok(json) => {
            let mut r = Response::new(Full::new(json.into()).boxed_unsync());
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// 403 for a proof that does not hold, 400 for a bad CSR, 503 when the proof cannot be
/// checked now, 500 when the CA itself is broken.
fn status_of(e: &IssueError) -> StatusCode {
    match e {
        IssueError::Proof(BootstrapError::Unavailable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
        IssueError::Proof(_) => StatusCode::FORBIDDEN,
        IssueError::Sign(SignError::BadCsr(_) | SignError::UnsupportedKey) => {
            StatusCode::BAD_REQUEST
        }
        IssueError::Sign(SignError::WrongTrustDomain { .. }) => StatusCode::FORBIDDEN,
        IssueError::Sign(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn refuse(status: StatusCode, why: &str) -> Response<Body> {
    text(status, format!("certificate refused: {why}\n"))
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
