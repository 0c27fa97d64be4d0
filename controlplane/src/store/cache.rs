//! The in-memory copy every backend serves reads from, the single-writer rule, and the
//! revision watch the push side reacts to.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use mesh_api::istio::Kind;
use tokio::sync::watch;

use super::error::StoreError;
use super::key::Key;
use super::state::{Change, State};
use super::types::{Applied, ApplyItem, DeleteOptions, Stored};

/// Reads are served from here without touching the backend; writes go through
/// [`Cache::write`], one at a time.
#[derive(Debug)]
pub(crate) struct Cache {
    /// Held from planning to commit, so two writers never plan against the same state.
    writer: Mutex<()>,
    state: RwLock<State>,
    revision: watch::Sender<u64>,
}

impl Cache {
    pub(crate) fn new(state: State) -> Cache {
        let (revision, _) = watch::channel(state.revision);
        Cache {
            writer: Mutex::new(()),
            state: RwLock::new(state),
            revision,
        }
    }

    /// Plans with `plan`, persists with `persist` (which must be durable when it returns
    /// `Ok`), then makes the change visible and announces the new revision. If planning or
    /// persisting fails, nothing changes.
    pub(crate) fn write(
        &self,
        plan: impl FnOnce(&State) -> Result<Change, StoreError>,
        persist: impl FnOnce(&Change) -> Result<(), StoreError>,
    ) -> Result<Change, StoreError> {
        // A panic elsewhere cannot leave State half-updated (commit only inserts and
        // removes whole entries), so a poisoned lock is still safe to use.
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let change = plan(&self.state.read().unwrap_or_else(PoisonError::into_inner))?;
        if change.changes_anything() {
            persist(&change)?;
            self.state
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .commit(&change);
            self.revision.send_replace(change.revision);
        }
        Ok(change)
    }

    pub(crate) fn apply(
        &self,
        batch: Vec<ApplyItem>,
        persist: impl FnOnce(&Change) -> Result<(), StoreError>,
    ) -> Result<Vec<Applied>, StoreError> {
        self.write(|s| s.plan_apply(batch), persist)
            .map(|c| c.applied)
    }

    pub(crate) fn delete(
        &self,
        keys: Vec<Key>,
        options: DeleteOptions,
        persist: impl FnOnce(&Change) -> Result<(), StoreError>,
    ) -> Result<Vec<Key>, StoreError> {
        self.write(|s| s.plan_delete(keys, options), persist)
            .map(|c| c.removals)
    }

    pub(crate) fn get(&self, key: &Key) -> Option<Arc<Stored>> {
        let key = Key::new(key.kind, &key.namespace, &key.name);
        self.read(|s| s.entries.get(&key).cloned())
    }

    pub(crate) fn list(&self, kind: Option<Kind>, namespace: Option<&str>) -> Vec<Arc<Stored>> {
        self.read(|s| s.list(kind, namespace))
    }

    pub(crate) fn revision(&self) -> u64 {
        *self.revision.borrow()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.revision.subscribe()
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.read().unwrap_or_else(PoisonError::into_inner))
    }
}
