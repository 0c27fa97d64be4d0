//! Styles, in one place so that NO_COLOR is one switch: without colour every style keeps its
//! modifiers (bold, reversed) and loses its colours.

use ratatui::style::{Color, Modifier, Style};

use crate::services::Traffic;

/// How healthy some traffic is: success >= 99.9% good, >= 95% degraded, else failing;
/// idle without requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Good,
    Degraded,
    Failing,
    Idle,
}

impl Health {
    pub fn of(t: &Traffic) -> Health {
        if t.is_idle() {
            return Health::Idle;
        }
        match t.success {
            Some(s) if s >= 0.999 => Health::Good,
            Some(s) if s >= 0.95 => Health::Degraded,
            Some(_) => Health::Failing,
            // TCP only: connections, no success rate; count as good.
            None => Health::Good,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn health(&self, h: Health) -> Style {
        match h {
            Health::Good => self.fg(Color::Green),
            Health::Degraded => self.fg(Color::Yellow),
            Health::Failing => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Health::Idle => self.dim(),
        }
    }

    pub fn dim(&self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn header(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn title(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }

    /// The unreachable banner.
    pub fn banner(&self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
}
