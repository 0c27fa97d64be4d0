//! Reading Istio resources from multi-document YAML, reporting every problem with its
//! `file:line:column` and field path.
//!
//! Two passes: [`super::source_map::scan`] splits the stream into documents and records
//! where each field is; then each document's text is deserialized into its typed resource by
//! serde-saphyr. A broken document does not stop the others from being read.

use serde::de::DeserializeOwned;

use super::diagnostics::{Diagnostic, Diagnostics, Pos};
use super::meta::Object;
use super::resource::{Kind, Resource};
use super::source_map::{scan, RawDoc, SourceMap};
use super::validate;

/// One resource read from a file, with where it came from.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The typed resource.
    pub resource: Resource,
    /// The file name given to the parser.
    pub file: String,
    /// Where the document starts (its `---` or first line).
    pub pos: Pos,
    /// Where each field of the document is, for diagnostics.
    pub source_map: SourceMap,
}

impl Parsed {
    /// Checks what Istio's validation checks; each problem points at its field.
    pub fn validate(&self) -> Vec<Diagnostic> {
        validate::validate(&self.resource, &self.file, Some(&self.source_map))
    }

    /// Where a field path of this document is (or its nearest located ancestor).
    pub fn locate(&self, path: &str) -> Pos {
        self.source_map.locate(path)
    }
}

/// Parses every document of `text`; empty documents are skipped. Reports all syntax,
/// kind and type problems of all documents, or returns the resources.
pub fn parse_documents(file: &str, text: &str) -> Result<Vec<Parsed>, Diagnostics> {
    let (parsed, mut problems) = parse_collect(file, text);
    problems.sort_by_key(|d| d.pos);
    Diagnostics(problems).into_result(parsed)
}

/// Parses and validates: like [`parse_documents`], plus every validation problem of every
/// document that could be read. This is what `meshctl apply`/`validate` use.
pub fn load(file: &str, text: &str) -> Result<Vec<Parsed>, Diagnostics> {
    let (parsed, mut problems) = parse_collect(file, text);
    for p in &parsed {
        problems.extend(p.validate());
    }
    // In file order, as an editor's problem list shows them.
    problems.sort_by_key(|d| d.pos);
    Diagnostics(problems).into_result(parsed)
}

/// Like [`load`], for raw bytes: invalid UTF-8 is reported with its line and column.
pub fn load_bytes(file: &str, bytes: &[u8]) -> Result<Vec<Parsed>, Diagnostics> {
    match std::str::from_utf8(bytes) {
        Ok(text) => load(file, text),
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            // Column in characters: the prefix of the line is valid UTF-8.
            let column = String::from_utf8_lossy(&valid[line_start..])
                .chars()
                .count()
                + 1;
            Err(Diagnostics(vec![Diagnostic {
                file: file.to_string(),
                pos: Pos { line, column },
                path: String::new(),
                message: "file is not valid UTF-8; save it as UTF-8".to_string(),
            }]))
        }
    }
}

fn parse_collect(file: &str, text: &str) -> (Vec<Parsed>, Vec<Diagnostic>) {
    let (docs, syntax) = scan(text);
    let mut parsed = Vec::new();
    let mut problems = Vec::new();
    for doc in docs {
        match parse_doc(file, text, doc) {
            Ok(Some(p)) => parsed.push(p),
            Ok(None) => {}
            Err(d) => problems.push(d),
        }
    }
    if let Some(e) = syntax {
        problems.push(Diagnostic {
            file: file.to_string(),
            pos: e.pos,
            path: String::new(),
            message: format!("invalid YAML: {}", e.message),
        });
    }
    (parsed, problems)
}

fn parse_doc(file: &str, text: &str, doc: RawDoc) -> Result<Option<Parsed>, Diagnostic> {
    if doc.empty {
        return Ok(None);
    }
    let start = doc.map.start();
    let problem = |path: &str, message: String| Diagnostic {
        file: file.to_string(),
        pos: doc.map.locate(path),
        path: path.to_string(),
        message,
    };
    if !doc.root_is_mapping {
        return Err(problem(
            "",
            "a document must be a mapping with apiVersion, kind, metadata and spec".into(),
        ));
    }
    let Some(api_version) = doc.api_version.as_deref() else {
        return Err(problem(
            "apiVersion",
            "required, e.g. networking.istio.io/v1".into(),
        ));
    };
    let Some(kind_name) = doc.kind.as_deref() else {
        return Err(problem("kind", "required, e.g. VirtualService".into()));
    };
    let kind = Kind::resolve(api_version, kind_name).map_err(|m| problem("kind", m))?;
    let slice = text.get(doc.range.clone()).unwrap_or_default();
    let resource = match kind {
        Kind::VirtualService => typed(slice).map(Resource::VirtualService),
        Kind::DestinationRule => typed(slice).map(Resource::DestinationRule),
        Kind::Gateway => typed(slice).map(Resource::Gateway),
        Kind::ServiceEntry => typed(slice).map(Resource::ServiceEntry),
        Kind::PeerAuthentication => typed(slice).map(Resource::PeerAuthentication),
        Kind::AuthorizationPolicy => typed(slice).map(Resource::AuthorizationPolicy),
    };
    match resource {
        Ok(resource) => Ok(Some(Parsed {
            resource,
            file: file.to_string(),
            pos: start,
            source_map: doc.map,
        })),
        Err(e) => Err(serde_problem(file, &doc, &e)),
    }
}

fn typed<S: DeserializeOwned + Default>(slice: &str) -> Result<Object<S>, serde_saphyr::Error> {
    serde_saphyr::from_str(slice)
}

/// Rewrites serde-saphyr's Rust-facing wording ("use Option<String>") for YAML authors.
fn yaml_words(message: &str) -> String {
    const REWRITES: [(&str, &str); 2] = [
        (
            "cannot deserialize null into string; use Option<String>",
            "a value is required here, but it is empty or null",
        ),
        (
            "invalid char: cannot deserialize null; use Option<char>",
            "a single character is required here, but it is empty or null",
        ),
    ];
    REWRITES
        .iter()
        .fold(message.to_string(), |m, (from, to)| m.replace(from, to))
}

/// Turns a serde-saphyr error on a document's slice into a diagnostic in file coordinates,
/// naming the field at the error's position.
fn serde_problem(file: &str, doc: &RawDoc, e: &serde_saphyr::Error) -> Diagnostic {
    let bare = e.without_snippet();
    let mut message = bare.to_string();
    let pos = match bare.location() {
        Some(loc) if loc.line() > 0 => {
            // serde-saphyr appends the (slice-relative) position; we print our own.
            let suffix = format!(" at line {}, column {}", loc.line(), loc.column());
            if let Some(m) = message.strip_suffix(&suffix) {
                message = m.to_string();
            }
            // The library's hints name its own API or Rust types, which mean nothing to a
            // YAML author.
            if let Some((m, _)) = message.split_once(", set DuplicateKeyPolicy") {
                message = format!("{m} (each field may appear only once)");
            }
            message = yaml_words(&message);
            Pos {
                line: usize::try_from(loc.line())
                    .unwrap_or(usize::MAX)
                    .saturating_add(doc.line_offset),
                column: usize::try_from(loc.column()).unwrap_or(0),
            }
        }
        _ => doc.map.start(),
    };
    Diagnostic {
        file: file.to_string(),
        pos,
        path: doc.map.path_at(pos).unwrap_or_default().to_string(),
        message,
    }
}
