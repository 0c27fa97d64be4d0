//! Property tests of the YAML writer: whatever a document holds, writing it and reading it
//! back gives the same meaning; and a string we create is read back as that very string.

use mesh_inject::yaml::emit::emit_document;
use mesh_inject::yaml::parse::parse_document;
use mesh_inject::yaml::resolve::{resolve, Resolved};
use mesh_inject::yaml::{semantic_eq, Map, Node, Scalar, Style};
use proptest::prelude::*;

/// Strings that stress quoting: indicators, YAML 1.1 words, numbers, spaces, escapes.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,12}",
        "[a-z0-9:#'\"\\-\\[\\]{}&*!|>%@` ]{0,10}",
        Just("yes".to_string()),
        Just("Off".to_string()),
        Just("~".to_string()),
        Just("0x1F".to_string()),
        Just("1:20".to_string()),
        Just("- x".to_string()),
        Just("---".to_string()),
        "[a-z \\n\\t]{0,12}",
        "\\PC{0,6}",
    ]
}

fn scalar() -> impl Strategy<Value = Node> {
    let style = prop_oneof![
        Just(Style::Plain),
        Just(Style::SingleQuoted),
        Just(Style::DoubleQuoted),
        Just(Style::Literal),
        Just(Style::Folded),
    ];
    (tricky_string(), style).prop_map(|(text, style)| {
        // A plain scalar's text is what a parser could have produced: trimmed, one line.
        let text = if style == Style::Plain {
            text.replace(['\n', '\t'], " ").trim().to_string()
        } else {
            text
        };
        Node::Scalar(Scalar {
            text,
            style,
            tag: None,
        })
    })
}

fn node() -> impl Strategy<Value = Node> {
    scalar().prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Node::Seq),
            prop::collection::vec(("[a-zA-Z0-9./_-]{1,12}", inner), 0..5).prop_map(|entries| {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(&k, v);
                }
                Node::Map(m)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn written_documents_read_back_with_the_same_meaning(doc in node()) {
        // A plain scalar that cannot be written plain is quoted: its text survives, its type
        // becomes string, which is what the plain text meant only when it was a string.
        let mut out = String::new();
        emit_document(&doc, &mut out);
        let back = parse_document(&out)
            .map_err(|e| TestCaseError::fail(format!("{e:?} in\n{out}")))?;
        let back = back.unwrap_or(Node::Scalar(Scalar { text: String::new(), style: Style::Plain, tag: None }));
        let mut again = String::new();
        emit_document(&back, &mut again);
        prop_assert_eq!(&again, &out, "writing is stable");
        if !contains_unwritable_plain(&doc) {
            prop_assert!(semantic_eq(&doc, &back), "meaning changed:\n{}\n{:?}\n{:?}", out, doc, back);
        }
    }

    #[test]
    fn created_strings_read_back_as_themselves(text in tricky_string()) {
        let doc = mesh_inject::yaml::map([("k", Node::str(text.clone()))]);
        let mut out = String::new();
        emit_document(&doc, &mut out);
        let back = parse_document(&out)
            .map_err(|e| TestCaseError::fail(format!("{e:?} in\n{out}")))?
            .ok_or_else(|| TestCaseError::fail("empty"))?;
        let Some(Node::Scalar(s)) = back.at(&["k"]) else {
            return Err(TestCaseError::fail(format!("no scalar in {out}")));
        };
        prop_assert_eq!(resolve(s), Resolved::Str(&text), "{}", out);
    }
}

/// Plain scalars whose text no parser would produce as plain (they get quoted on write).
fn contains_unwritable_plain(node: &Node) -> bool {
    match node {
        Node::Scalar(s) => {
            s.style == Style::Plain
                && !s.text.is_empty()
                && !mesh_inject::yaml::resolve::plain_safe(&s.text)
        }
        Node::Seq(items) => items.iter().any(contains_unwritable_plain),
        Node::Map(m) => m
            .iter()
            .any(|(k, v)| contains_unwritable_plain(k) || contains_unwritable_plain(v)),
    }
}
