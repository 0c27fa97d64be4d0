//! `meshctl proxy-config NAME routes|clusters|listeners|secrets`: the config one proxy runs,
//! read from its admin server's `/config_dump` (whose address the control plane's
//! `/debug/proxies` gives), one table per kind as istioctl's `proxy-config` prints them
//! ([`crate::inspect::config_tables`]).

use anyhow::anyhow;
use serde_json::Value;

use crate::cli::GlobalArgs;
use crate::inspect::config_tables::{clusters, listeners, routes, secrets};
use crate::inspect::format::unix_now;
use crate::inspect::{self, ConfigDump};
use crate::output::{print_data, Format, OutputArgs};

const EXAMPLES: &str = "\
Examples:
  meshctl proxy-config reviews-v1-0 routes
  meshctl proxy-config productpage-v1-0.default clusters -o json
  meshctl proxy-config ratings-v1-0 listeners
  meshctl proxy-config reviews-v2-0 secrets
NAME is a proxy as `meshctl proxy-status` lists it (`name.namespace`), its name alone, or a
prefix only one proxy has.";

/// Which part of the config to show.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Route tables: virtual hosts, matches, destinations.
    Routes,
    /// Upstream clusters: service, port, subset, endpoints, TLS.
    Clusters,
    /// Listeners: address, direction, protocol, where traffic goes, mTLS.
    Listeners,
    /// The workload certificate and the trust bundle.
    Secrets,
}

/// `meshctl proxy-config`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The proxy (see `meshctl proxy-status`).
    pub name: String,
    /// What to show.
    #[arg(value_enum)]
    pub part: Part,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs `meshctl proxy-config`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let api = super::api(g)?;
    let proxies = inspect::proxies(&api).await?;
    let proxy = inspect::find(&proxies, &args.name).map_err(|e| anyhow!(e))?;
    let dump = inspect::config_dump(proxy).await?;
    if args.output.output != Format::Table {
        return print_data(args.output.output, &data(&dump, args.part));
    }
    let text = match args.part {
        Part::Routes => routes(&dump.snapshot),
        Part::Clusters => clusters(&dump.snapshot),
        Part::Listeners => listeners(&dump),
        Part::Secrets => secrets(&dump, unix_now()).unwrap_or_else(|| {
            format!(
                "{} holds no certificate: it talks plain text (it was started without \
                 --ca-root, or connected to the control plane's plaintext port)\n",
                proxy.id
            )
        }),
    };
    crate::out!("{text}");
    if let Some(e) = &dump.last_rejected_config_error {
        eprintln!(
            "note: {} rejected its latest config and serves version {}: {e}",
            proxy.id, dump.version
        );
    }
    Ok(())
}

/// The part as data, for `-o json|yaml`.
fn data(dump: &ConfigDump, part: Part) -> Value {
    let s = &dump.snapshot;
    let v = match part {
        Part::Routes => serde_json::to_value(&s.routes),
        Part::Clusters => serde_json::to_value(&s.clusters),
        Part::Listeners => serde_json::to_value(&s.listeners),
        Part::Secrets => serde_json::to_value(&dump.certificate),
    };
    v.unwrap_or(Value::Null)
}
