//! The config store (being built).
