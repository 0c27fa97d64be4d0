//! Snapshot translation (being built).
