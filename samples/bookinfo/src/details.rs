//! details: the book's publication facts, `GET /details/<id>`.
//!
//! Istio's details v1 (Ruby) answers the same record for every numeric id; so does this one.
//! (Istio's details v2 asks Google Books instead; it is not part of this sample.)

use std::sync::Arc;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use crate::server::{self, Resp};
use crate::ServiceCtx;

/// Routes one request.
pub async fn handle(_ctx: Arc<ServiceCtx>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path();
    if req.method() != Method::GET {
        return server::method_not_allowed("GET");
    }
    if path == "/health" {
        return server::json(StatusCode::OK, &json!({"status": "Details is healthy"}));
    }
    match path.strip_prefix("/details") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            // Like Istio's, the id is the last path segment.
            let last = rest.rsplit('/').next().unwrap_or_default();
            match last.parse::<i64>() {
                Ok(id) => server::json(StatusCode::OK, &book_details(id)),
                Err(_) => server::json(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "please provide numeric product id"}),
                ),
            }
        }
        _ => server::not_found(),
    }
}

/// The details record, with Istio's keys.
pub fn book_details(id: i64) -> serde_json::Value {
    json!({
        "id": id,
        "author": "William Shakespeare",
        "year": 1595,
        "type": "paperback",
        "pages": 200,
        "publisher": "PublisherA",
        "language": "English",
        "ISBN-10": "1234567890",
        "ISBN-13": "123-1234567890",
    })
}
