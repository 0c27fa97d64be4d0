//! `meshctl uninstall`: stop every process the mesh started (sample workloads and their
//! sidecars, gateways, then the control plane; each recognised by its recorded pid, start
//! time and command line, so a reused pid is never signalled), forget the install;
//! `--purge` also deletes the state directory (config store, CA, logs).

use anyhow::bail;

use crate::cli::GlobalArgs;
use crate::output::Style;
use crate::platform::Platform;
use crate::ui;

const EXAMPLES: &str = "\
Examples:
  meshctl uninstall -y            # stop everything; keep applied config, CA and logs
  meshctl uninstall --purge -y    # and delete the state directory";

/// `meshctl uninstall`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Also delete the state directory: applied resources, the CA, logs.
    #[arg(long)]
    pub purge: bool,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(short = 'y', long = "skip-confirmation", visible_alias = "yes")]
    pub yes: bool,
}

/// Runs `meshctl uninstall`.
pub fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let mut platform = super::platform(g, super::API_TIMEOUT)?;
    let root = platform.state().root().to_path_buf();
    let style = Style::stdout();
    if !root.exists() {
        crate::outln!(
            "{}",
            style.ok(&format!("Nothing is installed in {}", root.display()))
        );
        return Ok(());
    }
    let target = platform.target();
    if !args.yes {
        if !ui::interactive() {
            bail!(
                "refusing to uninstall without confirmation: stdin is not a terminal; pass -y \
                 to uninstall from {target}"
            );
        }
        let what = if args.purge {
            "Uninstall the mesh and delete its state"
        } else {
            "Uninstall the mesh"
        };
        if !ui::confirm(&format!("{what} on {target}?"))? {
            bail!("cancelled; nothing was changed");
        }
    }
    platform.lock()?;
    let stopped = platform.uninstall(args.purge)?;
    for s in &stopped {
        let name = crate::platform::Component::from_key(&s.name)
            .map(|c| c.title().to_string())
            .unwrap_or_else(|| s.name.clone());
        if s.was_running {
            crate::outln!("{}", style.ok(&format!("{name} stopped (pid {})", s.pid)));
        } else {
            crate::outln!(
                "{}",
                style.ok(&format!(
                    "{name} was not running (pid {} gone); record removed",
                    s.pid
                ))
            );
        }
    }
    if args.purge {
        crate::outln!("{}", style.ok(&format!("Removed {}", root.display())));
    }
    crate::outln!("{}", style.ok("Uninstall complete"));
    Ok(())
}
