//! The local platform's store: one redb file, `<dir>/config.redb`.
//!
//! Why redb: every apply or delete is one ACID write transaction, and `commit` returns only
//! after the data is fsync'd (durability `Immediate`), so an acknowledged write survives
//! `kill -9` and a power cut; a torn commit is detected by checksums and rolled back to the
//! last whole one on the next open. Two-phase commit is on as well (two fsyncs per commit),
//! which config writes, a few a minute, easily afford. redb also takes an exclusive file
//! lock, so a second control plane on the same state directory fails fast instead of
//! corrupting it. Write-temp + fsync + rename would need a file per resource (or rewriting
//! everything per apply) and a hand-made protocol for multi-resource atomicity.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mesh_api::istio::Kind;
use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, StorageError, TableDefinition,
};
use tokio::sync::watch;

use super::cache::Cache;
use super::error::StoreError;
use super::key::{kind_from_str, Key};
use super::record;
use super::state::{Change, State};
use super::types::{Applied, ApplyItem, DeleteOptions, Stored};
use super::ConfigStore;

/// The store file's name inside the store directory.
pub const FILE_NAME: &str = "config.redb";

/// (kind, namespace, name) -> record JSON.
const RESOURCES: TableDefinition<(&str, &str, &str), &str> = TableDefinition::new("resources");
/// Store-wide values: the revision and the record format.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_REVISION: &str = "revision";
const META_FORMAT: &str = "format";
/// Bumped when records change incompatibly, so an old meshctl refuses a newer store.
const FORMAT: u64 = 1;

/// A durable [`ConfigStore`] in a directory; see the module documentation.
#[derive(Debug, Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    path: PathBuf,
    cache: Cache,
}

/// redb's page cache.
const CACHE_BYTES: usize = 4 << 20;

impl LocalStore {
    /// Opens (creating when needed) the store in `dir`, e.g. `$MESHCTL_HOME/store`, and
    /// loads everything into memory. Fails if another process has it open.
    pub fn open(dir: impl AsRef<Path>) -> Result<LocalStore, StoreError> {
        let dir = dir.as_ref();
        let path = dir.join(FILE_NAME);
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend {
            path: dir.to_path_buf(),
            action: "create its directory",
            source: Box::new(e),
        })?;
        // Everything is served from memory (`load` reads it all once), so redb's page cache
        // (1 GiB by default) only ever holds pages of recent writes: keep it small.
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| open_error(&path, e))?;
        let state = load(&db, &path)?;
        // redb fsyncs the file, not the directory entry of a file it just created; without
        // this a power cut soon after the first apply could lose the whole file.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::Backend {
                path: dir.to_path_buf(),
                action: "sync its directory",
                source: Box::new(e),
            })?;
        Ok(LocalStore {
            inner: Arc::new(Inner {
                db,
                path,
                cache: Cache::new(state),
            }),
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs a write on the blocking pool: the commit's fsyncs must not stall the runtime.
    /// If the caller drops the future, the write still finishes (or fails) as a whole.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| StoreError::WriterStopped(e.to_string()))?
    }
}

impl Inner {
    /// Writes a planned change in one transaction; durable when this returns `Ok`.
    fn persist(&self, change: &Change) -> Result<(), StoreError> {
        let fail = |source: redb::Error| StoreError::Backend {
            path: self.path.clone(),
            action: "commit the change (nothing of it was stored)",
            source: Box::new(source),
        };
        let mut txn = self.db.begin_write().map_err(|e| fail(e.into()))?;
        txn.set_two_phase_commit(true);
        {
            let mut resources = txn.open_table(RESOURCES).map_err(|e| fail(e.into()))?;
            for stored in &change.upserts {
                let json = record::encode(stored).map_err(|e| StoreError::Backend {
                    path: self.path.clone(),
                    action: "encode a resource (nothing was stored)",
                    source: Box::new(e),
                })?;
                resources
                    .insert(table_key(&stored.key), json.as_str())
                    .map_err(|e| fail(e.into()))?;
            }
            for key in &change.removals {
                resources
                    .remove(table_key(key))
                    .map_err(|e| fail(e.into()))?;
            }
            let mut meta = txn.open_table(META).map_err(|e| fail(e.into()))?;
            meta.insert(META_REVISION, change.revision)
                .map_err(|e| fail(e.into()))?;
        }
        txn.commit().map_err(|e| fail(e.into()))
    }
}

fn table_key(key: &Key) -> (&str, &str, &str) {
    (key.kind.as_str(), key.namespace.as_str(), key.name.as_str())
}

fn open_error(path: &Path, e: DatabaseError) -> StoreError {
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::AlreadyOpen(path.to_path_buf()),
        DatabaseError::Storage(StorageError::Corrupted(detail)) => corrupt(detail),
        DatabaseError::UpgradeRequired(v) => corrupt(format!(
            "the file is in an unsupported redb format version {v}"
        )),
        DatabaseError::RepairAborted => corrupt("repairing it after a crash failed".into()),
        // A file too short or with a foreign header reads as an I/O error of these kinds.
        DatabaseError::Storage(StorageError::Io(io))
            if matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            corrupt(io.to_string())
        }
        other => StoreError::Backend {
            path: path.to_path_buf(),
            action: "be opened",
            source: Box::new(other),
        },
    }
}

/// Checks the format (stamping a new file) and reads every record.
fn load(db: &Database, path: &Path) -> Result<State, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let fail = |action: &'static str| {
        move |e: redb::Error| StoreError::Backend {
            path: path.to_path_buf(),
            action,
            source: Box::new(e),
        }
    };
    // A write transaction creates the tables of a new file, so reads below always find them.
    let txn = db
        .begin_write()
        .map_err(|e| fail("start a transaction")(e.into()))?;
    {
        let mut meta = txn.open_table(META).map_err(|e| corrupt(e.to_string()))?;
        let format = meta
            .get(META_FORMAT)
            .map_err(|e| fail("be read")(e.into()))?
            .map(|v| v.value());
        match format {
            None => {
                meta.insert(META_FORMAT, FORMAT)
                    .map_err(|e| fail("be initialised")(e.into()))?;
            }
            Some(FORMAT) => {}
            Some(other) => {
                return Err(corrupt(format!(
                    "record format {other} is not the format {FORMAT} this meshctl reads; \
                     use the meshctl that wrote it"
                )))
            }
        }
        txn.open_table(RESOURCES)
            .map_err(|e| corrupt(e.to_string()))?;
    }
    txn.commit().map_err(|e| fail("be initialised")(e.into()))?;

    let read = db
        .begin_read()
        .map_err(|e| fail("start a transaction")(e.into()))?;
    let meta = read.open_table(META).map_err(|e| corrupt(e.to_string()))?;
    let revision = meta
        .get(META_REVISION)
        .map_err(|e| fail("be read")(e.into()))?
        .map_or(0, |v| v.value());
    let resources = read
        .open_table(RESOURCES)
        .map_err(|e| corrupt(e.to_string()))?;
    let mut state = State {
        revision,
        ..State::default()
    };
    for row in resources.iter().map_err(|e| fail("be read")(e.into()))? {
        let (k, v) = row.map_err(|e| fail("be read")(e.into()))?;
        let (kind, namespace, name) = k.value();
        let kind = kind_from_str(kind)
            .ok_or_else(|| corrupt(format!("a record has unknown kind {kind:?}")))?;
        let key = Key::new(kind, namespace, name);
        let stored = record::decode(key.clone(), v.value()).map_err(corrupt)?;
        state.entries.insert(key, Arc::new(stored));
    }
    Ok(state)
}

impl ConfigStore for LocalStore {
    async fn apply(&self, batch: Vec<ApplyItem>) -> Result<Vec<Applied>, StoreError> {
        self.write(move |inner| inner.cache.apply(batch, |c| inner.persist(c)))
            .await
    }

    async fn delete(&self, keys: Vec<Key>, options: DeleteOptions) -> Result<Vec<Key>, StoreError> {
        self.write(move |inner| inner.cache.delete(keys, options, |c| inner.persist(c)))
            .await
    }

    fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<Arc<Stored>> {
        self.inner.cache.get(&Key::new(kind, namespace, name))
    }

    fn list(&self, kind: Option<Kind>, namespace: Option<&str>) -> Vec<Arc<Stored>> {
        self.inner.cache.list(kind, namespace)
    }

    fn revision(&self) -> u64 {
        self.inner.cache.revision()
    }

    fn watch(&self) -> watch::Receiver<u64> {
        self.inner.cache.watch()
    }
}
