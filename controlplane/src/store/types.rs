//! The values the store takes and gives back.

use std::fmt;

use mesh_api::istio::{source_map::SourceMap, Parsed, Pos, Resource};

use super::key::Key;

/// Where a resource was read from, for `meshctl get` and for diagnostics on later changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The file name given to the parser.
    pub file: String,
    /// Where the resource's document starts.
    pub pos: Pos,
}

/// One resource as the store holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// Where it is stored.
    pub key: Key,
    /// The resource, with its namespace filled in.
    pub resource: Resource,
    /// 1 when created, +1 on every apply that changed it; an identical re-apply keeps it.
    pub generation: u64,
    /// The store [revision](super::ConfigStore::revision) that created it.
    pub created_revision: u64,
    /// The store revision that last changed it.
    pub updated_revision: u64,
    /// The file it was last applied from, when it came from a file.
    pub source: Option<Source>,
}

/// One resource to apply: the resource, and where it came from when it came from YAML (so
/// diagnostics point at `file:line:column`).
#[derive(Clone, Debug)]
pub struct ApplyItem {
    /// The resource.
    pub resource: Resource,
    /// The file and position, when known.
    pub source: Option<Source>,
    /// Field positions, when the resource came from YAML.
    pub source_map: Option<SourceMap>,
}

impl From<Parsed> for ApplyItem {
    fn from(p: Parsed) -> ApplyItem {
        ApplyItem {
            resource: p.resource,
            source: Some(Source {
                file: p.file,
                pos: p.pos,
            }),
            source_map: Some(p.source_map),
        }
    }
}

impl From<Resource> for ApplyItem {
    fn from(resource: Resource) -> ApplyItem {
        ApplyItem {
            resource,
            source: None,
            source_map: None,
        }
    }
}

/// What `apply` did to one resource, as `kubectl apply` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It was not stored before.
    Created,
    /// It was stored and this apply changed it.
    Configured,
    /// It was stored exactly as applied; nothing changed.
    Unchanged,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
        })
    }
}

/// The result of `apply` for one resource of the batch, in batch order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// Which resource.
    pub key: Key,
    /// What happened to it.
    pub outcome: Outcome,
    /// Its generation after the apply.
    pub generation: u64,
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} (generation {})",
            self.key, self.outcome, self.generation
        )
    }
}

/// Options of `delete`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Skip keys that are not stored instead of failing (`kubectl delete --ignore-not-found`).
    pub ignore_missing: bool,
}
