//! Rendering cost over synthetic meshes, for `bench/run tui` (via the `frame_bench`
//! example): the Topology and Services views, alternately, into a 200x60 TestBackend.

use std::time::{Duration, Instant, SystemTime};

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::app::{App, AppOptions, Msg, View};
use crate::model::Window;
use crate::source::Fetched;
use crate::{synthetic, ui};

/// Terminal size the frames are rendered at.
pub const WIDTH: u16 = 200;
pub const HEIGHT: u16 = 60;

/// Timings of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    pub services: usize,
    pub frames: usize,
    /// Median time to draw one frame.
    pub frame_median: Duration,
    pub frame_max: Duration,
    /// Time to apply one snapshot (services, columns, events, history).
    pub update: Duration,
}

/// Applies a synthetic snapshot of `services` services, then renders `frames` frames,
/// alternating the Topology and Services views, and times each.
pub fn render_frames(services: usize, frames: usize) -> BenchResult {
    let mut app = App::new(AppOptions {
        address: "127.0.0.1:15014".into(),
        window: Window::OneMinute,
        view: View::Topology,
        color: true,
    });
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let snapshot = synthetic::snapshot(services, at);
    let started = Instant::now();
    app.update(Msg::Fetched(Fetched::Snapshot(Box::new(snapshot))));
    let update = started.elapsed();
    let mut terminal = match Terminal::new(TestBackend::new(WIDTH, HEIGHT)) {
        Ok(t) => t,
        Err(never) => match never {},
    };
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames {
        app.view = if i % 2 == 0 {
            View::Topology
        } else {
            View::Services
        };
        let started = Instant::now();
        if let Err(never) = terminal.draw(|f| ui::draw(f, &app)) {
            match never {}
        }
        times.push(started.elapsed());
    }
    times.sort();
    BenchResult {
        services,
        frames,
        frame_median: times.get(times.len() / 2).copied().unwrap_or_default(),
        frame_max: times.last().copied().unwrap_or_default(),
        update,
    }
}
