//! The HTML productpage serves: the index (`/`) and the product page (`/productpage`).
//! Pure functions from what the services answered to the page text, with the headings and
//! messages of Istio's templates, so what users and scripts look for is where they expect.

use std::fmt::Write;

use serde_json::Value;

use super::backend::Fetched;

/// A product of the store.
#[derive(Debug, Clone)]
pub struct Product {
    pub id: u32,
    pub title: &'static str,
    /// Trusted HTML (ours).
    pub description_html: &'static str,
}

/// The store's catalogue: one book, as in Istio.
pub const PRODUCTS: &[Product] = &[Product {
    id: 0,
    title: "The Comedy of Errors",
    description_html: "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare's</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.",
}];

/// The catalogue as `/api/v1/products` returns it.
pub fn products_json() -> Value {
    Value::Array(
        PRODUCTS
            .iter()
            .map(|p| {
                serde_json::json!({
                    "id": p.id,
                    "title": p.title,
                    "descriptionHtml": p.description_html,
                })
            })
            .collect(),
    )
}

const STYLE: &str = "body{font-family:sans-serif;margin:0;color:#222}\
nav{background:#1f2937;color:#fff;padding:.8em 2em;display:flex;justify-content:space-between;align-items:center}\
nav a{color:#ddd}main{padding:1em 2em;max-width:60em}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:.3em .8em;text-align:left}.error{color:#c00}\
.review{margin:1em 0;padding:.5em 1em;background:#f3f6fb}.stars{font-size:1.3em}\
.served-by{font-family:monospace;color:#555}";

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as page text: strings as they are, numbers printed, anything else empty.
fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => escape(s),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn head(out: &mut String) {
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\">\n");
    out.push_str("<title>Simple Bookstore App</title>\n");
    let _ = writeln!(out, "<style>{STYLE}</style></head><body>");
}

/// The service tree shown on the index page: (name, endpoint, children).
#[derive(Debug)]
pub struct ServiceNode {
    pub name: String,
    pub endpoint: &'static str,
    pub children: Vec<ServiceNode>,
}

fn service_table(out: &mut String, node: &ServiceNode) {
    out.push_str("<table>");
    let _ = write!(
        out,
        "<tr><th>name</th><td>{}</td></tr><tr><th>endpoint</th><td>{}</td></tr>",
        escape(&node.name),
        escape(node.endpoint)
    );
    out.push_str("<tr><th>children</th><td>");
    for child in &node.children {
        service_table(out, child);
    }
    out.push_str("</td></tr></table>");
}

/// `/` and `/index.html`: what the application is made of, and links to the page.
pub fn index(tree: &ServiceNode) -> String {
    let mut out = String::new();
    head(&mut out);
    out.push_str("<main>\n<h3>Hello! This is a simple bookstore application consisting of three services as shown below</h3>\n");
    service_table(&mut out, tree);
    out.push_str("\n<h4>Click on one of the links below to auto generate a request to the backend as a real user or a tester</h4>\n");
    out.push_str("<p><a href=\"/productpage?u=normal\">Normal user</a></p>\n");
    out.push_str("<p><a href=\"/productpage?u=test\">Test user</a></p>\n</main></body></html>\n");
    out
}

fn nav(out: &mut String, user: Option<&str>) {
    out.push_str("<nav><strong>BookInfo Sample</strong><div>");
    match user {
        Some(u) => {
            let _ = write!(
                out,
                "<span class=\"user\">{}</span> <a href=\"logout\">Sign out</a>",
                escape(u)
            );
        }
        None => out.push_str(
            "<form method=\"post\" action=\"login\" name=\"login_form\">\
             <input name=\"username\" placeholder=\"Username\" required> \
             <input name=\"passwd\" type=\"password\" placeholder=\"Password\"> \
             <button type=\"submit\">Sign in</button></form>",
        ),
    }
    out.push_str("</div></nav>\n");
}

fn details_section(out: &mut String, details: &Fetched) {
    if details.ok() {
        let d = &details.body;
        out.push_str("<h4>Book Details</h4>\n<table><tr><th>ISBN-10</th><th>Publisher</th><th>Pages</th><th>Type</th><th>Language</th></tr>\n");
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
            text_of(d.get("ISBN-10")),
            text_of(d.get("publisher")),
            text_of(d.get("pages")),
            text_of(d.get("type")),
            text_of(d.get("language")),
        );
    } else {
        out.push_str("<h4 class=\"error\">Error fetching product details</h4>\n");
        let _ = writeln!(out, "<p>{}</p>", text_of(details.body.get("error")));
    }
}

fn stars(out: &mut String, rating: &Value) {
    if let Some(n) = rating.get("stars").and_then(Value::as_u64) {
        let n = n.min(5);
        let color = rating
            .get("color")
            .and_then(Value::as_str)
            .unwrap_or("black");
        let _ = write!(
            out,
            "<div class=\"stars\" style=\"color: {}\" title=\"{n} of 5 stars\">",
            escape(color)
        );
        for _ in 0..n {
            out.push_str("<span class=\"glyphicon glyphicon-star\">&#9733;</span>");
        }
        for _ in n..5 {
            out.push_str("<span class=\"glyphicon glyphicon-star-empty\">&#9734;</span>");
        }
        out.push_str("</div>\n");
    } else if let Some(e) = rating.get("error") {
        let _ = writeln!(out, "<p class=\"error\">{}</p>", text_of(Some(e)));
    }
}

fn reviews_section(out: &mut String, reviews: &Fetched) {
    if !reviews.ok() {
        out.push_str("<h4 class=\"error\">Error fetching product reviews</h4>\n");
        let _ = writeln!(out, "<p>{}</p>", text_of(reviews.body.get("error")));
        return;
    }
    out.push_str("<h4>Book Reviews</h4>\n");
    let list = reviews.body.get("reviews").and_then(Value::as_array);
    for review in list.into_iter().flatten() {
        out.push_str("<section class=\"review\">\n");
        if let Some(rating) = review.get("rating") {
            stars(out, rating);
        }
        let _ = writeln!(
            out,
            "<blockquote><p>\"{}\"</p></blockquote>\n<p><small>{}</small></p>\n</section>",
            text_of(review.get("text")),
            text_of(review.get("reviewer")),
        );
    }
    let pod = text_of(reviews.body.get("podname"));
    let _ = write!(out, "<p class=\"served-by\">Reviews served by: {pod}");
    match reviews.body.get("clustername").and_then(Value::as_str) {
        Some(c) if c != "null" && !c.is_empty() => {
            let _ = write!(out, " on cluster {}", escape(c));
        }
        _ => {}
    }
    out.push_str("</p>\n");
}

/// `/productpage`: the book, its details and its reviews, or what failed.
pub fn product_page(
    product: &Product,
    user: Option<&str>,
    details: &Fetched,
    reviews: &Fetched,
) -> String {
    let mut out = String::new();
    head(&mut out);
    nav(&mut out, user);
    out.push_str("<main>\n");
    let _ = writeln!(
        out,
        "<h1>{}</h1>\n<p>{}</p>",
        escape(product.title),
        product.description_html
    );
    details_section(&mut out, details);
    reviews_section(&mut out, reviews);
    out.push_str("</main></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use serde_json::json;

    fn ok(body: Value) -> Fetched {
        Fetched {
            status: StatusCode::OK,
            body,
        }
    }

    #[test]
    fn stars_are_filled_and_empty_in_the_reviews_color() {
        let reviews = ok(
            json!({"id": "0", "podname": "reviews-v3-x", "clustername": "null",
            "reviews": [{"reviewer": "R1", "text": "t1", "rating": {"stars": 4, "color": "red"}},
                        {"reviewer": "R2", "text": "t2", "rating": {"error": "Ratings service is currently unavailable"}}]}),
        );
        let page = product_page(
            &PRODUCTS[0],
            Some("jason"),
            &ok(json!({"pages": 200})),
            &reviews,
        );
        assert_eq!(page.matches("glyphicon-star\"").count(), 4);
        assert_eq!(page.matches("glyphicon-star-empty\"").count(), 1);
        assert!(page.contains("style=\"color: red\""));
        assert!(page.contains("Ratings service is currently unavailable"));
        assert!(page.contains("Reviews served by: reviews-v3-x</p>"));
        assert!(page.contains("<span class=\"user\">jason</span>"));
    }

    #[test]
    fn upstream_text_is_escaped() {
        let reviews = ok(json!({"podname": "<script>", "clustername": "c&d",
            "reviews": [{"reviewer": "<b>", "text": "\"x\""}]}));
        let details = Fetched {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: json!({"error": "<i>down</i>"}),
        };
        let page = product_page(&PRODUCTS[0], Some("<u>"), &details, &reviews);
        assert!(!page.contains("<script>") && !page.contains("<i>down") && !page.contains("<u>"));
        assert!(page.contains("on cluster c&amp;d"));
        assert!(page.contains("Error fetching product details"));
    }
}
