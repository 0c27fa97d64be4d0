//! mesh-bench: the pieces `bench/run` drives.
//!
//! - `backend`: a fast hyper server (HTTP/1.1 and h2c) that every benchmark target forwards to.
//! - `certs`: a throwaway CA and SPIFFE workload certificates, for the mTLS targets.
//! - `load`: an open-loop, fixed-rate load generator that reports latency percentiles corrected
//!   for coordinated omission, plus the CPU the watched processes spent meanwhile.
//! - `wrk`: runs `wrk` for saturation throughput, parses its report, and samples the watched
//!   processes' peak memory while it runs.
//! - `xds-clients`: N simulated proxies on a control plane's config port; how long a rule
//!   change takes until all of them ACKed it, and the control plane's CPU and memory.
//!
//! Each subcommand prints a human summary, or one JSON object with `--json` for scripts.

mod backend;
mod certs;
mod load;
mod procfs;
mod stats;
mod wrk;
mod xds_clients;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "mesh-bench",
    version,
    about = "meshctl benchmark harness (driven by bench/run)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve 200 with a small fixed body: the upstream for every benchmark target.
    Backend(backend::Args),
    /// Write a throwaway CA and SPIFFE workload certificates (PEM) into a directory.
    Certs(certs::Args),
    /// Send requests at a fixed rate and report latency percentiles.
    Load(load::Args),
    /// Run wrk for saturation throughput and sample watched processes' memory meanwhile.
    Wrk(wrk::Args),
    /// Connect N simulated proxies to a control plane and time rule changes until all ACKed.
    XdsClients(xds_clients::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Backend(args) => backend::run(args),
        Command::Certs(args) => certs::run(args),
        Command::Load(args) => load::run(args),
        Command::Wrk(args) => wrk::run(args),
        Command::XdsClients(args) => xds_clients::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mesh-bench: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
