//! View 5, Config: the stored resources, how many connected proxies ACKed each one's
//! current version, and the selected one's YAML (`PgUp`/`PgDn` scroll it). The YAML leaves
//! out fields the store filled with nothing (null, empty strings, lists and maps).

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row};
use ratatui::Frame;
use serde_json::Value;

use super::placeholder;
use super::table::{self, Listing};
use super::theme::Theme;
use crate::app::{App, Hit};

/// The list and the YAML pane: side by side when wide, else one above the other.
fn split(app: &App, area: Rect) -> (Rect, Rect) {
    if area.width >= 120 {
        let w = area.width * 11 / 20;
        (
            Rect::new(area.x, area.y, w, area.height),
            Rect::new(area.x + w + 1, area.y, area.width - w - 1, area.height),
        )
    } else {
        let rows = app.resource_rows().len() as u16 + 1;
        let h = rows.clamp(2, (area.height * 2 / 5).max(2));
        (
            Rect::new(area.x, area.y, area.width, h),
            Rect::new(area.x, area.y + h, area.width, area.height - h),
        )
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let rows = app.resource_rows();
    if rows.is_empty() {
        placeholder(f, area, app, "no resources applied (meshctl apply -f FILE)");
        return;
    }
    let (list, yaml_area) = split(app, area);
    let selected = app.selected_row();
    let width = |f: fn(&crate::model::ResourceAcks) -> &str, min: usize| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .max()
            .unwrap_or(0)
            .max(min) as u16
    };
    let (kind_w, ns_w) = (width(|r| &r.kind, 4), width(|r| &r.namespace, 9));
    let name_w = table::flexible_width(
        width(|r| &r.name, 4).into(),
        list.width,
        &[kind_w, ns_w, 4, 7],
    );
    let widths = [
        Constraint::Length(kind_w),
        Constraint::Length(ns_w),
        Constraint::Length(name_w),
        Constraint::Length(4),
        Constraint::Length(7),
    ];
    let listing = Listing {
        header: Row::new(vec!["KIND", "NAMESPACE", "NAME", "GEN", "ACKED"]),
        widths: &widths,
        total: rows.len(),
        selected,
        row: |i| {
            let r = rows[i];
            let style = if r.proxies_acked < r.proxies_connected {
                theme.warn()
            } else {
                theme.good()
            };
            Row::new(vec![
                Cell::from(r.kind.clone()),
                Cell::from(r.namespace.clone()),
                Cell::from(super::fmt::fit(&r.name, usize::from(name_w))),
                Cell::from(r.generation.to_string()),
                Cell::from(format!("{}/{}", r.proxies_acked, r.proxies_connected)).style(style),
            ])
        },
    };
    table::draw(f, list, theme, listing);
    let chosen = selected
        .and_then(|i| rows.get(i))
        .map(|r| crate::model::ResourceId::of(r));
    let stored = chosen
        .as_ref()
        .and_then(|id| app.snapshot.as_ref()?.stored(id));
    let (title, text) = match (&chosen, stored) {
        (Some(id), Some(s)) => (format!(" {id} "), yaml(&s.resource)),
        (Some(id), None) => (
            format!(" {id} "),
            "(not in /apis/resources yet)".to_string(),
        ),
        (None, _) => (" YAML ".to_string(), String::new()),
    };
    let lines: Vec<Line> = text
        .lines()
        .skip(app.yaml_scroll)
        .map(|l| yaml_line(l, theme))
        .collect();
    let block = Block::default()
        .borders(Borders::TOP)
        .title(title)
        .title_bottom(Line::from(Span::styled(" PgUp/PgDn scroll ", theme.dim())));
    f.render_widget(Paragraph::new(lines).block(block), yaml_area);
}

/// Keys in the accent colour, values plain.
fn yaml_line<'a>(line: &'a str, theme: &Theme) -> Line<'a> {
    let start = line.len() - line.trim_start_matches([' ', '-']).len();
    let (indent, rest) = line.split_at(start);
    let key_end = rest
        .find(": ")
        .or_else(|| rest.ends_with(':').then(|| rest.len() - 1));
    match key_end {
        Some(k) if !rest.starts_with(['"', '\'']) => Line::from(vec![
            Span::raw(indent),
            Span::styled(&rest[..k], theme.accent()),
            Span::raw(&rest[k..]),
        ]),
        _ => Line::from(line),
    }
}

/// The resource as YAML, without empty fields.
pub fn yaml(resource: &Value) -> String {
    let pruned = prune(resource).unwrap_or(Value::Null);
    serde_saphyr::to_string(&pruned).unwrap_or_else(|e| format!("(cannot show as YAML: {e})"))
}

fn prune(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Array(a) => {
            let items: Vec<Value> = a.iter().filter_map(prune).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(m) => {
            let map: serde_json::Map<String, Value> = m
                .iter()
                .filter_map(|(k, v)| prune(v).map(|v| (k.clone(), v)))
                .collect();
            (!map.is_empty()).then_some(Value::Object(map))
        }
        other => Some(other.clone()),
    }
}

pub fn hit(app: &App, area: Rect, x: u16, y: u16) -> Option<Hit> {
    let (list, _) = split(app, area);
    if x >= list.x + list.width {
        return None;
    }
    table::row_at(list, app.resource_rows().len(), app.selected_row(), y).map(Hit::Row)
}
