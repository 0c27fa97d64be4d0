//! `meshctl apply -f FILE|DIR|-`: validate every document of every file locally (every
//! problem with `file:line:column: field.path: message`), then send them all as one apply;
//! the control plane stores all of them or none.

use std::collections::HashMap;

use anyhow::bail;
use bytes::Bytes;
use http::{Method, StatusCode};
use mesh_api::istio::{Diagnostic, Kind};
use serde::Deserialize;

use crate::cli::GlobalArgs;
use crate::kinds;
use crate::manifests::{self, Bundle, Input, BUNDLE_NAME};

const EXAMPLES: &str = "\
Examples:
  meshctl apply -f virtual-service-all-v1.yaml
  meshctl apply -f networking/                  # every .yaml/.yml/.json file in it
  cat rules.yaml | meshctl apply -f -            # from stdin";

/// `meshctl apply`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// A file, a directory, or - for stdin. Repeatable; all of them are applied together.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        required = true
    )]
    pub files: Vec<String>,
}

#[derive(Deserialize, Debug)]
struct Applied {
    kind: String,
    namespace: String,
    name: String,
    outcome: String,
}

/// Runs `meshctl apply`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let inputs = manifests::read(&args.files)?;
    for line in apply(g, &inputs).await? {
        crate::outln!("{line}");
    }
    Ok(())
}

/// Validates every document of `inputs` (problems on stderr), then applies them all as one
/// request; returns one line per resource (`virtualservice/reviews created`).
pub async fn apply(g: &GlobalArgs, inputs: &[Input]) -> anyhow::Result<Vec<String>> {
    let mut problems: Vec<Diagnostic> = Vec::new();
    let mut seen: HashMap<(Kind, String, String), String> = HashMap::new();
    let mut count = 0;
    for input in inputs {
        match mesh_api::istio::load(&input.name, &input.text) {
            Ok(parsed) => {
                for p in parsed {
                    count += 1;
                    let r = &p.resource;
                    let ns = if r.namespace().is_empty() {
                        "default"
                    } else {
                        r.namespace()
                    };
                    let key = (r.kind(), ns.to_string(), r.name().to_string());
                    let here = format!("{}:{}:{}", p.file, p.pos.line, p.pos.column);
                    if let Some(first) = seen.get(&key) {
                        problems.push(Diagnostic {
                            file: p.file.clone(),
                            pos: p.pos,
                            path: "metadata.name".into(),
                            message: format!(
                                "{} {ns}/{} is also at {first}; apply one copy",
                                r.kind(),
                                r.name()
                            ),
                        });
                    } else {
                        seen.insert(key, here);
                    }
                }
            }
            Err(d) => problems.extend(d.0),
        }
    }
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("{p}");
        }
        bail!(
            "nothing was applied: {} problem(s) found; fix them and apply again",
            problems.len()
        );
    }
    if count == 0 {
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        bail!("no resources in {}; nothing to apply", names.join(", "));
    }
    let api = super::api(g)?;
    let bundle = Bundle::new(inputs);
    let reply = api
        .send(
            Method::POST,
            "/apis/apply",
            &[
                ("x-file-name", BUNDLE_NAME),
                ("content-type", "application/yaml"),
            ],
            Bytes::from(bundle.body.clone()),
        )
        .await?;
    match reply.status {
        StatusCode::OK => {
            let applied: Vec<Applied> = serde_json::from_str(&reply.body).map_err(|e| {
                anyhow::anyhow!("the control plane applied the files but its answer is unreadable ({e}); check with `meshctl get`")
            })?;
            let mut lines = Vec::new();
            for a in applied {
                let name = match Kind::ALL.into_iter().find(|k| k.as_str() == a.kind) {
                    Some(k) => kinds::qualified(k, &a.name),
                    None => format!("{}/{}", a.kind, a.name),
                };
                let ns = if a.namespace == "default" {
                    String::new()
                } else {
                    format!(" (namespace {})", a.namespace)
                };
                lines.push(format!("{name}{ns} {}", a.outcome));
            }
            Ok(lines)
        }
        StatusCode::BAD_REQUEST => {
            eprint!("{}", bundle.unmap(&reply.body));
            bail!("nothing was applied")
        }
        status => bail!(
            "the control plane at {} refused the apply ({status}): {}",
            api.addr(),
            bundle.unmap(reply.body.trim())
        ),
    }
}
