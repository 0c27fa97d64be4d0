//! What happened to each pod template, as data: the CLI prints the warnings on stderr, the
//! webhook turns them into admission warnings, tests compare decisions.

use std::fmt;

/// A workload, as messages name it: `Deployment hello`, `Deployment sample/hello`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadRef {
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

impl fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name.is_empty() {
            "(unnamed)"
        } else {
            &self.name
        };
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{name}", self.kind),
            None => write!(f, "{} {name}", self.kind),
        }
    }
}

/// Why a pod template was left alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// `spec.hostNetwork: true`: iptables rules would capture the node's traffic.
    HostNetwork,
    /// A system namespace (kube-system, kube-public, kube-node-lease).
    SystemNamespace(String),
    /// `sidecar.istio.io/inject` or `meshctl.io/inject` says no (`what` is "label" or
    /// "annotation").
    OptedOut {
        what: &'static str,
        key: String,
        value: String,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::HostNetwork => write!(f, "host networking is enabled (hostNetwork: true)"),
            SkipReason::SystemNamespace(ns) => write!(f, "namespace {ns} is a system namespace"),
            SkipReason::OptedOut { what, key, value } => {
                write!(f, "the pod template's {what} {key} is {value:?}")
            }
        }
    }
}

/// The decision for one pod template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The sidecar was added (or re-added: an injected template is injected afresh).
    Injected,
    Skipped(SkipReason),
    /// Uninjection removed what the status annotation lists.
    Uninjected,
    /// Uninjection found no status annotation.
    NotInjected,
}

/// One pod template's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateOutcome {
    pub workload: WorkloadRef,
    pub decision: Decision,
    /// One-line notes about the template (an Istio feature we treat differently).
    pub notes: Vec<String>,
}

impl TemplateOutcome {
    /// One line per thing the user should know, each naming the workload: the skip reason
    /// and the notes.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Decision::Skipped(reason) = &self.decision {
            out.push(format!("skipping injection of {}: {reason}", self.workload));
        }
        out.extend(self.notes.iter().map(|n| format!("{}: {n}", self.workload)));
        out
    }
}

/// The transformed text and what happened to every pod template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub yaml: String,
    pub templates: Vec<TemplateOutcome>,
}

impl Output {
    /// Every warning line, in document order.
    pub fn warnings(&self) -> Vec<String> {
        self.templates.iter().flat_map(|t| t.warnings()).collect()
    }
}
