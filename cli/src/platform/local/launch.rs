//! What to run for each component on the local platform: the program, its arguments, the
//! addresses it binds (each with the `--set` key that moves it) and where to ask if it is
//! ready. Pure: from the spec and the state directory to a [`Launch`].

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::platform::Component;
use crate::profile::MeshSpec;

/// The control plane's program.
pub const CONTROL_PLANE_PROGRAM: &str = "mesh-controlplane";

/// How to run one component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// Which component.
    pub component: Component,
    /// Program name (looked up by [`find_program`]).
    pub program: &'static str,
    /// Arguments after the program.
    pub args: Vec<String>,
    /// Addresses it binds, each with the `--set` key that moves it.
    pub binds: Vec<(SocketAddr, &'static str)>,
    /// Addresses by role, recorded for other commands (`monitoring` is the config API).
    pub endpoints: BTreeMap<String, SocketAddr>,
    /// `GET http://<ready>/version` answers 200 once it serves.
    pub ready: SocketAddr,
}

/// The control plane on 127.0.0.1 (plain text is only safe on loopback).
pub fn control_plane(spec: &MeshSpec, state: &Path) -> Launch {
    let v = &spec.values.control_plane;
    let at = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let (xds, monitoring) = (at(v.xds_port), at(v.monitoring_port));
    let xds_tls = at(v.xds_tls_port);
    // values.certificates.* are passed here once meshctl configures the CA.
    let args = vec![
        "run".to_string(),
        "--state-dir".into(),
        state.display().to_string(),
        "--listen".into(),
        xds.to_string(),
        "--monitoring".into(),
        monitoring.to_string(),
        "--listen-tls".into(),
        xds_tls.to_string(),
        "--log-level".into(),
        v.log_level.clone(),
    ];
    Launch {
        component: Component::ControlPlane,
        program: CONTROL_PLANE_PROGRAM,
        args,
        binds: vec![
            (xds, "values.controlPlane.xdsPort"),
            (monitoring, "values.controlPlane.monitoringPort"),
            (xds_tls, "values.controlPlane.xdsTlsPort"),
        ],
        endpoints: BTreeMap::from([
            ("xds".to_string(), xds),
            ("monitoring".to_string(), monitoring),
            ("xdsTls".to_string(), xds_tls),
        ]),
        ready: monitoring,
    }
}

/// `name` next to the running meshctl first (a build or release directory holds them
/// together), then on `PATH`. The error says where it looked and how to get it.
pub fn find_program(name: &str) -> Result<PathBuf, String> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)));
    if let Some(p) = beside.as_ref().filter(|p| is_executable(p)) {
        return Ok(p.clone());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(name);
        if is_executable(&p) {
            return Ok(p);
        }
    }
    let beside = beside
        .and_then(|p| p.parent().map(|d| d.display().to_string()))
        .unwrap_or_else(|| "meshctl's directory".into());
    Err(format!(
        "cannot find {name}: not next to meshctl (in {beside}) nor on PATH; build it \
         (`cargo build -p {name}`) and put it next to meshctl or on PATH"
    ))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_plane_follows_the_spec() {
        let mut spec = crate::profile::builtin("minimal")
            .and_then(|p| p.spec().ok())
            .expect("minimal");
        spec.values.control_plane.monitoring_port = 25014;
        let l = control_plane(&spec, Path::new("/s"));
        assert_eq!(l.ready, "127.0.0.1:25014".parse().expect("addr"));
        assert!(l.args.windows(2).any(|w| w == ["--state-dir", "/s"]));
        assert!(l
            .args
            .windows(2)
            .any(|w| w == ["--listen", "127.0.0.1:15010"]));
        assert_eq!(l.binds[1], (l.ready, "values.controlPlane.monitoringPort"));
    }

    #[test]
    fn missing_program_names_where_it_looked() {
        let e = find_program("mesh-no-such-program").expect_err("missing");
        assert!(
            e.contains("not next to meshctl") && e.contains("PATH"),
            "{e}"
        );
    }
}
