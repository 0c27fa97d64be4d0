//! The benchmark backend: answers every request with `200 OK` and a fixed body.
//!
//! It is the "direct" baseline's server and the upstream behind every proxy, so it must be
//! cheap: the body is one shared `Bytes`, and connections speak HTTP/1.1 or prior-knowledge
//! HTTP/2 (detected per connection) with keep-alive.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; keep it on loopback.
    #[arg(long, default_value = "127.0.0.1:18080")]
    addr: SocketAddr,
    /// Size of the response body in bytes.
    #[arg(long, default_value_t = 64)]
    body_bytes: usize,
    /// Tokio worker threads serving connections.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .context("could not start the tokio runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.addr).await.with_context(|| {
        format!(
            "could not listen on {}: is another process using the port? pick a free one with --addr",
            args.addr
        )
    })?;
    let body = Bytes::from(vec![b'x'; args.body_bytes]);
    eprintln!(
        "mesh-bench backend: listening on {} ({} byte body)",
        args.addr, args.body_bytes
    );
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors or a connection reset before accept: keep serving.
            Err(err) => {
                eprintln!("mesh-bench backend: accept failed: {err}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_req: Request<Incoming>| {
                let body = body.clone();
                async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
            });
            // Clients hanging up mid-request are normal under load; nothing to report.
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
