//! The Istio files `apply` and `delete` take (`-f FILE`, `-f DIR`, `-f -`), read, and bundled
//! into one multi-document body for one all-or-nothing request. Positions the control plane
//! reports in the bundle are mapped back to the files they came from.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context};

/// One input file.
#[derive(Clone, Debug)]
pub struct Input {
    /// The name diagnostics show: the path as given, or `<stdin>`.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// Reads every `-f` argument: a file, a directory (its `.yaml`, `.yml` and `.json` files, in
/// name order, not recursive), or `-` for stdin.
pub fn read(args: &[String]) -> anyhow::Result<Vec<Input>> {
    let mut out = Vec::new();
    for arg in args {
        if arg == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read stdin as UTF-8 text")?;
            out.push(Input {
                name: "<stdin>".into(),
                text,
            });
            continue;
        }
        let path = Path::new(arg);
        if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read the directory {arg}"))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
                })
                .collect();
            files.sort();
            if files.is_empty() {
                bail!("the directory {arg} holds no .yaml, .yml or .json file");
            }
            for f in files {
                out.push(read_file(&f)?);
            }
        } else {
            out.push(read_file(path)?);
        }
    }
    Ok(out)
}

fn read_file(path: &Path) -> anyhow::Result<Input> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display().to_string();
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{name}: not UTF-8 text; save it as UTF-8"))?;
    Ok(Input { name, text })
}

/// The name the bundle is sent under; positions in it are mapped back with [`Bundle::unmap`].
pub const BUNDLE_NAME: &str = "meshctl-apply.yaml";

/// Several files as one YAML stream.
#[derive(Debug)]
pub struct Bundle {
    /// The stream.
    pub body: String,
    /// (first line of the file in the stream, 1-based; file name).
    starts: Vec<(usize, String)>,
}

impl Bundle {
    /// Joins `inputs`, each ended by a `...` document end marker so the next one may start
    /// with directives, `---` or a bare document.
    pub fn new(inputs: &[Input]) -> Bundle {
        let mut body = String::new();
        let mut starts = Vec::new();
        let mut line = 1;
        for i in inputs {
            starts.push((line, i.name.clone()));
            body.push_str(&i.text);
            if !i.text.ends_with('\n') && !i.text.is_empty() {
                body.push('\n');
            }
            body.push_str("...\n");
            line = body.lines().count() + 1;
        }
        Bundle { body, starts }
    }

    /// The file and line of line `line` of the bundle.
    pub fn locate(&self, line: usize) -> Option<(&str, usize)> {
        self.starts
            .iter()
            .rev()
            .find(|(start, _)| *start <= line)
            .map(|(start, name)| (name.as_str(), line - start + 1))
    }

    /// Rewrites every `meshctl-apply.yaml:LINE:` in `text` to `FILE:LINE:`.
    pub fn unmap(&self, text: &str) -> String {
        let marker = format!("{BUNDLE_NAME}:");
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(&marker) {
            out.push_str(&rest[..i]);
            let after = &rest[i + marker.len()..];
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            match digits.parse::<usize>().ok().and_then(|l| self.locate(l)) {
                Some((file, line)) => {
                    out.push_str(&format!("{file}:{line}"));
                    rest = &after[digits.len()..];
                }
                None => {
                    out.push_str(&marker);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_positions_map_back_to_files() {
        let inputs = vec![
            Input {
                name: "a.yaml".into(),
                text: "x: 1\ny: 2".into(),
            },
            Input {
                name: "b.yaml".into(),
                text: "%YAML 1.2\n---\nz: 3\n".into(),
            },
        ];
        let b = Bundle::new(&inputs);
        assert_eq!(b.body, "x: 1\ny: 2\n...\n%YAML 1.2\n---\nz: 3\n...\n");
        assert_eq!(b.locate(2), Some(("a.yaml", 2)));
        assert_eq!(b.locate(6), Some(("b.yaml", 3)));
        assert_eq!(
            b.unmap("meshctl-apply.yaml:6:1: spec: bad (first at meshctl-apply.yaml:1:1)"),
            "b.yaml:3:1: spec: bad (first at a.yaml:1:1)"
        );
    }
}
