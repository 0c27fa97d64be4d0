//! Bad-input tests for PeerAuthentication and AuthorizationPolicy rules.

mod common;
use common::{doc, expect, valid};

const SEC: &str = "security.istio.io/v1";

fn pa(body: &str) -> String {
    doc(SEC, "PeerAuthentication", body)
}
fn ap(body: &str) -> String {
    doc(SEC, "AuthorizationPolicy", body)
}

#[test]
fn port_level_mtls_requires_a_selector() {
    let text = pa("  mtls: {mode: STRICT}\n  portLevelMtls:\n    8080:\n      mode: DISABLE\n");
    expect(&text, 7, "spec.portLevelMtls", "requires a selector");
    valid(&pa("  selector:\n    matchLabels: {app: reviews}\n  portLevelMtls:\n    8080:\n      mode: DISABLE\n"));
}

#[test]
fn unknown_mtls_mode() {
    expect(
        &pa("  mtls:\n    mode: STRICTEST\n"),
        7,
        "spec.mtls.mode",
        "unknown variant `STRICTEST`",
    );
}

#[test]
fn deny_with_no_rules_is_fine() {
    valid(&ap("  action: DENY\n"));
    valid(&ap("  {}\n"));
}

#[test]
fn custom_requires_a_provider() {
    expect(
        &ap("  action: CUSTOM\n  rules:\n  - to:\n    - operation: {paths: [\"/admin\"]}\n"),
        5,
        "spec.provider",
        "required when action is CUSTOM",
    );
    valid(&ap("  action: CUSTOM\n  provider: {name: ext-authz}\n  rules:\n  - to:\n    - operation: {paths: [\"/admin\"]}\n"));
    expect(
        &ap("  action: ALLOW\n  provider: {name: x}\n"),
        7,
        "spec.provider",
        "only valid with action: CUSTOM",
    );
}

#[test]
fn when_keys_must_be_non_empty_and_known() {
    let text = ap(concat!(
        "  rules:\n",
        "  - when:\n",
        "    - key: \"\"\n",
        "      values: [a]\n",
        "    - key: request.headers[]\n",
        "      values: [a]\n",
        "    - key: request.auth.claims[iss]\n",
        "      values: [a]\n",
        "    - key: source.ip\n",
    ));
    expect(&text, 8, "spec.rules[0].when[0].key", "required");
    expect(
        &text,
        10,
        "spec.rules[0].when[1].key",
        "unknown condition key",
    );
    expect(
        &text,
        14,
        "spec.rules[0].when[3]",
        "set values or notValues",
    );
}

#[test]
fn sources_and_operations() {
    let text = ap(concat!(
        "  rules:\n",
        "  - from:\n",
        "    - source: {}\n",
        "    - source:\n",
        "        ipBlocks: [\"10.0.0.0/33\"]\n",
        "        principals: [\"\"]\n",
        "    to:\n",
        "    - operation:\n",
        "        ports: [\"http\"]\n",
        "        methods: [GET]\n",
    ));
    expect(
        &text,
        8,
        "spec.rules[0].from[0].source",
        "at least one field",
    );
    expect(
        &text,
        10,
        "spec.rules[0].from[1].source.ipBlocks[0]",
        "not an IP address or CIDR",
    );
    expect(
        &text,
        11,
        "spec.rules[0].from[1].source.principals[0]",
        "must not be empty",
    );
    expect(
        &text,
        14,
        "spec.rules[0].to[0].operation.ports[0]",
        "not a port number",
    );
}

#[test]
fn unknown_action_and_unknown_source_field() {
    expect(
        &ap("  action: PERMIT\n"),
        6,
        "spec.action",
        "unknown variant `PERMIT`",
    );
    expect(
        &ap("  rules:\n  - from:\n    - source:\n        principal: [a]\n"),
        9,
        "spec.rules[0].from[0].source.principal",
        "unknown field `principal`",
    );
}
