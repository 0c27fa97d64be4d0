//! The commands that start nothing: profiles, values files, dry runs, completion, usage
//! errors. The real binary, a temporary MESHCTL_HOME.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::Mesh;

#[test]
fn profiles_list_dump_and_diff() {
    let mesh = Mesh::new();
    let list = mesh.run(&["profile", "list"]);
    list.expect_code(0);
    for p in ["minimal", "default", "demo", "empty"] {
        assert!(list.stdout.contains(p), "{}", list.stdout);
    }
    let json = mesh.run(&["profile", "list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(4));

    let dump = mesh.run(&["profile", "dump", "demo"]);
    dump.expect_code(0);
    assert!(
        dump.stdout.starts_with("# demo:"),
        "the file as shipped: {}",
        dump.stdout
    );
    assert!(dump.stdout.contains("sampling: 100.0"), "{}", dump.stdout);

    let diff = mesh.run(&["profile", "diff", "minimal", "default"]);
    diff.expect_code(0);
    assert!(
        diff.stdout
            .contains("- components.ingressGateway.enabled: false"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout
            .contains("+ components.ingressGateway.enabled: true"),
        "{}",
        diff.stdout
    );
    assert!(
        !diff.stdout.contains("xdsPort"),
        "only what differs: {}",
        diff.stdout
    );

    let unknown = mesh.run(&["profile", "dump", "huge"]);
    unknown.expect_code(2);
    assert!(
        unknown.stderr.contains("minimal, default, demo, empty"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn a_dumped_profile_is_a_values_file_and_its_errors_name_lines() {
    let mesh = Mesh::new();
    let dir = tempfile::tempdir().expect("tmp");
    let values = dir.path().join("values.yaml");
    let dump = mesh.run(&[
        "profile",
        "dump",
        "minimal",
        "--set",
        "values.controlPlane.logLevel=debug",
    ]);
    dump.expect_code(0);
    std::fs::write(&values, &dump.stdout).expect("write");
    let file = values.display().to_string();
    let mut args = vec!["install", "-f", &file, "--dry-run"];
    let flags = mesh.port_flags();
    args.extend(flags.iter().map(String::as_str));
    let dry = mesh.run(&args);
    dry.expect_code(0);
    assert!(dry.stdout.contains("logLevel: debug"), "{}", dry.stdout);
    assert!(
        dry.stdout.contains("Control plane: would be started"),
        "{}",
        dry.stdout
    );
    assert!(
        !mesh.home().join("pids").exists(),
        "a dry run starts nothing"
    );

    std::fs::write(
        &values,
        "spec:\n  values:\n    tracing:\n      samplng: 5\n",
    )
    .expect("write");
    let bad = mesh.run(&args);
    bad.expect_code(1);
    let want = format!("{file}:4:7: spec.values.tracing.samplng: unknown key \"samplng\"; did you mean values.tracing.sampling?");
    assert!(bad.stderr.contains(&want), "{}", bad.stderr);
}

#[test]
fn completion_platform_and_help() {
    let mesh = Mesh::new();
    let bash = mesh.run(&["completion", "bash"]);
    bash.expect_code(0);
    assert!(bash.stdout.contains("meshctl"), "{}", bash.stdout);
    // Only the platforms this build can drive are accepted.
    let kube = mesh.run(&["--platform", "kube", "get", "vs"]);
    kube.expect_code(2);
    assert!(
        kube.stderr.contains("possible values: local"),
        "{}",
        kube.stderr
    );
    let help = mesh.run(&["install", "--help"]);
    help.expect_code(0);
    assert!(help.stdout.contains("Examples:"), "{}", help.stdout);
    let kind = mesh.run(&["get", "pods"]);
    kind.expect_code(2);
    assert!(
        kind.stderr.contains("VirtualService (vs)"),
        "{}",
        kind.stderr
    );
}

#[test]
fn no_colour_when_stdout_is_not_a_terminal() {
    let mesh = Mesh::new();
    // Without NO_COLOR too: a pipe gets plain text.
    let out = mesh
        .command_with(
            &support::meshctl_bin(),
            &["profile", "diff", "minimal", "demo"],
        )
        .env_remove("NO_COLOR")
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("+ values.tracing.sampling: 100.0"),
        "{stdout}"
    );
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
}
