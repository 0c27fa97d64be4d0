//! Where each key of a values file is, so a problem in `-f values.yaml` names its line.
//!
//! serde forgets positions, so the YAML event stream is walked once (serde-saphyr's parser)
//! and each key path (`spec.values.controlPlane.xdsPort`) is mapped to its line and column.

use std::collections::HashMap;

use mesh_api::istio::Pos;
use serde_saphyr::granit_parser::{Event, Marker, Parser};

/// Key path -> where its key is written. Only the first document is mapped.
#[derive(Debug, Default)]
pub struct Positions(HashMap<String, Pos>);

impl Positions {
    /// Where `path` is, or its nearest mapped ancestor, or line 1.
    pub fn locate(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.0.get(p) {
                return *pos;
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => return Pos { line: 1, column: 1 },
            }
        }
    }
}

fn pos(m: &Marker) -> Pos {
    Pos {
        line: m.line(),
        column: m.col() + 1,
    }
}

enum Frame {
    /// A mapping at `path`; `key` is the key waiting for its value.
    Map { path: String, key: Option<String> },
    /// A sequence; its items are not keys of the schema, so they are not mapped.
    Seq,
}

/// Maps the keys of `text`'s first document. A syntax error is `Err((where, what))`.
pub fn scan(text: &str) -> Result<Positions, (Pos, String)> {
    let mut out = Positions::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut docs = 0;
    for next in Parser::new_from_str(text) {
        let (event, span) = next.map_err(|e| (pos(e.marker()), e.info()))?;
        let at = pos(&span.start);
        match event {
            Event::DocumentStart(..) => {
                docs += 1;
                if docs > 1 {
                    break;
                }
            }
            Event::Scalar(ref value, ..) => {
                if let Some(Frame::Map { path, key }) = stack.last_mut() {
                    // A scalar is a key when no key waits for its value, else that value.
                    if key.take().is_none() {
                        out.0.entry(join(path, value)).or_insert(at);
                        *key = Some(value.to_string());
                    }
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let path = match stack.last_mut() {
                    None => Some(String::new()),
                    Some(Frame::Map { path, key }) => key.take().map(|k| join(path, &k)),
                    Some(Frame::Seq) => None,
                };
                stack.push(match (event, path) {
                    (Event::MappingStart(..), Some(path)) => Frame::Map { path, key: None },
                    _ => Frame::Seq,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Alias(_) => {
                if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                    key.take();
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_nested_keys() {
        let text = "# c\nspec:\n  values:\n    controlPlane: {xdsPort: 1}\n    tracing:\n      sampling: 5\n";
        let p = scan(text).expect("valid");
        assert_eq!(
            p.locate("spec.values.tracing.sampling"),
            Pos { line: 6, column: 7 }
        );
        assert_eq!(
            p.locate("spec.values.controlPlane.xdsPort"),
            Pos {
                line: 4,
                column: 20
            }
        );
        assert_eq!(p.locate("spec.values.nope"), Pos { line: 3, column: 3 });
    }

    #[test]
    fn reports_syntax_errors_with_position() {
        let (at, _) = scan("spec:\n  a: [1, 2\n").expect_err("unclosed");
        assert!(at.line >= 2);
    }
}
