//! The config store: the Istio resources users applied, validated, versioned and (on the
//! local platform) durable.
//!
//! - [`ConfigStore`]: the interface. [`LocalStore`] keeps resources in one redb file under
//!   the state directory; [`MemoryStore`] keeps them in memory (tests, and the shape the
//!   Kubernetes store will take: custom resources behind the same trait).
//! - Keys are (kind, namespace, name) ([`Key`]); a resource without a namespace lives in
//!   `default`. Every stored resource carries a generation (1 on create, +1 on each change;
//!   an identical re-apply leaves it alone), the store revisions that created and last
//!   changed it, and the file it came from ([`Stored`]).
//! - A batch is validated with `mesh_api`'s validation first; any problem fails the whole
//!   batch with every diagnostic at once, and nothing is stored.
//!
//! Why writes are async and reads are not: a write waits for the disk (an fsync) here and
//! for the API server on Kubernetes, and must not stall a runtime thread meanwhile; reads
//! are answered from an in-memory copy in every backend (on Kubernetes, a watch-fed cache,
//! as kube-rs' reflector keeps), so they are cheap and callable from anywhere. The trait
//! uses `impl Future` returns rather than a boxed `dyn` object: callers pick the backend
//! once at start-up (`--platform`) and can be generic over it.

mod cache;
mod error;
mod key;
mod local;
mod memory;
mod record;
mod state;
pub mod testing;
mod types;

use std::future::Future;
use std::sync::Arc;

use mesh_api::istio::{load, Kind};
use tokio::sync::watch;

pub use error::{BackendError, StoreError};
pub use key::{namespace_or_default, Key, DEFAULT_NAMESPACE};
pub use local::LocalStore;
pub use memory::MemoryStore;
pub use types::{Applied, ApplyItem, DeleteOptions, Outcome, Source, Stored};

/// Where Istio resources are kept. See the module documentation for the rules.
pub trait ConfigStore: Send + Sync {
    /// Creates or replaces every resource of `batch`, all or nothing. Returns, in batch
    /// order, what happened to each resource and its generation. When anything changed the
    /// store revision goes up by one; for a durable store the change is on disk when this
    /// returns `Ok`.
    fn apply(
        &self,
        batch: Vec<ApplyItem>,
    ) -> impl Future<Output = Result<Vec<Applied>, StoreError>> + Send;

    /// Deletes every key, all or nothing. A key that is not stored fails the whole delete
    /// (naming it) unless `options.ignore_missing`. Returns the keys actually deleted.
    fn delete(
        &self,
        keys: Vec<Key>,
        options: DeleteOptions,
    ) -> impl Future<Output = Result<Vec<Key>, StoreError>> + Send;

    /// One stored resource; an empty `namespace` means `default`.
    fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<Arc<Stored>>;

    /// Stored resources, filtered by kind and namespace when given, ordered by kind,
    /// namespace, name.
    fn list(&self, kind: Option<Kind>, namespace: Option<&str>) -> Vec<Arc<Stored>>;

    /// The store-wide revision: bumped once by every apply or delete that changed anything.
    fn revision(&self) -> u64;

    /// The revision as it changes, for the push side to recompute snapshots.
    fn watch(&self) -> watch::Receiver<u64>;

    /// Reads `text` (multi-document YAML named `file` in diagnostics) with
    /// [`mesh_api::istio::load`] and applies every resource in it as one batch.
    fn apply_yaml(
        &self,
        file: &str,
        text: &str,
    ) -> impl Future<Output = Result<Vec<Applied>, StoreError>> + Send {
        let batch =
            load(file, text).map(|parsed| parsed.into_iter().map(ApplyItem::from).collect());
        async move { self.apply(batch.map_err(StoreError::Invalid)?).await }
    }
}
