//! `meshctl verify-install`: checks that the installed mesh works, in the style of
//! `linkerd check` (the checks are in [`crate::verify`]). Exit 0 when nothing failed
//! (warnings allowed), 1 when a check failed.

use anyhow::bail;

use crate::cli::{GlobalArgs, PlatformKind};
use crate::output::{print_data, Format, OutputArgs, Style};
use crate::platform::local::state::StateDir;
use crate::verify::{checks, Report};

const EXAMPLES: &str = "\
Examples:
  meshctl verify-install
  meshctl verify-install -o json | jq '.categories[].checks[] | select(.result != \"success\")'
Checks: the platform and what is installed; every process the mesh started is running (a
dead one is named, with its log); the control plane answers and runs meshctl's version; the
mesh's root certificate is valid (days to expiry); each installed gateway answers
/healthz/ready on its health port and is SYNCED; every proxy is connected and SYNCED, none NACKED; and a probe request between two sidecars arrives over
mutual TLS with the expected SPIFFE identities (skipped with ‼ when no two services run).
√ passed, ‼ warning, × failed (with a hint). Exit 0 unless a check failed (×).";

/// `meshctl verify-install`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    output: OutputArgs,
}

/// Runs `meshctl verify-install`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let state = match g.platform {
        PlatformKind::Local => StateDir::from_env()?,
    };
    let report = Report::new(checks::all(&state).await);
    if args.output.output == Format::Table {
        crate::out!("{}", report.render(Style::stdout()));
    } else {
        print_data(args.output.output, &report)?;
    }
    if !report.success {
        bail!(
            "{} check(s) failed; each × above has a hint",
            report.failures()
        );
    }
    Ok(())
}
