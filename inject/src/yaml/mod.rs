//! The YAML layer: a lossless-enough document model and its reader and writer.
//!
//! serde-saphyr (the workspace's YAML crate) deserializes into typed values; it has no
//! generic value type of its own, and going through serde's data model would lose what a
//! faithful rewrite needs: which scalars were quoted (`"80"` vs `80`), their tags, and
//! the difference between `1.0` and `1`. So documents are built from serde-saphyr's own
//! event parser (`serde_saphyr::granit_parser`, no extra dependency) into [`Node`]:
//!
//! - mappings keep key order; scalars keep their exact text, quoting style and tag;
//! - aliases are expanded (bounded against alias bombs); anchors, flow style, collection
//!   tags and comments inside a rewritten document are not kept;
//! - documents nobody changes are never re-emitted: [`split`] hands out each document's
//!   original text, which is written back byte for byte.

pub mod emit;
pub mod json;
pub mod node;
pub mod parse;
pub mod resolve;
pub mod split;

pub use node::{map, Map, Node, Scalar, Style};
pub use resolve::semantic_eq;
