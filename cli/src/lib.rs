//! meshctl: the command line of the mesh.
//!
//! - [`cli`]: the flags and the list of subcommands; [`commands`]: one module per subcommand,
//!   each with its `Args` and its `run`.
//! - [`profile`]: install profiles, `-f`/`--set` overlays and their schema.
//! - [`platform`]: where the mesh runs, behind the [`platform::Platform`] trait; today the
//!   [`platform::local`] platform.
//! - [`manifest`]: the Kubernetes manifests of a profile (`meshctl manifest generate`).
//! - [`client`]: the control plane's monitoring and config API; [`manifests`]: reading the
//!   Istio files `apply`/`delete` take; [`kinds`]: kind names and aliases.
//! - [`analysis`]: `meshctl analyze`'s cross-resource checks (pure); [`inspect`]: what the
//!   inspection commands read; [`verify`]: `meshctl verify-install`'s checks.
//! - [`samples`]: the sample applications `meshctl samples` runs (Bookinfo) and its load
//!   generator.
//! - [`output`] and [`ui`]: tables, JSON/YAML, colour, prompts and spinners.

/// `println!` that ends the program quietly when stdout is closed (`meshctl ... | head`)
/// instead of panicking.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::write_out(format_args!("\n")) };
    ($($t:tt)*) => { $crate::output::write_out(format_args!("{}\n", format_args!($($t)*))) };
}

/// `print!` with the same care as [`outln!`].
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::output::write_out(format_args!($($t)*)) };
}

pub mod analysis;
pub mod cli;
pub mod client;
pub mod commands;
pub mod inspect;
pub mod kinds;
pub mod manifest;
pub mod manifests;
pub mod output;
pub mod platform;
pub mod profile;
pub mod samples;
pub mod ui;
pub mod verify;

use std::process::ExitCode;

/// Runs one parsed command line; prints the error, if any, and returns the exit code.
pub fn run(cli: cli::Cli) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("meshctl: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let style = output::Style::stderr();
            eprintln!("{} {e:#}", style.red("error:"));
            if let Some(exit) = e.downcast_ref::<commands::Exit>() {
                return ExitCode::from(exit.code);
            }
            match e.downcast_ref::<commands::Interrupted>() {
                Some(_) => ExitCode::from(130),
                None => ExitCode::FAILURE,
            }
        }
    }
}
