//! The checks, category by category. Each reads the state directory, the processes in
//! `/proc`, the control plane's monitoring port or the proxies' admin ports, and reports
//! what it found; none changes anything.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::client::ApiClient;
use crate::inspect::format::{age, timestamp, unix_now};
use crate::inspect::{self, ProxyInfo};
use crate::platform::local::state::{InstallRecord, ProcessRecord, StateDir};
use crate::platform::local::{launch, process};
use crate::platform::Component;

use super::{Category, Check};

/// How long the control plane and proxies get to answer one request.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long proxies that are STALE (a push in flight) get to ACK before that counts.
const STALE_GRACE: Duration = Duration::from_secs(5);
/// A root certificate closer than this to its expiry is a warning.
const CA_WARN_DAYS: u64 = 30;

fn category(name: &str, checks: Vec<Check>) -> Category {
    Category {
        category_name: name.to_string(),
        checks,
    }
}

/// `meshctl-platform`: which platform, and whether something is installed there.
pub fn platform(state: &StateDir) -> (Category, Option<InstallRecord>) {
    let root = state.root().display();
    let mut checks = vec![Check::ok(format!("platform: local (state dir {root})"))];
    let install = match state.read_install() {
        Ok(Some(i)) => {
            checks.push(Check::ok(format!(
                "the mesh is installed (profile {})",
                i.profile
            )));
            Some(i)
        }
        Ok(None) => {
            checks.push(Check::fail(
                "the mesh is installed",
                format!("nothing is installed in {root} (no install.yaml)"),
                "run `meshctl install` (e.g. `meshctl install --profile default -y`)",
            ));
            None
        }
        Err(e) => {
            checks.push(Check::fail(
                "the mesh is installed",
                e.to_string(),
                "run `meshctl install` to rewrite it",
            ));
            None
        }
    };
    (category("meshctl-platform", checks), install)
}

/// `meshctl-processes`: every process the mesh started (pid records) is still running;
/// each one that died is named, with its log.
pub fn processes(state: &StateDir) -> Category {
    let records = match state.records() {
        Ok(r) => r,
        Err(e) => {
            return category(
                "meshctl-processes",
                vec![Check::fail(
                    "the process records can be read",
                    e.to_string(),
                    "remove the unreadable record if no mesh process runs, then `meshctl install`",
                )],
            )
        }
    };
    let (running, dead): (Vec<_>, Vec<_>) = records.iter().partition(|r| process::is_running(r));
    let mut checks = Vec::new();
    for r in &dead {
        let what = match Component::from_key(&r.name) {
            Some(c) => c.title().to_lowercase(),
            None => format!("workload {}", r.name),
        };
        let fix = match &r.sample {
            Some(sample) => format!("`meshctl samples deploy {sample}` restarts what died"),
            None => "`meshctl install` restarts what died (and keeps what runs)".to_string(),
        };
        checks.push(Check::fail(
            format!("{} is running", r.name),
            format!(
                "the {what} (pid {}, {}) is not running; the end of its log {}:\n{}",
                r.pid,
                r.argv.first().map_or("?", |p| file_name(p)),
                r.log.display(),
                process::log_tail(&r.log, 5)
            ),
            &fix,
        ));
    }
    if !running.is_empty() {
        let names: Vec<&str> = running.iter().map(|r| r.name.as_str()).collect();
        checks.push(Check::ok(format!(
            "{} mesh process(es) running: {}",
            running.len(),
            names.join(", ")
        )));
    }
    if records.is_empty() {
        checks.push(Check::warn(
            "mesh processes are recorded",
            format!("no process records in {}", state.pids_dir().display()),
            "run `meshctl install`",
        ));
    }
    category("meshctl-processes", checks)
}

fn file_name(path: &str) -> &str {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path)
}

/// `meshctl-control-plane`: its process runs, its monitoring port answers, and its version
/// is this meshctl's. Returns a client when it answers.
pub async fn control_plane(state: &StateDir) -> (Category, Option<ApiClient>) {
    let mut checks = Vec::new();
    let key = Component::ControlPlane.key();
    let record = match state.read_record(key) {
        Ok(Some(r)) => r,
        Ok(None) => {
            checks.push(Check::fail(
                "the control plane is installed",
                format!("no control plane record in {}", state.pids_dir().display()),
                "run `meshctl install` (every profile but `empty` runs a control plane)",
            ));
            return (category("meshctl-control-plane", checks), None);
        }
        Err(e) => {
            checks.push(Check::fail(
                "the control plane is installed",
                e.to_string(),
                "run `meshctl install` to repair it",
            ));
            return (category("meshctl-control-plane", checks), None);
        }
    };
    if process::is_running(&record) {
        checks.push(Check::ok(format!(
            "the control plane process is running (pid {})",
            record.pid
        )));
    } else {
        checks.push(Check::fail(
            "the control plane process is running",
            format!(
                "the control plane (pid {}) is not running; the end of its log {}:\n{}",
                record.pid,
                record.log.display(),
                process::log_tail(&record.log, 5)
            ),
            "`meshctl install` restarts it (the config it stored is kept)",
        ));
        return (category("meshctl-control-plane", checks), None);
    }
    let Some(addr) = record.endpoints.get("monitoring").copied() else {
        checks.push(Check::fail(
            "the control plane's monitoring port is recorded",
            "its record names no monitoring address",
            "run `meshctl install` to repair it",
        ));
        return (category("meshctl-control-plane", checks), None);
    };
    let api = ApiClient::new(addr, TIMEOUT);
    let version: Result<serde_json::Value, _> = inspect::get_json(&api, "/version").await;
    let theirs = match version {
        Ok(v) => v["version"].as_str().map(String::from),
        Err(e) => {
            checks.push(Check::fail(
                format!("the control plane answers on {addr}"),
                format!("{e:#}"),
                &format!(
                    "see its log {}; `meshctl install` restarts it",
                    record.log.display()
                ),
            ));
            return (category("meshctl-control-plane", checks), None);
        }
    };
    checks.push(Check::ok(format!("the control plane answers on {addr}")));
    let ours = env!("CARGO_PKG_VERSION");
    match theirs {
        Some(v) if v == ours => checks.push(Check::ok(format!(
            "the control plane's version matches meshctl's ({ours})"
        ))),
        other => checks.push(Check::fail(
            "the control plane's version matches meshctl's",
            format!(
                "meshctl is {ours}, the control plane {}",
                other.as_deref().unwrap_or("unknown")
            ),
            "run `meshctl install` with this meshctl to upgrade the control plane",
        )),
    }
    (category("meshctl-control-plane", checks), Some(api))
}

/// `meshctl-identity`: the mesh's root certificate (`STATE/ca/root-cert.pem`) is valid, and
/// how many days it has left.
pub fn ca(state: &StateDir, now: u64) -> Category {
    let path = state.root().join("ca").join("root-cert.pem");
    let check = match root_validity(&path) {
        Err(e) => Check::fail(
            "the mesh's root certificate is readable",
            e,
            "the control plane creates it at its first start: run `meshctl install`",
        ),
        Ok((subject, not_before, not_after)) => {
            let days = not_after.saturating_sub(now) / 86_400;
            let what = format!(
                "the mesh's root certificate ({subject}) is valid: {days} days to expiry \
                 ({})",
                timestamp(not_after)
            );
            if now >= not_after {
                Check::fail(
                    "the mesh's root certificate is valid",
                    format!("it expired at {}", timestamp(not_after)),
                    "workload certificates can no longer be issued; replace the CA (see the \
                     README's certificates section) and reinstall",
                )
            } else if now < not_before {
                Check::fail(
                    "the mesh's root certificate is valid",
                    format!("it is not valid before {}", timestamp(not_before)),
                    "check this machine's clock",
                )
            } else if days < CA_WARN_DAYS {
                Check::warn(
                    what,
                    format!("it expires in {}", age(not_after - now)),
                    "plan a CA rotation before it expires",
                )
            } else {
                Check::ok(what)
            }
        }
    };
    category("meshctl-identity", vec![check])
}

/// (subject, not before, not after) of the first certificate in a PEM file.
fn root_validity(path: &Path) -> Result<(String, u64, u64), String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = mesh_identity::x509::certs_from_pem(&pem)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let first = certs
        .first()
        .ok_or_else(|| format!("{}: no certificate", path.display()))?;
    let s = mesh_identity::x509::summary(first).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((s.subject, s.not_before, s.not_after))
}

/// The proxies, once none is STALE (a push in flight) or [`STALE_GRACE`] is over.
pub async fn settled_proxies(api: &ApiClient) -> anyhow::Result<Vec<ProxyInfo>> {
    let deadline = Instant::now() + STALE_GRACE;
    loop {
        let proxies = inspect::proxies(api).await?;
        if proxies.iter().all(|p| p.state != "STALE") || Instant::now() > deadline {
            return Ok(proxies);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `meshctl-gateways`: each gateway the install enables answers `/healthz/ready` 200 on its
/// health port (from its process record) and is listed SYNCED by the control plane; any
/// other gateway proxy (started by hand) answers ready on its admin port.
pub async fn gateways(
    install: Option<&InstallRecord>,
    records: &[ProcessRecord],
    proxies: &[ProxyInfo],
) -> Category {
    let mut checks = Vec::new();
    let mut ours = Vec::new();
    for component in [Component::IngressGateway, Component::EgressGateway] {
        if !install.is_some_and(|i| component.enabled(&i.spec)) {
            continue;
        }
        let title = component.title().to_lowercase();
        let log_hint = format!(
            "see its log in the state directory (logs/{}.log); `meshctl install` restarts it",
            component.key()
        );
        let record = records.iter().find(|r| r.name == component.key());
        let health = record.and_then(|r| r.endpoints.get("health").copied());
        let described = match health {
            Some(h) => format!("the {title} answers ready on http://{h}/healthz/ready"),
            None => format!("the {title} answers ready"),
        };
        let ready = match health {
            None => Err(format!(
                "the {title} is installed, but no process record names its health port"
            )),
            Some(h) => match ApiClient::new(h, TIMEOUT).get("/healthz/ready").await {
                Ok(r) if r.status.is_success() => Ok(()),
                Ok(r) => Err(format!("it answered {}: {}", r.status, r.body.trim())),
                Err(e) => Err(e.to_string()),
            },
        };
        checks.push(match ready {
            Ok(()) => Check::ok(described),
            Err(e) => Check::fail(described, e, &log_hint),
        });
        let Some(id) = launch::gateway_proxy_id(component) else {
            continue;
        };
        match proxies.iter().find(|p| p.id == id) {
            None => checks.push(Check::fail(
                format!("the {title} is connected"),
                format!("the {title} is installed, but the control plane lists no proxy {id}"),
                &log_hint,
            )),
            Some(p) if p.state == "SYNCED" => {
                checks.push(Check::ok(format!("the {title} ({id}) is SYNCED")))
            }
            Some(p) => checks.push(Check::fail(
                format!("the {title} ({id}) is SYNCED"),
                format!(
                    "the control plane lists it {}{}",
                    p.state,
                    p.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
                &log_hint,
            )),
        }
        ours.push(id);
    }
    for p in proxies
        .iter()
        .filter(|p| p.is_gateway() && !ours.contains(&p.id))
    {
        let ready = match inspect::admin(p) {
            Ok(admin) => match admin.get("/healthz/ready").await {
                Ok(r) if r.status.is_success() => Ok(()),
                Ok(r) => Err(format!(
                    "/healthz/ready answered {}: {}",
                    r.status,
                    r.body.trim()
                )),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(format!("{e:#}")),
        };
        match ready {
            Ok(()) => checks.push(Check::ok(format!("gateway {} is ready", p.id))),
            Err(e) => checks.push(Check::fail(
                format!("gateway {} is ready", p.id),
                e,
                "see the gateway's log; it is not ready until it has its config (and \
                 certificate)",
            )),
        }
    }
    if checks.is_empty() {
        let profile = install.map_or("?", |i| i.profile.as_str());
        checks.push(Check::ok(format!(
            "no gateway is installed (profile {profile})"
        )));
    }
    category("meshctl-gateways", checks)
}

/// `meshctl-proxies`: every proxy connected, SYNCED, and none NACKED.
pub fn proxies(proxies: &[ProxyInfo], now: u64) -> Category {
    if proxies.is_empty() {
        return category(
            "meshctl-proxies",
            vec![Check::warn(
                "proxies are connected",
                "no proxy is connected to the control plane",
                "deploy workloads with sidecars, e.g. `meshctl samples deploy bookinfo`",
            )],
        );
    }
    let mut checks = Vec::new();
    let n = proxies.len();
    let by_state = |s: &'static str| proxies.iter().filter(move |p| p.state == s);
    let disconnected: Vec<&ProxyInfo> = by_state("DISCONNECTED").collect();
    for p in &disconnected {
        checks.push(Check::fail(
            format!("{} is connected", p.id),
            format!(
                "{} disconnected {} ago; its endpoints are withdrawn after the grace period",
                p.id,
                age(now.saturating_sub(p.state_since))
            ),
            "its process died or cannot reach the control plane: see meshctl-processes \
             above and its log",
        ));
    }
    if disconnected.is_empty() {
        checks.push(Check::ok(format!("all {n} proxies are connected")));
    }
    let stale: Vec<&ProxyInfo> = by_state("STALE").collect();
    for p in &stale {
        checks.push(Check::fail(
            format!("{} is SYNCED", p.id),
            format!(
                "{} has not ACKed config {} for {}",
                p.id,
                p.version_sent.as_deref().unwrap_or("?"),
                age(now.saturating_sub(p.state_since))
            ),
            "a proxy that does not answer its config stream is stuck or overloaded: see its \
             log",
        ));
    }
    let nacked: Vec<&ProxyInfo> = by_state("NACKED").collect();
    for p in &nacked {
        checks.push(Check::fail(
            format!("{} accepted its config", p.id),
            format!(
                "{} rejected config {}: {}",
                p.id,
                p.version_sent.as_deref().unwrap_or("?"),
                p.error.as_deref().unwrap_or("(no reason given)")
            ),
            "fix what the error names (`meshctl analyze` checks the rules); the proxy keeps \
             serving its last good config",
        ));
    }
    let synced = by_state("SYNCED").count();
    if synced == n {
        checks.push(Check::ok(format!("all {n} proxies are SYNCED")));
    }
    if nacked.is_empty() {
        checks.push(Check::ok("no proxy rejected its config (no NACK)"));
    }
    category("meshctl-proxies", checks)
}

/// The categories that need the control plane, when it does not answer.
pub fn unreachable() -> Category {
    category(
        "meshctl-proxies",
        vec![Check::fail(
            "proxies, gateways and the mTLS probe are checked",
            "not checked: the control plane does not answer",
            "fix the control plane first (see meshctl-control-plane above)",
        )],
    )
}

/// Every category, in order.
pub async fn all(state: &StateDir) -> Vec<super::Category> {
    let now = unix_now();
    let (platform, install) = platform(state);
    let mut out = vec![platform, processes(state)];
    let (cp, api) = control_plane(state).await;
    out.push(cp);
    out.push(ca(state, now));
    let Some(api) = api else {
        out.push(unreachable());
        return out;
    };
    match settled_proxies(&api).await {
        Ok(list) => {
            let records = state.records().unwrap_or_default();
            out.push(gateways(install.as_ref(), &records, &list).await);
            out.push(proxies(&list, unix_now()));
            out.push(super::probe::run(&list).await);
        }
        Err(e) => out.push(category(
            "meshctl-proxies",
            vec![Check::fail(
                "the control plane lists its proxies",
                format!("{e:#}"),
                "see the control plane's log; `meshctl install` restarts it",
            )],
        )),
    }
    out
}
