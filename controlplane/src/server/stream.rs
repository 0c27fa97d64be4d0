//! One proxy's config stream ([`mesh_api::xds`]): read the hello, check the bootstrap token,
//! hand the stream to the hub, then relay ACKs/NACKs in and snapshots out.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use mesh_api::xds::{FrameDecoder, NodeIdentity, ProxyMessage, CONTENT_TYPE, STREAM_PATH};
use tokio::sync::{mpsc, watch};

use super::hub::Cmd;
use crate::ca::TokenAuthority;

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// How long a proxy has to send its hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// What every stream shares.
#[derive(Debug)]
pub struct StreamCtx {
    pub tokens: TokenAuthority,
    pub hub: mpsc::Sender<Cmd>,
    pub next_conn: AtomicU64,
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

pub async fn handle(ctx: Arc<StreamCtx>, req: Request<Incoming>) -> Response<Body> {
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
    if let Err(e) = authenticate(&ctx.tokens, &node, &token) {
        tracing::warn!(proxy = %node.id(), error = %e, "proxy refused");
        return refuse(StatusCode::FORBIDDEN, &e);
    }
    let id = node.id();
    let conn = ctx.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = watch::channel(None);
    if ctx
        .hub
        .send(Cmd::Connect {
            node: Box::new(node),
            conn,
            tx,
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
    let frames = stream::unfold(rx, |mut rx| async move {
        loop {
            rx.changed().await.ok()?;
            let latest = rx.borrow_and_update().clone();
            if let Some(frame) = latest {
                return Some((Ok::<_, Infallible>(Frame::data(frame)), rx));
            }
        }
    });
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

/// The hello's namespace and service account must be the ones the token was issued for.
fn authenticate(tokens: &TokenAuthority, node: &NodeIdentity, token: &str) -> Result<(), String> {
    let identity = tokens.verify(token.trim()).map_err(|e| e.to_string())?;
    if identity.namespace != node.namespace || identity.service_account != node.service_account {
        return Err(format!(
            "the bootstrap token is for {identity}, not namespace {:?} service account {:?}; \
             pass this workload's own token",
            node.namespace, node.service_account
        ));
    }
    if node.name.is_empty() || node.service.is_empty() {
        return Err("the hello needs a name and a service".into());
    }
    Ok(())
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
