//! View 3, Detail of one service: the traffic split per version (canary at a glance),
//! sparklines of RPS and p99 from the client-side history, inbound and outbound edges, and
//! the rules that apply to it.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table};
use ratatui::Frame;

use super::theme::{Health, Theme};
use super::{fmt, placeholder};
use crate::app::rules::rules_for;
use crate::app::App;
use crate::model::Edge;
use crate::services::{Service, Traffic};

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(s) = app.detail_service() else {
        placeholder(
            f,
            area,
            app,
            "no service selected: pick one in Topology (1) or Services (2) and press Enter",
        );
        return;
    };
    let rules = app
        .snapshot
        .as_ref()
        .map(|snap| rules_for(s, &snap.stored))
        .unwrap_or_default();
    let split_h = s.version_rps.len().max(1) as u16 + 2;
    let spark_h = if area.height >= 30 { 7 } else { 4 };
    let rules_h = (rules.len().max(1) as u16 + 2).min(area.height / 4).max(3);
    let [head, split, sparks, edges, rules_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(split_h),
        Constraint::Length(spark_h),
        Constraint::Min(4),
        Constraint::Length(rules_h),
    ])
    .areas(area);
    header(f, head, s, theme);
    traffic_split(f, split, s, theme);
    sparklines(f, sparks, app, s, theme);
    edge_tables(f, edges, app, s, theme);
    let lines: Vec<Line> = if rules.is_empty() {
        vec![Line::from(Span::styled(
            "no VirtualService, DestinationRule or policy applies",
            theme.dim(),
        ))]
    } else {
        rules
            .iter()
            .map(|r| {
                Line::from(vec![
                    Span::styled(format!("{:<22}", r.resource.kind), theme.accent()),
                    Span::raw(format!("{}/{}", r.resource.namespace, r.resource.name)),
                    Span::styled(format!("  ({})", r.why), theme.dim()),
                ])
            })
            .collect()
    };
    let block = Block::default().borders(Borders::TOP).title(" Rules ");
    f.render_widget(Paragraph::new(lines).block(block), rules_area);
}

fn header(f: &mut Frame, area: Rect, s: &Service, theme: &Theme) {
    let hosts = if s.hosts.is_empty() {
        "no hosts".to_string()
    } else {
        s.hosts.join(", ")
    };
    let line = Line::from(vec![
        Span::styled(s.display_name(), theme.title()),
        Span::raw(format!(
            " · {} · {}/{} proxies connected · ",
            hosts, s.proxies_connected, s.proxies
        )),
        Span::styled("↑↓ previous/next service, Esc back", theme.dim()),
    ]);
    f.render_widget(Paragraph::new(line), area);
}

fn traffic_split(f: &mut Frame, area: Rect, s: &Service, theme: &Theme) {
    let block = Block::default()
        .borders(Borders::TOP)
        .title(" Traffic split by version (inbound RPS) ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let total: f64 = s.version_rps.iter().map(|(_, r)| r).sum();
    let name_w = s
        .version_rps
        .iter()
        .map(|(v, _)| v.chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    let bar_w = usize::from(inner.width)
        .saturating_sub(name_w + 20)
        .clamp(4, 60);
    let lines: Vec<Line> = if s.version_rps.is_empty() {
        vec![Line::from(Span::styled("no versions known", theme.dim()))]
    } else {
        s.version_rps
            .iter()
            .map(|(v, rps)| {
                let share = if total > 0.0 { rps / total } else { 0.0 };
                let full = (share * bar_w as f64).round() as usize;
                Line::from(vec![
                    Span::raw(format!("{v:<name_w$} ")),
                    Span::styled("█".repeat(full), theme.accent()),
                    Span::styled("░".repeat(bar_w - full.min(bar_w)), theme.dim()),
                    Span::raw(format!(" {:>6.1}% {:>9}", share * 100.0, fmt::rps(*rps))),
                ])
            })
            .collect()
    };
    f.render_widget(Paragraph::new(lines), inner);
}

fn sparklines(f: &mut Frame, area: Rect, app: &App, s: &Service, theme: &Theme) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let series = app.history.get(&s.key);
    let empty = Default::default();
    let (rps, p99) = series.map_or((&empty, &empty), |h| (&h.rps, &h.p99_ms));
    let spark = |f: &mut Frame,
                 area: Rect,
                 values: &std::collections::VecDeque<f64>,
                 title: String,
                 scale: f64| {
        let block = Block::default().borders(Borders::TOP).title(title);
        let inner = block.inner(area);
        let n = usize::from(inner.width);
        let data: Vec<u64> = values
            .iter()
            .skip(values.len().saturating_sub(n))
            .map(|v| (v * scale).round() as u64)
            .collect();
        f.render_widget(block, area);
        f.render_widget(
            Sparkline::default().data(&data).style(theme.accent()),
            inner,
        );
    };
    let max = |q: &std::collections::VecDeque<f64>| q.iter().copied().fold(0.0, f64::max);
    let now = |q: &std::collections::VecDeque<f64>| q.back().copied().unwrap_or(0.0);
    let kept = app.history.since().map_or(0, |t| fmt::since(app.now, t));
    let span = format!("last {}", fmt::age(kept));
    spark(
        f,
        left,
        rps,
        format!(
            " RPS {} (max {}, {span}) ",
            fmt::per_s(now(rps)),
            fmt::per_s(max(rps))
        ),
        1000.0,
    );
    spark(
        f,
        right,
        p99,
        format!(
            " p99 {} (max {}) ",
            fmt::ms(Some(now(p99))),
            fmt::ms(Some(max(p99)))
        ),
        1000.0,
    );
}

fn edge_tables(f: &mut Frame, area: Rect, app: &App, s: &Service, theme: &Theme) {
    let [left, _, right] = Layout::horizontal([
        Constraint::Percentage(50),
        Constraint::Length(1),
        Constraint::Fill(1),
    ])
    .areas(area);
    let Some(snap) = &app.snapshot else { return };
    let mesh = &snap.mesh;
    let ours = |id: &str| app.map.service_of_workload(mesh, id) == Some(s.key.as_str());
    let mut inbound: Vec<&Edge> = mesh
        .edges
        .iter()
        .filter(|e| ours(&e.destination_id))
        .collect();
    let mut outbound: Vec<&Edge> = mesh
        .edges
        .iter()
        .filter(|e| ours(&e.source_id) && !ours(&e.destination_id))
        .collect();
    inbound.sort_by(|a, b| b.rps.total_cmp(&a.rps));
    outbound.sort_by(|a, b| b.rps.total_cmp(&a.rps));
    let row = |first: &str, second: &str, e: &Edge, w: (usize, usize)| {
        let t = Traffic::of([e]);
        let style = theme.health(Health::of(&t));
        Row::new(vec![
            Cell::from(fmt::fit(first, w.0)),
            Cell::from(fmt::fit(second, w.1)),
            Cell::from(fmt::rps(e.rps)),
            Cell::from(fmt::pct_short(e.success_rate)).style(style),
            Cell::from(fmt::ms(e.p99_ms)),
            Cell::from(if e.mtls { "🔒" } else { "" }),
        ])
    };
    // Peer workload and version columns share what RPS, SUCC, P99 and the lock leave.
    let fixed = 7 + 6 + 6 + 2 + 5;
    let split = |area: Rect, version_first: bool| {
        let room = usize::from(area.width).saturating_sub(fixed).max(8);
        let version = 4.min(room / 3);
        let peer = (room - version).min(30);
        if version_first {
            (version, peer)
        } else {
            (peer, version)
        }
    };
    let table = |area: Rect,
                 title: String,
                 head: [&'static str; 2],
                 w: (usize, usize),
                 rows: Vec<Row<'static>>| {
        let widths = [
            Constraint::Length(w.0 as u16),
            Constraint::Length(w.1 as u16),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(2),
        ];
        let t = Table::new(rows, widths)
            .header(
                Row::new(vec![head[0], head[1], "RPS", "SUCC", "P99", ""]).style(theme.header()),
            )
            .block(Block::default().borders(Borders::TOP).title(title));
        (t, area)
    };
    let in_w = split(left, false);
    let in_rows: Vec<Row> = inbound
        .iter()
        .map(|e| {
            let from = if e.source == crate::services::EXTERNAL {
                "(outside the mesh)"
            } else {
                e.source.as_str()
            };
            row(from, version(&e.destination_version), e, in_w)
        })
        .collect();
    let out_w = split(right, true);
    let out_rows: Vec<Row> = outbound
        .iter()
        .map(|e| row(version(&e.source_version), &e.destination, e, out_w))
        .collect();
    let (t, a) = table(
        left,
        format!(" Inbound ({}) ", inbound.len()),
        ["FROM", "TO"],
        in_w,
        in_rows,
    );
    f.render_widget(t, a);
    let (t, a) = table(
        right,
        format!(" Outbound ({}) ", outbound.len()),
        ["FROM", "TO"],
        out_w,
        out_rows,
    );
    f.render_widget(t, a);
}

/// A version label as shown: `-` for the API's `unknown`.
fn version(v: &str) -> &str {
    if v.is_empty() || v == crate::services::EXTERNAL {
        "-"
    } else {
        v
    }
}
