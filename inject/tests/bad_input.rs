//! Bad input gets a clear error (file, line, column where there is one) and no output;
//! documents that are not ours to change come out byte for byte.

use mesh_inject::{
    inject, inject_stream, uninject, Decision, InjectError, InjectOptions, SkipReason,
};

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: nginx\n";

fn opts() -> InjectOptions {
    InjectOptions::default()
}

#[test]
fn invalid_yaml_names_file_line_and_column() {
    let text = format!("{POD}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: x\nspec: {{}}\n");
    let err = inject("app.yaml", &text, &opts()).expect_err("invalid");
    let InjectError::Yaml { file, line, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((file.as_str(), *line), ("app.yaml", 13), "{err}");
    assert!(err.to_string().starts_with("app.yaml:13:5:"), "{err}");
}

#[test]
fn duplicate_keys_are_an_error() {
    let err = inject("d.yaml", "kind: Pod\nkind: Service\n", &opts()).expect_err("duplicate");
    assert!(
        matches!(
            &err,
            InjectError::Yaml {
                line: 2,
                column: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn non_utf8_is_reported_with_its_position() {
    let mut bytes = POD.as_bytes().to_vec();
    bytes.extend_from_slice(b"---\nkind: ConfigMap\ndata: {a: \"\xff\"}\n");
    let mut out = Vec::new();
    let err = inject_stream("bin.yaml", &bytes[..], &mut out, &opts(), &mut |_| {})
        .expect_err("not UTF-8");
    assert!(
        matches!(
            &err,
            InjectError::NotUtf8 {
                line: 11,
                column: 12,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("save the file as UTF-8"), "{err}");
}

#[test]
fn a_document_that_is_not_a_mapping() {
    let err = inject("l.yaml", "- a\n- b\n", &opts()).expect_err("not a mapping");
    assert!(
        err.to_string()
            .contains("the document is a sequence, not a mapping"),
        "{err}"
    );
    let list = "apiVersion: v1\nkind: List\nitems:\n- hello\n";
    let err = inject("l.yaml", list, &opts()).expect_err("item not a mapping");
    assert!(
        err.to_string().contains("item 0 of the List is a scalar"),
        "{err}"
    );
}

#[test]
fn a_workload_without_a_pod_template() {
    let text =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  replicas: 2\n";
    let err = inject("d.yaml", text, &opts()).expect_err("no template");
    assert!(
        matches!(&err, InjectError::NoPodTemplate { path, .. } if path == "spec.template"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("Deployment api has no pod template at spec.template"),
        "{err}"
    );
    let cron = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec: {}\n";
    let err = inject("c.yaml", cron, &opts()).expect_err("no template");
    assert!(
        err.to_string().contains("spec.jobTemplate.spec.template"),
        "{err}"
    );
    let no_containers = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n";
    let err = inject("p.yaml", no_containers, &opts()).expect_err("no containers");
    assert!(
        err.to_string().contains("spec.containers must be a list"),
        "{err}"
    );
}

#[test]
fn an_invalid_annotation_fails_the_whole_file() {
    let bad = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  annotations:\n    traffic.sidecar.istio.io/excludeOutboundPorts: \"80,http\"\nspec:\n  containers: [{name: a, image: b}]\n";
    let text = format!("{POD}---\n{bad}");
    let err = inject("two.yaml", &text, &opts()).expect_err("bad annotation");
    let msg = err.to_string();
    for part in [
        "two.yaml:15",
        "Pod bad",
        "traffic.sidecar.istio.io/excludeOutboundPorts",
        "\"80,http\"",
        "\"http\" is not a port number",
    ] {
        assert!(msg.contains(part), "{part:?} missing from: {msg}");
    }
}

#[test]
fn other_documents_pass_through_byte_for_byte() {
    let text = "# a comment\nkind: Service   # odd spacing kept\napiVersion: v1\nmetadata: {name: s}\n---\n# a custom resource named like a workload\napiVersion: example.com/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{name: x}]}}}\n---\n\n...\n";
    let out = inject("p.yaml", text, &opts()).expect("passes");
    assert_eq!(out.yaml, text);
    assert!(out.templates.is_empty());
    assert_eq!(inject("e.yaml", "", &opts()).expect("empty").yaml, "");
}

#[test]
fn comments_around_an_injected_document_are_kept() {
    let text =
        format!("# header\n---\n# about web\n{POD}# after web\n---\nkind: ConfigMap # kept\n");
    let out = inject("c.yaml", &text, &opts()).expect("injects");
    assert!(
        out.yaml
            .starts_with("# header\n---\n# about web\napiVersion: v1\n"),
        "{}",
        out.yaml
    );
    assert!(
        out.yaml
            .ends_with("# after web\n---\nkind: ConfigMap # kept\n"),
        "{}",
        out.yaml
    );
    let back = uninject("c.yaml", &out.yaml).expect("uninjects");
    assert_eq!(
        back.yaml, text,
        "uninjection of an untouched file restores its text"
    );
}

#[test]
fn skips_warn_naming_the_workload_and_reason() {
    let text = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: kube-system}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: b}]\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: node\n  labels: {sidecar.istio.io/inject: \"false\"}\n  annotations: {sidecar.istio.io/inject: \"true\"}\nspec:\n  containers: [{name: a, image: b}]\n";
    let out = inject("s.yaml", text, &opts()).expect("skips");
    assert_eq!(out.yaml, text);
    assert_eq!(
        out.templates[0].decision,
        Decision::Skipped(SkipReason::SystemNamespace("kube-system".into()))
    );
    assert_eq!(
        out.warnings(),
        [
            "skipping injection of DaemonSet kube-system/agent: namespace kube-system is a system namespace",
            "skipping injection of Pod node: the pod template's label sidecar.istio.io/inject is \"false\"",
        ]
    );
}

#[test]
fn streaming_writes_the_same_as_the_string_api() {
    let text = format!("{POD}---\nkind: Service\n---\n{POD}");
    let mut out = Vec::new();
    let mut seen = 0;
    inject_stream("s.yaml", text.as_bytes(), &mut out, &opts(), &mut |_| {
        seen += 1
    })
    .expect("injects");
    assert_eq!(seen, 2);
    let whole = inject("s.yaml", &text, &opts()).expect("injects").yaml;
    assert_eq!(String::from_utf8(out).expect("utf-8"), whole);
}

/// Documents are injected on several threads: a file far larger than one batch comes out
/// exactly as its documents one by one would, reports in input order, and an error deep in
/// the file stops it with the reports of everything before it (and its own line).
#[test]
fn many_documents_keep_their_order_across_worker_threads() {
    let doc = |i: usize| {
        match i % 3 {
        0 => format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\nspec:\n  containers:\n  - name: app\n    image: nginx:{i}\n"),
        1 => format!("apiVersion: v1\nkind: Service\nmetadata: {{name: s{i}}}   # kept as is\n"),
        _ => format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: h{i}\nspec:\n  hostNetwork: true\n  containers: [{{name: a, image: b}}]\n"),
    }
    };
    let docs: Vec<String> = (0..3000).map(doc).collect();
    let text = docs.join("---\n");
    assert!(text.len() > 4 * 64 * 1024, "spans many batches");
    let mut names = Vec::new();
    let mut out = Vec::new();
    inject_stream("big.yaml", text.as_bytes(), &mut out, &opts(), &mut |t| {
        names.push(t.workload.name.clone())
    })
    .expect("injects");
    let expected: Vec<String> = (0..3000)
        .filter(|i| i % 3 != 1)
        .map(|i| format!("{}{i}", if i % 3 == 0 { "p" } else { "h" }))
        .collect();
    assert_eq!(names, expected, "reports in input order");
    let one_by_one: Vec<String> = docs
        .iter()
        .map(|d| inject("big.yaml", d, &opts()).expect("injects").yaml)
        .collect();
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        one_by_one.join("---\n"),
        "output in input order"
    );

    // An invalid document at index 2400: everything before it reported, then its error.
    let mut broken = docs.clone();
    broken[2400] = "apiVersion: v1\nkind: Pod\nmetadata: {name: bad\n".into();
    let text = broken.join("---\n");
    let mut reported = 0;
    let err = inject_stream(
        "big.yaml",
        text.as_bytes(),
        std::io::sink(),
        &opts(),
        &mut |_| reported += 1,
    )
    .expect_err("invalid YAML");
    assert_eq!(reported, (0..2400).filter(|i| i % 3 != 1).count());
    let line = 1 + broken[..2400]
        .iter()
        .map(|d| d.lines().count() + 1)
        .sum::<usize>();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("big.yaml:{}", line + 2))
            || msg.contains(&format!("big.yaml:{}", line + 2)),
        "{msg} (document starts at line {line})"
    );
}
