//! Bad-input tests for DestinationRule, Gateway and ServiceEntry rules: each asserts the
//! field path and the line the problem is reported at.

mod common;
use common::{doc, expect, problems, valid};

const NET: &str = "networking.istio.io/v1";

fn dr(body: &str) -> String {
    doc(NET, "DestinationRule", body)
}
fn gw(body: &str) -> String {
    doc(NET, "Gateway", body)
}
fn se(body: &str) -> String {
    doc(NET, "ServiceEntry", body)
}

#[test]
fn destination_rule_host_required_and_wildcards() {
    expect(&dr("  subsets: []\n"), 5, "spec.host", "required");
    valid(&dr("  host: \"*\"\n"));
    valid(&dr("  host: \"*.example.com\"\n"));
    expect(
        &dr("  host: reviews.*\n"),
        6,
        "spec.host",
        "only allowed as the first character",
    );
}

#[test]
fn subset_without_name() {
    let text = dr("  host: r\n  subsets:\n  - labels: {version: v1}\n");
    expect(&text, 8, "spec.subsets[0].name", "required");
}

#[test]
fn duplicate_subset_names() {
    let text = dr("  host: r\n  subsets:\n  - name: v1\n  - name: v2\n  - name: v1\n");
    expect(
        &text,
        10,
        "spec.subsets[2].name",
        "duplicate subset name \"v1\"",
    );
}

#[test]
fn unknown_enum_value_is_rejected() {
    let text = dr("  host: r\n  trafficPolicy:\n    loadBalancer:\n      simple: FASTEST\n");
    expect(
        &text,
        9,
        "spec.trafficPolicy.loadBalancer.simple",
        "unknown variant `FASTEST`",
    );
}

#[test]
fn load_balancer_simple_and_consistent_hash() {
    let text = dr("  host: r\n  trafficPolicy:\n    loadBalancer:\n      simple: RANDOM\n      consistentHash:\n        httpHeaderName: x-user\n        useSourceIp: true\n");
    expect(&text, 8, "spec.trafficPolicy.loadBalancer", "not both");
    expect(
        &text,
        10,
        "spec.trafficPolicy.loadBalancer.consistentHash",
        "exactly one",
    );
}

#[test]
fn outlier_detection_and_pool_ranges() {
    let text = dr(concat!(
        "  host: r\n",
        "  trafficPolicy:\n",
        "    connectionPool:\n",
        "      tcp: {maxConnections: -1, connectTimeout: 1s}\n",
        "      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1, h2UpgradePolicy: UPGRADE}\n",
        "    outlierDetection:\n",
        "      consecutive5xxErrors: -1\n",
        "      interval: 1s\n",
        "      baseEjectionTime: 3m\n",
        "      maxEjectionPercent: 101\n",
    ));
    expect(
        &text,
        9,
        "spec.trafficPolicy.connectionPool.tcp.maxConnections",
        "must be >= 0",
    );
    expect(
        &text,
        12,
        "spec.trafficPolicy.outlierDetection.consecutive5xxErrors",
        "must be >= 0",
    );
    expect(
        &text,
        15,
        "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
        "must be 0..=100",
    );
}

#[test]
fn port_level_settings_need_a_port() {
    let text =
        dr("  host: r\n  trafficPolicy:\n    portLevelSettings:\n    - tls: {mode: SIMPLE}\n");
    expect(
        &text,
        9,
        "spec.trafficPolicy.portLevelSettings[0].port",
        "required",
    );
}

#[test]
fn mutual_tls_needs_certificates() {
    let text = dr("  host: r\n  subsets:\n  - name: v1\n    trafficPolicy:\n      tls:\n        mode: MUTUAL\n");
    expect(
        &text,
        10,
        "spec.subsets[0].trafficPolicy.tls.clientCertificate",
        "required for MUTUAL",
    );
}

#[test]
fn gateway_needs_servers() {
    expect(
        &gw("  selector: {istio: ingressgateway}\n"),
        5,
        "spec.servers",
        "required",
    );
}

#[test]
fn gateway_server_port_required_and_in_range() {
    let text = gw("  servers:\n  - hosts: [\"*\"]\n  - port: {number: 70000, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n");
    expect(&text, 7, "spec.servers[0].port", "required");
    expect(&text, 8, "spec.servers[1].port.number", "1..=65535");
}

#[test]
fn gateway_server_hosts_and_protocol() {
    let text = gw("  servers:\n  - port: {number: 80, name: http, protocol: HTTPX}\n    hosts:\n    - \"\"\n    - \"ns/a*b\"\n");
    expect(
        &text,
        7,
        "spec.servers[0].port.protocol",
        "unknown protocol",
    );
    expect(&text, 9, "spec.servers[0].hosts[0]", "must not be empty");
    expect(&text, 10, "spec.servers[0].hosts[1]", "wildcard");
}

#[test]
fn gateway_https_needs_tls_with_credentials() {
    let text = gw("  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls:\n      mode: SIMPLE\n");
    expect(
        &text,
        9,
        "spec.servers[0].tls.serverCertificate",
        "unless credentialName",
    );
    valid(&gw("  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: {mode: SIMPLE, credentialName: cert}\n"));
}

#[test]
fn service_entry_hosts_and_ports() {
    let text = se("  hosts: [\"*\"]\n  ports:\n  - {number: 0, name: http, protocol: HTTP}\n  - {number: 443, name: http, protocol: HTTPS}\n  resolution: DNS\n");
    expect(&text, 6, "spec.hosts[0]", "not allowed in a ServiceEntry");
    expect(&text, 8, "spec.ports[0].number", "1..=65535");
    expect(&text, 9, "spec.ports[1].name", "duplicate port name");
}

#[test]
fn service_entry_static_needs_endpoints() {
    let text = se("  hosts: [db.internal]\n  location: MESH_INTERNAL\n  resolution: STATIC\n");
    expect(
        &text,
        5,
        "spec.endpoints",
        "required with resolution STATIC",
    );
    let bad_enum = se("  hosts: [db.internal]\n  resolution: DNS_RANDOM\n");
    expect(
        &bad_enum,
        7,
        "spec.resolution",
        "unknown variant `DNS_RANDOM`",
    );
    assert_eq!(problems(&bad_enum).len(), 1);
}
