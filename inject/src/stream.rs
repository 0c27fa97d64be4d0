//! Multi-document input to output, one document at a time: memory holds the largest
//! document, never the file. A document is written back byte for byte unless a pod template
//! in it changed; a changed one is re-emitted, keeping the comment lines around it.

use std::io::{BufRead, Write};

use crate::error::{InjectError, TemplateProblem};
use crate::options::InjectOptions;
use crate::pod::inject_template;
use crate::report::{Decision, TemplateOutcome};
use crate::uninject::uninject_template;
use crate::workload::{for_each_template, Place};
use crate::yaml::emit::emit_document;
use crate::yaml::parse::parse_document;
use crate::yaml::split::{frame, Chunk, SplitError, Splitter};

/// Which way to transform.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode<'a> {
    Inject(&'a InjectOptions),
    Uninject,
}

/// Where output goes: a `String` or an `io::Write`.
pub(crate) trait Sink {
    fn put(&mut self, text: &str) -> Result<(), InjectError>;
}

impl Sink for String {
    fn put(&mut self, text: &str) -> Result<(), InjectError> {
        self.push_str(text);
        Ok(())
    }
}

/// An `io::Write` as a [`Sink`].
pub(crate) struct IoSink<W>(pub W);

impl<W: Write> Sink for IoSink<W> {
    fn put(&mut self, text: &str) -> Result<(), InjectError> {
        self.0
            .write_all(text.as_bytes())
            .map_err(|source| InjectError::Write { source })
    }
}

/// Transforms every document of `input` into `out`, reporting each pod template.
pub(crate) fn run<R: BufRead>(
    file: &str,
    input: R,
    out: &mut dyn Sink,
    mode: Mode<'_>,
    report: &mut dyn FnMut(TemplateOutcome),
) -> Result<(), InjectError> {
    let mut text = String::new();
    for chunk in Splitter::new(input) {
        let chunk = chunk.map_err(|e| match e {
            SplitError::NotUtf8 { line, column } => InjectError::NotUtf8 {
                file: file.to_string(),
                line,
                column,
            },
            SplitError::Io(source) => InjectError::Read {
                file: file.to_string(),
                source,
            },
        })?;
        text.clear();
        if transform(file, &chunk, mode, report, &mut text)? {
            out.put(&text)?;
        } else {
            out.put(&chunk.text)?;
        }
    }
    Ok(())
}

/// The line of the annotation a problem is about: the first line of the document naming
/// both the annotation and its value.
fn problem_line(chunk: &Chunk, p: &TemplateProblem) -> Option<usize> {
    let TemplateProblem::Annotation {
        annotation, value, ..
    } = p
    else {
        return None;
    };
    chunk
        .text
        .lines()
        .position(|l| l.contains(annotation.as_str()) && l.contains(value.as_str()))
        .map(|i| chunk.first_line + i)
}

/// Writes the rewritten document into `out` and returns true, or returns false when the
/// document is to be written back as it was.
fn transform(
    file: &str,
    chunk: &Chunk,
    mode: Mode<'_>,
    report: &mut dyn FnMut(TemplateOutcome),
    out: &mut String,
) -> Result<bool, InjectError> {
    let doc = parse_document(&chunk.text).map_err(|e| InjectError::Yaml {
        file: file.to_string(),
        line: chunk.first_line + e.line - 1,
        column: e.column,
        message: e.message,
    })?;
    let Some(mut doc) = doc else {
        return Ok(false);
    };
    let f = frame(&chunk.text);
    // The line errors point at: the document's first line of content.
    let lead = f.header.lines().count();
    let place = Place {
        file,
        line: chunk.first_line + lead,
    };
    let mut changed = false;
    for_each_template(&mut doc, &place, &mut |t, template| {
        let (decision, notes) = match mode {
            Mode::Inject(opts) => {
                let r = inject_template(template, t, opts).map_err(|p| {
                    let line = problem_line(chunk, &p).unwrap_or(place.line);
                    p.at(place.file, line, &t.workload)
                })?;
                changed |= r.changed;
                (r.decision, r.notes)
            }
            Mode::Uninject => {
                let done = uninject_template(template)
                    .map_err(|p| p.at(place.file, place.line, &t.workload))?;
                changed |= done;
                let d = if done {
                    Decision::Uninjected
                } else {
                    Decision::NotInjected
                };
                (d, Vec::new())
            }
        };
        report(TemplateOutcome {
            workload: t.workload.clone(),
            decision,
            notes,
        });
        Ok(())
    })?;
    if !changed {
        return Ok(false);
    }
    out.push_str(f.header);
    if f.needs_marker {
        out.push_str("---\n");
    }
    emit_document(&doc, out);
    out.push_str(f.trailer);
    Ok(true)
}
