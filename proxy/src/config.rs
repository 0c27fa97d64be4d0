//! Reading a snapshot from a file: parse, validate, and say exactly what is wrong.

use std::path::{Path, PathBuf};

use mesh_api::snapshot::{Snapshot, SnapshotErrors};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config {path} is not valid YAML for a proxy snapshot: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config {path}: {errors}")]
    Invalid {
        path: PathBuf,
        #[source]
        errors: SnapshotErrors,
    },
}

/// Reads, parses and validates a snapshot file.
pub fn load(path: &Path) -> Result<Snapshot, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<Snapshot, ConfigError> {
    let snapshot = Snapshot::from_yaml(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    snapshot.validate().map_err(|errors| ConfigError::Invalid {
        path: path.to_path_buf(),
        errors,
    })?;
    Ok(snapshot)
}
