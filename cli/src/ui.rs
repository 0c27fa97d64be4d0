//! Talking to the person at the terminal: confirmations (dialoguer) and a spinner per step
//! (indicatif). Off a terminal there is no prompt and no spinner, only the result lines.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::output::Style;

/// True when a person can answer a prompt: stdin and stderr are terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks `question` (default: no). `Ok(false)` also when the person pressed Esc.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    let colorful = dialoguer::theme::ColorfulTheme::default();
    let simple = dialoguer::theme::SimpleTheme;
    let theme: &dyn dialoguer::theme::Theme =
        if std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) {
            &colorful
        } else {
            &simple
        };
    let answer = dialoguer::Confirm::with_theme(theme)
        .with_prompt(question)
        .default(false)
        .interact_opt()?;
    Ok(answer.unwrap_or(false))
}

/// One step in progress: a spinner on a terminal (stderr), then one result line on stdout.
#[derive(Debug)]
pub struct Step {
    bar: Option<ProgressBar>,
}

impl Step {
    /// Shows `message` with a spinner when stderr is a terminal.
    pub fn start(message: &str) -> Step {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
                bar.set_style(style);
            }
            bar.set_message(message.to_string());
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Step { bar }
    }

    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// `✔ text` on stdout.
    pub fn ok(mut self, text: &str) {
        self.clear();
        crate::outln!("{}", Style::stdout().ok(text));
    }

    /// `✘ text` on stdout.
    pub fn fail(mut self, text: &str) {
        self.clear();
        crate::outln!("{}", Style::stdout().fail(text));
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        self.clear();
    }
}
