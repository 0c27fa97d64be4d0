//! reviews: two reviews of the book, `GET /reviews/<id>`. v1 has no ratings; v2 and v3 ask
//! ratings and show its stars, black (v2) or red (v3), as Istio's reviews does with
//! `ENABLE_RATINGS` and `STAR_COLOR`.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};

use crate::cli::Version;
use crate::server::{self, Resp};
use crate::{headers, ServiceCtx};

/// The two reviewers and what they wrote (Istio's text).
pub const REVIEWS: [(&str, &str); 2] = [
    (
        "Reviewer1",
        "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!",
    ),
    (
        "Reviewer2",
        "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.",
    ),
];

/// What a review shows when ratings did not answer.
pub const RATINGS_UNAVAILABLE: &str = "Ratings service is currently unavailable";

/// The star colour of a version, or None when the version shows no ratings.
pub fn star_color(version: Version) -> Option<&'static str> {
    match version {
        Version::V1 => None,
        Version::V2 => Some("black"),
        Version::V3 => Some("red"),
    }
}

/// How long a version waits for ratings. Istio's reviews waits 10 s with black stars and
/// 2.5 s with red ones; the fault-injection tasks (a 7 s ratings delay) depend on it.
pub fn ratings_timeout(version: Version) -> Duration {
    match version {
        Version::V3 => Duration::from_millis(2500),
        _ => Duration::from_secs(10),
    }
}

/// Routes one request.
pub async fn handle(ctx: Arc<ServiceCtx>, req: Request<Incoming>) -> Resp {
    if req.method() != Method::GET {
        return server::method_not_allowed("GET");
    }
    let path = req.uri().path();
    if path == "/health" {
        return server::json(StatusCode::OK, &json!({"status": "Reviews is healthy"}));
    }
    let Some(id) = path
        .strip_prefix("/reviews/")
        .and_then(|id| id.parse::<i32>().ok())
    else {
        // Istio's reviews (JAX-RS, an int path parameter) answers 404 for a non-numeric id.
        return server::not_found();
    };
    let stars = match star_color(ctx.version) {
        None => None,
        Some(_) => Some(fetch_stars(&ctx, id, &req).await),
    };
    let body = reviews_json(
        id,
        &ctx.settings.instance,
        ctx.settings.cluster.as_deref(),
        ctx.version,
        stars,
    );
    server::json(StatusCode::OK, &body)
}

/// Asks ratings for `id`: each reviewer's stars, None for a reviewer ratings did not rate
/// or when ratings failed.
async fn fetch_stars(ctx: &ServiceCtx, id: i32, req: &Request<Incoming>) -> [Option<u64>; 2] {
    let url = format!("{}/ratings/{id}", ctx.settings.ratings.base_url());
    let reply = ctx
        .client
        .get(
            &url,
            headers::forward(req.headers()),
            ratings_timeout(ctx.version),
        )
        .await;
    let ratings = match reply {
        Ok(r) if r.status == StatusCode::OK => serde_json::from_slice::<Value>(&r.body).ok(),
        Ok(r) => {
            tracing::warn!(%url, status = r.status.as_u16(), "ratings answered an error");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "ratings unavailable");
            None
        }
    };
    let of = |reviewer: &str| {
        ratings
            .as_ref()?
            .get("ratings")?
            .get(reviewer)?
            .as_u64()
            .map(|n| n.min(5))
    };
    [of(REVIEWS[0].0), of(REVIEWS[1].0)]
}

/// The reviews document, in Istio's shape: `id` (a string), `podname`, `clustername`
/// (`"null"` when unset, as Istio's Java service prints it) and `reviews`, each with
/// `rating: {stars, color}` or `rating: {error}` when the version shows ratings.
pub fn reviews_json(
    id: i32,
    podname: &str,
    cluster: Option<&str>,
    version: Version,
    stars: Option<[Option<u64>; 2]>,
) -> Value {
    let reviews: Vec<Value> = REVIEWS
        .iter()
        .enumerate()
        .map(|(i, (reviewer, text))| {
            let mut review = json!({"reviewer": reviewer, "text": text});
            if let (Some(color), Some(stars)) = (star_color(version), stars) {
                review["rating"] = match stars[i] {
                    Some(n) => json!({"stars": n, "color": color}),
                    None => json!({"error": RATINGS_UNAVAILABLE}),
                };
            }
            review
        })
        .collect();
    json!({
        "id": id.to_string(),
        "podname": podname,
        "clustername": cluster.unwrap_or("null"),
        "reviews": reviews,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_has_no_ratings_v2_black_v3_red() {
        let v1 = reviews_json(0, "reviews-v1-0", None, Version::V1, None);
        assert_eq!(v1["id"], "0");
        assert_eq!(v1["clustername"], "null");
        assert!(v1["reviews"][0].get("rating").is_none());
        let v2 = reviews_json(0, "p", None, Version::V2, Some([Some(5), Some(4)]));
        assert_eq!(
            v2["reviews"][0]["rating"],
            json!({"stars": 5, "color": "black"})
        );
        assert_eq!(
            v2["reviews"][1]["rating"],
            json!({"stars": 4, "color": "black"})
        );
        let v3 = reviews_json(0, "p", Some("east"), Version::V3, Some([Some(1), None]));
        assert_eq!(v3["clustername"], "east");
        assert_eq!(v3["reviews"][0]["rating"]["color"], "red");
        assert_eq!(v3["reviews"][1]["rating"]["error"], RATINGS_UNAVAILABLE);
    }
}
