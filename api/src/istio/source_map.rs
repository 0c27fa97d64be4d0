//! Where every field of a YAML document is: a map from field path to line and column.
//!
//! serde gives us typed values but forgets positions, and wrapping every Istio field in
//! `Spanned<T>` would make the types unpleasant for everyone else. Instead we walk the YAML
//! event stream once (serde-saphyr's own parser, `granit_parser`) and record, for each
//! field path such as `spec.http[0].route[1].weight`, where its key and value are. Validation
//! then works on plain types and asks this map where a path is.

use std::collections::HashMap;
use std::ops::Range;

use serde_saphyr::granit_parser::{Event, Marker, Parser, ScalarStyle};

use super::diagnostics::Pos;

/// Positions of the fields of one YAML document, by field path.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    /// Where the document starts (its `---`, or its first node).
    start: Pos,
    /// Path -> position of the key (for mapping entries) or of the node (sequence items).
    by_path: HashMap<String, Pos>,
    /// (position, path) for every key and value, in document order, to map a position in a
    /// serde error back to the field it belongs to.
    by_pos: Vec<(Pos, String)>,
}

impl SourceMap {
    /// Where `path` is, or its nearest recorded ancestor, or the document start.
    pub fn locate(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.by_path.get(p) {
                return *pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return self.start,
            }
        }
    }

    /// The field a position belongs to: the deepest path recorded exactly there, else the last
    /// path recorded before it.
    pub fn path_at(&self, pos: Pos) -> Option<&str> {
        let exact = self
            .by_pos
            .iter()
            .filter(|(p, _)| *p == pos)
            .max_by_key(|(_, path)| path.len());
        if let Some((_, path)) = exact {
            return Some(path);
        }
        self.by_pos
            .iter()
            .filter(|(p, _)| *p <= pos)
            .max_by_key(|(p, _)| *p)
            .map(|(_, path)| path.as_str())
    }

    /// Where the document starts.
    pub fn start(&self) -> Pos {
        self.start
    }

    fn record(&mut self, path: &str, key: Option<Pos>, value: Pos) {
        let at = key.unwrap_or(value);
        self.by_path.insert(path.to_string(), at);
        if let Some(k) = key {
            self.by_pos.push((k, path.to_string()));
        }
        self.by_pos.push((value, path.to_string()));
    }
}

/// One YAML document found in a stream, before it is typed.
#[derive(Debug, Default)]
pub(crate) struct RawDoc {
    /// Byte range of the document's text in the stream, starting at a line start.
    pub range: Range<usize>,
    /// Lines before `range.start` (to turn serde's slice-relative lines into file lines).
    pub line_offset: usize,
    /// Top-level `apiVersion` and `kind`, when they are plain strings.
    pub api_version: Option<String>,
    pub kind: Option<String>,
    /// True for `---` alone, comments only, or an explicit null.
    pub empty: bool,
    /// False when the root is not a mapping (e.g. a bare string or a list).
    pub root_is_mapping: bool,
    pub map: SourceMap,
}

/// A YAML syntax error: where and what.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

enum Frame {
    Map {
        path: String,
        key: Option<(String, Pos)>,
        is_key: bool,
        start: Pos,
    },
    Seq {
        path: String,
        next: usize,
        is_key: bool,
        start: Pos,
    },
}

enum Slot {
    Key,
    Value { path: String, key: Option<Pos> },
}

fn pos(m: &Marker) -> Pos {
    Pos {
        line: m.line(),
        column: m.col() + 1,
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Splits `text` into documents and maps each one's fields. Documents completed before a
/// syntax error are still returned, so the caller can report their problems too.
pub(crate) fn scan(text: &str) -> (Vec<RawDoc>, Option<SyntaxError>) {
    // YAML breaks lines at `\n`, `\r\n` and a lone `\r`; the parser counts lines the same way.
    let bytes = text.as_bytes();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(bytes.iter().enumerate().filter_map(|(i, b)| match b {
            b'\n' => Some(i + 1),
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => Some(i + 1),
            _ => None,
        }))
        .collect();
    let line_start = |line: usize| {
        line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(text.len())
    };

    let mut docs: Vec<RawDoc> = Vec::new();
    let mut doc: Option<RawDoc> = None;
    let mut stack: Vec<Frame> = Vec::new();
    let mut error = None;

    for next in Parser::new_from_str(text) {
        let (event, span) = match next {
            Ok(ok) => ok,
            Err(e) => {
                error = Some(SyntaxError {
                    pos: pos(e.marker()),
                    message: e.info(),
                });
                break;
            }
        };
        let at = pos(&span.start);
        match event {
            Event::DocumentStart(..) => {
                let start = line_start(at.line);
                // The previous document ends where this one starts.
                if let Some(prev) = docs.last_mut() {
                    prev.range.end = start;
                }
                doc = Some(RawDoc {
                    range: start..text.len(),
                    line_offset: at.line.saturating_sub(1),
                    empty: true,
                    map: SourceMap {
                        start: at,
                        ..SourceMap::default()
                    },
                    ..RawDoc::default()
                });
                stack.clear();
            }
            Event::DocumentEnd => {
                if let Some(d) = doc.take() {
                    docs.push(d);
                }
            }
            Event::Scalar(ref value, style, ..) => {
                let Some(d) = doc.as_mut() else { continue };
                match slot(&mut stack) {
                    Slot::Key => set_key(&mut stack, value.to_string(), at),
                    Slot::Value { path, key } => {
                        if path.is_empty() {
                            let null = style == ScalarStyle::Plain
                                && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL");
                            d.empty = null;
                        }
                        match path.as_str() {
                            "apiVersion" => d.api_version = Some(value.to_string()),
                            "kind" => d.kind = Some(value.to_string()),
                            _ => {}
                        }
                        d.map.record(&path, key, at);
                    }
                }
            }
            Event::Alias(_) => {
                let Some(d) = doc.as_mut() else { continue };
                match slot(&mut stack) {
                    Slot::Key => set_key(&mut stack, "*".to_string(), at),
                    Slot::Value { path, key } => {
                        d.empty = false;
                        d.map.record(&path, key, at);
                    }
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let Some(d) = doc.as_mut() else { continue };
                let is_map = matches!(event, Event::MappingStart(..));
                let (path, is_key) = match slot(&mut stack) {
                    // A complex key (a mapping used as a key): map its insides under `?`.
                    Slot::Key => ("?".to_string(), true),
                    Slot::Value { path, key } => {
                        if path.is_empty() {
                            d.empty = false;
                            d.root_is_mapping = is_map;
                        }
                        d.map.record(&path, key, at);
                        (path, false)
                    }
                };
                stack.push(if is_map {
                    Frame::Map {
                        path,
                        key: None,
                        is_key,
                        start: at,
                    }
                } else {
                    Frame::Seq {
                        path,
                        next: 0,
                        is_key,
                        start: at,
                    }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(
                    Frame::Map {
                        is_key: true,
                        start,
                        ..
                    }
                    | Frame::Seq {
                        is_key: true,
                        start,
                        ..
                    },
                ) = stack.pop()
                {
                    set_key(&mut stack, "?".to_string(), start);
                }
            }
            _ => {}
        }
    }
    (docs, error)
}

fn slot(stack: &mut [Frame]) -> Slot {
    match stack.last_mut() {
        None => Slot::Value {
            path: String::new(),
            key: None,
        },
        Some(Frame::Map { path, key, .. }) => match key.take() {
            None => Slot::Key,
            Some((k, kpos)) => Slot::Value {
                path: join(path, &k),
                key: Some(kpos),
            },
        },
        Some(Frame::Seq { path, next, .. }) => {
            let p = format!("{path}[{next}]");
            *next += 1;
            Slot::Value { path: p, key: None }
        }
    }
}

fn set_key(stack: &mut [Frame], name: String, at: Pos) {
    if let Some(Frame::Map { key, .. }) = stack.last_mut() {
        *key = Some((name, at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# header\n---\napiVersion: v1\nkind: X\nspec:\n  http:\n  - route:\n    - weight: 5\n---\n# only a comment\n---\na: [1, {b: c}]\n";

    #[test]
    fn splits_documents_and_maps_paths() {
        let (docs, err) = scan(TEXT);
        assert!(err.is_none());
        assert_eq!(docs.len(), 3);
        let d = &docs[0];
        assert_eq!(d.kind.as_deref(), Some("X"));
        assert!(!d.empty && d.root_is_mapping);
        assert_eq!(
            d.map.locate("spec.http[0].route[0].weight"),
            Pos { line: 8, column: 7 }
        );
        // A missing field falls back to its nearest ancestor.
        assert_eq!(
            d.map.locate("spec.http[0].route[0].destination.host"),
            Pos { line: 8, column: 7 }
        );
        assert_eq!(
            d.map.path_at(Pos {
                line: 8,
                column: 15
            }),
            Some("spec.http[0].route[0].weight")
        );
        assert!(docs[1].empty);
        assert_eq!(
            docs[2].map.locate("a[1].b"),
            Pos {
                line: 12,
                column: 9
            }
        );
        assert_eq!(&TEXT[docs[2].range.clone()], "---\na: [1, {b: c}]\n");
        assert_eq!(docs[2].line_offset, 10);
    }

    #[test]
    fn reports_syntax_errors_with_position() {
        let (_, err) = scan("a: [1\nb: 2\n");
        let err = err.expect("syntax error");
        assert_eq!(err.pos.line, 2);
    }
}
