//! What the dashboard reads from the control plane's monitoring port, as plain serde types,
//! and the [`Snapshot`] one fetch produces.
//!
//! `GET /api/v1/mesh` decodes into mesh-api's [`mesh_api::telemetry`] types, the ones the
//! control plane serialises; `GET /apis/resources` into [`StoredResource`]. Every field has
//! a default and unknown fields are ignored, so a newer control plane that adds fields, or an
//! older one that lacks some, still decodes.

use std::time::SystemTime;

use serde::Deserialize;

pub use mesh_api::telemetry::{
    Edge, Mesh, Node, Protocol, Proxy, ProxyType, ResourceAcks, SyncState, TargetStatus, Window,
};

/// One resource of `GET /apis/resources`, with its full body.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StoredResource {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub generation: u64,
    pub revision: u64,
    /// The resource as stored (`apiVersion`, `kind`, `metadata`, `spec`).
    pub resource: serde_json::Value,
}

impl StoredResource {
    /// The `spec` object, or `Null`.
    pub fn spec(&self) -> &serde_json::Value {
        &self.resource["spec"]
    }
}

/// Identifies a resource across snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

impl ResourceId {
    pub fn of(r: &ResourceAcks) -> ResourceId {
        ResourceId {
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        }
    }
}

/// Everything one successful fetch saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The window the numbers are for.
    pub window: Window,
    /// When the fetch completed.
    pub fetched_at: SystemTime,
    pub mesh: Mesh,
    /// Every stored resource with its body (for the Config view's YAML and rule matching).
    pub stored: Vec<StoredResource>,
    /// The control plane's version (`GET /version`).
    pub control_plane_version: Option<String>,
}

impl Snapshot {
    /// A snapshot from the two answers.
    pub fn new(
        window: Window,
        fetched_at: SystemTime,
        mesh: Mesh,
        stored: Vec<StoredResource>,
    ) -> Snapshot {
        Snapshot {
            window,
            fetched_at,
            mesh,
            stored,
            control_plane_version: None,
        }
    }

    /// The stored body of a resource.
    pub fn stored(&self, id: &ResourceId) -> Option<&StoredResource> {
        self.stored
            .iter()
            .find(|s| s.kind == id.kind && s.namespace == id.namespace && s.name == id.name)
    }
}
