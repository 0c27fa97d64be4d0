//! `meshctl dashboard` end to end: the default profile with Bookinfo and traffic through the
//! ingress gateway, the real dashboard in a real terminal (tmux), the screen read back. It
//! lists productpage, reviews and ratings with traffic; reviews' detail shows v1, v2 and v3
//! sharing the traffic, and after Istio's `virtual-service-reviews-50-v3.yaml` the split
//! moves to about 50/50 between v1 and v3; `q` exits 0 and leaves the terminal as it was.
//! Without a terminal it says to use `meshctl stat`. Every process is stopped by its PID
//! (the Mesh guard, the traffic child, the tmux pane), pass or fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Child, Stdio};
use std::time::Duration;

use support::tmux::Tmux;
use support::{fixtures, meshctl_bin, Mesh};

/// A background `meshctl samples traffic`, killed on drop.
struct Traffic(Child);

impl Drop for Traffic {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The RPS column of `name`'s row in the Services view, when it has traffic.
fn rps(screen: &str, name: &str) -> Option<f64> {
    screen
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.first() == Some(&name))
        .and_then(|cols| cols.get(3)?.strip_suffix("rps")?.parse().ok())
}

/// The percentage of `version` in the detail view's split bars.
fn share(screen: &str, version: &str) -> Option<f64> {
    screen
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.first() == Some(&version) && cols.len() >= 3)
        .and_then(|cols| cols.get(2)?.strip_suffix('%')?.parse().ok())
}

#[test]
fn dashboard_shows_bookinfo_traffic_and_the_canary_split() {
    let mesh = Mesh::new();
    mesh.install("default", &[]).expect_code(0);
    let first_ip = support::sample_first_ip(3);
    mesh.run(&["samples", "deploy", "bookinfo", "--first-ip", &first_ip])
        .expect_code(0);
    for f in ["bookinfo-gateway.yaml", "destination-rule-all.yaml"] {
        let path = fixtures().join(f).display().to_string();
        mesh.run(&["apply", "-f", &path]).expect_code(0);
    }
    let _traffic = Traffic(
        mesh.command_with(
            &meshctl_bin(),
            &["samples", "traffic", "--rps", "20", "--duration", "300s"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the traffic"),
    );

    let home = mesh.home().display().to_string();
    let tui = Tmux::start(
        &meshctl_bin(),
        &["dashboard", "--view", "services", "--window", "10s"],
        &[
            ("MESHCTL_HOME", &home),
            ("NO_COLOR", "1"),
            ("TERM", "xterm-256color"),
        ],
        (160, 45),
    );
    let wait = Duration::from_secs(60);
    tui.wait_for("productpage, reviews and ratings with traffic", wait, |s| {
        ["productpage", "reviews", "ratings", "details"]
            .iter()
            .all(|n| rps(s, n).is_some_and(|r| r > 0.0))
    });

    // reviews' detail: without a VirtualService, its three versions share the traffic.
    tui.keys(&["/"]);
    tui.type_text("reviews");
    tui.keys(&["Enter", "Enter"]);
    let screen = tui.wait_for("reviews v1, v2 and v3 each with traffic", wait, |s| {
        s.contains("Traffic split by version")
            && ["v1", "v2", "v3"]
                .iter()
                .all(|v| share(s, v).is_some_and(|p| p > 10.0))
    });
    assert!(screen.contains("reviews"), "{screen}");

    // Istio's 50/50 canary between v1 and v3: the split shown follows within the window.
    let path = fixtures()
        .join("virtual-service-reviews-50-v3.yaml")
        .display()
        .to_string();
    mesh.run(&["apply", "-f", &path]).expect_code(0);
    tui.wait_for("reviews split about 50/50 between v1 and v3", wait, |s| {
        let (v1, v2, v3) = (share(s, "v1"), share(s, "v2"), share(s, "v3"));
        v1.is_some_and(|p| (35.0..=65.0).contains(&p))
            && v3.is_some_and(|p| (35.0..=65.0).contains(&p))
            && v2.is_some_and(|p| p < 5.0)
    });

    // q quits with 0 and leaves the alternate screen.
    tui.keys(&["q"]);
    let deadline = std::time::Instant::now() + wait;
    let code = loop {
        if let Some(code) = tui.exit_status() {
            break code;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dashboard did not exit on q:\n{}",
            tui.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, 0, "{}", tui.screen());
    let after = tui.screen();
    assert!(
        !after.contains("Traffic split by version") && !after.contains("2 Services"),
        "the terminal was not restored:\n{after}"
    );
}

#[test]
fn dashboard_without_a_terminal_points_to_stat() {
    let mesh = Mesh::new();
    mesh.install("minimal", &[]).expect_code(0);
    let run = mesh.run(&["dashboard"]);
    run.expect_code(1);
    assert!(run.stderr.contains("meshctl stat"), "{}", run.stderr);
    // Nothing installed: the error says so.
    let empty = Mesh::new();
    let run = empty.run(&["tui", "dashboard"]);
    run.expect_code(1);
    assert!(run.stderr.contains("control plane"), "{}", run.stderr);
}
