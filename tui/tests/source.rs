//! The fetch side: the HTTP source against an in-process server on 127.0.0.1:0 (serving the
//! captured Bookinfo JSON), its errors, and the fetch loop with a scripted source. No sleeps:
//! every wait is a receive with a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_tui::model::Window;
use mesh_tui::source::{self, Fetched};
use mesh_tui::testing::{bookinfo, t0, ScriptedSource};
use mesh_tui::{FetchError, HttpSource, Source};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

const DEADLINE: Duration = Duration::from_secs(10);

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Serves `/api/v1/mesh`, `/apis/resources` and `/version` from the
/// fixtures; `status` for the mesh path when not 200.
async fn serve(status: StatusCode) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (mesh, resources) = (
        fixture("bookinfo-mesh.json"),
        fixture("bookinfo-resources.json"),
    );
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (mesh, resources) = (mesh.clone(), resources.clone());
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (code, body) = match req.uri().path() {
                    "/api/v1/mesh" if status != StatusCode::OK => (
                        status,
                        r#"{"error":"no data yet: retry shortly"}"#.to_string(),
                    ),
                    "/api/v1/mesh" => (StatusCode::OK, mesh.clone()),
                    "/apis/resources" => (StatusCode::OK, resources.clone()),
                    "/version" => (StatusCode::OK, r#"{"version":"9.9.9"}"#.to_string()),
                    _ => (StatusCode::NOT_FOUND, String::new()),
                };
                let mut resp = Response::new(Full::new(Bytes::from(body)));
                *resp.status_mut() = code;
                async move { Ok::<_, Infallible>(resp) }
            });
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn http_source_reads_every_endpoint() {
    let addr = serve(StatusCode::OK).await;
    let source = HttpSource::new(addr, Duration::from_secs(2));
    let s = source.fetch(Window::TenSeconds).await.unwrap();
    assert_eq!(s.window, Window::TenSeconds);
    assert_eq!(s.mesh.nodes.len(), 6);
    assert_eq!(s.mesh.proxies.len(), 8);
    assert_eq!(s.stored.len(), 7);
    assert_eq!(s.control_plane_version.as_deref(), Some("9.9.9"));
    let gw = s
        .mesh
        .proxies
        .iter()
        .find(|p| p.id.starts_with("istio-ingressgateway"))
        .unwrap();
    assert_eq!(
        gw.labels.get("istio").map(String::as_str),
        Some("ingressgateway"),
        "labels in the proxies section"
    );
}

#[tokio::test]
async fn http_source_names_the_failure() {
    // A port nothing listens on: bind, note it, close it.
    let free = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let err = HttpSource::new(free, Duration::from_secs(2))
        .fetch(Window::OneMinute)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::Unreachable { detail } if detail.contains("refused")),
        "{err}"
    );
    assert!(
        err.to_string().contains("meshctl install"),
        "says what to do: {err}"
    );

    let addr = serve(StatusCode::SERVICE_UNAVAILABLE).await;
    let err = HttpSource::new(addr, Duration::from_secs(2))
        .fetch(Window::OneMinute)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("no data yet"), "{err}");

    // Accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let _keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let err = HttpSource::new(addr, Duration::from_millis(200))
        .fetch(Window::OneMinute)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        FetchError::Timeout {
            after: Duration::from_millis(200)
        }
    );
}

async fn next(rx: &mut mpsc::Receiver<Fetched>) -> Fetched {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("a fetch within the deadline")
        .expect("the loop is alive")
}

#[tokio::test]
async fn poll_reports_failures_and_recovery_and_follows_the_window() {
    let script = Arc::new(ScriptedSource::new(vec![
        Err(FetchError::Unreachable {
            detail: "refused".into(),
        }),
        Ok(bookinfo(t0())),
    ]));
    let (window_tx, window_rx) = watch::channel(Window::OneMinute);
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::spawn(source::poll(
        script.clone(),
        window_rx,
        Duration::from_millis(50),
        tx,
    ));
    assert!(matches!(next(&mut rx).await, Fetched::Failed { .. }));
    assert!(matches!(next(&mut rx).await, Fetched::Snapshot(_)));
    task.abort();

    // A one-hour interval: only the window change can bring the next fetch in time.
    let (tx, mut rx) = mpsc::channel(4);
    let slow = tokio::spawn(source::poll(
        script.clone(),
        window_tx.subscribe(),
        Duration::from_secs(3600),
        tx,
    ));
    assert!(matches!(next(&mut rx).await, Fetched::Snapshot(_)));
    window_tx.send(Window::TenMinutes).unwrap();
    match next(&mut rx).await {
        Fetched::Snapshot(s) => assert_eq!(s.window, Window::TenMinutes),
        other => panic!("{other:?}"),
    }
    assert_eq!(script.asked().last(), Some(&Window::TenMinutes));
    // The receiver gone: the loop ends by itself.
    drop(rx);
    window_tx.send(Window::TenSeconds).unwrap();
    tokio::time::timeout(DEADLINE, slow)
        .await
        .expect("poll stops")
        .unwrap();
}
