//! What a scalar means: null, bool, number or string, the way Kubernetes reads it.
//!
//! kubectl decodes YAML with go-yaml v2 (YAML 1.1 resolution: `yes`/`on`/`y` are booleans),
//! while YAML 1.2 tools read them as strings. Resolution here follows YAML 1.1 (what the
//! cluster sees); and strings we write are quoted whenever *either* reading would make them
//! something else, so every tool reads them back as strings.

use super::node::{Node, Scalar, Style};

/// A scalar's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
}

const NULLS: [&str; 5] = ["", "~", "null", "Null", "NULL"];
const TRUES: [&str; 11] = [
    "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y",
];
const FALSES: [&str; 11] = [
    "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N",
];

/// The value of a scalar: quoted and block scalars are strings; plain ones are typed by
/// their text; a core-schema tag (`!!str`, `!!int`, ...) decides when present.
pub fn resolve(s: &Scalar) -> Resolved<'_> {
    let core = s.tag.as_deref().and_then(|t| t.strip_prefix("!!"));
    match core {
        Some("str") => return Resolved::Str(&s.text),
        Some("null") => return Resolved::Null,
        Some("bool" | "int" | "float") => {
            let r = resolve_plain(&s.text);
            return if matches!(r, Resolved::Null) {
                Resolved::Str(&s.text)
            } else {
                r
            };
        }
        _ => {}
    }
    match s.style {
        Style::Plain => resolve_plain(&s.text),
        _ => Resolved::Str(&s.text),
    }
}

/// True for a null scalar.
pub fn is_null(s: &Scalar) -> bool {
    matches!(resolve(s), Resolved::Null)
}

/// The value of a plain scalar's text.
pub fn resolve_plain(text: &str) -> Resolved<'_> {
    if NULLS.contains(&text) {
        return Resolved::Null;
    }
    if TRUES.contains(&text) {
        return Resolved::Bool(true);
    }
    if FALSES.contains(&text) {
        return Resolved::Bool(false);
    }
    if let Some(i) = parse_int(text) {
        return Resolved::Int(i);
    }
    if let Some(f) = parse_float(text) {
        return Resolved::Float(f);
    }
    Resolved::Str(text)
}

fn parse_int(text: &str) -> Option<i128> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(h) = body.strip_prefix("0x") {
        (16, h)
    } else if let Some(o) = body.strip_prefix("0o") {
        (8, o)
    } else if let Some(b) = body.strip_prefix("0b") {
        (2, b)
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|b| b.is_ascii_digit()) {
        // YAML 1.1 octal (`0755`), as go-yaml v2 reads it.
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // Rust also accepts "inf" and "nan": only digits, signs, '.', and exponents here.
    let numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    if !numeric || !text.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// True when `text` can be written as a plain scalar in block context and reads back as
/// exactly this text (whatever its type). One pass over the bytes: it runs for every
/// scalar written.
pub fn plain_safe(text: &str) -> bool {
    let b = text.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    let second = b.get(1).copied();
    if b"-?:,[]{}#&*!|>'\"%@`".contains(&first)
        && !(matches!(first, b'-' | b'?' | b':') && second.is_some_and(|c| c != b' '))
    {
        return false;
    }
    if b.starts_with(b"---") || b.starts_with(b"...") {
        return false;
    }
    if first == b' ' || b.last().is_some_and(|&c| c == b' ' || c == b':') {
        return false;
    }
    let mut prev = 0u8;
    let mut ascii = true;
    for &c in b {
        match c {
            // Control characters (tabs and line breaks included) need quoting.
            0..=0x1f | 0x7f => return false,
            b' ' if prev == b':' => return false,
            b'#' if prev == b' ' => return false,
            0x80.. => ascii = false,
            _ => {}
        }
        prev = c;
    }
    // Outside ASCII: no C1 controls, BOM or Unicode line separators.
    ascii
        || text
            .chars()
            .all(|c| !c.is_control() && c != '\u{feff}' && c != '\u{2028}' && c != '\u{2029}')
}

/// True when `text` written plain reads back as this string under YAML 1.1 and 1.2.
pub fn plain_reads_as_string(text: &str) -> bool {
    plain_safe(text) && !looks_typed(text)
}

/// Conservative: anything a YAML 1.1 or 1.2 reader might type (numbers in any base,
/// sexagesimal, timestamps, booleans, nulls, infinities).
fn looks_typed(text: &str) -> bool {
    let words = TRUES.iter().chain(FALSES.iter()).chain(NULLS.iter());
    if words.into_iter().any(|w| w.eq_ignore_ascii_case(text))
        || [".inf", "+.inf", "-.inf", ".nan"]
            .iter()
            .any(|w| w.eq_ignore_ascii_case(text))
    {
        return true;
    }
    if !matches!(resolve_plain(text), Resolved::Str(_)) {
        return true;
    }
    // Numbers, sexagesimals (`1:20`) and timestamps: anything number-like throughout.
    let b = text.as_bytes();
    let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let starts_numeric = digit_at(0)
        || (matches!(b[0], b'+' | b'-' | b'.') && (digit_at(1) || b.get(1) == Some(&b'.')));
    starts_numeric
        && text
            .bytes()
            .all(|c| c.is_ascii_hexdigit() || b"+-._: xXoOtTzZ".contains(&c))
}

/// Equality of meaning: scalars by resolved value, mappings regardless of key order.
pub fn semantic_eq(a: &Node, b: &Node) -> bool {
    match (a, b) {
        (Node::Scalar(x), Node::Scalar(y)) => scalar_eq(resolve(x), resolve(y)),
        (Node::Seq(x), Node::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| semantic_eq(p, q))
        }
        (Node::Map(x), Node::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .any(|(k2, v2)| semantic_eq(k, k2) && semantic_eq(v, v2))
                })
        }
        _ => false,
    }
}

fn scalar_eq(a: Resolved<'_>, b: Resolved<'_>) -> bool {
    match (a, b) {
        (Resolved::Float(x), Resolved::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        // 1 and 1.0 are the same JSON number to the API server.
        (Resolved::Int(i), Resolved::Float(f)) | (Resolved::Float(f), Resolved::Int(i)) => {
            i as f64 == f
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(t: &str) -> Scalar {
        Scalar {
            text: t.into(),
            style: Style::Plain,
            tag: None,
        }
    }

    #[test]
    fn resolves_like_yaml_1_1() {
        assert_eq!(resolve(&plain("yes")), Resolved::Bool(true));
        assert_eq!(resolve(&plain("Off")), Resolved::Bool(false));
        assert_eq!(resolve(&plain("~")), Resolved::Null);
        assert_eq!(resolve(&plain("80")), Resolved::Int(80));
        assert_eq!(resolve(&plain("0x1F")), Resolved::Int(31));
        assert_eq!(resolve(&plain("0755")), Resolved::Int(0o755));
        assert_eq!(resolve(&plain("-1.5e3")), Resolved::Float(-1500.0));
        assert_eq!(resolve(&plain("inf")), Resolved::Str("inf"));
        assert_eq!(resolve(&plain("100m")), Resolved::Str("100m"));
        let quoted = Scalar {
            style: Style::DoubleQuoted,
            ..plain("80")
        };
        assert_eq!(resolve(&quoted), Resolved::Str("80"));
        let tagged = Scalar {
            tag: Some("!!str".into()),
            ..plain("80")
        };
        assert_eq!(resolve(&tagged), Resolved::Str("80"));
    }

    #[test]
    fn quotes_what_any_reader_would_type() {
        for t in [
            "true",
            "on",
            "Y",
            "NO",
            "null",
            "~",
            "",
            "15020",
            "1.5",
            ".5",
            "-1",
            "1:20",
            "2001-12-14",
            ".inf",
            "0x10",
        ] {
            assert!(!plain_reads_as_string(t), "{t:?} must be quoted");
        }
        for t in [
            "hello",
            "fake.docker.io/google-samples/hello-go-gke:1.0",
            "/stats/prometheus",
            "-c",
            "$(POD_NAMESPACE).svc",
            "a:b",
            "100m",
        ] {
            assert!(plain_reads_as_string(t), "{t:?} can be plain");
        }
        for t in [
            "a: b", "a #b", "- x", "-", "*", "x:", " x", "'x", "a\nb", "---x",
        ] {
            assert!(!plain_safe(t), "{t:?} is not plain-safe");
        }
    }

    #[test]
    fn semantic_equality_ignores_key_order_and_quoting() {
        let m1 = super::super::node::map([("a", Node::str("1x")), ("b", Node::int(2))]);
        let m2 = super::super::node::map([("b", Node::plain("2.0")), ("a", Node::str("1x"))]);
        assert!(semantic_eq(&m1, &m2));
        let m3 = super::super::node::map([("b", Node::str("2")), ("a", Node::str("1x"))]);
        assert!(
            !semantic_eq(&m1, &m3),
            "the string \"2\" is not the number 2"
        );
    }
}
