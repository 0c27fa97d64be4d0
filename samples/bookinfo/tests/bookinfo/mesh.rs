//! Bookinfo behind a real mesh-proxy (static config), as on the local platform: productpage
//! and reviews send every call to the proxy's outbound listener (`HTTP_PROXY`), and the
//! proxy routes by name and by the `end-user` header, Istio's request-routing task.

use mesh_proxy::testing::{free_addr, start_proxy};

use crate::support::{http, stars, vars, Proc};

/// jason's calls go to reviews v2 and may reach ratings; everyone else gets reviews v3,
/// whose calls to ratings end at an address nobody listens on. So jason sees black stars
/// only if `end-user` reached the proxy at both hops.
const SNAPSHOT: &str = r#"
listeners:
  - {name: outbound, address: "{outbound}", direction: outbound, routeConfig: outbound}
routes:
  - name: outbound
    virtualHosts:
      - name: details
        domains: [details, "details:9080"]
        routes: [{route: [{cluster: details-v1}]}]
      - name: reviews
        domains: [reviews, "reviews:9080"]
        routes:
          - match: [{headers: {end-user: {exact: jason}}}]
            route: [{cluster: reviews-v2}]
          - route: [{cluster: reviews-v3}]
      - name: ratings
        domains: [ratings, "ratings:9080"]
        routes:
          - match: [{headers: {end-user: {exact: jason}}}]
            route: [{cluster: ratings-v1}]
          - route: [{cluster: nowhere}]
clusters:
  - {name: details-v1, endpoints: [{address: "{details}"}]}
  - {name: reviews-v2, endpoints: [{address: "{reviews_v2}"}]}
  - {name: reviews-v3, endpoints: [{address: "{reviews_v3}"}]}
  - {name: ratings-v1, endpoints: [{address: "{ratings}"}]}
  - {name: nowhere, endpoints: [{address: "{nowhere}"}]}
"#;

#[tokio::test]
async fn end_user_routing_through_mesh_proxy() {
    let outbound = free_addr();
    let proxy_env = vars(&[("HTTP_PROXY", &format!("http://{outbound}"))]);
    let details = Proc::start("details", "v1", &[]).await;
    let ratings = Proc::start("ratings", "v1", &[]).await;
    let reviews = |v: &'static str| {
        let mut env = proxy_env.clone();
        env.extend(vars(&[("INSTANCE_NAME", &format!("reviews-{v}-mesh"))]));
        async move { Proc::start("reviews", v, &env).await }
    };
    let (v2, v3) = (reviews("v2").await, reviews("v3").await);
    let pp = Proc::start("productpage", "v1", &proxy_env).await;
    let _proxy = start_proxy(
        SNAPSHOT,
        &[
            ("outbound", outbound.to_string()),
            ("details", details.addr.to_string()),
            ("reviews_v2", v2.addr.to_string()),
            ("reviews_v3", v3.addr.to_string()),
            ("ratings", ratings.addr.to_string()),
            ("nowhere", free_addr().to_string()),
        ],
    )
    .await;

    let anonymous = pp.get("/productpage").await.text();
    assert!(
        anonymous.contains("Reviews served by: reviews-v3-mesh"),
        "{anonymous}"
    );
    assert!(anonymous.contains("Book Details"), "{anonymous}");
    assert_eq!(stars(&anonymous), (0, 0), "{anonymous}");
    assert_eq!(
        anonymous
            .matches("Ratings service is currently unavailable")
            .count(),
        2,
        "{anonymous}"
    );

    let login = http(pp.addr, "POST", "/login", &[], "username=jason")
        .await
        .expect("login");
    let cookie = login.header("set-cookie").expect("cookie");
    let pair = cookie.split(';').next().expect("pair").to_string();
    let jason = pp
        .get_with("/productpage", &[("cookie", &pair)])
        .await
        .text();
    assert!(
        jason.contains("Reviews served by: reviews-v2-mesh"),
        "{jason}"
    );
    assert_eq!(stars(&jason), (9, 1), "{jason}");
    assert!(jason.contains("style=\"color: black\""), "{jason}");
}
