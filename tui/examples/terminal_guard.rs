//! The terminal guard on its own, for `tests/terminal.rs`: enters raw mode and the alternate
//! screen, writes a line there, then leaves the way the argument says: `ok` (returns),
//! `error` (an error through `?`, as `run` returns one) or `panic`. The test then checks, in a
//! real terminal, that the screen and the terminal modes are back.
//!
//! ```sh
//! cargo run -p mesh-tui --example terminal_guard -- panic; stty -a
//! ```

use std::io::{self, Write};

use mesh_tui::run::TerminalGuard;

fn inside(mode: &str) -> io::Result<()> {
    let _guard = TerminalGuard::enter()?;
    let mut out = io::stdout();
    write!(out, "INSIDE THE ALTERNATE SCREEN")?;
    out.flush()?;
    match mode {
        "panic" => panic!("a deliberate panic inside the dashboard"),
        "error" => Err(io::Error::other("a deliberate error inside the dashboard")),
        _ => Ok(()),
    }
}

fn main() -> std::process::ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "ok".into());
    match inside(&mode) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("terminal_guard: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
