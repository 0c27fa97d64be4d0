//! One document's text to a [`Node`], from serde-saphyr's own event parser
//! (`granit_parser`): the events carry each scalar's style and tag, which serde's data model
//! would lose.

use std::collections::{HashMap, HashSet};

use serde_saphyr::granit_parser::{Event, Marker, Options, Parser, ScalarStyle, Tag};

use super::node::{Map, Node, Scalar, Style};

/// Aliases may not expand a document past this many nodes (an alias bomb is a few lines).
const MAX_NODES: usize = 1_000_000;
/// Nor nest it deeper than this (the parser itself stops at 256 levels of text; aliases
/// could stack those, and the writer recurses).
const MAX_DEPTH: usize = 512;

/// A syntax error in one document, with its position in that document's text (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

fn at(m: &Marker, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        line: m.line(),
        column: m.col() + 1,
        message: message.into(),
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        anchor: usize,
    },
    Map {
        map: Map,
        key: Option<Node>,
        anchor: usize,
        /// Keys seen, once the mapping is big enough that a linear duplicate check hurts.
        seen: Option<HashSet<String>>,
    },
}

struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    /// Anchored nodes: (node, node count, depth).
    anchors: HashMap<usize, (Node, usize, usize)>,
    nodes: usize,
}

/// Parses a text holding at most one YAML document. `Ok(None)` for an empty document (only
/// comments, `---` alone, or an explicit null).
pub fn parse_document(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut b = Builder {
        stack: Vec::new(),
        root: None,
        anchors: HashMap::new(),
        nodes: 0,
    };
    let mut documents = 0;
    // Comments are not part of the model (a changed document loses them anyway); not
    // capturing them saves the parser work.
    let mut options = Options::default();
    options.set_emit_comments(false);
    for next in Parser::new_from_str_with_options(text, options) {
        let (event, span) = next.map_err(|e| at(e.marker(), e.info()))?;
        let mark = span.start;
        match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 && b.root.as_ref().is_some_and(|r| !r.is_null()) {
                    return Err(at(&mark, "a second document starts here without `---`"));
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let node = Node::Scalar(Scalar {
                    text: value.into_owned(),
                    style: style_of(style),
                    tag: tag.as_deref().map(tag_text),
                });
                b.count(1, &mark)?;
                if anchor != 0 {
                    b.anchors.insert(anchor, (node.clone(), 1, 1));
                }
                b.complete(node, &mark)?;
            }
            Event::Alias(id) => {
                let Some((node, size, depth)) = b.anchors.get(&id).cloned() else {
                    return Err(at(&mark, "alias to an unknown anchor"));
                };
                b.count(size, &mark)?;
                if b.stack.len() + depth > MAX_DEPTH {
                    return Err(at(
                        &mark,
                        format!("aliases nest the document deeper than {MAX_DEPTH} levels"),
                    ));
                }
                b.complete(node, &mark)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                b.count(1, &mark)?;
                b.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                });
            }
            Event::MappingStart(_, anchor, _) => {
                b.count(1, &mark)?;
                b.stack.push(Frame::Map {
                    map: Map::new(),
                    key: None,
                    anchor,
                    seen: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match b.stack.pop() {
                    Some(Frame::Seq { items, anchor }) => (Node::Seq(items), anchor),
                    Some(Frame::Map { map, anchor, .. }) => (Node::Map(map), anchor),
                    None => return Err(at(&mark, "unbalanced collection end")),
                };
                if anchor != 0 {
                    let (size, depth) = measure(&node);
                    b.anchors.insert(anchor, (node.clone(), size, depth));
                }
                b.complete(node, &mark)?;
            }
            _ => {}
        }
    }
    Ok(b.root.filter(|r| !r.is_null()))
}

impl Builder {
    fn count(&mut self, n: usize, mark: &Marker) -> Result<(), SyntaxError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(at(
                mark,
                format!("the document expands to more than {MAX_NODES} nodes (aliases?)"),
            ));
        }
        Ok(())
    }

    /// A finished node goes into its parent (or becomes the root).
    fn complete(&mut self, node: Node, mark: &Marker) -> Result<(), SyntaxError> {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { map, key, seen, .. }) => match key.take() {
                Some(k) => map.push(k, node),
                None => {
                    if let Node::Scalar(s) = &node {
                        let dup = match seen {
                            Some(set) => !set.insert(s.text.clone()),
                            None => {
                                let dup = map.contains(&s.text);
                                if map.len() >= 32 {
                                    *seen = Some(
                                        map.str_entries()
                                            .map(|(k, _)| k.to_string())
                                            .chain(std::iter::once(s.text.clone()))
                                            .collect(),
                                    );
                                }
                                dup
                            }
                        };
                        if dup {
                            return Err(at(
                                mark,
                                format!(
                                    "duplicate key {:?} (each key may appear once in a mapping)",
                                    s.text
                                ),
                            ));
                        }
                    }
                    *key = Some(node);
                }
            },
        }
        Ok(())
    }
}

/// (node count, depth) of a tree.
fn measure(node: &Node) -> (usize, usize) {
    let children: Box<dyn Iterator<Item = &Node>> = match node {
        Node::Scalar(_) => return (1, 1),
        Node::Seq(items) => Box::new(items.iter()),
        Node::Map(m) => Box::new(m.iter().flat_map(|(k, v)| [k, v])),
    };
    children.fold((1, 1), |(n, d), c| {
        let (cn, cd) = measure(c);
        (n + cn, d.max(cd + 1))
    })
}

fn style_of(s: ScalarStyle) -> Style {
    match s {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted => Style::SingleQuoted,
        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        ScalarStyle::Literal => Style::Literal,
        ScalarStyle::Folded => Style::Folded,
    }
}

/// A tag as it can be written back without the document's `%TAG` directives.
fn tag_text(t: &Tag) -> String {
    if let Some(core) = t.core_suffix() {
        return format!("!!{core}");
    }
    match t.original_handle() {
        "!" | "" => t.original(),
        _ => format!("!<{}{}>", t.handle(), t.suffix()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_styles_and_tags() {
        let n = parse_document("b: 1\na: 'x'\nc: !!str 80\nd: |\n  l1\n  l2\n")
            .expect("parses")
            .expect("not empty");
        let m = n.as_map().expect("map");
        let keys: Vec<_> = m.str_entries().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "a", "c", "d"]);
        let Some(Node::Scalar(c)) = m.get("c") else {
            panic!("c")
        };
        assert_eq!(c.tag.as_deref(), Some("!!str"));
        let Some(Node::Scalar(d)) = m.get("d") else {
            panic!("d")
        };
        assert_eq!((d.text.as_str(), d.style), ("l1\nl2\n", Style::Literal));
    }

    #[test]
    fn expands_aliases_and_stops_bombs() {
        let n = parse_document("a: &x [1, 2]\nb: *x\n")
            .expect("parses")
            .expect("not empty");
        assert_eq!(n.at(&["a"]), n.at(&["b"]));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = format!("*a{}", i - 1);
            bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let e = parse_document(&bomb).expect_err("too big");
        assert!(e.message.contains("more than"), "{e:?}");
        // Aliases stacking nesting: each level wraps the previous one 200 deep.
        let mut deep = String::from("a0: &a0 x\n");
        for i in 1..5 {
            let open = "[".repeat(200);
            let close = "]".repeat(200);
            deep.push_str(&format!("a{i}: &a{i} {open}*a{}{close}\n", i - 1));
        }
        let e = parse_document(&deep).expect_err("too deep");
        assert!(e.message.contains("deeper than"), "{e:?}");
    }

    #[test]
    fn empty_documents_and_errors() {
        assert_eq!(parse_document("# only a comment\n"), Ok(None));
        assert_eq!(parse_document("---\n"), Ok(None));
        assert_eq!(parse_document("--- ~\n"), Ok(None));
        let e = parse_document("a: 1\na: 2\n").expect_err("duplicate");
        assert_eq!((e.line, e.column), (2, 1));
        let e = parse_document("a: [1\nb: 2\n").expect_err("syntax");
        assert_eq!(e.line, 2, "{e:?}");
    }
}
