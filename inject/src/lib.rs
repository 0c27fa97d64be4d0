//! Sidecar injection (placeholder while building).
pub mod yaml;
