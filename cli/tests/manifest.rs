//! `meshctl manifest generate` with the real binary, for every profile: each document parses
//! back into its `k8s-openapi` type with nothing lost (a misspelled field would be dropped
//! and show as a difference), the whole output and `kube-inject`'s output over every Istio
//! injection fixture pass `kubernetes-validate --strict` (Kubernetes' own schemas), the CRD
//! schemas are structural and accept Istio's own Bookinfo files while refusing wrong types,
//! and the profile's components, `--set` images and webhook rules show in the output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use support::run_plain;

const PROFILES: [&str; 4] = ["minimal", "default", "demo", "empty"];

/// The documents `manifest generate` prints for `args`, read back from its YAML.
fn generate(args: &[&str]) -> (String, Vec<Value>) {
    let mut all = vec!["manifest", "generate"];
    all.extend_from_slice(args);
    let run = run_plain(&all, None);
    run.expect_code(0);
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(&run.stdout)
        .unwrap_or_else(|e| panic!("manifest generate printed invalid YAML: {e}"));
    (run.stdout, docs)
}

fn kinds(docs: &[Value]) -> Vec<String> {
    docs.iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {:?}", kinds(docs)))
}

/// Parses `doc` as `T` and serializes it again: the result must be the document itself.
fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value) {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| {
        panic!(
            "{} {} is not a valid {}: {e}",
            doc["kind"],
            doc["metadata"]["name"],
            std::any::type_name::<T>()
        )
    });
    let back = serde_json::to_value(&typed).expect("serialize");
    if let Some(diff) = first_difference("", doc, &back) {
        panic!(
            "{} {} changed when parsed as {} (a field it does not know was dropped?): {diff}",
            doc["kind"],
            doc["metadata"]["name"],
            std::any::type_name::<T>()
        );
    }
}

/// Where `a` and `b` first differ; numbers compare by value (`0` equals `0.0`).
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let (l, r) = (x.get(k), y.get(k));
                match (l, r) {
                    (Some(l), Some(r)) => {
                        if let Some(d) = first_difference(&format!("{path}.{k}"), l, r) {
                            return Some(d);
                        }
                    }
                    _ => return Some(format!("{path}.{k}: {l:?} became {r:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (l, r))| first_difference(&format!("{path}[{i}]"), l, r)),
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => None,
        _ if a == b => None,
        _ => Some(format!("{path}: {a} became {b}")),
    }
}

fn parse_typed(doc: &Value) {
    use k8s_openapi::api::admissionregistration::v1 as admission;
    use k8s_openapi::api::{apps, core, policy, rbac};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
    match doc["kind"].as_str().expect("kind") {
        "Namespace" => round_trip::<core::v1::Namespace>(doc),
        "ServiceAccount" => round_trip::<core::v1::ServiceAccount>(doc),
        "ConfigMap" => round_trip::<core::v1::ConfigMap>(doc),
        "Service" => round_trip::<core::v1::Service>(doc),
        "Deployment" => round_trip::<apps::v1::Deployment>(doc),
        "PodDisruptionBudget" => round_trip::<policy::v1::PodDisruptionBudget>(doc),
        "ClusterRole" => round_trip::<rbac::v1::ClusterRole>(doc),
        "ClusterRoleBinding" => round_trip::<rbac::v1::ClusterRoleBinding>(doc),
        "Role" => round_trip::<rbac::v1::Role>(doc),
        "RoleBinding" => round_trip::<rbac::v1::RoleBinding>(doc),
        "CustomResourceDefinition" => round_trip::<ext::CustomResourceDefinition>(doc),
        "MutatingWebhookConfiguration" => {
            round_trip::<admission::MutatingWebhookConfiguration>(doc)
        }
        "ValidatingWebhookConfiguration" => {
            round_trip::<admission::ValidatingWebhookConfiguration>(doc)
        }
        other => panic!("manifest generate printed a {other}, which this test does not parse"),
    }
}

#[test]
fn every_profile_parses_back_into_the_kubernetes_types() {
    for profile in PROFILES {
        let (_, docs) = generate(&["--profile", profile]);
        assert!(!docs.is_empty(), "{profile}: nothing printed");
        for doc in &docs {
            parse_typed(doc);
        }
    }
}

#[test]
fn profiles_render_their_components() {
    let names = |p: &str| kinds(&generate(&["--profile", p]).1);
    let crds = [
        "CustomResourceDefinition/virtualservices.networking.istio.io",
        "CustomResourceDefinition/destinationrules.networking.istio.io",
        "CustomResourceDefinition/gateways.networking.istio.io",
        "CustomResourceDefinition/serviceentries.networking.istio.io",
        "CustomResourceDefinition/peerauthentications.security.istio.io",
        "CustomResourceDefinition/authorizationpolicies.security.istio.io",
    ];
    let empty = names("empty");
    let mut base = vec!["Namespace/mesh-system".to_string()];
    base.extend(crds.iter().map(|s| s.to_string()));
    assert_eq!(empty, base, "empty: the namespace and the CRDs only");

    let minimal = names("minimal");
    for want in [
        "ServiceAccount/mesh-controlplane",
        "ClusterRole/mesh-controlplane",
        "ClusterRoleBinding/mesh-controlplane",
        "Role/mesh-controlplane",
        "RoleBinding/mesh-controlplane",
        "ConfigMap/mesh-sidecar-injector",
        "Deployment/mesh-controlplane",
        "Service/mesh-controlplane",
        "PodDisruptionBudget/mesh-controlplane",
        "MutatingWebhookConfiguration/mesh-sidecar-injector",
        "ValidatingWebhookConfiguration/mesh-validator",
    ] {
        assert!(
            minimal.contains(&want.to_string()),
            "minimal lacks {want}: {minimal:?}"
        );
    }
    assert!(!minimal
        .iter()
        .any(|n| n.contains("gateway-") || n.contains("ingressgateway")));

    let default = names("default");
    assert!(default.contains(&"Deployment/mesh-ingressgateway".to_string()));
    assert!(!default.iter().any(|n| n.contains("egressgateway")));
    let demo = names("demo");
    for want in [
        "Deployment/mesh-ingressgateway",
        "Service/mesh-ingressgateway",
        "Deployment/mesh-egressgateway",
    ] {
        assert!(demo.contains(&want.to_string()), "demo lacks {want}");
    }
    // Apply order: the namespace and the CRDs come before anything that uses them.
    assert_eq!(demo[0], "Namespace/mesh-system");
    assert!(demo[1].starts_with("CustomResourceDefinition/"));
}

#[test]
fn control_plane_keeps_istios_ports_and_the_profiles_values() {
    let (_, docs) = generate(&[
        "--profile",
        "default",
        "--set",
        "values.global.hub=registry.example.com/mesh",
        "--set",
        "values.global.tag=9.9.9",
        "--set",
        "values.controlPlane.replicaCount=2",
        "--set",
        "values.global.proxy.resources.limits.memory=512Mi",
    ]);
    let svc = find(&docs, "Service", "mesh-controlplane");
    let ports: Vec<(String, u64, u64)> = svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["port"].as_u64().unwrap(),
                p["targetPort"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        [
            ("grpc-xds".into(), 15010, 15010),
            ("https-dns".into(), 15012, 15012),
            ("https-webhook".into(), 443, 15017),
            ("http-monitoring".into(), 15014, 15014),
        ]
    );
    let dep = find(&docs, "Deployment", "mesh-controlplane");
    assert_eq!(dep["spec"]["replicas"], 2);
    let container = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["image"],
        "registry.example.com/mesh/mesh-controlplane:9.9.9"
    );
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for pair in [
        ["--listen-tls", "0.0.0.0:15012"],
        ["--webhook", "0.0.0.0:15017"],
        ["--trust-domain", "cluster.local"],
    ] {
        assert!(
            args.windows(2).any(|w| w == pair),
            "{pair:?} not in {args:?}"
        );
    }
    // Two replicas: keep one up during disruptions.
    assert_eq!(
        find(&docs, "PodDisruptionBudget", "mesh-controlplane")["spec"]["minAvailable"],
        1
    );

    let gw = find(&docs, "Deployment", "mesh-ingressgateway");
    let pod = &gw["spec"]["template"];
    assert_eq!(
        pod["metadata"]["labels"]["istio"], "ingressgateway",
        "Istio's Gateway selector"
    );
    assert_eq!(
        pod["spec"]["containers"][0]["image"],
        "registry.example.com/mesh/mesh-proxy:9.9.9"
    );
    let gw_svc = find(&docs, "Service", "mesh-ingressgateway");
    assert_eq!(gw_svc["spec"]["type"], "LoadBalancer");
    let http = gw_svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "http2")
        .unwrap();
    assert_eq!(
        (http["port"].as_u64(), http["targetPort"].as_u64()),
        (Some(80), Some(8080))
    );

    // The webhook's injection options are the profile's.
    let cm = find(&docs, "ConfigMap", "mesh-sidecar-injector");
    let config: Value = serde_json::from_str(cm["data"]["config.json"].as_str().unwrap()).unwrap();
    assert_eq!(
        config["proxyImage"],
        "registry.example.com/mesh/mesh-proxy:9.9.9"
    );
    assert_eq!(
        config["controlPlane"],
        "mesh-controlplane.mesh-system.svc:15012"
    );
    assert_eq!(config["resources"]["limitsMemory"], "512Mi");

    // One replica: a PDB that never blocks a drain.
    let (_, one) = generate(&["--profile", "minimal"]);
    let pdb = &find(&one, "PodDisruptionBudget", "mesh-controlplane")["spec"];
    assert_eq!(
        (pdb["maxUnavailable"].as_u64(), pdb.get("minAvailable")),
        (Some(1), None)
    );
}

#[test]
fn webhooks_select_injected_namespaces_and_fail_closed() {
    let (_, docs) = generate(&["--profile", "minimal"]);
    let m = find(
        &docs,
        "MutatingWebhookConfiguration",
        "mesh-sidecar-injector",
    );
    let hooks = m["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 2);
    let selectors: Vec<String> = hooks
        .iter()
        .map(|h| h["namespaceSelector"].to_string())
        .collect();
    assert!(
        selectors[0].contains(r#""key":"istio-injection","operator":"In","values":["enabled"]"#),
        "{}",
        selectors[0]
    );
    assert!(
        selectors[1].contains(r#""key":"meshctl.io/inject","operator":"In","values":["enabled"]"#),
        "{}",
        selectors[1]
    );
    assert!(
        selectors[1].contains(r#""key":"istio-injection","operator":"DoesNotExist""#),
        "no pod through both"
    );
    for h in hooks {
        assert_eq!(h["failurePolicy"], "Fail");
        assert_eq!(h["clientConfig"]["service"]["path"], "/inject");
        assert_eq!(h["rules"][0]["resources"], serde_json::json!(["pods"]));
        assert!(h["namespaceSelector"].to_string().contains(
            r#""operator":"NotIn","values":["kube-system","kube-public","kube-node-lease"]"#
        ));
    }
    let v = find(&docs, "ValidatingWebhookConfiguration", "mesh-validator");
    let hook = &v["webhooks"][0];
    assert_eq!(hook["clientConfig"]["service"]["path"], "/validate");
    let resources: Vec<Value> = hook["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resources"].clone())
        .collect();
    assert_eq!(
        resources,
        [
            serde_json::json!([
                "virtualservices",
                "destinationrules",
                "gateways",
                "serviceentries"
            ]),
            serde_json::json!(["peerauthentications", "authorizationpolicies"]),
        ]
    );
}

/// Kubernetes' structural-schema rules: every node has a type (or says it preserves unknown
/// fields), no `$ref`, no type lists, no `default`, nothing but `required`/`properties`
/// inside `oneOf`/`anyOf`/`allOf`/`not`.
fn check_structural(path: &str, v: &Value, problems: &mut Vec<String>) {
    let Some(map) = v.as_object() else { return };
    let preserve = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    match map.get("type") {
        Some(Value::String(_)) => {}
        None if preserve => {}
        other => problems.push(format!("{path}: type is {other:?}")),
    }
    for bad in ["$ref", "default", "$defs", "definitions"] {
        if map.contains_key(bad) {
            problems.push(format!("{path}: has {bad}"));
        }
    }
    if map.contains_key("properties") && map.get("type") != Some(&Value::from("object")) {
        problems.push(format!("{path}: properties on a non-object"));
    }
    for junction in ["oneOf", "anyOf", "allOf"] {
        for (i, branch) in map
            .get(junction)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            for key in branch.as_object().into_iter().flatten().map(|(k, _)| k) {
                if !matches!(key.as_str(), "required" | "properties" | "not") {
                    problems.push(format!("{path}.{junction}[{i}]: {key} is not allowed here"));
                }
            }
        }
    }
    for (k, child) in map
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        check_structural(&format!("{path}.{k}"), child, problems);
    }
    if let Some(items) = map.get("items") {
        check_structural(&format!("{path}[]"), items, problems);
    }
    if let Some(extra @ Value::Object(_)) = map.get("additionalProperties") {
        check_structural(&format!("{path}{{}}"), extra, problems);
    }
}

/// The CRD schema of `kind` from the output, as a JSON Schema validator.
fn crd_validator(docs: &[Value], kind: &str) -> jsonschema::Validator {
    let crd = docs
        .iter()
        .find(|d| d["kind"] == "CustomResourceDefinition" && d["spec"]["names"]["kind"] == kind)
        .unwrap_or_else(|| panic!("no CRD for {kind}"));
    let versions = crd["spec"]["versions"].as_array().unwrap();
    let stored: Vec<&Value> = versions.iter().filter(|v| v["storage"] == true).collect();
    assert_eq!(stored.len(), 1, "{kind}: exactly one storage version");
    let schema = &stored[0]["schema"]["openAPIV3Schema"];
    jsonschema::draft4::new(schema).unwrap_or_else(|e| panic!("{kind}: not a valid schema: {e}"))
}

#[test]
fn crd_schemas_are_structural_and_take_istios_own_files() {
    let (_, docs) = generate(&["--profile", "empty"]);
    let mut problems = Vec::new();
    for crd in docs
        .iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
    {
        for v in crd["spec"]["versions"].as_array().unwrap() {
            let name = format!(
                "{}@{}",
                crd["metadata"]["name"].as_str().unwrap(),
                v["name"].as_str().unwrap()
            );
            check_structural(&name, &v["schema"]["openAPIV3Schema"], &mut problems);
        }
    }
    assert!(
        problems.is_empty(),
        "not structural:\n{}",
        problems.join("\n")
    );

    // Every resource of Istio's Bookinfo samples validates against its CRD.
    let mut checked = 0;
    let dir = support::fixtures();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(file).unwrap();
        let resources: Vec<Value> = serde_saphyr::from_str_multiple(&text).unwrap();
        for r in resources.iter().filter(|r| !r.is_null()) {
            let kind = r["kind"].as_str().unwrap();
            let validator = crd_validator(&docs, kind);
            let errors: Vec<String> = validator
                .iter_errors(r)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{}: {kind} {} refused by our CRD: {errors:?}",
                file.display(),
                r["metadata"]["name"]
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 20,
        "only {checked} Istio resources found in {}",
        dir.display()
    );

    // And it refuses what `meshctl apply` refuses on types and enums.
    let vs = crd_validator(&docs, "VirtualService");
    let bad_timeout = serde_json::json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "r"}, "spec": {"hosts": ["r"], "http": [{"timeout": 5, "route": [{"destination": {"host": "r"}}]}]}});
    assert!(
        !vs.is_valid(&bad_timeout),
        "a number for a duration must be refused"
    );
    let bad_duration = serde_json::json!({"spec": {"http": [{"timeout": "5 seconds"}]}});
    assert!(
        !vs.is_valid(&bad_duration),
        "a malformed duration must be refused"
    );
    let pa = crd_validator(&docs, "PeerAuthentication");
    assert!(pa.is_valid(&serde_json::json!({"spec": {"mtls": {"mode": "STRICT"}}})));
    assert!(!pa.is_valid(&serde_json::json!({"spec": {"mtls": {"mode": "STRICTEST"}}})));
    let dr = crd_validator(&docs, "DestinationRule");
    let two_matches = serde_json::json!({"spec": {"host": "r", "trafficPolicy": {"loadBalancer": {"simple": "NOPE"}}}});
    assert!(
        !dr.is_valid(&two_matches),
        "an unknown load balancer must be refused"
    );
}

/// `kubernetes-validate`: `$KUBERNETES_VALIDATE`, the workspace's `.venv` (what `.ci/run`
/// makes), or PATH.
fn validator() -> PathBuf {
    if let Some(p) = std::env::var_os("KUBERNETES_VALIDATE") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/kubernetes-validate");
    if venv.exists() {
        return venv;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("kubernetes-validate"))
        .find(|p| p.exists());
    on_path.unwrap_or_else(|| {
        panic!(
            "kubernetes-validate is not installed; run `python3 -m venv .venv && \
             .venv/bin/pip install kubernetes-validate` in the workspace (.ci/run does), or set \
             KUBERNETES_VALIDATE to its path"
        )
    })
}

/// Runs `kubernetes-validate --strict` over `files`; fails on any error, and on any warning
/// but "no schema" for the kinds in `unknown_ok` (OpenShift's, which it does not ship).
fn validate_strict(files: &[PathBuf], unknown_ok: &[&str]) {
    let out = Command::new(validator())
        .arg("--strict")
        .args(files)
        .output()
        .expect("run kubernetes-validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let passed = text
        .lines()
        .filter(|l| l.starts_with("INFO") && l.contains(" passed "))
        .count();
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("INFO"))
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            !(l.starts_with("WARN") && unknown_ok.iter().any(|k| l.contains(&format!("kind {k} "))))
        })
        .collect();
    assert!(
        bad.is_empty() && out.status.success(),
        "kubernetes-validate --strict (exit {:?}):\n{}",
        out.status.code(),
        bad.join("\n")
    );
    assert!(passed > 0, "kubernetes-validate validated nothing:\n{text}");
    eprintln!(
        "kubernetes-validate --strict: {passed} resources passed in {} files",
        files.len()
    );
}

#[test]
fn generated_manifests_pass_kubernetes_validate_strict() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for profile in PROFILES {
        let (yaml, _) = generate(&[
            "--profile",
            profile,
            "--set",
            "values.controlPlane.replicaCount=3",
        ]);
        let f = dir.path().join(format!("{profile}.yaml"));
        std::fs::write(&f, yaml).unwrap();
        files.push(f);
    }
    validate_strict(&files, &[]);

    // The check itself: a misspelled field is caught.
    let (yaml, _) = generate(&["--profile", "minimal"]);
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        yaml.replace("serviceAccountName:", "serviceAcountName:"),
    )
    .unwrap();
    let out = Command::new(validator())
        .args(["--strict"])
        .arg(&broken)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("serviceAcountName"),
        "the validator missed a misspelled field:\n{text}"
    );
}

/// Every injected Istio fixture, with `v1 List`s spread into their items (the validator has
/// no schema for List).
#[test]
fn kube_inject_output_of_every_fixture_passes_kubernetes_validate_strict() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/istio-inject");
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    for input in inputs
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
    {
        let run = run_plain(&["kube-inject", "-f", input.to_str().unwrap()], None);
        if run.code != Some(0) {
            continue; // Istio's error cases (bad annotations): kube_inject.rs checks those.
        }
        let docs: Vec<Value> = serde_saphyr::from_str_multiple(&run.stdout).unwrap();
        let mut spread = Vec::new();
        for d in docs.into_iter().filter(|d| !d.is_null()) {
            if d["kind"] == "List" {
                spread.extend(d["items"].as_array().cloned().unwrap_or_default());
            } else {
                spread.push(d);
            }
        }
        let text: String = spread
            .iter()
            .map(|d| format!("---\n{}", serde_saphyr::to_string(d).unwrap()))
            .collect();
        let out = dir.path().join(input.file_name().unwrap());
        std::fs::write(&out, text).unwrap();
        files.push(out);
    }
    assert!(files.len() >= 80, "only {} fixtures injected", files.len());
    validate_strict(&files, &["DeploymentConfig"]);
}
