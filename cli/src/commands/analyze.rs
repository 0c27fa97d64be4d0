//! `meshctl analyze [-f FILES]`: cross-resource checks (see [`crate::analysis`]) over the
//! resources stored in the mesh, with the files' resources applied over them as `apply`
//! would, and the workloads the control plane's registry knows. Prints istioctl's lines;
//! exits 79 when a finding is at or above `--failure-threshold` (as istioctl does).

use anyhow::bail;
use mesh_api::istio::{Kind, Resource};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::analysis::{self, FindingOut, Input, Item, Level, Workload};
use crate::cli::GlobalArgs;
use crate::inspect;
use crate::manifests;
use crate::output::{print_data, Format, OutputArgs, Style};

use super::Exit;

/// istioctl's exit code when analysis finds issues at or above the failure threshold.
pub const EXIT_FOUND_ISSUES: u8 = 79;

const EXAMPLES: &str = "\
Examples:
  meshctl analyze                                  # what is stored in the mesh
  meshctl analyze -f virtual-service-all-v1.yaml   # as if the file were applied
  meshctl analyze -f networking/ -o json
  meshctl analyze --failure-threshold Warning      # exit 79 on warnings too
Messages: IST0101 ReferencedResourceNotFound (a route to a subset no DestinationRule
defines, an unknown host, a missing gateway), IST0109 ConflictingMeshGatewayVirtualServiceHosts
(two VirtualServices for one host), IST0173 DestinationRuleSubsetNotSelectPods (a subset that
selects no workload). Exit codes: 0 no finding at or above the failure threshold, 79 some,
1 the files are invalid or the mesh cannot be reached.";

/// `meshctl analyze`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Also analyze these files (or directories, or - for stdin), as if applied.
    #[arg(short = 'f', long = "filename", value_name = "FILE|DIR|-")]
    pub files: Vec<String>,
    /// The lowest level that makes the exit code 79.
    #[arg(long, value_enum, default_value = "Error", ignore_case = true)]
    pub failure_threshold: Level,
    /// The lowest level printed.
    #[arg(long, value_enum, default_value = "Info", ignore_case = true)]
    pub output_threshold: Level,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The files' resources, validated as `apply` validates them; every problem is printed.
fn file_items(files: &[String]) -> anyhow::Result<Vec<Item>> {
    let mut items = Vec::new();
    let mut problems = 0;
    for input in manifests::read(files)? {
        match mesh_api::istio::load(&input.name, &input.text) {
            Ok(parsed) => items.extend(
                parsed
                    .into_iter()
                    .map(|p| Item::from_file(p.resource, &p.file, p.source_map)),
            ),
            Err(d) => {
                problems += d.len();
                eprintln!("{d}");
            }
        }
    }
    if problems > 0 {
        bail!(
            "{problems} problem(s) in the files (listed above); fix them, then analyze again \
             (nothing was analyzed)"
        );
    }
    Ok(items)
}

fn typed<T: DeserializeOwned>(v: Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(v)
}

/// A stored resource from its JSON, by kind.
fn decode(kind: Kind, v: Value) -> Result<Resource, serde_json::Error> {
    Ok(match kind {
        Kind::VirtualService => Resource::VirtualService(typed(v)?),
        Kind::DestinationRule => Resource::DestinationRule(typed(v)?),
        Kind::Gateway => Resource::Gateway(typed(v)?),
        Kind::ServiceEntry => Resource::ServiceEntry(typed(v)?),
        Kind::PeerAuthentication => Resource::PeerAuthentication(typed(v)?),
        Kind::AuthorizationPolicy => Resource::AuthorizationPolicy(typed(v)?),
    })
}

/// Runs `meshctl analyze`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let files = file_items(&args.files)?;
    let api = super::api(g)?;
    let mut stored = Vec::new();
    for s in super::get::fetch(&api).await? {
        let Some(kind) = Kind::ALL.into_iter().find(|k| k.as_str() == s.kind) else {
            continue; // a kind this meshctl does not know: a newer control plane's
        };
        let resource = decode(kind, s.resource).map_err(|e| {
            anyhow::anyhow!(
                "the stored {} {}/{} does not read back ({e}); are meshctl and the control \
                 plane the same version? (`meshctl version`)",
                s.kind,
                s.namespace,
                s.name
            )
        })?;
        stored.push(Item::stored(resource));
    }
    let workloads: Vec<Workload> = inspect::proxies(&api)
        .await?
        .into_iter()
        .map(|p| Workload {
            gateway: p.is_gateway(),
            id: p.id,
            service: p.service,
            namespace: p.namespace,
            labels: p.labels,
        })
        .collect();
    let input = Input {
        items: analysis::merge(stored, files),
        workloads,
    };
    let findings: Vec<_> = analysis::analyze(&input)
        .into_iter()
        .filter(|f| f.level() >= args.output_threshold)
        .collect();
    if args.output.output == Format::Table {
        if findings.is_empty() {
            let style = Style::stdout();
            crate::outln!(
                "{}",
                style.ok("No validation issues found when analyzing all namespaces.")
            );
        }
        for f in &findings {
            crate::outln!("{f}");
        }
    } else {
        let out: Vec<FindingOut> = findings.iter().map(FindingOut::from).collect();
        print_data(args.output.output, &out)?;
    }
    if findings.iter().any(|f| f.level() >= args.failure_threshold) {
        return Err(Exit {
            code: EXIT_FOUND_ISSUES,
            message: "Analyzers found issues when analyzing all namespaces.\nSee \
                      https://istio.io/latest/docs/reference/config/analysis for more \
                      information about causes and resolutions."
                .into(),
        }
        .into());
    }
    Ok(())
}
