//! The document model: scalars keep their text, quoting style and tag exactly as written;
//! mappings keep their key order (a `Vec` of pairs: pod specs are small, and a linear scan
//! beats hashing at that size).

/// How a scalar was written (or should be written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `hello`, `80`, `true`: its type comes from its text.
    Plain,
    /// `'hello'`
    SingleQuoted,
    /// `"hello"`
    DoubleQuoted,
    /// `|` block.
    Literal,
    /// `>` block.
    Folded,
}

/// A scalar: its value after YAML escape processing, its style and its tag as written
/// (`!!str`, `!custom`), if any.
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    pub text: String,
    pub style: Style,
    pub tag: Option<String>,
}

/// A YAML node. Aliases are expanded when parsed; collection tags and anchors are not kept.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Map),
}

/// A mapping in document order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    entries: Vec<(Node, Node)>,
}

impl Node {
    /// A string, written plain when that reads back as the same string (under YAML 1.1
    /// and 1.2 alike), quoted otherwise (`"true"`, `"15020"`, `""`, `'{"json":1}'`).
    pub fn str(text: impl Into<String>) -> Node {
        let text = text.into();
        let style = if super::resolve::plain_reads_as_string(&text) {
            Style::Plain
        } else if text.contains(['"', '\\']) && !text.chars().any(char::is_control) {
            // JSON in an annotation reads better without escapes: '{"a":1}'.
            Style::SingleQuoted
        } else {
            Style::DoubleQuoted
        };
        Node::Scalar(Scalar {
            text,
            style,
            tag: None,
        })
    }

    /// An integer, written plain.
    pub fn int(value: i64) -> Node {
        Node::plain(value.to_string())
    }

    /// A boolean, written plain.
    pub fn bool(value: bool) -> Node {
        Node::plain(if value { "true" } else { "false" })
    }

    /// A plain scalar with exactly this text (the caller knows it reads back as intended).
    pub(crate) fn plain(text: impl Into<String>) -> Node {
        Node::Scalar(Scalar {
            text: text.into(),
            style: Style::Plain,
            tag: None,
        })
    }

    /// A sequence of strings.
    pub fn strs<S: AsRef<str>>(items: &[S]) -> Node {
        Node::Seq(items.iter().map(|s| Node::str(s.as_ref())).collect())
    }

    /// The scalar's text when it is a string scalar (or any scalar: `kind: 80` is read as
    /// "80", as Kubernetes' own decoder would refuse it anyway).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Node::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match self {
            Node::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match self {
            Node::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match self {
            Node::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// A boolean scalar's value (`true`, and YAML 1.1's `yes`/`on` as Kubernetes reads them).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Scalar(s) => match super::resolve::resolve(s) {
                super::resolve::Resolved::Bool(b) => Some(b),
                _ => None,
            },
            _ => None,
        }
    }

    /// True for a null scalar (`~`, `null`, or nothing at all).
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar(s) if super::resolve::is_null(s))
    }

    /// The node at a path of mapping keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter()
            .try_fold(self, |node, key| node.as_map()?.get(key))
    }

    /// The node at a path of mapping keys, mutably.
    pub fn at_mut(&mut self, path: &[&str]) -> Option<&mut Node> {
        path.iter()
            .try_fold(self, |node, key| node.as_map_mut()?.get_mut(key))
    }

    /// A short word for error messages: "a mapping", "a sequence", "a scalar".
    pub fn describe(&self) -> &'static str {
        match self {
            Node::Scalar(s) if super::resolve::is_null(s) => "an empty value",
            Node::Scalar(_) => "a scalar",
            Node::Seq(_) => "a sequence",
            Node::Map(_) => "a mapping",
        }
    }
}

fn key_is(node: &Node, key: &str) -> bool {
    matches!(node, Node::Scalar(s) if s.text == key)
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(k, _)| key_is(k, key))
            .map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.entries
            .iter_mut()
            .find(|(k, _)| key_is(k, key))
            .map(|(_, v)| v)
    }

    /// The string value of `key`, if it is a scalar.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::as_str)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` (in place when present, appended otherwise).
    pub fn insert(&mut self, key: &str, value: Node) {
        match self.get_mut(key) {
            Some(v) => *v = value,
            None => self.entries.push((Node::str(key), value)),
        }
    }

    /// Inserts `key` at `index` (clamped) when absent; replaces it in place when present.
    pub fn insert_at(&mut self, index: usize, key: &str, value: Node) {
        match self.get_mut(key) {
            Some(v) => *v = value,
            None => {
                let at = index.min(self.entries.len());
                self.entries.insert(at, (Node::str(key), value));
            }
        }
    }

    /// Appends without checking for an existing key (the parser checks duplicates itself).
    pub(crate) fn push(&mut self, key: Node, value: Node) {
        self.entries.push((key, value));
    }

    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let i = self.entries.iter().position(|(k, _)| key_is(k, key))?;
        Some(self.entries.remove(i).1)
    }

    /// The mapping under `key`, created (appended) when absent or null. None when `key`
    /// holds something else (a scalar or a sequence).
    pub fn map_entry(&mut self, key: &str) -> Option<&mut Map> {
        if self.get(key).is_none_or(Node::is_null) {
            self.insert(key, Node::Map(Map::new()));
        }
        self.get_mut(key)?.as_map_mut()
    }

    /// The sequence under `key`, created (appended) when absent or null.
    pub fn seq_entry(&mut self, key: &str) -> Option<&mut Vec<Node>> {
        if self.get(key).is_none_or(Node::is_null) {
            self.insert(key, Node::Seq(Vec::new()));
        }
        self.get_mut(key)?.as_seq_mut()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Node, &Node)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Node, &mut Node)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// Entries with a string key, in order.
    pub fn str_entries(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.entries
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
    }
}

/// Builds a mapping from string keys, in order: `map([("name", Node::str("x"))])`.
pub fn map<const N: usize>(entries: [(&str, Node); N]) -> Node {
    let mut m = Map::new();
    for (k, v) in entries {
        m.push(Node::str(k), v);
    }
    Node::Map(m)
}
