//! The local platform's state directory (`$MESHCTL_HOME`, default `~/.meshctl`):
//!
//! ```text
//! install.yaml            the merged configuration of the last complete install
//! pids/<name>.json        one record per process the mesh started (pid, start time, argv)
//! logs/<name>.log         each process's stdout and stderr
//! gateways/<name>/        a gateway's workload file and bootstrap token (0600)
//! samples/<sample>/<workload>/  a sample workload's sidecar workload file and token (0600)
//! meshctl.lock            held while install/uninstall change things
//! store/ ca/ registry.json  the control plane's own (config store, CA, known proxies)
//! ```
//!
//! Records are written atomically (temporary file, then rename), so a crash never leaves a
//! half-written one.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::super::PlatformError;
use crate::profile::schema::{API_VERSION, KIND};
use crate::profile::MeshSpec;

/// One process the mesh started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessRecord {
    /// Its name in the state directory (`controlPlane`).
    pub name: String,
    /// Its process id (also its process group id: it leads its own group).
    pub pid: u32,
    /// When it started, in clock ticks since boot (`/proc/PID/stat` field 22), so a reused
    /// pid is never mistaken for it.
    pub start_time: u64,
    /// The program and arguments it was started with.
    pub argv: Vec<String>,
    /// Its log file.
    pub log: PathBuf,
    /// Addresses it serves, by role (`xds`, `monitoring`).
    pub endpoints: BTreeMap<String, SocketAddr>,
    /// The sample it belongs to (`bookinfo`), so `meshctl samples remove` finds it; none for
    /// the mesh's own components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<String>,
}

/// `install.yaml`: what was installed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallRecord {
    /// [`API_VERSION`].
    pub api_version: String,
    /// [`KIND`].
    pub kind: String,
    /// The profile the spec started from.
    pub profile: String,
    /// The merged configuration.
    pub spec: MeshSpec,
}

impl InstallRecord {
    /// A record of `spec`, installed from `profile`.
    pub fn new(profile: &str, spec: &MeshSpec) -> InstallRecord {
        InstallRecord {
            api_version: API_VERSION.to_string(),
            kind: KIND.to_string(),
            profile: profile.to_string(),
            spec: spec.clone(),
        }
    }
}

/// Paths inside the state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    root: PathBuf,
}

/// Held while install or uninstall run; released on drop (the lock dies with the process).
#[derive(Debug)]
pub struct Lock {
    _file: fs::File,
}

fn err(what: String, path: &Path, e: io::Error) -> PlatformError {
    PlatformError(format!("cannot {what} {}: {e}", path.display()))
}

impl StateDir {
    /// `$MESHCTL_HOME`, else `$HOME/.meshctl`; made absolute (the processes it starts run in
    /// it).
    pub fn resolve(
        meshctl_home: Option<OsString>,
        home: Option<OsString>,
    ) -> Result<StateDir, PlatformError> {
        let root = match (
            meshctl_home.filter(|h| !h.is_empty()),
            home.filter(|h| !h.is_empty()),
        ) {
            (Some(h), _) => PathBuf::from(h),
            (None, Some(home)) => PathBuf::from(home).join(".meshctl"),
            (None, None) => {
                return Err(PlatformError(
                    "neither MESHCTL_HOME nor HOME is set; set MESHCTL_HOME to the directory \
                     meshctl should keep its state in"
                        .into(),
                ))
            }
        };
        let root = std::path::absolute(&root)
            .map_err(|e| err("resolve the state directory".into(), &root, e))?;
        Ok(StateDir { root })
    }

    /// From this process's environment.
    pub fn from_env() -> Result<StateDir, PlatformError> {
        StateDir::resolve(std::env::var_os("MESHCTL_HOME"), std::env::var_os("HOME"))
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `install.yaml`.
    pub fn install_file(&self) -> PathBuf {
        self.root.join("install.yaml")
    }

    /// `pids/`.
    pub fn pids_dir(&self) -> PathBuf {
        self.root.join("pids")
    }

    /// `pids/<name>.json`.
    pub fn record_file(&self, name: &str) -> PathBuf {
        self.pids_dir().join(format!("{name}.json"))
    }

    /// `logs/<name>.log`.
    pub fn log_file(&self, name: &str) -> PathBuf {
        self.root.join("logs").join(format!("{name}.log"))
    }

    /// Creates the directory layout.
    pub fn create(&self) -> Result<(), PlatformError> {
        for d in [self.root.clone(), self.pids_dir(), self.root.join("logs")] {
            fs::create_dir_all(&d).map_err(|e| err("create".into(), &d, e))?;
        }
        Ok(())
    }

    /// Takes `meshctl.lock`, or says who else is changing this state directory.
    pub fn lock(&self) -> Result<Lock, PlatformError> {
        use rustix::fs::{flock, FlockOperation};
        self.create()?;
        let path = self.root.join("meshctl.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| err("open".into(), &path, e))?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Lock { _file: file }),
            Err(rustix::io::Errno::WOULDBLOCK) => Err(PlatformError(format!(
                "another meshctl is installing or uninstalling in {}; wait for it to finish",
                self.root.display()
            ))),
            Err(e) => Err(err("lock".into(), &path, e.into())),
        }
    }

    /// The record called `name`, if there is one.
    pub fn read_record(&self, name: &str) -> Result<Option<ProcessRecord>, PlatformError> {
        read_json(&self.record_file(name))
    }

    /// Every process record, by name.
    pub fn records(&self) -> Result<Vec<ProcessRecord>, PlatformError> {
        let dir = self.pids_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(err("read".into(), &dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                if let Some(r) = read_json::<ProcessRecord>(&path)? {
                    out.push(r);
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Writes `record` (atomically).
    pub fn write_record(&self, record: &ProcessRecord) -> Result<(), PlatformError> {
        let text = serde_json::to_string_pretty(record)
            .map_err(|e| PlatformError(format!("cannot encode the process record: {e}")))?;
        write_atomic(&self.record_file(&record.name), &text)
    }

    /// Deletes the record called `name` (no error when it is already gone).
    pub fn remove_record(&self, name: &str) -> Result<(), PlatformError> {
        remove(&self.record_file(name))
    }

    /// `install.yaml`, if there is one.
    pub fn read_install(&self) -> Result<Option<InstallRecord>, PlatformError> {
        let path = self.install_file();
        match fs::read_to_string(&path) {
            Ok(text) => serde_saphyr::from_str(&text).map(Some).map_err(|e| {
                PlatformError(format!(
                    "{} is not readable ({e}); run `meshctl install` again to rewrite it",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(err("read".into(), &path, e)),
        }
    }

    /// Writes `install.yaml` (atomically).
    pub fn write_install(&self, record: &InstallRecord) -> Result<(), PlatformError> {
        let text = serde_saphyr::to_string(record)
            .map_err(|e| PlatformError(format!("cannot encode install.yaml: {e}")))?;
        let text =
            format!("# Written by `meshctl install`; `meshctl uninstall` removes it.\n{text}");
        write_atomic(&self.install_file(), &text)
    }

    /// Deletes `install.yaml`.
    pub fn remove_install(&self) -> Result<(), PlatformError> {
        remove(&self.install_file())
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, PlatformError> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            PlatformError(format!(
                "{} is not a meshctl process record ({e}); delete it if no mesh process runs",
                path.display()
            ))
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err("read".into(), path, e)),
    }
}

fn write_atomic(path: &Path, text: &str) -> Result<(), PlatformError> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text).map_err(|e| err("write".into(), &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| err("write".into(), path, e))
}

fn remove(path: &Path) -> Result<(), PlatformError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err("remove".into(), path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_home() {
        let s = StateDir::resolve(Some("/tmp/m".into()), Some("/home/x".into())).expect("ok");
        assert_eq!(s.root(), Path::new("/tmp/m"));
        let s = StateDir::resolve(None, Some("/home/x".into())).expect("ok");
        assert_eq!(s.root(), Path::new("/home/x/.meshctl"));
        assert!(StateDir::resolve(None, None).is_err());
    }

    #[test]
    fn records_round_trip_and_lock_excludes() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = StateDir::resolve(Some(dir.path().into()), None).expect("ok");
        let lock = s.lock().expect("first lock");
        assert!(
            s.lock().is_err(),
            "a second lock on the same directory fails"
        );
        drop(lock);
        let r = ProcessRecord {
            name: "controlPlane".into(),
            pid: 42,
            start_time: 7,
            argv: vec!["x".into()],
            log: s.log_file("controlPlane"),
            endpoints: BTreeMap::new(),
            sample: None,
        };
        s.write_record(&r).expect("write");
        assert_eq!(
            s.read_record("controlPlane").expect("read"),
            Some(r.clone())
        );
        assert_eq!(s.records().expect("list"), vec![r]);
        s.remove_record("controlPlane").expect("rm");
        assert!(s.records().expect("list").is_empty());
        let spec = crate::profile::builtin("demo")
            .and_then(|p| p.spec().ok())
            .expect("demo");
        s.write_install(&InstallRecord::new("demo", &spec))
            .expect("write");
        assert_eq!(s.read_install().expect("read").map(|r| r.spec), Some(spec));
    }
}
