//! `meshctl install`: merge the profile with `-f`/`--set`, check everything that could fail
//! before starting anything, confirm, then bring each component to the asked state (spinner
//! per component), and record what was installed. Idempotent: a healthy, unchanged
//! component is left alone; a dead one is restarted; another profile upgrades in place.
//! Ctrl-C stops what this run started.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::builder::PossibleValuesParser;

use super::Interrupted;
use crate::cli::GlobalArgs;
use crate::output::Style;
use crate::platform::{Change, Component, Platform, State};
use crate::profile::overlay::ValuesFile;
use crate::profile::{self, MeshSpec, NAMES};
use crate::ui::{self, Step};

const EXAMPLES: &str = "\
Examples:
  meshctl install -y                               # default: control plane + ingress gateway
  meshctl install --profile minimal -y
  meshctl install --set values.ingressGateway.port=9080 -y
  meshctl install --profile minimal --set values.controlPlane.monitoringPort=25014 -y
  meshctl install -f my-values.yaml --dry-run      # show what would run, start nothing
  meshctl profile dump default > my-values.yaml    # a starting point for -f";

/// `-f` and `--set`: values merged over a profile.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ValuesArgs {
    /// Set one value over the profile, e.g. values.controlPlane.monitoringPort=25014
    /// (paths under `spec`, as `meshctl profile dump` shows). Repeatable; applied after -f.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// A values file shaped like `meshctl profile dump` prints, deep-merged over the profile.
    /// Repeatable; merged in order.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

impl ValuesArgs {
    /// The profile called `name` with these values merged; every problem listed in the error.
    pub fn merge(&self, name: &str) -> anyhow::Result<MeshSpec> {
        let Some(profile) = profile::builtin(name) else {
            bail!("unknown profile {name:?}; use one of: {}", NAMES.join(", "));
        };
        let mut files = Vec::new();
        for path in &self.files {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the values file {}", path.display()))?;
            files.push(ValuesFile {
                name: path.display().to_string(),
                text,
            });
        }
        profile::build(profile, &files, &self.sets).map_err(|errors| {
            let n = errors.len();
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow::anyhow!(
                "{}\n{n} problem(s) in the install configuration; `meshctl profile dump {name}` \
                 shows every key",
                lines.join("\n")
            )
        })
    }
}

/// `meshctl install`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The profile to start from (`meshctl profile list` describes them).
    #[arg(long, default_value = "default", value_parser = PossibleValuesParser::new(NAMES))]
    pub profile: String,
    /// Values over the profile.
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(short = 'y', long = "skip-confirmation", visible_alias = "yes")]
    pub yes: bool,
    /// Check everything and show what would run; start and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long each component gets to become ready.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub timeout: mesh_api::Duration,
}

/// Runs `meshctl install`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    install(g, &args, true).await
}

/// Installs as `args` asks (confirming as `install` does); `next_steps` adds the lines on
/// what to do with the installed mesh (`meshctl demo` does those steps itself).
pub async fn install(g: &GlobalArgs, args: &Args, next_steps: bool) -> anyhow::Result<()> {
    let spec = args.values.merge(&args.profile)?;
    let mut platform = super::platform(g, args.timeout.as_std())?;
    let target = platform.target();

    let problems = platform.preflight(&spec);
    if !problems.is_empty() {
        let style = Style::stdout();
        for p in &problems {
            let what = p.component.map(|c| format!("{c}: ")).unwrap_or_default();
            crate::outln!("{}", style.fail(&format!("{what}{}", p.message)));
        }
        bail!(
            "nothing was installed ({} problem(s) found before starting)",
            problems.len()
        );
    }
    if args.dry_run {
        return dry_run(&platform, &args.profile, &spec, &target);
    }
    if !args.yes {
        if !ui::interactive() {
            bail!(
                "refusing to install without confirmation: stdin is not a terminal; pass -y to \
                 install the {} profile on {target}",
                args.profile
            );
        }
        let question = format!("Install the {} profile on {target}?", args.profile);
        if !ui::confirm(&question)? {
            bail!("cancelled; nothing was installed");
        }
    }
    platform.lock()?;

    // Signals are caught only now: before this point nothing was started, and the prompt
    // above must still die on Ctrl-C.
    // Registered here, not lazily inside select!, so a signal that arrives while the first
    // component starts is caught too.
    let stop = super::interrupted()?;
    let outcome = tokio::select! {
        r = apply_spec(&mut platform, &args.profile, &spec, next_steps) => Some(r),
        _ = stop => None,
    };
    match outcome {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => {
            let left = platform.abort();
            if left.is_empty() {
                Err(e.context("install failed; stopped what this run started; fix the cause and run `meshctl install` again"))
            } else {
                Err(e.context(format!(
                    "install failed, and these could not be stopped:\n{}",
                    left.join("\n")
                )))
            }
        }
        None => {
            let left = platform.abort();
            let mut msg = "interrupted: stopped what this run started; run `meshctl install` \
                           again to finish"
                .to_string();
            if !left.is_empty() {
                msg.push_str(&format!("; could not stop:\n{}", left.join("\n")));
            }
            Err(Interrupted(msg).into())
        }
    }
}

/// Removes what is switched off (gateways first), then installs what is on, in order.
async fn apply_spec(
    platform: &mut impl Platform,
    profile: &str,
    spec: &MeshSpec,
    next_steps: bool,
) -> anyhow::Result<()> {
    for c in Component::ALL
        .into_iter()
        .rev()
        .filter(|c| !c.enabled(spec))
    {
        let step = Step::start(&format!("Checking {}", c.title().to_lowercase()));
        match platform.stop_component(c) {
            Ok(Change::Removed) => step.ok(&format!("{c} removed")),
            Ok(_) => drop(step),
            Err(e) => {
                step.fail(&format!("{c}: {e}"));
                bail!("could not remove the {}", c.title().to_lowercase());
            }
        }
    }
    let style = Style::stdout();
    for c in Component::ALL.into_iter().filter(|c| c.enabled(spec)) {
        let step = Step::start(&format!("Installing {}", c.title().to_lowercase()));
        match platform.install_component(c, spec).await {
            Ok(change) => {
                let detail = match change {
                    Change::Started { pid } => format!("started, pid {pid}"),
                    Change::Kept { pid } => format!("already running, pid {pid}"),
                    Change::Restarted { pid, why } => format!("restarted: {why}; pid {pid}"),
                    Change::Removed | Change::Absent => String::new(),
                };
                step.ok(&format!(
                    "{c} installed {}",
                    style.dim(&format!("({detail})"))
                ));
            }
            Err(e) => {
                step.fail(&format!("{c}: {e}"));
                bail!("the {} did not install", c.title().to_lowercase());
            }
        }
    }
    platform.record_install(profile, spec)?;
    crate::outln!("{}", style.ok("Installation complete"));
    if !next_steps {
        return Ok(());
    }
    if Component::ControlPlane.enabled(spec) {
        crate::outln!(
            "  Apply Istio configuration with `meshctl apply -f FILE`; remove the mesh with \
             `meshctl uninstall`."
        );
    }
    for (c, g, label) in [
        (
            Component::IngressGateway,
            &spec.values.ingress_gateway,
            "ingressgateway",
        ),
        (
            Component::EgressGateway,
            &spec.values.egress_gateway,
            "egressgateway",
        ),
    ] {
        if c.enabled(spec) {
            crate::outln!(
                "  The {} serves a Gateway's port 80 on http://{}; bind VirtualServices to a \
                 Gateway selecting istio: {label}.",
                c.title().to_lowercase(),
                std::net::SocketAddr::new(g.address, g.port),
            );
        }
    }
    Ok(())
}

/// `--dry-run`: what each component would go through, and the merged configuration.
fn dry_run(
    platform: &impl Platform,
    profile: &str,
    spec: &MeshSpec,
    target: &str,
) -> anyhow::Result<()> {
    crate::outln!("Dry run: would install the {profile} profile on {target}; nothing changes.");
    for s in platform.status()? {
        let on = s.component.enabled(spec);
        let what = match (&s.state, on) {
            (State::Running { pid }, true) => {
                format!("running (pid {pid}): kept if unchanged and healthy, else restarted")
            }
            (State::Running { pid }, false) => format!("running (pid {pid}): would be stopped"),
            (State::Dead { pid }, true) => format!("died (pid {pid}): would be restarted"),
            (_, true) => "would be started".to_string(),
            (_, false) => "off".to_string(),
        };
        crate::outln!("  {}: {what}", s.component);
    }
    crate::outln!("---");
    crate::out!(
        "{}",
        serde_saphyr::to_string(&crate::platform::local::state::InstallRecord::new(
            profile, spec
        ))?
    );
    Ok(())
}
