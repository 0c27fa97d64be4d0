//! Sidecar injection as pure functions of YAML text: `meshctl kube-inject` and the injection
//! webhook share them. No IO of its own: callers hand in a reader and a writer (or a string).
//!
//! ```
//! let input = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: web, image: nginx}]\n";
//! let out = mesh_inject::inject("web.yaml", input, &mesh_inject::InjectOptions::default())?;
//! assert!(out.yaml.contains("name: istio-proxy"));
//! let back = mesh_inject::uninject("web.yaml", &out.yaml)?;
//! # Ok::<(), mesh_inject::InjectError>(())
//! ```
//!
//! What a pod gets, where each piece is decided, and why:
//!
//! - [`workload`]: which kinds hold pod templates (Pod, Deployment, ReplicaSet, StatefulSet,
//!   DaemonSet, Job, CronJob, ReplicationController, DeploymentConfig, and `v1 List` items);
//!   everything else passes through byte for byte.
//! - [`decide`]: skips (host networking, system namespaces, opt-out label/annotation).
//! - [`traffic`]: Istio's traffic annotations, validated, into `mesh-proxy iptables` flags.
//! - [`sidecar`]: the init container, the proxy container, the volumes; [`merge`]: a user's
//!   own `istio-proxy` container customizes ours, as in Istio.
//! - [`pod`]: the one injection function, per pod template ([`inject_pod_json`] is the
//!   webhook's door to it); [`uninject`]: its inverse;
//!   [`status`]: the `sidecar.istio.io/status` annotation both rely on.
//! - [`stream`]: documents one at a time; [`yaml`]: the document model (why not serde types:
//!   see its docs).
//!
//! Document fidelity: documents without a changed pod template (other kinds, skipped
//! workloads, already-injected ones) are copied byte for byte, comments included. A changed
//! document is re-emitted in kubectl's layout: its values, key order and quoting are kept,
//! comment lines before and after it are kept, comments inside it are not (`istioctl
//! kube-inject` drops them all).

pub mod decide;
pub mod error;
pub mod merge;
pub mod names;
pub mod options;
pub mod pod;
pub mod report;
pub mod sidecar;
pub mod status;
pub mod stream;
pub mod traffic;
pub mod uninject;
pub mod workload;
pub mod yaml;

use std::io::{BufRead, Write};

pub use error::InjectError;
pub use options::{InjectOptions, Resources};
pub use pod::inject_pod_json;
pub use report::{Decision, Output, SkipReason, TemplateOutcome, WorkloadRef};

use stream::{run, IoSink, Mode};

/// Injects the sidecar into every pod template of `input` (multi-document YAML). `file`
/// names the input in errors. On error there is no output at all.
pub fn inject(file: &str, input: &str, opts: &InjectOptions) -> Result<Output, InjectError> {
    collect(file, input, Mode::Inject(opts))
}

/// Removes what injection added (as the status annotation lists it) from every pod template.
pub fn uninject(file: &str, input: &str) -> Result<Output, InjectError> {
    collect(file, input, Mode::Uninject)
}

fn collect(file: &str, input: &str, mode: Mode<'_>) -> Result<Output, InjectError> {
    let mut yaml = String::with_capacity(input.len() + input.len() / 2);
    let mut templates = Vec::new();
    run(file, input.as_bytes(), &mut yaml, mode, &mut |t| {
        templates.push(t)
    })?;
    Ok(Output { yaml, templates })
}

/// Streaming [`inject`]: reads `input` one document at a time and writes each result to
/// `output` as soon as it is ready, so memory follows the largest document, not the file.
/// `report` sees every pod template's outcome (print its warnings as they come).
///
/// An error can come after earlier documents were written: to leave no partial output,
/// write to a temporary file and rename it (or copy it to stdout) only on success.
pub fn inject_stream<R: BufRead + Send, W: Write>(
    file: &str,
    input: R,
    output: W,
    opts: &InjectOptions,
    report: &mut dyn FnMut(TemplateOutcome),
) -> Result<(), InjectError> {
    let mut sink = IoSink(output);
    run(file, input, &mut sink, Mode::Inject(opts), report)?;
    sink.0
        .flush()
        .map_err(|source| InjectError::Write { source })
}

/// Streaming [`uninject`], with the same contract as [`inject_stream`].
pub fn uninject_stream<R: BufRead + Send, W: Write>(
    file: &str,
    input: R,
    output: W,
    report: &mut dyn FnMut(TemplateOutcome),
) -> Result<(), InjectError> {
    let mut sink = IoSink(output);
    run(file, input, &mut sink, Mode::Uninject, report)?;
    sink.0
        .flush()
        .map_err(|source| InjectError::Write { source })
}
