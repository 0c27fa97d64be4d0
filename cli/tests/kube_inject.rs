//! `meshctl kube-inject` with the real binary: injection of a Deployment, idempotence,
//! `--uninject`, stdin/stdout, the profile and flags, every kind of bad input (exit 1, the
//! position or the workload named, no output file), skips with a warning, and a handful of
//! Istio's own injection fixtures (read in place) with Istio's decision.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{run_plain, Run};

const DEPLOYMENT: &str = "\
# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
        version: v1
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
        env:
        - name: PORT
          value: \"80\"
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector:
    app: web
  ports:
  - port: 80
";

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write input");
    path
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn inject(args: &[&str]) -> Run {
    let mut all = vec!["kube-inject"];
    all.extend_from_slice(args);
    run_plain(&all, None)
}

/// The documents of a YAML stream, parsed by serde-saphyr (not the injector's own parser).
fn docs(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml)
        .unwrap_or_else(|e| panic!("output parses: {e}\n{yaml}"))
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

/// (kind, name, pod template) of every workload, List items included.
fn templates(yaml: &str) -> Vec<(String, String, Value)> {
    fn walk(doc: &Value, out: &mut Vec<(String, String, Value)>) {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        let name = doc["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let template = match kind.as_str() {
            "List" => {
                for item in doc["items"].as_array().into_iter().flatten() {
                    walk(item, out);
                }
                return;
            }
            "Pod" => doc.clone(),
            "CronJob" => doc["spec"]["jobTemplate"]["spec"]["template"].clone(),
            _ => doc["spec"]["template"].clone(),
        };
        if template.is_object() {
            out.push((kind, name, template));
        }
    }
    let mut out = Vec::new();
    for d in docs(yaml) {
        walk(&d, &mut out);
    }
    out
}

fn container_names(template: &Value, list: &str) -> Vec<String> {
    template["spec"][list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(String::from))
        .collect()
}

/// Only `keep` is left in `dir`: no temporary file stayed behind.
#[track_caller]
fn only_files(dir: &Path, keep: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want, "files in {}", dir.display());
}

#[test]
fn a_deployment_is_injected_idempotently_and_uninjected_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write(dir.path(), "app.yaml", DEPLOYMENT);
    let out = dir.path().join("injected.yaml");
    inject(&["-f", s(&input), "-o", s(&out)]).expect_code(0);
    let injected = std::fs::read_to_string(&out).expect("output written");

    let before = templates(DEPLOYMENT);
    let after = templates(&injected);
    assert_eq!(after.len(), 1, "{injected}");
    let (kind, name, t) = &after[0];
    assert_eq!((kind.as_str(), name.as_str()), ("Deployment", "web"));
    assert_eq!(container_names(t, "containers"), ["web", "istio-proxy"]);
    assert_eq!(container_names(t, "initContainers"), ["istio-init"]);
    assert_eq!(
        t["spec"]["containers"][0], before[0].2["spec"]["containers"][0],
        "the app container is unchanged"
    );
    let status = t["metadata"]["annotations"]["sidecar.istio.io/status"]
        .as_str()
        .expect("status annotation");
    let status: Value = serde_json::from_str(status).expect("status is JSON");
    assert_eq!(status["containers"][0], "istio-proxy", "{status}");
    assert!(
        injected.contains("mesh-controlplane.mesh-system.svc:15012"),
        "{injected}"
    );
    // The Service passes through byte for byte, after the Deployment.
    let service = &DEPLOYMENT[DEPLOYMENT.find("---\n").expect("marker")..];
    assert!(injected.ends_with(service), "{injected}");
    assert!(injected.starts_with("# the web tier\n"), "{injected}");

    // Again: byte-identical.
    let again = dir.path().join("again.yaml");
    inject(&["-f", s(&out), "--output", s(&again)]).expect_code(0);
    assert_eq!(std::fs::read_to_string(&again).expect("again"), injected);

    // --uninject: the same documents as the input.
    let back = inject(&["--uninject", "--filename", s(&out)]);
    back.expect_code(0);
    assert_eq!(docs(&back.stdout), docs(DEPLOYMENT), "{}", back.stdout);
    only_files(dir.path(), &["app.yaml", "injected.yaml", "again.yaml"]);
}

#[test]
fn stdin_to_stdout_matches_the_file_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write(dir.path(), "app.yaml", DEPLOYMENT);
    let from_file = inject(&["-f", s(&input)]);
    from_file.expect_code(0);
    let piped = run_plain(&["kube-inject", "-f", "-"], Some(DEPLOYMENT.as_bytes()));
    piped.expect_code(0);
    assert_eq!(piped.stdout, from_file.stdout);
    assert!(piped.stderr.is_empty(), "{}", piped.stderr);
    let back = run_plain(
        &["kube-inject", "--uninject", "-f", "-"],
        Some(piped.stdout.as_bytes()),
    );
    back.expect_code(0);
    assert_eq!(docs(&back.stdout), docs(DEPLOYMENT));
}

#[test]
fn the_profile_set_and_flags_choose_image_and_control_plane() {
    let moved = run_plain(
        &[
            "kube-inject",
            "-f",
            "-",
            "--set",
            "values.controlPlane.xdsTlsPort=25012",
            "--proxy-image",
            "registry.example.com/mesh-proxy:9",
        ],
        Some(DEPLOYMENT.as_bytes()),
    );
    moved.expect_code(0);
    assert!(
        moved
            .stdout
            .contains("mesh-controlplane.mesh-system.svc:25012"),
        "{}",
        moved.stdout
    );
    assert!(
        moved
            .stdout
            .contains("image: registry.example.com/mesh-proxy:9"),
        "{}",
        moved.stdout
    );
    let flag = run_plain(
        &[
            "kube-inject",
            "-f",
            "-",
            "--control-plane",
            "cp.example:443",
        ],
        Some(DEPLOYMENT.as_bytes()),
    );
    flag.expect_code(0);
    assert!(flag.stdout.contains("cp.example:443"), "{}", flag.stdout);

    // A bad --set is the install's error, exit 1; bad flags are usage errors.
    let bad = inject(&["-f", "-", "--set", "values.controlPlane.xdsTlsPort=x"]);
    bad.expect_code(1);
    assert!(bad.stderr.contains("xdsTlsPort"), "{}", bad.stderr);
    inject(&["-f", "-", "--control-plane", "nope"]).expect_code(2);
    inject(&["-f", "-", "--profile", "nope"]).expect_code(2);
    inject(&["-f", "-", "--uninject", "--proxy-image", "x:1"]).expect_code(2);
    inject(&[]).expect_code(2);
    let help = inject(&["--help"]);
    help.expect_code(0);
    assert!(help.stdout.contains("Examples:"), "{}", help.stdout);
}

#[test]
fn invalid_yaml_fails_with_its_position_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A good first document: streaming has already produced output when the second fails.
    let text = format!("{DEPLOYMENT}---\napiVersion: v1\nkind: ConfigMap\ndata: [a, b\n");
    let input = write(dir.path(), "bad.yaml", &text);
    let out = dir.path().join("out.yaml");
    let run = inject(&["-f", s(&input), "-o", s(&out)]);
    run.expect_code(1);
    let line = text.lines().count();
    assert!(
        run.stderr.contains(&format!("{}:{line}:", s(&input))),
        "file:line:column in {}",
        run.stderr
    );
    assert!(run.stderr.contains("invalid YAML"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(!out.exists(), "no output file");
    only_files(dir.path(), &["bad.yaml"]);

    // An existing output file is left as it was.
    std::fs::write(&out, "old\n").expect("old output");
    inject(&["-f", s(&input), "-o", s(&out)]).expect_code(1);
    assert_eq!(std::fs::read_to_string(&out).expect("old"), "old\n");
    only_files(dir.path(), &["bad.yaml", "out.yaml"]);

    // To stdout: nothing at all, not the first document.
    let piped = run_plain(&["kube-inject", "-f", "-"], Some(text.as_bytes()));
    piped.expect_code(1);
    assert!(piped.stdout.is_empty(), "{}", piped.stdout);
    assert!(piped.stderr.contains("<stdin>:"), "{}", piped.stderr);
}

#[test]
fn other_bad_input_fails_clearly_and_writes_nothing() {
    let no_template =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n";
    let cases: [(&str, &[u8], &str); 4] = [
        ("list.yaml", b"- a\n- b\n", "not a mapping"),
        ("scalar.yaml", b"just text\n", "not a mapping"),
        ("notemplate.yaml", no_template.as_bytes(), "no pod template"),
        (
            "latin1.yaml",
            b"apiVersion: v1\nkind: ConfigMap\ndata:\n  a: caf\xe9\n",
            "not valid UTF-8",
        ),
    ];
    for (name, text, message) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = write(dir.path(), name, text);
        let out = dir.path().join("out.yaml");
        let run = inject(&["-f", s(&input), "-o", s(&out)]);
        run.expect_code(1);
        assert!(run.stderr.contains(message), "{name}: {}", run.stderr);
        assert!(run.stderr.contains(s(&input)), "{name}: {}", run.stderr);
        only_files(dir.path(), &[name]);
    }
    let missing = inject(&["-f", "/nonexistent/app.yaml"]);
    missing.expect_code(1);
    assert!(
        missing.stderr.contains("/nonexistent/app.yaml"),
        "{}",
        missing.stderr
    );
}

#[test]
fn an_invalid_traffic_annotation_names_it_and_writes_nothing() {
    let text = DEPLOYMENT.replace(
        "    metadata:\n      labels:\n",
        "    metadata:\n      annotations:\n        traffic.sidecar.istio.io/excludeInboundPorts: \"80,http\"\n      labels:\n",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write(dir.path(), "app.yaml", &text);
    let out = dir.path().join("out.yaml");
    let run = inject(&["-f", s(&input), "-o", s(&out)]);
    run.expect_code(1);
    for part in [
        "traffic.sidecar.istio.io/excludeInboundPorts",
        "Deployment shop/web",
        "80,http",
    ] {
        assert!(run.stderr.contains(part), "{part} in {}", run.stderr);
    }
    only_files(dir.path(), &["app.yaml"]);
    let piped = run_plain(&["kube-inject", "-f", "-"], Some(text.as_bytes()));
    piped.expect_code(1);
    assert!(piped.stdout.is_empty(), "{}", piped.stdout);
}

#[test]
fn a_kube_system_workload_is_skipped_with_a_warning() {
    let text = DEPLOYMENT.replace("namespace: shop", "namespace: kube-system");
    let run = run_plain(&["kube-inject", "-f", "-"], Some(text.as_bytes()));
    run.expect_code(0);
    assert_eq!(run.stdout, text, "passed through byte for byte");
    let warnings: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].contains("Deployment kube-system/web")
            && warnings[0].contains("kube-system is a system namespace"),
        "{}",
        run.stderr
    );
}

/// `shared/` sits next to the checkout.
fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/istio-inject")
}

/// expectations.tsv: file, decision, kind, name.
fn expectations() -> Vec<[String; 4]> {
    let text =
        std::fs::read_to_string(fixtures_dir().join("expectations.tsv")).expect("expectations.tsv");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t').map(str::to_string);
            std::array::from_fn(|_| f.next().unwrap_or_default())
        })
        .collect()
}

#[test]
fn istio_fixtures_get_istios_decision_through_the_cli() {
    let chosen = [
        "hello-multi.yaml",
        "cronjob.yaml",
        "daemonset.yaml",
        "list.yaml",
        "hello-host-network.yaml",
        "hello-ignore.yaml",
        "traffic-annotations-bad-includeipranges.yaml",
        "traffic-annotations-bad-excludeinboundports.yaml",
    ];
    let rows = expectations();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut checked = 0;
    for file in chosen {
        let path = fixtures_dir().join(file);
        let input = std::fs::read_to_string(&path).expect("fixture");
        let out = dir.path().join(file);
        let run = inject(&["-f", s(&path), "-o", s(&out)]);
        let mine: Vec<&[String; 4]> = rows.iter().filter(|r| r[0] == file).collect();
        assert!(!mine.is_empty(), "{file} is in expectations.tsv");
        if mine.iter().any(|r| r[1] == "error") {
            run.expect_code(1);
            assert!(
                run.stderr
                    .contains("invalid annotation traffic.sidecar.istio.io/"),
                "{file}: {}",
                run.stderr
            );
            assert!(!out.exists(), "{file}: no output");
            checked += mine.len();
            continue;
        }
        run.expect_code(0);
        let output = std::fs::read_to_string(&out).expect("output");
        let found = templates(&output);
        for [_, decision, kind, name] in mine {
            let (_, _, t) = found
                .iter()
                .find(|(k, n, _)| k == kind && n == name)
                .unwrap_or_else(|| panic!("{file}: {kind} {name} in the output"));
            let has_proxy = container_names(t, "containers").contains(&"istio-proxy".into());
            match decision.as_str() {
                "inject" => assert!(has_proxy, "{file}: {kind} {name} injected"),
                "skip" => {
                    assert_eq!(output, input, "{file}: skipped, unchanged");
                    assert!(
                        run.stderr
                            .contains(&format!("skipping injection of {kind} "))
                            && run.stderr.contains(name.as_str()),
                        "{file}: warning in {}",
                        run.stderr
                    );
                }
                other => panic!("{file}: unknown decision {other}"),
            }
            checked += 1;
        }
    }
    assert!(checked >= chosen.len(), "checked {checked} rows");
}

#[test]
fn in_place_keeps_the_mode_and_an_interrupt_leaves_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write(dir.path(), "app.yaml", DEPLOYMENT);
    std::fs::set_permissions(&input, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    inject(&["-f", s(&input), "-o", s(&input)]).expect_code(0);
    let injected = std::fs::read_to_string(&input).expect("in place");
    assert!(injected.contains("name: istio-proxy"), "{injected}");
    let mode = std::fs::metadata(&input)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    only_files(dir.path(), &["app.yaml"]);

    // Ctrl-C while it waits on stdin: exit 130, no output file, no temporary file.
    let out = dir.path().join("out.yaml");
    let mut child = std::process::Command::new(support::meshctl_bin())
        .args(["kube-inject", "-f", "-", "-o", s(&out)])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn meshctl");
    let _stdin = child.stdin.take().expect("stdin held open");
    support::eventually_blocking(support::WAIT, "the temporary output file", || {
        std::fs::read_dir(dir.path())
            .ok()?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".out.yaml."))
            .then_some(())
    });
    support::kill(child.id(), rustix::process::Signal::INT);
    let done = child.wait_with_output().expect("meshctl exits");
    assert_eq!(done.status.code(), Some(130), "{done:?}");
    assert!(String::from_utf8_lossy(&done.stderr).contains("interrupted"));
    only_files(dir.path(), &["app.yaml"]);
}
