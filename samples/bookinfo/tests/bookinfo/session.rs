//! Login and logout, and what travels downstream: the services call each other by name
//! through `HTTP_PROXY` (a recording forward proxy here), the logged-in user as `end-user`
//! at every hop, and the trace headers.

use std::time::Duration;

use mesh_proxy::testing::eventually;

use crate::support::{http, stars, upstream_env, vars, Proc, Recorder};

const TRACE: &[(&str, &str)] = &[
    (
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ),
    ("tracestate", "congo=t61rcWkgMzE"),
    ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
    ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
    ("x-b3-spanid", "e457b5a2e4d86bd1"),
    ("x-b3-sampled", "1"),
    ("x-ot-span-context", "ot-ctx"),
    ("user-agent", "bookinfo-test/1"),
];

#[tokio::test]
async fn login_end_user_and_trace_headers_travel_through_http_proxy() {
    let proxy = Recorder::start().await;
    let details = Proc::start("details", "v1", &[]).await;
    let ratings = Proc::start("ratings", "v1", &[]).await;
    // No *_HOSTNAME: reviews asks for http://ratings:9080 and only the proxy knows where
    // that is.
    let reviews = Proc::start(
        "reviews",
        "v2",
        &vars(&[
            ("HTTP_PROXY", &proxy.url()),
            ("INSTANCE_NAME", "reviews-v2-p"),
        ]),
    )
    .await;
    proxy.route("details", details.addr);
    proxy.route("ratings", ratings.addr);
    proxy.route("reviews", reviews.addr);
    let pp = Proc::start("productpage", "v1", &vars(&[("http_proxy", &proxy.url())])).await;

    // Anonymous, with trace headers.
    let mut headers = vec![("x-request-id", "req-anon")];
    headers.extend_from_slice(TRACE);
    let page = pp.get_with("/productpage", &headers).await.text();
    assert_eq!(stars(&page), (9, 1), "{page}");
    assert!(page.contains("Reviews served by: reviews-v2-p"), "{page}");
    let hops = |id: &str| {
        let seen = proxy.seen();
        let of = |prefix: &str| {
            seen.iter()
                .find(|s| s.uri.starts_with(prefix) && s.header("x-request-id") == Some(id))
                .cloned()
                .unwrap_or_else(|| panic!("no request {id} for {prefix} at the proxy: {seen:#?}"))
        };
        (
            of("http://details:9080/details/0"),
            of("http://reviews:9080/reviews/0"),
            of("http://ratings:9080/ratings/0"),
        )
    };
    let (d, r, t) = hops("req-anon");
    for hop in [&d, &r, &t] {
        for (name, value) in TRACE {
            assert_eq!(hop.header(name), Some(*value), "{name} at {}", hop.uri);
        }
        assert_eq!(hop.header("end-user"), None, "anonymous at {}", hop.uri);
    }

    // Log in as jason: a session cookie, back to the page the form was on.
    let login = http(
        pp.addr,
        "POST",
        "/login",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("referer", "http://127.0.0.1:8080/productpage?u=normal"),
        ],
        "username=jason&passwd=x",
    )
    .await
    .expect("login answer");
    assert_eq!(login.status, 302, "{}", login.text());
    assert_eq!(login.header("location"), Some("/productpage?u=normal"));
    let cookie = login.header("set-cookie").expect("set-cookie").to_string();
    assert!(cookie.starts_with("session=jason;"), "{cookie}");
    let pair = cookie.split(';').next().expect("pair").to_string();

    let page = pp
        .get_with(
            "/productpage",
            &[("cookie", &pair), ("x-request-id", "req-jason")],
        )
        .await
        .text();
    assert!(page.contains("<span class=\"user\">jason</span>"), "{page}");
    assert!(page.contains("Sign out"), "{page}");
    let (d, r, t) = hops("req-jason");
    for hop in [&d, &r, &t] {
        assert_eq!(
            hop.header("end-user"),
            Some("jason"),
            "end-user at {}",
            hop.uri
        );
    }
    assert_eq!(r.header("cookie"), Some(pair.as_str()));

    // A client cannot claim a user by sending end-user itself.
    pp.get_with(
        "/productpage",
        &[("end-user", "mallory"), ("x-request-id", "req-spoof")],
    )
    .await;
    let (_, r, _) = hops("req-spoof");
    assert_eq!(r.header("end-user"), None);

    // Log out: the cookie is cleared.
    let logout = pp.get_with("/logout", &[("cookie", &pair)]).await;
    assert_eq!(logout.status, 302);
    let cleared = logout.header("set-cookie").expect("set-cookie");
    assert!(
        cleared.starts_with("session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

/// `NO_PROXY` sends the named hosts direct; everything else still goes through the proxy.
#[tokio::test]
async fn no_proxy_hosts_are_called_directly() {
    let proxy = Recorder::start().await;
    let details = Proc::start("details", "v1", &[]).await;
    let reviews = Proc::start("reviews", "v1", &[]).await;
    proxy.route("reviews", reviews.addr);
    let mut env = upstream_env("details", details.addr);
    env.extend(vars(&[
        ("HTTP_PROXY", &proxy.url()),
        ("NO_PROXY", "127.0.0.1"),
    ]));
    let pp = Proc::start("productpage", "v1", &env).await;
    let page = pp.get("/productpage").await.text();
    assert!(
        page.contains("Book Details") && page.contains("Book Reviews"),
        "{page}"
    );
    let seen = eventually(
        Duration::from_secs(5),
        "the reviews call at the proxy",
        || {
            let seen = proxy.seen();
            std::future::ready((!seen.is_empty()).then_some(seen))
        },
    )
    .await;
    let uris: Vec<&str> = seen.iter().map(|s| s.uri.as_str()).collect();
    assert_eq!(uris, ["http://reviews:9080/reviews/0"]);
}

#[tokio::test]
async fn bad_logins_are_refused_with_a_reason() {
    let pp = Proc::start("productpage", "v1", &[]).await;
    let addr = pp.addr;
    let post = move |ct: &'static str, body: &'static str| async move {
        http(addr, "POST", "/login", &[("content-type", ct)], body).await
    };
    let form = "application/x-www-form-urlencoded";
    let got = post(form, "passwd=x").await.expect("answer");
    assert_eq!(got.status, 400);
    assert!(got.text().contains("no username field"), "{}", got.text());
    let got = post(form, "username=+").await.expect("answer");
    assert_eq!(got.status, 400);
    assert!(got.text().contains("empty"), "{}", got.text());
    let got = post("multipart/form-data; boundary=x", "--x--")
        .await
        .expect("answer");
    assert_eq!(got.status, 415);
    assert!(
        got.text().contains("curl -d username=NAME"),
        "{}",
        got.text()
    );
    let got = http(pp.addr, "GET", "/login", &[], "")
        .await
        .expect("answer");
    assert_eq!(got.status, 405);
    // The query string works too, as Flask's request.values reads it.
    let got = http(pp.addr, "POST", "/login?username=tester", &[], "")
        .await
        .expect("answer");
    assert_eq!(got.status, 302);
    assert!(got
        .header("set-cookie")
        .is_some_and(|c| c.starts_with("session=tester;")));
    assert_eq!(got.header("location"), Some("productpage"));
}
