//! A Prometheus text-format (0.0.4) parser: enough for what proxies expose at
//! `/stats/prometheus` (counters and histograms with labels, escaped label values).
//!
//! Input comes from the network, so every malformed line is an error naming the line, never a
//! panic. Comment lines (`# HELP`, `# TYPE`) are skipped: the aggregator knows the Istio
//! families by name.

/// One sample line: `name{label="value",...} value [timestamp]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    /// In the order the exposition listed them.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a scrape body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "line {line}: {what} (is the target a Prometheus text endpoint such as /stats/prometheus?)"
)]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    pub what: &'static str,
}

/// Parses a whole exposition into its samples.
pub fn parse(text: &str) -> Result<Vec<Sample>, ParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(sample(line).map_err(|what| ParseError { line: i + 1, what })?);
    }
    Ok(out)
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Splits a leading metric or label name off `s`.
fn name(s: &str) -> Option<(&str, &str)> {
    if !s.starts_with(is_name_start) {
        return None;
    }
    let end = s.find(|c: char| !is_name_char(c)).unwrap_or(s.len());
    Some(s.split_at(end))
}

fn sample(line: &str) -> Result<Sample, &'static str> {
    let (metric, rest) = name(line).ok_or("expected a metric name")?;
    let (labels, rest) = match rest.strip_prefix('{') {
        Some(r) => labels(r)?,
        None => (Vec::new(), rest),
    };
    if !rest.starts_with([' ', '\t']) {
        return Err("expected whitespace before the value");
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("missing value")?;
    let value = number(value).ok_or("value is not a number")?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .map_err(|_| "timestamp is not an integer")?;
    }
    if fields.next().is_some() {
        return Err("unexpected text after the timestamp");
    }
    Ok(Sample {
        name: metric.to_string(),
        labels,
        value,
    })
}

fn number(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if s
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

type Labels<'a> = (Vec<(String, String)>, &'a str);

/// Parses `a="x",b="y"}` (after the `{`), returning the labels and what follows the `}`.
fn labels(mut s: &str) -> Result<Labels<'_>, &'static str> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((out, rest));
        }
        let (key, rest) = name(s).ok_or("expected a label name or '}'")?;
        let rest = rest.trim_start().strip_prefix('=').ok_or("expected '='")?;
        let rest = rest.trim_start().strip_prefix('"').ok_or("expected '\"'")?;
        let (value, rest) = quoted(rest)?;
        out.push((key.to_string(), value));
        let rest = rest.trim_start();
        s = match rest.strip_prefix(',') {
            Some(r) => r,
            None if rest.starts_with('}') => rest,
            None => return Err("expected ',' or '}' after a label value"),
        };
    }
}

/// Reads a label value up to its closing quote, undoing `\\`, `\"` and `\n`.
fn quoted(s: &str) -> Result<(String, &str), &'static str> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                Some((_, 'n')) => value.push('\n'),
                _ => return Err("invalid escape in a label value"),
            },
            c => value.push(c),
        }
    }
    Err("unterminated label value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counters_histograms_and_escapes() {
        let text = "# HELP x y\n# TYPE istio_requests_total counter\n\
istio_requests_total{reporter=\"source\",path=\"a\\\"b\\\\c\\nd\",} 42\n\
istio_request_duration_milliseconds_bucket{le=\"+Inf\"} 3 1700000000000\n\
envoy_server_config_reloads_total 1.5e3\n\n";
        let s = parse(text).expect("parses");
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].name, "istio_requests_total");
        assert_eq!(s[0].label("reporter"), Some("source"));
        assert_eq!(s[0].label("path"), Some("a\"b\\c\nd"));
        assert_eq!(s[0].value, 42.0);
        assert_eq!(s[1].label("le"), Some("+Inf"));
        assert_eq!(s[1].value, 3.0);
        assert_eq!(s[2].value, 1500.0);
        assert!(s[2].labels.is_empty());
    }

    #[test]
    fn special_values() {
        let s = parse("a +Inf\nb -Inf\nc NaN\n").expect("parses");
        assert_eq!(s[0].value, f64::INFINITY);
        assert_eq!(s[1].value, f64::NEG_INFINITY);
        assert!(s[2].value.is_nan());
    }

    #[test]
    fn garbage_is_an_error_with_its_line() {
        for (text, line) in [
            ("ok 1\n{x=\"y\"} 1", 2),
            ("a{b=\"c} 1", 1),
            ("a{b=\"\\q\"} 1", 1),
            ("a{b=c} 1", 1),
            ("a{b=\"c\"", 1),
            ("a", 1),
            ("a abc", 1),
            ("a 1 2 3", 1),
            ("a{b=\"c\" d=\"e\"} 1", 1),
            ("a 1 1.5", 1),
            ("a{} infinity", 1),
        ] {
            let e = parse(text).expect_err(text);
            assert_eq!(e.line, line, "{text}: {e}");
        }
    }
}
