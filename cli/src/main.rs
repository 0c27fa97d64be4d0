//! `meshctl`: parses the command line (usage errors exit 2, as clap does) and runs it.

use clap::Parser;

fn main() -> std::process::ExitCode {
    meshctl::run(meshctl::cli::Cli::parse())
}
