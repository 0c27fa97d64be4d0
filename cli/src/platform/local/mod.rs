//! The local platform: the mesh's components are processes on this machine, on loopback,
//! under a state directory ([`state`]). [`launch`] says what to run for each component,
//! [`process`] starts, recognises and stops processes.

pub mod launch;
pub mod process;
pub mod state;

use std::net::{SocketAddr, TcpListener};
use std::process::Child;
use std::time::{Duration, Instant};

use super::{Change, Component, ComponentStatus, Platform, PlatformError, Problem, State, Stopped};
use crate::client::ApiClient;
use crate::profile::MeshSpec;
use launch::Launch;
use state::{InstallRecord, Lock, ProcessRecord, StateDir};

/// How long a running component gets to answer before install counts it unhealthy.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The local platform over one state directory.
#[derive(Debug)]
pub struct LocalPlatform {
    state: StateDir,
    ready_timeout: Duration,
    /// Processes this run started, to stop on Ctrl-C or failure.
    started: Vec<(Child, ProcessRecord)>,
    lock: Option<Lock>,
}

impl LocalPlatform {
    /// The platform over `state`; components get `ready_timeout` to become ready.
    pub fn new(state: StateDir, ready_timeout: Duration) -> LocalPlatform {
        LocalPlatform {
            state,
            ready_timeout,
            started: Vec::new(),
            lock: None,
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

    /// How to run `component`, or why this build cannot run it here.
    fn launch(&self, component: Component, spec: &MeshSpec) -> Result<Launch, String> {
        match component {
            Component::ControlPlane => Ok(launch::control_plane(spec, self.state.root())),
            Component::IngressGateway | Component::EgressGateway => Err(format!(
                "this meshctl build cannot run the {} on the local platform yet (gateways \
                 arrive with a later release); install --profile minimal, or pass --set \
                 components.{}.enabled=false",
                component.title().to_lowercase(),
                component.key()
            )),
        }
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

    async fn answers(addr: SocketAddr, timeout: Duration) -> bool {
        ApiClient::new(addr, timeout)
            .get("/version")
            .await
            .is_ok_and(|r| r.status.is_success())
    }

    /// Starts `argv` for `launch`, records it, waits until it is ready.
    async fn start(&mut self, launch: &Launch, argv: Vec<String>) -> Result<u32, PlatformError> {
        let key = launch.component.key();
        let log = self.state.log_file(key);
        // Errors name the program that ran (next to meshctl, or found on PATH).
        let program = argv.first().cloned().unwrap_or_default();
        let title = launch.component.title();
        let mut child = process::spawn(&argv, self.state.root(), &log)
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
            if Self::answers(launch.ready, Duration::from_secs(1)).await {
                return Ok(pid);
            }
            if Instant::now() > deadline {
                return Err(PlatformError(format!(
                    "the {} ({program}, pid {pid}) did not answer on http://{}/version within \
                     {:?}; see its log {} (a larger --timeout helps on a slow machine)",
                    title.to_lowercase(),
                    launch.ready,
                    self.ready_timeout,
                    log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stop_record(&self, record: &ProcessRecord) -> Result<bool, PlatformError> {
        let was = process::stop(record, process::TERM_GRACE).map_err(PlatformError)?;
        self.state.remove_record(&record.name)?;
        Ok(was)
    }
}

impl Platform for LocalPlatform {
    fn target(&self) -> String {
        format!("platform local, state dir {}", self.state.root().display())
    }

    fn preflight(&self, spec: &MeshSpec) -> Vec<Problem> {
        let mut problems = Vec::new();
        for component in Component::ALL.into_iter().filter(|c| c.enabled(spec)) {
            let problem = |message| Problem {
                component: Some(component),
                message,
            };
            let launch = match self.launch(component, spec) {
                Ok(l) => l,
                Err(m) => {
                    problems.push(problem(m));
                    continue;
                }
            };
            let argv = match Self::argv(&launch) {
                Ok(a) => a,
                Err(m) => {
                    problems.push(problem(m));
                    continue;
                }
            };
            let running = self.running(component);
            if running.as_ref().is_some_and(|r| r.argv == argv) {
                continue; // kept as it is (or restarted on its own ports)
            }
            for (addr, key) in &launch.binds {
                let held_by_old = running
                    .as_ref()
                    .is_some_and(|r| r.endpoints.values().any(|a| a == addr));
                if held_by_old {
                    continue;
                }
                if let Err(e) = TcpListener::bind(addr) {
                    let why = if e.kind() == std::io::ErrorKind::AddrInUse {
                        "is in use by another program".to_string()
                    } else {
                        format!("cannot be bound ({e})")
                    };
                    problems.push(problem(format!(
                        "{addr} ({key}) {why}; stop that program, or move the {} to another \
                         port with --set {key}=PORT",
                        component.title().to_lowercase()
                    )));
                }
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
        let launch = self.launch(component, spec).map_err(PlatformError)?;
        let argv = Self::argv(&launch).map_err(PlatformError)?;
        let mut why = None;
        if let Some(old) = self.state.read_record(component.key())? {
            if process::is_running(&old) {
                if old.argv == argv {
                    if Self::answers(launch.ready, PROBE_TIMEOUT).await {
                        return Ok(Change::Kept { pid: old.pid });
                    }
                    why = Some(format!("it did not answer on {}", launch.ready));
                } else {
                    why = Some("its settings changed".to_string());
                }
                self.stop_record(&old)?;
            } else {
                why = Some(format!("it was not running (pid {} gone)", old.pid));
                self.state.remove_record(&old.name)?;
            }
        }
        let pid = self.start(&launch, argv).await?;
        Ok(match why {
            None => Change::Started { pid },
            Some(why) => Change::Restarted { pid, why },
        })
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
        self.started.clear();
        Ok(())
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
        // Workloads and gateways before the control plane they talk to.
        records.sort_by_key(|r| match Component::from_key(&r.name) {
            Some(c) => 1 + Component::ALL.len() - c as usize,
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
