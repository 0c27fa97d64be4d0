//! Before the first snapshot the proxy serves no traffic, but its admin, stats and health
//! ports answer `503 NOT READY: <what it waits for>`, so a readiness probe or `meshctl` sees
//! why: the certificate (and the CA's last refusal) or the first config.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The not-ready servers; [`Pending::stop`] frees their ports for the real admin servers.
#[derive(Debug)]
pub struct Pending {
    stop: watch::Sender<bool>,
    message: watch::Sender<Bytes>,
    tasks: Vec<JoinHandle<()>>,
    /// Where each server listens.
    pub addrs: Vec<SocketAddr>,
}

impl Pending {
    /// Serves `503` on every address; addresses that cannot be bound are logged and skipped
    /// (the real admin server will report the error when it starts).
    pub async fn serve(addrs: &[SocketAddr], control_plane: SocketAddr) -> Pending {
        let (stop, _) = watch::channel(false);
        let (message, _) = watch::channel(Bytes::new());
        let mut tasks = Vec::new();
        let mut bound = Vec::new();
        set(
            &message,
            &format!("waiting for the first config from the control plane at {control_plane}"),
        );
        for addr in addrs {
            let listener = match TcpListener::bind(addr).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "cannot serve the not-ready admin port");
                    continue;
                }
            };
            if let Ok(a) = listener.local_addr() {
                bound.push(a);
            }
            let mut stopped = stop.subscribe();
            let message = message.subscribe();
            tasks.push(tokio::spawn(async move {
                loop {
                    let accepted = tokio::select! {
                        a = listener.accept() => a,
                        _ = stopped.changed() => return,
                    };
                    let Ok((tcp, _)) = accepted else { continue };
                    let message = message.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |_req| {
                            let text = message.borrow().clone();
                            let mut r = Response::new(Full::new(text));
                            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                            async move { Ok::<_, Infallible>(r) }
                        });
                        let _ = auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(tcp), svc)
                            .await;
                    });
                }
            }));
        }
        Pending {
            stop,
            message,
            tasks,
            addrs: bound,
        }
    }

    /// What the proxy is waiting for, shown after `NOT READY: `.
    pub fn set_reason(&self, reason: &str) {
        set(&self.message, reason);
    }

    /// Stops accepting and waits until every listening socket is closed.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn set(message: &watch::Sender<Bytes>, reason: &str) {
    message.send_replace(Bytes::from(format!("NOT READY: {reason}\n")));
}
