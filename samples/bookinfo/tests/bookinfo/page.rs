//! The page and the JSON API, with every service up.

use serde_json::json;

use crate::support::{http, productpage_env, stars, upstream_env, vars, Bookinfo, Proc};

/// v1: no stars; v2: black stars; v3: red stars (5 and 4 of 5), each page naming the
/// reviews instance that answered.
#[tokio::test]
async fn each_reviews_version_renders_its_stars() {
    let details = Proc::start("details", "v1", &[]).await;
    let ratings = Proc::start("ratings", "v1", &[]).await;
    for (version, color) in [("v1", None), ("v2", Some("black")), ("v3", Some("red"))] {
        let mut env = upstream_env("ratings", ratings.addr);
        env.extend(vars(&[(
            "INSTANCE_NAME",
            &format!("reviews-{version}-7d9f"),
        )]));
        let reviews = Proc::start("reviews", version, &env).await;
        let pp = Proc::start(
            "productpage",
            "v1",
            &productpage_env(&details, &reviews, &ratings),
        )
        .await;
        let got = pp.get("/productpage").await;
        assert_eq!(got.status, 200);
        assert_eq!(got.header("content-type"), Some("text/html; charset=utf-8"));
        let page = got.text();
        for text in [
            "<title>Simple Bookstore App</title>",
            "<h1>The Comedy of Errors</h1>",
            "Book Details",
            "<td>1234567890</td><td>PublisherA</td><td>200</td><td>paperback</td><td>English</td>",
            "Book Reviews",
            "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!",
            "Absolutely fun and entertaining.",
            "Reviewer1",
            "Reviewer2",
            "Sign in",
        ] {
            assert!(
                page.contains(text),
                "{version}: page lacks {text:?}:\n{page}"
            );
        }
        assert!(
            page.contains(&format!("Reviews served by: reviews-{version}-7d9f</p>")),
            "{version}:\n{page}"
        );
        match color {
            None => {
                assert_eq!(stars(&page), (0, 0), "v1 shows no stars:\n{page}");
                assert!(!page.contains("Ratings service"));
            }
            Some(c) => {
                assert_eq!(stars(&page), (9, 1), "{version}: 5 + 4 stars:\n{page}");
                assert_eq!(
                    page.matches(&format!("style=\"color: {c}\"")).count(),
                    2,
                    "{version} stars are {c}:\n{page}"
                );
            }
        }
    }
}

/// The JSON API and every service's own endpoints answer Istio's documents.
#[tokio::test]
async fn api_and_services_answer_istios_documents() {
    let app = Bookinfo::start("v2").await;
    let pp = &app.productpage;

    let products = pp.get("/api/v1/products").await;
    assert_eq!(products.status, 200);
    assert_eq!(products.header("content-type"), Some("application/json"));
    let products = products.json();
    assert_eq!(products[0]["id"], 0);
    assert_eq!(products[0]["title"], "The Comedy of Errors");
    assert!(products[0]["descriptionHtml"]
        .as_str()
        .is_some_and(|d| d.contains("William Shakespeare")));

    let details = pp.get("/api/v1/products/0").await;
    assert_eq!(details.status, 200);
    assert_eq!(
        details.json(),
        json!({"id": 0, "author": "William Shakespeare", "year": 1595, "type": "paperback",
               "pages": 200, "publisher": "PublisherA", "language": "English",
               "ISBN-10": "1234567890", "ISBN-13": "123-1234567890"})
    );
    let reviews = pp.get("/api/v1/products/0/reviews").await.json();
    assert_eq!(reviews["id"], "0");
    assert_eq!(reviews["podname"], "reviews-v2-test");
    assert_eq!(reviews["clustername"], "null");
    assert_eq!(reviews["reviews"][0]["reviewer"], "Reviewer1");
    assert_eq!(
        reviews["reviews"][0]["rating"],
        json!({"stars": 5, "color": "black"})
    );
    assert_eq!(
        reviews["reviews"][1]["rating"],
        json!({"stars": 4, "color": "black"})
    );
    let ratings = pp.get("/api/v1/products/0/ratings").await.json();
    assert_eq!(
        ratings,
        json!({"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}})
    );

    // Each service directly.
    assert_eq!(app.details.get("/details/7").await.json()["id"], 7);
    assert_eq!(app.reviews.get("/reviews/3").await.json()["id"], "3");
    assert_eq!(app.ratings.get("/ratings/3").await.json()["id"], 3);
    assert_eq!(pp.get("/health").await.text(), "Product page is healthy");
    assert_eq!(
        app.details.get("/health").await.json(),
        json!({"status": "Details is healthy"})
    );
    assert_eq!(
        app.reviews.get("/health").await.json(),
        json!({"status": "Reviews is healthy"})
    );
    assert_eq!(
        app.ratings.get("/health").await.json(),
        json!({"status": "Ratings is healthy"})
    );

    // Bad ids and unknown paths.
    let bad = app.details.get("/details/abc").await;
    assert_eq!(
        (bad.status, bad.json()),
        (400, json!({"error": "please provide numeric product id"}))
    );
    let bad = app.ratings.get("/ratings/abc").await;
    assert_eq!(
        (bad.status, bad.json()),
        (400, json!({"error": "please provide numeric product ID"}))
    );
    assert_eq!(app.reviews.get("/reviews/abc").await.status, 404);
    assert_eq!(pp.get("/api/v1/products/abc").await.status, 400);
    assert_eq!(pp.get("/api/v1/products/0/nothing").await.status, 404);
    assert_eq!(pp.get("/nothing").await.status, 404);
    let post = http(pp.addr, "POST", "/productpage", &[], "")
        .await
        .expect("answer");
    assert_eq!(post.status, 405);

    // The index page.
    let index = pp.get("/").await.text();
    assert!(
        index.contains("Hello! This is a simple bookstore application"),
        "{index}"
    );
    assert!(index.contains("href=\"/productpage?u=normal\""), "{index}");
    assert!(
        index.contains(&format!("http://127.0.0.1:{}", app.ratings.addr.port())),
        "{index}"
    );
}

/// POST /ratings/<id> replaces the ratings (Istio's ratings v1 keeps them in memory), and
/// the page shows the new stars; invalid ratings are refused.
#[tokio::test]
async fn posted_ratings_show_on_the_page() {
    let app = Bookinfo::start("v3").await;
    let post = |body: &'static str| http(app.ratings.addr, "POST", "/ratings/0", &[], body);
    let got = post(r#"{"Reviewer1": 1, "Reviewer2": 2}"#)
        .await
        .expect("answer");
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(
        got.json(),
        json!({"id": 0, "ratings": {"Reviewer1": 1, "Reviewer2": 2}})
    );
    let page = app.productpage.get("/productpage").await.text();
    assert_eq!(stars(&page), (3, 7), "{page}");
    for bad in ["not json", "[1]", r#"{"Reviewer1": 9}"#] {
        let got = post(bad).await.expect("answer");
        assert_eq!(got.status, 400, "{bad}");
        assert_eq!(
            got.json(),
            json!({"error": "please provide valid ratings JSON"})
        );
    }
    // Other products keep the defaults.
    assert_eq!(
        app.ratings.get("/ratings/1").await.json()["ratings"]["Reviewer1"],
        5
    );
}
