//! The registry of connected proxies, remembered across control-plane restarts.
//!
//! Why: after a restart proxies reconnect one by one (jittered backoff). Without memory, the
//! first to reconnect would get a snapshot without the others' endpoints and fail traffic to
//! them until they are back. Remembered proxies start DISCONNECTED, inside their grace period,
//! so their endpoints stay until they reconnect or the grace period ends.

use std::path::Path;

use mesh_api::xds::NodeIdentity;

/// The file name under the state directory.
pub const REGISTRY_FILE: &str = "registry.json";

/// The remembered proxies; nothing when the file is missing or unreadable (logged).
pub fn load(path: &Path) -> Vec<NodeIdentity> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the remembered registry; starting empty");
            return Vec::new();
        }
    };
    serde_json::from_slice(&text).unwrap_or_else(|e| {
        tracing::warn!(path = %path.display(), error = %e, "remembered registry is malformed; starting empty");
        Vec::new()
    })
}

/// Replaces the file atomically (temporary file, then rename). Failures are logged: the
/// registry is a cache that proxies rebuild by reconnecting.
pub fn save<'a>(path: &Path, nodes: impl Iterator<Item = &'a NodeIdentity>) {
    let nodes: Vec<&NodeIdentity> = nodes.collect();
    let tmp = path.with_extension("json.tmp");
    let result = serde_json::to_vec_pretty(&nodes)
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&tmp, bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "cannot remember the registry");
    }
}
