//! The command line: global flags and the list of subcommands (each in [`crate::commands`]).

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands::{
    analyze, apply, completion, delete, demo, get, install, kube_inject, manifest, profile,
    proxy_config, proxy_status, samples, stat, tui, uninstall, verify, version,
};

const EXAMPLES: &str = "\
Examples:
  meshctl demo                                # the quickstart: mesh, Bookinfo, traffic, stats
  meshctl install --profile minimal -y        # a control plane on this machine
  meshctl samples deploy bookinfo             # Bookinfo, each workload with its sidecar
  meshctl apply -f virtual-service-all-v1.yaml
  meshctl get virtualservices
  meshctl dashboard                           # the live topology and traffic dashboard
  meshctl kube-inject -f app.yaml -o app-injected.yaml
  meshctl manifest generate --profile default > mesh.yaml
  meshctl uninstall --purge -y

Exit codes: 0 success, 1 failure, 2 usage error, 79 analyze found issues, 130 interrupted.";

/// meshctl: install a service mesh that speaks Istio's configuration, and drive it.
#[derive(Parser, Debug)]
#[command(name = "meshctl", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Where the mesh runs. `local`: processes on this machine, state in $MESHCTL_HOME
    /// (default ~/.meshctl).
    #[arg(long, global = true, value_enum, default_value_t = PlatformKind::Local)]
    pub platform: PlatformKind,
}

/// The platforms this build can drive (`kube` is added when it exists).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformKind {
    /// Processes on this machine, on loopback, under $MESHCTL_HOME.
    Local,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// The quickstart: install the demo profile, deploy Bookinfo with a canary, send it
    /// traffic and show `meshctl stat` until Ctrl-C.
    Demo(demo::Args),
    /// Install or upgrade the mesh from a profile.
    Install(install::Args),
    /// Stop every process the mesh started (gateways, sidecars, sample workloads, control
    /// plane); --purge also deletes its state.
    Uninstall(uninstall::Args),
    /// List, show and compare install profiles.
    Profile(profile::Args),
    /// Apply Istio resources (all or nothing).
    Apply(apply::Args),
    /// Delete the Istio resources named in files.
    Delete(delete::Args),
    /// Show stored Istio resources.
    Get(get::Args),
    /// Show meshctl's version and the control plane's.
    Version(version::Args),
    /// Print a shell completion script.
    Completion(completion::Args),
    /// Check that the installed mesh works (linkerd check style).
    VerifyInstall(verify::Args),
    /// Show every proxy and whether its config is SYNCED, STALE or NACKED.
    ProxyStatus(proxy_status::Args),
    /// Show one proxy's routes, clusters, listeners or certificates.
    ProxyConfig(proxy_config::Args),
    /// Find problems across resources (Istio's IST codes; exit 79 on findings).
    Analyze(analyze::Args),
    /// Show traffic per workload: success rate, RPS, latencies.
    Stat(stat::Args),
    /// Run a sample application (Bookinfo) in the mesh, remove it, send it traffic.
    Samples(samples::Args),
    /// Add the mesh sidecar to the pod templates of Kubernetes YAML (or --uninject it).
    KubeInject(kube_inject::Args),
    /// Render the Kubernetes manifests of a profile (CRDs, control plane, webhooks, gateways).
    Manifest(manifest::Args),
    /// Terminal UIs: `meshctl tui dashboard`, the live topology and traffic dashboard.
    Tui(tui::Args),
    /// The live dashboard (the same as `meshctl tui dashboard`).
    Dashboard(tui::DashboardArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_examples() {
        let cli = super::Cli::command();
        let mut missing = Vec::new();
        fn walk(c: &clap::Command, path: String, missing: &mut Vec<String>) {
            let help = c
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            if c.get_subcommands().next().is_none() && !help.contains("Examples:") {
                missing.push(path.clone());
            }
            for s in c.get_subcommands() {
                walk(s, format!("{path} {}", s.get_name()), missing);
            }
        }
        walk(&cli, "meshctl".into(), &mut missing);
        assert!(missing.is_empty(), "no examples in --help of: {missing:?}");
    }
}
