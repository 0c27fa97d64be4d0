//! Helpers for tests of code that uses a store (kept as library code so every test reuses
//! them rather than copying them).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh directory under the system temp dir, removed (with its contents) when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/meshctl-<label>-<pid>-<n>`.
    pub fn new(label: &str) -> std::io::Result<TempDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("meshctl-{label}-{}-{n}", std::process::id()));
        // A leftover from a crashed run with a recycled pid must not leak into this one.
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is harmless.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A valid VirtualService named `name` splitting `reviews` traffic between subsets v1
/// (`v1_weight`%) and v2 (the rest); a different weight makes a different resource.
pub fn reviews_split_yaml(name: &str, v1_weight: u32) -> String {
    let v2_weight = 100u32.saturating_sub(v1_weight);
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {name}
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
      weight: {v1_weight}
    - destination:
        host: reviews
        subset: v2
      weight: {v2_weight}
"
    )
}

/// A valid DestinationRule named `name` in `namespace` with subsets v1 and v2 of `reviews`.
pub fn reviews_subsets_yaml(name: &str, namespace: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: {name}
  namespace: {namespace}
spec:
  host: reviews
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
"
    )
}
