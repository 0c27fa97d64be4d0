//! The scrape task against misbehaving targets, and the API served by hyper over a socket.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_controlplane::telemetry::api::Api;
use mesh_controlplane::telemetry::{Scraper, ScraperConfig, Target, TargetStatus};
use mesh_proxy::testing::{eventually, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A target answering every connection with `response` (raw HTTP), or never if `None`.
async fn raw_target(response: Option<&'static str>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                match response {
                    Some(r) => {
                        let _ = s.write_all(r.as_bytes()).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(60)).await,
                }
            });
        }
    });
    format!("http://{addr}/stats/prometheus")
}

const GOOD: &str =
    "HTTP/1.1 200 OK\r\ncontent-length: 24\r\nconnection: close\r\n\r\nistio_requests_total 1\n\n";
const GARBAGE: &str = "HTTP/1.1 200 OK\r\ncontent-length: 9\r\nconnection: close\r\n\r\n{{{ no }}";

fn status(s: &Scraper, id: &str) -> Option<TargetStatus> {
    s.reports
        .borrow()
        .targets
        .iter()
        .find(|t| t.id == id)
        .cloned()
}

#[tokio::test]
async fn bad_targets_are_down_and_the_rest_keep_working() {
    let t = |id: &str, url: String| Target { id: id.into(), url };
    let (tx, rx) = tokio::sync::watch::channel(vec![
        t("good", raw_target(Some(GOOD)).await),
        t("garbage", raw_target(Some(GARBAGE)).await),
        t("hangs", raw_target(None).await),
        t("refused", "http://127.0.0.1:1/stats/prometheus".into()),
        t("nonsense", "not a url".into()),
    ]);
    let config = ScraperConfig {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(200),
    };
    let scraper = Scraper::spawn(rx, config);
    eventually(Duration::from_secs(5), "every target scraped", || {
        let all = scraper.reports.borrow().targets.len() == 5;
        async move { all.then_some(()) }
    })
    .await;
    assert!(status(&scraper, "good").is_some_and(|s| s.up));
    for id in ["garbage", "hangs", "refused", "nonsense"] {
        let s = status(&scraper, id).expect("listed");
        assert!(!s.up && s.error.is_some(), "{s:?}");
    }
    assert!(status(&scraper, "hangs")
        .and_then(|s| s.error)
        .is_some_and(|e| e.contains("no answer within")));

    // A new target list applies without waiting for the interval.
    tx.send_replace(vec![t("late", raw_target(Some(GOOD)).await)]);
    eventually(Duration::from_secs(2), "the new list", || {
        let ids: Vec<String> = scraper
            .reports
            .borrow()
            .targets
            .iter()
            .map(|t| t.id.clone())
            .collect();
        async move { (ids == ["late"]).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn the_api_is_a_hyper_service() {
    let (_tx, rx) = tokio::sync::watch::channel(Vec::new());
    let scraper = Scraper::spawn(rx, ScraperConfig::default());
    let api = Api::new(scraper.reports.clone());
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let svc = api.service();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let svc = svc.clone();
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    let req = http::Request::get("/api/v1/topology?window=10m")
        .header("host", "monitoring")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let got = send(addr, req).await.expect("answer");
    assert_eq!(got.status, 200);
    assert_eq!(
        got.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let body: serde_json::Value = serde_json::from_slice(&got.body).expect("json");
    assert_eq!(body["window"], "10m");
    assert_eq!(body["edges"], serde_json::json!([]));
}
