//! A store in memory: for tests, and the model of a store whose durability lives elsewhere
//! (the Kubernetes store keeps this shape, with the API server in place of nothing).

use std::sync::Arc;

use mesh_api::istio::Kind;
use tokio::sync::watch;

use super::cache::Cache;
use super::error::StoreError;
use super::key::Key;
use super::state::State;
use super::types::{Applied, ApplyItem, DeleteOptions, Stored};
use super::ConfigStore;

/// A [`ConfigStore`] that forgets everything when dropped.
#[derive(Debug)]
pub struct MemoryStore {
    cache: Cache,
}

impl MemoryStore {
    /// An empty store at revision 0.
    pub fn new() -> MemoryStore {
        MemoryStore {
            cache: Cache::new(State::default()),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore::new()
    }
}

impl ConfigStore for MemoryStore {
    async fn apply(&self, batch: Vec<ApplyItem>) -> Result<Vec<Applied>, StoreError> {
        self.cache.apply(batch, |_| Ok(()))
    }

    async fn delete(&self, keys: Vec<Key>, options: DeleteOptions) -> Result<Vec<Key>, StoreError> {
        self.cache.delete(keys, options, |_| Ok(()))
    }

    fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<Arc<Stored>> {
        self.cache.get(&Key::new(kind, namespace, name))
    }

    fn list(&self, kind: Option<Kind>, namespace: Option<&str>) -> Vec<Arc<Stored>> {
        self.cache.list(kind, namespace)
    }

    fn revision(&self) -> u64 {
        self.cache.revision()
    }

    fn watch(&self) -> watch::Receiver<u64> {
        self.cache.watch()
    }
}
