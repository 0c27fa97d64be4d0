//! Multi-document input to output, a few documents at a time: memory holds a bounded number
//! of batches of documents (64 KB, or one larger document, [`IN_FLIGHT`] per worker each
//! way), never the file. A document is
//! written back byte for byte unless a pod template in it changed; a changed one is
//! re-emitted, keeping the comment lines around it.
//!
//! Documents are independent, so they are parsed and injected on one worker thread per core
//! (at most [`MAX_WORKERS`]): a reader thread splits the input and deals batches of
//! documents out in turn, and the calling thread takes the results back in the same turn, so output, reports
//! and the first error come in input order, exactly as one thread would give them.

use std::io::{BufRead, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

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

/// At most this many worker threads.
const MAX_WORKERS: usize = 8;
/// Batches queued per worker, each way.
const IN_FLIGHT: usize = 4;
/// Documents go to workers in batches of about this much text (or one larger document), so
/// that handing them over costs little next to injecting them.
const BATCH_BYTES: usize = 64 * 1024;

/// One document's result: its output text, the outcomes of its pod templates, and the
/// error that stopped it (then `outcomes` are those before the failing template).
struct Done {
    text: String,
    outcomes: Vec<TemplateOutcome>,
    error: Option<InjectError>,
}
/// Documents in input order; a split error ends a batch.
type Batch = Vec<Result<Chunk, InjectError>>;

/// Transforms every document of `input` into `out`, reporting each pod template, in input
/// order.
pub(crate) fn run<R: BufRead + Send>(
    file: &str,
    input: R,
    out: &mut dyn Sink,
    mode: Mode<'_>,
    report: &mut dyn FnMut(TemplateOutcome),
) -> Result<(), InjectError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS);
    std::thread::scope(|scope| {
        let mut jobs: Vec<SyncSender<Batch>> = Vec::new();
        let mut results: Vec<Receiver<Vec<Done>>> = Vec::new();
        for _ in 0..workers {
            let (job_tx, job_rx) = sync_channel::<Batch>(IN_FLIGHT);
            let (done_tx, done_rx) = sync_channel::<Vec<Done>>(IN_FLIGHT);
            scope.spawn(move || {
                for batch in job_rx {
                    let done = batch
                        .into_iter()
                        .map(|job| match job {
                            Ok(chunk) => work(file, chunk, mode),
                            Err(e) => Done {
                                text: String::new(),
                                outcomes: Vec::new(),
                                error: Some(e),
                            },
                        })
                        .collect();
                    if done_tx.send(done).is_err() {
                        return; // the writer stopped at an error
                    }
                }
            });
            jobs.push(job_tx);
            results.push(done_rx);
        }
        scope.spawn(move || {
            let (mut batch, mut bytes, mut turn) = (Vec::new(), 0, 0);
            for chunk in Splitter::new(input) {
                let chunk = chunk.map_err(|e| split_error(file, e));
                let last = chunk.is_err();
                bytes += chunk.as_ref().map_or(0, |c| c.text.len());
                batch.push(chunk);
                if bytes >= BATCH_BYTES || last {
                    if jobs[turn % workers]
                        .send(std::mem::take(&mut batch))
                        .is_err()
                        || last
                    {
                        return;
                    }
                    (bytes, turn) = (0, turn + 1);
                }
            }
            if !batch.is_empty() {
                let _ = jobs[turn % workers].send(batch);
            }
        });
        // A worker's channel closes once the reader is done and it has sent all its
        // results: the first closed channel in turn is the end of the input.
        for turn in 0.. {
            let Ok(batch) = results[turn % workers].recv() else {
                return Ok(());
            };
            for done in batch {
                done.outcomes.into_iter().for_each(&mut *report);
                if let Some(e) = done.error {
                    return Err(e);
                }
                out.put(&done.text)?;
            }
        }
        Ok(())
    })
}

fn split_error(file: &str, e: SplitError) -> InjectError {
    match e {
        SplitError::NotUtf8 { line, column } => InjectError::NotUtf8 {
            file: file.to_string(),
            line,
            column,
        },
        SplitError::Io(source) => InjectError::Read {
            file: file.to_string(),
            source,
        },
    }
}

/// One document through [`transform`], on a worker.
fn work(file: &str, chunk: Chunk, mode: Mode<'_>) -> Done {
    let mut outcomes = Vec::new();
    let mut text = String::new();
    let (text, error) = match transform(file, &chunk, mode, &mut |o| outcomes.push(o), &mut text) {
        Ok(true) => (text, None),
        Ok(false) => (chunk.text, None),
        Err(e) => (String::new(), Some(e)),
    };
    Done {
        text,
        outcomes,
        error,
    }
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
