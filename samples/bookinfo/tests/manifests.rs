//! Bookinfo's deployment files: the routing samples (networking/) read and validate with
//! meshctl's own Istio parser, route like Istio's files of the same name, and name only
//! subsets that select a workload of the Kubernetes manifest (platform/kube/bookinfo.yaml),
//! whose containers run commands the `bookinfo` binary accepts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bookinfo::cli::{Cli, Service};
use clap::Parser;
use mesh_api::istio::{load, Parsed};
use serde_json::Value;

const SERVICES: [&str; 4] = ["productpage", "details", "reviews", "ratings"];

fn dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn load_file(path: &Path) -> Vec<Parsed> {
    let text = std::fs::read_to_string(path).expect("read");
    load(&path.display().to_string(), &text).unwrap_or_else(|d| panic!("{d}"))
}

/// Every networking file, read and validated, as (file name, resources as JSON).
fn networking() -> Vec<(String, Vec<Value>)> {
    let files = yaml_files(&dir("networking"));
    assert!(files.len() >= 10, "routing samples missing: {files:?}");
    files
        .iter()
        .map(|f| {
            let name = f.file_name().expect("name").to_string_lossy().into_owned();
            let resources = load_file(f)
                .iter()
                .map(|p| serde_json::to_value(&p.resource).expect("json"))
                .collect::<Vec<_>>();
            assert!(!resources.is_empty(), "{name} has no resources");
            (name, resources)
        })
        .collect()
}

fn manifest() -> Vec<Value> {
    let path = dir("platform/kube/bookinfo.yaml");
    let text = std::fs::read_to_string(&path).expect("read manifest");
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// host -> subset name -> labels, from destination-rule-all.yaml.
fn subsets() -> BTreeMap<String, BTreeMap<String, Value>> {
    let (_, drs) = networking()
        .into_iter()
        .find(|(n, _)| n == "destination-rule-all.yaml")
        .expect("destination-rule-all.yaml");
    let mut out = BTreeMap::<String, BTreeMap<String, Value>>::new();
    for dr in drs {
        let host = str_of(&dr["spec"]["host"]).to_string();
        for s in dr["spec"]["subsets"].as_array().into_iter().flatten() {
            out.entry(host.clone())
                .or_default()
                .insert(str_of(&s["name"]).to_string(), s["labels"].clone());
        }
    }
    out
}

/// Every (host, subset) a VirtualService routes to.
fn destinations(vs: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for route in vs["spec"]["http"].as_array().into_iter().flatten() {
        for d in route["route"].as_array().into_iter().flatten() {
            let dest = &d["destination"];
            out.push((str_of(&dest["host"]).into(), str_of(&dest["subset"]).into()));
        }
    }
    out
}

#[test]
fn routing_samples_name_only_bookinfo_hosts_and_defined_subsets() {
    let subsets = subsets();
    assert_eq!(
        subsets.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        SERVICES.into_iter().collect()
    );
    for (file, resources) in networking() {
        for r in resources.iter().filter(|r| r["kind"] == "VirtualService") {
            for (host, subset) in destinations(r) {
                assert!(
                    SERVICES.contains(&host.as_str()),
                    "{file}: unknown host {host}"
                );
                if !subset.is_empty() {
                    assert!(
                        subsets[&host].contains_key(&subset),
                        "{file}: {host} has no subset {subset} in destination-rule-all.yaml"
                    );
                }
            }
        }
    }
}

/// Our files are written by us, but a file named like one of Istio's routes the same way,
/// so Istio's tasks read the same with either. Our DestinationRules define only the
/// versions Bookinfo runs here (a subset of Istio's).
#[test]
fn routing_samples_route_like_istios_files_of_the_same_name() {
    let istio = dir("../../../shared/fixtures/istio-bookinfo/networking");
    let mut compared = 0;
    for (file, ours) in networking() {
        let theirs_path = istio.join(&file);
        if !theirs_path.exists() {
            continue;
        }
        let theirs: Vec<Value> = load_file(&theirs_path)
            .iter()
            .map(|p| serde_json::to_value(&p.resource).expect("json"))
            .collect();
        let key = |r: &Value| {
            (
                str_of(&r["kind"]).to_string(),
                str_of(&r["metadata"]["name"]).to_string(),
            )
        };
        if file == "destination-rule-all.yaml" {
            for dr in &ours {
                let twin = theirs
                    .iter()
                    .find(|t| key(t) == key(dr))
                    .expect("same DR in Istio's");
                for s in dr["spec"]["subsets"].as_array().into_iter().flatten() {
                    let found = twin["spec"]["subsets"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|t| t == s);
                    assert!(found, "{file}: subset {s} not in Istio's");
                }
            }
        } else {
            let specs = |rs: &[Value]| {
                rs.iter()
                    .map(|r| (key(r), r["spec"].clone()))
                    .collect::<BTreeMap<_, _>>()
            };
            assert_eq!(
                specs(&ours),
                specs(&theirs),
                "{file} routes differently from Istio's"
            );
        }
        compared += 1;
    }
    assert!(
        compared >= 10,
        "only {compared} files compared with Istio's"
    );
}

#[test]
fn kube_manifest_runs_every_service_with_istios_labels() {
    let docs = manifest();
    let services = of_kind(&docs, "Service");
    let accounts = of_kind(&docs, "ServiceAccount");
    let deployments = of_kind(&docs, "Deployment");
    assert_eq!(services.len(), 4);
    assert_eq!(accounts.len(), 4);
    for svc in SERVICES {
        let s = services
            .iter()
            .find(|s| s["metadata"]["name"] == svc)
            .expect(svc);
        assert_eq!(s["apiVersion"], "v1");
        assert_eq!(s["metadata"]["labels"]["app"], svc);
        assert_eq!(s["metadata"]["labels"]["service"], svc);
        assert_eq!(s["spec"]["selector"], serde_json::json!({"app": svc}));
        assert_eq!(s["spec"]["ports"][0]["port"], 9080);
        assert_eq!(s["spec"]["ports"][0]["name"], "http");
        let sa = format!("bookinfo-{svc}");
        let a = accounts
            .iter()
            .find(|a| a["metadata"]["name"] == sa.as_str())
            .expect("account");
        assert_eq!(a["metadata"]["labels"]["account"], svc);
    }
    let names: BTreeSet<&str> = deployments
        .iter()
        .map(|d| str_of(&d["metadata"]["name"]))
        .collect();
    assert_eq!(
        names,
        [
            "details-v1",
            "productpage-v1",
            "ratings-v1",
            "reviews-v1",
            "reviews-v2",
            "reviews-v3"
        ]
        .into()
    );
    for d in &deployments {
        let name = str_of(&d["metadata"]["name"]);
        let labels = &d["metadata"]["labels"];
        let (app, version) = (str_of(&labels["app"]), str_of(&labels["version"]));
        assert_eq!(name, format!("{app}-{version}"));
        assert_eq!(d["apiVersion"], "apps/v1");
        assert_eq!(&d["spec"]["selector"]["matchLabels"], labels, "{name}");
        assert_eq!(
            &d["spec"]["template"]["metadata"]["labels"], labels,
            "{name}"
        );
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], format!("bookinfo-{app}"));
        let c = &pod["containers"][0];
        assert_eq!(c["name"], app);
        assert_eq!(c["ports"][0]["containerPort"], 9080);
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/health");
        assert_eq!(c["env"][0]["name"], "INSTANCE_NAME");
        // The container's command is one the binary accepts, for this service and version.
        let mut argv = vec!["bookinfo".to_string()];
        argv.extend(
            c["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| str_of(a).to_string()),
        );
        let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{name}: {argv:?}: {e}"));
        let service: &Service = &cli.service;
        assert_eq!(service.name(), app, "{name}");
        let v = service
            .check_version()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.as_str(), version, "{name}");
        assert_eq!(service.args().listen.to_string(), "0.0.0.0:9080", "{name}");
    }
    // Every subset of destination-rule-all.yaml selects a Deployment's pods.
    for (host, subsets) in subsets() {
        for (subset, want) in subsets {
            let selected = deployments.iter().any(|d| {
                let labels = &d["spec"]["template"]["metadata"]["labels"];
                labels["app"] == host.as_str()
                    && want
                        .as_object()
                        .into_iter()
                        .flatten()
                        .all(|(k, v)| &labels[k] == v)
            });
            assert!(selected, "subset {host}/{subset} selects no Deployment");
        }
    }
}
