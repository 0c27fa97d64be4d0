//! The list views' table: a header row, then the rows around the selection. Only the visible
//! rows are built, and the scroll offset is a function of the selection alone, so the mouse
//! hit test finds the same row the screen shows.

use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Row, Table};
use ratatui::Frame;

use super::theme::Theme;

/// The first row shown when `selected` must be visible in `visible` rows.
pub fn offset(selected: Option<usize>, visible: usize) -> usize {
    match selected {
        Some(s) if visible > 0 && s >= visible => s + 1 - visible,
        _ => 0,
    }
}

/// A table to draw: `total` rows, of which only the visible ones are built with `row(i)`.
pub struct Listing<'a, F: Fn(usize) -> Row<'a>> {
    pub header: Row<'a>,
    pub widths: &'a [Constraint],
    pub total: usize,
    pub selected: Option<usize>,
    pub row: F,
}

pub fn draw<'a, F: Fn(usize) -> Row<'a>>(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    listing: Listing<'a, F>,
) {
    let visible = usize::from(area.height.saturating_sub(1));
    let first = offset(listing.selected, visible);
    let rows: Vec<Row> = (first..listing.total.min(first + visible))
        .map(|i| {
            let r = (listing.row)(i);
            if Some(i) == listing.selected {
                r.style(theme.selected())
            } else {
                r
            }
        })
        .collect();
    let table = Table::new(rows, listing.widths.to_vec())
        .header(listing.header.style(theme.header()))
        .column_spacing(1);
    f.render_widget(table, area);
}

/// The row index at screen row `y` of a table drawn by [`draw`] in `area`.
pub fn row_at(area: Rect, total: usize, selected: Option<usize>, y: u16) -> Option<usize> {
    let first_row = area.y + 1;
    if y < first_row || y >= area.y + area.height {
        return None;
    }
    let visible = usize::from(area.height.saturating_sub(1));
    let i = offset(selected, visible) + usize::from(y - first_row);
    (i < total).then_some(i)
}

/// The widths of a table whose first column (a name) is the flexible one and the rest
/// `fixed`: the name column's width and every column's constraint.
pub fn name_first(longest: usize, area_width: u16, fixed: &[u16]) -> (u16, Vec<Constraint>) {
    let name_w = flexible_width(longest, area_width, fixed);
    let widths = std::iter::once(name_w)
        .chain(fixed.iter().copied())
        .map(Constraint::Length)
        .collect();
    (name_w, widths)
}

/// The width of a table's one flexible column: as wide as its longest text (at least 8),
/// within what the fixed columns (and one space between columns) leave of `area_width`.
pub fn flexible_width(longest: usize, area_width: u16, fixed: &[u16]) -> u16 {
    let taken: u16 = fixed.iter().sum::<u16>() + fixed.len() as u16;
    let room = area_width.saturating_sub(taken).max(8);
    u16::try_from(longest).unwrap_or(u16::MAX).clamp(8, room)
}
