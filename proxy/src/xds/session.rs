//! One config stream to the control plane: connect, hello, then apply every snapshot and
//! ACK or NACK it, and replace the trust roots when a TLS stream brings a new bundle.
//! Returns when the stream ends; the caller reconnects.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Limited, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use mesh_api::snapshot::{Snapshot, SnapshotDelta};
use mesh_api::xds::{encode, FrameDecoder, ProxyMessage, ServerMessage, CONTENT_TYPE, STREAM_PATH};
use mesh_identity::TrustBundle;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

use super::transport::{self, ConnectError};
use super::{Applier, Status};

/// How to reach the control plane for one session.
pub struct Link<'a> {
    pub addr: SocketAddr,
    /// TLS (15012), with or without a client certificate; None: plaintext h2c (15010).
    pub tls: Option<TlsConnector>,
    /// Where pushed trust bundles go (TLS streams only: on plain text anyone could send one).
    pub trust: Option<&'a TrustBundle>,
    /// The stream was opened without the certificate (it had expired): end it once
    /// certificate number `n + 1` is installed, so the next stream presents it.
    pub upgrade_after: Option<u64>,
}

impl std::fmt::Debug for Link<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .field("upgrade_after", &self.upgrade_after)
            .finish_non_exhaustive()
    }
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("config stream to {addr} failed: {source}")]
    Http {
        addr: SocketAddr,
        #[source]
        source: hyper::Error,
    },
    #[error("the control plane at {addr} refused this proxy ({status}): {reason}")]
    Refused {
        addr: SocketAddr,
        status: StatusCode,
        reason: String,
    },
    #[error("bad frame on the config stream from {addr}: {source}")]
    Frame {
        addr: SocketAddr,
        #[source]
        source: mesh_api::xds::FrameError,
    },
    #[error("the control plane at {addr} closed the config stream")]
    Closed { addr: SocketAddr },
}

/// Runs one session. `hello` is the encoded hello frame.
pub async fn run(
    link: Link<'_>,
    hello: Bytes,
    applier: &mut Applier,
    status: &tokio::sync::watch::Sender<Status>,
) -> Result<(), SessionError> {
    let addr = link.addr;
    let io = transport::connect(addr, link.tls.as_ref()).await?;
    let mut certs = status.subscribe();
    let http = |source| SessionError::Http { addr, source };
    let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(5)))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true)
        .handshake(io)
        .await
        .map_err(http)?;
    let driver = tokio::spawn(conn);
    let _abort = AbortOnDrop(driver);

    let (out, out_rx) = mpsc::channel::<Bytes>(16);
    let _ = out.send(hello).await;
    let body = StreamBody::new(Box::pin(stream::unfold(out_rx, |mut rx| async move {
        let b = rx.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(b)), rx))
    })));
    let req = Request::post(format!("http://{addr}{STREAM_PATH}"))
        .header(header::CONTENT_TYPE, CONTENT_TYPE)
        .body(body)
        .map_err(|e| SessionError::Refused {
            addr,
            status: StatusCode::BAD_REQUEST,
            reason: e.to_string(),
        })?;
    let resp = sender.send_request(req).await.map_err(http)?;
    if !resp.status().is_success() {
        let status = resp.status();
        let reason = match Limited::new(resp.into_body(), 64 << 10).collect().await {
            Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().to_string(),
            Err(e) => format!("(unreadable reason: {e})"),
        };
        return Err(SessionError::Refused {
            addr,
            status,
            reason,
        });
    }
    status.send_modify(|s| s.connected = true);
    tracing::info!(control_plane = %addr, "config stream open");
    let mut body = resp.into_body();
    let mut dec = FrameDecoder::new();
    loop {
        let msg = dec
            .decode::<ServerMessage>()
            .map_err(|source| SessionError::Frame { addr, source })?;
        let (version, update) = match msg {
            Some(ServerMessage::Snapshot { version, snapshot }) => {
                (version, Update::Full(Box::new(snapshot)))
            }
            Some(ServerMessage::Delta {
                version,
                base,
                delta,
            }) => (
                version,
                Update::Delta {
                    base,
                    delta: Box::new(delta),
                },
            ),
            Some(ServerMessage::TrustBundle { pem }) => {
                trust_bundle(link.trust, &pem);
                continue;
            }
            None => {
                let frame = tokio::select! {
                    f = body.frame() => f,
                    _ = upgraded(&mut certs, link.upgrade_after) => {
                        tracing::info!("new certificate: reconnecting to present it");
                        return Ok(());
                    }
                };
                match frame {
                    None => return Err(SessionError::Closed { addr }),
                    Some(Err(e)) => return Err(http(e)),
                    Some(Ok(f)) => {
                        if let Ok(data) = f.into_data() {
                            dec.push(&data);
                        }
                    }
                }
                continue;
            }
        };
        let is_delta = matches!(update, Update::Delta { .. });
        let applied = match update {
            Update::Full(mut snapshot) => {
                snapshot.version = version.clone();
                applier.apply(*snapshot).await
            }
            Update::Delta { base, delta } => applier.apply_delta(&version, &base, *delta).await,
        };
        let reply = match applied {
            Ok(()) => {
                let proxy = applier.proxy();
                status.send_modify(|s| {
                    s.applied = Some(version.clone());
                    if is_delta {
                        s.deltas_applied += 1;
                    } else {
                        s.snapshots_applied += 1;
                    }
                    s.last_error = None;
                    s.proxy = proxy;
                });
                ProxyMessage::Ack { version }
            }
            Err(error) => {
                status.send_modify(|s| s.last_error = Some(error.clone()));
                ProxyMessage::Nack { version, error }
            }
        };
        match encode(&reply) {
            Ok(frame) => {
                if out.send(Bytes::from(frame)).await.is_err() {
                    return Err(SessionError::Closed { addr });
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot encode a reply"),
        }
    }
}

/// Installs a pushed trust bundle; a bad one is logged and the current one kept.
fn trust_bundle(trust: Option<&TrustBundle>, pem: &str) {
    let Some(trust) = trust else {
        tracing::debug!("trust bundle on a plaintext stream ignored");
        return;
    };
    match trust.replace_pem(pem) {
        Ok(true) => tracing::info!("trust bundle replaced"),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(error = %e, "pushed trust bundle refused; keeping the current one")
        }
    }
}

/// Resolves once a certificate newer than number `after` is installed; never without `after`.
async fn upgraded(status: &mut tokio::sync::watch::Receiver<Status>, after: Option<u64>) {
    let Some(after) = after else {
        return std::future::pending().await;
    };
    let newer = |s: &Status| s.certificate.as_ref().is_some_and(|c| c.issued > after);
    if status.wait_for(newer).await.is_err() {
        std::future::pending::<()>().await;
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<Result<(), hyper::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a server message asks the proxy to run.
enum Update {
    Full(Box<Snapshot>),
    Delta {
        base: String,
        delta: Box<SnapshotDelta>,
    },
}
