//! Injects (or with `--uninject`, uninjects) one file and prints the result; warnings go to
//! stderr. A developer's window on the library; users run `meshctl kube-inject`.
//!
//! ```sh
//! cargo run -p mesh-inject --example inject_file -- deployment.yaml
//! cargo run -p mesh-inject --example inject_file -- --uninject injected.yaml
//! ```

use std::io::{BufReader, Write};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (uninject, path) = match args.as_slice() {
        [flag, path] if flag == "--uninject" => (true, path),
        [path] => (false, path),
        _ => anyhow::bail!("usage: inject_file [--uninject] FILE"),
    };
    let input = BufReader::new(std::fs::File::open(path)?);
    let mut out = Vec::new();
    let mut report = |t: mesh_inject::TemplateOutcome| {
        for w in t.warnings() {
            eprintln!("{w}");
        }
    };
    if uninject {
        mesh_inject::uninject_stream(path, input, &mut out, &mut report)?;
    } else {
        let opts = mesh_inject::InjectOptions::default();
        mesh_inject::inject_stream(path, input, &mut out, &opts, &mut report)?;
    }
    // Only once everything succeeded: no partial output.
    std::io::stdout().write_all(&out)?;
    Ok(())
}
