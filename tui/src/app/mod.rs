//! The dashboard's state and its one entry point, [`App::update`]: a message in (a key, a
//! click, a fetch result, a clock tick), the state changed, maybe a [`Command`] out for the
//! run loop. No IO and no clock of its own, so tests drive it message by message.

pub mod events;
mod history;
pub mod keys;
pub mod lists;
pub mod rules;

use std::collections::VecDeque;
use std::time::SystemTime;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

pub use events::{EventKind, MeshEvent};
pub use history::{History, Series, HISTORY_LEN};
pub use keys::Action;
pub use lists::{Sort, SortKey};

use crate::graph::{self, Columns};
use crate::model::{Proxy, ResourceAcks, ResourceId, Snapshot, Window};
use crate::services::{service_key, Service, ServiceMap};
use crate::source::{FetchError, Fetched};

/// Events kept for the Events view.
pub const MAX_EVENTS: usize = 1000;

/// The six views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    #[default]
    Topology,
    Services,
    Detail,
    Proxies,
    Config,
    Events,
}

impl View {
    pub const ALL: [View; 6] = [
        View::Topology,
        View::Services,
        View::Detail,
        View::Proxies,
        View::Config,
        View::Events,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Topology => "Topology",
            View::Services => "Services",
            View::Detail => "Detail",
            View::Proxies => "Proxies",
            View::Config => "Config",
            View::Events => "Events",
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }

    fn step(self, by: isize) -> View {
        let n = View::ALL.len() as isize;
        View::ALL[(self.index() as isize + by).rem_euclid(n) as usize]
    }
}

impl std::str::FromStr for View {
    type Err = String;

    fn from_str(s: &str) -> Result<View, String> {
        View::ALL
            .into_iter()
            .find(|v| v.title().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown view {s:?}: use topology, services, detail, proxies, config or events"
                )
            })
    }
}

/// Where a click landed, as the UI's hit test found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hit {
    Tab(View),
    /// A row of the current view's list (an index into its filtered, sorted rows).
    Row(usize),
    /// A service's box in the Topology view.
    Node(String),
}

/// What the app receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Click(Hit),
    Scroll {
        down: bool,
    },
    /// The terminal's new height, for paging.
    Resize {
        height: u16,
    },
    Fetched(Fetched),
    /// The clock moved (ages in the UI are relative to it).
    Tick(SystemTime),
}

/// What the run loop should do after an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Quit,
    /// Fetch this window from now on.
    SetWindow(Window),
}

/// The link to the control plane.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    /// Nothing fetched yet.
    Connecting,
    Connected,
    /// The last fetch failed; the data shown is from the last good one.
    Unreachable {
        error: FetchError,
        since: SystemTime,
    },
}

/// How the app starts.
#[derive(Debug, Clone, PartialEq)]
pub struct AppOptions {
    /// The monitoring address, for the header and the banner.
    pub address: String,
    pub window: Window,
    pub view: View,
    /// False under NO_COLOR: no colour at all.
    pub color: bool,
}

/// The whole state of the dashboard.
#[derive(Debug, Clone)]
pub struct App {
    pub address: String,
    pub color: bool,
    pub view: View,
    /// Where Esc from Detail goes back to.
    pub previous: View,
    pub window: Window,
    pub paused: bool,
    pub help: bool,
    pub filter: String,
    /// The `/` prompt is open: keys edit the filter.
    pub filtering: bool,
    pub sort: Sort,
    pub snapshot: Option<Snapshot>,
    pub map: ServiceMap,
    pub columns: Columns,
    pub connection: Connection,
    /// Newest first.
    pub events: VecDeque<MeshEvent>,
    pub history: History,
    /// The service selected in Topology and Services, and shown by Detail.
    pub selected_service: Option<String>,
    pub selected_proxy: Option<String>,
    pub selected_resource: Option<ResourceId>,
    pub selected_event: usize,
    /// First YAML line shown in the Config view.
    pub yaml_scroll: usize,
    pub now: SystemTime,
    /// Rows a page moves.
    pub page: usize,
    quit: bool,
}

impl App {
    pub fn new(opts: AppOptions) -> App {
        App {
            address: opts.address,
            color: opts.color,
            view: opts.view,
            previous: View::Topology,
            window: opts.window,
            paused: false,
            help: false,
            filter: String::new(),
            filtering: false,
            sort: Sort::default(),
            snapshot: None,
            map: ServiceMap::default(),
            columns: Columns::default(),
            connection: Connection::Connecting,
            events: VecDeque::new(),
            history: History::default(),
            selected_service: None,
            selected_proxy: None,
            selected_resource: None,
            selected_event: 0,
            yaml_scroll: 0,
            now: SystemTime::UNIX_EPOCH,
            page: 10,
            quit: false,
        }
    }

    /// Whether a quit was asked for.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    pub fn update(&mut self, msg: Msg) -> Option<Command> {
        match msg {
            Msg::Key(key) => self.key(key),
            Msg::Click(hit) => {
                self.click(hit);
                None
            }
            Msg::Scroll { down } => {
                self.act(if down { Action::Down } else { Action::Up });
                None
            }
            Msg::Resize { height } => {
                self.page = usize::from(height.saturating_sub(6)).max(1);
                None
            }
            Msg::Fetched(f) => {
                if !self.paused {
                    self.fetched(f);
                }
                None
            }
            Msg::Tick(now) => {
                self.now = self.now.max(now);
                None
            }
        }
    }

    // ---- rows, as every view shows them ----

    pub fn service_rows(&self) -> Vec<&Service> {
        lists::services(&self.map, &self.filter, self.sort)
    }

    pub fn proxy_rows(&self) -> Vec<&Proxy> {
        self.snapshot
            .as_ref()
            .map(|s| lists::proxies(&s.mesh, &self.filter))
            .unwrap_or_default()
    }

    pub fn resource_rows(&self) -> Vec<&ResourceAcks> {
        self.snapshot
            .as_ref()
            .map(|s| lists::resources(&s.mesh, &self.filter))
            .unwrap_or_default()
    }

    pub fn event_rows(&self) -> Vec<&MeshEvent> {
        lists::events(&self.events, &self.filter)
    }

    /// The selected row of the current list view, if any.
    pub fn selected_row(&self) -> Option<usize> {
        match self.view {
            View::Services => {
                let key = self.selected_service.as_deref()?;
                self.service_rows().iter().position(|s| s.key == key)
            }
            View::Proxies => {
                let id = self.selected_proxy.as_deref()?;
                self.proxy_rows().iter().position(|p| p.id == id)
            }
            View::Config => {
                let id = self.selected_resource.as_ref()?;
                self.resource_rows()
                    .iter()
                    .position(|r| ResourceId::of(r) == *id)
            }
            View::Events => Some(self.selected_event),
            View::Topology | View::Detail => None,
        }
    }

    /// The service the Detail view shows.
    pub fn detail_service(&self) -> Option<&Service> {
        self.map.get(self.selected_service.as_deref()?)
    }

    // ---- input ----

    fn key(&mut self, key: KeyEvent) -> Option<Command> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if self.filtering {
            self.filter_key(key);
            return self.quit.then_some(Command::Quit);
        }
        let action = keys::action(key)?;
        if self.help && !matches!(action, Action::Quit | Action::ToggleHelp | Action::Back) {
            return None;
        }
        self.act(action)
    }

    fn filter_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.quit = true;
            }
            KeyCode::Char(c) => self.filter.push(c),
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Enter => self.filtering = false,
            KeyCode::Esc => {
                self.filter.clear();
                self.filtering = false;
            }
            _ => {}
        }
        self.selected_event = 0;
        // A selection the filter hides gives way to the first row it shows, so that Enter
        // opens what is on the screen.
        if matches!(self.view, View::Services | View::Proxies | View::Config)
            && self.selected_row().is_none()
        {
            self.select_row(0);
        }
    }

    fn act(&mut self, action: Action) -> Option<Command> {
        match action {
            Action::Quit => {
                self.quit = true;
                return Some(Command::Quit);
            }
            Action::ToggleHelp => self.help = !self.help,
            Action::Back => self.back(),
            Action::NextView => self.switch(self.view.step(1)),
            Action::PrevView => self.switch(self.view.step(-1)),
            Action::Goto(v) => self.switch(v),
            Action::Filter => self.filtering = true,
            Action::Sort => self.sort.key = self.sort.key.next(),
            Action::ReverseSort => self.sort.reverse = !self.sort.reverse,
            Action::TogglePause => self.paused = !self.paused,
            Action::CycleWindow => {
                self.window = self.window.next();
                self.history.clear();
                return Some(Command::SetWindow(self.window));
            }
            Action::Open => self.open(),
            Action::Up => self.step(-1),
            Action::Down => self.step(1),
            Action::PageUp => self.page_by(-1),
            Action::PageDown => self.page_by(1),
            Action::Top => self.step(isize::MIN / 2),
            Action::Bottom => self.step(isize::MAX / 2),
            Action::Left => self.column(-1),
            Action::Right => self.column(1),
        }
        None
    }

    fn back(&mut self) {
        if self.help {
            self.help = false;
        } else if self.view == View::Detail {
            self.view = if self.previous == View::Detail {
                View::Topology
            } else {
                self.previous
            };
        } else if !self.filter.is_empty() {
            self.filter.clear();
        }
    }

    fn switch(&mut self, view: View) {
        if view == View::Detail && self.view != View::Detail {
            self.previous = self.view;
        }
        self.view = view;
    }

    fn open(&mut self) {
        match self.view {
            View::Topology => {
                if self.selected_service.is_some() {
                    self.switch(View::Detail);
                }
            }
            // Only a row on the screen opens (the filter may hide the selected one).
            View::Services => {
                if self.selected_row().is_some() {
                    self.switch(View::Detail);
                }
            }
            View::Proxies => {
                let key = self
                    .proxy_rows()
                    .into_iter()
                    .find(|p| Some(&p.id) == self.selected_proxy.as_ref())
                    .map(|p| {
                        let app = p.labels.get("app").unwrap_or(&p.service);
                        service_key(app, p.namespace())
                    });
                if let Some(key) = key.filter(|k| self.map.get(k).is_some()) {
                    self.selected_service = Some(key);
                    self.switch(View::Detail);
                }
            }
            View::Detail | View::Config | View::Events => {}
        }
    }

    fn page_by(&mut self, dir: isize) {
        if self.view == View::Config {
            let by = self.page as isize * dir;
            self.yaml_scroll = (self.yaml_scroll as isize + by).max(0) as usize;
        } else {
            self.step(self.page as isize * dir);
        }
    }

    /// Moves the current view's selection by `by` rows (clamped).
    fn step(&mut self, by: isize) {
        if self.view == View::Topology {
            let Some((col, row)) = self.topology_position() else {
                self.select_first_node();
                return;
            };
            let column = &self.columns.columns[col];
            let next = (row as isize)
                .saturating_add(by)
                .clamp(0, column.len() as isize - 1);
            self.selected_service = Some(self.map.services[column[next as usize]].key.clone());
            return;
        }
        let len = self.row_count();
        if len == 0 {
            return;
        }
        let start = match self.cursor() {
            Some(c) => c as isize,
            None if by > 0 => -1,
            None => len as isize,
        };
        let next = start.saturating_add(by).clamp(0, len as isize - 1);
        self.select_row(next as usize);
    }

    fn row_count(&self) -> usize {
        match self.view {
            View::Services | View::Detail => self.service_rows().len(),
            View::Proxies => self.proxy_rows().len(),
            View::Config => self.resource_rows().len(),
            View::Events => self.event_rows().len(),
            View::Topology => 0,
        }
    }

    /// The selected row, counting Detail as a walk through the Services rows.
    fn cursor(&self) -> Option<usize> {
        if self.view == View::Detail {
            let key = self.selected_service.as_deref()?;
            return self.service_rows().iter().position(|s| s.key == key);
        }
        self.selected_row()
    }

    fn select_row(&mut self, i: usize) {
        match self.view {
            View::Services | View::Detail => {
                if let Some(s) = self.service_rows().get(i) {
                    self.selected_service = Some(s.key.clone());
                }
            }
            View::Proxies => {
                if let Some(p) = self.proxy_rows().get(i) {
                    self.selected_proxy = Some(p.id.clone());
                }
            }
            View::Config => {
                let id = self.resource_rows().get(i).map(|r| ResourceId::of(r));
                if id.is_some() && id != self.selected_resource {
                    self.selected_resource = id;
                    self.yaml_scroll = 0;
                }
            }
            View::Events => {
                self.selected_event = i.min(self.event_rows().len().saturating_sub(1));
            }
            View::Topology => {}
        }
    }

    /// Topology: to the neighbouring column, at about the same height.
    fn column(&mut self, by: isize) {
        if self.view != View::Topology {
            return;
        }
        let Some((col, row)) = self.topology_position() else {
            self.select_first_node();
            return;
        };
        let cols = &self.columns.columns;
        let target = (col as isize + by).clamp(0, cols.len() as isize - 1) as usize;
        if target == col || cols[target].is_empty() {
            return;
        }
        let (from, to) = (cols[col].len(), cols[target].len());
        let r = (row * to / from.max(1)).min(to - 1);
        self.selected_service = Some(self.map.services[cols[target][r]].key.clone());
    }

    fn topology_position(&self) -> Option<(usize, usize)> {
        let key = self.selected_service.as_deref()?;
        self.columns.locate(self.map.position(key)?)
    }

    fn select_first_node(&mut self) {
        let first = self.columns.columns.first().and_then(|c| c.first());
        if let Some(&i) = first {
            self.selected_service = Some(self.map.services[i].key.clone());
        }
    }

    fn click(&mut self, hit: Hit) {
        match hit {
            Hit::Tab(v) => self.switch(v),
            Hit::Node(key) => {
                if self.map.get(&key).is_some() {
                    self.selected_service = Some(key);
                    self.switch(View::Detail);
                }
            }
            Hit::Row(i) => {
                if self.selected_row() == Some(i) {
                    self.open();
                } else {
                    self.select_row(i);
                }
            }
        }
    }

    // ---- data ----

    fn fetched(&mut self, fetched: Fetched) {
        match fetched {
            Fetched::Snapshot(s) => {
                if s.window == self.window {
                    self.apply(*s);
                }
            }
            Fetched::Failed { at, error } => {
                self.now = self.now.max(at);
                if !matches!(self.connection, Connection::Unreachable { .. }) {
                    self.record(vec![MeshEvent {
                        at,
                        kind: EventKind::ControlPlaneDown,
                        subject: self.address.clone(),
                        message: format!("control plane unreachable: {error}"),
                    }]);
                }
                if let Connection::Unreachable { error: e, .. } = &mut self.connection {
                    *e = error;
                } else {
                    self.connection = Connection::Unreachable { error, since: at };
                }
            }
        }
    }

    fn apply(&mut self, snapshot: Snapshot) {
        let at = snapshot.fetched_at;
        self.now = self.now.max(at);
        let mut new = Vec::new();
        match &self.connection {
            Connection::Connecting => new.push(MeshEvent {
                at,
                kind: EventKind::ControlPlaneUp,
                subject: self.address.clone(),
                message: match &snapshot.control_plane_version {
                    Some(v) => format!("connected (control plane {v})"),
                    None => "connected".to_string(),
                },
            }),
            Connection::Unreachable { since, .. } => {
                let down = at.duration_since(*since).unwrap_or_default().as_secs();
                new.push(MeshEvent {
                    at,
                    kind: EventKind::ControlPlaneUp,
                    subject: self.address.clone(),
                    message: format!("reconnected after {down} s"),
                });
            }
            Connection::Connected => {}
        }
        if let Some(prev) = &self.snapshot {
            new.extend(events::diff(prev, &snapshot));
        }
        self.record(new);
        self.connection = Connection::Connected;
        self.map = ServiceMap::from_mesh(&snapshot.mesh);
        self.columns = graph::columns(&self.map);
        self.history.record(&self.map, at);
        self.snapshot = Some(snapshot);
        let valid = self
            .selected_service
            .as_deref()
            .is_some_and(|k| self.map.get(k).is_some());
        if !valid {
            self.selected_service = None;
            self.select_first_node();
        }
        if self.selected_proxy.is_none() {
            self.selected_proxy = self.proxy_rows().first().map(|p| p.id.clone());
        }
        if self.selected_resource.is_none() {
            self.selected_resource = self.resource_rows().first().map(|r| ResourceId::of(r));
        }
    }

    /// Adds events newest first, the first of a batch on top.
    fn record(&mut self, batch: Vec<MeshEvent>) {
        let shifted = batch.len();
        for e in batch.into_iter().rev() {
            self.events.push_front(e);
        }
        self.events.truncate(MAX_EVENTS);
        // Keep the same event selected while new ones arrive on top.
        if self.selected_event > 0 {
            self.selected_event =
                (self.selected_event + shifted).min(self.events.len().saturating_sub(1));
        }
    }
}
