//! productpage's timing, as Istio's: each call waits 3 s, and reviews is asked twice.
//! Reviews and details here are scripted stand-ins that record when each request arrived.

use std::time::Duration;

use mesh_proxy::testing::eventually;
use serde_json::json;

use crate::support::{upstream_env, Proc, StandIn, Step};

fn reviews_doc() -> serde_json::Value {
    json!({"id": "0", "podname": "reviews-standin", "clustername": "null",
           "reviews": [{"reviewer": "Reviewer1", "text": "late but here"}]})
}

async fn productpage(details: &StandIn, reviews: &StandIn) -> Proc {
    let mut env = upstream_env("details", details.addr);
    env.extend(upstream_env("reviews", reviews.addr));
    Proc::start("productpage", "v1", &env).await
}

/// Waits until `n` requests arrived and returns the time between the first two.
async fn gap_after(standin: &StandIn, n: usize) -> Duration {
    eventually(
        Duration::from_secs(15),
        &format!("{n} requests at reviews"),
        || std::future::ready((standin.hits() >= n).then_some(())),
    )
    .await;
    let seen = standin.seen();
    seen[1].at - seen[0].at
}

/// Reviews never answers: productpage gives up on the first try after 3 s, tries once
/// more, gives up again after 3 s, and shows the reviews-unavailable message.
#[tokio::test]
async fn reviews_that_never_answers_is_tried_twice_3s_each() {
    let details = StandIn::start(vec![Step::Json(json!({"ISBN-10": "X"}))]).await;
    let reviews = StandIn::start(vec![Step::Stall]).await;
    let pp = productpage(&details, &reviews).await;
    let page = tokio::spawn({
        let addr = pp.addr;
        async move { crate::support::http(addr, "GET", "/productpage", &[], "").await }
    });
    let gap = gap_after(&reviews, 2).await;
    assert!(
        gap >= Duration::from_millis(2900) && gap < Duration::from_secs(8),
        "the retry came {gap:?} after the first try; want the 3 s timeout"
    );
    let page = page.await.expect("task").expect("page answered").text();
    assert!(
        page.contains("Sorry, product reviews are currently unavailable for this book."),
        "{page}"
    );
    assert_eq!(reviews.hits(), 2, "one try and one retry, no more");
    assert!(page.contains("<td>X</td>"), "details still shown:\n{page}");
}

/// The first answer is too slow, the retry is quick: the page shows the retry's reviews.
#[tokio::test]
async fn a_slow_first_answer_is_retried_and_the_retry_shown() {
    let details = StandIn::start(vec![Step::Json(json!({}))]).await;
    let reviews = StandIn::start(vec![Step::Stall, Step::Json(reviews_doc())]).await;
    let pp = productpage(&details, &reviews).await;
    let page = pp.get("/productpage").await.text();
    assert!(
        page.contains("Reviews served by: reviews-standin"),
        "{page}"
    );
    assert!(page.contains("late but here"), "{page}");
    assert_eq!(reviews.hits(), 2);
    let gap = gap_after(&reviews, 2).await;
    assert!(
        gap >= Duration::from_millis(2900),
        "retried after {gap:?}, before the 3 s timeout"
    );
}

/// An error answer is retried at once; details is asked only once.
#[tokio::test]
async fn an_error_is_retried_for_reviews_but_not_for_details() {
    let details = StandIn::start(vec![
        Step::Status(503),
        Step::Status(503),
        Step::Json(json!({})),
    ])
    .await;
    let reviews = StandIn::start(vec![Step::Status(503), Step::Json(reviews_doc())]).await;
    let pp = productpage(&details, &reviews).await;
    let page = pp.get("/productpage").await.text();
    assert!(
        page.contains("Reviews served by: reviews-standin"),
        "{page}"
    );
    assert_eq!(reviews.hits(), 2);
    assert!(page.contains("Error fetching product details"), "{page}");
    assert_eq!(details.hits(), 1, "details is not retried");
    // The API reports the service's status when it gives up, as Istio's does.
    let api = pp.get("/api/v1/products/0").await;
    assert_eq!(api.status, 503);
    assert_eq!(
        api.json(),
        json!({"error": "Sorry, product details are currently unavailable for this book."})
    );
    assert_eq!(pp.get("/api/v1/products/0").await.status, 200);
}
