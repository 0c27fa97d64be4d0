//! `meshctl verify-install`'s checks, in the style of `linkerd check`: categories of checks,
//! each `√` (passed), `‼` (a warning: something to look at, not a failure) or `×` (failed,
//! with a hint saying what to do).
//!
//! - [`checks`]: platform, control plane, CA, processes, gateways, proxies (IO).
//! - [`probe`]: the end-to-end probe: one request through a sidecar to another workload,
//!   and the server's metrics must show it arrived over mutual TLS from the client's
//!   SPIFFE identity.
//! - Here: the result types and how they print (pure).

pub mod checks;
pub mod probe;
#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::output::Style;

/// How one check ended (linkerd's `result` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Warning,
    Error,
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// What was checked and, when it passed, what was found.
    pub description: String,
    pub result: Outcome,
    /// What went wrong (warnings and errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Check {
    /// Passed.
    pub fn ok(description: impl Into<String>) -> Check {
        Check {
            description: description.into(),
            result: Outcome::Success,
            error: None,
            hint: None,
        }
    }

    /// A warning, with what was found and what to do.
    pub fn warn(description: impl Into<String>, error: impl Into<String>, hint: &str) -> Check {
        Check {
            description: description.into(),
            result: Outcome::Warning,
            error: Some(error.into()),
            hint: Some(hint.to_string()),
        }
    }

    /// Failed, with why and what to do.
    pub fn fail(description: impl Into<String>, error: impl Into<String>, hint: &str) -> Check {
        Check {
            description: description.into(),
            result: Outcome::Error,
            error: Some(error.into()),
            hint: Some(hint.to_string()),
        }
    }
}

/// A named group of checks (`meshctl-control-plane`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub category_name: String,
    pub checks: Vec<Check>,
}

/// Everything `verify-install` found, as `-o json` prints it (linkerd's shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// True when no check failed (warnings allowed).
    pub success: bool,
    pub categories: Vec<Category>,
}

impl Report {
    /// A report of `categories`.
    pub fn new(categories: Vec<Category>) -> Report {
        let success = categories
            .iter()
            .flat_map(|c| &c.checks)
            .all(|c| c.result != Outcome::Error);
        Report {
            success,
            categories,
        }
    }

    /// How many checks failed.
    pub fn failures(&self) -> usize {
        self.categories
            .iter()
            .flat_map(|c| &c.checks)
            .filter(|c| c.result == Outcome::Error)
            .count()
    }

    /// As `linkerd check` prints it: a header per category, one line per check, the error
    /// and hint indented below a warning or failure, and the verdict.
    pub fn render(&self, style: Style) -> String {
        let mut out = String::new();
        for c in &self.categories {
            out.push_str(&c.category_name);
            out.push('\n');
            out.push_str(&"-".repeat(c.category_name.chars().count()));
            out.push('\n');
            for check in &c.checks {
                let mark = match check.result {
                    Outcome::Success => style.green("√"),
                    Outcome::Warning => style.yellow("‼"),
                    Outcome::Error => style.red("×"),
                };
                out.push_str(&format!("{mark} {}\n", check.description));
                for line in check.error.iter().flat_map(|e| e.lines()) {
                    out.push_str(&format!("    {line}\n"));
                }
                if let Some(h) = &check.hint {
                    out.push_str(&format!("    {}\n", style.dim(&format!("hint: {h}"))));
                }
            }
            out.push('\n');
        }
        let verdict = if self.success {
            style.green("√")
        } else {
            style.red("×")
        };
        out.push_str(&format!("Status check results are {verdict}\n"));
        out
    }
}
