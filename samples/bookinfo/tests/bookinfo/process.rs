//! The binary's start and stop: usage and configuration errors exit non-zero with a
//! message that says what to do; SIGTERM stops a service cleanly.

use std::time::Duration;

use crate::support::{run_to_exit, vars, Proc};

#[tokio::test]
async fn bad_flags_and_env_are_reported() {
    let out = run_to_exit(&["details", "--version", "v2"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("details has no version v2; use --version v1"),
        "{err}"
    );

    let out = run_to_exit(&["reviews", "--version", "v9"], &[]);
    assert_eq!(out.status.code(), Some(2));

    let out = run_to_exit(
        &["productpage", "--listen", "127.0.0.1:1"],
        &vars(&[
            ("REVIEWS_SERVICE_PORT", "tcp://10.0.0.1:9080"),
            ("HTTP_PROXY", "socks5://127.0.0.1:1080"),
        ]),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("REVIEWS_SERVICE_PORT=\"tcp://10.0.0.1:9080\""),
        "{err}"
    );
    assert!(
        err.contains("HTTP_PROXY=\"socks5://127.0.0.1:1080\""),
        "{err}"
    );
}

#[tokio::test]
async fn a_port_in_use_is_named() {
    let ratings = Proc::start("ratings", "v1", &[]).await;
    let listen = ratings.addr.to_string();
    let out = run_to_exit(&["details", "--listen", &listen], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {listen}")), "{err}");
    assert!(err.contains("pass --listen with another address"), "{err}");
}

#[tokio::test]
async fn sigterm_stops_cleanly() {
    let mut details = Proc::start("details", "v1", &[]).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &details.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = details.exited(Duration::from_secs(10)).await;
    assert_eq!(exit.code(), Some(0), "{}", details.log());
}
