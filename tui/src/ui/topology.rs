//! View 1, Topology: the [`layout`](super::layout) drawn into the body, scrolled so that the
//! selected box is in view; a legend under it when the labels became tags.

use std::collections::HashMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::layout::{self, Geometry};
use super::theme::{Health, Theme};
use super::{fmt, placeholder};
use crate::app::{App, Hit};

const LEFT: u8 = 1;
const RIGHT: u8 = 2;
const UP: u8 = 4;
const DOWN: u8 = 8;

/// The body split into the canvas and the legend, and the geometry drawn in the canvas.
struct Plan {
    canvas: Rect,
    legend: Rect,
    geometry: Geometry,
    /// Canvas cell at the canvas area's top left.
    offset: (u16, u16),
}

fn plan(app: &App, area: Rect) -> Plan {
    let hint = 1;
    let full = Rect::new(area.x, area.y, area.width, area.height.saturating_sub(hint));
    let mut geometry = layout::place(&app.map, &app.columns, full.width, full.height);
    let legend_rows = |g: &Geometry| legend_shape(legend_len(g), area.width, full.height / 3).1;
    let mut legend_h = legend_rows(&geometry);
    if legend_h > 0 {
        geometry = layout::place(&app.map, &app.columns, full.width, full.height - legend_h);
        legend_h = legend_rows(&geometry);
    }
    let canvas = Rect::new(full.x, full.y, full.width, full.height - legend_h);
    let legend = Rect::new(full.x, canvas.y + canvas.height, full.width, legend_h);
    let selected = app
        .selected_service
        .as_deref()
        .and_then(|k| app.map.position(k))
        .and_then(|s| geometry.box_of(s))
        .map(|b| b.rect);
    let center = |pos: u16, size: u16, view: u16, total: u16| {
        if total <= view {
            0
        } else {
            (pos + size / 2).saturating_sub(view / 2).min(total - view)
        }
    };
    let offset = selected.map_or((0, 0), |r| {
        (
            center(r.x, r.width, canvas.width, geometry.width),
            center(r.y, r.height, canvas.height, geometry.height),
        )
    });
    Plan {
        canvas,
        legend,
        geometry,
        offset,
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if app.map.services.is_empty() {
        placeholder(
            f,
            area,
            app,
            "no services yet: the mesh has no proxies and no traffic",
        );
        return;
    }
    let plan = plan(app, area);
    let buf = f.buffer_mut();
    let view = Viewport {
        area: plan.canvas,
        offset: plan.offset,
    };
    draw_edges(buf, &view, app, &plan.geometry, theme);
    let selected = app.selected_service.as_deref();
    for b in &plan.geometry.boxes {
        let s = &app.map.services[b.service];
        let health = theme.health(Health::of(&s.inbound));
        draw_box(buf, &view, b.rect, selected == Some(s.key.as_str()), health);
        let name = fmt::fit(&s.app, usize::from(b.rect.width.saturating_sub(2)));
        let style = theme.title();
        view.text(
            buf,
            b.rect.x + 1,
            b.rect.y + 1,
            &name,
            style,
            b.rect.width - 2,
        );
        let second = if s.versions.is_empty() {
            s.namespace.clone()
        } else {
            s.versions.join(" ")
        };
        let second = fmt::fit(&second, usize::from(b.rect.width.saturating_sub(2)));
        view.text(
            buf,
            b.rect.x + 1,
            b.rect.y + 2,
            &second,
            theme.dim(),
            b.rect.width - 2,
        );
    }
    for e in &plan.geometry.edges {
        let link = &app.map.links[e.link];
        let style = theme.health(Health::of(&link.traffic));
        let text = e.tag.clone().unwrap_or_else(|| layout::label(link));
        view.text(buf, e.label_at.0, e.label_at.1, &text, style, u16::MAX);
    }
    draw_legend(f, plan.legend, app, &plan.geometry, theme);
    let hint_area = Rect::new(
        area.x,
        area.y + area.height.saturating_sub(1),
        area.width,
        1,
    );
    let hint = match app.detail_service() {
        Some(s) => format!(
            "{} selected · Enter: detail · arrows/hjkl: move · {} services, {} edges",
            s.display_name(),
            app.map.services.len(),
            app.map.links.len()
        ),
        None => String::new(),
    };
    f.render_widget(Paragraph::new(Span::styled(hint, theme.dim())), hint_area);
}

/// Canvas to screen, clipped to the canvas area.
struct Viewport {
    area: Rect,
    offset: (u16, u16),
}

impl Viewport {
    fn screen(&self, x: u16, y: u16) -> Option<(u16, u16)> {
        let (cx, cy) = (x.checked_sub(self.offset.0)?, y.checked_sub(self.offset.1)?);
        (cx < self.area.width && cy < self.area.height)
            .then(|| (self.area.x + cx, self.area.y + cy))
    }

    fn set(&self, buf: &mut Buffer, x: u16, y: u16, symbol: &str, style: Style) {
        if let Some((sx, sy)) = self.screen(x, y) {
            buf[(sx, sy)].set_symbol(symbol).set_style(style);
        }
    }

    /// Writes `text` from canvas (x, y), at most `max` cells, clipped.
    fn text(&self, buf: &mut Buffer, x: u16, y: u16, text: &str, style: Style, max: u16) {
        let Some(row) = y
            .checked_sub(self.offset.1)
            .filter(|r| *r < self.area.height)
        else {
            return;
        };
        let left = self.offset.0;
        let right = left + self.area.width;
        let mut cx = x;
        for g in text.chars() {
            let s = g.to_string();
            let w = width(&s);
            if cx + w > x.saturating_add(max) || cx + w > right {
                break;
            }
            if cx >= left {
                let sx = self.area.x + (cx - left);
                buf.set_stringn(sx, self.area.y + row, &s, usize::from(w), style);
            }
            cx += w;
        }
    }
}

fn width(s: &str) -> u16 {
    u16::try_from(Span::raw(s).width()).unwrap_or(1)
}

fn draw_edges(buf: &mut Buffer, view: &Viewport, app: &App, g: &Geometry, theme: &Theme) {
    let mut cells: HashMap<(u16, u16), (u8, Style)> = HashMap::new();
    // Healthy edges first, failing ones last: where lines cross, the worse colour shows.
    let mut order: Vec<&layout::EdgePath> = g.edges.iter().collect();
    let rank = |e: &&layout::EdgePath| match Health::of(&app.map.links[e.link].traffic) {
        Health::Idle => 0,
        Health::Good => 1,
        Health::Degraded => 2,
        Health::Failing => 3,
    };
    order.sort_by_key(rank);
    let visible = |x: u16, y: u16| view.screen(x, y).is_some();
    for e in order {
        let style = theme.health(Health::of(&app.map.links[e.link].traffic));
        let mut mark = |x: u16, y: u16, dirs: u8| {
            if visible(x, y) {
                let cell = cells.entry((x, y)).or_insert((0, style));
                cell.0 |= dirs;
                cell.1 = style;
            }
        };
        mark(e.points[0].0, e.points[0].1, LEFT);
        for pair in e.points.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            if y0 == y1 {
                let (a, b) = (x0.min(x1), x0.max(x1));
                for x in a..=b {
                    let mut d = 0;
                    if x > a {
                        d |= LEFT;
                    }
                    if x < b {
                        d |= RIGHT;
                    }
                    mark(x, y0, d);
                }
            } else {
                let (a, b) = (y0.min(y1), y0.max(y1));
                for y in a..=b {
                    let mut d = 0;
                    if y > a {
                        d |= UP;
                    }
                    if y < b {
                        d |= DOWN;
                    }
                    mark(x0, y, d);
                }
            }
        }
        if let Some(&(x, y)) = e.points.last() {
            mark(x, y, RIGHT);
        }
        view.set(buf, e.arrow.0, e.arrow.1, "▶", style);
    }
    for ((x, y), (dirs, style)) in cells {
        view.set(buf, x, y, line_char(dirs), style);
    }
}

fn line_char(dirs: u8) -> &'static str {
    let h = dirs & (LEFT | RIGHT) != 0;
    let v = dirs & (UP | DOWN) != 0;
    match (h, v) {
        (true, false) => "─",
        (false, true) | (false, false) => "│",
        _ => match dirs {
            d if d == RIGHT | DOWN => "┌",
            d if d == LEFT | DOWN => "┐",
            d if d == RIGHT | UP => "└",
            d if d == LEFT | UP => "┘",
            d if d == LEFT | RIGHT | DOWN => "┬",
            d if d == LEFT | RIGHT | UP => "┴",
            d if d == UP | DOWN | RIGHT => "├",
            d if d == UP | DOWN | LEFT => "┤",
            _ => "┼",
        },
    }
}

fn draw_box(buf: &mut Buffer, view: &Viewport, r: Rect, selected: bool, style: Style) {
    let (h, v, tl, tr, bl, br) = if selected {
        ("═", "║", "╔", "╗", "╚", "╝")
    } else {
        ("─", "│", "┌", "┐", "└", "┘")
    };
    let style = if selected {
        style.add_modifier(Modifier::BOLD)
    } else {
        style
    };
    let (x1, y1) = (r.x + r.width - 1, r.y + r.height - 1);
    for x in r.x..=x1 {
        for y in r.y..=y1 {
            let symbol = match (x == r.x, x == x1, y == r.y, y == y1) {
                (true, _, true, _) => tl,
                (_, true, true, _) => tr,
                (true, _, _, true) => bl,
                (_, true, _, true) => br,
                (_, _, true, _) | (_, _, _, true) => h,
                (true, _, _, _) | (_, true, _, _) => v,
                _ => " ",
            };
            let cell_style = if symbol == " " {
                Style::default()
            } else {
                style
            };
            view.set(buf, x, y, symbol, cell_style);
        }
    }
}

fn draw_legend(f: &mut Frame, area: Rect, app: &App, g: &Geometry, theme: &Theme) {
    if area.height == 0 {
        return;
    }
    let mut entries: Vec<(String, Style)> = Vec::new();
    if !g.inline_labels {
        for e in &g.edges {
            let link = &app.map.links[e.link];
            let text = format!(
                "{} {}→{} {}",
                e.tag.as_deref().unwrap_or(""),
                short(app, &link.source),
                short(app, &link.destination),
                layout::label(link)
            );
            entries.push((text, theme.health(Health::of(&link.traffic))));
        }
    }
    for &i in &g.undrawn {
        let link = &app.map.links[i];
        let text = format!(
            "↺ {}→{} {}",
            short(app, &link.source),
            short(app, &link.destination),
            layout::label(link)
        );
        entries.push((text, theme.health(Health::of(&link.traffic))));
    }
    let (per_row, _) = legend_shape(entries.len(), area.width, area.height);
    let cell_w = usize::from(area.width) / per_row;
    let capacity = per_row * usize::from(area.height);
    let more = entries.len().saturating_sub(capacity);
    let lines: Vec<Line> = entries
        .chunks(per_row)
        .take(usize::from(area.height))
        .enumerate()
        .map(|(row, chunk)| {
            let mut spans: Vec<Span> = Vec::new();
            for (i, (text, style)) in chunk.iter().enumerate() {
                let last = row + 1 == usize::from(area.height) && i + 1 == chunk.len();
                let text = if last && more > 0 {
                    format!(
                        "{} (+{more} more)",
                        fmt::fit(text, cell_w.saturating_sub(12))
                    )
                } else {
                    text.clone()
                };
                spans.push(Span::styled(
                    format!("{:<w$}", fmt::fit(&text, cell_w - 1), w = cell_w),
                    *style,
                ));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), area);
}

fn legend_len(g: &Geometry) -> usize {
    let tagged = if g.inline_labels { 0 } else { g.edges.len() };
    tagged + g.undrawn.len()
}

/// Entries per row and rows for `entries` legend entries: one a row while they fit in
/// `max_rows`, else as many side by side as it takes (each at least 30 cells wide).
fn legend_shape(entries: usize, width: u16, max_rows: u16) -> (usize, u16) {
    if entries == 0 {
        return (1, 0);
    }
    let most = usize::from(width / 30).max(1);
    let per_row = entries
        .div_ceil(usize::from(max_rows.max(1)))
        .clamp(1, most);
    (per_row, (entries.div_ceil(per_row) as u16).min(max_rows))
}

fn short<'a>(app: &'a App, key: &'a str) -> &'a str {
    app.map.get(key).map_or(key, |s| s.app.as_str())
}

/// The service whose box is at screen cell (x, y) of the body `area`.
pub fn hit(app: &App, area: Rect, x: u16, y: u16) -> Option<Hit> {
    let plan = plan(app, area);
    if !layout::contains(plan.canvas, x, y) {
        return None;
    }
    let cx = x - plan.canvas.x + plan.offset.0;
    let cy = y - plan.canvas.y + plan.offset.1;
    let b = plan.geometry.box_at(cx, cy)?;
    Some(Hit::Node(app.map.services[b.service].key.clone()))
}
