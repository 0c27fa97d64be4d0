//! Reading documents: empty documents, kinds and apiVersions, Kubernetes metadata, and
//! problems that stop a document from being read (syntax, encoding, unknown kinds).

mod common;
use common::{expect, problems};
use mesh_api::istio::{load_bytes, parse_documents, Kind, Resource};

const GATEWAY: &str = "apiVersion: networking.istio.io/v1alpha3\nkind: Gateway\nmetadata:\n  name: gw\nspec:\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n";

#[test]
fn empty_documents_are_skipped_and_starts_remembered() {
    let text = format!("# leading comment\n---\n---\n# only comments\n---\n{GATEWAY}---\n...\n");
    let parsed = parse_documents("gw.yaml", &text).expect("parses");
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].resource.kind(), Kind::Gateway);
    assert_eq!(parsed[0].pos.line, 5, "the gateway's `---` is on line 5");
    assert_eq!(parsed[0].file, "gw.yaml");
    assert!(parse_documents("e.yaml", "")
        .expect("empty file")
        .is_empty());
    assert!(parse_documents("e.yaml", "# nothing\n")
        .expect("comments only")
        .is_empty());
}

#[test]
fn every_supported_api_version_is_accepted() {
    for v in [
        "networking.istio.io/v1",
        "networking.istio.io/v1beta1",
        "networking.istio.io/v1alpha3",
    ] {
        let text = GATEWAY.replace("networking.istio.io/v1alpha3", v);
        assert_eq!(parse_documents("f", &text).expect(v).len(), 1);
    }
    for v in ["security.istio.io/v1", "security.istio.io/v1beta1"] {
        let text = format!("apiVersion: {v}\nkind: PeerAuthentication\nmetadata: {{name: p}}\nspec: {{mtls: {{mode: STRICT}}}}\n");
        let parsed = parse_documents("f", &text).expect(v);
        assert_eq!(parsed[0].resource.kind(), Kind::PeerAuthentication);
        assert_eq!(parsed[0].resource.api_version(), v);
    }
}

#[test]
fn unknown_kind_names_it_and_lists_supported_ones() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n";
    let all = problems(text);
    let s = all.to_string();
    assert!(
        s.starts_with("t.yaml:2:1: kind: unsupported apiVersion/kind \"apps/v1\"/\"Deployment\""),
        "{s}"
    );
    assert!(
        s.contains("VirtualService") && s.contains("security.istio.io/v1beta1"),
        "{s}"
    );
}

#[test]
fn kind_in_the_wrong_api_group() {
    let text =
        "apiVersion: networking.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\n";
    expect(
        text,
        2,
        "kind",
        "use one of: security.istio.io/v1, security.istio.io/v1beta1",
    );
}

#[test]
fn missing_api_version_and_non_mapping_documents() {
    expect(
        "kind: Gateway\nmetadata: {name: g}\n",
        1,
        "apiVersion",
        "required",
    );
    let s = problems("- just\n- a list\n").to_string();
    assert!(
        s.starts_with("t.yaml:1:1: a document must be a mapping"),
        "{s}"
    );
}

#[test]
fn invalid_yaml_reports_line_and_column_and_keeps_earlier_documents() {
    let text = format!(
        "{GATEWAY}---\napiVersion: networking.istio.io/v1\nkind: Gateway\nspec: [1\nmetadata: 2\n"
    );
    let all = problems(&text);
    assert_eq!(all.len(), 1, "{all}");
    let d = &all.0[0];
    assert!(d.message.starts_with("invalid YAML"), "{d}");
    assert!(d.pos.line >= 12, "{d}");
    assert!(d.pos.column >= 1, "{d}");
}

#[test]
fn non_utf8_reports_line_and_column() {
    let mut bytes =
        b"apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: g\xff\n".to_vec();
    let all = load_bytes("bin.yaml", &bytes).expect_err("not UTF-8");
    assert_eq!(
        all.to_string(),
        "bin.yaml:4:10: file is not valid UTF-8; save it as UTF-8"
    );
    bytes.truncate(bytes.len() - 2);
    bytes.push(b'\n');
    let all = load_bytes("bin.yaml", &bytes).expect_err("valid UTF-8 but no spec");
    assert!(all.to_string().contains("spec.servers"), "{all}");
}

#[test]
fn kubernetes_metadata_and_status_are_tolerated() {
    let text = concat!(
        "apiVersion: security.istio.io/v1\n",
        "kind: AuthorizationPolicy\n",
        "metadata:\n",
        "  name: deny-all\n",
        "  namespace: prod\n",
        "  labels: {team: a}\n",
        "  resourceVersion: \"123\"\n",
        "  uid: 0b1c\n",
        "  generation: 2\n",
        "  creationTimestamp: \"2024-01-01T00:00:00Z\"\n",
        "  managedFields:\n",
        "  - manager: kubectl\n",
        "    fieldsV1: {f:spec: {}}\n",
        "spec: {action: DENY}\n",
        "status: {validationMessages: []}\n",
    );
    let parsed = parse_documents("f", text).expect("tolerated");
    let r = &parsed[0].resource;
    assert_eq!((r.name(), r.namespace()), ("deny-all", "prod"));
    assert_eq!(
        r.metadata().labels.get("team").map(String::as_str),
        Some("a")
    );
    let Resource::AuthorizationPolicy(ap) = r else {
        panic!("expected an AuthorizationPolicy")
    };
    assert_eq!(ap.spec.action, mesh_api::istio::security::Action::Deny);
}

#[test]
fn unknown_top_level_field_is_rejected() {
    let text = format!("{GATEWAY}spek: {{}}\n");
    expect(&text, 9, "spek", "unknown field `spek`");
}

#[test]
fn one_bad_document_does_not_hide_the_others() {
    let bad = GATEWAY.replace("number: 80", "number: eighty");
    let text = format!(
        "{bad}---\n{}",
        GATEWAY.replace("hosts: [\"*\"]", "hosts: [\"\"]")
    );
    let all = problems(&text);
    assert_eq!(all.len(), 2, "{all}");
    assert!(
        all.0[0].path == "spec.servers[0].port.number" && all.0[0].pos.line == 7,
        "{all}"
    );
    assert!(
        all.0[1].path == "spec.servers[0].hosts[0]" && all.0[1].pos.line == 17,
        "{all}"
    );
}

#[test]
fn old_mac_line_endings_keep_documents_and_lines_apart() {
    let text = "apiVersion: networking.istio.io/v1\rkind: Gateway\rmetadata: {name: a}\rspec:\r  servers: []\r---\rapiVersion: networking.istio.io/v1\rkind: Gateway\rmetadata: {name: b}\rspec:\r  servers: [{hosts: [\"*\"]}]\r";
    let all = problems(text);
    let s = all.to_string();
    assert_eq!(all.len(), 2, "{s}");
    assert!(s.contains("t.yaml:5:3: spec.servers: required"), "{s}");
    assert!(
        s.contains("t.yaml:11:13: spec.servers[0].port: required"),
        "{s}"
    );
}

#[test]
fn numbers_where_istio_takes_strings_and_quoted_port_keys() {
    let text = concat!(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\n",
        "spec:\n  rules:\n  - to:\n    - operation: {ports: [8080]}\n",
        "---\n",
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p}\n",
        "spec:\n  selector: {matchLabels: {app: a}}\n  portLevelMtls:\n    \"8080\": {mode: STRICT}\n",
    );
    assert_eq!(mesh_api::istio::load("f", text).expect("valid").len(), 2);
}

#[test]
fn duplicate_keys_are_rejected_in_yaml_authors_terms() {
    let text = GATEWAY.replace("  servers:\n", "  selector: {a: b}\n  servers:\n")
        + "  selector: {c: d}\n";
    let all = problems(&text);
    let s = all.to_string();
    assert!(s.contains("t.yaml:10:3: spec.selector: duplicate mapping key: selector (each field may appear only once)"), "{s}");
}

#[test]
fn empty_required_value_is_explained_in_yaml_terms() {
    let text = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: r\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination:\n        host:\n";
    let err = mesh_api::istio::load("empty.yaml", text).expect_err("an empty host is an error");
    let s = err.to_string();
    assert!(s.contains("empty.yaml:10:"), "{s}");
    assert!(s.contains("a value is required here"), "{s}");
    assert!(
        !s.contains("Option<"),
        "no Rust type names in user messages: {s}"
    );
}

#[test]
fn names_and_namespaces_follow_kubernetes_rules() {
    let doc = |name: &str, ns: &str| {
        format!("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  host: reviews\n")
    };
    assert!(mesh_api::istio::load("ok.yaml", &doc("reviews.v1-a", "bookinfo")).is_ok());
    for (name, ns, path) in [
        ("Reviews", "default", "metadata.name"),
        ("a..b", "default", "metadata.name"),
        ("-x", "default", "metadata.name"),
        ("ok", "Prod", "metadata.namespace"),
        ("ok", "a.b", "metadata.namespace"),
    ] {
        let err = mesh_api::istio::load("bad.yaml", &doc(name, ns))
            .expect_err(name)
            .to_string();
        assert!(err.contains(path), "{name}/{ns}: {err}");
        assert!(err.contains("bad.yaml:"), "{err}");
    }
}
