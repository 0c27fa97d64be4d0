//! `meshctl samples`: run a sample application in the installed mesh (`deploy`), stop it
//! (`remove`), and send it traffic through the ingress gateway (`traffic`). Deploying is
//! idempotent: a healthy workload is kept, a dead one repaired; Ctrl-C or a failure stops
//! what that run started.

use std::net::Ipv4Addr;

use anyhow::bail;
use clap::builder::PossibleValuesParser;
use clap::Subcommand;

use super::{interrupted, Exit, Interrupted};
use crate::cli::GlobalArgs;
use crate::output::Style;
use crate::platform::local::samples::FIRST_IP;
use crate::platform::{Change, Platform, Stopped, WorkloadChange};
use crate::samples::{self, traffic, Sample, NAMES};
use crate::ui::Step;

const EXAMPLES: &str = "\
Examples:
  meshctl install -y && meshctl samples deploy bookinfo
  meshctl apply -f samples/bookinfo/networking/bookinfo-gateway.yaml
  meshctl samples traffic --rps 20 --duration 30s --user jason
  meshctl samples remove bookinfo";

const DEPLOY_EXAMPLES: &str = "\
Examples:
  meshctl samples deploy bookinfo                        # workloads on 127.0.10.1 .. 127.0.10.6
  meshctl samples deploy bookinfo --first-ip 127.0.20.1  # the whole plan moved
  meshctl samples deploy bookinfo --timeout 2m           # a slow machine";

const REMOVE_EXAMPLES: &str = "\
Examples:
  meshctl samples remove bookinfo";

const TRAFFIC_EXAMPLES: &str = "\
Examples:
  meshctl samples traffic                                # 10 rps for 10 s to /productpage
  meshctl samples traffic --rps 50 --duration 1m
  meshctl samples traffic --user jason                   # logged in: reviews-test-v2 routes to v2";

/// `meshctl samples`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// What to do with the sample.
    #[command(subcommand)]
    pub command: SamplesCommand,
}

/// The `samples` subcommands.
#[derive(Subcommand, Debug)]
pub enum SamplesCommand {
    /// Run every workload of a sample, each with its own sidecar, in the installed mesh.
    Deploy(DeployArgs),
    /// Stop every workload of a sample and its sidecar.
    Remove(RemoveArgs),
    /// Send GET /productpage through the ingress gateway at a fixed rate and sum up.
    Traffic(TrafficArgs),
}

/// `meshctl samples deploy`.
#[derive(clap::Args, Debug)]
#[command(after_help = DEPLOY_EXAMPLES)]
pub struct DeployArgs {
    /// The sample.
    #[arg(value_name = "NAME", value_parser = PossibleValuesParser::new(NAMES))]
    pub name: String,
    /// Local platform: the first workload's loopback address; the others take the next
    /// ones (one address per workload, like a pod IP).
    #[arg(long, value_name = "IP", default_value_t = FIRST_IP)]
    pub first_ip: Ipv4Addr,
    /// How long each process gets to become ready.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub timeout: mesh_api::Duration,
}

/// `meshctl samples remove`.
#[derive(clap::Args, Debug)]
#[command(after_help = REMOVE_EXAMPLES)]
pub struct RemoveArgs {
    /// The sample.
    #[arg(value_name = "NAME", value_parser = PossibleValuesParser::new(NAMES))]
    pub name: String,
}

/// `meshctl samples traffic`.
#[derive(clap::Args, Debug)]
#[command(after_help = TRAFFIC_EXAMPLES)]
pub struct TrafficArgs {
    /// Requests per second.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rps: u32,
    /// How long to send (Ctrl-C stops earlier, with the summary).
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub duration: mesh_api::Duration,
    /// Log in as this user first (POST /login) and send its session cookie.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// The path to ask for.
    #[arg(long, default_value = "/productpage")]
    pub path: String,
}

/// Runs `meshctl samples`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    match args.command {
        SamplesCommand::Deploy(a) => deploy(g, a, true).await,
        SamplesCommand::Remove(a) => remove(g, a),
        SamplesCommand::Traffic(a) => traffic(g, a).await,
    }
}

fn sample(name: &str) -> anyhow::Result<Sample> {
    // clap checks the name; this is for callers that skip it.
    samples::find(name).ok_or_else(|| {
        Exit {
            code: 2,
            message: format!("unknown sample {name:?}; use one of: {}", NAMES.join(", ")),
        }
        .into()
    })
}

/// Runs `meshctl samples deploy`; `next_steps` adds the lines on how to reach the sample
/// (`meshctl demo` does those steps itself).
pub async fn deploy(g: &GlobalArgs, args: DeployArgs, next_steps: bool) -> anyhow::Result<()> {
    let sample = sample(&args.name)?;
    let mut platform = super::platform(g, args.timeout.as_std())?;
    platform
        .set_first_ip(args.first_ip, &sample)
        .map_err(|message| Exit { code: 2, message })?;
    let problems = platform.sample_preflight(&sample)?;
    if !problems.is_empty() {
        let style = Style::stdout();
        for p in &problems {
            crate::outln!("{}", style.fail(&p.message));
        }
        bail!(
            "nothing was deployed ({} problem(s) found before starting)",
            problems.len()
        );
    }
    platform.lock()?;
    let stop = interrupted()?;
    let outcome = tokio::select! {
        r = deploy_all(&mut platform, &sample, next_steps) => Some(r),
        _ = stop => None,
    };
    let name = sample.name;
    match outcome {
        Some(Ok(())) => {
            platform.keep_started();
            Ok(())
        }
        Some(Err(e)) => {
            let left = platform.abort();
            if left.is_empty() {
                Err(e.context(format!(
                    "deploy failed; stopped what this run started (workloads already \
                     running are kept); fix the cause and run `meshctl samples deploy {name}` \
                     again"
                )))
            } else {
                Err(e.context(format!(
                    "deploy failed, and these could not be stopped:\n{}",
                    left.join("\n")
                )))
            }
        }
        None => {
            let left = platform.abort();
            let mut msg = format!(
                "interrupted: stopped what this run started; run `meshctl samples deploy \
                 {name}` again to finish"
            );
            if !left.is_empty() {
                msg.push_str(&format!("; could not stop:\n{}", left.join("\n")));
            }
            Err(Interrupted(msg).into())
        }
    }
}

/// `app pid 12, sidecar pid 13`, with what happened to each when it is not the same.
fn describe(c: &WorkloadChange) -> String {
    let pid = |c: &Change| match c {
        Change::Started { pid } | Change::Kept { pid } | Change::Restarted { pid, .. } => *pid,
        Change::Removed | Change::Absent => 0,
    };
    let pids = format!("app pid {}, sidecar pid {}", pid(&c.app), pid(&c.sidecar));
    let repaired: Vec<String> = [("app", &c.app), ("sidecar", &c.sidecar)]
        .into_iter()
        .filter_map(|(what, c)| match c {
            Change::Restarted { why, .. } => Some(format!("{what} restarted: {why}")),
            _ => None,
        })
        .collect();
    match (&c.app, &c.sidecar) {
        (Change::Kept { .. }, Change::Kept { .. }) => format!("already running, {pids}"),
        _ if repaired.is_empty() => pids,
        _ => format!("{}; {pids}", repaired.join("; ")),
    }
}

async fn deploy_all(
    platform: &mut impl Platform,
    sample: &Sample,
    next_steps: bool,
) -> anyhow::Result<()> {
    let style = Style::stdout();
    for w in sample.workloads {
        let name = w.name();
        let step = Step::start(&format!("Deploying {name}"));
        match platform.deploy_workload(sample, w).await {
            Ok(change) => step.ok(&format!(
                "{name} deployed {}",
                style.dim(&format!("({})", describe(&change)))
            )),
            Err(e) => {
                step.fail(&format!("{name}: {e}"));
                bail!("{name} did not deploy");
            }
        }
    }
    crate::outln!(
        "{}",
        style.ok(&format!(
            "{} deployed ({} workloads, each with its sidecar)",
            sample.name,
            sample.workloads.len()
        ))
    );
    if !next_steps {
        return Ok(());
    }
    match platform.ingress() {
        Ok(addr) => crate::outln!(
            "  Route the ingress gateway to it with `meshctl apply -f \
             samples/bookinfo/networking/bookinfo-gateway.yaml`, then open \
             http://{addr}/productpage or run `meshctl samples traffic`."
        ),
        Err(_) => crate::outln!(
            "  No ingress gateway runs: install the default profile (`meshctl install`) to \
             reach the page from outside the mesh."
        ),
    }
    Ok(())
}

fn remove(g: &GlobalArgs, args: RemoveArgs) -> anyhow::Result<()> {
    let sample = sample(&args.name)?;
    let mut platform = super::platform(g, super::API_TIMEOUT)?;
    let style = Style::stdout();
    if !platform.state().root().exists() {
        crate::outln!(
            "{}",
            style.ok(&format!(
                "Nothing is installed in {}; no {} workload runs",
                platform.state().root().display(),
                sample.name
            ))
        );
        return Ok(());
    }
    platform.lock()?;
    let mut removed = 0;
    for w in sample.workloads {
        let r = platform.remove_workload(&sample, w)?;
        let line = |s: &Option<Stopped>, what: &str| match s {
            Some(s) if s.was_running => Some(format!("{what} pid {}", s.pid)),
            Some(s) => Some(format!("{what} pid {} was not running", s.pid)),
            None => None,
        };
        let parts: Vec<String> = [line(&r.app, "app"), line(&r.sidecar, "sidecar")]
            .into_iter()
            .flatten()
            .collect();
        if parts.is_empty() {
            continue;
        }
        removed += 1;
        crate::outln!(
            "{}",
            style.ok(&format!(
                "{} removed {}",
                w.name(),
                style.dim(&format!("({})", parts.join(", ")))
            ))
        );
    }
    if removed == 0 {
        crate::outln!(
            "{}",
            style.ok(&format!("{} is not deployed; nothing to stop", sample.name))
        );
    } else {
        crate::outln!("{}", style.ok(&format!("{} removed", sample.name)));
    }
    Ok(())
}

async fn traffic(g: &GlobalArgs, args: TrafficArgs) -> anyhow::Result<()> {
    let platform = super::platform(g, super::API_TIMEOUT)?;
    let target = platform.ingress()?;
    let opts = traffic::Options {
        target,
        path: args.path,
        rps: args.rps,
        duration: args.duration.as_std(),
        user: args.user,
        timeout: std::time::Duration::from_secs(15),
    };
    let who = opts
        .user
        .as_ref()
        .map(|u| format!(" as {u}"))
        .unwrap_or_default();
    crate::outln!(
        "Sending GET http://{target}{}{who} at {} rps for {:?} (Ctrl-C stops)",
        opts.path,
        opts.rps,
        opts.duration
    );
    let stop = interrupted()?;
    let summary = traffic::run(&opts, stop).await?;
    crate::out!("{}", summary.render(&opts));
    if summary.completed() > 0 && summary.succeeded() == 0 {
        bail!(
            "no request succeeded; check that the sample is deployed (`meshctl samples deploy \
             bookinfo`) and routed (`meshctl apply -f \
             samples/bookinfo/networking/bookinfo-gateway.yaml`)"
        );
    }
    Ok(())
}
