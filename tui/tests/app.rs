//! The app's state machine: keys, selection, sorting, filtering, windows, pausing, clicks
//! and the events derived from successive snapshots.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mesh_tui::app::{keys, App, Command, EventKind, Hit, Msg, SortKey};
use mesh_tui::model::{SyncState, Window};
use mesh_tui::testing::{app, bookinfo, fail, feed, screen, t0};
use mesh_tui::ui;
use mesh_tui::{synthetic, FetchError, View};
use ratatui::layout::Rect;

fn key(app: &mut App, code: KeyCode) -> Option<Command> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn chars(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn loaded(view: View) -> App {
    let mut a = app(view, true);
    feed(&mut a, bookinfo(t0()));
    a
}

fn service_names(a: &App) -> Vec<String> {
    a.service_rows().iter().map(|s| s.app.clone()).collect()
}

#[test]
fn tab_and_digits_switch_views_q_quits() {
    let mut a = loaded(View::Topology);
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.view, View::Services);
    key(&mut a, KeyCode::BackTab);
    key(&mut a, KeyCode::BackTab);
    assert_eq!(a.view, View::Events);
    for (c, v) in ('1'..='6').zip(View::ALL) {
        key(&mut a, KeyCode::Char(c));
        assert_eq!(a.view, v);
    }
    assert_eq!(key(&mut a, KeyCode::Char('q')), Some(Command::Quit));
    assert!(a.should_quit());
    let mut b = loaded(View::Topology);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(b.update(Msg::Key(ctrl_c)), Some(Command::Quit));
}

#[test]
fn help_swallows_keys_until_closed() {
    let mut a = loaded(View::Topology);
    key(&mut a, KeyCode::Char('?'));
    assert!(a.help);
    key(&mut a, KeyCode::Char('2'));
    assert_eq!(a.view, View::Topology, "keys under the help do nothing");
    key(&mut a, KeyCode::Esc);
    assert!(!a.help);
    key(&mut a, KeyCode::Char('?'));
    key(&mut a, KeyCode::Char('?'));
    assert!(!a.help);
}

#[test]
fn every_key_in_the_help_has_an_action() {
    // The help lists these; each must map to something.
    for code in [
        KeyCode::Tab,
        KeyCode::BackTab,
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::PageUp,
        KeyCode::PageDown,
        KeyCode::Home,
        KeyCode::End,
        KeyCode::Enter,
        KeyCode::Esc,
    ]
    .into_iter()
    .chain("123456jkhlgG/sSwp?q".chars().map(KeyCode::Char))
    {
        assert!(
            keys::action(KeyEvent::new(code, KeyModifiers::NONE)).is_some(),
            "{code:?}"
        );
    }
}

#[test]
fn topology_moves_by_column_and_row_and_opens_detail() {
    let mut a = loaded(View::Topology);
    assert_eq!(
        a.selected_service.as_deref(),
        Some("istio-ingressgateway.istio-system")
    );
    key(&mut a, KeyCode::Char('j'));
    assert_eq!(
        a.selected_service.as_deref(),
        Some("istio-egressgateway.istio-system")
    );
    key(&mut a, KeyCode::Char('k'));
    key(&mut a, KeyCode::Char('l'));
    assert_eq!(a.selected_service.as_deref(), Some("productpage.default"));
    key(&mut a, KeyCode::Right);
    key(&mut a, KeyCode::Down);
    assert_eq!(a.selected_service.as_deref(), Some("reviews.default"));
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.view, View::Detail);
    key(&mut a, KeyCode::Up);
    assert_eq!(
        a.selected_service.as_deref(),
        Some("ratings.default"),
        "Detail walks the Services order"
    );
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.view, View::Topology);
}

#[test]
fn services_sort_and_reverse() {
    let mut a = loaded(View::Services);
    assert_eq!(service_names(&a)[0], "details");
    // Name -> Meshed -> Success -> Rps
    for _ in 0..3 {
        key(&mut a, KeyCode::Char('s'));
    }
    assert_eq!(a.sort.key, SortKey::Rps);
    let rps: Vec<f64> = a.service_rows().iter().map(|s| s.inbound.rps).collect();
    assert!(rps.windows(2).all(|w| w[0] >= w[1]), "{rps:?}");
    key(&mut a, KeyCode::Char('S'));
    let rps: Vec<f64> = a.service_rows().iter().map(|s| s.inbound.rps).collect();
    assert!(rps.windows(2).all(|w| w[0] <= w[1]), "{rps:?}");
    for _ in 0..5 {
        key(&mut a, KeyCode::Char('s'));
    }
    assert_eq!(a.sort.key, SortKey::Name, "the cycle comes back to NAME");
}

#[test]
fn filter_types_keeps_and_clears() {
    let mut a = loaded(View::Services);
    key(&mut a, KeyCode::Char('/'));
    chars(&mut a, "REV");
    assert_eq!(service_names(&a), ["reviews"]);
    chars(&mut a, "q");
    assert!(!a.should_quit(), "q types into the filter");
    assert!(service_names(&a).is_empty());
    key(&mut a, KeyCode::Backspace);
    key(&mut a, KeyCode::Enter);
    assert!(!a.filtering);
    assert_eq!(a.filter, "REV");
    key(&mut a, KeyCode::Char('4'));
    let ids: Vec<String> = a.proxy_rows().iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.filter, "");
    assert_eq!(a.proxy_rows().len(), 8);
}

#[test]
fn window_cycles_and_refetches_and_drops_stale_answers() {
    let mut a = loaded(View::Services);
    assert_eq!(
        key(&mut a, KeyCode::Char('w')),
        Some(Command::SetWindow(Window::TenMinutes))
    );
    assert!(
        a.history.get("reviews.default").is_none(),
        "history restarts"
    );
    // An answer for the old window arrives late: ignored.
    let late = bookinfo(t0() + Duration::from_secs(1));
    feed(&mut a, late);
    assert_eq!(a.snapshot.as_ref().unwrap().fetched_at, t0());
    let mut fresh = bookinfo(t0() + Duration::from_secs(2));
    fresh.window = Window::TenMinutes;
    feed(&mut a, fresh);
    assert_eq!(a.snapshot.as_ref().unwrap().window, Window::TenMinutes);
    assert_eq!(
        key(&mut a, KeyCode::Char('w')),
        Some(Command::SetWindow(Window::TenSeconds))
    );
    assert_eq!(
        key(&mut a, KeyCode::Char('w')),
        Some(Command::SetWindow(Window::OneMinute))
    );
}

#[test]
fn pause_freezes_the_data() {
    let mut a = loaded(View::Services);
    key(&mut a, KeyCode::Char('p'));
    feed(&mut a, bookinfo(t0() + Duration::from_secs(5)));
    fail(
        &mut a,
        t0() + Duration::from_secs(6),
        FetchError::Timeout {
            after: Duration::from_secs(2),
        },
    );
    assert_eq!(a.snapshot.as_ref().unwrap().fetched_at, t0());
    assert!(screen(&a, 80, 24).contains("PAUSED"));
    key(&mut a, KeyCode::Char('p'));
    feed(&mut a, bookinfo(t0() + Duration::from_secs(7)));
    assert_eq!(
        a.snapshot.as_ref().unwrap().fetched_at,
        t0() + Duration::from_secs(7)
    );
}

#[test]
fn history_grows_per_fetch_for_sparklines() {
    let mut a = loaded(View::Detail);
    for i in 1..4 {
        feed(&mut a, bookinfo(t0() + Duration::from_secs(i)));
    }
    let h = a.history.get("reviews.default").unwrap();
    assert_eq!(h.rps.len(), 4);
    assert!(h.rps.iter().all(|r| *r > 9.0));
}

#[test]
fn clicks_select_tabs_rows_and_boxes() {
    let area = Rect::new(0, 0, 80, 24);
    let mut a = loaded(View::Topology);
    // The "2 Services" tab.
    let hit = ui::hit(&a, area, 15, 0).unwrap();
    assert_eq!(hit, Hit::Tab(View::Services));
    // The productpage box, found on the screen.
    let text = screen(&a, 80, 24);
    let (row, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("productpage"))
        .unwrap();
    let col = line.chars().take_while(|c| *c != 'p').count() as u16;
    let hit = ui::hit(&a, area, col, row as u16).unwrap();
    assert_eq!(hit, Hit::Node("productpage.default".into()));
    a.update(Msg::Click(hit));
    assert_eq!(a.view, View::Detail);
    assert_eq!(a.selected_service.as_deref(), Some("productpage.default"));
    // Services: the third row (the table starts on screen row 4: tabs, status, title, header).
    key(&mut a, KeyCode::Char('2'));
    let hit = ui::hit(&a, area, 3, 6).unwrap();
    assert_eq!(hit, Hit::Row(2));
    a.update(Msg::Click(hit.clone()));
    assert_eq!(
        a.selected_service.as_deref(),
        Some("istio-ingressgateway.istio-system")
    );
    a.update(Msg::Click(hit));
    assert_eq!(a.view, View::Detail, "a second click opens");
    // Below the last row: nothing.
    key(&mut a, KeyCode::Char('2'));
    assert_eq!(ui::hit(&a, area, 3, 20), None);
}

#[test]
fn proxies_put_trouble_first_and_open_their_service() {
    let mut a = app(View::Proxies, true);
    feed(&mut a, synthetic::snapshot(50, t0()));
    let states: Vec<SyncState> = a.proxy_rows().iter().map(|p| p.state).collect();
    let first_synced = states.iter().position(|s| *s == SyncState::Synced).unwrap();
    assert!(states[..first_synced]
        .iter()
        .all(|s| *s != SyncState::Synced));
    assert_eq!(states[0], SyncState::Nacked);
    key(&mut a, KeyCode::Home);
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.view, View::Detail);
    assert_eq!(a.selected_service.as_deref(), Some("svc-019.default"));
}

fn kinds(a: &App) -> Vec<EventKind> {
    a.events.iter().map(|e| e.kind).collect()
}

#[test]
fn events_from_successive_snapshots() {
    let mut a = loaded(View::Events);
    assert_eq!(kinds(&a), [EventKind::ControlPlaneUp]);
    let mut s = bookinfo(t0() + Duration::from_secs(1));
    s.mesh.proxies[0].version_sent = Some("ffffffffffff".into());
    s.mesh.proxies[1].state = SyncState::Nacked;
    s.mesh.proxies[1].error = Some("bad route".into());
    s.mesh.proxies[2].state = SyncState::Disconnected;
    s.mesh.proxies[3].cert_not_after = Some(2_000_000_000);
    s.mesh.proxies.pop();
    s.mesh.resources[0].revision += 1;
    feed(&mut a, s.clone());
    let mut later = s.clone();
    later.fetched_at = t0() + Duration::from_secs(2);
    later.mesh.proxies[3].cert_not_after = Some(2_000_086_400);
    feed(&mut a, later);
    assert_eq!(
        kinds(&a),
        [
            EventKind::CertRotation,
            EventKind::Push,
            EventKind::Nack,
            EventKind::ProxyDisconnected,
            EventKind::ProxyGone,
            EventKind::Config,
            EventKind::ControlPlaneUp,
        ]
    );
    let nack = a.events.iter().find(|e| e.kind == EventKind::Nack).unwrap();
    assert_eq!(nack.subject, s.mesh.proxies[1].id);
    assert!(nack.message.contains("bad route"));
}

const REVIEWS_V2: &str = "outbound|9080|v2|reviews.default.svc.cluster.local";
const PRODUCTPAGE: &str = "productpage-v1-0.default";

/// Bookinfo `s` seconds after [`t0`], productpage's sidecar having ejected `ejected`
/// endpoints of reviews v2 since it started (`None`: no cluster ejected anything).
fn with_ejections(s: u64, ejected: Option<u64>) -> mesh_tui::model::Snapshot {
    let mut snap = bookinfo(t0() + Duration::from_secs(s));
    let p = snap
        .mesh
        .proxies
        .iter_mut()
        .find(|p| p.id == PRODUCTPAGE)
        .unwrap();
    p.outlier_ejections = ejected
        .map(|n| [(REVIEWS_V2.to_string(), n)].into())
        .unwrap_or_default();
    snap
}

fn ejections(a: &App) -> Vec<(String, String)> {
    a.events
        .iter()
        .filter(|e| e.kind == EventKind::OutlierEjection)
        .map(|e| (e.subject.clone(), e.message.clone()))
        .collect()
}

#[test]
fn outlier_ejections_are_read_as_the_control_plane_sends_them() {
    let line = r#"{"id": "productpage-v1-0.default", "outlier_ejections":
        {"outbound|9080|v2|reviews.default.svc.cluster.local": 2}}"#;
    let p: mesh_tui::model::Proxy = serde_json::from_str(line).unwrap();
    assert_eq!(p.outlier_ejections.get(REVIEWS_V2), Some(&2));
    let without: mesh_tui::model::Proxy = serde_json::from_str(r#"{"id": "x"}"#).unwrap();
    assert!(without.outlier_ejections.is_empty());
}

#[test]
fn an_ejection_count_going_up_is_one_event_naming_the_service_and_subset() {
    let mut a = loaded(View::Events);
    feed(&mut a, with_ejections(1, Some(1)));
    assert_eq!(
        ejections(&a),
        [(
            PRODUCTPAGE.to_string(),
            "ejected 1 endpoint of reviews v2 (outlier detection)".to_string()
        )]
    );
    assert!(EventKind::OutlierEjection.is_bad(), "a warning colour");
    // Unchanged: nothing more; up by two: one event saying two.
    feed(&mut a, with_ejections(2, Some(1)));
    feed(&mut a, with_ejections(3, Some(3)));
    assert_eq!(ejections(&a).len(), 2);
    assert_eq!(
        a.events[0].message,
        "ejected 2 endpoints of reviews v2 (outlier detection)"
    );
    // Shown in the Events view, and found by the filter.
    assert!(screen(&a, 100, 24).contains("EJECT"));
    a.filter = "ejected".into();
    assert_eq!(a.event_rows().len(), 2);
}

#[test]
fn a_proxy_first_seen_with_ejections_is_no_event() {
    let mut a = app(View::Events, true);
    feed(&mut a, with_ejections(0, Some(4)));
    let mut gone = with_ejections(1, None);
    gone.mesh.proxies.retain(|p| p.id != PRODUCTPAGE);
    feed(&mut a, gone);
    // Back (a new proxy for the dashboard) with counts of unknown age.
    feed(&mut a, with_ejections(2, Some(5)));
    assert_eq!(ejections(&a), []);
    // Not scraped yet, then scraped: the counts were unknown, not zero.
    let mut unscraped = with_ejections(3, None);
    for p in &mut unscraped.mesh.proxies {
        p.scrape_up = false;
    }
    feed(&mut a, unscraped);
    feed(&mut a, with_ejections(4, Some(5)));
    assert_eq!(ejections(&a), []);
}

#[test]
fn a_restarted_proxy_is_no_event() {
    let mut a = loaded(View::Events);
    feed(&mut a, with_ejections(1, Some(3)));
    assert_eq!(ejections(&a).len(), 1);
    // Restarted: the count went down (to 1, or to nothing), then back up past the old one
    // with a younger process.
    feed(&mut a, with_ejections(2, Some(1)));
    feed(&mut a, with_ejections(3, None));
    feed(&mut a, with_ejections(4, Some(3)));
    assert_eq!(ejections(&a).len(), 2, "from none to 3 in a running proxy");
    let mut younger = with_ejections(5, Some(4));
    for p in &mut younger.mesh.proxies {
        p.uptime_s = Some(1.0);
    }
    feed(&mut a, younger);
    assert_eq!(ejections(&a).len(), 2, "{:?}", ejections(&a));
}

#[test]
fn control_plane_down_once_then_reconnected() {
    let mut a = loaded(View::Events);
    let refused = FetchError::Unreachable {
        detail: "Connection refused".into(),
    };
    fail(&mut a, t0() + Duration::from_secs(1), refused.clone());
    fail(&mut a, t0() + Duration::from_secs(2), refused);
    feed(&mut a, bookinfo(t0() + Duration::from_secs(4)));
    assert_eq!(
        kinds(&a),
        [
            EventKind::ControlPlaneUp,
            EventKind::ControlPlaneDown,
            EventKind::ControlPlaneUp
        ]
    );
    assert_eq!(a.events[0].message, "reconnected after 3 s");
    assert!(a.events[1].message.contains("Connection refused"));
    // Filtering the events.
    a.filter = "down".into();
    assert_eq!(a.event_rows().len(), 1);
}

#[test]
fn filter_then_enter_opens_the_filtered_service() {
    let mut a = loaded(View::Services);
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Char('/'));
    chars(&mut a, "reviews");
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.view, View::Detail);
    assert_eq!(a.detail_service().map(|s| s.app.as_str()), Some("reviews"));
}
