//! View 4, Proxies: live proxy-status, the proxies that need attention (NACKED,
//! DISCONNECTED) first; the selected proxy's error and warnings under the table.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Wrap};
use ratatui::Frame;

use super::table::{self, Listing};
use super::theme::Theme;
use super::{fmt, placeholder};
use crate::app::{App, Hit};
use crate::model::{Proxy, SyncState};

/// STATE, AGE, CONFIG, CERT, UPTIME, MEM, CPU.
const FIXED: [u16; 7] = [12, 6, 7, 7, 7, 8, 4];

/// Rows under the table for the selected proxy's details.
const DETAIL_ROWS: u16 = 3;

fn table_area(area: Rect) -> Rect {
    Rect::new(
        area.x,
        area.y,
        area.width,
        area.height.saturating_sub(DETAIL_ROWS),
    )
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let rows = app.proxy_rows();
    if rows.is_empty() {
        placeholder(f, area, app, "no proxies connected to the control plane");
        return;
    }
    let snap_age = app
        .snapshot
        .as_ref()
        .map_or(0, |s| fmt::since(app.now, s.fetched_at));
    let now = app.now;
    let header = Row::new(vec![
        "NAME", "STATE", "AGE", "CONFIG", "CERT", "UPTIME", "MEM", "CPU",
    ]);
    let longest = rows.iter().map(|p| p.id.chars().count()).max().unwrap_or(0);
    let (name_w, widths) = table::name_first(longest + 1, area.width, &FIXED);
    let selected = app.selected_row();
    let listing = Listing {
        header,
        widths: &widths,
        total: rows.len(),
        selected,
        row: |i| {
            let p = rows[i];
            let state_style = match p.state {
                SyncState::Synced => theme.good(),
                SyncState::Stale => theme.warn(),
                SyncState::Nacked | SyncState::Disconnected => theme.bad(),
            };
            Row::new(vec![
                Cell::from(fmt::fit(&p.id, usize::from(name_w))),
                Cell::from(p.state.as_str()).style(state_style),
                Cell::from(fmt::age(p.state_age_s + snap_age)),
                Cell::from(config_version(p)),
                Cell::from(cert(p, fmt::unix(now))),
                Cell::from(
                    p.uptime_s
                        .map_or("-".into(), |u| fmt::age(u as u64 + snap_age)),
                ),
                Cell::from(fmt::bytes(p.rss_bytes)),
                Cell::from(p.cpu_cores.map_or("-".into(), |c| format!("{c:.2}"))),
            ])
        },
    };
    table::draw(f, table_area(area), theme, listing);
    let detail = Rect::new(
        area.x,
        area.y + area.height.saturating_sub(DETAIL_ROWS),
        area.width,
        DETAIL_ROWS.min(area.height),
    );
    let chosen = selected.and_then(|i| rows.get(i));
    if let Some(p) = chosen {
        f.render_widget(
            Paragraph::new(detail_lines(p, theme)).wrap(Wrap { trim: true }),
            detail,
        );
    }
}

/// The ACKed version, marked `*` while a newer one is sent and not ACKed.
fn config_version(p: &Proxy) -> String {
    match (&p.version_sent, &p.version_acked) {
        (Some(s), Some(a)) if s != a => format!("{}*", short(a)),
        (_, Some(a)) => short(a).to_string(),
        (Some(_), None) => "*".into(),
        (None, None) => "-".into(),
    }
}

fn short(v: &str) -> &str {
    v.get(..6).unwrap_or(v)
}

fn cert(p: &Proxy, now: u64) -> String {
    match p.cert_not_after {
        Some(t) if t > now => fmt::age(t - now),
        Some(_) => "EXPIRED".into(),
        None => "-".into(),
    }
}

fn detail_lines<'a>(p: &'a Proxy, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = vec![Line::from(vec![
        Span::styled(p.id.as_str(), theme.title()),
        Span::styled(
            format!(
                " · {} · service {} · config sent {} acked {}",
                p.proxy_type,
                p.service,
                p.version_sent.as_deref().unwrap_or("-"),
                p.version_acked.as_deref().unwrap_or("-"),
            ),
            theme.dim(),
        ),
    ])];
    if let Some(e) = &p.error {
        lines.push(Line::from(Span::styled(format!("NACK: {e}"), theme.bad())));
    } else if let Some(e) = &p.last_nack_error {
        lines.push(Line::from(Span::styled(
            format!("last NACK (since resolved): {e}"),
            theme.warn(),
        )));
    }
    if !p.warnings.is_empty() {
        lines.push(Line::from(Span::styled(
            format!("warnings: {}", p.warnings.join("; ")),
            theme.warn(),
        )));
    }
    lines
}

pub fn hit(app: &App, area: Rect, y: u16) -> Option<Hit> {
    let total = app.proxy_rows().len();
    table::row_at(table_area(area), total, app.selected_row(), y).map(Hit::Row)
}
