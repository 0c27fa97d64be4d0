//! Splits a YAML stream into documents by reading lines, so memory holds one document at a
//! time and every document's text is available byte for byte (a document we do not change
//! is written back as it was read, comments and all).
//!
//! YAML forbids `---` and `...` at the start of a line anywhere but as document markers (even
//! inside quoted and block scalars), so lines are enough to find the boundaries. Comment-only
//! pieces (a file header, a `---` with nothing after it) are kept with the document that
//! follows them.

use std::io::BufRead;

/// One document's text exactly as read, and the line (1-based) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub text: String,
    pub first_line: usize,
}

/// Why the stream could not be split.
#[derive(Debug)]
pub enum SplitError {
    NotUtf8 { line: usize, column: usize },
    Io(std::io::Error),
}

/// Iterator over the documents of a reader.
#[derive(Debug)]
pub struct Splitter<R> {
    reader: R,
    line_no: usize,
    buf: Vec<u8>,
    /// The document being read.
    text: String,
    first_line: usize,
    has_content: bool,
    /// A marker line read but not yet placed (it starts the next chunk).
    carry: Option<String>,
    done: bool,
}

impl<R: BufRead> Splitter<R> {
    pub fn new(reader: R) -> Self {
        Splitter {
            reader,
            line_no: 0,
            buf: Vec::new(),
            text: String::new(),
            first_line: 1,
            has_content: false,
            carry: None,
            done: false,
        }
    }

    fn take(&mut self, next_first_line: usize) -> Chunk {
        self.has_content = false;
        Chunk {
            text: std::mem::take(&mut self.text),
            first_line: std::mem::replace(&mut self.first_line, next_first_line),
        }
    }

    /// Reads the next line into `self.buf` (reused: no allocation per line). Returns false
    /// at the end of the input.
    fn read_line(&mut self) -> Result<bool, SplitError> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(SplitError::Io)?;
        if n == 0 {
            return Ok(false);
        }
        self.line_no += 1;
        if let Err(e) = std::str::from_utf8(&self.buf) {
            let valid = &self.buf[..e.valid_up_to()];
            let column = String::from_utf8_lossy(valid).chars().count() + 1;
            return Err(SplitError::NotUtf8 {
                line: self.line_no,
                column,
            });
        }
        Ok(true)
    }

    fn line(&self) -> &str {
        // Checked by read_line.
        std::str::from_utf8(&self.buf).unwrap_or_default()
    }
}

impl<R: BufRead> Iterator for Splitter<R> {
    type Item = Result<Chunk, SplitError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(marker) = self.carry.take() {
            self.text.push_str(&marker);
            self.has_content = !is_bare_marker(&marker);
        }
        while !self.done {
            match self.read_line() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            let line = self.line();
            if is_marker(line, "---") && self.has_content {
                self.carry = Some(line.to_string());
                return Some(Ok(self.take(self.line_no)));
            }
            let end = is_marker(line, "...");
            let content = !is_ignorable(line) && !is_bare_marker(line);
            // Borrow ends before the fields are updated.
            let line = std::mem::take(&mut self.buf);
            self.text
                .push_str(std::str::from_utf8(&line).unwrap_or_default());
            self.buf = line;
            self.has_content |= content;
            if end {
                return Some(Ok(self.take(self.line_no + 1)));
            }
        }
        if self.text.is_empty() {
            None
        } else {
            Some(Ok(self.take(self.line_no + 1)))
        }
    }
}

fn strip_bom(line: &str) -> &str {
    line.strip_prefix('\u{feff}').unwrap_or(line)
}

/// `---` or `...` at the start of a line, followed by white space or the line's end.
fn is_marker(line: &str, marker: &str) -> bool {
    strip_bom(line)
        .strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// A `---` line with nothing but a comment after it.
fn is_bare_marker(line: &str) -> bool {
    is_marker(line, "---") && {
        let rest = strip_bom(line)[3..].trim();
        rest.is_empty() || rest.starts_with('#')
    }
}

/// Blank lines, comments and directives: nothing a document is made of.
fn is_ignorable(line: &str) -> bool {
    let t = strip_bom(line).trim();
    t.is_empty() || t.starts_with('#') || strip_bom(line).starts_with('%')
}

/// The parts of a document's text that survive when the document itself is rewritten:
/// the lines before its content (comments, directives, a bare `---`) and the comment lines
/// after it.
#[derive(Debug, PartialEq)]
pub struct Frame<'a> {
    pub header: &'a str,
    /// The content's first line is a `---` carrying content (`--- !tag` or `--- {...}`):
    /// the rewritten document needs its own `---`.
    pub needs_marker: bool,
    pub trailer: &'a str,
}

/// Finds the header and trailer of a chunk's text.
pub fn frame(text: &str) -> Frame<'_> {
    let lines: Vec<(usize, &str)> = text
        .split_inclusive('\n')
        .scan(0, |pos, l| {
            let start = *pos;
            *pos += l.len();
            Some((start, l))
        })
        .collect();
    let first_content = lines
        .iter()
        .position(|(_, l)| !is_ignorable(l) && !is_bare_marker(l));
    let Some(first) = first_content else {
        return Frame {
            header: text,
            needs_marker: false,
            trailer: "",
        };
    };
    let header_end = lines[first].0;
    let needs_marker = is_marker(lines[first].1, "---");
    // Trailing comment lines at column 0 (and an end marker); blank lines before the first
    // of them may belong to a block scalar with keep chomping, so they are not kept.
    let mut trailer_start = text.len();
    for (start, line) in lines[first..].iter().rev() {
        let l = strip_bom(line);
        if l.starts_with('#') || is_marker(l, "...") {
            trailer_start = *start;
        } else if !l.trim().is_empty() {
            break;
        }
    }
    Frame {
        header: &text[..header_end],
        needs_marker,
        trailer: &text[trailer_start..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<String> {
        Splitter::new(text.as_bytes())
            .map(|c| c.expect("splits").text)
            .collect()
    }

    #[test]
    fn splits_at_markers_keeping_every_byte() {
        let text = "# header\n---\na: 1\n---\n# c\n---\nb: 2\n...\nc: 3\n--- {d: 4}\nx: |\n  ---not a marker\n";
        let docs = split(text);
        assert_eq!(
            docs,
            [
                "# header\n---\na: 1\n",
                "---\n# c\n---\nb: 2\n...\n",
                "c: 3\n",
                "--- {d: 4}\nx: |\n  ---not a marker\n",
            ]
        );
        assert_eq!(docs.concat(), text);
        let lines: Vec<usize> = Splitter::new(text.as_bytes())
            .map(|c| c.expect("splits").first_line)
            .collect();
        assert_eq!(lines, [1, 4, 9, 10]);
    }

    #[test]
    fn reports_invalid_utf8_with_position() {
        let bytes = b"a: 1\nb: h\xc3llo\n";
        let err = Splitter::new(&bytes[..])
            .find_map(|c| c.err())
            .expect("error");
        assert!(
            matches!(err, SplitError::NotUtf8 { line: 2, column: 5 }),
            "{err:?}"
        );
    }

    #[test]
    fn frames_keep_comments_around_content() {
        let f = frame("# top\n---\nkind: Pod\n# end\n\n");
        assert_eq!(
            f,
            Frame {
                header: "# top\n---\n",
                needs_marker: false,
                trailer: "# end\n\n"
            }
        );
        let f = frame("--- !!map\nkind: Pod\nx: |+\n  a\n\n...\n");
        assert_eq!(
            f,
            Frame {
                header: "",
                needs_marker: true,
                trailer: "...\n"
            }
        );
    }
}
