//! Route matching: unit tests and a property test (the matcher never panics, whatever the
//! request, and a catch-all route always matches).

use std::collections::BTreeMap;

use http::HeaderMap;
use mesh_api::snapshot::{Redirect, Route, RouteConfig, RouteDestination, RouteMatch, VirtualHost};
use mesh_api::StringMatch;
use proptest::prelude::*;

use super::*;

fn dest(c: &str, w: Option<u32>) -> RouteDestination {
    RouteDestination {
        cluster: c.into(),
        weight: w,
        headers: None,
    }
}

fn table() -> RouteTable {
    let jason = Route {
        name: "jason".into(),
        matches: vec![RouteMatch {
            headers: BTreeMap::from([("end-user".into(), StringMatch::Exact("jason".into()))]),
            ..Default::default()
        }],
        route: vec![dest("v2", None)],
        ..Default::default()
    };
    let api = Route {
        name: "api".into(),
        matches: vec![
            RouteMatch {
                uri: Some(StringMatch::Prefix("/api/".into())),
                method: Some(StringMatch::Exact("POST".into())),
                ..Default::default()
            },
            RouteMatch {
                uri: Some(StringMatch::Regex("/v[0-9]+/items".into())),
                ..Default::default()
            },
            RouteMatch {
                query_params: BTreeMap::from([("debug".into(), StringMatch::Exact("1".into()))]),
                ..Default::default()
            },
        ],
        route: vec![dest("api", None)],
        ..Default::default()
    };
    let nocase = Route {
        name: "nocase".into(),
        matches: vec![RouteMatch {
            uri: Some(StringMatch::Exact("/Login".into())),
            ignore_uri_case: true,
            ..Default::default()
        }],
        redirect: Some(Redirect {
            uri: Some("/signin".into()),
            authority: None,
            scheme: None,
            redirect_code: 301,
        }),
        ..Default::default()
    };
    let split = Route {
        name: "split".into(),
        route: vec![dest("v1", Some(80)), dest("v3", Some(20))],
        ..Default::default()
    };
    RouteTable::compile(&RouteConfig {
        name: "t".into(),
        virtual_hosts: vec![
            VirtualHost {
                name: "reviews".into(),
                domains: vec![
                    "reviews".into(),
                    "reviews.default.svc.cluster.local:9080".into(),
                ],
                routes: vec![jason, api, nocase, split],
            },
            VirtualHost {
                name: "wild".into(),
                domains: vec!["*.example.com".into()],
                routes: vec![Route {
                    name: "w".into(),
                    route: vec![dest("w", None)],
                    ..Default::default()
                }],
            },
            VirtualHost {
                name: "any".into(),
                domains: vec!["*".into()],
                routes: vec![Route {
                    name: "a".into(),
                    route: vec![dest("a", None)],
                    ..Default::default()
                }],
            },
        ],
    })
    .expect("compiles")
}

fn find<'t>(
    t: &'t RouteTable,
    authority: &str,
    method: &str,
    pq: &str,
    h: &HeaderMap,
) -> Option<&'t str> {
    let (path, query) = pq.split_once('?').unwrap_or((pq, ""));
    t.find(&RequestView {
        authority,
        method,
        path,
        query,
        headers: h,
    })
    .map(|m| m.route.cfg.name.as_str())
}

#[test]
fn hosts_exact_port_wildcard_any() {
    let t = table();
    let h = HeaderMap::new();
    assert_eq!(t.host("reviews").map(|v| &*v.name), Some("reviews"));
    assert_eq!(
        t.host("reviews:9080").map(|v| &*v.name),
        Some("reviews"),
        "port-less domain matches any port"
    );
    assert_eq!(
        t.host("REVIEWS.default.svc.cluster.local:9080")
            .map(|v| &*v.name),
        Some("reviews")
    );
    assert_eq!(t.host("a.example.com").map(|v| &*v.name), Some("wild"));
    assert_eq!(t.host("a.example.com:8080").map(|v| &*v.name), Some("wild"));
    assert_eq!(t.host("elsewhere").map(|v| &*v.name), Some("any"));
    assert_eq!(find(&t, "nothing", "GET", "/", &h), Some("a"));
}

#[test]
fn first_matching_route_wins() {
    let t = table();
    let mut h = HeaderMap::new();
    assert_eq!(find(&t, "reviews", "GET", "/", &h), Some("split"));
    h.insert("end-user", "jason".parse().expect("hv"));
    assert_eq!(find(&t, "reviews", "GET", "/", &h), Some("jason"));
    let h = HeaderMap::new();
    assert_eq!(find(&t, "reviews", "POST", "/api/x", &h), Some("api"));
    assert_eq!(
        find(&t, "reviews", "GET", "/api/x", &h),
        Some("split"),
        "method must match too"
    );
    assert_eq!(find(&t, "reviews", "GET", "/v12/items", &h), Some("api"));
    assert_eq!(
        find(&t, "reviews", "GET", "/v12/items/more", &h),
        Some("split"),
        "regex is anchored"
    );
    assert_eq!(
        find(&t, "reviews", "GET", "/x?a=1&debug=1", &h),
        Some("api")
    );
    assert_eq!(find(&t, "reviews", "GET", "/x?debug=10", &h), Some("split"));
    assert_eq!(find(&t, "reviews", "GET", "/LOGIN", &h), Some("nocase"));
}

#[test]
fn weighted_destinations() {
    let t = table();
    let h = HeaderMap::new();
    let (path, query) = ("/", "");
    let m = t
        .find(&RequestView {
            authority: "reviews",
            method: "GET",
            path,
            query,
            headers: &h,
        })
        .expect("split");
    assert_eq!(m.route.total_weight(), 100);
    let pick = |roll| m.route.destination(roll).map(|(c, _)| c.to_string());
    assert_eq!(pick(0).as_deref(), Some("v1"));
    assert_eq!(pick(79).as_deref(), Some("v1"));
    assert_eq!(pick(80).as_deref(), Some("v3"));
    assert_eq!(pick(99).as_deref(), Some("v3"));
    assert_eq!(pick(100), None);
}

#[test]
fn strip_port_handles_ipv6() {
    assert_eq!(strip_port("[::1]:80"), "[::1]");
    assert_eq!(strip_port("host:80"), "host");
    assert_eq!(strip_port("host"), "host");
    assert_eq!(strip_port("host:"), "host:");
}

proptest! {
    #[test]
    fn matching_never_panics(authority in "\\PC{0,40}", method in "[A-Z]{0,8}", path in "\\PC{0,60}", query in "\\PC{0,40}", hv in "[ -~]{0,20}") {
        let t = table();
        let mut h = HeaderMap::new();
        if let Ok(v) = hv.parse() {
            h.insert("end-user", v);
        }
        let m = t.find(&RequestView { authority: &authority, method: &method, path: &path, query: &query, headers: &h });
        // Every authority reaches some host (there is a `*`), and every host ends in a
        // catch-all route, so something always matches.
        prop_assert!(m.is_some());
    }

    #[test]
    fn compile_never_panics_on_patterns(p in "\\PC{0,30}") {
        let cfg = RouteConfig { name: "p".into(), virtual_hosts: vec![VirtualHost {
            name: "h".into(), domains: vec!["*".into()],
            routes: vec![Route { matches: vec![RouteMatch { uri: Some(StringMatch::Regex(p)), ..Default::default() }], route: vec![dest("c", None)], ..Default::default() }],
        }]};
        let _ = RouteTable::compile(&cfg);
    }
}
