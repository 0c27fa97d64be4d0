//! Where the mesh runs. A [`Platform`] installs, stops and reports on the mesh's components;
//! commands such as `install`, `uninstall` and `apply` only talk to this trait, so the kube
//! platform can be added beside [`local`] without touching them.
//!
//! - [`local`]: processes on this machine under a state directory (`$MESHCTL_HOME`).

pub mod local;

use std::fmt;
use std::net::SocketAddr;

use crate::profile::MeshSpec;
use crate::samples::{Sample, SampleWorkload};

/// A part of the mesh that `install` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// `mesh-controlplane`.
    ControlPlane,
    /// The ingress gateway.
    IngressGateway,
    /// The egress gateway.
    EgressGateway,
}

impl Component {
    /// In install order; stopped in the reverse order.
    pub const ALL: [Component; 3] = [
        Component::ControlPlane,
        Component::IngressGateway,
        Component::EgressGateway,
    ];

    /// As shown to people: `Control plane`.
    pub fn title(self) -> &'static str {
        match self {
            Component::ControlPlane => "Control plane",
            Component::IngressGateway => "Ingress gateway",
            Component::EgressGateway => "Egress gateway",
        }
    }

    /// The key under `spec.components` and the name of its files in the state directory.
    pub fn key(self) -> &'static str {
        match self {
            Component::ControlPlane => "controlPlane",
            Component::IngressGateway => "ingressGateway",
            Component::EgressGateway => "egressGateway",
        }
    }

    /// The component whose key is `key`.
    pub fn from_key(key: &str) -> Option<Component> {
        Component::ALL.into_iter().find(|c| c.key() == key)
    }

    /// Whether `spec` switches it on.
    pub fn enabled(self, spec: &MeshSpec) -> bool {
        let c = &spec.components;
        match self {
            Component::ControlPlane => c.control_plane.enabled,
            Component::IngressGateway => c.ingress_gateway.enabled,
            Component::EgressGateway => c.egress_gateway.enabled,
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// What `install` did to one component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// It was not running; now it is.
    Started { pid: u32 },
    /// It was running, healthy and configured as asked: left alone.
    Kept { pid: u32 },
    /// It was running with other settings, or was not healthy: replaced. `why` says which.
    Restarted { pid: u32, why: String },
    /// It is switched off and was running: stopped.
    Removed,
    /// It is switched off and was not running.
    Absent,
}

/// A problem found before anything starts, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Problem {
    /// The component it concerns, if any.
    pub component: Option<Component>,
    /// What is wrong and what to do.
    pub message: String,
}

/// A platform operation that failed; the message says what to do next.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlatformError(pub String);

/// How one component is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Running, with its process id.
    Running { pid: u32 },
    /// Installed but its process is gone.
    Dead { pid: u32 },
    /// Not installed.
    NotInstalled,
}

/// One component's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentStatus {
    /// Which component.
    pub component: Component,
    /// Its state.
    pub state: State,
    /// Where its log is, when it has one.
    pub log: Option<String>,
}

/// What `samples deploy` did to one workload's two processes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadChange {
    /// The application.
    pub app: Change,
    /// Its sidecar.
    pub sidecar: Change,
}

/// What `samples remove` stopped of one workload (None: it had no record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadRemoved {
    /// The application.
    pub app: Option<Stopped>,
    /// Its sidecar.
    pub sidecar: Option<Stopped>,
}

/// What `uninstall` stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// The process's name in the state directory (a component key, or a sample workload's
    /// app or sidecar: `bookinfo-reviews-v2`, `bookinfo-reviews-v2-sidecar`).
    pub name: String,
    /// Its process id.
    pub pid: u32,
    /// True when it was running and was stopped, false when it had already gone.
    pub was_running: bool,
}

/// A place the mesh runs (see the module docs).
// Used inside this binary on a current-thread runtime: no Send bound is needed on the futures.
#[allow(async_fn_in_trait)]
pub trait Platform {
    /// The target, for confirmations: `platform local, state dir /home/me/.meshctl`.
    fn target(&self) -> String;

    /// Everything that would make installing `spec` fail, found before anything starts
    /// (missing programs, ports in use, components this platform cannot run).
    fn preflight(&self, spec: &MeshSpec) -> Vec<Problem>;

    /// Brings `component` to what `spec` asks: starts it, keeps it when healthy and unchanged,
    /// restarts it when it died or its settings changed, stops it when switched off. Waits
    /// until it is ready.
    async fn install_component(
        &mut self,
        component: Component,
        spec: &MeshSpec,
    ) -> Result<Change, PlatformError>;

    /// Stops one component if it runs.
    fn stop_component(&mut self, component: Component) -> Result<Change, PlatformError>;

    /// Records `spec` as installed (after every component is in place).
    fn record_install(&mut self, profile: &str, spec: &MeshSpec) -> Result<(), PlatformError>;

    /// Stops whatever this run started (Ctrl-C or a failed install), so nothing is orphaned.
    /// Returns what could not be stopped.
    fn abort(&mut self) -> Vec<String>;

    /// The run completed: what it started stays running (nothing for [`Self::abort`]).
    fn keep_started(&mut self);

    /// Why `sample` cannot be deployed: Err when the mesh is not installed or its control
    /// plane does not run (the message says to run `meshctl install`); else every problem
    /// found before anything starts (missing programs, addresses in use).
    fn sample_preflight(&self, sample: &Sample) -> Result<Vec<Problem>, PlatformError>;

    /// Runs one workload of `sample` with its sidecar in the mesh: keeps each process that
    /// runs as asked and answers, (re)starts the others, and waits until the sidecar is
    /// ready and the app answers.
    async fn deploy_workload(
        &mut self,
        sample: &Sample,
        workload: &SampleWorkload,
    ) -> Result<WorkloadChange, PlatformError>;

    /// Stops one workload of `sample` and its sidecar, if they run.
    fn remove_workload(
        &mut self,
        sample: &Sample,
        workload: &SampleWorkload,
    ) -> Result<WorkloadRemoved, PlatformError>;

    /// Where the installed ingress gateway serves a Gateway's HTTP port (80, or Istio's
    /// 8080), or why there is none and what to do.
    fn ingress(&self) -> Result<SocketAddr, PlatformError>;

    /// Every component's state.
    fn status(&self) -> Result<Vec<ComponentStatus>, PlatformError>;

    /// Stops every process the mesh started; with `purge`, also deletes its state.
    fn uninstall(&mut self, purge: bool) -> Result<Vec<Stopped>, PlatformError>;

    /// The control plane's monitoring and config API, or why it cannot be reached and what
    /// to do (nothing installed: run `meshctl install`).
    fn control_plane(&self) -> Result<SocketAddr, PlatformError>;
}
