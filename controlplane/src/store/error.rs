//! What can go wrong in the store, each error saying what to do next.

use std::path::PathBuf;

use mesh_api::istio::Diagnostics;

use super::key::Key;

/// A backend's own error (redb today, the Kubernetes API later), kept as the source.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store operation failed. A failed `apply` or `delete` changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// At least one resource of the batch is invalid; nothing of the batch was stored.
    #[error(
        "nothing was applied: {count} problem(s) in the batch; fix them and apply again:\n{0}",
        count = .0.len()
    )]
    Invalid(Diagnostics),

    /// `delete` named resources that are not stored; nothing was deleted.
    #[error(
        "nothing was deleted: not in the store: {}; check the kind, namespace and name \
         (list shows what is stored), or ignore missing resources",
        join(.0)
    )]
    NotFound(Vec<Key>),

    /// Another process (or another handle in this one) has the store open.
    #[error(
        "the config store {} is in use by another process (is a control plane already \
         running with this MESHCTL_HOME?); stop it, or use another state directory",
        .0.display()
    )]
    AlreadyOpen(PathBuf),

    /// The file exists but is not a readable meshctl store.
    #[error(
        "the config store {} is corrupt or not a meshctl store ({detail}); move the file \
         aside (keep it for a bug report) and start again, then re-apply your YAML",
        path.display()
    )]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// What was wrong with it.
        detail: String,
    },

    /// The store could not be opened, read or written; for a write, nothing was stored.
    #[error(
        "the config store {} could not {action}: {source}; check the disk has space and the \
         directory is writable, then retry",
        path.display()
    )]
    Backend {
        /// The store file (or, for remote stores, what was being reached).
        path: PathBuf,
        /// What the store was doing, e.g. "commit the batch".
        action: &'static str,
        /// The backend's error.
        #[source]
        source: BackendError,
    },

    /// The blocking task that writes to disk did not finish (the runtime is shutting down).
    #[error("the store's writer task stopped before finishing ({0}); the write may not have happened: check with list, then retry")]
    WriterStopped(String),
}

fn join(keys: &[Key]) -> String {
    keys.iter()
        .map(Key::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
