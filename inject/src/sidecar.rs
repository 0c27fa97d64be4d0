//! What a pod gets: the iptables init container, the proxy container and their volumes,
//! built from the options and the pod's own override annotations.

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::error::TemplateProblem;
use crate::names::*;
use crate::options::{InjectOptions, Resources};
use crate::traffic::Traffic;
use crate::yaml::{map, Map, Node};

/// The choices for one pod, after its annotations are read.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub image: String,
    pub resources: Resources,
    pub traffic: Traffic,
    /// False for `interceptionMode: NONE` and gateway pods: no iptables init container.
    pub capture: bool,
    pub notes: Vec<String>,
}

/// Reads the override annotations (each one checked; an invalid one is an error).
pub(crate) fn plan(
    annotations: Option<&Map>,
    opts: &InjectOptions,
) -> Result<Plan, TemplateProblem> {
    let get = |key: &str| annotations.and_then(|a| a.get_str(key));
    let mut notes = Vec::new();
    let image = match get(PROXY_IMAGE) {
        Some(i) if i.trim().is_empty() => {
            return Err(TemplateProblem::annotation(
                PROXY_IMAGE,
                i,
                "an image name is required",
            ))
        }
        Some(i) => i.trim().to_string(),
        None => opts.proxy_image.clone(),
    };
    let mut resources = opts.resources.clone();
    for (key, slot) in [
        (PROXY_CPU, &mut resources.requests_cpu),
        (PROXY_MEMORY, &mut resources.requests_memory),
        (PROXY_CPU_LIMIT, &mut resources.limits_cpu),
        (PROXY_MEMORY_LIMIT, &mut resources.limits_memory),
    ] {
        if let Some(v) = get(key) {
            if !is_quantity(v.trim()) {
                return Err(TemplateProblem::annotation(
                    key,
                    v,
                    "not a Kubernetes quantity (such as 100m, 0.5, 128Mi or 1Gi)",
                ));
            }
            *slot = Some(v.trim().to_string());
        }
    }
    let mut capture = match get(INTERCEPTION_MODE).map(str::trim) {
        None | Some("REDIRECT") => true,
        Some("NONE") => false,
        Some("TPROXY") => {
            notes.push(
                "interceptionMode TPROXY is not supported; traffic is captured with REDIRECT"
                    .to_string(),
            );
            true
        }
        Some(other) => {
            return Err(TemplateProblem::annotation(
                INTERCEPTION_MODE,
                other,
                "must be REDIRECT, TPROXY or NONE",
            ))
        }
    };
    if let Some(templates) = get(TEMPLATES) {
        for name in templates
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            match name {
                "sidecar" => {}
                // A gateway is the proxy itself: nothing to capture.
                "gateway" => capture = false,
                other => notes.push(format!(
                    "injection template {other:?} is not supported; the sidecar template is used"
                )),
            }
        }
    }
    let traffic = Traffic::from_annotations(annotations)?;
    notes.dedup();
    Ok(Plan {
        image,
        resources,
        traffic,
        capture,
        notes,
    })
}

/// Kubernetes' quantity syntax: a decimal number, then a binary or decimal suffix or an
/// exponent.
fn is_quantity(v: &str) -> bool {
    let body = v.strip_prefix(['+', '-']).unwrap_or(v);
    let split = body
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(split);
    let number_ok = !number.is_empty() && number != "." && number.matches('.').count() <= 1;
    let suffix_ok = matches!(
        suffix,
        "" | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
            | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
    ) || suffix
        .strip_prefix(['e', 'E'])
        .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
        .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()));
    number_ok && suffix_ok
}

fn resources(r: &Resources) -> Node {
    let pair = |cpu: &Option<String>, memory: &Option<String>| {
        let mut m = Map::new();
        if let Some(c) = cpu {
            m.insert("cpu", Node::str(c.as_str()));
        }
        if let Some(mem) = memory {
            m.insert("memory", Node::str(mem.as_str()));
        }
        m
    };
    let mut out = Map::new();
    let limits = pair(&r.limits_cpu, &r.limits_memory);
    let requests = pair(&r.requests_cpu, &r.requests_memory);
    if !limits.is_empty() {
        out.insert("limits", Node::Map(limits));
    }
    if !requests.is_empty() {
        out.insert("requests", Node::Map(requests));
    }
    Node::Map(out)
}

fn field_env(name: &str, path: &str) -> Node {
    map([
        ("name", Node::str(name)),
        (
            "valueFrom",
            map([("fieldRef", map([("fieldPath", Node::str(path))]))]),
        ),
    ])
}

fn port(number: u16, name: &str) -> Node {
    map([
        ("containerPort", Node::int(number.into())),
        ("name", Node::str(name)),
        ("protocol", Node::str("TCP")),
    ])
}

fn mount(name: &str, path: &str) -> Node {
    map([("name", Node::str(name)), ("mountPath", Node::str(path))])
}

type Slot<K> = RefCell<Option<(K, Node)>>;

/// A one-entry cache per thread: a file's pods mostly get identical sidecars, and cloning a
/// built one is cheaper than building it again. `same` compares the cached key with the
/// current inputs without copying them (a pod's lookup allocates nothing); `key` makes the
/// key on a miss.
fn cached<K>(
    slot: &'static LocalKey<Slot<K>>,
    same: impl FnOnce(&K) -> bool,
    key: impl FnOnce() -> K,
    build: impl FnOnce() -> Node,
) -> Node {
    slot.with(|cell| {
        let mut cell = cell.borrow_mut();
        match &*cell {
            Some((k, node)) if same(k) => node.clone(),
            _ => {
                let node = build();
                *cell = Some((key(), node.clone()));
                node
            }
        }
    })
}

type ProxyKey = (String, Resources, InjectOptions);
type InitKey = (String, Resources, Traffic, u32, u32);
type VolumesKey = InjectOptions;

thread_local! {
    static PROXY: Slot<ProxyKey> = const { RefCell::new(None) };
    static INIT: Slot<InitKey> = const { RefCell::new(None) };
    static VOLUMES: Slot<VolumesKey> = const { RefCell::new(None) };
}

/// The proxy container.
pub(crate) fn proxy_container(plan: &Plan, opts: &InjectOptions) -> Node {
    cached(
        &PROXY,
        |(image, resources, o)| *image == plan.image && *resources == plan.resources && o == opts,
        || (plan.image.clone(), plan.resources.clone(), opts.clone()),
        || build_proxy_container(plan, opts),
    )
}

fn build_proxy_container(plan: &Plan, opts: &InjectOptions) -> Node {
    let args = [
        "run".to_string(),
        "--control-plane".into(),
        "$(MESH_CONTROL_PLANE)".into(),
        "--token-file".into(),
        format!("{MOUNT_TOKEN}/{TOKEN_FILE}"),
        // The admin port stays on loopback (it can change the log level); metrics and health
        // are for Prometheus and the kubelet.
        "--admin-addr".into(),
        format!("127.0.0.1:{PORT_ADMIN}"),
        "--stats-addr".into(),
        format!("0.0.0.0:{PORT_METRICS}"),
        "--health-addr".into(),
        format!("0.0.0.0:{PORT_HEALTH}"),
    ];
    map([
        ("name", Node::str(PROXY_CONTAINER)),
        ("image", Node::str(plan.image.as_str())),
        ("args", Node::strs(&args)),
        (
            "env",
            Node::Seq(vec![
                field_env("POD_NAME", "metadata.name"),
                field_env("POD_NAMESPACE", "metadata.namespace"),
                field_env("INSTANCE_IP", "status.podIP"),
                field_env("SERVICE_ACCOUNT", "spec.serviceAccountName"),
                map([
                    ("name", Node::str("MESH_CONTROL_PLANE")),
                    ("value", Node::str(opts.control_plane.as_str())),
                ]),
            ]),
        ),
        (
            "ports",
            Node::Seq(vec![
                port(PORT_ENVOY_PROM, "http-envoy-prom"),
                port(PORT_HEALTH, "status-port"),
                port(PORT_METRICS, "http-metrics"),
            ]),
        ),
        (
            "readinessProbe",
            map([
                (
                    "httpGet",
                    map([
                        ("path", Node::str("/healthz/ready")),
                        ("port", Node::int(PORT_HEALTH.into())),
                    ]),
                ),
                ("initialDelaySeconds", Node::int(1)),
                ("periodSeconds", Node::int(2)),
                ("timeoutSeconds", Node::int(3)),
                ("failureThreshold", Node::int(30)),
            ]),
        ),
        ("resources", resources(&plan.resources)),
        (
            "securityContext",
            map([
                ("allowPrivilegeEscalation", Node::bool(false)),
                ("capabilities", map([("drop", Node::strs(&["ALL"]))])),
                ("privileged", Node::bool(false)),
                ("readOnlyRootFilesystem", Node::bool(true)),
                ("runAsGroup", Node::int(opts.proxy_gid.into())),
                ("runAsNonRoot", Node::bool(true)),
                ("runAsUser", Node::int(opts.proxy_uid.into())),
            ]),
        ),
        (
            "volumeMounts",
            Node::Seq(vec![
                mount(VOLUME_RUNTIME, MOUNT_RUNTIME),
                mount(VOLUME_TOKEN, MOUNT_TOKEN),
                mount(VOLUME_CA, MOUNT_CA),
            ]),
        ),
    ])
}

/// The init container installing the iptables rules; `uid`/`gid` are the proxy's.
pub(crate) fn init_container(plan: &Plan, uid: u32, gid: u32) -> Node {
    cached(
        &INIT,
        |(image, resources, traffic, u, g)| {
            *image == plan.image
                && *resources == plan.resources
                && *traffic == plan.traffic
                && (*u, *g) == (uid, gid)
        },
        || {
            (
                plan.image.clone(),
                plan.resources.clone(),
                plan.traffic.clone(),
                uid,
                gid,
            )
        },
        || build_init_container(plan, uid, gid),
    )
}

fn build_init_container(plan: &Plan, uid: u32, gid: u32) -> Node {
    map([
        ("name", Node::str(INIT_CONTAINER)),
        ("image", Node::str(plan.image.as_str())),
        ("args", Node::strs(&plan.traffic.iptables_args(uid, gid))),
        ("resources", resources(&plan.resources)),
        (
            "securityContext",
            map([
                ("allowPrivilegeEscalation", Node::bool(false)),
                (
                    "capabilities",
                    map([
                        ("add", Node::strs(&["NET_ADMIN", "NET_RAW"])),
                        ("drop", Node::strs(&["ALL"])),
                    ]),
                ),
                ("privileged", Node::bool(false)),
                // iptables-restore takes its lock under /run.
                ("readOnlyRootFilesystem", Node::bool(false)),
                ("runAsGroup", Node::int(0)),
                ("runAsNonRoot", Node::bool(false)),
                ("runAsUser", Node::int(0)),
            ]),
        ),
    ])
}

/// The pod volumes the proxy mounts.
pub(crate) fn volumes(opts: &InjectOptions) -> Vec<Node> {
    let all = cached(
        &VOLUMES,
        |o| o == opts,
        || opts.clone(),
        || Node::Seq(build_volumes(opts)),
    );
    match all {
        Node::Seq(v) => v,
        _ => Vec::new(),
    }
}

fn build_volumes(opts: &InjectOptions) -> Vec<Node> {
    vec![
        map([
            ("name", Node::str(VOLUME_RUNTIME)),
            ("emptyDir", map([("medium", Node::str("Memory"))])),
        ]),
        map([
            ("name", Node::str(VOLUME_TOKEN)),
            (
                "projected",
                map([(
                    "sources",
                    Node::Seq(vec![map([(
                        "serviceAccountToken",
                        map([
                            ("audience", Node::str(opts.ca_audience.as_str())),
                            (
                                "expirationSeconds",
                                Node::int(opts.token_expiration_seconds),
                            ),
                            ("path", Node::str(TOKEN_FILE)),
                        ]),
                    )])]),
                )]),
            ),
        ]),
        map([
            ("name", Node::str(VOLUME_CA)),
            (
                "configMap",
                map([("name", Node::str(opts.ca_root_configmap.as_str()))]),
            ),
        ]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for q in [
            "100m", "4000m", "0.5", "1", "1Gi", "128Mi", "1e3", "1.5E+2", "2k",
        ] {
            assert!(is_quantity(q), "{q}");
        }
        for q in ["", "m", "1.2.3", "100x", "1 Gi", "Gi", "1e", "."] {
            assert!(!is_quantity(q), "{q}");
        }
    }
}
