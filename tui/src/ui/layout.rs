//! Where the Topology view puts boxes, edges and labels, on a canvas that may be larger than
//! the screen (the view scrolls it). Pure: columns and links in, geometry out.
//!
//! - Columns come from [`crate::graph::columns`] (call depth); a column is as wide as its
//!   longest name allows (9 to 22 cells), and the space left goes to the gaps between them.
//! - A box is `2 + max(2, edges in, edges out)` rows high, so every edge leaves its source
//!   on its own row and enters its destination on its own row.
//! - An edge runs right from its source along its exit row, turns in its own lane of the gap
//!   before its destination's column, and ends in an arrow on its entry row. An edge that
//!   skips columns runs behind the boxes between (they are drawn over it). Edges to the same
//!   or an earlier column (cycles) are not drawn; the legend lists them.
//! - Its label (`🔒 9.8/s 100% 6ms`) goes at the start of its exit row, in the gap right after
//!   the source, where no lane runs. When the gaps are too narrow for labels, each edge gets
//!   a short tag (`a`, `b`, ... `aa`) there instead and the legend spells the labels out.
//!   Labels and tags never cover a box.

use std::collections::HashMap;

use ratatui::layout::Rect;
use ratatui::text::Span;

use super::fmt;
use crate::graph::Columns;
use crate::services::{Link, ServiceMap};

pub const MIN_BOX: u16 = 9;
pub const MAX_BOX: u16 = 22;
/// Cells a lane area gets at most per gap in the label mode.
const MAX_LANES: u16 = 6;

/// One service's box, in canvas cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeBox {
    /// Index into [`ServiceMap::services`].
    pub service: usize,
    pub rect: Rect,
}

/// One drawn edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgePath {
    /// Index into [`ServiceMap::links`].
    pub link: usize,
    /// Corners of the line, from the cell right of the source box to the cell before the
    /// arrow; consecutive points share a row or a column.
    pub points: Vec<(u16, u16)>,
    /// The arrow's cell, right before the destination box.
    pub arrow: (u16, u16),
    /// Where its label or tag starts.
    pub label_at: (u16, u16),
    /// `a`, `b`, ... when labels do not fit.
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Geometry {
    /// Canvas size.
    pub width: u16,
    pub height: u16,
    pub boxes: Vec<NodeBox>,
    pub edges: Vec<EdgePath>,
    /// Links not drawn (to the same or an earlier column), by index.
    pub undrawn: Vec<usize>,
    /// Labels are written on the edges (else tags and a legend).
    pub inline_labels: bool,
}

impl Geometry {
    /// The box of a service.
    pub fn box_of(&self, service: usize) -> Option<&NodeBox> {
        self.boxes.iter().find(|b| b.service == service)
    }

    /// The box at a canvas cell.
    pub fn box_at(&self, x: u16, y: u16) -> Option<&NodeBox> {
        self.boxes.iter().find(|b| contains(b.rect, x, y))
    }
}

pub fn contains(r: Rect, x: u16, y: u16) -> bool {
    x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
}

/// An edge's label: `🔒 9.8/s 100% 6ms`, `idle` without traffic.
pub fn label(link: &Link) -> String {
    let t = &link.traffic;
    let lock = if t.mtls { "🔒 " } else { "" };
    if t.is_idle() {
        return format!("{lock}idle");
    }
    if t.requests == 0 && t.tcp_connections > 0 {
        return format!("{lock}{} conn tcp", t.tcp_connections);
    }
    format!(
        "{lock}{} {} {}",
        fmt::per_s(t.rps),
        fmt::pct_short(t.success),
        fmt::ms(t.p99_ms)
    )
}

/// The tag of the `i`th edge: a..z, aa..zz, ...
pub fn tag(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn width_of(text: &str) -> u16 {
    u16::try_from(Span::raw(text).width()).unwrap_or(u16::MAX)
}

/// Lays out `columns` of `map` for a viewport of `width` x `height`.
pub fn place(map: &ServiceMap, columns: &Columns, width: u16, height: u16) -> Geometry {
    let ncols = columns.columns.len();
    if ncols == 0 {
        return Geometry::default();
    }
    // Forward links only; the rest go to the legend.
    let mut forward = Vec::new();
    let mut undrawn = Vec::new();
    for (i, l) in map.links.iter().enumerate() {
        let (Some(s), Some(d)) = (map.position(&l.source), map.position(&l.destination)) else {
            continue;
        };
        if columns.depth[d] > columns.depth[s] {
            forward.push((i, s, d));
        } else {
            undrawn.push(i);
        }
    }
    let mut ins = vec![0u16; map.services.len()];
    let mut outs = vec![0u16; map.services.len()];
    for &(_, s, d) in &forward {
        outs[s] += 1;
        ins[d] += 1;
    }
    // Lanes each gap needs: one per edge ending in the column after it.
    let mut lanes = vec![0u16; ncols];
    for &(_, _, d) in &forward {
        lanes[columns.depth[d] - 1] += 1;
    }
    let label_w = forward
        .iter()
        .map(|&(i, _, _)| width_of(&label(&map.links[i])))
        .max()
        .unwrap_or(0);
    let tag_w = width_of(&tag(forward.len().saturating_sub(1)));
    let max_lanes = lanes.iter().copied().max().unwrap_or(0);
    let gap_for = |text: u16, lanes: u16| 1 + text + 1 + lanes.max(1) + 1;
    let inline_gap = gap_for(label_w, max_lanes.min(MAX_LANES));
    let tag_gap = gap_for(tag_w, max_lanes.min(3));

    let mut box_w: Vec<u16> = columns
        .columns
        .iter()
        .map(|c| {
            c.iter()
                .map(|&s| width_of(&map.services[s].app) + 4)
                .max()
                .unwrap_or(MIN_BOX)
                .clamp(MIN_BOX, MAX_BOX)
        })
        .collect();
    let gaps = (ncols - 1) as u16;
    let boxes_total: u16 = box_w.iter().sum();
    let (inline_labels, gap) = if ncols == 1 {
        (true, 0)
    } else if boxes_total + gaps * inline_gap <= width {
        (true, (width - boxes_total) / gaps)
    } else {
        // Narrow boxes first, then fall back to tags.
        let room = width.saturating_sub(gaps * tag_gap);
        if boxes_total > room {
            shrink(&mut box_w, room);
        }
        let boxes_total: u16 = box_w.iter().sum();
        (
            false,
            (width.saturating_sub(boxes_total) / gaps).max(tag_gap),
        )
    };
    let mut xs = Vec::with_capacity(ncols);
    let mut x = 0u16;
    for w in &box_w {
        xs.push(x);
        x += w + gap;
    }
    let canvas_w = x - gap;

    // Rows: boxes of a column spread over the height, centred.
    let box_h = |s: usize| 2 + ins[s].max(outs[s]).clamp(2, 8);
    let tallest = columns
        .columns
        .iter()
        .map(|c| c.iter().map(|&s| box_h(s) + 1).sum::<u16>() + 1)
        .max()
        .unwrap_or(0);
    let canvas_h = tallest.max(height);
    let mut boxes = Vec::new();
    let mut rect_of: HashMap<usize, Rect> = HashMap::new();
    for (c, col) in columns.columns.iter().enumerate() {
        let total: u16 = col.iter().map(|&s| box_h(s)).sum();
        let n = col.len() as u16;
        let vgap = ((canvas_h.saturating_sub(total)) / (n + 1)).clamp(1, 3);
        let used = total + vgap * n.saturating_sub(1);
        let mut y = canvas_h.saturating_sub(used) / 2;
        for &s in col {
            let rect = Rect::new(xs[c], y, box_w[c], box_h(s));
            boxes.push(NodeBox { service: s, rect });
            rect_of.insert(s, rect);
            y += box_h(s) + vgap;
        }
    }

    // Exit and entry rows: each edge its own, ordered by where the other end is.
    let interior = |r: Rect, k: usize| r.y + 1 + (k as u16 % (r.height - 2));
    let mut by_source: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut by_dest: HashMap<usize, Vec<usize>> = HashMap::new();
    for (k, &(_, s, d)) in forward.iter().enumerate() {
        by_source.entry(s).or_default().push(k);
        by_dest.entry(d).or_default().push(k);
    }
    let mut exit_y = vec![0u16; forward.len()];
    let mut entry_y = vec![0u16; forward.len()];
    for (s, ks) in &mut by_source {
        ks.sort_by_key(|&k| (rect_of[&forward[k].2].y, forward[k].2));
        for (n, &k) in ks.iter().enumerate() {
            exit_y[k] = interior(rect_of[s], n);
        }
    }
    for (d, ks) in &mut by_dest {
        ks.sort_by_key(|&k| (rect_of[&forward[k].1].y, exit_y[k]));
        for (n, &k) in ks.iter().enumerate() {
            entry_y[k] = interior(rect_of[d], n);
        }
    }
    // Lanes: in the gap before the destination's column, right of the label space.
    let text_w = if inline_labels { label_w } else { tag_w };
    let mut per_gap: Vec<Vec<usize>> = vec![Vec::new(); ncols];
    for (k, &(_, _, d)) in forward.iter().enumerate() {
        per_gap[columns.depth[d]].push(k);
    }
    let mut lane_x = vec![0u16; forward.len()];
    for (c, ks) in per_gap.iter_mut().enumerate().skip(1) {
        let gap_start = xs[c - 1] + box_w[c - 1];
        let first = gap_start + 1 + text_w + 1;
        let last = xs[c].saturating_sub(2).max(first);
        let room = last - first + 1;
        ks.sort_by_key(|&k| (entry_y[k], exit_y[k]));
        for (n, &k) in ks.iter().enumerate() {
            // Spread lanes over the room, wrapping when there are more edges than cells.
            let n = n as u16 % room;
            let count = (ks.len() as u16).min(room);
            let step = if count > 1 {
                (room - 1) / (count - 1)
            } else {
                0
            };
            lane_x[k] = first + n * step.max(1);
        }
    }
    let edges = forward
        .iter()
        .enumerate()
        .map(|(k, &(i, s, d))| {
            let (src, dst) = (rect_of[&s], rect_of[&d]);
            let start = (src.x + src.width, exit_y[k]);
            let end = (dst.x.saturating_sub(2), entry_y[k]);
            let lane = lane_x[k].min(end.0);
            let mut points = vec![start, (lane, start.1)];
            if start.1 != end.1 {
                points.push((lane, end.1));
            }
            points.push(end);
            points.dedup();
            EdgePath {
                link: i,
                points,
                arrow: (dst.x.saturating_sub(1), entry_y[k]),
                label_at: (start.0 + 1, start.1),
                tag: (!inline_labels).then(|| tag(k)),
            }
        })
        .collect();
    Geometry {
        width: canvas_w,
        height: canvas_h,
        boxes,
        edges,
        undrawn,
        inline_labels,
    }
}

/// Narrows the widest boxes first until they add up to `room` (or all are [`MIN_BOX`]).
fn shrink(widths: &mut [u16], room: u16) {
    while widths.iter().sum::<u16>() > room {
        let Some(widest) = widths.iter_mut().max() else {
            return;
        };
        if *widest <= MIN_BOX {
            return;
        }
        *widest -= 1;
    }
}
