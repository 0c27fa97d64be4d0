//! How results are printed: `-o table|json|yaml` for data, colour only on a terminal and
//! never with `NO_COLOR`, aligned tables.

use std::io::IsTerminal;

use serde::Serialize;

/// `-o`: how data is printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// JSON for programs (`jq`).
    Json,
    /// YAML; for resources, documents that `meshctl apply -f` takes back.
    Yaml,
}

/// The `-o` flag, for commands whose output is data.
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub struct OutputArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// Writes to stdout; a closed pipe ends the program with exit code 0, as a reader that
/// stopped reading (`| head`) wants, rather than a panic.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("meshctl: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// Prints `value` as JSON or YAML (table output is each command's own).
pub fn print_data(format: Format, value: &impl Serialize) -> anyhow::Result<()> {
    match format {
        Format::Json => crate::outln!("{}", serde_json::to_string_pretty(value)?),
        Format::Yaml | Format::Table => crate::out!("{}", serde_saphyr::to_string(value)?),
    }
    Ok(())
}

/// Colour and symbols for one output stream.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    color: bool,
}

/// True unless `NO_COLOR` is set to something non-empty (no-color.org).
fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

impl Style {
    /// For stdout.
    pub fn stdout() -> Style {
        Style {
            color: std::io::stdout().is_terminal() && color_allowed(),
        }
    }

    /// For stderr.
    pub fn stderr() -> Style {
        Style {
            color: std::io::stderr().is_terminal() && color_allowed(),
        }
    }

    /// No colour (tests, and text built for a file or pipe).
    pub fn plain() -> Style {
        Style { color: false }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// `✔ text`, the mark green.
    pub fn ok(self, text: &str) -> String {
        format!("{} {text}", self.paint("32", "✔"))
    }

    /// `✘ text`, the mark red.
    pub fn fail(self, text: &str) -> String {
        format!("{} {text}", self.paint("31", "✘"))
    }

    /// Red text (errors).
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Green text.
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Yellow text (warnings).
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Dim text (details).
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// Aligned columns: a header row, then rows; two spaces between columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let pad = widths[i] - c.chars().count() + 3;
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_aligns_columns() {
        let t = super::table(
            &["NAME", "HOSTS"],
            &[
                vec!["reviews".into(), "reviews".into()],
                vec!["a".into(), "b".into()],
            ],
        );
        assert_eq!(t, "NAME      HOSTS\nreviews   reviews\na         b\n");
    }
}
