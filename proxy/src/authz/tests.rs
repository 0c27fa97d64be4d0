//! Table tests of the evaluator: Istio's order, every field and its `not` variant, wildcards.

use mesh_api::snapshot::AuthorizationRule;

use super::*;

const X: &str = "spiffe://cluster.local/ns/default/sa/x";
const Y: &str = "spiffe://cluster.local/ns/other/sa/y";

fn policies(yaml: &str) -> Vec<AuthorizationRule> {
    serde_saphyr::from_str(yaml).expect("policies parse")
}

fn req(
    principal: Option<&'static str>,
    method: &'static str,
    path: &'static str,
) -> AuthzRequest<'static> {
    AuthzRequest {
        principal,
        method,
        path,
        port: 9080,
        host: "reviews.default:9080",
    }
}

/// (policies, request, expected allowed)
fn check(cases: &[(&str, AuthzRequest<'static>, bool)]) {
    for (i, (yaml, r, want)) in cases.iter().enumerate() {
        let p = policies(yaml);
        let got = evaluate(&p, r);
        assert_eq!(
            got.is_allowed(),
            *want,
            "case {i}: {yaml} with {r:?} -> {got:?}"
        );
    }
}

#[test]
fn istio_order_deny_first_then_allow_then_default() {
    let deny_admin =
        "[{name: d, action: DENY, rules: [{to: [{operation: {paths: [\"/admin*\"]}}]}]}]";
    let allow_x = "[{name: a, rules: [{from: [{source: {principals: [\"cluster.local/ns/default/sa/x\"]}}]}]}]";
    let both = "[{name: d, action: DENY, rules: [{to: [{operation: {paths: [\"/admin*\"]}}]}]},\
                {name: a, rules: [{from: [{source: {principals: [\"cluster.local/ns/default/sa/x\"]}}]}]}]";
    check(&[
        ("[]", req(None, "GET", "/"), true),
        (deny_admin, req(Some(X), "GET", "/admin/x"), false),
        (deny_admin, req(Some(X), "GET", "/public"), true),
        (allow_x, req(Some(X), "GET", "/"), true),
        (allow_x, req(Some(Y), "GET", "/"), false),
        (allow_x, req(None, "GET", "/"), false),
        (both, req(Some(X), "GET", "/admin"), false),
        (both, req(Some(X), "GET", "/ok"), true),
        (both, req(Some(Y), "GET", "/ok"), false),
        // ALLOW with no rules allows nothing; DENY with no rules denies nothing.
        ("[{name: n}]", req(Some(X), "GET", "/"), false),
        ("[{name: n, action: DENY}]", req(Some(X), "GET", "/"), true),
        // An empty rule matches everything.
        ("[{name: all, rules: [{}]}]", req(None, "GET", "/"), true),
        (
            "[{name: all, action: DENY, rules: [{}]}]",
            req(None, "GET", "/"),
            false,
        ),
    ]);
}

#[test]
fn denial_names_the_policy() {
    let p = policies("[{name: ns/deny, action: DENY, rules: [{}]}]");
    let d = evaluate(&p, &req(None, "GET", "/"));
    assert_eq!(d, Decision::DeniedBy("ns/deny"));
    assert_eq!(d.details(), "rbac_access_denied_matched_policy[ns/deny]");
    let p = policies("[{name: a, rules: [{to: [{operation: {methods: [POST]}}]}]}]");
    assert_eq!(
        evaluate(&p, &req(None, "GET", "/")),
        Decision::NoAllowMatched
    );
}

#[test]
fn sources_and_not_variants() {
    let allow = |src: &str| format!("[{{name: a, rules: [{{from: [{{source: {src}}}]}}]}}]");
    check(&[
        (
            &allow("{principals: [\"*\"]}"),
            req(Some(Y), "GET", "/"),
            true,
        ),
        // `*` principals need an identity: plain text does not match.
        (
            &allow("{principals: [\"*\"]}"),
            req(None, "GET", "/"),
            false,
        ),
        (
            &allow("{principals: [\"cluster.local/ns/default/*\"]}"),
            req(Some(X), "GET", "/"),
            true,
        ),
        (
            &allow("{principals: [\"*/sa/y\"]}"),
            req(Some(Y), "GET", "/"),
            true,
        ),
        (
            &allow("{principals: [\"spiffe://cluster.local/ns/default/sa/x\"]}"),
            req(Some(X), "GET", "/"),
            true,
        ),
        (
            &allow("{notPrincipals: [\"cluster.local/ns/default/sa/x\"]}"),
            req(Some(X), "GET", "/"),
            false,
        ),
        (
            &allow("{notPrincipals: [\"cluster.local/ns/default/sa/x\"]}"),
            req(Some(Y), "GET", "/"),
            true,
        ),
        (
            &allow("{notPrincipals: [\"*\"]}"),
            req(None, "GET", "/"),
            true,
        ),
        (
            &allow("{namespaces: [default]}"),
            req(Some(X), "GET", "/"),
            true,
        ),
        (
            &allow("{namespaces: [default]}"),
            req(Some(Y), "GET", "/"),
            false,
        ),
        (
            &allow("{namespaces: [default]}"),
            req(None, "GET", "/"),
            false,
        ),
        (
            &allow("{notNamespaces: [default]}"),
            req(Some(Y), "GET", "/"),
            true,
        ),
        (
            &allow("{notNamespaces: [default]}"),
            req(Some(X), "GET", "/"),
            false,
        ),
        // Fields of one source AND together.
        (
            &allow("{namespaces: [default], notPrincipals: [\"*/sa/x\"]}"),
            req(Some(X), "GET", "/"),
            false,
        ),
    ]);
}

#[test]
fn operations_and_not_variants() {
    let allow = |op: &str| format!("[{{name: a, rules: [{{to: [{{operation: {op}}}]}}]}}]");
    check(&[
        (&allow("{methods: [GET, HEAD]}"), req(None, "HEAD", "/"), true),
        (&allow("{methods: [GET]}"), req(None, "POST", "/"), false),
        (&allow("{notMethods: [POST]}"), req(None, "GET", "/"), true),
        (&allow("{notMethods: [POST]}"), req(None, "POST", "/"), false),
        (&allow("{paths: [/api]}"), req(None, "GET", "/api"), true),
        (&allow("{paths: [/api]}"), req(None, "GET", "/api/v1"), false),
        (&allow("{paths: [\"/api/*\"]}"), req(None, "GET", "/api/v1"), true),
        (&allow("{paths: [\"*.png\"]}"), req(None, "GET", "/img/a.png"), true),
        (&allow("{paths: [\"*.png\"]}"), req(None, "GET", "/img/a.jpg"), false),
        (&allow("{paths: [\"*\"]}"), req(None, "GET", "/anything"), true),
        (&allow("{notPaths: [\"/admin*\"]}"), req(None, "GET", "/admin/users"), false),
        (&allow("{notPaths: [\"/admin*\"]}"), req(None, "GET", "/users"), true),
        (&allow("{ports: [\"9080\"]}"), req(None, "GET", "/"), true),
        (&allow("{ports: [\"8080\"]}"), req(None, "GET", "/"), false),
        (&allow("{notPorts: [\"9080\"]}"), req(None, "GET", "/"), false),
        (&allow("{hosts: [reviews.default]}"), req(None, "GET", "/"), true),
        (&allow("{hosts: [\"REVIEWS.default:9080\"]}"), req(None, "GET", "/"), true),
        (&allow("{hosts: [\"*.example.com\"]}"), req(None, "GET", "/"), false),
        (&allow("{notHosts: [\"reviews*\"]}"), req(None, "GET", "/"), false),
        // Fields of one operation AND together; operations OR.
        (&allow("{methods: [GET], paths: [/x]}"), req(None, "GET", "/y"), false),
        ("[{name: a, rules: [{to: [{operation: {paths: [/x]}}, {operation: {paths: [/y]}}]}]}]", req(None, "GET", "/y"), true),
        // from AND to.
        ("[{name: a, rules: [{from: [{source: {namespaces: [default]}}], to: [{operation: {methods: [GET]}}]}]}]", req(Some(X), "POST", "/"), false),
        ("[{name: a, rules: [{from: [{source: {namespaces: [default]}}], to: [{operation: {methods: [GET]}}]}]}]", req(Some(X), "GET", "/"), true),
    ]);
}

#[test]
fn namespace_comes_from_the_spiffe_id() {
    assert_eq!(namespace_of(X), Some("default"));
    assert_eq!(namespace_of("spiffe://td/ns//sa/x"), None);
    assert_eq!(namespace_of("spiffe://td/sa/x"), None);
}
