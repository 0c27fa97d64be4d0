//! View 6, Events: what changed between snapshots, newest first (see
//! [`crate::app::events`] for how each kind is derived).

use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row};
use ratatui::Frame;

use super::table::{self, Listing};
use super::theme::Theme;
use super::{fmt, placeholder};
use crate::app::{App, Hit};

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let rows = app.event_rows();
    if rows.is_empty() {
        placeholder(
            f,
            area,
            app,
            "no events yet: config pushes, NACKs, disconnects and control plane outages show here",
        );
        return;
    }
    let longest = rows
        .iter()
        .map(|e| e.subject.chars().count())
        .max()
        .unwrap_or(0);
    let subject_w = u16::try_from(longest).unwrap_or(36).clamp(8, 36);
    let widths = [
        Constraint::Length(8),
        Constraint::Length(10),
        Constraint::Length(subject_w),
        Constraint::Fill(1),
    ];
    let listing = Listing {
        header: Row::new(vec!["AGE", "KIND", "SUBJECT", "MESSAGE"]),
        widths: &widths,
        total: rows.len(),
        selected: app.selected_row(),
        row: |i| {
            let e = rows[i];
            let style = if e.kind.is_bad() {
                theme.bad()
            } else {
                theme.accent()
            };
            Row::new(vec![
                Cell::from(format!("{} ago", fmt::age(fmt::since(app.now, e.at)))),
                Cell::from(e.kind.label()).style(style),
                Cell::from(fmt::fit(&e.subject, usize::from(subject_w))),
                Cell::from(e.message.clone()),
            ])
        },
    };
    table::draw(f, area, theme, listing);
}

pub fn hit(app: &App, area: Rect, y: u16) -> Option<Hit> {
    table::row_at(area, app.event_rows().len(), app.selected_row(), y).map(Hit::Row)
}
