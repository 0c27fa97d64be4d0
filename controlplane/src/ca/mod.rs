//! The certificate authority (being built).
