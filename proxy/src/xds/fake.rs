//! A scriptable control plane for the proxy's own tests (the proxy cannot link the real
//! one): it records every message proxies send and pushes the snapshots a test gives it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::Response;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_api::snapshot::Snapshot;
use mesh_api::xds::{encode, FrameDecoder, ProxyMessage, ServerMessage};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

type Push = Arc<Mutex<Option<mpsc::UnboundedSender<Bytes>>>>;

/// Serves config streams on `addr` until dropped.
#[derive(Debug)]
pub struct FakeControlPlane {
    pub addr: SocketAddr,
    messages: tokio::sync::Mutex<mpsc::UnboundedReceiver<ProxyMessage>>,
    push: Push,
    task: JoinHandle<()>,
}

impl Drop for FakeControlPlane {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeControlPlane {
    pub async fn start() -> FakeControlPlane {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (msg_tx, messages) = mpsc::unbounded_channel();
        let push: Push = Arc::default();
        let slot = push.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (msg_tx, slot) = (msg_tx.clone(), slot.clone());
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let msg_tx = msg_tx.clone();
                    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
                    *slot.lock().expect("slot") = Some(tx);
                    tokio::spawn(async move {
                        let mut body = req.into_body();
                        let mut dec = FrameDecoder::new();
                        while let Some(Ok(f)) = body.frame().await {
                            dec.push(&f.into_data().unwrap_or_default());
                            while let Ok(Some(m)) = dec.decode::<ProxyMessage>() {
                                let _ = msg_tx.send(m);
                            }
                        }
                    });
                    let frames = stream::unfold(rx, |mut rx| async move {
                        let b = rx.recv().await?;
                        Some((Ok::<_, Infallible>(Frame::data(b)), rx))
                    });
                    async move { Ok::<_, Infallible>(Response::new(StreamBody::new(frames))) }
                });
                tokio::spawn(
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), svc),
                );
            }
        });
        FakeControlPlane {
            addr,
            messages: tokio::sync::Mutex::new(messages),
            push,
            task,
        }
    }

    /// The next message from any proxy; panics after `within`.
    pub async fn next_message(&self, within: Duration) -> ProxyMessage {
        let mut rx = self.messages.lock().await;
        tokio::time::timeout(within, rx.recv())
            .await
            .expect("a message from the proxy in time")
            .expect("message channel open")
    }

    /// Ends the latest stream's response, as a control plane going away does.
    pub fn end_stream(&self) {
        *self.push.lock().expect("slot") = None;
    }

    /// Pushes `snapshot` as `version` on the latest stream.
    pub fn push(&self, version: &str, snapshot: Snapshot) {
        let frame = encode(&ServerMessage::Snapshot {
            version: version.into(),
            snapshot,
        })
        .expect("encode");
        let slot = self.push.lock().expect("slot");
        slot.as_ref()
            .expect("a proxy is connected")
            .send(Bytes::from(frame))
            .expect("stream open");
    }
}
