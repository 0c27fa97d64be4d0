//! `meshctl delete -f FILE|DIR|-`: delete the resources the files name. Every name is checked
//! against the store first: when one is missing nothing is deleted (unless
//! `--ignore-not-found`).

use std::collections::BTreeSet;

use anyhow::bail;
use http::StatusCode;
use mesh_api::istio::Kind;

use super::get::{fetch, Stored};
use crate::cli::GlobalArgs;
use crate::kinds;
use crate::manifests;

const EXAMPLES: &str = "\
Examples:
  meshctl delete -f virtual-service-all-v1.yaml
  meshctl delete -f networking/ --ignore-not-found";

/// `meshctl delete`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// A file, a directory, or - for stdin. Repeatable.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        required = true
    )]
    pub files: Vec<String>,
    /// Skip resources that are not stored instead of failing.
    #[arg(long)]
    pub ignore_not_found: bool,
}

/// Runs `meshctl delete`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let inputs = manifests::read(&args.files)?;
    let mut problems = Vec::new();
    // (kind, namespace, name) -> where it was named first.
    let mut wanted: Vec<((Kind, String, String), String)> = Vec::new();
    for input in &inputs {
        match mesh_api::istio::parse_documents(&input.name, &input.text) {
            Ok(parsed) => {
                for p in parsed {
                    let r = &p.resource;
                    let ns = if r.namespace().is_empty() {
                        "default"
                    } else {
                        r.namespace()
                    };
                    let key = (r.kind(), ns.to_string(), r.name().to_string());
                    if !wanted.iter().any(|(k, _)| *k == key) {
                        wanted.push((key, format!("{}:{}:{}", p.file, p.pos.line, p.pos.column)));
                    }
                }
            }
            Err(d) => problems.extend(d.0.into_iter().map(|d| d.to_string())),
        }
    }
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("{p}");
        }
        bail!(
            "nothing was deleted: {} problem(s) reading the files",
            problems.len()
        );
    }
    let api = super::api(g)?;
    let stored: BTreeSet<(String, String, String)> = fetch(&api)
        .await?
        .into_iter()
        .map(|s: Stored| (s.kind, s.namespace, s.name))
        .collect();
    let is_stored = |(k, ns, n): &(Kind, String, String)| {
        stored.contains(&(k.as_str().to_string(), ns.clone(), n.clone()))
    };
    let missing: Vec<_> = wanted.iter().filter(|(k, _)| !is_stored(k)).collect();
    if !missing.is_empty() && !args.ignore_not_found {
        for ((k, ns, n), at) in &missing {
            eprintln!("{at}: {k} {ns}/{n} is not stored");
        }
        bail!(
            "nothing was deleted: {} resource(s) not found; `meshctl get KIND` shows what is \
             stored, or pass --ignore-not-found",
            missing.len()
        );
    }
    for ((kind, ns, name), _) in wanted.iter().filter(|(k, _)| is_stored(k)) {
        let reply = api
            .delete(&format!("/apis/resources/{}/{ns}/{name}", kind.as_str()))
            .await?;
        let shown = kinds::qualified(*kind, name);
        match reply.status {
            StatusCode::OK => crate::outln!("{shown} deleted"),
            StatusCode::NOT_FOUND => crate::outln!("{shown} was already gone"),
            status => bail!("deleting {shown} failed ({status}): {}", reply.body.trim()),
        }
    }
    for ((kind, _, name), _) in &missing {
        crate::outln!("{} not found (ignored)", kinds::qualified(*kind, name));
    }
    Ok(())
}
