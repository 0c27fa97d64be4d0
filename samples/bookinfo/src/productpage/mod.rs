//! productpage: the front end. Routes requests to the page, the JSON API, login and logout;
//! the calls to other services are in [`backend`], the HTML in [`page`], the session cookie
//! in [`session`].

pub mod backend;
pub mod page;
pub mod session;

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use hyper::body::Incoming;
use serde_json::json;

use crate::headers::{self, END_USER};
use crate::server::{self, Resp};
use crate::ServiceCtx;
use page::{ServiceNode, PRODUCTS};

/// Routes one request.
pub async fn handle(ctx: Arc<ServiceCtx>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::POST, "/login") => login(req).await,
        (_, "/login") => server::method_not_allowed("POST"),
        (m, _) if m != Method::GET && m != Method::HEAD => server::method_not_allowed("GET"),
        (_, "/" | "/index.html") => server::html(StatusCode::OK, page::index(&service_tree(&ctx))),
        (_, "/health") => server::text(StatusCode::OK, "Product page is healthy"),
        (_, "/logout") => server::redirect(&back_to(req.headers()), Some(session::logout_cookie())),
        (_, "/productpage") => product_page(&ctx, req.headers()).await,
        (_, "/api/v1/products") => server::json(StatusCode::OK, &page::products_json()),
        (_, p) => match p.strip_prefix("/api/v1/products/") {
            Some(rest) => api(&ctx, rest, req.headers()).await,
            None => server::not_found(),
        },
    }
}

/// The headers for calls made while serving a request: the trace context and context
/// headers, with `end-user` set from the session (and only from it: a client cannot name
/// itself by sending `end-user`).
pub fn outgoing_headers(incoming: &HeaderMap) -> HeaderMap {
    let mut out = headers::forward(incoming);
    out.remove(END_USER);
    if let Some(user) = session::user(incoming) {
        if let Ok(v) = HeaderValue::from_bytes(user.as_bytes()) {
            out.insert(END_USER, v);
        }
    }
    out
}

async fn product_page(ctx: &ServiceCtx, incoming: &HeaderMap) -> Resp {
    let product = &PRODUCTS[0];
    let headers = outgoing_headers(incoming);
    let s = &ctx.settings;
    // Istio asks one after the other; asking both at once gives the same page sooner.
    let (details, reviews) = tokio::join!(
        backend::details(&ctx.client, &s.details, product.id, &headers),
        backend::reviews(&ctx.client, &s.reviews, product.id, &headers),
    );
    let user = session::user(incoming);
    server::html(
        StatusCode::OK,
        page::product_page(product, user.as_deref(), &details, &reviews),
    )
}

/// `/api/v1/products/<id>[/reviews|/ratings]`.
async fn api(ctx: &ServiceCtx, rest: &str, incoming: &HeaderMap) -> Resp {
    let (id, what) = rest.split_once('/').unwrap_or((rest, ""));
    let Ok(id) = id.parse::<u32>() else {
        return server::json(
            StatusCode::BAD_REQUEST,
            &json!({"error": "please provide numeric product id"}),
        );
    };
    let headers = outgoing_headers(incoming);
    let s = &ctx.settings;
    let fetched = match what {
        "" => backend::details(&ctx.client, &s.details, id, &headers).await,
        "reviews" => backend::reviews(&ctx.client, &s.reviews, id, &headers).await,
        "ratings" => backend::ratings(&ctx.client, &s.ratings, id, &headers).await,
        _ => return server::not_found(),
    };
    server::json(fetched.status, &fetched.body)
}

/// `POST /login` with the form field `username` (in the body, or the query as Flask also
/// reads it): sets the session cookie and goes back to the page the form was on.
async fn login(req: Request<Incoming>) -> Resp {
    let back = back_to(req.headers());
    let query = req.uri().query().unwrap_or_default().to_string();
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/") {
        return server::text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the login form as application/x-www-form-urlencoded (curl -d username=NAME)",
        );
    }
    let body = match server::read_body(req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let form = String::from_utf8_lossy(&body);
    let Some(user) =
        session::form_field(&form, "username").or_else(|| session::form_field(&query, "username"))
    else {
        return server::text(
            StatusCode::BAD_REQUEST,
            "the login form has no username field; send username=NAME",
        );
    };
    if let Err(problem) = session::valid_user(&user) {
        return server::text(StatusCode::BAD_REQUEST, &problem);
    }
    server::redirect(&back, Some(session::login_cookie(&user)))
}

/// Where login and logout send the browser back to: the path of the page it came from
/// (`Referer`, as Istio's productpage), or the product page. Only the path is kept, so the
/// redirect cannot lead to another site.
fn back_to(headers: &HeaderMap) -> String {
    headers
        .get(http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.parse::<Uri>().ok())
        .and_then(|u| {
            let pq = u.path_and_query()?.as_str().to_string();
            (pq.starts_with('/') && !pq.starts_with("//")).then_some(pq)
        })
        .unwrap_or_else(|| "productpage".to_string())
}

fn service_tree(ctx: &ServiceCtx) -> ServiceNode {
    let s = &ctx.settings;
    let leaf = |name: String, endpoint, children| ServiceNode {
        name,
        endpoint,
        children,
    };
    leaf(
        "productpage".into(),
        "productpage",
        vec![
            leaf(s.details.base_url(), "details", vec![]),
            leaf(
                s.reviews.base_url(),
                "reviews",
                vec![leaf(s.ratings.base_url(), "ratings", vec![])],
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_user_comes_from_the_session_only() {
        let mut h = HeaderMap::new();
        h.insert("end-user", "mallory".parse().expect("hv"));
        h.insert("x-request-id", "r1".parse().expect("hv"));
        assert_eq!(outgoing_headers(&h).get(END_USER), None);
        h.insert("cookie", "session=jason".parse().expect("hv"));
        let out = outgoing_headers(&h);
        assert_eq!(out[END_USER], "jason");
        assert_eq!(out["x-request-id"], "r1");
        assert_eq!(out["cookie"], "session=jason");
    }

    #[test]
    fn redirects_stay_on_this_site() {
        let back = |r: &str| {
            let mut h = HeaderMap::new();
            h.insert("referer", r.parse().expect("hv"));
            back_to(&h)
        };
        assert_eq!(
            back("http://127.0.0.1:8080/productpage?u=test"),
            "/productpage?u=test"
        );
        assert_eq!(back("//evil.example/x"), "productpage");
        assert_eq!(back_to(&HeaderMap::new()), "productpage");
    }
}
