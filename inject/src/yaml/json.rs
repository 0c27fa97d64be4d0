//! [`Node`] to and from JSON: the status annotation stores replaced containers as JSON, and
//! the injection webhook receives pods as JSON.

use serde_json::Value;

use super::emit::emit_document;
use super::node::{Map, Node};
use super::resolve::{resolve, Resolved};

/// The JSON a Kubernetes decoder would make of this node (YAML 1.1 scalar types).
pub fn to_json(node: &Node) -> Value {
    match node {
        Node::Scalar(s) => match resolve(s) {
            Resolved::Null => Value::Null,
            Resolved::Bool(b) => Value::Bool(b),
            Resolved::Int(i) => i64::try_from(i)
                .map(Value::from)
                .or_else(|_| u64::try_from(i).map(Value::from))
                .unwrap_or_else(|_| Value::from(i as f64)),
            Resolved::Float(f) => serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(s.text.clone())),
            Resolved::Str(t) => Value::String(t.to_string()),
        },
        Node::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        Node::Map(m) => Value::Object(m.iter().map(|(k, v)| (key_text(k), to_json(v))).collect()),
    }
}

fn key_text(key: &Node) -> String {
    match key {
        Node::Scalar(s) => s.text.clone(),
        other => {
            // A complex key has no JSON spelling; its YAML text keeps it distinct.
            let mut out = String::new();
            emit_document(other, &mut out);
            out.trim_end().to_string()
        }
    }
}

/// A node that reads back as this JSON value (strings quoted where YAML would type them).
pub fn from_json(value: &Value) -> Node {
    match value {
        Value::Null => Node::plain("null"),
        Value::Bool(b) => Node::bool(*b),
        Value::Number(n) => Node::plain(n.to_string()),
        Value::String(s) => Node::str(s.as_str()),
        Value::Array(items) => Node::Seq(items.iter().map(from_json).collect()),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, v) in o {
                m.push(Node::str(k.as_str()), from_json(v));
            }
            Node::Map(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_document;
    use super::super::resolve::semantic_eq;
    use super::*;

    #[test]
    fn json_round_trip_keeps_meaning() {
        let node = parse_document("a: [1, '1', yes, ~, 1.5, \"x\"]\nb: {c: true}\n")
            .expect("parses")
            .expect("not empty");
        let json = to_json(&node);
        assert_eq!(
            json,
            serde_json::json!({"a": [1, "1", true, null, 1.5, "x"], "b": {"c": true}})
        );
        assert!(semantic_eq(&from_json(&json), &node));
    }
}
