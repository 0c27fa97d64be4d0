//! One module per subcommand: its `Args` (clap derive, with examples in `after_help`) and its
//! `run`. Shared here: picking the platform, listening for Ctrl-C and the error for an
//! interrupted run.

pub mod analyze;
pub mod apply;
pub mod completion;
pub mod delete;
pub mod demo;
pub mod get;
pub mod install;
pub mod kube_inject;
pub mod manifest;
pub mod profile;
pub mod proxy_config;
pub mod proxy_status;
pub mod samples;
pub mod stat;
pub mod tui;
pub mod uninstall;
pub mod verify;
pub mod version;

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};

use crate::cli::{Cli, Command, GlobalArgs, PlatformKind};
use crate::client::ApiClient;
use crate::platform::local::state::StateDir;
use crate::platform::local::LocalPlatform;
use crate::platform::Platform;

/// How long one config API request may take.
pub const API_TIMEOUT: Duration = Duration::from_secs(30);

/// The run was interrupted (Ctrl-C, SIGTERM, SIGHUP): exit code 130.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

/// The command ran, and its result calls for this exit code (`analyze` found issues: 79).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    /// The process exit code.
    pub code: u8,
    /// Printed as the error.
    pub message: String,
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let g = cli.global;
    match cli.command {
        Command::Install(a) => install::run(&g, a).await,
        Command::Uninstall(a) => uninstall::run(&g, a),
        Command::Profile(a) => profile::run(a),
        Command::Apply(a) => apply::run(&g, a).await,
        Command::Delete(a) => delete::run(&g, a).await,
        Command::Get(a) => get::run(&g, a).await,
        Command::Version(a) => version::run(&g, a).await,
        Command::Completion(a) => completion::run(a),
        Command::ProxyStatus(a) => proxy_status::run(&g, a).await,
        Command::ProxyConfig(a) => proxy_config::run(&g, a).await,
        Command::Analyze(a) => analyze::run(&g, a).await,
        Command::Stat(a) => stat::run(&g, a).await,
        Command::VerifyInstall(a) => verify::run(&g, a).await,
        Command::Samples(a) => samples::run(&g, a).await,
        Command::KubeInject(a) => kube_inject::run(a).await,
        Command::Manifest(a) => manifest::run(a),
        Command::Tui(a) => tui::run(&g, a).await,
        Command::Dashboard(a) => tui::dashboard(&g, a).await,
        Command::Demo(a) => demo::run(&g, a).await,
    }
}

/// The platform `--platform` names; `ready_timeout` bounds waiting for components.
pub fn platform(g: &GlobalArgs, ready_timeout: Duration) -> anyhow::Result<LocalPlatform> {
    match g.platform {
        PlatformKind::Local => Ok(LocalPlatform::new(StateDir::from_env()?, ready_timeout)),
    }
}

/// A client for the installed control plane's config API, or why there is none.
pub fn api(g: &GlobalArgs) -> anyhow::Result<ApiClient> {
    let addr = platform(g, API_TIMEOUT)?.control_plane()?;
    Ok(ApiClient::new(addr, API_TIMEOUT))
}

/// A future that completes on SIGINT, SIGTERM or SIGHUP (listening from now on).
pub fn interrupted() -> anyhow::Result<impl Future<Output = ()>> {
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
    })
}
