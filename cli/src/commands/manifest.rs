//! `meshctl manifest generate`: the Kubernetes YAML of a profile, as `istioctl manifest
//! generate`. The rendering is [`crate::manifest`]'s; this module merges the profile with
//! `-f`/`--set` and prints.

use clap::builder::PossibleValuesParser;
use clap::Subcommand;

use super::install::ValuesArgs;
use crate::manifest;
use crate::profile::NAMES;

const EXAMPLES: &str = "\
Examples:
  meshctl manifest generate --profile default > mesh.yaml
  meshctl manifest generate --profile demo --set values.global.hub=registry.example.com/mesh
  meshctl manifest generate --profile minimal --set values.global.tag=0.1.0 | kubectl apply -f -
  meshctl manifest generate --profile default -o json | jq '.items[].kind'";

/// `meshctl manifest`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    command: ManifestCommand,
}

#[derive(Subcommand, Debug)]
enum ManifestCommand {
    /// Print the Kubernetes YAML of a profile: namespace, CRDs, control plane, webhooks,
    /// gateways.
    #[command(after_help = EXAMPLES)]
    Generate(GenerateArgs),
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Format {
    /// Multi-document YAML.
    #[default]
    Yaml,
    /// One `v1` `List` holding every object.
    Json,
}

#[derive(clap::Args, Debug)]
struct GenerateArgs {
    /// The install profile.
    #[arg(long, default_value = "default", value_parser = PossibleValuesParser::new(NAMES))]
    profile: String,
    #[command(flatten)]
    values: ValuesArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: Format,
}

/// Runs `meshctl manifest`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        ManifestCommand::Generate(a) => {
            let spec = a.values.merge(&a.profile)?;
            let docs = manifest::generate(&spec);
            match a.output {
                Format::Yaml => crate::out!("{}", manifest::to_yaml(&docs)?),
                Format::Json => {
                    let list =
                        serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs});
                    crate::outln!("{}", serde_json::to_string_pretty(&list)?);
                }
            }
            Ok(())
        }
    }
}
