//! `meshctl tui dashboard` (also `meshctl dashboard`): the live terminal dashboard of
//! [`mesh_tui`], on the installed control plane's telemetry API (its monitoring port).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;

use crate::cli::GlobalArgs;
use crate::commands::API_TIMEOUT;
use crate::platform::Platform;

const EXAMPLES: &str = "\
Examples:
  meshctl tui dashboard
  meshctl dashboard --view services --window 10s
  meshctl dashboard --address 127.0.0.1:25014     # a control plane's monitoring port
Keys: Tab or 1-6 switch views (Topology, Services, Detail, Proxies, Config, Events), arrows or
hjkl move, Enter opens, Esc backs out, / filters, s sorts, w changes the window, p pauses,
? shows help, q quits. Needs a terminal; for plain output use `meshctl stat`.";

/// `meshctl tui`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    command: TuiCommand,
}

#[derive(Subcommand, Debug)]
enum TuiCommand {
    /// The live dashboard: topology, traffic, proxies, config and events.
    #[command(after_help = EXAMPLES)]
    Dashboard(DashboardArgs),
}

/// `meshctl tui dashboard` and `meshctl dashboard`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct DashboardArgs {
    /// The view shown first.
    #[arg(long, default_value = "topology", value_parser = parse_view)]
    pub view: mesh_tui::View,
    /// The traffic window shown first (w switches it).
    #[arg(long, default_value = "1m", value_parser = parse_window)]
    pub window: mesh_tui::Window,
    /// How often the dashboard fetches (at least 100ms).
    #[arg(long, default_value = "1s")]
    pub refresh: mesh_api::Duration,
    /// The control plane's monitoring address, instead of the installed mesh's.
    #[arg(long, value_name = "ADDR")]
    pub address: Option<SocketAddr>,
}

fn parse_view(s: &str) -> Result<mesh_tui::View, String> {
    s.parse()
}

fn parse_window(s: &str) -> Result<mesh_tui::Window, String> {
    s.parse()
}

/// Runs `meshctl tui`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    match args.command {
        TuiCommand::Dashboard(a) => dashboard(g, a).await,
    }
}

/// Runs the dashboard until `q`.
pub async fn dashboard(g: &GlobalArgs, args: DashboardArgs) -> anyhow::Result<()> {
    let address = match args.address {
        Some(a) => a,
        None => super::platform(g, API_TIMEOUT)?
            .control_plane()
            .context("cannot find the control plane's telemetry API")?,
    };
    let mut opts = mesh_tui::DashboardOptions::new(address);
    opts.view = args.view;
    opts.window = args.window;
    opts.refresh = args.refresh.as_std().max(Duration::from_millis(100));
    mesh_tui::run(opts).await?;
    Ok(())
}
