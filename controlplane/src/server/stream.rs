//! One proxy's config stream ([`mesh_api::xds`]): read the hello, check the proof (the
//! verified client certificate on the TLS port, else the bootstrap token), hand the stream to
//! the hub, then relay ACKs/NACKs in and the trust bundle and snapshots out.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use mesh_api::xds::{
    encode, FrameDecoder, NodeIdentity, ProxyMessage, ServerMessage, CONTENT_TYPE, STREAM_PATH,
};
use tokio::sync::{mpsc, watch};

use super::hub::Cmd;
use super::listen::Peer;
use crate::ca::{CertificateService, Identity, TokenAuthority};

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// How long a proxy has to send its hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// What every stream shares.
#[derive(Debug)]
pub struct StreamCtx {
    pub tokens: TokenAuthority,
    pub hub: mpsc::Sender<Cmd>,
    pub next_conn: AtomicU64,
    /// The CA, when this control plane issues certificates (the TLS port).
    pub certs: Option<Arc<CertificateService>>,
}

pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed_unsync());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub async fn handle(ctx: Arc<StreamCtx>, peer: &Peer, req: Request<Incoming>) -> Response<Body> {
    if req.uri().path() != STREAM_PATH || req.method() != Method::POST {
        return text(
            StatusCode::NOT_FOUND,
            format!("the config stream is POST {STREAM_PATH}\n"),
        );
    }
    let mut body = req.into_body();
    let mut dec = FrameDecoder::new();
    let hello = tokio::time::timeout(HELLO_TIMEOUT, next_message(&mut body, &mut dec)).await;
    let (node, token) = match hello {
        Ok(Ok(Some(ProxyMessage::Hello { node, token }))) => (node, token),
        Ok(Ok(Some(_))) => {
            return refuse(StatusCode::BAD_REQUEST, "the first message must be a hello")
        }
        Ok(Ok(None)) => return refuse(StatusCode::BAD_REQUEST, "stream ended before the hello"),
        Ok(Err(e)) => return refuse(StatusCode::BAD_REQUEST, &e),
        Err(_) => return refuse(StatusCode::REQUEST_TIMEOUT, "no hello within 10 s"),
    };
    let principal = match authenticate(&ctx.tokens, peer.identity.as_ref(), &node, &token) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(proxy = %node.id(), error = %e, "proxy refused");
            return refuse(StatusCode::FORBIDDEN, &e);
        }
    };
    // The bundle goes first, so a proxy trusts its peers' new roots before it dials them.
    let bundle = match (&ctx.certs, peer.tls) {
        (Some(certs), true) => encode(&ServerMessage::TrustBundle {
            pem: certs.trust_bundle_pem(),
        })
        .ok()
        .map(Bytes::from),
        _ => None,
    };
    let id = node.id();
    let conn = ctx.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = watch::channel(None);
    if ctx
        .hub
        .send(Cmd::Connect {
            node: Box::new(node),
            conn,
            tx,
            principal,
        })
        .await
        .is_err()
    {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the control plane is shutting down",
        );
    }
    tokio::spawn(read_acks(ctx.hub.clone(), id, conn, body, dec));
    // Each push goes as its delta when this stream sent the delta's base, else in full (the
    // first push, or one after pushes this stream skipped because newer ones replaced them).
    let snapshots = stream::unfold((rx, None::<String>), |(mut rx, mut sent)| async move {
        loop {
            rx.changed().await.ok()?;
            let latest = rx.borrow_and_update().clone();
            if let Some(push) = latest {
                let chunks = match &push.delta {
                    Some((base, delta)) if sent.as_ref() == Some(base) => delta.clone(),
                    _ => push.full_chunks(),
                };
                sent = Some(push.version.clone());
                return Some((stream::iter(chunks), (rx, sent)));
            }
        }
    })
    .flatten();
    let frames = stream::iter(bundle)
        .chain(snapshots)
        .map(|f| Ok::<_, Infallible>(Frame::data(f)));
    let mut r = Response::new(StreamBody::new(frames).boxed_unsync());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(CONTENT_TYPE),
    );
    r
}

fn refuse(status: StatusCode, why: &str) -> Response<Body> {
    text(status, format!("config stream refused: {why}\n"))
}

/// The hello's namespace and service account must be the ones the proof was issued for:
/// the client certificate when the connection presented one (its token is then not even
/// read, so an expired token does not cut off a proxy with a valid certificate), else the
/// token. Returns the certificate's SPIFFE ID: the proxy can take part in automatic mTLS.
fn authenticate(
    tokens: &TokenAuthority,
    cert: Option<&Identity>,
    node: &NodeIdentity,
    token: &str,
) -> Result<Option<String>, String> {
    if node.name.is_empty() || node.service.is_empty() {
        return Err("the hello needs a name and a service".into());
    }
    let (identity, what) = match cert {
        Some(id) => (id.clone(), "client certificate"),
        None => (
            tokens.verify(token.trim()).map_err(|e| e.to_string())?,
            "bootstrap token",
        ),
    };
    if identity.namespace != node.namespace || identity.service_account != node.service_account {
        return Err(format!(
            "the {what} is for {}, not namespace {:?} service account {:?}; \
             use this workload's own {what}",
            identity.spiffe_id(),
            node.namespace,
            node.service_account
        ));
    }
    Ok(cert.map(Identity::spiffe_id))
}

/// Relays ACKs and NACKs to the hub until the proxy goes away.
async fn read_acks(
    hub: mpsc::Sender<Cmd>,
    id: String,
    conn: u64,
    mut body: Incoming,
    mut dec: FrameDecoder,
) {
    loop {
        match next_message(&mut body, &mut dec).await {
            Ok(Some(ProxyMessage::Ack { version })) => {
                let _ = hub
                    .send(Cmd::Ack {
                        id: id.clone(),
                        conn,
                        version,
                    })
                    .await;
            }
            Ok(Some(ProxyMessage::Nack { version, error })) => {
                let _ = hub
                    .send(Cmd::Nack {
                        id: id.clone(),
                        conn,
                        version,
                        error,
                    })
                    .await;
            }
            Ok(Some(ProxyMessage::Hello { .. })) => {
                tracing::warn!(proxy = %id, "second hello ignored");
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(proxy = %id, error = %e, "config stream broken");
                break;
            }
        }
    }
    let _ = hub.send(Cmd::Disconnect { id, conn }).await;
}

/// The next message on the request body; `Ok(None)` at its end.
async fn next_message(
    body: &mut Incoming,
    dec: &mut FrameDecoder,
) -> Result<Option<ProxyMessage>, String> {
    loop {
        if let Some(m) = dec.decode().map_err(|e| e.to_string())? {
            return Ok(Some(m));
        }
        match body.frame().await {
            None => return Ok(None),
            Some(Err(e)) => return Err(format!("reading the stream: {e}")),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    dec.push(&data);
                }
            }
        }
    }
}
