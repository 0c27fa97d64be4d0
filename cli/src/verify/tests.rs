//! How a report prints, and the checks that need no process or socket: proxies' states and
//! gateways expected by the install but not connected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::checks;
use super::{Category, Check, Outcome, Report};
use crate::inspect::ProxyInfo;
use crate::output::Style;
use crate::platform::local::state::InstallRecord;

fn proxy(id: &str, state: &str) -> ProxyInfo {
    serde_json::from_value(serde_json::json!({
        "id": id, "namespace": "default", "state": state, "stateSince": 90,
        "versionSent": "abc",
        "error": (state == "NACKED").then_some("listener inbound: address in use"),
    }))
    .expect("proxy")
}

fn lines(c: &super::Category) -> Vec<(Outcome, String)> {
    c.checks
        .iter()
        .map(|c| (c.result, c.description.clone()))
        .collect()
}

#[test]
fn every_unhealthy_proxy_is_named() {
    let healthy = [
        proxy("a-0.default", "SYNCED"),
        proxy("b-0.default", "SYNCED"),
    ];
    assert_eq!(
        lines(&checks::proxies(&healthy, 100)),
        [
            (Outcome::Success, "all 2 proxies are connected".to_string()),
            (Outcome::Success, "all 2 proxies are SYNCED".to_string()),
            (
                Outcome::Success,
                "no proxy rejected its config (no NACK)".to_string()
            ),
        ]
    );
    let sick = [
        proxy("a-0.default", "DISCONNECTED"),
        proxy("b-0.default", "STALE"),
        proxy("c-0.default", "NACKED"),
        proxy("d-0.default", "SYNCED"),
    ];
    let category = checks::proxies(&sick, 100);
    assert_eq!(
        lines(&category),
        [
            (Outcome::Error, "a-0.default is connected".to_string()),
            (Outcome::Error, "b-0.default is SYNCED".to_string()),
            (
                Outcome::Error,
                "c-0.default accepted its config".to_string()
            ),
        ]
    );
    let nack = &category.checks[2];
    assert_eq!(
        nack.error.as_deref(),
        Some("c-0.default rejected config abc: listener inbound: address in use")
    );
    assert!(category.checks[0]
        .error
        .as_deref()
        .is_some_and(|e| e.contains("disconnected 10s ago")));
    assert!(!Report::new(vec![category]).success);
    let none = checks::proxies(&[], 100);
    assert_eq!(none.checks[0].result, Outcome::Warning);
}

#[tokio::test]
async fn an_installed_gateway_whose_proxy_is_missing_fails() {
    let spec = crate::profile::builtin("default")
        .and_then(|p| p.spec().ok())
        .expect("default profile");
    let install = InstallRecord::new("default", &spec);
    let category = checks::gateways(Some(&install), &[], &[]).await;
    assert_eq!(
        lines(&category),
        [
            (
                Outcome::Error,
                "the ingress gateway answers ready".to_string()
            ),
            (
                Outcome::Error,
                "the ingress gateway is connected".to_string()
            )
        ]
    );
    assert!(category.checks[0]
        .error
        .as_deref()
        .is_some_and(|e| e.contains("no process record names its health port")));
    let check = &category.checks[1];
    assert!(check.error.as_deref().is_some_and(
        |e| e.contains("the control plane lists no proxy istio-ingressgateway-0.istio-system")
    ));
    assert!(check
        .hint
        .as_deref()
        .is_some_and(|h| h.contains("logs/ingressGateway.log")));
    let minimal = crate::profile::builtin("minimal")
        .and_then(|p| p.spec().ok())
        .expect("minimal profile");
    let category = checks::gateways(Some(&InstallRecord::new("minimal", &minimal)), &[], &[]).await;
    assert_eq!(
        lines(&category),
        [(
            Outcome::Success,
            "no gateway is installed (profile minimal)".to_string()
        )]
    );
}

#[test]
fn renders_like_linkerd_check() {
    let report = Report::new(vec![
        Category {
            category_name: "meshctl-control-plane".into(),
            checks: vec![
                Check::ok("control plane answers on 127.0.0.1:15014"),
                Check::fail(
                    "control plane process is running",
                    "controlPlane (pid 42) is not running",
                    "`meshctl install` restarts it",
                ),
            ],
        },
        Category {
            category_name: "meshctl-data-plane".into(),
            checks: vec![Check::warn(
                "mTLS probe",
                "skipped: no workloads",
                "deploy some",
            )],
        },
    ]);
    assert!(!report.success);
    assert_eq!(report.failures(), 1);
    assert_eq!(
        report.render(Style::plain()),
        "meshctl-control-plane\n\
         ---------------------\n\
         √ control plane answers on 127.0.0.1:15014\n\
         × control plane process is running\n    \
         controlPlane (pid 42) is not running\n    \
         hint: `meshctl install` restarts it\n\
         \n\
         meshctl-data-plane\n\
         ------------------\n\
         ‼ mTLS probe\n    \
         skipped: no workloads\n    \
         hint: deploy some\n\
         \n\
         Status check results are ×\n"
    );
    let warn_only = Report::new(vec![Category {
        category_name: "x".into(),
        checks: vec![Check::warn("w", "e", "h")],
    }]);
    assert!(warn_only.success, "warnings do not fail the run");
}
