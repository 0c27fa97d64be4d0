//! Why a file cannot be injected. Every error names the file and line, and what to do; on
//! any error the caller writes nothing (see [`crate::inject_stream`]).

use crate::report::WorkloadRef;

#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error("{file}:{line}:{column}: invalid YAML: {message}")]
    Yaml {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}:{column}: the input is not valid UTF-8; save the file as UTF-8")]
    NotUtf8 {
        file: String,
        line: usize,
        column: usize,
    },
    #[error(
        "{file}:{line}: {what} is {found}, not a mapping; a Kubernetes object is a mapping with \
         apiVersion, kind and metadata"
    )]
    NotAMapping {
        file: String,
        line: usize,
        /// "the document" or "item 3 of the List".
        what: String,
        found: &'static str,
    },
    #[error(
        "{file}:{line}: {workload} has no pod template at {path}; a {kind} needs one \
         (check the indentation of `{path}`)",
        kind = workload.kind
    )]
    NoPodTemplate {
        file: String,
        line: usize,
        workload: Box<WorkloadRef>,
        path: String,
    },
    #[error("{file}:{line}: {workload}: {message}")]
    BadTemplate {
        file: String,
        line: usize,
        workload: Box<WorkloadRef>,
        message: String,
    },
    #[error("{file}:{line}: {workload}: invalid annotation {annotation}: {value:?}: {reason}")]
    Annotation {
        file: String,
        line: usize,
        workload: Box<WorkloadRef>,
        annotation: String,
        value: String,
        reason: String,
    },
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the output: {source}")]
    Write {
        #[source]
        source: std::io::Error,
    },
}

/// A problem found inside one pod template, before the file and line are known.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TemplateProblem {
    Annotation {
        annotation: String,
        value: String,
        reason: String,
    },
    Bad(String),
}

impl TemplateProblem {
    pub(crate) fn annotation(annotation: &str, value: &str, reason: impl Into<String>) -> Self {
        TemplateProblem::Annotation {
            annotation: annotation.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn at(self, file: &str, line: usize, workload: &WorkloadRef) -> InjectError {
        match self {
            TemplateProblem::Annotation {
                annotation,
                value,
                reason,
            } => InjectError::Annotation {
                file: file.to_string(),
                line,
                workload: Box::new(workload.clone()),
                annotation,
                value,
                reason,
            },
            TemplateProblem::Bad(message) => InjectError::BadTemplate {
                file: file.to_string(),
                line,
                workload: Box::new(workload.clone()),
                message,
            },
        }
    }
}
