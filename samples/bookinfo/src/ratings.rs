//! ratings: stars per reviewer, `GET /ratings/<id>`; `POST /ratings/<id>` with
//! `{"Reviewer1": 3, ...}` replaces a product's ratings in memory (Istio's ratings v1).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Map, Value};

use crate::server::{self, Resp};
use crate::ServiceCtx;

/// Ratings posted since start, by product id. Lost on restart, as in Istio's v1.
#[derive(Debug, Default)]
pub struct Store {
    posted: Mutex<HashMap<i64, Map<String, Value>>>,
}

impl Store {
    /// The ratings of `id`: posted ones, else Istio's defaults (5 and 4 stars).
    pub fn get(&self, id: i64) -> Value {
        let posted = self.posted.lock().unwrap_or_else(|p| p.into_inner());
        match posted.get(&id) {
            Some(r) => json!({"id": id, "ratings": r}),
            None => json!({"id": id, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}),
        }
    }

    fn put(&self, id: i64, ratings: Map<String, Value>) {
        let mut posted = self.posted.lock().unwrap_or_else(|p| p.into_inner());
        posted.insert(id, ratings);
    }
}

/// Routes one request.
pub async fn handle(ctx: Arc<ServiceCtx>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_string();
    if path == "/health" {
        if req.method() != Method::GET {
            return server::method_not_allowed("GET");
        }
        return server::json(StatusCode::OK, &json!({"status": "Ratings is healthy"}));
    }
    let Some(rest) = path.strip_prefix("/ratings/") else {
        return server::not_found();
    };
    let Ok(id) = rest.parse::<i64>() else {
        return server::json(
            StatusCode::BAD_REQUEST,
            &json!({"error": "please provide numeric product ID"}),
        );
    };
    match *req.method() {
        Method::GET => server::json(StatusCode::OK, &ctx.ratings.get(id)),
        Method::POST => {
            let body = match server::read_body(req).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(ratings)) if ratings.values().all(is_star_count) => {
                    ctx.ratings.put(id, ratings);
                    server::json(StatusCode::OK, &ctx.ratings.get(id))
                }
                _ => server::json(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "please provide valid ratings JSON"}),
                ),
            }
        }
        _ => server::method_not_allowed("GET, POST"),
    }
}

/// Reviews render 0 to 5 stars; anything else would break the page.
fn is_star_count(v: &Value) -> bool {
    v.as_u64().is_some_and(|n| n <= 5)
}
