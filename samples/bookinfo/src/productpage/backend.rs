//! productpage's calls to details, reviews and ratings, with Istio's timing: each call
//! waits 3 s; reviews is tried twice (Istio's productpage keeps this deliberate "bug" for its
//! fault-injection task: a 7 s ratings delay makes the page give up on reviews after 6 s).

use std::time::Duration;

use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::client::Client;
use crate::env::Upstream;

/// How long productpage waits for one answer.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// How many times productpage asks reviews before giving up.
pub const REVIEWS_ATTEMPTS: usize = 2;

pub const DETAILS_ERROR: &str = "Sorry, product details are currently unavailable for this book.";
pub const REVIEWS_ERROR: &str = "Sorry, product reviews are currently unavailable for this book.";
pub const RATINGS_ERROR: &str = "Sorry, product ratings are currently unavailable for this book.";

/// An answer for the page or the API: the status and the JSON document (the service's, or
/// `{"error": ...}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub status: StatusCode,
    pub body: Value,
}

impl Fetched {
    pub fn ok(&self) -> bool {
        self.status == StatusCode::OK
    }
}

/// One GET of `<upstream>/<endpoint>/<id>`: Ok with the document on 200 and valid JSON,
/// else Err with the status to report (the service's, or 500 when there was no answer).
async fn get_once(
    client: &Client,
    upstream: &Upstream,
    endpoint: &str,
    id: u32,
    headers: &HeaderMap,
) -> Result<Value, StatusCode> {
    let url = format!("{}/{endpoint}/{id}", upstream.base_url());
    match client.get(&url, headers.clone(), TIMEOUT).await {
        Ok(reply) if reply.status == StatusCode::OK => {
            serde_json::from_slice(&reply.body).map_err(|e| {
                tracing::warn!(%url, error = %e, "answer is not JSON");
                StatusCode::INTERNAL_SERVER_ERROR
            })
        }
        Ok(reply) => {
            tracing::warn!(%url, status = reply.status.as_u16(), "error answer");
            Err(reply.status)
        }
        Err(e) => {
            tracing::warn!(error = %e, "call failed");
            Err(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Asks `upstream` up to `attempts` times.
async fn get(
    client: &Client,
    upstream: &Upstream,
    endpoint: &str,
    id: u32,
    headers: &HeaderMap,
    attempts: usize,
    error: &str,
) -> Fetched {
    let mut status = StatusCode::INTERNAL_SERVER_ERROR;
    for _ in 0..attempts.max(1) {
        match get_once(client, upstream, endpoint, id, headers).await {
            Ok(body) => {
                return Fetched {
                    status: StatusCode::OK,
                    body,
                }
            }
            Err(s) => status = s,
        }
    }
    Fetched {
        status,
        body: json!({ "error": error }),
    }
}

pub async fn details(client: &Client, up: &Upstream, id: u32, headers: &HeaderMap) -> Fetched {
    get(client, up, "details", id, headers, 1, DETAILS_ERROR).await
}

pub async fn reviews(client: &Client, up: &Upstream, id: u32, headers: &HeaderMap) -> Fetched {
    get(
        client,
        up,
        "reviews",
        id,
        headers,
        REVIEWS_ATTEMPTS,
        REVIEWS_ERROR,
    )
    .await
}

pub async fn ratings(client: &Client, up: &Upstream, id: u32, headers: &HeaderMap) -> Fetched {
    get(client, up, "ratings", id, headers, 1, RATINGS_ERROR).await
}
