//! Drawing: [`draw`] renders the whole screen from `&App` (it never changes the state), and
//! [`hit`] finds what a mouse click landed on by the same layout.
//!
//! The screen: the tabs (row 0), the status line or the unreachable banner, the current
//! view's body, and the key hints or the filter prompt at the bottom; `?` lays the help over
//! it. Below [`MIN_WIDTH`] x [`MIN_HEIGHT`] it only says that the terminal is too small.

mod config;
mod detail;
mod events;
pub mod fmt;
pub mod layout;
mod proxies;
mod services;
mod table;
pub mod theme;
mod topology;

use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::app::keys::HELP;
use crate::app::{App, Connection, Hit, View};
use crate::model::SyncState;
use theme::Theme;

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// The screen's regions.
struct Areas {
    tabs: Rect,
    status: Rect,
    body: Rect,
    footer: Rect,
}

fn areas(app: &App, area: Rect) -> Areas {
    let status_h = match &app.connection {
        Connection::Unreachable { .. } => {
            let len = banner_text(app).chars().count() as u16;
            len.div_ceil(area.width.max(1)).clamp(1, 3)
        }
        _ => 1,
    };
    let row = |y: u16, h: u16| Rect::new(area.x, area.y + y, area.width, h);
    let body_h = area.height.saturating_sub(2 + status_h);
    Areas {
        tabs: row(0, 1),
        status: row(1, status_h),
        body: row(1 + status_h, body_h),
        footer: row(area.height.saturating_sub(1), 1),
    }
}

pub fn draw(f: &mut Frame, app: &App) {
    let theme = Theme { color: app.color };
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(f, area, &theme);
        return;
    }
    let a = areas(app, area);
    tabs(f, a.tabs, app, &theme);
    status(f, a.status, app, &theme);
    match app.view {
        View::Topology => topology::draw(f, a.body, app, &theme),
        View::Services => services::draw(f, a.body, app, &theme),
        View::Detail => detail::draw(f, a.body, app, &theme),
        View::Proxies => proxies::draw(f, a.body, app, &theme),
        View::Config => config::draw(f, a.body, app, &theme),
        View::Events => events::draw(f, a.body, app, &theme),
    }
    footer(f, a.footer, app, &theme);
    if app.help {
        help(f, area, &theme);
    }
}

/// What is at screen cell (x, y) of a terminal of size `area`.
pub fn hit(app: &App, area: Rect, x: u16, y: u16) -> Option<Hit> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT || app.help {
        return None;
    }
    let a = areas(app, area);
    if y == a.tabs.y {
        return tab_ranges()
            .into_iter()
            .find(|(from, to, _)| x >= a.tabs.x + from && x < a.tabs.x + to)
            .map(|(_, _, v)| Hit::Tab(v));
    }
    if !layout::contains(a.body, x, y) {
        return None;
    }
    match app.view {
        View::Topology => topology::hit(app, a.body, x, y),
        View::Services => services::hit(app, a.body, y),
        View::Proxies => proxies::hit(app, a.body, y),
        View::Config => config::hit(app, a.body, x, y),
        View::Events => events::hit(app, a.body, y),
        View::Detail => None,
    }
}

/// Each tab's columns [from, to) in the tab row.
fn tab_ranges() -> Vec<(u16, u16, View)> {
    let mut x = 1;
    View::ALL
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let w = tab_label(i, *v).chars().count() as u16;
            let r = (x, x + w, *v);
            x += w;
            r
        })
        .collect()
}

fn tab_label(i: usize, v: View) -> String {
    format!(" {} {} ", i + 1, v.title())
}

fn tabs(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = vec![Span::raw(" ")];
    for (i, v) in View::ALL.iter().enumerate() {
        let style = if *v == app.view {
            theme.selected().patch(theme.title())
        } else {
            Style::default()
        };
        spans.push(Span::styled(tab_label(i, *v), style));
    }
    let used: usize = spans.iter().map(Span::width).sum();
    let right = format!("window {} ", window_label(app));
    if used + right.len() < usize::from(area.width) {
        let pad = usize::from(area.width) - used - right.len();
        spans.push(Span::raw(" ".repeat(pad)));
        spans.push(Span::styled(right, theme.accent()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn window_label(app: &App) -> &'static str {
    match app.window {
        crate::model::Window::TenSeconds => "10 s",
        crate::model::Window::OneMinute => "1 min",
        crate::model::Window::TenMinutes => "10 min",
    }
}

fn status(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let paused = if app.paused {
        "⏸ PAUSED (p resumes) · "
    } else {
        ""
    };
    let age = app
        .snapshot
        .as_ref()
        .map(|s| fmt::age(fmt::since(app.now, s.fetched_at)));
    match &app.connection {
        Connection::Unreachable { .. } => {
            let p = Paragraph::new(banner_text(app))
                .style(theme.banner())
                .wrap(Wrap { trim: true });
            f.render_widget(p, area);
        }
        Connection::Connecting => {
            let text = format!(
                "{paused}connecting to the control plane at {} …",
                app.address
            );
            f.render_widget(Paragraph::new(Span::styled(text, theme.dim())), area);
        }
        Connection::Connected => {
            let mut spans = vec![Span::styled(paused, theme.warn())];
            spans.push(Span::styled("● ", theme.good()));
            let version = app
                .snapshot
                .as_ref()
                .and_then(|s| s.control_plane_version.as_deref())
                .map(|v| format!(" v{v}"))
                .unwrap_or_default();
            spans.push(Span::raw(format!("{}{version}", app.address)));
            let proxies = app.snapshot.as_ref().map_or(0, |s| s.mesh.proxies.len());
            spans.push(Span::raw(format!(
                " · {} services · {proxies} proxies",
                app.map.services.len()
            )));
            let count = |state| {
                app.snapshot.as_ref().map_or(0, |s| {
                    s.mesh.proxies.iter().filter(|p| p.state == state).count()
                })
            };
            let troubled: Vec<String> = [SyncState::Nacked, SyncState::Disconnected]
                .into_iter()
                .map(|st| (count(st), st))
                .filter(|(n, _)| *n > 0)
                .map(|(n, st)| format!("{n} {}", st.as_str()))
                .collect();
            if !troubled.is_empty() {
                spans.push(Span::styled(
                    format!(" ({})", troubled.join(", ")),
                    theme.bad(),
                ));
            }
            let loading = app
                .snapshot
                .as_ref()
                .is_some_and(|s| s.window != app.window);
            if loading {
                spans.push(Span::styled(" · loading window …", theme.dim()));
            }
            if let Some(a) = age {
                spans.push(Span::styled(format!(" · updated {a} ago"), theme.dim()));
            }
            f.render_widget(Paragraph::new(Line::from(spans)), area);
        }
    }
}

/// The unreachable banner: the address, the reason, and how old the data shown is.
fn banner_text(app: &App) -> String {
    let Connection::Unreachable { error, since } = &app.connection else {
        return String::new();
    };
    let paused = if app.paused { "⏸ PAUSED · " } else { "" };
    let data = match &app.snapshot {
        Some(s) => format!(
            "showing data from {} ago",
            fmt::age(fmt::since(app.now, s.fetched_at))
        ),
        None => "no data yet".to_string(),
    };
    format!(
        "{paused}✘ control plane unreachable at {} (for {}): {error} · reconnecting · {data}",
        app.address,
        fmt::age(fmt::since(app.now, *since)),
    )
}

fn footer(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let line = if app.filtering {
        Line::from(vec![
            Span::styled("/", theme.accent()),
            Span::raw(app.filter.clone()),
            Span::styled("█", theme.accent()),
            Span::styled("  Enter keeps the filter · Esc clears it", theme.dim()),
        ])
    } else {
        let mut spans = Vec::new();
        if !app.filter.is_empty() {
            spans.push(Span::styled(
                format!("filter: {} (Esc clears) · ", app.filter),
                theme.warn(),
            ));
        }
        spans.push(Span::styled(
            "?:help q:quit Tab/1-6:view Enter:open Esc:back /:filter s:sort w:window p:pause",
            theme.dim(),
        ));
        Line::from(spans)
    };
    f.render_widget(Paragraph::new(line), area);
}

fn help(f: &mut Frame, area: Rect, theme: &Theme) {
    let w = area.width.saturating_sub(4).min(76);
    let h = (HELP.len() as u16 + 3).min(area.height.saturating_sub(2));
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let key_w = HELP
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<key_w$}  "), theme.accent()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(Span::styled(
        " Esc or ? closes this help",
        theme.dim(),
    )));
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" meshctl dashboard: keys ");
    f.render_widget(Paragraph::new(lines).block(block), r);
}

fn too_small(f: &mut Frame, area: Rect, theme: &Theme) {
    let text = vec![
        Line::from(Span::styled("terminal too small", theme.bad())),
        Line::from(format!(
            "{}x{}: needs {MIN_WIDTH}x{MIN_HEIGHT}",
            area.width, area.height
        )),
    ];
    let p = Paragraph::new(text)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true });
    let y = area.height.saturating_sub(2) / 2;
    let r = Rect::new(area.x, area.y + y, area.width, area.height - y);
    f.render_widget(p, r);
}

/// A centred note in an empty view: why it is empty.
fn placeholder(f: &mut Frame, area: Rect, app: &App, empty: &str) {
    let theme = Theme { color: app.color };
    let text = match app.connection {
        Connection::Connecting => "waiting for the first answer from the control plane …",
        _ => empty,
    };
    let y = area.height / 2;
    let r = Rect::new(area.x, area.y + y, area.width, area.height - y);
    let p = Paragraph::new(Span::styled(text, theme.dim()))
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true });
    f.render_widget(p, r);
}
