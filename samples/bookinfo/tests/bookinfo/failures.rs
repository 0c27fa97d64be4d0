//! What the page shows when a service is down, as Istio's does.

use serde_json::json;

use mesh_proxy::testing::free_addr;

use crate::support::{stars, upstream_env, vars, Proc};

/// Reviews down: the page keeps the book and its details, and says reviews are unavailable;
/// the API answers 500 with the same error. Details down: the details error instead.
#[tokio::test]
async fn reviews_or_details_down() {
    let details = Proc::start("details", "v1", &[]).await;
    let nobody = free_addr();
    let mut env = upstream_env("details", details.addr);
    env.extend(upstream_env("reviews", nobody));
    env.extend(upstream_env("ratings", nobody));
    let pp = Proc::start("productpage", "v1", &env).await;
    let page = pp.get("/productpage").await;
    assert_eq!(page.status, 200);
    let page = page.text();
    assert!(page.contains("Book Details"), "{page}");
    assert!(page.contains("Error fetching product reviews"), "{page}");
    assert!(
        page.contains("Sorry, product reviews are currently unavailable for this book."),
        "{page}"
    );
    assert!(!page.contains("Reviews served by"), "{page}");
    let api = pp.get("/api/v1/products/0/reviews").await;
    assert_eq!(api.status, 500);
    assert_eq!(
        api.json(),
        json!({"error": "Sorry, product reviews are currently unavailable for this book."})
    );
    let api = pp.get("/api/v1/products/0/ratings").await;
    assert_eq!(api.status, 500);
    assert_eq!(
        api.json(),
        json!({"error": "Sorry, product ratings are currently unavailable for this book."})
    );

    // Details down, reviews up.
    let reviews = Proc::start("reviews", "v1", &vars(&[("INSTANCE_NAME", "reviews-v1-x")])).await;
    let mut env = upstream_env("details", nobody);
    env.extend(upstream_env("reviews", reviews.addr));
    let pp = Proc::start("productpage", "v1", &env).await;
    let page = pp.get("/productpage").await.text();
    assert!(page.contains("Error fetching product details"), "{page}");
    assert!(
        page.contains("Sorry, product details are currently unavailable for this book."),
        "{page}"
    );
    assert!(page.contains("Reviews served by: reviews-v1-x"), "{page}");
    assert_eq!(pp.get("/api/v1/products/0").await.status, 500);
}

/// Ratings down: reviews v2 and v3 still answer, each review saying ratings are
/// unavailable, and the page shows that text instead of stars.
#[tokio::test]
async fn ratings_down() {
    let details = Proc::start("details", "v1", &[]).await;
    let nobody = free_addr();
    for version in ["v2", "v3"] {
        let reviews = Proc::start("reviews", version, &upstream_env("ratings", nobody)).await;
        let body = reviews.get("/reviews/0").await.json();
        assert_eq!(
            body["reviews"][0]["rating"],
            json!({"error": "Ratings service is currently unavailable"})
        );
        let mut env = upstream_env("details", details.addr);
        env.extend(upstream_env("reviews", reviews.addr));
        let pp = Proc::start("productpage", "v1", &env).await;
        let page = pp.get("/productpage").await.text();
        assert_eq!(
            page.matches("Ratings service is currently unavailable")
                .count(),
            2,
            "{version}:\n{page}"
        );
        assert_eq!(stars(&page), (0, 0), "{page}");
        assert!(page.contains("Book Reviews"), "{page}");
    }
}
