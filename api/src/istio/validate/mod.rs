//! Checks Istio's own validation makes, beyond what the types already enforce (unknown
//! fields, unknown enum values and malformed durations are rejected while parsing).
//!
//! Every check reports and carries on, so one run shows every problem. Problems are located
//! through the document's [`SourceMap`]: the exact field when it is written, else its
//! nearest written ancestor (a missing `destination.host` points at `destination`).

mod common;
mod destination_rule;
mod gateway;
mod security;
mod virtual_service;

use super::diagnostics::{Diagnostic, Pos};
use super::resource::Resource;
use super::source_map::SourceMap;

/// Validates one resource. `source_map` locates fields; without one (a resource that did
/// not come from YAML) positions are 0:0.
pub fn validate(
    resource: &Resource,
    file: &str,
    source_map: Option<&SourceMap>,
) -> Vec<Diagnostic> {
    let mut r = Report {
        file,
        map: source_map,
        out: Vec::new(),
    };
    match resource {
        Resource::VirtualService(vs) => virtual_service::check(&vs.spec, &mut r),
        Resource::DestinationRule(dr) => destination_rule::check(&dr.spec, &mut r),
        Resource::Gateway(gw) => gateway::check_gateway(&gw.spec, &mut r),
        Resource::ServiceEntry(se) => gateway::check_service_entry(&se.spec, &mut r),
        Resource::PeerAuthentication(pa) => security::check_peer_authentication(&pa.spec, &mut r),
        Resource::AuthorizationPolicy(ap) => security::check_authorization_policy(&ap.spec, &mut r),
    }
    if resource.name().is_empty() {
        r.error("metadata.name", "required: every resource needs a name");
    } else if let Err(why) = dns1123_subdomain(resource.name()) {
        r.error(
            "metadata.name",
            format!(
                "{:?} is not a valid Kubernetes name: {why}",
                resource.name()
            ),
        );
    }
    let ns = &resource.metadata().namespace;
    if !ns.is_empty() {
        if let Err(why) = dns1123_label(ns) {
            r.error(
                "metadata.namespace",
                format!("{ns:?} is not a valid Kubernetes namespace: {why}"),
            );
        }
    }
    r.out
}

/// Kubernetes object names: a DNS-1123 subdomain (lowercase letters, digits, `-` and `.`,
/// starting and ending with a letter or digit, at most 253 characters).
fn dns1123_subdomain(name: &str) -> Result<(), &'static str> {
    if name.len() > 253 {
        return Err("at most 253 characters");
    }
    name.split('.')
        .try_for_each(|label| dns1123_chars(label, 253))
}

/// Namespaces: a DNS-1123 label (no dots, at most 63 characters).
fn dns1123_label(name: &str) -> Result<(), &'static str> {
    dns1123_chars(name, 63)
}

fn dns1123_chars(label: &str, max: usize) -> Result<(), &'static str> {
    let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = label.as_bytes();
    match (bytes.first(), bytes.last()) {
        _ if label.len() > max => Err("too long"),
        (Some(&f), Some(&l)) if ok(f) && ok(l) && bytes.iter().all(|&c| ok(c) || c == b'-') => {
            Ok(())
        }
        (None, _) => Err("empty part between dots"),
        _ => {
            Err("use lowercase letters, digits and '-', starting and ending with a letter or digit")
        }
    }
}

/// Collects problems for one document.
pub(crate) struct Report<'a> {
    file: &'a str,
    map: Option<&'a SourceMap>,
    out: Vec<Diagnostic>,
}

impl Report<'_> {
    /// Records a problem at `path` (located through the source map).
    pub(crate) fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        let pos = self.map.map_or(Pos::default(), |m| m.locate(&path));
        self.out.push(Diagnostic {
            file: self.file.to_string(),
            pos,
            path,
            message: message.into(),
        });
    }
}
