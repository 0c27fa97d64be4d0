//! Keys to actions, and the help text listing them: kept side by side so that the `?`
//! screen shows exactly what works.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::View;

/// What a key asks for (outside the filter prompt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    NextView,
    PrevView,
    Goto(View),
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    Filter,
    Sort,
    ReverseSort,
    CycleWindow,
    TogglePause,
    ToggleHelp,
}

/// The action of a key press; `None` for keys without one (and for key releases).
pub fn action(key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Action::Quit,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Tab => Action::NextView,
        KeyCode::BackTab => Action::PrevView,
        KeyCode::Char(c @ '1'..='6') => Action::Goto(View::ALL[(c as u8 - b'1') as usize]),
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::Left | KeyCode::Char('h') => Action::Left,
        KeyCode::Right | KeyCode::Char('l') => Action::Right,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Enter => Action::Open,
        KeyCode::Esc => Action::Back,
        KeyCode::Char('/') => Action::Filter,
        KeyCode::Char('s') => Action::Sort,
        KeyCode::Char('S') => Action::ReverseSort,
        KeyCode::Char('w') => Action::CycleWindow,
        KeyCode::Char('p') => Action::TogglePause,
        KeyCode::Char('?') => Action::ToggleHelp,
        _ => return None,
    })
}

/// The `?` screen: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("Tab / Shift-Tab", "next / previous view"),
    ("1-6", "Topology, Services, Detail, Proxies, Config, Events"),
    (
        "↑↓ / j k",
        "move the selection (Detail: previous / next service)",
    ),
    ("←→ / h l", "Topology: move between columns"),
    ("PgUp PgDn", "page through a list (Config: scroll the YAML)"),
    ("g / G, Home End", "first / last row"),
    ("Enter", "open the selected service's detail"),
    (
        "Esc",
        "back out: close help, clear the filter, leave Detail",
    ),
    ("/", "filter the lists (type, Enter keeps it, Esc clears)"),
    (
        "s / S",
        "Services: sort by the next column / reverse the order",
    ),
    ("w", "window: 10 s -> 1 min -> 10 min"),
    ("p", "pause / resume updates"),
    (
        "mouse",
        "click a tab, a row or a box to select; again to open",
    ),
    ("?", "this help"),
    ("q / Ctrl-C", "quit"),
];
