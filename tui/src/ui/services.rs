//! View 2, Services: inbound traffic per service over the window, sortable (`s`, `S`) and
//! filterable (`/`).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};
use ratatui::Frame;

use super::table::{self, Listing};
use super::theme::{Health, Theme};
use super::{fmt, placeholder};
use crate::app::{App, Hit, SortKey};

/// MESHED, SUCCESS, RPS, P50, P95, P99, TCP_CONN.
const FIXED: [u16; 7] = [7, 8, 9, 7, 7, 7, 8];

fn table_area(area: Rect) -> Rect {
    Rect::new(
        area.x,
        area.y + 1,
        area.width,
        area.height.saturating_sub(1),
    )
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let rows = app.service_rows();
    let ascending = matches!(app.sort.key, SortKey::Name | SortKey::Success) != app.sort.reverse;
    let arrow = if ascending { "▲" } else { "▼" };
    let order = match (app.sort.key, app.sort.reverse) {
        (SortKey::Name, false) => "A-Z",
        (SortKey::Name, true) => "Z-A",
        (SortKey::Success, false) => "worst first",
        (SortKey::Success, true) => "best first",
        (_, false) => "largest first",
        (_, true) => "smallest first",
    };
    let title = Line::from(vec![
        Span::styled(
            format!("{} of {} services", rows.len(), app.map.services.len()),
            theme.title(),
        ),
        Span::styled(
            format!(
                " · inbound · by {} {order} (s: column, S: reverse)",
                app.sort.key.header()
            ),
            theme.dim(),
        ),
    ]);
    f.render_widget(
        Paragraph::new(title),
        Rect::new(area.x, area.y, area.width, 1),
    );
    if app.map.services.is_empty() {
        placeholder(f, table_area(area), app, "no services yet");
        return;
    }
    let header = Row::new(SortKey::ALL.iter().map(|k| {
        if *k == app.sort.key {
            format!("{}{arrow}", k.header())
        } else {
            k.header().to_string()
        }
    }));
    let longest = rows.iter().map(|s| s.display_name().chars().count()).max();
    let (name_w, widths) = table::name_first(longest.unwrap_or(0) + 1, area.width, &FIXED);
    let selected = app.selected_row();
    let listing = Listing {
        header,
        widths: &widths,
        total: rows.len(),
        selected,
        row: |i| {
            let s = rows[i];
            let t = &s.inbound;
            let health = theme.health(Health::of(t));
            let meshed = format!("{}/{}", s.proxies_connected, s.proxies);
            let meshed_style = if s.proxies_connected < s.proxies {
                theme.warn()
            } else {
                Default::default()
            };
            Row::new(vec![
                Cell::from(fmt::fit(&s.display_name(), usize::from(name_w))),
                Cell::from(meshed).style(meshed_style),
                Cell::from(fmt::pct(t.success)).style(health),
                Cell::from(fmt::rps(t.rps)),
                Cell::from(fmt::ms(t.p50_ms)),
                Cell::from(fmt::ms(t.p95_ms)),
                Cell::from(fmt::ms(t.p99_ms)),
                Cell::from(t.tcp_connections.to_string()),
            ])
        },
    };
    table::draw(f, table_area(area), theme, listing);
}

pub fn hit(app: &App, area: Rect, y: u16) -> Option<Hit> {
    let total = app.service_rows().len();
    table::row_at(table_area(area), total, app.selected_row(), y).map(Hit::Row)
}
