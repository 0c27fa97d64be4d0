//! Test helpers (feature `testing`): the captured Bookinfo fixture, a scripted [`Source`],
//! an app driven headless and its screen as text.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::app::{App, AppOptions, Msg, View};
use crate::model::{Mesh, Snapshot, StoredResource, Window};
use crate::source::{FetchError, Fetched, Source};
use crate::ui;

/// A fixed instant for fixtures: 2026-12-06T00:00:00Z.
pub fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_515_200)
}

const BOOKINFO_MESH: &str = include_str!("../tests/fixtures/bookinfo-mesh.json");
const BOOKINFO_RESOURCES: &str = include_str!("../tests/fixtures/bookinfo-resources.json");

/// Bookinfo on the local platform (demo profile, reviews 80/20 canary), as captured from a
/// real control plane's `/api/v1/mesh?window=1m` and `/apis/resources`.
pub fn bookinfo(at: SystemTime) -> Snapshot {
    let mesh: Mesh = serde_json::from_str(BOOKINFO_MESH).unwrap_or_default();
    let stored: Vec<StoredResource> = serde_json::from_str(BOOKINFO_RESOURCES).unwrap_or_default();
    let mut s = Snapshot::new(Window::OneMinute, at, mesh, stored);
    s.control_plane_version = Some("0.1.0".into());
    s
}

/// An app as the dashboard starts it, in colour unless `color` is false.
pub fn app(view: View, color: bool) -> App {
    App::new(AppOptions {
        address: "127.0.0.1:15014".into(),
        window: Window::OneMinute,
        view,
        color,
    })
}

/// Feeds a snapshot to the app.
pub fn feed(app: &mut App, snapshot: Snapshot) {
    app.update(Msg::Fetched(Fetched::Snapshot(Box::new(snapshot))));
}

/// Feeds a failed fetch to the app.
pub fn fail(app: &mut App, at: SystemTime, error: FetchError) {
    app.update(Msg::Fetched(Fetched::Failed { at, error }));
}

/// Renders the app into a `width` x `height` test terminal.
pub fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = match Terminal::new(TestBackend::new(width, height)) {
        Ok(t) => t,
        Err(never) => match never {},
    };
    if let Err(never) = terminal.draw(|f| ui::draw(f, app)) {
        match never {}
    }
    terminal
}

/// The screen as text, one line per row, trailing spaces kept off.
pub fn screen(app: &App, width: u16, height: u16) -> String {
    let terminal = render(app, width, height);
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..buf.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let symbol = buf[(x, y)].symbol();
            skip = ratatui::text::Span::raw(symbol).width().saturating_sub(1);
            line.push_str(symbol);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A source that answers from a script, then repeats its last answer. Counts its calls
/// and records the windows asked for.
#[derive(Debug, Default)]
pub struct ScriptedSource {
    script: Mutex<VecDeque<Result<Snapshot, FetchError>>>,
    asked: Mutex<Vec<Window>>,
}

impl ScriptedSource {
    pub fn new(script: Vec<Result<Snapshot, FetchError>>) -> ScriptedSource {
        ScriptedSource {
            script: Mutex::new(script.into()),
            asked: Mutex::new(Vec::new()),
        }
    }

    /// The windows fetched so far, in order.
    pub fn asked(&self) -> Vec<Window> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl Source for std::sync::Arc<ScriptedSource> {
    async fn fetch(&self, window: Window) -> Result<Snapshot, FetchError> {
        if let Ok(mut a) = self.asked.lock() {
            a.push(window);
        }
        let mut script = match self.script.lock() {
            Ok(s) => s,
            Err(_) => {
                return Err(FetchError::Unreachable {
                    detail: "poisoned".into(),
                })
            }
        };
        let next = if script.len() > 1 {
            script.pop_front()
        } else {
            script.front().cloned()
        };
        match next {
            Some(Ok(mut s)) => {
                s.window = window;
                Ok(s)
            }
            Some(Err(e)) => Err(e),
            None => Err(FetchError::Unreachable {
                detail: "empty script".into(),
            }),
        }
    }
}
