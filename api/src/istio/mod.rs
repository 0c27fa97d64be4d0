//! Istio's resources with Istio's field names, read from multi-document YAML and validated
//! the way Istio validates them, with `file:line:column: field.path: message` diagnostics.
//!
//! - Types: [`virtual_service`] and [`http_route`], [`destination_rule`] and
//!   [`traffic_policy`], [`gateway`], [`service_entry`], [`security`]; the shared envelope
//!   in [`meta`]; the enum over all kinds in [`resource`].
//! - Reading: [`parse`] (entry points [`parse_documents`] and [`load`]), with positions from
//!   [`source_map`] and problems as [`diagnostics`].
//! - Checking: [`validate`]; host names as Istio reads them: [`hosts`].

pub mod destination_rule;
pub mod diagnostics;
pub mod gateway;
pub mod hosts;
pub mod http_route;
pub mod meta;
pub mod parse;
pub mod resource;
pub mod security;
pub mod service_entry;
pub mod source_map;
pub mod traffic_policy;
pub mod validate;
pub mod virtual_service;

pub use diagnostics::{Diagnostic, Diagnostics, Pos};
pub use parse::{load, load_bytes, parse_documents, Parsed};
pub use resource::{
    AuthorizationPolicy, DestinationRule, Gateway, Kind, PeerAuthentication, Resource,
    ServiceEntry, VirtualService,
};
