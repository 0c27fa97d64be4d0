//! `meshctl install` / `uninstall` on the local platform, with the real binaries: a control
//! plane that outlives meshctl, idempotent re-install, repair after `kill -9`, upgrade to
//! another profile, uninstall and purge, and every refusal made before anything starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{alive, free_addr, wait_dead, Mesh};

/// Without NO_COLOR (which every other test sets), the processes install starts still write
/// plain text to their log files: colour codes are for terminals.
#[test]
fn log_files_carry_no_colour_codes() {
    let mesh = Mesh::new();
    let mut args = vec![
        "install".to_string(),
        "--profile".into(),
        "minimal".into(),
        "-y".into(),
    ];
    args.extend(mesh.port_flags());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = mesh
        .command_with(&support::meshctl_bin(), &refs)
        .env_remove("NO_COLOR")
        .output()
        .expect("run meshctl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let log = std::fs::read_to_string(mesh.home().join("logs/controlPlane.log")).expect("log");
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\x1b'), "colour codes in a log file: {log:?}");
    mesh.run(&["uninstall", "-y"]).expect_code(0);
}

#[test]
fn install_is_idempotent_and_repairs_a_killed_control_plane() {
    let mesh = Mesh::new();
    let run = mesh.install("minimal", &[]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("✔ Control plane installed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("✔ Installation complete"),
        "{}",
        run.stdout
    );
    // meshctl has exited; the control plane it started still serves.
    let pid = mesh.pid().expect("recorded pid");
    assert!(alive(pid));
    let (status, body) = mesh.get("/version").expect("monitoring port answers");
    assert_eq!(status, 200, "{body}");
    let install = std::fs::read_to_string(mesh.home().join("install.yaml")).expect("install.yaml");
    assert!(install.contains("profile: minimal"), "{install}");
    assert!(mesh.home().join("logs/controlPlane.log").exists());

    // Again: nothing restarted.
    let again = mesh.install("minimal", &[]);
    again.expect_code(0);
    assert!(again.stdout.contains("already running"), "{}", again.stdout);
    assert_eq!(mesh.pid(), Some(pid), "same process");

    // `meshctl version` reports both sides.
    let v = mesh.run(&["version"]);
    v.expect_code(0);
    assert!(
        v.stdout.contains(&format!(
            "control plane version: {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        v.stdout
    );

    // kill -9: install brings it back.
    support::kill(pid, rustix::process::Signal::KILL);
    wait_dead(pid);
    let repaired = mesh.install("minimal", &[]);
    repaired.expect_code(0);
    assert!(
        repaired.stdout.contains("was not running"),
        "{}",
        repaired.stdout
    );
    let new_pid = mesh.pid().expect("new pid");
    assert_ne!(new_pid, pid);
    assert!(alive(new_pid));
    assert_eq!(mesh.get("/version").map(|r| r.0), Some(200));
}

#[test]
fn uninstall_stops_everything_and_purge_removes_the_state_dir() {
    let mesh = Mesh::new();
    mesh.install("minimal", &[]).expect_code(0);
    let pid = mesh.pid().expect("pid");

    let refused = mesh.run(&["uninstall"]);
    refused.expect_code(1);
    assert!(refused.stderr.contains("pass -y"), "{}", refused.stderr);
    assert!(alive(pid), "a refused uninstall changes nothing");

    let run = mesh.run(&["uninstall", "-y"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains(&format!("Control plane stopped (pid {pid})")),
        "{}",
        run.stdout
    );
    assert!(!alive(pid), "uninstall waits until the process is gone");
    assert!(mesh.record().is_none());
    assert!(!mesh.home().join("install.yaml").exists());
    assert!(
        mesh.home().join("store").exists(),
        "applied config is kept without --purge"
    );
    let apply = mesh.run(&["get", "vs"]);
    apply.expect_code(1);
    assert!(
        apply.stderr.contains("run `meshctl install`"),
        "{}",
        apply.stderr
    );

    mesh.install("minimal", &[]).expect_code(0);
    let pid = mesh.pid().expect("pid");
    mesh.run(&["uninstall", "--purge", "-y"]).expect_code(0);
    assert!(!alive(pid));
    assert!(!mesh.home().exists(), "--purge removes MESHCTL_HOME");
    // Nothing left to do.
    let again = mesh.run(&["uninstall", "-y"]);
    again.expect_code(0);
    assert!(
        again.stdout.contains("Nothing is installed"),
        "{}",
        again.stdout
    );
}

#[test]
fn another_profile_upgrades_in_place() {
    let mesh = Mesh::new();
    mesh.install("minimal", &[]).expect_code(0);
    let pid = mesh.pid().expect("pid");
    // Moving a port restarts the control plane with it.
    let moved = free_addr();
    let set = format!("values.controlPlane.monitoringPort={}", moved.port());
    let run = mesh.install("minimal", &["--set", &set]);
    run.expect_code(0);
    assert!(run.stdout.contains("settings changed"), "{}", run.stdout);
    assert!(!alive(pid));
    assert_eq!(support::http_get(moved, "/version").map(|r| r.0), Some(200));
    // The empty profile runs nothing.
    let pid = mesh.pid().expect("pid");
    let run = mesh.install("empty", &[]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("✔ Control plane removed"),
        "{}",
        run.stdout
    );
    assert!(!alive(pid));
    let apply = mesh.run(&["get", "vs"]);
    apply.expect_code(1);
    assert!(apply.stderr.contains("profile empty"), "{}", apply.stderr);
}

#[test]
fn without_a_terminal_install_needs_yes() {
    let mesh = Mesh::new();
    let mut args = vec!["install".to_string(), "--profile".into(), "minimal".into()];
    args.extend(mesh.port_flags());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = mesh.run(&refs);
    run.expect_code(1);
    assert!(run.stderr.contains("pass -y"), "{}", run.stderr);
    assert!(
        run.stderr.contains("platform local"),
        "names the target: {}",
        run.stderr
    );
    assert!(mesh.record().is_none(), "nothing started");
}

#[test]
fn bad_input_is_refused_before_anything_starts() {
    let mesh = Mesh::new();
    let unknown = mesh.run(&["install", "--profile", "tiny", "-y"]);
    unknown.expect_code(2);
    for p in ["minimal", "default", "demo", "empty"] {
        assert!(unknown.stderr.contains(p), "lists {p}: {}", unknown.stderr);
    }

    let typo = mesh.install("minimal", &["--set", "values.controlPlane.monitorPort=1"]);
    typo.expect_code(1);
    assert!(
        typo.stderr
            .contains("did you mean values.controlPlane.monitoringPort?"),
        "{}",
        typo.stderr
    );
    let wrong_type = mesh.install("minimal", &["--set", "components.controlPlane.enabled=yes"]);
    wrong_type.expect_code(1);
    assert!(
        wrong_type.stderr.contains("expected a boolean"),
        "{}",
        wrong_type.stderr
    );

    // A gateway needs the control plane: said up front.
    let gw = mesh.install(
        "default",
        &["--set", "components.controlPlane.enabled=false"],
    );
    gw.expect_code(1);
    assert!(
        gw.stderr.contains("a gateway needs the control plane"),
        "{}",
        gw.all()
    );
    assert!(mesh.record().is_none(), "nothing started");
}

#[test]
fn a_port_in_use_is_named_with_the_set_that_moves_it() {
    let mesh = Mesh::new();
    let busy = std::net::TcpListener::bind(mesh.monitoring).expect("hold the monitoring port");
    let run = mesh.install("minimal", &[]);
    run.expect_code(1);
    let all = run.all();
    assert!(
        all.contains(&format!(
            "{} (values.controlPlane.monitoringPort) is in use",
            mesh.monitoring
        )),
        "{all}"
    );
    assert!(
        all.contains("--set values.controlPlane.monitoringPort=PORT"),
        "{all}"
    );
    assert!(mesh.record().is_none(), "nothing started");
    drop(busy);
}

/// A directory holding a copy of meshctl and, next to it, a `mesh-controlplane` that starts
/// but never answers (meshctl looks next to itself first).
fn hung_control_plane() -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("bin dir");
    let meshctl = dir.path().join("meshctl");
    std::fs::copy(support::meshctl_bin(), &meshctl).expect("copy meshctl");
    let fake = dir.path().join("mesh-controlplane");
    std::fs::write(
        &fake,
        "#!/bin/sh\n# Never answers.\nwhile :; do sleep 1; done\n",
    )
    .expect("write fake");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (dir, meshctl)
}

fn install_args(mesh: &Mesh, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["install", "--profile", "minimal", "-y"]
        .map(String::from)
        .to_vec();
    args.extend(mesh.port_flags());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn ctrl_c_during_install_leaves_no_orphan_and_install_again_repairs() {
    let mesh = Mesh::new();
    let (_dir, meshctl) = hung_control_plane();
    let args = install_args(&mesh, &[]);
    let child = mesh
        .command_with(
            &meshctl,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn meshctl");
    // A guard so meshctl itself is killed if the test fails before it exits.
    struct KillOnDrop(Option<std::process::Child>);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            if let Some(mut c) = self.0.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let mut guard = KillOnDrop(Some(child));
    let meshctl_pid = guard.0.as_ref().expect("child").id();
    let started =
        support::eventually_blocking(support::WAIT, "the control plane's record", || mesh.pid());
    assert!(alive(started));

    support::kill(meshctl_pid, rustix::process::Signal::INT);
    let out = guard
        .0
        .take()
        .expect("child")
        .wait_with_output()
        .expect("meshctl exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: stopped what this run started"),
        "{stderr}"
    );
    assert!(!alive(started), "the process this run started is stopped");
    assert!(mesh.record().is_none(), "and forgotten");

    // The real meshctl finishes the job.
    mesh.install("minimal", &[]).expect_code(0);
    assert!(alive(mesh.pid().expect("pid")));
}

#[test]
fn a_control_plane_that_never_answers_times_out_naming_its_log() {
    let mesh = Mesh::new();
    let (_dir, meshctl) = hung_control_plane();
    let args = install_args(&mesh, &["--timeout", "1s"]);
    let out = mesh
        .command_with(
            &meshctl,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .output()
        .expect("run meshctl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let log = mesh.home().join("logs/controlPlane.log");
    let program = meshctl.with_file_name("mesh-controlplane");
    let says = format!(
        "✘ Control plane: the control plane ({}, pid ",
        program.display()
    );
    assert!(
        stdout.contains(&says),
        "names the program that ran: {stdout}"
    );
    assert!(
        stdout.contains(&format!("see its log {}", log.display())),
        "{stdout}"
    );
    assert!(
        mesh.record().is_none(),
        "the hung process was stopped and forgotten"
    );
    let pid: u32 = stdout
        .split(", pid ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .expect("pid in the message");
    assert!(!alive(pid));
}
