//! `bookinfo`: runs one Bookinfo service (see `bookinfo --help`).

use std::io::IsTerminal;
use std::process::ExitCode;

use bookinfo::cli::Cli;
use bookinfo::env::{process_env, Settings};
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("BOOKINFO_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    let service = &cli.service;
    let version = match service.check_version() {
        Ok(v) => v,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let default_instance = format!(
        "{}-{}-{}",
        service.name(),
        version.as_str(),
        std::process::id()
    );
    let settings = match Settings::read(&process_env, &default_instance) {
        Ok(s) => s,
        Err(errors) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            eprintln!("Fix or unset these variables (bookinfo --help lists them).");
            return ExitCode::FAILURE;
        }
    };
    // One thread is plenty for a sample service and keeps it small and quick to start.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bookinfo::run(
        service,
        settings,
        bookinfo::server::stop_signal(),
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
