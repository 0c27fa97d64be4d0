//! Key material on disk: private files are created 0600 from the first byte (never written
//! then chmod-ed, which leaves a window where another user can open them), nothing is
//! overwritten, and a private key readable by group or others is refused when loaded.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of private keys and secrets.
pub const PRIVATE_MODE: u32 = 0o600;
/// Mode of certificates: public, but only the owner may replace them.
pub const PUBLIC_MODE: u32 = 0o644;

/// A file operation on CA material failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(
        "{path} already exists; refusing to overwrite CA material. Remove the directory's CA \
         files deliberately if you really mean to replace the CA, or load it instead"
    )]
    AlreadyExists { path: PathBuf },
    #[error("{path} does not exist; create the CA first (meshctl install) or fix the path")]
    Missing { path: PathBuf },
    #[error(
        "{path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}` and retry"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Creates `path` with `mode` and writes `bytes`; fails if the file exists.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FileError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => FileError::AlreadyExists {
                path: path.to_path_buf(),
            },
            _ => io_error("create", path, source),
        })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|source| io_error("write", path, source))
}

/// Reads a public file (certificate, bundle).
pub fn read_public(path: &Path) -> Result<String, FileError> {
    fs::read_to_string(path).map_err(|source| read_error(path, source))
}

/// Reads a private file, refusing it if group or others can read or write it.
pub fn read_private(path: &Path) -> Result<String, FileError> {
    // Check the mode of the file we opened, not of the path, so a swap between the check and
    // the read cannot slip an unchecked file in.
    let mut file = fs::File::open(path).map_err(|source| read_error(path, source))?;
    let meta = file.metadata().map_err(|source| read_error(path, source))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(FileError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|source| read_error(path, source))?;
    Ok(text)
}

/// Creates `dir` (and parents) with mode 0700 where it does not exist yet.
pub fn create_private_dir(dir: &Path) -> Result<(), FileError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| io_error("create directory", dir, source))
}

fn read_error(path: &Path, source: io::Error) -> FileError {
    match source.kind() {
        io::ErrorKind::NotFound => FileError::Missing {
            path: path.to_path_buf(),
        },
        _ => io_error("read", path, source),
    }
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> FileError {
    FileError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
