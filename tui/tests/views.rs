//! Snapshot tests of every view (insta): the screen as text for fixed snapshots, at 80x24
//! and 200x60, over the captured Bookinfo mesh, an empty mesh, an unreachable control
//! plane and a synthetic mesh of 50 services. `INSTA_UPDATE=always cargo test -p mesh-tui`
//! rewrites them; review the .snap files by eye before committing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mesh_tui::app::App;
use mesh_tui::model::{Mesh, Snapshot, SyncState, Window};
use mesh_tui::testing::{app, bookinfo, fail, feed, render, screen, t0};
use mesh_tui::{synthetic, FetchError, View};
use ratatui::style::Color;

const SIZES: [(u16, u16); 2] = [(80, 24), (200, 60)];

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn name(v: View) -> String {
    v.title().to_lowercase()
}

/// Bookinfo after five fetches a second apart (history for the sparklines), with reviews
/// selected, and a config push, an outlier ejection and a NACK along the way (events).
fn bookinfo_app(view: View) -> App {
    let mut a = app(view, true);
    for i in 0..5u64 {
        let mut s = bookinfo(t0() + secs(i));
        for e in &mut s.mesh.edges {
            e.rps *= 1.0 + i as f64 / 8.0;
        }
        if i >= 2 {
            let p = &mut s.mesh.proxies[6];
            p.version_sent = Some("aaaaaaaaaaaa".into());
        }
        if i >= 3 {
            let p = &mut s.mesh.proxies[3];
            assert_eq!(p.id, "productpage-v1-0.default");
            p.outlier_ejections = [(
                "outbound|9080|v2|reviews.default.svc.cluster.local".to_string(),
                1,
            )]
            .into();
        }
        if i >= 4 {
            let p = &mut s.mesh.proxies[6];
            p.state = SyncState::Nacked;
            p.error = Some("route reviews: subset v9 not in DestinationRule reviews".into());
        }
        feed(&mut a, s);
    }
    a.selected_service = Some("reviews.default".into());
    a
}

#[test]
fn bookinfo_every_view() {
    for (w, h) in SIZES {
        for v in View::ALL {
            let a = bookinfo_app(v);
            insta::assert_snapshot!(format!("bookinfo_{}_{w}x{h}", name(v)), screen(&a, w, h));
        }
    }
}

#[test]
fn bookinfo_topology_selects_ingress_first() {
    let mut a = app(View::Topology, true);
    feed(&mut a, bookinfo(t0()));
    insta::assert_snapshot!("bookinfo_topology_initial_80x24", screen(&a, 80, 24));
}

fn empty() -> Snapshot {
    Snapshot::new(Window::OneMinute, t0(), Mesh::default(), Vec::new())
}

#[test]
fn empty_mesh() {
    for v in View::ALL {
        let mut a = app(v, true);
        feed(&mut a, empty());
        insta::assert_snapshot!(format!("empty_{}_80x24", name(v)), screen(&a, 80, 24));
    }
}

#[test]
fn before_the_first_answer() {
    let a = app(View::Topology, true);
    insta::assert_snapshot!("connecting_topology_80x24", screen(&a, 80, 24));
}

fn refused() -> FetchError {
    FetchError::Unreachable {
        detail: "Connection refused (os error 111)".into(),
    }
}

#[test]
fn unreachable_keeps_the_last_data_under_a_banner() {
    for (w, h) in SIZES {
        let mut a = bookinfo_app(View::Topology);
        fail(&mut a, t0() + secs(9), refused());
        fail(&mut a, t0() + secs(12), refused());
        let text = screen(&a, w, h);
        assert!(
            text.contains("control plane unreachable at 127.0.0.1:15014"),
            "{text}"
        );
        assert!(text.contains("Connection refused"), "{text}");
        insta::assert_snapshot!(format!("unreachable_topology_{w}x{h}"), text);
    }
    let mut a = app(View::Services, true);
    fail(&mut a, t0(), refused());
    insta::assert_snapshot!("unreachable_never_connected_80x24", screen(&a, 80, 24));
}

fn fifty(view: View) -> App {
    let mut a = app(view, true);
    feed(&mut a, synthetic::snapshot(50, t0()));
    a
}

#[test]
fn fifty_services() {
    for (w, h) in SIZES {
        for v in [View::Topology, View::Services, View::Proxies, View::Config] {
            let a = fifty(v);
            insta::assert_snapshot!(format!("fifty_{}_{w}x{h}", name(v)), screen(&a, w, h));
        }
    }
    let mut a = fifty(View::Topology);
    a.selected_service = Some("svc-049.default".into());
    insta::assert_snapshot!("fifty_topology_scrolled_80x24", screen(&a, 80, 24));
}

#[test]
fn help_screen() {
    let mut a = bookinfo_app(View::Services);
    a.help = true;
    insta::assert_snapshot!("help_80x24", screen(&a, 80, 24));
}

#[test]
fn filter_prompt_and_sorted_services() {
    let mut a = fifty(View::Services);
    a.filter = "svc-01".into();
    a.filtering = true;
    a.sort.key = mesh_tui::app::SortKey::P99;
    insta::assert_snapshot!("fifty_services_filtered_by_p99_80x24", screen(&a, 80, 24));
}

#[test]
fn tiny_terminals_never_panic_and_say_so() {
    for v in View::ALL {
        let a = bookinfo_app(v);
        for (w, h) in [(1, 1), (2, 2), (20, 5), (59, 30), (100, 15), (60, 16)] {
            let text = screen(&a, w, h);
            let small = w < 60 || h < 16;
            assert_eq!(
                text.contains("terminal too small"),
                small && w >= 18,
                "{w}x{h}:\n{text}"
            );
        }
    }
    let a = bookinfo_app(View::Topology);
    insta::assert_snapshot!("too_small_20x5", screen(&a, 20, 5));
}

/// Whether any cell of the screen has a colour (foreground, background or underline).
fn coloured(a: &App, w: u16, h: u16) -> bool {
    let terminal = render(a, w, h);
    let buf = terminal.backend().buffer();
    buf.content()
        .iter()
        .any(|c| c.fg != Color::Reset || c.bg != Color::Reset || c.underline_color != Color::Reset)
}

#[test]
fn no_color_means_no_colour_at_all() {
    for v in View::ALL {
        let mut a = bookinfo_app(v);
        fail(&mut a, t0() + secs(9), refused());
        a.help = v == View::Events;
        assert!(coloured(&a, 200, 60), "{v:?} in colour has colours");
        a.color = false;
        for (w, h) in SIZES {
            assert!(
                !coloured(&a, w, h),
                "{v:?} {w}x{h} under NO_COLOR has a colour"
            );
        }
    }
}
