//! The entry point: [`run`] takes over the terminal, starts the fetch task, and runs the
//! loop that feeds keys, mouse events and fetch results to the [`App`] and redraws.
//!
//! IO never blocks input: the fetch loop ([`crate::source::poll`]) runs in its own task and
//! reports through an `mpsc` channel; the window it fetches is a `watch` channel the loop
//! writes. The app state has one owner, this loop. The terminal is restored by
//! [`TerminalGuard`]'s `Drop` on return and on error, and by a panic hook on a panic
//! (release builds abort on panic, so the hook is what restores it there).

use std::io::{self, IsTerminal, Stdout};
use std::net::SocketAddr;
use std::panic;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event, EventStream, MouseButton, MouseEventKind,
};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use futures_util::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use tokio::sync::{mpsc, watch};

use crate::app::{App, AppOptions, Command, Msg, View};
use crate::model::Window;
use crate::source::{self, HttpSource, Source, FETCH_TIMEOUT};
use crate::ui;

/// The default refresh: once a second.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(1);

/// How the CLI starts the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardOptions {
    /// The control plane's monitoring address (127.0.0.1:15014 by default).
    pub address: SocketAddr,
    /// How often to fetch (at most 1 s is advised; at least 100 ms is used).
    pub refresh: Duration,
    /// The view shown first.
    pub view: View,
    /// The window shown first.
    pub window: Window,
    /// Colours on; false under NO_COLOR ([`DashboardOptions::new`] reads it).
    pub color: bool,
}

impl DashboardOptions {
    /// Defaults for `address`: refresh 1 s, Topology, window 1 min, colour unless the
    /// `NO_COLOR` environment variable is set to anything but the empty string.
    pub fn new(address: SocketAddr) -> DashboardOptions {
        DashboardOptions {
            address,
            refresh: DEFAULT_REFRESH,
            view: View::Topology,
            window: Window::OneMinute,
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

/// Why the dashboard stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("the dashboard needs a terminal, and stdout is not one; use `meshctl stat` for plain output")]
    NotATerminal,
    #[error("terminal error: {0}")]
    Terminal(#[source] io::Error),
}

/// Runs the dashboard until `q` (or Ctrl-C). Fails at once when stdout is not a terminal.
pub async fn run(opts: DashboardOptions) -> Result<(), DashboardError> {
    if !io::stdout().is_terminal() {
        return Err(DashboardError::NotATerminal);
    }
    let source = HttpSource::new(opts.address, FETCH_TIMEOUT);
    run_with(source, opts).await
}

/// [`run`] with any source (the terminal checks aside).
pub async fn run_with<S: Source>(source: S, opts: DashboardOptions) -> Result<(), DashboardError> {
    let guard = TerminalGuard::enter().map_err(DashboardError::Terminal)?;
    let mut terminal =
        Terminal::new(CrosstermBackend::new(io::stdout())).map_err(DashboardError::Terminal)?;
    let result = event_loop(&mut terminal, source, &opts).await;
    drop(terminal);
    drop(guard);
    result.map_err(DashboardError::Terminal)
}

async fn event_loop<S: Source>(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    source: S,
    opts: &DashboardOptions,
) -> io::Result<()> {
    let mut app = App::new(AppOptions {
        address: opts.address.to_string(),
        window: opts.window,
        view: opts.view,
        color: opts.color,
    });
    let (window_tx, window_rx) = watch::channel(opts.window);
    let (fetched_tx, mut fetched_rx) = mpsc::channel(4);
    let refresh = opts.refresh.max(Duration::from_millis(100));
    let fetcher = tokio::spawn(source::poll(source, window_rx, refresh, fetched_tx));
    let _stop = AbortOnDrop(fetcher);
    let mut input = EventStream::new();
    // Ages on screen ("updated 3s ago") move even while nothing arrives.
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    let size = terminal.size()?;
    app.update(Msg::Resize {
        height: size.height,
    });
    loop {
        terminal.draw(|f| ui::draw(f, &app))?;
        let msg = tokio::select! {
            event = input.next() => match event {
                Some(Ok(e)) => match to_msg(&app, e, terminal.size()?) {
                    Some(m) => m,
                    None => continue,
                },
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
            fetched = fetched_rx.recv() => match fetched {
                Some(f) => Msg::Fetched(f),
                None => return Err(io::Error::other("the fetch task stopped")),
            },
            _ = clock.tick() => Msg::Tick(SystemTime::now()),
        };
        match app.update(msg) {
            Some(Command::Quit) => return Ok(()),
            Some(Command::SetWindow(w)) => {
                // The fetch task ends only with this loop, so the receiver is alive.
                let _ = window_tx.send(w);
            }
            None => {}
        }
    }
}

/// A terminal event as the app's message; mouse positions resolved by the UI's hit test.
fn to_msg(app: &App, event: Event, size: ratatui::layout::Size) -> Option<Msg> {
    match event {
        Event::Key(k) => Some(Msg::Key(k)),
        Event::Resize(_, h) => Some(Msg::Resize { height: h }),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                let area = Rect::new(0, 0, size.width, size.height);
                ui::hit(app, area, m.column, m.row).map(Msg::Click)
            }
            MouseEventKind::ScrollDown => Some(Msg::Scroll { down: true }),
            MouseEventKind::ScrollUp => Some(Msg::Scroll { down: false }),
            _ => None,
        },
        _ => None,
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type PanicHook = Box<dyn Fn(&panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Raw mode, the alternate screen and mouse capture while it lives; a panic hook that
/// restores the terminal before the previous hook prints the panic. Dropping it restores the
/// terminal and puts the previous hook's behaviour back.
pub struct TerminalGuard {
    previous: Arc<PanicHook>,
}

impl std::fmt::Debug for TerminalGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalGuard").finish_non_exhaustive()
    }
}

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        let previous: Arc<PanicHook> = Arc::new(panic::take_hook());
        let chained = previous.clone();
        panic::set_hook(Box::new(move |info| {
            restore();
            chained(info);
        }));
        // From here on, Drop undoes whatever part of the setup succeeded.
        let guard = TerminalGuard { previous };
        enable_raw_mode()?;
        execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
        // While unwinding from a panic the hook cannot be replaced (`take_hook` would panic
        // again, and a panic in a destructor aborts); the chained hook stays, harmlessly.
        if std::thread::panicking() {
            return;
        }
        let previous = self.previous.clone();
        let _ = panic::take_hook();
        panic::set_hook(Box::new(move |info| previous(info)));
    }
}

/// Leaves the alternate screen, mouse capture and raw mode; errors are ignored (this runs
/// on the way out, when there is nothing better to do).
fn restore() {
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
}
