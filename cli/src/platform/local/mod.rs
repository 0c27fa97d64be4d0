//! The local platform: the mesh's components are processes on this machine, on loopback,
//! under a state directory ([`state`]). [`launch`] says what to run for each component,
//! [`samples`] for each sample workload (its app and its sidecar, and the address plan),
//! [`process`] starts, recognises and stops processes; [`workloads`] deploys and removes
//! sample workloads.

pub mod launch;
pub mod process;
pub mod samples;
pub mod state;
mod workloads;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use mesh_controlplane::ca::authority::ROOT_CERT_FILE;
use mesh_controlplane::ca::token::TOKEN_KEY_FILE;
use mesh_controlplane::ca::{Identity, TokenAuthority};

use super::{
    Change, Component, ComponentStatus, Platform, PlatformError, Problem, State, Stopped,
    WorkloadChange, WorkloadRemoved,
};
use crate::client::ApiClient;
use crate::profile::MeshSpec;
use crate::samples::{Sample, SampleWorkload};
use launch::Launch;
use state::{InstallRecord, Lock, ProcessRecord, StateDir};

/// How long a running component gets to answer before install counts it unhealthy.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a gateway's bootstrap token is valid. The gateway uses it for its first
/// certificate and after that renews with its certificate; the token is needed again only if
/// the certificate expired (the gateway was cut off longer than its lifetime), and every
/// start by `meshctl install` issues a fresh one.
const TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Whether a running `record` is what `launch` (as `argv`) would start: same command line
/// and same addresses (a gateway's HTTP port is in its workload file, not its arguments).
fn same(record: &ProcessRecord, launch: &Launch, argv: &[String]) -> bool {
    record.argv == argv && record.endpoints == launch.endpoints
}

/// The local platform over one state directory.
#[derive(Debug)]
pub struct LocalPlatform {
    state: StateDir,
    ready_timeout: Duration,
    /// Processes this run started, to stop on Ctrl-C or failure.
    started: Vec<(Child, ProcessRecord)>,
    lock: Option<Lock>,
    /// Where sample workloads' addresses start ([`samples::plan`]).
    first_ip: Ipv4Addr,
}

impl LocalPlatform {
    /// The platform over `state`; components get `ready_timeout` to become ready.
    pub fn new(state: StateDir, ready_timeout: Duration) -> LocalPlatform {
        LocalPlatform {
            state,
            ready_timeout,
            started: Vec::new(),
            lock: None,
            first_ip: samples::FIRST_IP,
        }
    }

    /// The state directory.
    pub fn state(&self) -> &StateDir {
        &self.state
    }

    /// Takes the state directory's lock for the rest of this run (install, uninstall).
    pub fn lock(&mut self) -> Result<(), PlatformError> {
        self.lock = Some(self.state.lock()?);
        Ok(())
    }

    /// How to run `component`.
    fn launch(&self, component: Component, spec: &MeshSpec) -> Launch {
        launch::component(component, spec, self.state.root())
    }

    fn argv(launch: &Launch) -> Result<Vec<String>, String> {
        let program = launch::find_program(launch.program)?;
        Ok(std::iter::once(program.display().to_string())
            .chain(launch.args.iter().cloned())
            .collect())
    }

    /// The running record of `component`, if its process is alive and is what was recorded.
    fn running(&self, component: Component) -> Option<ProcessRecord> {
        self.state
            .read_record(component.key())
            .ok()
            .flatten()
            .filter(process::is_running)
    }

    /// True when `launch`'s ready URL answers 200.
    async fn answers(launch: &Launch, timeout: Duration) -> bool {
        Self::readiness(launch, timeout).await.is_ok()
    }

    /// `Ok` when `launch`'s ready URL answers 200, else what it answered (a proxy says what
    /// it waits for: `NOT READY: no certificate yet: ...`).
    async fn readiness(launch: &Launch, timeout: Duration) -> Result<(), String> {
        match ApiClient::new(launch.ready, timeout)
            .get(launch.ready_path)
            .await
        {
            Ok(r) if r.status.is_success() => Ok(()),
            Ok(r) => Err(format!("it answered {}: {}", r.status, r.body.trim())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Writes the files `launch` reads (workload file, bootstrap token) before it starts.
    /// The token comes from the CA's key in the state directory, which the control plane
    /// (installed first) created.
    fn write_files(&self, launch: &Launch) -> Result<(), PlatformError> {
        let io = |what: &str, path: &Path, e: std::io::Error| {
            PlatformError(format!("cannot {what} {}: {e}", path.display()))
        };
        for (path, text) in &launch.files {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
            }
            std::fs::write(path, text).map_err(|e| io("write", path, e))?;
        }
        let Some(t) = &launch.token else {
            return Ok(());
        };
        let ca = self.state.root().join("ca");
        // Created by the control plane at its first start; one made here would be unknown
        // to a control plane that already runs.
        if !ca.join(TOKEN_KEY_FILE).exists() {
            return Err(PlatformError(format!(
                "cannot issue a bootstrap token for the {}: the control plane has not \
                 created {}; check the control plane's log, then run `meshctl install` again",
                launch.title,
                ca.join(TOKEN_KEY_FILE).display()
            )));
        }
        let tokens = TokenAuthority::load_or_create(&ca).map_err(|e| {
            PlatformError(format!(
                "cannot issue a bootstrap token for the {} from {}: {e}",
                launch.title,
                ca.display()
            ))
        })?;
        let id = Identity::new(&t.trust_domain, &t.namespace, &t.service_account)
            .map_err(|e| PlatformError(format!("cannot issue a bootstrap token: {e}")))?;
        let token = tokens.issue(&id, TOKEN_TTL);
        if let Some(dir) = t.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
        }
        // A fresh file, so it is 0600 from its first byte.
        match std::fs::remove_file(&t.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("replace", &t.path, e))
            }
            _ => {}
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&t.path)
            .map_err(|e| io("create", &t.path, e))?;
        f.write_all(token.as_bytes())
            .map_err(|e| io("write", &t.path, e))
    }

    /// Starts `argv` for `launch`, records it, waits until it is ready.
    async fn start(&mut self, launch: &Launch, argv: Vec<String>) -> Result<u32, PlatformError> {
        let key = launch.name.as_str();
        let log = self.state.log_file(key);
        // Errors name the program that ran (next to meshctl, or found on PATH).
        let program = argv.first().cloned().unwrap_or_default();
        self.write_files(launch)?;
        let mut child = process::spawn(&argv, self.state.root(), &log, launch.env.as_ref())
            .map_err(|e| PlatformError(format!("cannot start {}: {e}", argv.join(" "))))?;
        let mut record = match process::record_of(&child, key, &argv, &log) {
            Ok(r) => r,
            Err(e) => {
                let _ = child.wait();
                return Err(PlatformError(format!(
                    "{program} exited at once ({e}); the end of its log {}:\n{}",
                    log.display(),
                    process::log_tail(&log, 10)
                )));
            }
        };
        record.endpoints = launch.endpoints.clone();
        record.sample = launch.sample.clone();
        let pid = record.pid;
        // Recorded before waiting, so neither a Ctrl-C nor a crash of meshctl loses track of it.
        let written = self.state.write_record(&record);
        self.started.push((child, record));
        written?;
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            let exited = match self.started.last_mut() {
                Some((child, _)) => child.try_wait().ok().flatten(),
                None => None,
            };
            if let Some(status) = exited {
                return Err(PlatformError(format!(
                    "{program} exited ({status}) while starting; the end of its log {}:\n{}",
                    log.display(),
                    process::log_tail(&log, 10)
                )));
            }
            let last = match Self::readiness(launch, Duration::from_secs(1)).await {
                Ok(()) => return Ok(pid),
                Err(e) => e,
            };
            if Instant::now() > deadline {
                return Err(PlatformError(format!(
                    "the {} ({program}, pid {pid}) did not answer 200 on http://{}{} within \
                     {:?} (last: {last}); see its log {} (a larger --timeout helps on a slow \
                     machine)",
                    launch.title,
                    launch.ready,
                    launch.ready_path,
                    self.ready_timeout,
                    log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Brings the process of `launch` to what it says: keeps it when it runs as asked and
    /// answers, else (re)starts it and waits until it is ready.
    async fn ensure(&mut self, launch: &Launch) -> Result<Change, PlatformError> {
        let argv = Self::argv(launch).map_err(PlatformError)?;
        let mut why = None;
        if let Some(old) = self.state.read_record(&launch.name)? {
            if process::is_running(&old) {
                if same(&old, launch, &argv) {
                    if Self::answers(launch, PROBE_TIMEOUT).await {
                        return Ok(Change::Kept { pid: old.pid });
                    }
                    why = Some(format!(
                        "it did not answer on http://{}{}",
                        launch.ready, launch.ready_path
                    ));
                } else {
                    why = Some("its settings changed".to_string());
                }
                self.stop_record(&old)?;
            } else {
                why = Some(format!("it was not running (pid {} gone)", old.pid));
                self.state.remove_record(&old.name)?;
            }
        }
        let pid = self.start(launch, argv).await?;
        Ok(match why {
            None => Change::Started { pid },
            Some(why) => Change::Restarted { pid, why },
        })
    }

    /// The addresses of `launch` that cannot be bound, each with why, skipping those a
    /// running `old` process holds (it is stopped before the new one starts).
    fn busy(
        launch: &Launch,
        old: Option<&ProcessRecord>,
    ) -> Vec<(SocketAddr, &'static str, String)> {
        let mut out = Vec::new();
        for (addr, key) in &launch.binds {
            let held_by_old = old.is_some_and(|r| r.endpoints.values().any(|a| a == addr));
            if held_by_old {
                continue;
            }
            if let Err(e) = TcpListener::bind(addr) {
                let why = if e.kind() == std::io::ErrorKind::AddrInUse {
                    "is in use by another program".to_string()
                } else {
                    format!("cannot be bound ({e})")
                };
                out.push((*addr, *key, why));
            }
        }
        out
    }

    fn stop_record(&self, record: &ProcessRecord) -> Result<bool, PlatformError> {
        let was = process::stop(record, process::TERM_GRACE).map_err(PlatformError)?;
        self.state.remove_record(&record.name)?;
        Ok(was)
    }
    /// `values.certificates` against what the control plane accepts and the CA this state
    /// directory already holds: its trust domain was fixed when it was created, and every
    /// certificate and token in the mesh names it, so a different one needs a new CA.
    fn certificate_problems(&self, spec: &MeshSpec) -> Vec<Problem> {
        let certs = &spec.values.certificates;
        let mut problems = Vec::new();
        if !Component::ControlPlane.enabled(spec) {
            return problems;
        }
        let mut problem = |message| {
            problems.push(Problem {
                component: Some(Component::ControlPlane),
                message,
            })
        };
        if certs.ttl.as_std() < mesh_controlplane::ca::MIN_CERT_TTL {
            problem(format!(
                "values.certificates.ttl {} is too short: workload certificates must live at \
                 least {}s (Istio's default is 24h); set --set values.certificates.ttl=24h",
                certs.ttl,
                mesh_controlplane::ca::MIN_CERT_TTL.as_secs()
            ));
        }
        if let Err(e) = Identity::new(&certs.trust_domain, "default", "default") {
            problem(format!(
                "values.certificates.trustDomain {:?} is not a valid trust domain: {e}",
                certs.trust_domain
            ));
        }
        let ca_dir = self.state.root().join("ca");
        if ca_dir.join(ROOT_CERT_FILE).exists() {
            match mesh_controlplane::ca::Ca::load(&ca_dir) {
                Ok(ca) if ca.trust_domain() != certs.trust_domain => problem(format!(
                    "values.certificates.trustDomain is {:?}, but this mesh's CA ({}) was \
                     created for {:?}, and every workload identity names it; keep {:?} \
                     (--set values.certificates.trustDomain={}), or start a new mesh with a new \
                     CA: `meshctl uninstall --purge`, then install again",
                    certs.trust_domain,
                    ca_dir.display(),
                    ca.trust_domain(),
                    ca.trust_domain(),
                    ca.trust_domain()
                )),
                Ok(_) => {}
                Err(e) => problem(format!(
                    "cannot read this mesh's CA in {}: {e}; restore its files, or start a new \
                     mesh with `meshctl uninstall --purge`",
                    ca_dir.display()
                )),
            }
        }
        problems
    }
}

impl Platform for LocalPlatform {
    fn target(&self) -> String {
        format!("platform local, state dir {}", self.state.root().display())
    }

    fn preflight(&self, spec: &MeshSpec) -> Vec<Problem> {
        let mut problems = self.certificate_problems(spec);
        for component in Component::ALL.into_iter().filter(|c| c.enabled(spec)) {
            let problem = |message| Problem {
                component: Some(component),
                message,
            };
            let launch = self.launch(component, spec);
            let argv = match Self::argv(&launch) {
                Ok(a) => a,
                Err(m) => {
                    problems.push(problem(m));
                    continue;
                }
            };
            let running = self.running(component);
            if running.as_ref().is_some_and(|r| same(r, &launch, &argv)) {
                continue; // kept as it is (or restarted on its own ports)
            }
            for (addr, key, why) in Self::busy(&launch, running.as_ref()) {
                problems.push(problem(format!(
                    "{addr} ({key}) {why}; stop that program, or move the {} to another port \
                     with --set {key}=PORT",
                    component.title().to_lowercase()
                )));
            }
        }
        problems
    }

    async fn install_component(
        &mut self,
        component: Component,
        spec: &MeshSpec,
    ) -> Result<Change, PlatformError> {
        if !component.enabled(spec) {
            return self.stop_component(component);
        }
        let launch = self.launch(component, spec);
        self.ensure(&launch).await
    }

    fn stop_component(&mut self, component: Component) -> Result<Change, PlatformError> {
        match self.state.read_record(component.key())? {
            Some(r) if self.stop_record(&r)? => Ok(Change::Removed),
            _ => Ok(Change::Absent),
        }
    }

    fn record_install(&mut self, profile: &str, spec: &MeshSpec) -> Result<(), PlatformError> {
        self.state
            .write_install(&InstallRecord::new(profile, spec))?;
        // Complete: nothing of this run is to be undone any more.
        self.keep_started();
        Ok(())
    }

    fn keep_started(&mut self) {
        self.started.clear();
    }

    fn sample_preflight(&self, sample: &Sample) -> Result<Vec<Problem>, PlatformError> {
        self.sample_problems(sample)
    }

    async fn deploy_workload(
        &mut self,
        sample: &Sample,
        workload: &SampleWorkload,
    ) -> Result<WorkloadChange, PlatformError> {
        self.deploy(sample, workload).await
    }

    fn remove_workload(
        &mut self,
        sample: &Sample,
        workload: &SampleWorkload,
    ) -> Result<WorkloadRemoved, PlatformError> {
        self.remove(sample, workload)
    }

    fn ingress(&self) -> Result<SocketAddr, PlatformError> {
        self.ingress_address()
    }

    fn abort(&mut self) -> Vec<String> {
        let mut failed = Vec::new();
        while let Some((mut child, record)) = self.started.pop() {
            if let Err(e) = self.stop_record(&record) {
                failed.push(format!("{}: {e}", record.name));
            }
            // Reap it: it is our child until meshctl exits.
            let _ = child.try_wait();
        }
        failed
    }

    fn status(&self) -> Result<Vec<ComponentStatus>, PlatformError> {
        let mut out = Vec::new();
        for component in Component::ALL {
            let record = self.state.read_record(component.key())?;
            let state = match &record {
                Some(r) if process::is_running(r) => State::Running { pid: r.pid },
                Some(r) => State::Dead { pid: r.pid },
                None => State::NotInstalled,
            };
            out.push(ComponentStatus {
                component,
                state,
                log: record.map(|r| r.log.display().to_string()),
            });
        }
        Ok(out)
    }

    fn uninstall(&mut self, purge: bool) -> Result<Vec<Stopped>, PlatformError> {
        let mut records = self.state.records()?;
        // Sample workloads (apps, then their sidecars) first, then gateways, then the
        // control plane they talk to.
        records.sort_by_key(|r| match Component::from_key(&r.name) {
            Some(c) => 2 + Component::ALL.len() - c as usize,
            None if r.sample.is_some() && r.name.ends_with(samples::SIDECAR_SUFFIX) => 1,
            None => 0,
        });
        let mut stopped = Vec::new();
        let mut failed = Vec::new();
        for r in records {
            match self.stop_record(&r) {
                Ok(was_running) => stopped.push(Stopped {
                    name: r.name.clone(),
                    pid: r.pid,
                    was_running,
                }),
                Err(e) => failed.push(format!("{}: {e}", r.name)),
            }
        }
        if !failed.is_empty() {
            return Err(PlatformError(format!(
                "could not stop everything; nothing was purged:\n{}",
                failed.join("\n")
            )));
        }
        self.state.remove_install()?;
        if purge {
            let root = self.state.root();
            std::fs::remove_dir_all(root)
                .map_err(|e| PlatformError(format!("cannot remove {}: {e}", root.display())))?;
        }
        Ok(stopped)
    }

    fn control_plane(&self) -> Result<SocketAddr, PlatformError> {
        let root = self.state.root().display();
        match self.state.read_record(Component::ControlPlane.key())? {
            Some(r) if process::is_running(&r) => {
                r.endpoints.get("monitoring").copied().ok_or_else(|| {
                    PlatformError(format!(
                        "the control plane's record in {root} names no monitoring address; run \
                     `meshctl install` to repair it"
                    ))
                })
            }
            Some(r) => Err(PlatformError(format!(
                "the control plane (pid {}) is not running; run `meshctl install` to repair \
                 it (its log: {})",
                r.pid,
                r.log.display()
            ))),
            None => match self.state.read_install()? {
                Some(i) => Err(PlatformError(format!(
                    "no control plane is installed in {root} (the installed configuration, \
                     profile {}, switches it off); run `meshctl install --profile minimal`",
                    i.profile
                ))),
                None => Err(PlatformError(format!(
                    "nothing is installed in {root}; run `meshctl install` first (e.g. \
                     `meshctl install --profile minimal`)"
                ))),
            },
        }
    }
}
