use super::*;
use crate::profile::builtin;

fn minimal() -> &'static Profile {
    builtin("minimal").expect("minimal")
}

fn file(text: &str) -> ValuesFile {
    ValuesFile {
        name: "my.yaml".into(),
        text: text.into(),
    }
}

fn errors(files: &[ValuesFile], sets: &[&str]) -> Vec<String> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    build(minimal(), files, &sets)
        .expect_err("should fail")
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn sets_and_files_merge_in_order() {
    let f = file(
        "spec:\n  values:\n    controlPlane:\n      xdsPort: 25010\n      monitoringPort: 25014\n",
    );
    let sets = vec![
        "values.controlPlane.monitoringPort=35014".to_string(),
        "spec.components.ingressGateway.enabled=true".to_string(),
        "values.certificates.ttl=12h".to_string(),
    ];
    let spec = build(minimal(), &[f], &sets).expect("valid");
    assert_eq!(spec.values.control_plane.xds_port, 25010);
    assert_eq!(spec.values.control_plane.monitoring_port, 35014);
    assert!(spec.components.ingress_gateway.enabled);
    assert_eq!(
        spec.values.control_plane.xds_tls_port, 15012,
        "untouched keys keep the profile's"
    );
    assert_eq!(spec.values.certificates.ttl.as_std().as_secs(), 12 * 3600);
}

#[test]
fn unknown_set_key_names_the_nearest() {
    let e = errors(&[], &["values.controlPlane.monitorPort=1"]);
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("--set values.controlPlane.monitorPort=1: "),
        "{}",
        e[0]
    );
    assert!(
        e[0].contains("did you mean values.controlPlane.monitoringPort?"),
        "{}",
        e[0]
    );
    let e = errors(&[], &["accessLogs.enabled=true"]);
    assert!(
        e[0].contains("did you mean values.accessLogs.enabled?"),
        "{}",
        e[0]
    );
    let e = errors(&[], &["valeus.tracing.sampling=5"]);
    assert!(e[0].contains("did you mean values?"), "{}", e[0]);
}

#[test]
fn wrong_types_name_the_expected_type() {
    let e = errors(
        &[],
        &[
            "values.controlPlane.xdsPort=http",
            "components.controlPlane.enabled=yes",
            "values.tracing.sampling=200",
        ],
    );
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].contains("expected a port number"), "{}", e[0]);
    assert!(
        e[1].contains("expected a boolean (true or false), got \"yes\""),
        "{}",
        e[1]
    );
    assert!(e[2].contains("a number from 0 to 100"), "{}", e[2]);
    let e = errors(&[], &["values.controlPlane=1", "no-equals"]);
    assert!(
        e[0].contains("is a mapping; set one of its keys"),
        "{}",
        e[0]
    );
    assert!(e[1].contains("expected key=value"), "{}", e[1]);
}

#[test]
fn file_errors_name_file_line_and_path() {
    let f = file("apiVersion: install.meshctl.io/v1alpha1\nkind: MeshOperator\nspec:\n  values:\n    controlPlane:\n      xdsPrt: 1\n      monitoringPort: \"abc\"\n    tracing: 5\n");
    let e = errors(&[f], &[]);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e.iter().any(|m| m.starts_with("my.yaml:6:7: spec.values.controlPlane.xdsPrt: unknown key \"xdsPrt\"; did you mean values.controlPlane.xdsPort?")), "{e:?}");
    assert!(
        e.iter().any(|m| m.starts_with(
            "my.yaml:7:7: spec.values.controlPlane.monitoringPort: expected a port number"
        ) && m.contains("the string \"abc\"")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|m| m.starts_with(
            "my.yaml:8:5: spec.values.tracing: expected a mapping with keys sampling"
        )),
        "{e:?}"
    );
}

#[test]
fn file_shape_mistakes() {
    let e = errors(&[file("values:\n  tracing: {sampling: 5}\n")], &[]);
    assert!(
        e[0].contains("it belongs under spec: write spec.values"),
        "{e:?}"
    );
    let e = errors(&[file("kind: IstioOperator\n")], &[]);
    assert!(
        e[0].starts_with("my.yaml:1:1: kind: must be MeshOperator"),
        "{e:?}"
    );
    let e = errors(&[file("spec: [1,\n")], &[]);
    assert!(e[0].starts_with("my.yaml:"), "{e:?}");
    assert!(e[0].contains("invalid YAML"), "{e:?}");
    // An empty file changes nothing.
    assert!(build(minimal(), &[file("")], &[]).is_ok());
}

#[test]
fn cross_key_problems() {
    let e = errors(&[], &["values.controlPlane.monitoringPort=15010"]);
    assert!(
        e[0].contains(
            "values.controlPlane.monitoringPort: port 15010 is also values.controlPlane.xdsPort"
        ),
        "{e:?}"
    );
    let e = errors(
        &[],
        &[
            "components.controlPlane.enabled=false",
            "components.ingressGateway.enabled=true",
        ],
    );
    assert!(e[0].contains("a gateway needs the control plane"), "{e:?}");
}

#[test]
fn quantities_and_counts() {
    for ok in ["10m", "1", "0.5", "128Mi", "1Gi", "2k", "1.5G"] {
        assert!(is_quantity(ok), "{ok} is a quantity");
    }
    for bad in ["", "m", "1.", ".", "10 m", "1mi", "-1", "1e3x", "Mi"] {
        assert!(!is_quantity(bad), "{bad:?} is not a quantity");
    }
    let spec = build(
        minimal(),
        &[],
        &[
            "values.global.proxy.resources.limits.memory=512Mi".to_string(),
            "values.controlPlane.replicaCount=3".to_string(),
        ],
    )
    .expect("valid");
    assert_eq!(spec.values.global.proxy.resources.limits.memory, "512Mi");
    assert_eq!(spec.values.control_plane.replica_count, 3);
    let e = errors(&[], &["values.global.proxy.resources.requests.cpu=lots"]);
    assert!(e[0].contains("a Kubernetes quantity"), "{e:?}");
    let e = errors(&[], &["values.controlPlane.replicaCount=0"]);
    assert!(e[0].contains("a whole number, 1 or more"), "{e:?}");
}

#[test]
fn builtin_profiles_tag_this_version() {
    for name in crate::profile::NAMES {
        let spec = builtin(name).expect("profile").spec().expect("valid");
        assert_eq!(
            spec.values.global.tag,
            env!("CARGO_PKG_VERSION"),
            "profiles/{name}.yaml: values.global.tag must be meshctl's version"
        );
    }
}
