//! A [`Node`] to block-style YAML text, in kubectl's layout (two-space indents, sequence
//! items at their key's indentation). Scalars keep their style when it can be written back
//! exactly; otherwise they are double-quoted, which can spell any string.

use std::fmt::Write;

use super::node::{Node, Scalar, Style};
use super::resolve::plain_safe;

/// Appends the document (no `---`) to `out`, ending with a newline.
pub fn emit_document(node: &Node, out: &mut String) {
    match node {
        Node::Map(m) if !m.is_empty() => emit_map(node, 0, false, out),
        Node::Seq(s) if !s.is_empty() => emit_seq(node, 0, false, out),
        _ => {
            inline(node, out);
            out.push('\n');
        }
    }
}

fn indent(n: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Whether a node is written on its key's line (`key: value`) or below it.
fn is_inline(node: &Node) -> bool {
    match node {
        Node::Scalar(_) => true,
        Node::Seq(s) => s.is_empty(),
        Node::Map(m) => m.is_empty(),
    }
}

/// A block mapping at `ind`; when `continued`, the first line's indentation is already
/// written (the mapping is a sequence item: `- name: x`).
fn emit_map(node: &Node, ind: usize, continued: bool, out: &mut String) {
    let Node::Map(m) = node else { return };
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 || !continued {
            indent(ind, out);
        }
        if is_inline(k) && !matches!(k, Node::Scalar(s) if is_block(s)) {
            inline(k, out);
        } else {
            // A complex key: `? key` then `: value`.
            out.push_str("? ");
            emit_value(k, ind + 2, out);
            indent(ind, out);
        }
        out.push(':');
        match v {
            Node::Map(_) if !is_inline(v) => {
                out.push('\n');
                emit_map(v, ind + 2, false, out);
            }
            Node::Seq(_) if !is_inline(v) => {
                out.push('\n');
                emit_seq(v, ind, false, out);
            }
            _ => {
                out.push(' ');
                emit_value(v, ind + 2, out);
            }
        }
    }
}

fn emit_seq(node: &Node, ind: usize, continued: bool, out: &mut String) {
    let Node::Seq(items) = node else { return };
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !continued {
            indent(ind, out);
        }
        out.push_str("- ");
        emit_value(item, ind + 2, out);
    }
}

/// A node after `key: ` or `- `, ending with a newline; nested blocks indent to `ind`.
fn emit_value(node: &Node, ind: usize, out: &mut String) {
    match node {
        Node::Map(m) if !m.is_empty() => emit_map(node, ind, true, out),
        Node::Seq(s) if !s.is_empty() => emit_seq(node, ind, true, out),
        Node::Scalar(s) if is_block(s) => literal(s, ind, out),
        _ => {
            inline(node, out);
            out.push('\n');
        }
    }
}

/// Scalars and empty collections on one line.
fn inline(node: &Node, out: &mut String) {
    match node {
        Node::Seq(_) => out.push_str("[]"),
        Node::Map(_) => out.push_str("{}"),
        Node::Scalar(s) => {
            if let Some(tag) = &s.tag {
                out.push_str(tag);
                out.push(' ');
            }
            match s.style {
                Style::Plain if s.text.is_empty() => {
                    if s.tag.is_none() {
                        out.push('~');
                    }
                }
                Style::Plain if plain_safe(&s.text) => out.push_str(&s.text),
                Style::SingleQuoted if single_quotable(&s.text) => {
                    out.push('\'');
                    out.push_str(&s.text.replace('\'', "''"));
                    out.push('\'');
                }
                _ => double_quoted(&s.text, out),
            }
        }
    }
}

fn single_quotable(text: &str) -> bool {
    text.chars()
        .all(|c| !c.is_control() && c != '\u{feff}' && c != '\u{2028}' && c != '\u{2029}')
}

/// Block scalars are written as literals when the text allows it (a folded scalar's value
/// is written literally: same value, no refolding to get wrong).
fn is_block(s: &Scalar) -> bool {
    matches!(s.style, Style::Literal | Style::Folded) && !s.text.is_empty() && literal_ok(&s.text)
}

fn literal_ok(text: &str) -> bool {
    // The first line fixes the indentation: it must not start with white space, and every
    // character must be printable (a literal block has no escapes).
    let first_ok = !text.starts_with([' ', '\t', '\n']);
    first_ok
        && text.chars().all(|c| {
            c == '\n'
                || c == '\t'
                || (!c.is_control()
                    && !matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{85}'))
        })
}

fn literal(s: &Scalar, ind: usize, out: &mut String) {
    if let Some(tag) = &s.tag {
        out.push_str(tag);
        out.push(' ');
    }
    let body = s.text.trim_end_matches('\n');
    let trailing = s.text.len() - body.len();
    out.push_str(match trailing {
        0 => "|-\n",
        1 => "|\n",
        _ => "|+\n",
    });
    for line in body.split('\n') {
        if !line.is_empty() {
            indent(ind, out);
            out.push_str(line);
        }
        out.push('\n');
    }
    for _ in 1..trailing {
        out.push('\n');
    }
}

fn double_quoted(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_document;
    use super::super::resolve::semantic_eq;
    use super::*;

    /// Emits, parses back, and checks the meaning survived; `exact` when every scalar keeps
    /// its style too.
    fn roundtrip_with(text: &str, exact: bool) -> String {
        let node = parse_document(text).expect("parses").expect("not empty");
        let mut out = String::new();
        emit_document(&node, &mut out);
        let back = parse_document(&out)
            .unwrap_or_else(|e| panic!("re-parse of {out:?}: {e:?}"))
            .expect("not empty");
        assert!(semantic_eq(&node, &back), "round trip of\n{out}");
        if exact {
            assert_eq!(node, back, "exact round trip of\n{out}");
        }
        out
    }

    fn roundtrip(text: &str) -> String {
        roundtrip_with(text, true)
    }

    #[test]
    fn kubectl_layout() {
        let out = roundtrip(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: x, labels: {}}\nspec:\n  containers:\n    - name: a\n      args: [\"1\", '2', three]\n      ports: [{containerPort: 80}]\n",
        );
        assert_eq!(
            out,
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: {}\nspec:\n  containers:\n  - name: a\n    args:\n    - \"1\"\n    - '2'\n    - three\n    ports:\n    - containerPort: 80\n"
        );
    }

    #[test]
    fn scalars_that_need_care() {
        roundtrip("a: |\n  line 1\n    indented\n\n  after blank\nb: |+\n  keep\n\n\nd: \"tab\\there \\u0001\"\ne: 'it''s'\nf: !!str 80\ng: ~\nh: \"\"\ni: -x\n");
        roundtrip("- - a\n  - b\n- []\n- {}\n- ? [complex]\n  : v\n- |-\n  x\n");
        roundtrip("k: \"  leading spaces\\nsecond\"\nl: \"\\nstarts with newline\"\n");
        // Styles that cannot be kept: a folded block becomes a literal, a multi-line
        // single-quoted string becomes double-quoted; the value is the same.
        let out = roundtrip_with(
            "c: >-\n  folded\n  text\n\n  more\nm: 'multi\n\n  line'\n",
            false,
        );
        assert_eq!(out, "c: |-\n  folded text\n  more\nm: \"multi\\nline\"\n");
    }
}
