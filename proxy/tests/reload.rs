//! Applying new snapshots in-process: atomic swap, rejection of bad ones, listener changes,
//! state that carries over.

use std::time::Duration;

use mesh_proxy::testing::{fill, get, start_proxy, Backend};

const BASE: &str = r#"
version: "{version}"
listeners:
  - {name: out, address: "127.0.0.1:0", direction: outbound, routeConfig: out}
{extra_listener}
routes:
  - name: out
    virtualHosts:
      - name: svc
        domains: ["*"]
        routes: [{route: [{cluster: {target}}]}]
clusters:
  - {name: one, endpoints: [{address: "{one}"}]}
  - {name: two, endpoints: [{address: "{two}"}]}
"#;

fn snapshot(vars: &[(&str, String)]) -> mesh_api::snapshot::Snapshot {
    mesh_proxy::config::parse(std::path::Path::new("r.yaml"), &fill(BASE, vars))
        .expect("valid snapshot")
}

#[tokio::test]
async fn apply_switches_routing_and_keeps_the_socket() {
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    let vars = |target: &str, version: &str| {
        vec![
            ("version", version.to_string()),
            ("target", target.to_string()),
            ("one", one.addr.to_string()),
            ("two", two.addr.to_string()),
            ("extra_listener", String::new()),
        ]
    };
    let p = start_proxy(BASE, &vars("one", "1")).await;
    let out = p.listener_addr("out").expect("bound");
    assert_eq!(get(out, "http://svc/").await.backend(), Some("one"));
    p.apply(snapshot(&vars("two", "2"))).expect("applies");
    assert_eq!(
        p.listener_addr("out"),
        Some(out),
        "same listener, same socket"
    );
    assert_eq!(get(out, "http://svc/").await.backend(), Some("two"));
    assert_eq!(p.shared.config.load().snapshot.version, "2");
}

#[tokio::test]
async fn invalid_snapshot_is_rejected_whole() {
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    let vars = |target: &str| {
        vec![
            ("version", "1".to_string()),
            ("target", target.to_string()),
            ("one", one.addr.to_string()),
            ("two", two.addr.to_string()),
            ("extra_listener", String::new()),
        ]
    };
    let p = start_proxy(BASE, &vars("one")).await;
    let out = p.listener_addr("out").expect("bound");
    let mut bad = snapshot(&vars("two"));
    bad.routes[0].virtual_hosts[0].routes[0].route[0].cluster = "missing".into();
    let err = p.apply(bad).expect_err("rejected").to_string();
    assert!(
        err.contains(
            "routes[0].virtualHosts[0].routes[0].route[0].cluster: no cluster named \"missing\""
        ),
        "{err}"
    );
    assert_eq!(
        get(out, "http://svc/").await.backend(),
        Some("one"),
        "old config still serves"
    );
    let last = p
        .shared
        .last_error
        .lock()
        .expect("lock")
        .clone()
        .expect("error kept for /config_dump");
    assert!(last.contains("missing"));

    // A listener that cannot bind rejects the whole snapshot, routing change included.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut vars2 = vars("two");
    vars2[4] = (
        "extra_listener",
        format!(
            "  - {{name: extra, address: \"{}\", direction: inbound, routeConfig: out}}",
            taken.local_addr().expect("addr")
        ),
    );
    let err = p
        .apply(snapshot(&vars2))
        .expect_err("port in use")
        .to_string();
    assert!(
        err.contains("listener \"extra\": cannot listen on"),
        "{err}"
    );
    assert_eq!(
        get(out, "http://svc/").await.backend(),
        Some("one"),
        "nothing half-applied"
    );
}

#[tokio::test]
async fn listeners_are_added_and_removed() {
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    let base = vec![
        ("version", "1".to_string()),
        ("target", "one".to_string()),
        ("one", one.addr.to_string()),
        ("two", two.addr.to_string()),
    ];
    let with_extra = |extra: &str| {
        let mut v = base.clone();
        v.push(("extra_listener", extra.to_string()));
        v
    };
    let p = start_proxy(BASE, &with_extra("")).await;
    let extra = "  - {name: extra, address: \"127.0.0.1:0\", direction: inbound, routeConfig: out}";
    p.apply(snapshot(&with_extra(extra))).expect("applies");
    let extra_addr = p.listener_addr("extra").expect("new listener bound");
    assert_eq!(get(extra_addr, "http://svc/").await.backend(), Some("one"));
    p.apply(snapshot(&with_extra(""))).expect("applies");
    assert_eq!(p.listener_addr("extra"), None);
    // The removed listener stops accepting.
    mesh_proxy::testing::eventually(
        Duration::from_secs(5),
        "the removed listener refuses connections",
        || async {
            tokio::net::TcpStream::connect(extra_addr)
                .await
                .is_err()
                .then_some(())
        },
    )
    .await;
}
