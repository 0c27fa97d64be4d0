//! Problems found while reading or validating Istio YAML, each pointing at `file:line:column`
//! and at the field path (`spec.http[0].route[1].weight`), so an editor can jump to it.

use std::fmt;

/// A 1-based line and column in a YAML file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Line, counting from 1. 0 means "unknown" (e.g. a resource that did not come from a file).
    pub line: usize,
    /// Column, counting from 1, in characters.
    pub column: usize,
}

/// One problem: where it is, which field, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostic {
    /// The file name given to the parser (used only for display).
    pub file: String,
    /// Where the offending field (or its nearest located ancestor) is.
    pub pos: Pos,
    /// Field path in the document, e.g. `spec.http[0].route[1].weight`; empty for whole-file
    /// problems such as invalid YAML.
    pub path: String,
    /// What is wrong and, where useful, what to write instead.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.pos.line, self.pos.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a batch of documents, reported at once. Displays one per line.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl Diagnostics {
    /// True when nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems were reported.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Iterates over the problems in the order they were found.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// `Ok(value)` when nothing was reported, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_column_path_message() {
        let d = Diagnostic {
            file: "reviews.yaml".into(),
            pos: Pos {
                line: 14,
                column: 9,
            },
            path: "spec.http[0].route[1].weight".into(),
            message: "must be 0..=100".into(),
        };
        assert_eq!(
            d.to_string(),
            "reviews.yaml:14:9: spec.http[0].route[1].weight: must be 0..=100"
        );
        let all = Diagnostics(vec![
            d.clone(),
            Diagnostic {
                path: String::new(),
                ..d
            },
        ]);
        assert_eq!(all.to_string().lines().count(), 2);
        assert!(all
            .to_string()
            .ends_with("reviews.yaml:14:9: must be 0..=100"));
    }
}
