//! `meshctl analyze`'s checks: problems that no single resource shows but a set of them
//! does (a route to a subset nothing defines, a subset that selects no workload, ...), with
//! Istio's message codes and wording where Istio has a message for it.
//!
//! Pure: resources and workloads in, [`Finding`]s out; no IO, so every rule is unit-tested
//! with values ([`rules`] has one function per rule).
//!
//! - [`Item`]: a resource and, when it came from a file, where its fields are.
//! - [`Workload`]: what the registry knows of one workload (its labels select subsets).
//! - [`Finding`]: one message, printed as istioctl prints it:
//!   `Error [IST0101] (VirtualService default/reviews rules.yaml:12) Referenced ...`.

mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use mesh_api::istio::source_map::SourceMap;
use mesh_api::istio::{Kind, Resource};
use serde::Serialize;

/// How serious a finding is (Istio's levels, in increasing order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
pub enum Level {
    /// Worth knowing.
    Info,
    /// Probably a mistake.
    Warning,
    /// Traffic will not go where the rule says.
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Info => "Info",
            Level::Warning => "Warning",
            Level::Error => "Error",
        })
    }
}

/// The messages this analysis emits: Istio's code, name and level for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// IST0101: a resource refers to a host, subset or gateway that does not exist.
    ReferencedResourceNotFound,
    /// IST0109: two VirtualServices bound to the mesh define the same host.
    ConflictingMeshGatewayVirtualServiceHosts,
    /// IST0173: a DestinationRule subset selects no workload.
    DestinationRuleSubsetNotSelectPods,
}

impl Code {
    /// `IST0101`.
    pub fn id(self) -> &'static str {
        match self {
            Code::ReferencedResourceNotFound => "IST0101",
            Code::ConflictingMeshGatewayVirtualServiceHosts => "IST0109",
            Code::DestinationRuleSubsetNotSelectPods => "IST0173",
        }
    }

    /// Istio's message name.
    pub fn name(self) -> &'static str {
        match self {
            Code::ReferencedResourceNotFound => "ReferencedResourceNotFound",
            Code::ConflictingMeshGatewayVirtualServiceHosts => {
                "ConflictingMeshGatewayVirtualServiceHosts"
            }
            Code::DestinationRuleSubsetNotSelectPods => "DestinationRuleSubsetNotSelectPods",
        }
    }

    /// Istio's level for it.
    pub fn level(self) -> Level {
        match self {
            Code::ReferencedResourceNotFound | Code::ConflictingMeshGatewayVirtualServiceHosts => {
                Level::Error
            }
            Code::DestinationRuleSubsetNotSelectPods => Level::Warning,
        }
    }

    /// Istio's page on the message's causes and fixes.
    pub fn documentation_url(self) -> String {
        format!(
            "https://istio.io/latest/docs/reference/config/analysis/{}/",
            self.id().to_ascii_lowercase()
        )
    }
}

/// One resource to analyze.
#[derive(Clone, Debug)]
pub struct Item {
    /// The resource, its namespace filled in.
    pub resource: Resource,
    /// The file it was read from, when it was (`-f`), else None (stored in the mesh).
    pub file: Option<String>,
    /// Where its fields are in that file.
    pub source_map: Option<SourceMap>,
}

impl Item {
    /// A stored resource (no file); an empty namespace becomes `default`, as the store does.
    pub fn stored(resource: Resource) -> Item {
        Item {
            resource: with_namespace(resource),
            file: None,
            source_map: None,
        }
    }

    /// A resource read from `file`.
    pub fn from_file(resource: Resource, file: &str, source_map: SourceMap) -> Item {
        Item {
            resource: with_namespace(resource),
            file: Some(file.to_string()),
            source_map: Some(source_map),
        }
    }

    fn namespace(&self) -> &str {
        self.resource.namespace()
    }
}

fn with_namespace(mut r: Resource) -> Resource {
    let meta = match &mut r {
        Resource::VirtualService(x) => &mut x.metadata,
        Resource::DestinationRule(x) => &mut x.metadata,
        Resource::Gateway(x) => &mut x.metadata,
        Resource::ServiceEntry(x) => &mut x.metadata,
        Resource::PeerAuthentication(x) => &mut x.metadata,
        Resource::AuthorizationPolicy(x) => &mut x.metadata,
    };
    if meta.namespace.is_empty() {
        meta.namespace = "default".into();
    }
    r
}

/// One workload the registry knows (a sidecar's proxy registered it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// The proxy's id, `reviews-v1-0.default`.
    pub id: String,
    /// The service it belongs to, `reviews`.
    pub service: String,
    pub namespace: String,
    /// `app`, `version`, ...: what subsets select on.
    pub labels: BTreeMap<String, String>,
    /// A gateway (`router`) rather than a sidecar: not an endpoint of its service.
    pub gateway: bool,
}

/// One problem found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub code: Code,
    /// The resource it is about.
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    /// Its file and the line of the field at fault, when it came from a file.
    pub file: Option<String>,
    pub line: Option<usize>,
    /// The field at fault, `spec.http[0].route[0].destination.subset`.
    pub field: String,
    pub message: String,
}

impl Finding {
    /// Istio's level for its code.
    pub fn level(&self) -> Level {
        self.code.level()
    }

    /// `VirtualService default/reviews`.
    pub fn origin(&self) -> String {
        format!("{} {}/{}", self.kind.as_str(), self.namespace, self.name)
    }

    /// `rules.yaml:12`, when it came from a file.
    pub fn reference(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        Some(match self.line {
            Some(line) if line > 0 => format!("{file}:{line}"),
            _ => file.clone(),
        })
    }
}

impl fmt::Display for Finding {
    /// As istioctl prints it: `Error [IST0101] (VirtualService default/reviews f.yaml:12) ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}] ({}",
            self.level(),
            self.code.id(),
            self.origin()
        )?;
        if let Some(r) = self.reference() {
            write!(f, " {r}")?;
        }
        write!(f, ") {}", self.message)
    }
}

/// A finding as `-o json|yaml` prints it (istioctl's fields, plus the field path).
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct FindingOut {
    pub code: &'static str,
    pub name: &'static str,
    pub level: Level,
    pub origin: String,
    pub reference: Option<String>,
    pub field: String,
    pub message: String,
    pub documentation_url: String,
}

impl From<&Finding> for FindingOut {
    fn from(f: &Finding) -> FindingOut {
        FindingOut {
            code: f.code.id(),
            name: f.code.name(),
            level: f.level(),
            origin: f.origin(),
            reference: f.reference(),
            field: f.field.clone(),
            message: f.message.clone(),
            documentation_url: f.code.documentation_url(),
        }
    }
}

/// What to analyze.
#[derive(Debug, Default)]
pub struct Input {
    /// Every resource, as if the files were applied over what is stored (see [`merge`]).
    pub items: Vec<Item>,
    /// Every workload in the registry.
    pub workloads: Vec<Workload>,
}

/// The stored resources with the files' resources applied over them: a file's resource
/// replaces a stored one of the same kind, namespace and name (as `apply` would).
pub fn merge(stored: Vec<Item>, files: Vec<Item>) -> Vec<Item> {
    let key = |i: &Item| {
        (
            i.resource.kind(),
            i.namespace().to_string(),
            i.resource.name().to_string(),
        )
    };
    let mut by_key: BTreeMap<_, Item> = BTreeMap::new();
    for item in stored.into_iter().chain(files) {
        by_key.insert(key(&item), item);
    }
    by_key.into_values().collect()
}

/// Runs every rule; findings sorted by level (errors first), resource, then field.
pub fn analyze(input: &Input) -> Vec<Finding> {
    let mut out = Vec::new();
    rules::subset_not_found(input, &mut out);
    rules::unknown_host(input, &mut out);
    rules::gateway_not_found(input, &mut out);
    rules::conflicting_mesh_hosts(input, &mut out);
    rules::subset_selects_nothing(input, &mut out);
    out.sort_by(|a, b| {
        b.level()
            .cmp(&a.level())
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.namespace.cmp(&b.namespace))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.line.cmp(&b.line))
            .then_with(|| a.field.cmp(&b.field))
    });
    out.dedup();
    out
}
