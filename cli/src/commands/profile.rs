//! `meshctl profile list | dump NAME | diff A B`: the built-in install profiles.

use std::collections::BTreeMap;

use clap::builder::PossibleValuesParser;
use clap::Subcommand;
use serde_json::Value;

use super::install::ValuesArgs;
use crate::output::{print_data, table, Format, OutputArgs, Style};
use crate::platform::local::state::InstallRecord;
use crate::profile::{self, NAMES, PROFILES};

const EXAMPLES: &str = "\
Examples:
  meshctl profile list
  meshctl profile dump demo
  meshctl profile dump minimal --set values.controlPlane.monitoringPort=25014 -o json
  meshctl profile diff minimal demo";

/// `meshctl profile`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(Subcommand, Debug)]
enum ProfileCommand {
    /// List the profiles with what each installs.
    #[command(after_help = "Examples:\n  meshctl profile list\n  meshctl profile list -o json")]
    List(OutputArgs),
    /// Print a profile (with -f/--set: merged), in the shape `install -f` takes.
    #[command(
        after_help = "Examples:\n  meshctl profile dump default > my-values.yaml\n  meshctl profile dump demo --set values.tracing.sampling=10 -o json"
    )]
    Dump(DumpArgs),
    /// Show the keys two profiles set differently.
    #[command(after_help = "Examples:\n  meshctl profile diff minimal default")]
    Diff(DiffArgs),
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
enum DumpFormat {
    #[default]
    Yaml,
    Json,
}

#[derive(clap::Args, Debug)]
struct DumpArgs {
    /// The profile.
    #[arg(value_parser = PossibleValuesParser::new(NAMES))]
    name: String,
    #[command(flatten)]
    values: ValuesArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: DumpFormat,
}

#[derive(clap::Args, Debug)]
struct DiffArgs {
    /// The first profile.
    #[arg(value_parser = PossibleValuesParser::new(NAMES))]
    a: String,
    /// The second profile.
    #[arg(value_parser = PossibleValuesParser::new(NAMES))]
    b: String,
}

/// Runs `meshctl profile ...`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        ProfileCommand::List(o) => list(o.output),
        ProfileCommand::Dump(d) => dump(d),
        ProfileCommand::Diff(d) => diff(&d.a, &d.b),
    }
}

fn list(format: Format) -> anyhow::Result<()> {
    if format == Format::Table {
        let rows: Vec<Vec<String>> = PROFILES
            .iter()
            .map(|p| vec![p.name.to_string(), p.description()])
            .collect();
        crate::out!("{}", table(&["PROFILE", "DESCRIPTION"], &rows));
        return Ok(());
    }
    let list: Vec<BTreeMap<&str, String>> = PROFILES
        .iter()
        .map(|p| {
            BTreeMap::from([
                ("name", p.name.to_string()),
                ("description", p.description()),
            ])
        })
        .collect();
    print_data(format, &list)
}

fn dump(d: DumpArgs) -> anyhow::Result<()> {
    let plain = d.values.sets.is_empty() && d.values.files.is_empty();
    if plain && d.output == DumpFormat::Yaml {
        // The file as shipped, with its comments.
        if let Some(p) = profile::builtin(&d.name) {
            crate::out!("{}", p.text);
            return Ok(());
        }
    }
    let spec = d.values.merge(&d.name)?;
    let doc = serde_json::json!({
        "apiVersion": profile::schema::API_VERSION,
        "kind": profile::schema::KIND,
        "spec": spec,
    });
    match d.output {
        DumpFormat::Yaml => print_data(Format::Yaml, &doc),
        DumpFormat::Json => print_data(Format::Json, &doc),
    }
}

/// Leaf path -> value, for comparing.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, v, out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn diff(a: &str, b: &str) -> anyhow::Result<()> {
    let flat = |name: &str| -> anyhow::Result<BTreeMap<String, String>> {
        let spec = ValuesArgs::default().merge(name)?;
        let mut out = BTreeMap::new();
        flatten(
            "",
            &serde_json::to_value(InstallRecord::new(name, &spec).spec)?,
            &mut out,
        );
        Ok(out)
    };
    let (fa, fb) = (flat(a)?, flat(b)?);
    let style = Style::stdout();
    let mut same = true;
    crate::outln!("{}", style.red(&format!("--- {a}")));
    crate::outln!("{}", style.green(&format!("+++ {b}")));
    for (key, va) in &fa {
        let vb = fb.get(key);
        if vb != Some(va) {
            same = false;
            crate::outln!("{}", style.red(&format!("- {key}: {va}")));
            if let Some(vb) = vb {
                crate::outln!("{}", style.green(&format!("+ {key}: {vb}")));
            }
        }
    }
    if same {
        crate::outln!("The profiles {a} and {b} are the same.");
    }
    Ok(())
}
